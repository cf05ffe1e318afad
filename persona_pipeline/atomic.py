"""Writing files and folders so that a reader sees the old version or the new one, never half of either."""
from __future__ import annotations

import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

from .faults import fault_point
from .processes import is_running

STAGING_PREFIX = ".staging-"
# what a writer leaves behind when it is killed mid-write; the writer's pid is in the name
_LEFTOVER = re.compile(r"\.(?:staging-.+|.+\.tmp)-(?P<pid>\d+)-[0-9a-f]{32}")


@contextmanager
def staged_dir(target: Path):
    """Yield an empty sibling folder to fill; when the block succeeds it replaces `target` by a rename,
    when it fails it is removed and `target` is untouched."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f"{STAGING_PREFIX}{target.name}-{_writer_tag()}"
    staging.mkdir()
    try:
        yield staging
        fault_point(f"atomic:before-rename:{target.parent.name}")
        if target.exists():
            shutil.rmtree(target)
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp-{_writer_tag()}")
    temp.write_text(text, encoding="utf-8")
    fault_point(f"atomic:before-replace:{path.name}")
    os.replace(temp, path)


def remove_leftovers(folder: Path) -> None:
    """Remove the staging folders and temporary files in `folder` whose writer is no longer running (a
    process killed mid-write never reaches its cleanup). A live writer's are kept."""
    for entry in folder.iterdir() if folder.is_dir() else []:
        match = _LEFTOVER.fullmatch(entry.name)
        if match and not is_running(int(match["pid"])):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _writer_tag() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex}"
