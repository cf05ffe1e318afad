"""Writing files and folders so that a reader sees the old version or the new one, never half of either."""
from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

STAGING_PREFIX = ".staging-"


@contextmanager
def staged_dir(target: Path):
    """Yield an empty sibling folder to fill; when the block succeeds it replaces `target` by a rename,
    when it fails it is removed and `target` is untouched."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f"{STAGING_PREFIX}{target.name}-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
