"""The fusion trusts each ranking as far as the config says for the query's language."""
import pytest

from persona_pipeline.rag.chunking import Chunk
from persona_pipeline.rag.index_store import load_index, write_index
from persona_pipeline.rag.retrieval import Retriever, query_language
from persona_pipeline.rag.vector_store import make_store
from persona_pipeline.rag_config import IndexConfig, equal_weights

TEXTS = [
    "Зимой длительный бег переносим на лыжи, если мороз сильнее минус двадцати градусов.",
    "Горка Соколова: подъём 400 метров с уклоном шесть процентов, десять повторов.",
    "Winter long runs move to cross-country skis when it is colder than minus twenty.",
    "Hill repeats on a six percent slope build strength for the spring races.",
    "Sleep eight and a half hours during heavy training blocks.",
    "Kefir is the club's traditional recovery drink after training.",
]


@pytest.fixture(scope="module")
def index(tmp_path_factory, embedder):
    chunks = [Chunk(chunk_id=f"a{i}.md#0", source=f"a{i}.md", kind="article", title=f"Note {i}", heading=None,
                    location={}, text=text, content_hash=str(i), n_tokens=0) for i, text in enumerate(TEXTS)]
    folder = tmp_path_factory.mktemp("fusion-index")
    write_index(folder, chunks, embedder.embed([c.embed_text for c in chunks]), model=embedder.name, dim=embedder.dim,
                files={}, store=make_store(IndexConfig(exact_search_max_vectors=1000), folder))
    return load_index(folder)


@pytest.mark.parametrize("query, language", [
    ("Что такое горка Соколова?", "ru"), ("What is the 48-hour rule?", "en"),
    ("Сколько км пробежал Orlov 14 March?", "ru"), ("Anna Petrova 5 км 16:31", "en"), ("12.03.2026", "en"),
])
def test_query_language_is_the_script_of_most_letters(query, language):
    assert query_language(query) == language


def sources(hits):
    return [h.chunk.source for h in hits]


def test_a_zero_dense_weight_for_russian_leaves_bm25_order(index, embedder):
    weights = equal_weights()
    weights["ru"]["dense"] = 0.0
    retriever = Retriever(index, embedder, weights=weights)
    query = "уклон горки Соколова и повторы"
    bm25 = sources(retriever.search(query, k=6, mode="bm25"))
    assert bm25 and sources(retriever.search(query, k=6)) == bm25
    # English queries keep both rankings: the dense-only matches still come up
    english = "what do athletes drink to recover"
    fused = sources(retriever.search(english, k=3))
    assert fused[0] == "a5.md" and set(sources(retriever.search(english, k=3, mode="dense"))) & set(fused[1:])


def test_equal_weights_let_dense_reorder_a_russian_query(index, embedder):
    query = "уклон горки Соколова и повторы"
    fused = Retriever(index, embedder).search(query, k=6)
    assert len(fused) == 6 and any(h.bm25_rank is None for h in fused)   # dense-only chunks join at full weight
