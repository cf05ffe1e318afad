"""Knowledge assets: raw materials -> documents -> chunks -> embeddings -> the searchable index."""

import time
from collections import Counter

import dagster as dg

from .. import charts
from ..progress import Progress
from ..rag import build
from ..rag.index_pointer import files_by_status
from .grouping import in_group
from .metadata import image, markdown_table
from .resources import EmbedderResource, PersonaPaths

GROUP = "knowledge"  # the CLI and the knowledge jobs select these assets by it
INDEX_WRITER_TAG = {"persona/writes": "knowledge_index"}
# every run that materializes any of these assets holds this pool; the instance allows one at a time
# (dagster.yaml), so the sensor's run and one launched from the asset graph never write together
INDEX_WRITER_POOL = "knowledge_writer"


@dg.asset(kinds={"python"}, pool=INDEX_WRITER_POOL,
          description="Every file in the materials folder parsed into a document, or reported with the reason it was skipped.")
def knowledge_documents(context: dg.AssetExecutionContext, persona_paths: PersonaPaths) -> dg.MaterializeResult:
    paths, config = persona_paths.paths(), persona_paths.rag_config()
    summary = build.build_documents(paths, config)
    for item in summary.skipped:
        context.log.warning(f"skipped {item.path}: {item.reason}")
    for path, warnings in summary.warnings.items():
        for warning in warnings:
            context.log.warning(f"{path}: {warning}")
    return dg.MaterializeResult(metadata={
        "materials_dir": dg.MetadataValue.path(str(paths.materials_dir)),
        "documents": summary.documents,
        "skipped": len(summary.skipped),
        "skipped_files": dg.MetadataValue.md(markdown_table(["file", "type", "reason"], [[s.path, s.kind, s.reason] for s in summary.skipped])),
        "warnings": dg.MetadataValue.md(markdown_table(["file", "warning"], [[p, w] for p, ws in summary.warnings.items() for w in ws])),
    })


@dg.asset(deps=[knowledge_documents], kinds={"python"}, pool=INDEX_WRITER_POOL,
          description="Token-aware chunks that fit the embedder's window, with source, type, title and location.")
def knowledge_chunks(persona_paths: PersonaPaths, embedder: EmbedderResource) -> dg.MaterializeResult:
    config = persona_paths.rag_config()
    model = embedder.load(config)
    chunks, rechunked = build.build_chunks(persona_paths.paths(), config, model)
    tokens = sorted(c.n_tokens for c in chunks) or [0]
    return dg.MaterializeResult(metadata={
        "chunks": len(chunks),
        "documents_chunked": rechunked,
        "chunks_by_type": dg.MetadataValue.json(dict(Counter(chunk.kind for chunk in chunks))),
        "tokens_max": tokens[-1],
        "tokens_median": tokens[len(tokens) // 2],
        "token_lengths": image(charts.token_histogram(tokens, "chunk length (embedder tokens)", model.window), "chunk token lengths"),
        "preview": dg.MetadataValue.md(markdown_table(["chunk", "location", "tokens", "text"],
                                                      [[c.chunk_id, c.location_label(), c.n_tokens, c.text[:90]] for c in chunks[:15]])),
    })


@dg.asset(deps=[knowledge_chunks], kinds={"python", "sqlite"}, pool=INDEX_WRITER_POOL,
          description="Embeddings of every chunk, cached by content hash: unchanged text is never embedded twice.")
def chunk_embeddings(context: dg.AssetExecutionContext, persona_paths: PersonaPaths, embedder: EmbedderResource) -> dg.MaterializeResult:
    config = persona_paths.rag_config()
    model = embedder.load(config)
    started = time.perf_counter()
    progress = Progress(context.log.info, "embedding new chunks", "chunks")
    chunks, _, fresh = build.embed_chunks(persona_paths.paths(), model, progress.update)
    return dg.MaterializeResult(metadata={
        "model": model.name, "dim": model.dim, "chunks": len(chunks),
        "newly_embedded": fresh, "from_cache": len(chunks) - fresh,
        "seconds": round(time.perf_counter() - started, 2),
    })


@dg.asset(deps=[chunk_embeddings], kinds={"faiss"}, tags={"persona/stage": "index"}, pool=INDEX_WRITER_POOL,
          description="Vectors (FAISS, or Qdrant by config) + BM25 + chunk store, written as a new immutable version and switched atomically.")
def knowledge_index(context: dg.AssetExecutionContext, persona_paths: PersonaPaths, embedder: EmbedderResource) -> dg.MaterializeResult:
    paths, config = persona_paths.paths(), persona_paths.rag_config()
    manifest, written = build.build_index(paths, config, embedder.load(config))
    context.log.info(f"index version {manifest['version']} ({'new' if written else 'unchanged'}): {manifest['chunks']} chunks")
    return dg.MaterializeResult(metadata=index_metadata(manifest, written, paths.index_dir))


def index_metadata(manifest: dict, written: bool, index_dir) -> dict:
    files = manifest["files"]
    by_status = files_by_status(manifest)
    rows = [[path, f["type"], f["status"], f.get("chunks", ""), f.get("reason") or "; ".join(f.get("warnings") or [])]
            for path, f in files.items()]
    return {
        "version": manifest["version"], "new_version": written,
        "index_dir": dg.MetadataValue.path(str(index_dir)),
        "embedding_model": manifest["embedding_model"], "dim": manifest["dim"],
        "vector_store": dg.MetadataValue.json(manifest["vector_store"]),
        "vectors": manifest["vectors"], "chunks": manifest["chunks"],
        "chunks_by_type": dg.MetadataValue.json(manifest["chunks_by_type"]),
        "files_indexed": by_status["indexed"], "files_skipped": by_status["skipped"],
        "files": dg.MetadataValue.md(markdown_table(["file", "type", "status", "chunks", "reason / warnings"], rows)),
    }


defs = dg.Definitions(assets=in_group(GROUP, knowledge_documents, knowledge_chunks, chunk_embeddings, knowledge_index))
