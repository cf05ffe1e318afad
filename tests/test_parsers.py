"""One test per format on the shipped samples, plus the encodings and bad inputs a coach's folder holds."""
import codecs
from pathlib import Path

import pytest

from persona_pipeline.ingest.decoding import decode_text
from persona_pipeline.ingest.document import MaterialError
from persona_pipeline.ingest.parsers import PARSERS

SAMPLES = Path(__file__).resolve().parents[1] / "raw_materials"


def parse(parser: str, rel: str):
    return PARSERS[parser]((SAMPLES / rel).read_bytes(), rel)


def test_markdown_keeps_headings_and_drops_emphasis():
    doc = parse("markdown", "articles/threshold_training.md")
    assert doc.title == "Threshold Training Without the Myths"
    session = [b for b in doc.blocks if b.heading == "The Sokolov 3 x 3 km session"]
    assert any("3:38 per kilometre" in b.text for b in session)
    assert not any(b.text.startswith("*By") for b in doc.blocks)


def test_cp1251_russian_text_is_decoded_without_losing_cyrillic():
    raw = (SAMPLES / "articles/zimniy_bazovy_period.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    doc = parse("text", "articles/zimniy_bazovy_period.txt")
    assert doc.title.startswith("Зимний базовый период")
    assert any("«горку Соколова»" in b.text and b.heading == "Бег в гору" for b in doc.blocks)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig", "koi8_r"])
def test_other_encodings(encoding):
    text = "Длительный бег по воскресеньям - 25 процентов недельного объёма.\nВторая строка текста о тренировке."
    decoded, _ = decode_text(text.encode(encoding))
    assert decoded.strip().lstrip("\ufeff") == text


def test_html_keeps_the_article_and_drops_menus_and_scripts():
    doc = parse("html", "articles/recovery_and_sleep.html")
    text = " ".join(b.text for b in doc.blocks)
    assert doc.title == "Recovery Is Training Too"
    assert "8.5 hours" in text and "48-hour rule" in " ".join(b.heading or "" for b in doc.blocks)
    for noise in ("Subscribe", "Spring sale", "analytics", "Cookie", "GPS watches"):
        assert noise not in text


def test_pdf_blocks_know_their_page():
    doc = parse("pdf", "articles/taper_before_marathon.pdf")
    by_page = {b.page: b.text for b in doc.blocks}
    assert set(by_page) == {1, 2, 3}
    assert "17 days" in by_page[1] and "8 grams" in by_page[2] and "2:16:40" in by_page[3]


def test_truncated_pdf_is_reported_not_crashed():
    data = (SAMPLES / "articles/taper_before_marathon.pdf").read_bytes()
    with pytest.raises(MaterialError):
        PARSERS["pdf"](data[:300], "broken.pdf")


def test_docx_headings_and_table():
    doc = parse("docx", "articles/oshibki_molodyh_trenerov.docx")
    assert doc.title == "Ошибки молодых тренеров"
    assert any(b.heading == "Копирование чужих планов" and "160 километров" in b.text for b in doc.blocks)
    assert any("до 16 лет | 2" in b.text for b in doc.blocks)


def test_srt_cues_keep_timestamps():
    doc = parse("srt", "lectures/lecture_01_aerobnaya_baza.srt")
    cue = next(b for b in doc.blocks if "4:32 до 4:11" in b.text)
    assert (cue.start, cue.end) == ("00:00:44", "00:00:53")


def test_vtt_cues_keep_timestamps_and_skip_notes():
    doc = parse("vtt", "lectures/lecture_02_race_tactics.vtt")
    cue = next(b for b in doc.blocks if "600 kick" in b.text)
    assert (cue.start, cue.end) == ("00:00:18", "00:00:29")
    assert not any("NOTE" in b.text for b in doc.blocks)


def test_csv_rows_become_dated_texts_with_units_despite_bom_and_spaced_headers():
    doc = parse("table", "logs/spring_group_2026.csv")
    row = next(b for b in doc.blocks if "tight left hamstring" in b.text)
    assert row.date == "2026-03-06" and row.line == 8
    assert row.heading == "2026-03-06 Ivan Kuznetsov" and "6 March 2026, 6 марта 2026" in row.text
    assert "Distance: 11 km" in row.text and "Pace: 3:52 /km" in row.text and "Avg HR: 168 bpm" in row.text and "RPE: 7/10" in row.text
    assert len({b.group for b in doc.blocks if b.group.startswith("session")}) == 10


def test_xlsx_title_row_gives_context_and_dates_are_iso():
    doc = parse("table", "logs/petrova_april_2026.xlsx")
    row = next(b for b in doc.blocks if "16:31" in b.text)
    assert row.date == "2026-04-11"
    assert "Анна Петрова" in row.text and "Пульс: 181 уд/мин" in row.text


def test_json_log_records_carry_the_camp_context():
    doc = parse("json_log", "logs/kislovodsk_camp_2025.json")
    row = next(b for b in doc.blocks if "Haemoglobin" in b.text)
    assert row.date == "2025-10-14" and "Kislovodsk altitude camp" in row.text and "Distance: 14 km" in row.text


def test_log_row_with_a_bad_date_is_reported_with_line_and_field():
    data = "Date,Session,Distance (km)\n2026-03-01,Easy,10\nyesterday,Tempo,8\n".encode()
    doc = PARSERS["table"](data, "logs/x.csv")
    assert len(doc.blocks) == 1
    assert doc.warnings == ["line 3, field 'Date': 'yesterday' is not a date; row skipped"]


def test_invalid_json_names_line_and_column():
    with pytest.raises(MaterialError, match="line 2, column"):
        PARSERS["json_log"](b'{"sessions": [\n  {"date": 2026-01-01}]}', "logs/bad.json")


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"   \n\n", "empty file"),
    (bytes(range(256)) * 20, "binary content"),
    (b"\x89PNG\r\n\x1a\n" + bytes(2000), "binary content"),
])
def test_bad_text_inputs_raise_a_clear_reason(data, reason):
    with pytest.raises(MaterialError, match=reason):
        PARSERS["text"](data, "articles/junk.txt")


def test_bom_utf8_and_crlf_markdown():
    data = codecs.BOM_UTF8 + "# Title\r\n\r\n## Part\r\nBody text here.\r\n".encode()
    doc = PARSERS["markdown"](data, "a.md")
    assert doc.title == "Title" and doc.blocks[0].heading == "Part" and doc.blocks[0].text == "Body text here."


# the shape of a Jekyll post: front matter, markdown, an HTML table with empty cells and entities, an image
JEKYLL_POST = """---
layout: post
title: "Велодневник: Оттава &ndash; Мирамичи"
date: 2009-09-28 12:00
---

Первый день &mdash; выезд в 7 утра.

<table>
<tr><td><b>День</b></td><td>&nbsp;</td><td>Км</td></tr>
<tr><td>1</td><td>&nbsp;</td><td>145&nbsp;км</td></tr>
</table>

<p><img src="/map.png" alt=""></p>

<p>Средняя скорость &ndash; 24 км/ч.</p>
"""


@pytest.mark.parametrize("parser", ["markdown", "diary"])
def test_markdown_with_front_matter_and_an_html_body_becomes_text(parser):
    doc = PARSERS[parser](JEKYLL_POST.encode(), "logs/velodnevnik.md")
    texts = [b.text for b in doc.blocks]
    assert doc.title == "Велодневник: Оттава – Мирамичи"
    assert texts[0] == "Первый день — выезд в 7 утра."
    assert texts[1] == "День | Км\n1 | 145 км"          # one row per line, empty cells dropped
    assert texts[2] == "Средняя скорость – 24 км/ч."    # the image-only paragraph is gone
    assert not any(c in text for text in texts for c in "<>&") and "layout" not in " ".join(texts)
    assert [b.line for b in doc.blocks] == [7, 9, 16]    # lines as in the file, front matter counted
