"""What the CPU can do, read from /proc/cpuinfo: the speed choices (bf16 embedding, bf16 training) depend
on it, and the benchmarks print it beside every figure."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# oneDNN, which runs torch's bf16 matrix products on a CPU, can be held to an older instruction set with
# ONEDNN_MAX_CPU_ISA; these caps leave it no bf16 instructions, so bf16 would be emulated as on an AVX2 CPU
ONEDNN_ISA_CAP = "ONEDNN_MAX_CPU_ISA"
ISAS_WITHOUT_BF16 = frozenset({"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI"})


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


def isa_cap() -> str | None:
    """The instruction set oneDNN is held to, when ONEDNN_MAX_CPU_ISA names one."""
    cap = os.environ.get(ONEDNN_ISA_CAP, "").strip().upper()
    return cap if cap and cap not in ("ALL", "DEFAULT") else None


def native_bf16() -> bool:
    """AVX512-BF16 or AMX, and oneDNN not held below them: bf16 matrix products run in hardware. Elsewhere
    (AVX2) bf16 is emulated and several times slower than fp32."""
    if isa_cap() in ISAS_WITHOUT_BF16:
        return False
    return any(flag in _cpuinfo()[1] for flag in NATIVE_BF16_FLAGS)


def describe() -> str:
    """One line for benchmark output: model name, cores, and the flags the speed choices depend on."""
    flags = _cpuinfo()[1]
    shown = [f for f in ("avx2", "avx512f", "avx512_vnni", *NATIVE_BF16_FLAGS, "amx_tile") if f in flags]
    held = f"; held to {isa_cap()} by {ONEDNN_ISA_CAP}" if isa_cap() else ""
    return f"{cpu_model()}, {os.cpu_count()} cores, flags: {' '.join(shown) or 'none of avx2/avx512/amx'}{held}"
