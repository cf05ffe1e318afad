"""Evidence selection, the faithfulness guard, languages and generation controls, without the LLM."""
import torch

from persona_pipeline.consilium.answer import facets, language, measures
from persona_pipeline.consilium.answer.evidence import DocumentFrequencies, EvidenceScorer
from persona_pipeline.consilium.runtime.meaning import open_encoder
from persona_pipeline.consilium.answer.faithfulness import unfaithful, unsupported_numbers
from persona_pipeline.consilium.runtime.generation import finished, penalised, sentences
from persona_pipeline.consilium.evaluation.grounded_set import contains_fact, token_f1
from persona_pipeline.consilium.answer.sentences import statements
from persona_pipeline.training.settings import TrainingSettings

TAPER = ("Tapering before the marathon. The taper is where months of work turn into a result. My marathon taper "
         "lasts exactly 17 days. In the first week volume falls to 75 percent of peak.")
WINTER = ("Зимний базовый период у нас в клубе длится двенадцать недель, с первой недели декабря до конца февраля. "
          "Я поднимаю объём не больше чем на 8 процентов в неделю.")
SLEEP = "I ask every athlete to sleep at least 8.5 hours during heavy training blocks. Naps count."
EXCERPTS = [(1, TAPER, "Tapering Before the Marathon\n"), (2, WINTER, "Зимний базовый период\n"), (3, SLEEP, "Sleep first\n")]


def scorer() -> EvidenceScorer:
    corpus = [TAPER, WINTER, SLEEP, "Threshold pace is 10 to 15 seconds per kilometre slower than 10 km race pace.",
              "Kefir with honey is the club's traditional recovery drink."]
    return EvidenceScorer(DocumentFrequencies.from_texts(corpus), open_encoder())


def test_the_sentence_that_holds_the_fact_is_quoted_first():
    selection = scorer().select("How many days does your marathon taper last?", EXCERPTS)
    assert selection.supported
    assert selection.quotes[0].number == 1 and "17 days" in selection.quotes[0].sentence
    assert set(selection.quotes[0].signals) >= {"coverage", "meaning", "answer_type"}


def test_a_russian_question_is_answered_from_the_russian_sentence():
    selection = scorer().select("Сколько недель длится зимний базовый период?", EXCERPTS)
    assert selection.supported and selection.quotes[0].number == 2
    assert "двенадцать недель" in selection.quotes[0].sentence


def test_a_question_about_something_never_written_gets_no_quote():
    selection = scorer().select("How many milligrams of caffeine should I take before a race?", EXCERPTS)
    assert not selection.supported and selection.candidates
    assert "caffein" in selection.unknown_words


def test_only_a_question_mostly_about_words_never_written_is_refused_on_vocabulary():
    # "race" and "start" are his words, "caffeine", "taurine" and "milligrams" are not: the sentence about race morning
    # still matches part of the question, yet the question is about something he never wrote
    never = scorer()
    caffeine = "How many milligrams of caffeine and taurine before the race start?"
    assert never.unknown_share(caffeine) >= never.unknown_gate and not never.select(caffeine, EXCERPTS).supported
    # one unfamiliar word among familiar ones is a paraphrase, not a new subject
    paraphrase = "How many days does the pre-race marathon taper last?"
    assert 0 < never.unknown_share(paraphrase) < never.unknown_gate
    assert never.select(paraphrase, EXCERPTS).quotes[0].number == 1


def test_a_log_header_of_dates_and_names_does_not_answer_a_how_many_about_them():
    """The header repeats the question's athlete and date word for word; the figures it holds are dates."""
    log = [(1, "Training session 2026-03-03, 3 March 2026, 3 марта 2026, Mikhail Orlov. Easy run, legs heavy.",
            "Training log\n")]
    how_many = scorer().select("How many kilometres did Mikhail Orlov run on 3 March 2026?", log)
    header = next(e for e in how_many.candidates if e.sentence.startswith("Training session"))
    assert header.signals["answer_type"] == 0 and not how_many.supported
    when = scorer().select("When did Mikhail Orlov have heavy legs?", log)
    assert next(e for e in when.candidates if e.sentence.startswith("Training session")).signals["answer_type"] == 1


def test_a_year_the_excerpt_does_not_hold_counts_against_it_on_its_own():
    taper = [(1, "In 2025 my marathon taper lasted exactly 17 days.", "Tapering Before the Marathon\n")]
    same = scorer().select("How many days did your marathon taper last in 2025?", taper).candidates[0]
    other = scorer().select("How many days did your marathon taper last in 2023?", taper).candidates[0]
    assert same.signals["year_missing"] == 0 and other.signals["year_missing"] == 1
    assert other.signals["numbers_missing"] == 0  # the year is not also counted as a missing number
    assert same.score > other.score


def test_a_figure_of_another_measure_does_not_answer_the_measure_asked():
    """A camp sheet's row matches the camp word for word; its only figure is the altitude. A distance in
    prose does not give a heart rate."""
    camp = [(1, "Camp: Kislovodsk altitude camp; Altitude m: 1200; Coach: Viktor Sokolov.", "Camp log\n"),
            (2, "Orlov's plan has a weekly volume of 160 km.", "Plans\n")]
    texts = [text for _, text, _ in camp] + ["Rest 90 seconds between the reps, heart rate under 150 at the end.",
                                             "Orlov ran the maximum of his plan in metres of climb."]
    camp_scorer = EvidenceScorer(DocumentFrequencies.from_texts(texts), open_encoder())
    rest = camp_scorer.select("How many minutes of rest between the reps at the Kislovodsk camp?", camp)
    altitude = camp_scorer.select("At what altitude in metres is the Kislovodsk camp?", camp)
    pulse = camp_scorer.select("What maximum heart rate does Orlov reach?", camp)
    row = lambda selection: next(e for e in selection.candidates if e.sentence.startswith("Camp:"))  # noqa: E731
    assert row(rest).signals["answer_type"] == 0 and row(altitude).signals["answer_type"] == 1
    assert not rest.supported and altitude.supported
    assert all(e.signals["answer_type"] == 0 for e in pulse.candidates) and not pulse.supported


def test_measures_are_read_from_units_fields_and_scales_in_both_languages():
    assert measures.asked_measures("Какой максимальный пульс у Орлова?") == {"heart rate"}
    assert measures.asked_measures("How far ahead of the gun do I have breakfast?") == set()
    # words that qualify the race or the session ask for no measure of their own
    assert measures.asked_measures("How long after a hard session, before the start of the next?") == set()
    pace = measures.asked_measures("How much slower than 10K race pace should threshold reps be?")
    assert "15 seconds per kilometre" in measures.answering_text("10 to 15 seconds per kilometre slower", pace)
    kept = measures.answering_text("Session: Long run; Distance: 24 km; Pace: 4:45 /km; Avg HR: 146 bpm; "
                                   "RPE: 5/10; Notes: windy, 3 km into the wind", {"heart rate"})
    assert "146" in kept and not any(f in kept for f in ("24", "4:45", "5/10", "3 km"))
    assert "7 out of 10" not in measures.answering_text("I coach by RPE 7 out of 10.", {"heart rate"})
    # nothing asked for: every figure stays
    assert measures.answering_text("Дистанция: 11 km; Темп: 4:05 /km", set()) == "Дистанция: 11 km; Темп: 4:05 /km"


def test_a_question_that_names_its_unit_wants_a_figure_in_it():
    """"How many minutes" is not answered by "one session a week", though "how often" would be."""
    sauna = [(1, "I allow the sauna before a race and one session a week.", "Recovery\n"),
             (2, "Kefir with honey is the club's traditional recovery drink.", "Recovery\n")]
    texts = [text for _, text, _ in sauna] + ["Ten minutes in the cold bath is enough."]
    sauna_scorer = EvidenceScorer(DocumentFrequencies.from_texts(texts), open_encoder())
    selection = sauna_scorer.select("How many minutes in the sauna do you allow after a hard session?", sauna)
    assert selection.candidates[0].signals["answer_type"] == 0 and not selection.supported
    often = sauna_scorer.select("How often do you allow the sauna?", sauna)
    assert often.candidates[0].signals["answer_type"] == 1
    minutes = measures.named_units("Сколько минут в сауне вы разрешаете?")
    assert minutes == {"duration"} and measures.named_units("Сколько шагов в минуту?") == set()
    assert measures.answering_text("Разрешаю одну тренировку в неделю.", {"duration"}, minutes).strip() == ""
    assert "восемь с половиной часов" in measures.answering_text("Спать восемь с половиной часов.", {"duration"},
                                                                 minutes)
    assert measures.named_units("Какая длительность в часах?") == {"duration"}
    assert "20-minute" in measures.answering_text("A 20-minute sauna, then a cold shower.", set(), minutes)
    # "часть" and "минус" are no hours or minutes
    assert measures.answering_text("Одна часть, минус пятнадцать.", {"duration"}, minutes).strip() == ""
    # a pace is a time per distance: naming seconds, the question still takes "15 seconds per km"
    per_km = "How many seconds per km slower should threshold reps be?"
    assert "15 seconds per km" in measures.answering_text("10 to 15 seconds per km slower.",
                                                          measures.asked_measures(per_km), measures.named_units(per_km))
    # a log row's field names the unit for its value
    assert "48" in measures.answering_text("Session: Sauna; Duration min: 48; Notes: felt fine", {"duration"}, minutes)


def test_figures_are_read_with_their_unit_in_words_ranges_and_comparisons():
    heart_rate = {"heart rate"}
    # "a runner who runs 60" (a week) is a distance
    orlov = measures.answering_text("Orlov's 160 km a week would break a runner who runs 60.", heart_rate)
    assert not any(f in orlov for f in ("160", "60"))
    assert "пробегает 60" not in measures.answering_text("убьёт бегуна, который пробегает 60.", heart_rate)
    assert "75% of maximum heart rate" in measures.answering_text("Easy below 75% of maximum heart rate.", heart_rate)
    pace = measures.asked_measures("How much slower than at sea level should the reps be?")
    assert pace == {"pace"} and "4 seconds slower" in measures.answering_text("About 4 seconds slower.", pace)
    share = measures.asked_measures("Какая доля километража приходится на первую зону?")
    assert "share" in share and "Восемьдесят процентов" in measures.answering_text(
        "Восемьдесят процентов объёма идёт в первой зоне.", share)
    # a number word is no unit of its own: "ones" is not "one s"
    assert "ones" in measures.answering_text("The easy ones stay easy.", heart_rate)


def test_a_neighbouring_distance_or_season_is_not_taken_for_the_one_asked():
    marathon = scorer().select("How many days does your marathon taper last?", EXCERPTS).candidates[0]
    half_selection = scorer().select("How many days does your half-marathon taper last?", EXCERPTS)
    half = next(e for e in half_selection.candidates if "17 days" in e.sentence)
    assert marathon.signals["facet_conflict"] == 0 and half.signals["facet_conflict"] == 1
    assert half.score == 0 < marathon.score and half not in half_selection.quotes  # never quoted for the half
    summer = scorer().select("Сколько недель длится летний базовый период?", EXCERPTS)
    assert summer.candidates[0].signals["facet_conflict"] > 0


def test_facets_read_both_languages_and_skip_lookalikes():
    assert facets.facet_values("Полумарафон в апреле, потом марафон осенью") == {
        "distance": {"half marathon", "marathon"}, "season": {"autumn"}}
    assert facets.facet_values("How fast should my 10k be? I ran 5000 m in 17 minutes") == {"distance": {"10 km", "5 km"}}
    # a verb is not a season, and a weekly volume is not an ultra
    assert facets.facet_values("How much does volume fall in a week of 100 km a week?") == {}
    # a split inside a marathon report does not make it a report of a 5 km race
    asked = facets.facet_values("What did he run at the marathon?")
    split = facets.facet_values("He finished with 15:41 for the last 5 km.")
    assert facets.conflict(asked, split, facets.facet_values("Kazan Marathon report")) == 0
    assert facets.conflict(asked, split, {}) == 1

def test_a_worldview_example_is_quoted_from_its_answers_only():
    text = "Question: The marathon is in 17 days. What now? Answer: Now the taper starts. Volume falls, intensity stays."
    assert [s.text for s in statements(text)] == ["Now the taper starts.", "Volume falls, intensity stays."]


def test_prose_wrapped_at_a_fixed_width_is_read_in_whole_sentences():
    # olympum.github.io, "The challenging case of training at threshold" (eval/foreign/materials), wrapped at 70
    wrapped = ("But push above this ceiling, and things quickly fall apart.\n"
               "This limit is our lactate threshold, and although it is mainly\n"
               "determined by genetic factors and it can only be determined exactly in\n"
               "the lab, it is possible to train the body to raise this threshold.")
    assert [s.text for s in statements(wrapped)] == [
        "But push above this ceiling, and things quickly fall apart.",
        "This limit is our lactate threshold, and although it is mainly determined by genetic factors and it can "
        "only be determined exactly in the lab, it is possible to train the body to raise this threshold."]
    # log rows and short lines stay apart, even in lower case
    rows = "swim 2400m easy, then some drills\nbike 60 minutes on the trainer\nrun off the bike 20 minutes"
    assert len(statements(rows)) == 3


def test_a_heading_places_the_sentences_under_it_and_is_no_answer():
    # mariostoc.co's Ironman training diary (eval/foreign/materials): the day is only in the heading
    text = "## FRIDAY AUG 13\nSleep **2** | Fatigue **4**\n### NOTES\nTotal Time: **0 minutes**\nI had a restful sleep."
    assert [tuple(s) for s in statements(text)] == [("Sleep **2** | Fatigue **4**", "FRIDAY AUG 13"),
                                                    ("Total Time: **0 minutes**", "FRIDAY AUG 13 › NOTES"),
                                                    ("I had a restful sleep.", "FRIDAY AUG 13 › NOTES")]
    # a heading of the same level closes the one before it
    assert statements("## MONDAY\n### NOTES\nEasy swim today.\n## TUESDAY\nRest day, nothing done.")[-1].section == "TUESDAY"


def test_the_guard_drops_invented_figures_names_foreign_script_and_repeats():
    support = "My marathon taper lasts exactly 17 days. Mikhail Orlov ran 2:16:40 in Kazan."
    scripts = ["en"]
    assert unfaithful("The taper lasts 17 days, so Orlov can trust it.", support, scripts, [], 1) is None
    assert "number" in unfaithful("The taper lasts about 8 hours.", support, scripts, [], 1)
    assert "name" in unfaithful("Ask your friend Boris about it.", support, scripts, [], 1)
    assert "script" in unfaithful("Подводка длится 17 дней.", support, scripts, [], 1)
    assert "repeats" in unfaithful("My marathon taper lasts exactly 17 days.", support, scripts, [support], 1)
    assert "not one of the 1 excerpts" in unfaithful("Rest well [3].", support, scripts, [], 1)
    assert unsupported_numbers("Run 3 x 5 km at 4:05.", "3 x 5 km at 4:05 per km") == []


def test_languages_are_told_by_script_and_the_base_model_declares_its_own():
    assert language.detect("Сколько недель длится база?") == "ru" and language.detect("How long? 17") == "en"
    assert language.written_in("What it means: rest.", "en") and not language.written_in("Что это значит", "en")
    english_only = TrainingSettings(base_model_languages=["en"])
    assert language.base_writes(english_only, "en") and not language.base_writes(english_only, "ru")
    hint = language.multilingual_hint(english_only, "ru")
    assert "Qwen" in hint and "Russian" in hint and "training.yaml" in hint and "persona_pipeline/" not in hint


def test_only_generated_tokens_are_penalised():
    scores = torch.tensor([[2.0, 2.0, 2.0, -1.0]])
    out = penalised(scores.clone(), generated=[3, 2, 3], penalty=2.0)  # the prompt's tokens are not passed
    assert out[0, 0] == 2.0 and out[0, 1] == 2.0  # copying from the prompt stays as likely as before
    assert out[0, 3] == -2.0 and out[0, 2] == 1.0  # once per token, however often it was generated


class _Tokens:
    """A tokenizer stand-in for the stop rule: one character per token id."""

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids)


def test_generation_stops_on_a_loop_and_after_enough_sentences():
    def stop(text: str) -> bool:
        return finished([ord(c) for c in text], _Tokens(), max_sentences=3)

    assert stop("abcdefgh" * 2) and not stop("abcdefghijklmnop") and stop("One. Two. Three.")
    assert not stop("One. Two. Three")


def test_streamed_pieces_are_regrouped_into_sentences():
    assert list(sentences(iter(["The taper", " lasts 17 days. Vol", "ume falls. Then"]))) == \
        ["The taper lasts 17 days.", "Volume falls.", "Then"]


def test_gold_facts_are_matched_as_written_in_either_language():
    assert contains_fact("Подводка длится 17 дней, объём — 75%.", "17 дней")
    assert contains_fact("Ёлка у финиша", "елка")
    assert token_f1("It lasts exactly 17 days.", "17 days") > 0.5 and token_f1("Rest.", "17 days") == 0.0


def test_a_short_line_joined_by_a_wrap_does_not_swallow_the_next_row():
    text = "My legs were heavy after the long ride yesterday and\nstiff\nbike 20 min easy on the trainer"
    assert [s.text for s in statements(text)] == ["My legs were heavy after the long ride yesterday and stiff",
                                                  "bike 20 min easy on the trainer"]
