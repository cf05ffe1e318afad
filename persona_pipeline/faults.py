"""Crash points for the fault-injection tests: with PERSONA_FAULT=<point> set, the process sends itself
SIGKILL when it reaches that point, so a test can crash a real `persona index` or `persona train` at an
exact write stage instead of hoping a timed kill lands there. PERSONA_FAULT_SIGNAL=STOP freezes it there
instead (a writer caught mid-write, for the concurrency tests). Unset, a point costs one lookup."""
from __future__ import annotations

import os
import signal

FAULT_ENV = "PERSONA_FAULT"
SIGNAL_ENV = "PERSONA_FAULT_SIGNAL"


def fault_point(name: str) -> None:
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.Signals[f"SIG{os.environ.get(SIGNAL_ENV, 'KILL')}"])
