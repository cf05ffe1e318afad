"""Whether the process that started some work (a staging folder, an MLflow run) is still alive."""
from __future__ import annotations

import os


def is_running(pid: int) -> bool:
    """False once the process has exited (or was killed); a reused pid reads as running, which only
    keeps what a dead process left behind a little longer."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
