"""RAG_config.yaml is read once into one typed model; a value that does not fit is refused with the file, the
line and the key, and the ingest parsers refuse a parser name they do not have."""
import pytest

from persona_pipeline.ingest.loading import load_materials
from persona_pipeline.rag_config import ConfigError, load_rag_config
from persona_pipeline.settings import PROJECT_DIR

SHIPPED = (PROJECT_DIR / "RAG_config.yaml").read_text()


def edited(tmp_path, old: str, new: str):
    assert old in SHIPPED
    path = tmp_path / "RAG_config.yaml"
    path.write_text(SHIPPED.replace(old, new))
    return path


def line_of(path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


@pytest.mark.parametrize("old, new, key, message", [
    ("  batch_size: 32", "  batch_sise: 32", "embedding.batch_sise", "unknown key"),
    ("chunk_tokens: 160", "chunk_tokens: -5", "knowledge_types.lecture.chunk_tokens", "greater than 0"),
    ("store: faiss", "store: milvus", "index.store", "'faiss' or 'qdrant'"),
    ("ru: {dense: 1.0, bm25: 1.0}", "ru: {dense: 0, bm25: 0}", "retrieval.weights.ru", "must not all be zero"),
])
def test_a_bad_value_names_the_file_line_and_key(tmp_path, old, new, key, message):
    path = edited(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_rag_config(path)
    assert str(caught.value).startswith(f"{path}:{line_of(path, new.strip())}: {key}: ")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_shipped_config_reads_into_its_sections():
    config = load_rag_config(PROJECT_DIR / "RAG_config.yaml")
    assert set(config.knowledge_types) == {"article", "lecture", "training_log", "example"}
    assert config.retrieval.fusion_weights["ru"] == {"dense": 1.0, "bm25": 1.0}
    assert config.evaluation.golden_set == PROJECT_DIR / "eval" / "golden_questions.yaml"
    assert config.consilium.template() and config.type_by_extension("pdf").name == "article"


def test_an_unknown_parser_is_refused_by_the_ingest_package(tmp_path):
    path = edited(tmp_path, "md: markdown, markdown: markdown", "md: marxdown, markdown: markdown")
    config = load_rag_config(path)  # the config does not know the parsers; ingest does
    with pytest.raises(ConfigError, match=r"knowledge_types\.article\.formats: unknown parser\(s\) \['marxdown'\]"):
        load_materials(tmp_path, config)
