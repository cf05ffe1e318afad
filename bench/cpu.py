"""Which CPU a benchmark ran on: its model name, core count and whether it has native bf16."""
import os
from pathlib import Path


def describe_cpu() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    native = [flag for flag in ("avx512_bf16", "amx_bf16", "amx_tile") if flag in flags]
    return (f"CPU: {model}, {os.cpu_count()} cores, "
            f"{'native bf16: ' + ', '.join(native) if native else 'no avx512_bf16/amx'}")
