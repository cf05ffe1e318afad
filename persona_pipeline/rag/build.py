"""The knowledge build, step by step: documents -> chunks -> embeddings -> index.

Each step reads the previous step's file in the data folder and writes its own atomically, so the
Dagster assets and the CLI share one implementation and any step can be re-run alone.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import write_text
from ..ingest.discovery import Skipped, SourceFile
from ..ingest.document import Block, Document
from ..ingest.loading import LoadedDocument, load_materials
from ..knowledge_config import KnowledgeConfig
from ..settings import Paths
from .chunking import Chunk, Chunker
from .embedding import Embedder, EmbeddingCache, embed_with_cache
from .index_store import write_index
from .vector_store import make_store

DOCUMENTS = "documents.jsonl"
SKIPPED = "skipped.json"
CHUNKS = "chunks.jsonl"


class StepInputMissing(Exception):
    pass


@dataclass
class DocumentsSummary:
    documents: int
    skipped: list[Skipped]
    warnings: dict[str, list[str]]


def build_documents(paths: Paths, config: KnowledgeConfig) -> DocumentsSummary:
    result = load_materials(paths.materials_dir, config)
    rows = [json.dumps({"source": asdict(d.source), "document": asdict(d.document)}, ensure_ascii=False)
            for d in result.documents]
    _atomic_lines(paths.knowledge_dir / DOCUMENTS, rows)
    _atomic_lines(paths.knowledge_dir / SKIPPED, [json.dumps([asdict(s) for s in result.skipped], ensure_ascii=False, indent=1)])
    warnings = {d.source.path: d.document.warnings for d in result.documents if d.document.warnings}
    return DocumentsSummary(len(result.documents), result.skipped, warnings)


def read_documents(paths: Paths) -> tuple[list[LoadedDocument], list[Skipped]]:
    docs_file = paths.knowledge_dir / DOCUMENTS
    if not docs_file.exists():
        raise StepInputMissing(f"{docs_file} not found: materialize knowledge_documents first")
    documents = []
    for line in docs_file.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        doc = row["document"]
        doc["blocks"] = [Block(**b) for b in doc["blocks"]]
        documents.append(LoadedDocument(SourceFile(**row["source"]), Document(**doc)))
    skipped = [Skipped(**s) for s in json.loads((paths.knowledge_dir / SKIPPED).read_text(encoding="utf-8"))]
    return documents, skipped


def build_chunks(paths: Paths, config: KnowledgeConfig, embedder: Embedder) -> list[Chunk]:
    documents, _ = read_documents(paths)
    chunker = Chunker(embedder.count_tokens, embedder.window)
    chunks = []
    for loaded in documents:
        kind = config.types[loaded.source.kind]
        chunks += chunker.chunk(loaded.document, kind.name, kind.chunk_tokens, kind.overlap_tokens)
    _atomic_lines(paths.knowledge_dir / CHUNKS, [json.dumps(c.to_json(), ensure_ascii=False) for c in chunks])
    return chunks


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


def file_status(documents: list[LoadedDocument], skipped: list[Skipped], chunks: list[Chunk]) -> dict:
    per_file: dict[str, int] = {}
    for chunk in chunks:
        per_file[chunk.source] = per_file.get(chunk.source, 0) + 1
    status = {}
    for loaded in documents:
        source = loaded.source
        status[source.path] = {"type": source.kind, "status": "indexed", "sha256": source.sha256,
                               "chunks": per_file.get(source.path, 0), "warnings": loaded.document.warnings}
    for item in skipped:
        status[item.path] = {"type": item.kind, "status": "skipped", "reason": item.reason, "sha256": item.sha256}
    return dict(sorted(status.items()))


def build_index(paths: Paths, config: KnowledgeConfig, embedder: Embedder) -> tuple[dict, bool]:
    documents, skipped = read_documents(paths)
    chunks, vectors, _ = embed_chunks(paths, embedder)
    return write_index(paths.index_dir, chunks, vectors, model=embedder.name, dim=embedder.dim,
                       files=file_status(documents, skipped, chunks), store=make_store(config.index, paths.index_dir))


def _atomic_lines(path: Path, lines: list[str]) -> None:
    write_text(path, "".join(line + "\n" for line in lines))
