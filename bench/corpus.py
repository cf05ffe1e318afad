"""What the benchmarks share: the sample corpus, a generated corpus of any size, its chunk texts, and the
machine line printed beside every figure."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SAMPLES = PROJECT / "raw_materials"
TEXT_FORMATS = {".md", ".txt", ".html", ".vtt", ".srt", ".csv", ".json"}
# a last line in the file's own format, for samples that hold none of the names made unique
UNIQUE_TAIL = {".md": "\n\nCopy {n} of this page.\n", ".txt": "\n\nCopy {n} of this page.\n",
               ".html": "\n<p>Copy {n} of this page.</p>\n", ".vtt": "\n\n00:59:00.000 --> 00:59:05.000\nCopy {n}.\n",
               ".srt": "\n\n999\n00:59:00,000 --> 00:59:05,000\nCopy {n}.\n"}
# the AVX2 path on a newer CPU: oneDNN, torch's own kernels and MKL held to AVX2 (no bf16 instructions).
# Same cores and caches, so a proxy for an AVX2 machine, not one
AVX2_PATH = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
AVX2_FLAG = "--avx2"

from persona_pipeline.cpu import describe


def take_avx2_path_if_asked() -> None:
    """With --avx2 on the command line, this process and those it starts take the AVX2 path. Called before
    torch is imported, which fixes its kernel level then."""
    if AVX2_FLAG in sys.argv:
        os.environ.update(AVX2_PATH)


def machine() -> str:
    import torch

    return (f"machine: {describe()}; torch {torch.__version__} with {torch.backends.cpu.get_cpu_capability()} "
            f"kernels, {torch.get_num_threads()} threads")


def make_corpus(target: Path, files: int) -> None:
    """`files` copies of the text-format samples, each made unique (names and numbers changed) so that
    nothing is a duplicate and nothing is served from a cache."""
    sources = sorted(p for p in SAMPLES.rglob("*") if p.suffix in TEXT_FORMATS and "worldview" not in p.parts and _utf8(p))
    for n in range(files):
        source = sources[n % len(sources)]
        dest = target / source.relative_to(SAMPLES).parent / f"{source.stem}_{n:04d}{source.suffix}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8")
        for name in ("Sokolov", "Соколов", "Anna", "Orlov", "Petrova", "Петрова"):
            text = text.replace(name, f"{name}{n}")
        dest.write_text(text + UNIQUE_TAIL.get(source.suffix, "").format(n=n), encoding="utf-8")


def _utf8(path: Path) -> bool:
    try:
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # the cp1251 sample: its names could not be replaced as text
        return False
    return True


def copy_samples(target: Path) -> None:
    """The shipped samples as a user keeps them (the worldview examples included)."""
    import shutil

    shutil.copytree(SAMPLES, target)


def project_env(materials: Path, data: Path, home: Path) -> dict:
    """Environment of a `persona` process on these folders, with its own Dagster instance."""
    home.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "PERSONA_MATERIALS_DIR": str(materials), "PERSONA_DATA_DIR": str(data),
            "DAGSTER_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(PROJECT),
            "TOKENIZERS_PARALLELISM": "false"}


def timed_process(args: list[str], env: dict) -> tuple[float, str]:
    """Wall time of a whole process, from its start to its exit, and its stdout."""
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def persona(*args: str) -> list[str]:
    return [sys.executable, "-m", "persona_pipeline.cli", *args]


def chunk_texts(materials: Path, data: Path) -> list[str]:
    """The texts the project embeds for this folder (parsed and chunked; nothing embedded)."""
    from persona_pipeline.rag import build
    from persona_pipeline.rag.embedding import open_embedder
    from persona_pipeline.rag_config import load_rag_config
    from persona_pipeline.settings import Paths

    paths = Paths.resolve(materials, data)
    config = load_rag_config(paths.config_path)
    build.build_documents(paths, config)
    chunks, _ = build.build_chunks(paths, config, open_embedder(config.embedding.model))
    return [c.embed_text for c in chunks]


def on_both_corpora(measure, prefix: str) -> None:
    """Print the machine, then `measure(label, materials, work_folder)` on a copy of the samples and on a
    generated corpus of --files files (default 500), in temporary folders removed afterwards."""
    import argparse
    import shutil
    import tempfile

    from persona_pipeline.rag.embedding import Embedder

    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    files = parser.parse_args().files

    print(machine())
    print(f"embedder precision: {Embedder().precision} (chosen once per CPU, before the timings)")
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        copy_samples(work / "samples" / "materials")
        measure("sample corpus", work / "samples" / "materials", work / "samples")
        make_corpus(work / "generated" / "materials", files)
        measure(f"generated corpus ({files} files)", work / "generated" / "materials", work / "generated")
    finally:
        shutil.rmtree(work, ignore_errors=True)
