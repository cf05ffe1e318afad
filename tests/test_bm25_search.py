"""BM25 top-k from the query terms' postings gives bm25s's own ranking."""
import bm25s
import numpy as np
import pytest

from persona_pipeline.rag.bm25_search import SAMPLE_STRIDE, top_k
from persona_pipeline.rag.lexical import tokenize

TEXTS = ["My marathon taper lasts exactly 17 days.", "The taper keeps intensity and cuts volume.",
         "Зимний базовый период длится двенадцать недель.", "Базовый период: объём растёт на 8 процентов в неделю.",
         "Sleep at least 8.5 hours in heavy blocks.", "Easy runs stay easy; the marathon is won in the base.",
         "Пульс утром выше на 6 ударов: день отдыха.", "Threshold reps at 10 to 15 seconds per km slower."]
QUERIES = ["How long is the marathon taper?", "Сколько недель длится базовый период?", "taper taper volume",
           "caffeine before a race", "сон и пульс утром", "marathon"]


def bm25s_ranking(index, tokens, k, mask=None):
    rows, scores = index.retrieve([tokens], k=k, show_progress=False, weight_mask=mask)
    return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if s > 0]


def test_postings_top_k_ranks_as_bm25s_does_with_repeats_unknown_words_and_row_weights():
    rng = np.random.default_rng(0)
    # more rows than SAMPLE_STRIDE times k, so the top k is chosen above the sampled floor
    corpus = TEXTS * 5 + [" ".join(rng.choice(" ".join(TEXTS).split(), 8)) for _ in range(5000)]
    index = bm25s.BM25()
    index.index([tokenize(t) for t in corpus], show_progress=False)
    mask = (rng.random(len(corpus)) > 0.5).astype(np.float32)
    for query in QUERIES:
        tokens = tokenize(query)
        for k, weights in ((5, None), (50, None), (len(corpus), None), (10, mask), (50, mask)):
            expected = bm25s_ranking(index, tokens, k, weights)
            rows, scores = top_k(index, tokens, k, weights)
            assert np.allclose(scores, [s for _, s in expected], rtol=1e-5)
            # the same rows above the last score kept; at that score a tie may keep either row
            floor = min(scores, default=0) + 1e-5
            assert {r for r, s in expected if s > floor} == {r for r, s in zip(rows, scores) if s > floor}
            if k >= len(corpus):
                assert set(rows.tolist()) == {r for r, _ in expected}
    assert len(corpus) > SAMPLE_STRIDE * 50
    assert len(top_k(index, tokenize("caffeine"), 5)[0]) == 0


def test_a_filter_that_leaves_few_rows_and_a_method_with_absent_term_scores():
    corpus = TEXTS * 700
    index = bm25s.BM25()
    index.index([tokenize(t) for t in corpus], show_progress=False)
    only = np.zeros(len(corpus), dtype=np.float32)
    only[[0, 9]] = 1.0  # no sampled row is allowed: the floor falls to the smallest positive score
    rows, _ = top_k(index, tokenize("marathon taper"), 5, only)
    assert rows.tolist() == [0, 9]  # both hold "taper", the first "marathon" too
    with pytest.raises(ValueError, match="row weights"):
        top_k(index, tokenize("taper"), 5, only[:10])
    plus = bm25s.BM25(method="bm25+")
    plus.index([tokenize(t) for t in TEXTS], show_progress=False)
    with pytest.raises(ValueError, match="bm25\\+"):
        top_k(plus, tokenize("taper"), 5)
