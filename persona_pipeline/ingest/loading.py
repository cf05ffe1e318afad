"""Parse every accepted file; a bad file is reported with its reason and never stops the others."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..rag_config import RagConfig
from .discovery import Skipped, SourceFile, classify
from .document import Document, MaterialError
from .guards import read_within_limit, unpacked_size_refusal
from .parsers import PARSERS, check_parser_names

log = logging.getLogger(__name__)


@dataclass
class LoadedDocument:
    source: SourceFile
    document: Document


@dataclass
class LoadResult:
    documents: list[LoadedDocument] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    reports: dict[str, list[str]] = field(default_factory=dict)   # every row problem, per file


def load_materials(materials_dir: Path, config: RagConfig,
                   parsed_before: Callable[[SourceFile], Document | None] = lambda source: None) -> LoadResult:
    """`parsed_before(source)` returns the document an earlier run parsed from the same bytes with the same
    parser, so that an unchanged file is not read and parsed again."""
    check_parser_names(config)
    accepted, skipped = classify(materials_dir, config)
    result = LoadResult(skipped=list(skipped))
    for source in accepted:
        known = parsed_before(source)
        if known is not None:
            result.documents.append(LoadedDocument(source, known))
            continue
        try:
            document = _parse(materials_dir / source.path, source, config)
        except MaterialError as exc:
            result.skipped.append(Skipped(source.path, source.kind, str(exc), source.sha256))
            if exc.details:
                result.reports[source.path] = exc.details
            continue
        except RecursionError:
            result.skipped.append(Skipped(source.path, source.kind, "nested too deeply to parse", source.sha256))
            continue
        except Exception as exc:  # a parser library failing on hostile input must not sink the run
            result.skipped.append(Skipped(source.path, source.kind, f"{source.parser} parser failed: {type(exc).__name__}: {exc}", source.sha256))
            continue
        for warning in document.warnings:
            log.warning("%s: %s", source.path, warning)
        if document.details:
            result.reports[source.path] = document.details
        result.documents.append(LoadedDocument(source, document))
    for item in result.skipped:
        log.warning("skipped %s: %s", item.path, item.reason)
    return result


def _parse(path: Path, source: SourceFile, config: RagConfig) -> Document:
    data = read_within_limit(path, config.limits.max_file_bytes)
    refusal = unpacked_size_refusal(data, config.limits.max_unpacked_bytes)
    if refusal:
        raise MaterialError(refusal)
    return PARSERS[source.parser](data, source.path)
