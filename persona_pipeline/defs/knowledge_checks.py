"""Asset checks on the knowledge index: it holds exactly the chunks it claims, of the right shape,
and no file in the materials folder goes unaccounted for."""

import dagster as dg

from ..ingest.discovery import list_material_files
from ..rag.build import read_chunks
from ..rag.index_store import IndexNotFound, load_index
from .knowledge_assets import knowledge_index
from .resources import EmbedderResource, PersonaPaths


def _missing_index(persona_paths: PersonaPaths) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, metadata={"error": f"no index in {persona_paths.paths().index_dir}"})


@dg.asset_check(asset=knowledge_index, blocking=True, description="The vector store holds one vector per chunk in the chunk store.")
def vector_count_matches_chunks(persona_paths: PersonaPaths) -> dg.AssetCheckResult:
    try:
        index = load_index(persona_paths.paths().index_dir)
    except IndexNotFound:
        return _missing_index(persona_paths)
    vectors, chunks = index.vectors.count(), len(index.chunks)
    return dg.AssetCheckResult(passed=vectors == chunks == index.lexicon.count(), metadata={
        "vectors": vectors, "chunks": chunks, "bm25_rows": index.lexicon.count()})


@dg.asset_check(asset=knowledge_index, blocking=True, description="The index dimension equals the embedding model's.")
def dimension_matches_model(persona_paths: PersonaPaths, embedder: EmbedderResource) -> dg.AssetCheckResult:
    config = persona_paths.rag_config()
    try:
        index = load_index(persona_paths.paths().index_dir)
    except IndexNotFound:
        return _missing_index(persona_paths)
    model = embedder.load(config)
    return dg.AssetCheckResult(passed=index.dim == model.dim == index.manifest["dim"],
                               metadata={"index_dim": index.dim, "model_dim": model.dim, "model": model.name})


@dg.asset_check(asset=knowledge_index, description="No chunk is empty or longer than the embedder reads.")
def no_empty_or_truncated_chunks(persona_paths: PersonaPaths, embedder: EmbedderResource) -> dg.AssetCheckResult:
    window = embedder.load(persona_paths.rag_config()).window
    chunks = read_chunks(persona_paths.paths())
    empty = [c.chunk_id for c in chunks if not c.text.strip()]
    too_long = [c.chunk_id for c in chunks if c.n_tokens > window]
    return dg.AssetCheckResult(passed=not empty and not too_long, metadata={
        "empty": dg.MetadataValue.json(empty[:50]), "over_window": dg.MetadataValue.json(too_long[:50]), "window": window})


@dg.asset_check(asset=knowledge_index, description="Every file in the materials folder is either indexed or reported as skipped.")
def every_file_accounted_for(persona_paths: PersonaPaths) -> dg.AssetCheckResult:
    paths = persona_paths.paths()
    try:
        index = load_index(paths.index_dir)
    except IndexNotFound:
        return _missing_index(persona_paths)
    on_disk = {p.relative_to(paths.materials_dir).as_posix() for p in list_material_files(paths.materials_dir)}
    known = set(index.manifest["files"])
    unaccounted, stale = sorted(on_disk - known), sorted(known - on_disk)
    indexed_sources = {c.source for c in index.chunks.values()}
    return dg.AssetCheckResult(passed=not unaccounted and not stale and indexed_sources <= on_disk, metadata={
        "files_on_disk": len(on_disk), "unaccounted": dg.MetadataValue.json(unaccounted),
        "in_index_but_gone": dg.MetadataValue.json(sorted(stale + sorted(indexed_sources - on_disk))),
        "skipped": dg.MetadataValue.json({p: f["reason"] for p, f in index.manifest["files"].items() if f["status"] == "skipped"}),
    })


defs = dg.Definitions(asset_checks=[vector_count_matches_chunks, dimension_matches_model, no_empty_or_truncated_chunks,
                                    every_file_accounted_for])
