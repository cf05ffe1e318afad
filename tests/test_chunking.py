"""Chunks fit the MiniLM window with the real tokenizer, overlap, and follow structure."""
from persona_pipeline.ingest.document import Block, Document
from persona_pipeline.rag.chunking import Chunker


def test_long_russian_paragraph_is_split_without_truncation_and_with_overlap(embedder):
    sentences = [f"Предложение номер {i} о длительном беге и пульсе {140 + i} ударов в минуту." for i in range(80)]
    doc = Document(path="a.txt", title="Длинная статья", blocks=[Block(text=" ".join(sentences), group="")])
    chunker = Chunker(embedder.count_tokens, embedder.window)
    chunks = chunker.chunk(doc, "article", chunk_tokens=200, overlap_tokens=40)
    assert len(chunks) > 3
    assert all(c.n_tokens <= embedder.window for c in chunks)
    assert all(embedder.count_tokens(c.embed_text) + 2 <= embedder.window for c in chunks)
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences), "no sentence may be lost"
    assert sentences[-1].split(".")[0] in chunks[-1].text
    first_tail = chunks[0].text.split(". ")[-1]
    assert first_tail in chunks[1].text, "consecutive chunks overlap"


def test_a_single_enormous_word_is_cut_to_fit(embedder):
    doc = Document(path="a.txt", title="t", blocks=[Block(text="x" * 5000, group="")])
    chunks = Chunker(embedder.count_tokens, embedder.window).chunk(doc, "article", 200, 0)
    assert "".join(c.text for c in chunks) == "x" * 5000
    assert all(c.n_tokens <= embedder.window for c in chunks)


def test_groups_are_never_merged_and_cue_ranges_span_the_chunk(embedder):
    blocks = [Block(text=f"Cue {i} about race tactics.", group="transcript", start=f"00:00:0{i}", end=f"00:00:0{i + 1}") for i in range(5)]
    blocks += [Block(text="Training log 2026-03-01. Easy run.", group="2026-03-01 line 2", date="2026-03-01", line=2),
               Block(text="Training log 2026-03-02. Tempo.", group="2026-03-02 line 3", date="2026-03-02", line=3)]
    chunks = Chunker(embedder.count_tokens, embedder.window).chunk(Document("x", "X", blocks), "lecture", 200, 0)
    assert len(chunks) == 3
    assert chunks[0].location == {"start": "00:00:00", "end": "00:00:05"}
    assert chunks[1].location == {"date": "2026-03-01", "line": 2} and chunks[2].location["date"] == "2026-03-02"
    assert len({c.content_hash for c in chunks}) == 3
