"""What a user types first, each through the real `persona` command in its own process: `index --eval`,
`validate` (clean, then with a broken example), a successful `train`, `ask --adapter-source DIR` and `eval`."""
import json
import re
import shutil
import subprocess

import pytest
import yaml
from mlflow import MlflowClient

from conftest import TINY_RUN, copy_of, without_persona_settings
from persona_pipeline.consilium.runtime.adapters import resolve_adapter_dirs
from ui_servers import BIN

TAPER = "How long does the marathon taper last, and how much does the volume fall?"
COMMAND_SECONDS = 600


@pytest.fixture(scope="module")
def journey(trained_world, tmp_path_factory):
    """A copy of the trained world (materials, index, MLflow store) for commands that write to it."""
    root = tmp_path_factory.mktemp("journey")
    _, uri = copy_of(trained_world, root)
    env = {**without_persona_settings(), "MLFLOW_TRACKING_URI": uri, "DAGSTER_HOME": str(root / "dagster_home")}
    (root / "dagster_home").mkdir()
    return {"root": root, "env": env, "where": ["--materials", str(root / "materials"), "--data", str(root / "data")]}


def persona(journey, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "persona"), *args, *journey["where"]], env={**journey["env"], **(env or {})},
                          cwd=journey["root"], capture_output=True, text=True, timeout=COMMAND_SECONDS)


def test_index_with_eval_reports_the_golden_scores(journey):
    done = persona(journey, "index", "--eval")
    assert done.returncode == 0, done.stderr[-3000:]
    recall = re.search(r"retrieval eval: hybrid recall@5 ([\d.]+), MRR ([\d.]+) on (\d+) golden questions", done.stdout)
    assert recall and float(recall[1]) >= 0.9 and int(recall[3]) > 0, done.stdout
    assert re.search(r"index version: \S+ \(unchanged\)", done.stdout)  # the copy's index was already current


def test_validate_passes_the_samples_and_names_file_line_and_field_of_a_broken_example(journey):
    clean = persona(journey, "validate")
    assert clean.returncode == 0 and re.search(r"CoreSelf .*: \d+ valid examples, 0 problem\(s\)", clean.stdout), clean.stdout
    broken = journey["root"] / "materials" / "worldview" / "sport" / "broken.yaml"
    broken.write_text("- id: sport-broken-01\n  prompt: How many intervals?\n  response: ''\n", encoding="utf-8")
    try:
        failed = persona(journey, "validate")
    finally:
        broken.unlink()
    assert failed.returncode == 1
    problem = next(line for line in failed.stdout.splitlines() if "broken.yaml" in line)
    assert "worldview/sport/broken.yaml:1 [sport-broken-01]" in problem and "content" in problem, failed.stdout


def test_train_through_the_cli_registers_a_version_and_moves_the_champion_to_the_new_base(journey, tiny_base, tmp_path):
    # its own copy of the store: the champion trained on SmolLM2 must stay for the commands below
    shutil.copy(journey["root"] / "mlflow.db", tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    training = tmp_path / "training.yaml"
    training.write_text(yaml.safe_dump({**TINY_RUN, "base_model": tiny_base.path}), encoding="utf-8")
    done = persona(journey, "train", "core", env={"PERSONA_TRAINING_CONFIG": str(training), "MLFLOW_TRACKING_URI": uri})
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"registered: persona-core-self version 2\b", done.stdout), done.stdout
    assert re.search(r"held-out loss: adapter [\d.]+, base model [\d.]+", done.stdout)
    # version 1 was trained on SmolLM2: it cannot be loaded on the base model configured now, so the new
    # version takes the alias instead of a comparison that would crash or mislead
    assert "champion: yes, version 2 is now the champion" in done.stdout, done.stdout
    version = MlflowClient(uri).get_model_version("persona-core-self", "2")
    assert version.tags["promoted_because"] == "base_model_changed" and "champion" in version.aliases


def test_ask_answers_with_the_adapters_of_a_folder(journey, trained_world):
    # the champions, downloaded from the registry, as a person who keeps adapters in a folder would have them
    dirs, _, _ = resolve_adapter_dirs("champion", journey["root"] / "downloads", trained_world.uri)
    folder = journey["root"] / "my_adapters"
    for key, found in dirs.items():
        shutil.copytree(found, folder / key)
    done = persona(journey, "ask", TAPER, "--adapter-source", str(folder), "--json", "--adapters", "core,sport")
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout)
    assert answer["adapters"] == [f"core: {folder / 'core'}", f"sport: {folder / 'sport'}"]
    assert answer["outcome"] == "direct" and "17 days" in answer["answer"]
    missing = persona(journey, "ask", TAPER, "--adapter-source", str(journey["root"]), "--json")
    assert missing.returncode == 0 and any("no CoreSelf adapter" in n for n in json.loads(missing.stdout)["notes"])


def test_eval_prints_the_ablations_the_grounded_table_and_routing(journey):
    done = persona(journey, "eval", "--questions", "1", "--grounded", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "retrieval on" in done.stdout and "golden questions" in done.stdout
    assert re.search(r"consilium \(.*persona-core-self v\d.*\), MLflow run", done.stdout), done.stdout
    assert re.search(r"grounded questions \(2\)", done.stdout) and re.search(r"routing accuracy: [\d.]+", done.stdout)
