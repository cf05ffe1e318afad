"""Diaries under logs/: a date at the start of a heading or a paragraph opens a dated entry."""
from persona_pipeline.ingest.parsers import PARSERS

RUSSIAN_MD = """# Дневник Анны Петровой

## Неделя 11

12 марта 2026 — интервалы 5 × 1 км по 3:25, пульс до 177.

Вечером растяжка 20 минут.

**14 марта.** Длительный 24 км, ветер.

## 15.03.2026

Отдых, сон 9 часов.

16.03 — лёгкий бег 10 км.
"""

ENGLISH_TXT = """Training notes, Mikhail Orlov

Moved to the new group in spring.

March 12, 2026: easy 10 km, felt flat after the flight.

2 x 20 min at threshold, HR 168.

Tuesday, March 17 - track 6 x 800 m in 2:28-2:31.

2026-03-19 Long run 28 km with gels at 10 and 20 km.
"""


def entries(doc):
    return [(b.date, b.text) for b in doc.blocks]


def test_russian_markdown_diary_entries_carry_their_dates():
    doc = PARSERS["diary"](RUSSIAN_MD.encode(), "logs/dnevnik_2026.md")
    assert doc.title == "Дневник Анны Петровой" and doc.warnings == []
    assert entries(doc) == [
        ("2026-03-12", "12 марта 2026 — интервалы 5 × 1 км по 3:25, пульс до 177."),
        ("2026-03-12", "Вечером растяжка 20 минут."),          # the entry goes on until the next date
        ("2026-03-14", "14 марта. Длительный 24 км, ветер."),   # no year: the previous entry's
        ("2026-03-15", "Отдых, сон 9 часов."),
        ("2026-03-16", "16.03 — лёгкий бег 10 км."),
    ]
    assert doc.blocks[0].heading.startswith("2026-03-12, 12 March 2026, 12 марта 2026")
    assert doc.blocks[0].group == doc.blocks[1].group != doc.blocks[2].group


def test_english_text_diary_and_undated_opening():
    doc = PARSERS["diary"](ENGLISH_TXT.encode(), "logs/orlov_notes.txt")
    assert doc.title == "Training notes, Mikhail Orlov"
    assert [d for d, _ in entries(doc)] == [None, "2026-03-12", "2026-03-12", "2026-03-17", "2026-03-19"]
    assert "2 x 20 min at threshold" in doc.blocks[2].text   # figures at a paragraph start are not dates


def test_diary_without_dates_is_kept_as_text_with_a_warning():
    doc = PARSERS["diary"](b"Notes\n\nEasy week, nothing special.", "logs/notes.txt")
    assert entries(doc) == [(None, "Easy week, nothing special.")]
    assert doc.warnings == ["no dated entries found (no date at the start of a heading or paragraph); indexed as plain text"]


# the shape of mariostoc.co's Ironman training diary (eval/foreign/materials/logs): a day's heading straight
# after an image line, its parts as sub-headings, a duration near the top
IRONMAN_MD = """# IRONMAN TRAINING 2021

**7 weeks** until IRONMAN Canada.

## THURSDAY AUG 12
### NOTES
A [smoky haze](javascript:flkty.select(2);) was pushing in.
![Thursday at 8:09pm](/assets/jpg/sunset-20210812.jpeg)
## FRIDAY AUG 13
### PLANNED WORKOUT
Run 30 minutes. Flat route. EASY effort.

### NOTES
Total Time: **0 minutes**

## SUMMARY
A good week.
"""


def test_a_markdown_day_heading_opens_its_entry_and_its_sub_headings_stay_in_that_day():
    doc = PARSERS["diary"](IRONMAN_MD.encode(), "logs/ironman-training-2021-08-08.md")
    assert [(b.date, b.text) for b in doc.blocks] == [
        (None, "7 weeks until IRONMAN Canada."),          # a duration, not a date seven weeks ago
        ("2021-08-12", "A smoky haze was pushing in.\nThursday at 8:09pm"),  # links and images read as their words
        ("2021-08-13", "Run 30 minutes. Flat route. EASY effort."),   # the heading needs no blank line before it
        ("2021-08-13", "Total Time: 0 minutes"),
        (None, "A good week."),                           # a heading at the day's level ends the day
    ]
    assert doc.blocks[3].heading == "2021-08-13, 13 August 2021, 13 августа 2021 › NOTES"
    assert doc.blocks[4].heading == "SUMMARY"


def test_diary_headings_nest_and_end_their_day_at_any_level():
    text = ("# 13 August 2021\nRan.\n## Notes\n#### Morning\nCold start.\n\n![](/photo.jpg)\n\n"
            "Sleep **2** | Fatigue **4**\n\n# Misc\nOther things.")
    doc = PARSERS["diary"](text.encode(), "logs/days.md")
    assert [(b.date, b.heading, b.text) for b in doc.blocks] == [
        ("2021-08-13", "2021-08-13, 13 August 2021, 13 августа 2021", "Ran."),
        ("2021-08-13", "2021-08-13, 13 August 2021, 13 августа 2021 › Notes › Morning", "Cold start."),
        ("2021-08-13", "2021-08-13, 13 August 2021, 13 августа 2021 › Notes › Morning", "Sleep 2 | Fatigue 4"),
        (None, "Misc", "Other things."),   # a first-level heading after an entry is no title
    ]
    assert doc.title == "days"


def test_a_hash_line_inside_a_code_fence_is_no_heading():
    text = "# Notes\n\n12 March 2026: intervals.\n```bash\n# not a heading\n```\n## 13 March 2026\nRest."
    doc = PARSERS["diary"](text.encode(), "logs/fenced.md")
    assert [(b.date, b.text.splitlines()[0]) for b in doc.blocks] == [("2026-03-12", "12 March 2026: intervals."),
                                                                      ("2026-03-13", "Rest.")]
    assert "# not a heading" in doc.blocks[0].text
