"""Checks a file passes before any parser sees it: a symbolic link never leads out of the materials folder,
nothing over the size limit is read, and a zip container (docx, xlsx) that would unpack to more than the
unpacked-size limit is never opened by its parser."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from .document import MaterialError

ZIP_MAGIC = b"PK\x03\x04"


def link_refusal(path: Path, root: Path) -> str | None:
    """Why a symbolic link is not read, or None for a plain file or a link to a file inside the folder
    (read like a copy of that file, so usually reported as its duplicate). Links to folders are not
    followed at all: they could lead outside or loop."""
    if not path.is_symlink():
        return None
    shown = os.readlink(path)
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return f"broken symbolic link (-> {shown})"
    except (OSError, RuntimeError):
        return f"symbolic link loop (-> {shown})"
    if not target.is_relative_to(root.resolve()):
        return f"symbolic link to {shown}, outside the materials folder: not followed"
    if not target.is_file():
        return f"symbolic link to a folder or special file (-> {shown}): not followed"
    return None


def read_within_limit(path: Path, limit: int) -> bytes:
    """The file's bytes; a file that grew past the limit after it was listed is refused, not read whole."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise MaterialError(f"file too large: over the limit of {limit / 2**20:.0f} MiB")
    return data


def unpacked_size_refusal(data: bytes, limit: int) -> str | None:
    """Why a zip container is not parsed: the sizes its entries declare add up to more than `limit`.
    The declared sizes bound what Python's zipfile inflates (it stops at the declared size and fails the
    CRC check beyond it), so a lying entry cannot inflate past them."""
    if not data.startswith(ZIP_MAGIC):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            declared = sum(entry.file_size for entry in archive.infolist())
    except zipfile.BadZipFile:
        return None  # not a readable zip: the format's parser reports it as unreadable
    if declared > limit:
        return (f"unpacks to {declared / 2**20:.0f} MiB, over the limit of {limit / 2**20:.0f} MiB "
                f"(limits.max_unpacked_mb; a zip bomb?): not parsed")
    return None
