"""Which process of a multi-process training this is, and the command that starts N of them.

`torchrun` starts the processes and sets RANK and WORLD_SIZE; the trainer (through accelerate) joins them
in one process group, gloo on CPUs and NCCL on GPUs, and splits every batch between them. Rank 0 alone
writes: the MLflow run, the adapter, its registration."""
from __future__ import annotations

import os
import sys


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def launch_command(module: str, processes: int) -> list[str]:
    """`python -m module` for one process, torchrun with `processes` on this machine for more."""
    if processes < 1:
        raise ValueError(f"processes: {processes}; at least 1 is needed")
    if processes == 1:
        return [sys.executable, "-m", module]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", "-m", module]
