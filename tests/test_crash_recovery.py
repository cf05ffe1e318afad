"""The fault-injection suite: real `persona index` processes killed with SIGKILL at exact write stages
(PERSONA_FAULT names the stage), and writers and readers running at once (a training process killed after
its checkpoint: tests/test_distributed_training.py). After every kill the
index loads whole, search answers, the next run succeeds and nothing the dead writer left behind remains."""
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest

from conftest import FAULT_TALLY, PROJECT, SAMPLES
from persona_pipeline.atomic import remove_leftovers
from persona_pipeline.defs.jobs import materials_sensor
from persona_pipeline.defs.resources import PersonaPaths
from persona_pipeline.defs.runs import run_knowledge
from persona_pipeline.rag.index_store import load_index, read_manifest
from persona_pipeline.rag.retrieval import Retriever
from ui_servers import BIN

CORPUS = ["articles/threshold_training.md", "lectures/lecture_02_race_tactics.vtt", "logs/spring_group_2026.csv"]
# every write stage of a knowledge run, in the order a run reaches them
INDEX_KILL_POINTS = [
    "atomic:before-replace:documents.jsonl",
    "index:locked",
    "index:vectors-written",
    "index:chunks-written",
    "index:bm25-written",
    "atomic:before-rename:versions",
    "index:version-renamed",
    "atomic:before-replace:CURRENT",
    "index:current-switched",
    "index:pruning",
]
LEFTOVER = re.compile(r"\.(staging-.+|.+\.tmp-\d+-[0-9a-f]{32})")
RUN_TIMEOUT = 300
STARTED: list[subprocess.Popen] = []


def persona(env: dict, *args: str, fault: str | None = None, pause: bool = False) -> subprocess.Popen:
    """A real `persona` process; with `fault` it kills itself at that stage (or freezes there with `pause`)."""
    extra = {"PERSONA_FAULT": fault, "PERSONA_FAULT_SIGNAL": "STOP" if pause else "KILL"} if fault else {}
    process = subprocess.Popen([str(BIN / "persona"), *args], env={**env, **extra}, cwd=PROJECT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    STARTED.append(process)
    return process


def finish(process: subprocess.Popen) -> SimpleNamespace:
    out, err = process.communicate(timeout=RUN_TIMEOUT)
    return SimpleNamespace(code=process.returncode, out=out, err=err)


def note(materials: Path, n: int) -> str:
    """A new small article, so that every run has a new version to write; returns its path."""
    rel = f"articles/note_{n:02d}.md"
    (materials / rel).write_text(f"# Field note {n}\n\nOn camp day {n} the group ran {n + 3} hill sprints "
                                 f"of {n * 10 + 40} metres up the quarry road, marker word quarry{n}.\n")
    return rel


def whole_index(index_dir: Path):
    """The current version, checked whole: as many vectors as chunks as BM25 rows as the manifest says."""
    index = load_index(index_dir)
    assert index.vectors.count() == len(index.chunks) == index.lexicon.count() == index.manifest["chunks"]
    assert len({c.chunk_id for c in index.chunks.values()}) == len(index.chunks)
    return index


def files_on_disk(materials: Path) -> set[str]:
    return {p.relative_to(materials).as_posix() for p in materials.rglob("*") if p.is_file()}


def assert_holds_exactly(data: Path, materials: Path) -> None:
    index = whole_index(data / "index")
    files = index.manifest["files"]
    assert set(files) == files_on_disk(materials) and all(f["status"] == "indexed" for f in files.values())
    assert {c.source for c in index.chunks.values()} == set(files)


def leftovers(data: Path) -> list[str]:
    folders = [data / "index", data / "index" / "versions", data / "knowledge"]
    return [p.name for folder in folders for p in folder.iterdir() if LEFTOVER.fullmatch(p.name)]


@pytest.fixture
def world(tmp_path, embedder) -> SimpleNamespace:
    materials, data, home = tmp_path / "materials", tmp_path / "data", tmp_path / "dagster_home"
    for rel in CORPUS:
        (materials / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / rel, materials / rel)
    home.mkdir()
    env = {**os.environ, "PERSONA_MATERIALS_DIR": str(materials), "PERSONA_DATA_DIR": str(data), "DAGSTER_HOME": str(home),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false",
           # the `persona` script imports this checkout's package, wherever the venv was installed from
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))}
    yield SimpleNamespace(root=tmp_path, materials=materials, data=data, env=env, embedder=embedder)
    while STARTED:  # a failed test must not leave a frozen or running writer behind
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_index_survives_a_kill_at_every_write_stage(world):
    """Each kill is a real `persona index`; the next run is materialized here, in-process (the same assets,
    without paying for another interpreter), while a real `persona search` reads what the kill left."""
    assert run_knowledge(world.materials, world.data).success
    searches = []
    for n, point in enumerate(INDEX_KILL_POINTS):
        note(world.materials, n)
        killed = finish(persona(world.env, "index", fault=point))
        assert killed.code == -signal.SIGKILL, f"{point} was never reached:\n{killed.err[-3000:]}"
        whole_index(world.data / "index")
        # a reader of the version the kill left; it runs on beside the next writer and the next kill
        searches.append(persona(world.env, "search", f"hill sprints up the quarry road quarry{n}", "--json", "-k", "3"))
        assert run_knowledge(world.materials, world.data).success, f"the run after a kill at {point} failed"
        assert_holds_exactly(world.data, world.materials)
        assert leftovers(world.data) == [], point
        index = whole_index(world.data / "index")
        # the current version and the one it replaced: no version a killed writer never made current
        assert {p.name for p in (world.data / "index" / "versions").iterdir()} <= {index.version, index.manifest["replaces"]}
        assert Retriever(index, world.embedder).search(f"quarry{n}", k=1)[0].chunk.source == f"articles/note_{n:02d}.md"
        FAULT_TALLY["kills survived"] += 1
    for point, search in zip(INDEX_KILL_POINTS, searches):
        found = finish(search)
        assert found.code == 0 and len(json.loads(found.out)) == 3, f"search after a kill at {point}: {found.err[-3000:]}"


def test_writers_wait_for_each_other_and_readers_answer_mid_write(world):
    assert run_knowledge(world.materials, world.data).success
    resources = {"persona_paths": PersonaPaths.from_environment(str(world.materials), str(world.data))}
    instance = dg.DagsterInstance.ephemeral()  # the daemon's, where the sensor sets the writer pool's limit
    first_tick = materials_sensor.evaluate_tick(dg.build_sensor_context(resources=resources, instance=instance))
    added = note(world.materials, 0)

    # a writer frozen mid-write: it holds the writer lock, with half a version on disk
    frozen = persona(world.env, "index", fault="index:chunks-written", pause=True)
    assert _wait_until(lambda: _state(frozen.pid) in "TZ") and _state(frozen.pid) == "T", finish(frozen).err[-3000:]
    readers = [persona(world.env, "search", "Sokolov 3 x 3 km session", "--json", "-k", "2") for _ in range(2)]
    for reader in readers:
        answer = finish(reader)
        # the old version, whole: the article that names the session is among the two hits
        assert answer.code == 0 and "articles/threshold_training.md" in [h["source"] for h in json.loads(answer.out)], \
            answer.err

    # the sensor's run request, run here as the daemon would launch it, and a CLI run: both wait behind the
    # frozen writer, which is let go once both are seen blocked on the lock
    tick = materials_sensor.evaluate_tick(dg.build_sensor_context(cursor=first_tick.cursor, resources=resources,
                                                                  instance=instance))
    [request] = tick.run_requests
    assert request.tags["persona/added"] == "1"
    cli = persona(world.env, "index")
    both_waited = []

    def release_when_both_wait():
        try:
            both_waited.append(_wait_until(lambda: _lock_waiters(world.data / "index" / ".lock") == 2))
        finally:
            os.kill(frozen.pid, signal.SIGCONT)

    releaser = threading.Thread(target=release_when_both_wait)
    releaser.start()
    sensor_run = run_knowledge(world.materials, world.data, tags=request.tags)
    releaser.join()
    assert both_waited == [True], "the sensor's run and the CLI run were not both waiting on the writer lock"
    assert sensor_run.success and finish(frozen).code == 0 and finish(cli).code == 0
    assert_holds_exactly(world.data, world.materials)
    assert added in read_manifest(world.data / "index")["files"] and leftovers(world.data) == []


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _lock_waiters(lock: Path) -> int:
    """Processes blocked on the flock of `lock` (the "->" lines of /proc/locks, which name the file's inode)."""
    inode = f":{lock.stat().st_ino} "
    return sum(1 for line in Path("/proc/locks").read_text().splitlines() if "->" in line and inode in line)


def _wait_until(condition, timeout: float = RUN_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_only_a_dead_writers_leftovers_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    live, gone = f".CURRENT.tmp-{os.getpid()}-{'a' * 32}", f".staging-v1-{dead.pid}-{'b' * 32}"
    (tmp_path / live).write_text("being written")
    (tmp_path / gone).mkdir()
    (tmp_path / "v0").mkdir()
    remove_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live, "v0"])
