"""Excerpts printed by the CLI are cut between words and never inside a character."""
import unicodedata

from persona_pipeline.excerpts import shorten


def test_a_decomposed_letter_is_never_split_from_its_mark():
    decomposed = unicodedata.normalize("NFD", "вдохнуй ") * 60   # "й" as "и" + a combining breve
    cut = shorten(decomposed, 300)
    assert len(cut) <= 301 and cut.endswith("…") and cut[:-1].endswith("вдохнуй")
    assert not any(unicodedata.combining(ch) for ch in cut)
    stressed = "а\u0301" * 400   # a stress mark, which Cyrillic has no composed letter for
    assert shorten(stressed, 51) == "а\u0301" * 25 + "…"   # not 25 pairs and a letter without its mark


def test_short_text_is_kept_whole_on_one_line():
    assert shorten("Длительный\n 24 км,  ветер.", 300) == "Длительный 24 км, ветер."
