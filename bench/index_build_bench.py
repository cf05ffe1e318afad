"""Is the knowledge build any slower than before? `persona index` wall time, side by side in one run:
the code at a baseline git revision against this working tree, each on a fresh data folder (nothing
cached), alternating so that both see the same machine load.

Usage (under the CPU lock): .venv/bin/python bench/index_build_bench.py [--baseline main] [--repeats 3]
    [--materials DIR]   (default: the baseline's own raw_materials/, so both read the same files)
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def cpu_description() -> str:
    model, flags = platform.processor() or "unknown CPU", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    native_bf16 = "yes" if {"avx512_bf16", "amx_bf16"} & flags else "no"
    return f"{model}, {os.cpu_count()} cores, avx512_bf16/amx: {native_bf16}"


def export_revision(revision: str, target: Path) -> None:
    archive = subprocess.run(["git", "-C", str(PROJECT), "archive", revision], check=True, capture_output=True).stdout
    target.mkdir(parents=True)
    archive_file = target.with_suffix(".tar")
    archive_file.write_bytes(archive)
    with tarfile.open(archive_file) as tar:
        tar.extractall(target, filter="data")


def timed_index(tree: Path, materials: Path, data: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "PERSONA_PROJECT_DIR": str(tree), "HF_HUB_OFFLINE": "1"}
    env.pop("PERSONA_CONFIG", None)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "persona_pipeline.cli", "index", "--materials", str(materials), "--data", str(data)],
                   cwd=tree, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default="main", help="git revision to compare against (default: main)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--materials", type=Path, help="materials folder (default: the baseline's raw_materials/)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="persona-build-bench-"))
    try:
        baseline = work / "baseline"
        export_revision(args.baseline, baseline)
        materials = (args.materials or baseline / "raw_materials").resolve()
        trees = {f"baseline ({args.baseline})": baseline, "this tree": PROJECT}
        times: dict[str, list[float]] = {name: [] for name in trees}
        for repeat in range(args.repeats):
            for name, tree in trees.items():
                times[name].append(timed_index(tree, materials, work / f"data-{repeat}-{len(times[name])}-{tree.name}"))
        print(f"cpu: {cpu_description()}")
        print(f"materials: {materials} ({sum(1 for p in materials.rglob('*') if p.is_file())} files), "
              f"fresh data folder per run, {args.repeats} runs each")
        for name, values in times.items():
            print(f"{name:>24}: median {statistics.median(values):6.2f} s  (runs: {', '.join(f'{v:.2f}' for v in values)})")
        base, this = (statistics.median(v) for v in times.values())
        print(f"this tree / baseline: {this / base:.3f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
