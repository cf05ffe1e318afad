"""Speed choices made by measuring on this machine once, then remembered in the model cache.

Which precision is faster depends on the CPU (native bf16 or emulated), the model and the torch build;
flags alone do not tell, so the first use on a machine times the candidates side by side and the
answer is kept, keyed by CPU model, model and torch version, for every later process.
"""
from __future__ import annotations

import fcntl
import json
import time
from typing import Callable

from .atomic import write_text
from .settings import model_cache_dir


def measured_once(file_name: str, key: str, measure: Callable[[], dict]) -> dict:
    """The record `measure()` returned the first time `key` was seen; measured now if never. Processes that
    ask at once (the ranks of a multi-process training) wait for one measurement and share it."""
    path = model_cache_dir() / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            records = json.loads(path.read_text())
        except (OSError, ValueError):
            records = {}
        if key not in records:
            records[key] = measure()
            write_text(path, json.dumps(records, indent=1))
    return records[key]


def best_seconds(rounds: int, candidates: dict[str, Callable[[], object]]) -> tuple[dict[str, float], dict[str, object]]:
    """Best wall time of each candidate over `rounds` interleaved rounds (a burst of load from a neighbour
    then hits one round of each, not all of one), and each candidate's last result."""
    best = {name: float("inf") for name in candidates}
    results = {}
    for _ in range(rounds):
        for name, run in candidates.items():
            started = time.perf_counter()
            results[name] = run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best, results
