"""The knowledge-types config file (RAG_config.yaml): one place that says what each file becomes."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .ingest.parsers import PARSERS
from .rag.vector_store import STORES, StoreConfig
from .settings import PROJECT_DIR


LANGUAGES = ("en", "ru")        # the query languages retrieval tells apart
RANKINGS = ("dense", "bm25")    # the rankings hybrid retrieval fuses


def equal_weights() -> dict[str, dict[str, float]]:
    return {language: {ranking: 1.0 for ranking in RANKINGS} for language in LANGUAGES}


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class KnowledgeType:
    name: str
    globs: tuple[str, ...]
    formats: dict[str, str]
    chunk_tokens: int
    overlap_tokens: int


@dataclass(frozen=True)
class KnowledgeConfig:
    types: dict[str, KnowledgeType]
    embedding_model: str = "packaged"
    embedding_batch_size: int = 32
    index: StoreConfig = StoreConfig()
    max_file_bytes: int = 20 * 2**20
    max_unpacked_bytes: int = 50 * 2**20  # a docx/xlsx's entries together, as their zip declares them
    candidates: int = 50
    rrf_k: int = 60
    golden_set: Path | None = None
    min_recall_at_5: float = 0.8
    # per query language, how much the dense and BM25 rankings count in the fusion
    fusion_weights: dict = field(default_factory=equal_weights)
    catch_all: tuple[str, ...] = ()   # types tried, in order, for a file no glob covers
    source: Path | None = field(default=None, compare=False)


    def type_by_extension(self, ext: str) -> KnowledgeType | None:
        """The catch-all's type for a file in a folder no glob covers: the first that reads `ext`."""
        return next((self.types[name] for name in self.catch_all if ext in self.types[name].formats), None)


def load_config(path: Path) -> KnowledgeConfig:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: knowledge-types config not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    types = {}
    for name, spec in (raw.get("knowledge_types") or {}).items():
        where = f"{path}: knowledge_types.{name}"
        formats = {str(ext).lower().lstrip("."): parser for ext, parser in (spec.get("formats") or {}).items()}
        unknown = sorted(set(formats.values()) - set(PARSERS))
        if unknown:
            raise ConfigError(f"{where}.formats: unknown parser(s) {unknown}; known: {sorted(PARSERS)}")
        if not spec.get("globs"):
            raise ConfigError(f"{where}.globs: at least one glob is required")
        chunk_tokens, overlap = int(spec.get("chunk_tokens", 200)), int(spec.get("overlap_tokens", 0))
        if not 0 <= overlap < chunk_tokens:
            raise ConfigError(f"{where}.overlap_tokens: must be >= 0 and below chunk_tokens ({chunk_tokens})")
        types[name] = KnowledgeType(name, tuple(spec["globs"]), formats, chunk_tokens, overlap)
    if not types:
        raise ConfigError(f"{path}: knowledge_types: no knowledge types declared")
    embedding, index = raw.get("embedding") or {}, raw.get("index") or {}
    retrieval, evaluation = raw.get("retrieval") or {}, raw.get("evaluation") or {}
    limits = raw.get("limits") or {}
    golden = evaluation.get("golden_set")
    catch_all = raw.get("catch_all") or {}
    fallback = tuple(catch_all.get("types") or ()) if catch_all.get("enabled", True) else ()
    unknown_types = sorted(set(fallback) - set(types))
    if unknown_types:
        raise ConfigError(f"{path}: catch_all.types: unknown knowledge type(s) {unknown_types}; declared: {sorted(types)}")
    return KnowledgeConfig(
        types=types,
        embedding_model=str(embedding.get("model", "packaged")),
        embedding_batch_size=int(embedding.get("batch_size", 32)),
        index=_store_config(path, index),
        max_file_bytes=int(float(limits.get("max_file_mb", 20)) * 2**20),
        max_unpacked_bytes=int(float(limits.get("max_unpacked_mb", 50)) * 2**20),
        candidates=int(retrieval.get("candidates", 50)),
        rrf_k=int(retrieval.get("rrf_k", 60)),
        golden_set=(PROJECT_DIR / golden) if golden else None,
        min_recall_at_5=float(evaluation.get("min_recall_at_5", 0.8)),
        catch_all=fallback,
        fusion_weights=_fusion_weights(retrieval.get("weights") or {}, f"{path}: retrieval.weights"),
        source=Path(path),
    )


def _fusion_weights(raw: dict, where: str) -> dict[str, dict[str, float]]:
    weights = equal_weights()
    for language in LANGUAGES:
        spec = raw.get(language) or {}
        weights[language] = {ranking: float(spec.get(ranking, 1.0)) for ranking in RANKINGS}
        if min(weights[language].values()) < 0 or not any(weights[language].values()):
            raise ConfigError(f"{where}.{language}: weights must be >= 0 and not all zero")
    return weights


def _store_config(path: Path, index: dict) -> StoreConfig:
    store = str(index.get("store", "faiss"))
    if store not in STORES:
        raise ConfigError(f"{path}: index.store: {store!r} is not one of {list(STORES)}")
    qdrant = index.get("qdrant") or {}
    if store == "qdrant" and qdrant.get("path") and qdrant.get("url"):
        raise ConfigError(f"{path}: index.qdrant: give either path (local mode) or url (a server), not both")
    return StoreConfig(
        kind=store,
        exact_search_max_vectors=int(index.get("exact_search_max_vectors", 100_000)),
        qdrant_path=qdrant.get("path"),
        qdrant_url=qdrant.get("url"),
        qdrant_api_key_env=qdrant.get("api_key_env"),
        qdrant_collection=str(qdrant.get("collection", StoreConfig.qdrant_collection)),
    )
