"""What the CPU can do, read from /proc/cpuinfo: the speed choices (bf16 embedding, bf16 training) depend
on it, and the benchmarks print it beside every figure."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU", frozenset()
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "unknown CPU")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return model, frozenset(flags)


def cpu_model() -> str:
    return _cpuinfo()[0]


def native_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matrix products run in hardware. Elsewhere (AVX2) bf16 is emulated and
    several times slower than fp32."""
    return any(flag in _cpuinfo()[1] for flag in NATIVE_BF16_FLAGS)


def describe() -> str:
    """One line for benchmark output: model name, cores, and the flags the speed choices depend on."""
    flags = _cpuinfo()[1]
    shown = [f for f in ("avx2", "avx512f", "avx512_vnni", *NATIVE_BF16_FLAGS, "amx_tile") if f in flags]
    return f"{cpu_model()}, {os.cpu_count()} cores, flags: {' '.join(shown) or 'none of avx2/avx512/amx'}"
