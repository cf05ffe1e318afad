"""Re-index cost against the full build, each measured as a whole `persona index` process (Python start,
imports, Dagster, models, work), side by side in one run, on the sample corpus and on a generated one:

- full build: a fresh data folder and Dagster instance;
- no-op: `persona index` again with nothing changed (goal: at most 3% of the full build);
- one added file: a new lecture dropped in, then `persona index` (goal: at most 5%);
- forced no-op: `persona index --force`, a Dagster run that finds nothing to do: the fixed cost of one
  run, which a run-per-file design would pay for every file of a first load.

For the full build and the added file it also splits the process, from the run's own record in Dagster's
instance: the run from its start to its success, and in it the time spent inside the steps (the work
itself); the rest is the process start, imports and the instance.

Usage: .venv/bin/python bench/reindex_bench.py [--files 500]
"""
import re
from pathlib import Path

from corpus import on_both_corpora, persona, project_env, timed_process

NEW_LECTURE = "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nA new lecture about cadence drills at 190 steps a minute.\n"


def measure(label: str, materials: Path, work: Path) -> None:
    env = project_env(materials, work / "data", work / "dagster_home")
    full, out = timed_process(persona("index"), env)
    chunks = next(line for line in out.splitlines() if line.startswith("chunks:"))
    noop, _ = timed_process(persona("index"), env)
    forced, _ = timed_process(persona("index", "--force"), env)
    full_split = run_split(out, work / "dagster_home")
    (materials / "lectures").mkdir(exist_ok=True)
    (materials / "lectures" / "zz_added_lecture.vtt").write_text(NEW_LECTURE)
    added, out = timed_process(persona("index"), env)
    embedded = next(line for line in out.splitlines() if line.startswith("chunks:"))
    added_split = run_split(out, work / "dagster_home")
    files = sum(1 for p in materials.rglob("*") if p.is_file())
    print(f"{label}: {files} files, {chunks}")
    print(f"  full build                 {full:7.2f} s")
    print(f"  no-op re-run               {noop:7.2f} s  = {100 * noop / full:5.1f}% of the full build (goal <= 3%)")
    print(f"  one added file             {added:7.2f} s  = {100 * added / full:5.1f}% of the full build (goal <= 5%); {embedded}")
    for what, seconds, (run, steps) in (("full build", full, full_split), ("one added file", added, added_split)):
        print(f"    {what}: whole process {seconds:6.2f} s = Dagster run {run:6.2f} s (steps {steps:6.2f} s, "
              f"{100 * steps / full_split[1]:5.1f}% of the full build's steps) + {seconds - run:5.2f} s outside the run")
    print(f"  forced no-op Dagster run   {forced:7.2f} s  = {100 * forced / full:5.1f}%; a run per file would pay it "
          f"{files} times: >= {files * forced:.0f} s for a first load ({files * forced / full:.1f}x the one-run build)")


def run_split(out: str, home: Path) -> tuple[float, float]:
    """(seconds from the run's start to its success, seconds inside its steps) of the Dagster run the
    `persona index` output names, read from the instance it was recorded in."""
    import dagster as dg

    run_id = re.search(r"Dagster run ([0-9a-f-]{36})", out).group(1)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_stats(run_id)
        steps = sum(s.end_time - s.start_time for s in instance.get_run_step_stats(run_id) if s.start_time and s.end_time)
    return run.end_time - run.start_time, steps


if __name__ == "__main__":
    on_both_corpora(measure, "persona-reindex-bench-")
