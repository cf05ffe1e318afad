"""BM25 over index segments ranks as bm25s does over the live rows alone, all in one index."""
import bm25s
import numpy as np

from persona_pipeline.rag.lexical import tokenize
from persona_pipeline.rag.lexicon import SAMPLE_STRIDE, Lexicon, Postings, write_postings

TEXTS = ["My marathon taper lasts exactly 17 days.", "The taper keeps intensity and cuts volume.",
         "Зимний базовый период длится двенадцать недель.", "Базовый период: объём растёт на 8 процентов в неделю.",
         "Sleep at least 8.5 hours in heavy blocks.", "Easy runs stay easy; the marathon is won in the base.",
         "Пульс утром выше на 6 ударов: день отдыха.", "Threshold reps at 10 to 15 seconds per km slower."]
QUERIES = ["How long is the marathon taper?", "Сколько недель длится базовый период?", "taper taper volume",
           "caffeine before a race", "сон и пульс утром", "marathon"]


def bm25s_ranking(texts, tokens, k, mask=None):
    index = bm25s.BM25()
    index.index([tokenize(t) for t in texts], show_progress=False)
    rows, scores = index.retrieve([tokens], k=min(k, len(texts)), show_progress=False, weight_mask=mask)
    return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if s > 0]


def lexicon(tmp_path, segments, dead=(), kinds=None):
    """Segments of texts, with `dead` (segment, row) pairs; a row's vector id is its position in all texts."""
    postings, live, ids, kind_arrays, start = [], [], [], [], 0
    for n, texts in enumerate(segments):
        folder = tmp_path / f"segment{n}"
        folder.mkdir()
        write_postings(folder, [tokenize(t) for t in texts])
        postings.append(Postings.read(folder))
        alive = np.ones(len(texts), dtype=bool)
        alive[[row for segment, row in dead if segment == n]] = False
        live.append(alive)
        ids.append(np.arange(start, start + len(texts), dtype=np.int64))
        kind_arrays.append(np.array(kinds[start:start + len(texts)] if kinds else ["article"] * len(texts), dtype=object))
        start += len(texts)
    return Lexicon(postings, live, ids, kind_arrays)


def assert_same_ranking(found, expected):
    scores = [s for _, s in found]
    assert np.allclose(scores, [s for _, s in expected], rtol=1e-5)
    # the same rows above the last score kept; at that score a tie may keep either row
    floor = min(scores, default=0) + 1e-5
    assert {r for r, s in expected if s > floor} == {r for r, s in found if s > floor}


def test_one_segment_ranks_as_bm25s_with_repeats_unknown_words_and_a_kind_filter(tmp_path):
    rng = np.random.default_rng(0)
    # more rows than SAMPLE_STRIDE times k, so the top k is chosen above the sampled floor
    corpus = TEXTS * 5 + [" ".join(rng.choice(" ".join(TEXTS).split(), 8)) for _ in range(5000)]
    kinds = ["article" if flip else "diary" for flip in rng.random(len(corpus)) > 0.5]
    index = lexicon(tmp_path, [corpus], kinds=kinds)
    mask = np.array([kind == "diary" for kind in kinds], dtype=np.float32)
    for query in QUERIES:
        tokens = tokenize(query)
        for k in (5, 50, len(corpus)):
            found, expected = index.top_k(tokens, k), bm25s_ranking(corpus, tokens, k)
            assert_same_ranking(found, expected)
            if k >= len(corpus):
                assert {r for r, _ in found} == {r for r, _ in expected}
            assert_same_ranking(index.top_k(tokens, k, "diary"), bm25s_ranking(corpus, tokens, k, mask))
    assert len(corpus) > SAMPLE_STRIDE * 50
    assert index.top_k(tokenize("caffeine"), 5) == [] and index.count() == len(corpus)


def test_segments_with_dead_rows_rank_as_one_index_of_the_live_rows(tmp_path):
    """What a re-index leaves (the old segment with the edited and removed chunks dead, a new segment
    with the new ones) scores as a fresh build of the same chunks: statistics count live rows only."""
    rng = np.random.default_rng(1)
    old = [" ".join(rng.choice(" ".join(TEXTS).split(), 8)) for _ in range(3000)] + TEXTS
    new = ["My marathon taper now lasts 14 days.", "Таперинг перед марафоном: две недели."]
    dead = [(0, row) for row in range(0, 3000, 7)] + [(0, 3000)]  # the taper sentence was edited
    index = lexicon(tmp_path, [old, new], dead)
    live = [(n, text) for n, text in enumerate(old) if (0, n) not in dead] + \
        [(len(old) + n, text) for n, text in enumerate(new)]
    for query in QUERIES + ["марафон таперинг"]:
        tokens = tokenize(query)
        expected = [(live[r][0], s) for r, s in bm25s_ranking([t for _, t in live], tokens, 20)]
        found = index.top_k(tokens, 20)
        assert_same_ranking(found, expected)
        assert not {vid for vid, _ in found} & {row for _, row in dead}
    assert index.count() == len(live)
    assert index.frequencies[tokenize("taper")[0]] == sum("taper" in t.lower() for _, t in live)


def test_a_filter_that_leaves_few_rows(tmp_path):
    corpus = TEXTS * 700
    kinds = ["article"] * len(corpus)
    kinds[0] = kinds[9] = "lecture"  # no sampled row is allowed: the floor falls to the smallest positive score
    index = lexicon(tmp_path, [corpus], kinds=kinds)
    assert [vid for vid, _ in index.top_k(tokenize("marathon taper"), 5, "lecture")] == [0, 9]


def test_a_question_naming_a_day_ranks_that_days_session_above_the_weeks_summary(tmp_path):
    texts = ["Week 2021-07-05 to 2021-07-11, 5–11 July 2021: 4 sessions, 42 km, 2021-07 block.",
             "Training session 2021-07-07, 7 July 2021. Easy run 8 km, HR 140.",
             "Training session 2021-07-09, 9 July 2021. Intervals 6 x 800 m."]
    assert tokenize("What did I do on 07.07.2021?")[-1] == "2021-07-07"
    index = lexicon(tmp_path, [texts])
    for question in ("what did I do on 2021-07-07", "Что я делал 07.07.2021?"):
        assert index.top_k(tokenize(question), 3, None)[0][0] == 1
