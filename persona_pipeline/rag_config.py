"""RAG_config.yaml as one typed model: what each file becomes (knowledge types), how it is embedded,
indexed, retrieved and evaluated, and how the consilium answers. A value that does not fit is reported
with the file, its line and the key, e.g. `RAG_config.yaml:48: knowledge_types.lecture.chunk_tokens: ...`.

The parser names in `formats` are checked by the ingest package, which owns the parsers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from .settings import PROJECT_DIR

LANGUAGES = ("en", "ru")        # the query languages retrieval tells apart
RANKINGS = ("dense", "bm25")    # the rankings hybrid retrieval fuses
MODES = ("hybrid", *RANKINGS)   # a search fuses both rankings, or runs one alone
STORES = ("faiss", "qdrant")    # where an index version's dense vectors live
MB = 2**20


class ConfigError(Exception):
    pass


class Section(BaseModel):
    # a misspelt key is an error that names it, not a setting silently left at its default
    model_config = ConfigDict(extra="forbid", frozen=True)


class KnowledgeType(Section):
    name: str   # the key it is declared under
    globs: list[str] = Field(min_length=1)
    formats: dict[str, str] = {}   # file extension -> parser name; the ingest parsers check the names
    chunk_tokens: int = Field(200, gt=0)
    overlap_tokens: int = Field(0, ge=0)

    @field_validator("formats")
    @classmethod
    def _bare_lowercase_extensions(cls, formats: dict[str, str]) -> dict[str, str]:
        return {str(ext).lower().lstrip("."): parser for ext, parser in formats.items()}

    @model_validator(mode="after")
    def _overlap_below_chunk(self) -> KnowledgeType:
        if self.overlap_tokens >= self.chunk_tokens:
            raise ValueError(f"overlap_tokens ({self.overlap_tokens}) must be below chunk_tokens ({self.chunk_tokens})")
        return self


class EmbeddingConfig(Section):
    model: str = "packaged"   # the packaged all-MiniLM-L6-v2, a sentence-transformers id or a local path
    batch_size: int = Field(32, gt=0)


class QdrantConfig(Section):
    path: str | None = None   # local mode: a folder, relative to the index folder
    url: str | None = None    # a Qdrant server
    api_key_env: str | None = None
    collection: str = "persona_knowledge"


class IndexConfig(Section):
    store: Literal[STORES] = "faiss"
    exact_search_max_vectors: int = Field(100_000, gt=0)   # FAISS: exact search up to this many, IVF above
    qdrant: QdrantConfig = QdrantConfig()

    @model_validator(mode="after")
    def _one_qdrant_location(self) -> IndexConfig:
        if self.store == "qdrant" and self.qdrant.path and self.qdrant.url:
            raise ValueError("qdrant: give either path (local mode) or url (a server), not both")
        return self


class LimitsConfig(Section):
    max_file_mb: float = Field(20, gt=0)       # larger files are reported, never read
    max_unpacked_mb: float = Field(50, gt=0)   # a docx/xlsx whose zip entries declare more is never parsed

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    @property
    def max_unpacked_bytes(self) -> int:
        return int(self.max_unpacked_mb * MB)


class RankingWeights(Section):
    dense: float = Field(1.0, ge=0)
    bm25: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _some_ranking_counts(self) -> RankingWeights:
        if not any(getattr(self, ranking) for ranking in RANKINGS):
            raise ValueError("the weights must not all be zero")
        return self


def equal_weights() -> dict[str, dict[str, float]]:
    return {language: RankingWeights().model_dump() for language in LANGUAGES}


class RetrievalConfig(Section):
    candidates: int = Field(50, gt=0)   # per retriever, before fusion
    rrf_k: int = Field(60, gt=0)        # reciprocal-rank fusion constant
    # per query language, how much each ranking counts in the fusion; a language left out counts both fully
    weights: dict[Literal[LANGUAGES], RankingWeights] = {}

    @property
    def fusion_weights(self) -> dict[str, dict[str, float]]:
        return {**equal_weights(), **{language: w.model_dump() for language, w in self.weights.items()}}


class CatchAllConfig(Section):
    enabled: bool = True
    types: list[str] = []   # tried in order for a file in a folder that no knowledge type's globs cover


class EvaluationConfig(Section):
    golden_set: Path | None = None   # relative to the project folder
    min_recall_at_5: float = Field(0.8, ge=0, le=1)

    @field_validator("golden_set")
    @classmethod
    def _in_project(cls, path: Path | None) -> Path | None:
        return None if path is None else PROJECT_DIR / path


class ConsiliumConfig(Section):
    model_config = ConfigDict(coerce_numbers_to_str=True)   # `adapter_source: 3` names a version
    prompt_template: Path = Path("prompts/consilium.md")   # relative to the project folder
    tactics: str = ""
    top_k: int = Field(3, gt=0)
    # excerpts retrieved before the meaning encoder keeps the top_k nearest the question
    evidence_pool: int = Field(10, gt=0)
    # the multilingual encoder that judges evidence (consilium/runtime/meaning.py)
    meaning_model: str = "e5-small"
    max_context_tokens: int = Field(1400, gt=0)   # of the base model's tokens, prompt included
    max_new_tokens: int = Field(120, gt=0)
    adapter_source: str = "champion"   # a registry alias, or a version number

    @field_validator("prompt_template")
    @classmethod
    def _in_project(cls, path: Path) -> Path:
        return PROJECT_DIR / path

    @field_validator("tactics")
    @classmethod
    def _stripped(cls, tactics: str) -> str:
        return tactics.strip()

    def template(self) -> str:
        return self.prompt_template.read_text(encoding="utf-8")


class RagConfig(Section):
    knowledge_types: dict[str, KnowledgeType] = Field(min_length=1)
    embedding: EmbeddingConfig = EmbeddingConfig()
    index: IndexConfig = IndexConfig()
    limits: LimitsConfig = LimitsConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    catch_all: CatchAllConfig = CatchAllConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    consilium: ConsiliumConfig = ConsiliumConfig()
    _source: Path | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _types_know_their_names(cls, raw):
        types = raw.get("knowledge_types") if isinstance(raw, dict) else None
        if isinstance(types, dict):
            raw = {**raw, "knowledge_types": {name: {**spec, "name": name} if isinstance(spec, dict) else spec
                                              for name, spec in types.items()}}
        return raw

    @field_validator("catch_all")
    @classmethod
    def _catch_all_types_are_declared(cls, catch_all: CatchAllConfig, info) -> CatchAllConfig:
        if "knowledge_types" not in info.data:
            return catch_all  # the types are invalid themselves, and reported as such
        declared = info.data["knowledge_types"]
        unknown = sorted(set(catch_all.types) - set(declared))
        if unknown:
            raise ValueError(f"types: unknown knowledge type(s) {unknown}; declared: {sorted(declared)}")
        return catch_all

    @property
    def source(self) -> Path | None:
        """The file this config was read from."""
        return self._source

    def type_by_extension(self, ext: str) -> KnowledgeType | None:
        """The catch-all's type for a file in a folder no glob covers: the first that reads `ext`."""
        tried = self.catch_all.types if self.catch_all.enabled else []
        return next((self.knowledge_types[name] for name in tried if ext in self.knowledge_types[name].formats), None)


def load_rag_config(path: Path) -> RagConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: knowledge config not found") from exc
    try:
        raw, tree = yaml.safe_load(text) or {}, yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}:1: expected a mapping of sections (knowledge_types, embedding, ...)")
    try:
        config = RagConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(_located(path, tree, error) for error in exc.errors())) from exc
    config._source = path
    return config


def _located(path: Path, tree: yaml.Node | None, error: dict) -> str:
    """One line per problem: file, line of the key (or of its section when the key is missing), key, message."""
    keys = [str(part) for part in error["loc"] if part != "[key]"]
    message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"].removeprefix("Value error, ")
    return f"{path}:{_line_of(tree, keys)}: {'.'.join(keys) or 'top level'}: {message}"


def _line_of(node: yaml.Node | None, keys: list[str]) -> int:
    if node is None:  # an empty file
        return 1
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            children = {k.value: v for k, v in node.value}
        elif isinstance(node, yaml.SequenceNode):
            children = {str(i): v for i, v in enumerate(node.value)}
        else:
            break
        if key not in children:
            break
        node = children[key]
    return node.start_mark.line + 1
