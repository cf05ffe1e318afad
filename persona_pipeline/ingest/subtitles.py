"""Lecture transcripts in SRT and WebVTT: every cue keeps its start and end time."""
from __future__ import annotations

import io
from pathlib import PurePosixPath

import srt
import webvtt

from .decoding import decode_text
from .document import Block, Document, MaterialError


def parse_srt(data: bytes, path: str) -> Document:
    text, _ = decode_text(data)
    try:
        cues = list(srt.parse(text))
    except srt.SRTParseError as exc:
        raise MaterialError(f"malformed SRT: {exc}") from exc
    blocks = [
        Block(text=" ".join(cue.content.split()), group="transcript",
              start=_clock(cue.start.total_seconds()), end=_clock(cue.end.total_seconds()))
        for cue in cues if cue.content.strip()
    ]
    return _transcript(path, blocks)


def parse_vtt(data: bytes, path: str) -> Document:
    text, _ = decode_text(data)
    try:
        captions = webvtt.from_buffer(io.StringIO(text))
    except Exception as exc:  # webvtt-py raises its own hierarchy plus bare ValueErrors
        raise MaterialError(f"malformed WebVTT: {exc}") from exc
    blocks = [
        Block(text=" ".join(c.text.split()), group="transcript",
              start=_clock(c.start_in_seconds), end=_clock(c.end_in_seconds))
        for c in captions if c.text.strip()
    ]
    return _transcript(path, blocks)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _transcript(path: str, blocks: list[Block]) -> Document:
    if not blocks:
        raise MaterialError("no subtitle cues found")
    return Document(path=path, title=PurePosixPath(path).stem.replace("_", " "), blocks=blocks)
