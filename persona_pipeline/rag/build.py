"""The knowledge build, step by step: documents -> chunks -> embeddings -> index.

Each step reads the previous step's file in the data folder and writes its own atomically, so the
Dagster assets and the CLI share one implementation and any step can be re-run alone.

Each step also reuses what the previous run made from unchanged input: a file whose bytes, parser and
parsing code are the same keeps its parsed document (it is not even read), a document whose chunking
settings are the same keeps its chunks, and a text embedded once keeps its vector (embedding_cache.py).
So a re-index costs in proportion to what changed, and the embedder loads only when something is new.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import remove_leftovers, write_text
from ..code_fingerprint import code_fingerprint
from ..ingest.discovery import Skipped, SourceFile
from ..ingest.document import Block, Document
from ..ingest.loading import LoadedDocument, load_materials
from ..ingest.reports import report_name, reported_files, write_reports
from ..rag_config import RagConfig
from ..settings import Paths
from . import sources
from .chunking import Chunk, Chunker
from .embedding import Embedder
from .embedding_cache import EmbeddingCache, embed_with_cache
from .index_store import write_index
from .vector_store import make_store

DOCUMENTS = "documents.jsonl"
SKIPPED = "skipped.json"
CHUNKS = "chunks.jsonl"
CHUNKED_FROM = "chunked_from.json"  # source path -> what its chunks were made from (see _chunk_key)


class StepInputMissing(Exception):
    pass


@dataclass
class DocumentsSummary:
    documents: int
    skipped: list[Skipped]
    warnings: dict[str, list[str]]


def build_documents(paths: Paths, config: RagConfig) -> DocumentsSummary:
    remove_leftovers(paths.knowledge_dir)  # temp files of a run killed mid-write
    sources.take_snapshot(paths)  # before reading: a file changed during the run shows up as changed next time
    parser_code = code_fingerprint("ingest")
    earlier = _earlier_documents(paths, parser_code)
    result = load_materials(paths.materials_dir, config,
                            parsed_before=lambda s: earlier.get((s.path, s.sha256, s.parser)))
    rows = [json.dumps({"source": asdict(d.source), "document": asdict(d.document), "parsed_by": parser_code},
                       ensure_ascii=False) for d in result.documents]
    _atomic_lines(paths.knowledge_dir / DOCUMENTS, rows)
    _atomic_lines(paths.knowledge_dir / SKIPPED, [json.dumps([asdict(s) for s in result.skipped], ensure_ascii=False, indent=1)])
    write_reports(paths.knowledge_dir, result.reports)
    warnings = {d.source.path: d.document.warnings for d in result.documents if d.document.warnings}
    return DocumentsSummary(len(result.documents), result.skipped, warnings)


def _document_rows(paths: Paths):
    docs_file = paths.knowledge_dir / DOCUMENTS
    if not docs_file.exists():
        raise StepInputMissing(f"{docs_file} not found: materialize knowledge_documents first")
    for line in docs_file.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        doc = row["document"]
        doc["blocks"] = [Block(**b) for b in doc["blocks"]]
        yield row, LoadedDocument(SourceFile(**row["source"]), Document(**doc))


def read_documents(paths: Paths) -> tuple[list[LoadedDocument], list[Skipped]]:
    documents = [loaded for _, loaded in _document_rows(paths)]
    skipped = [Skipped(**s) for s in json.loads((paths.knowledge_dir / SKIPPED).read_text(encoding="utf-8"))]
    return documents, skipped


def _earlier_documents(paths: Paths, parser_code: str) -> dict[tuple, Document]:
    """The previous run's documents by (path, content hash, parser), if the parsing code is the same."""
    try:
        return {(d.source.path, d.source.sha256, d.source.parser): d.document
                for row, d in _document_rows(paths) if row.get("parsed_by") == parser_code}
    except StepInputMissing:
        return {}


def build_chunks(paths: Paths, config: RagConfig, embedder: Embedder) -> tuple[list[Chunk], int]:
    """All chunks, and how many documents had to be chunked (the others kept the previous run's chunks;
    the embedder's tokenizer loads only if some document is new or changed)."""
    documents, _ = read_documents(paths)
    chunker = Chunker(embedder.count_tokens, embedder.window)
    chunker_code = code_fingerprint("rag/chunking.py")
    keys = {d.source.path: _chunk_key(d, config, embedder.name, chunker_code) for d in documents}
    earlier = _earlier_chunks(paths, keys)
    chunks, rechunked = [], 0
    for loaded in documents:
        if loaded.source.path in earlier:
            chunks += earlier[loaded.source.path]
            continue
        kind = config.knowledge_types[loaded.source.kind]
        chunks += chunker.chunk(loaded.document, kind.name, kind.chunk_tokens, kind.overlap_tokens)
        rechunked += 1
    _atomic_lines(paths.knowledge_dir / CHUNKS, [json.dumps(c.to_json(), ensure_ascii=False) for c in chunks])
    write_text(paths.knowledge_dir / CHUNKED_FROM, json.dumps(keys, indent=0))
    return chunks, rechunked


def _chunk_key(loaded: LoadedDocument, config: RagConfig, model: str, chunker_code: str) -> str:
    kind = config.knowledge_types[loaded.source.kind]
    parts = (loaded.source.sha256, loaded.source.parser, kind.name, kind.chunk_tokens, kind.overlap_tokens, model, chunker_code)
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()


def _earlier_chunks(paths: Paths, keys: dict[str, str]) -> dict[str, list[Chunk]]:
    """The previous run's chunks of each document whose chunk key is unchanged."""
    try:
        before = json.loads((paths.knowledge_dir / CHUNKED_FROM).read_text(encoding="utf-8"))
        chunks = read_chunks(paths)
    except (OSError, ValueError, StepInputMissing):
        return {}
    unchanged = {path for path, key in keys.items() if before.get(path) == key}
    out: dict[str, list[Chunk]] = {path: [] for path in unchanged}
    for chunk in chunks:
        if chunk.source in unchanged:
            out[chunk.source].append(chunk)
    return out


def read_chunks(paths: Paths) -> list[Chunk]:
    chunks_file = paths.knowledge_dir / CHUNKS
    if not chunks_file.exists():
        raise StepInputMissing(f"{chunks_file} not found: materialize knowledge_chunks first")
    return [Chunk(**json.loads(line)) for line in chunks_file.read_text(encoding="utf-8").splitlines()]


def embed_chunks(paths: Paths, embedder: Embedder, progress: Callable[[int, int], None] | None = None
                 ) -> tuple[list[Chunk], np.ndarray, int]:
    """(chunks, their vectors, how many were newly embedded)."""
    chunks = read_chunks(paths)
    cache = EmbeddingCache(paths.embedding_cache_dir, embedder.name, embedder.dim)
    vectors, fresh = embed_with_cache(embedder, cache, [c.embed_text for c in chunks], progress)
    return chunks, vectors, fresh


def file_status(documents: list[LoadedDocument], skipped: list[Skipped], chunks: list[Chunk], reported: set[str]) -> dict:
    """Per file: indexed (with its chunk count and warnings) or skipped (with the reason), and the path
    of its report, relative to the data folder, when some of its rows were unusable."""
    per_file = Counter(chunk.source for chunk in chunks)
    status = {}
    for loaded in documents:
        source = loaded.source
        status[source.path] = {"type": source.kind, "status": "indexed", "sha256": source.sha256,
                               "chunks": per_file[source.path], "warnings": loaded.document.warnings}
    for item in skipped:
        status[item.path] = {"type": item.kind, "status": "skipped", "reason": item.reason, "sha256": item.sha256}
    for path in reported & set(status):
        status[path]["report"] = f"knowledge/{report_name(path)}"
    return dict(sorted(status.items()))


def build_index(paths: Paths, config: RagConfig, embedder: Embedder) -> tuple[dict, bool]:
    documents, skipped = read_documents(paths)
    chunks, vectors, _ = embed_chunks(paths, embedder)
    manifest, written = write_index(paths.index_dir, chunks, vectors, model=embedder.name, dim=embedder.dim,
                                    files=file_status(documents, skipped, chunks, reported_files(paths.knowledge_dir)),
                                    store=make_store(config.index, paths.index_dir))
    sources.record_build(paths, manifest)
    return manifest, written


def _atomic_lines(path: Path, lines: list[str]) -> None:
    write_text(path, "".join(line + "\n" for line in lines))
