"""Training logs as apps export them: date columns found by name in either language, dates in any
common form, unit columns normalised, rows grouped into sessions and weeks, bad rows said once."""
import datetime as dt
import io

import openpyxl
import pytest

from persona_pipeline.ingest.dates import DateReader, date_column
from persona_pipeline.ingest.document import MaterialError
from persona_pipeline.ingest.parsers import PARSERS

# the header row of a Strava bulk export's activities.csv, in its own order (two 'Elapsed Time' and
# two 'Distance' columns: the first in km, the second in metres)
STRAVA_HEADER = ("Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,Elapsed Time,Distance,"
                 "Max Heart Rate,Relative Effort,Commute,Activity Private Note,Activity Gear,Filename,Athlete Weight,"
                 "Bike Weight,Elapsed Time,Moving Time,Distance,Max Speed,Average Speed,Elevation Gain,Elevation Loss,"
                 "Elevation Low,Elevation High,Max Grade,Average Grade,Average Heart Rate")
STRAVA_ROWS = [
    '5612345678,"Jul 7, 2021, 6:35:21 PM",Evening Run,Run,,3121,10.02,178,45,false,,,activities/5612345678.fit.gz,58,,'
    '3121.0,3050.0,10020.0,4.8,3.28,85.0,84.0,52.0,98.0,9.1,0.0,152.0',
    '5612345679,"Jul 9, 2021, 7:02:10 AM",Morning Run,Run,Tempo 3 x 2 km,2710,8.51,181,60,false,,,,58,,'
    '2710.0,2690.0,8510.0,5.1,3.16,40.0,41.0,52.0,70.0,4.0,0.0,165.0',
    '5612345680,"Jul 11, 2021, 9:00:00 AM",Long Run,Run,,6300,21.1,170,90,false,,,,58,,'
    '6300.0,6200.0,21100.0,4.5,3.40,210.0,205.0,52.0,160.0,12.0,0.0,148.0',
]
# a Strong app export: one row per set, semicolons, the workout's start time on every row
STRONG_HEADER = "Date;Workout Name;Duration;Exercise Name;Set Order;Weight;Reps;Distance;Seconds;Notes;Workout Notes;RPE"
STRONG_ROWS = [
    "2021-07-07 18:35:21;Push day;1h 5m;Bench Press (Barbell);1;60;10;0;0;;;",
    "2021-07-07 18:35:21;Push day;1h 5m;Bench Press (Barbell);2;70;8;0;0;;;8",
    "2021-07-07 18:35:21;Push day;1h 5m;Overhead Press (Barbell);1;40;8;0;0;;;",
    "2021-07-09 07:10:00;Legs;52m;Squat (Barbell);1;100;5;0;0;;;",
    "2021-07-09 07:10:00;Legs;52m;Squat (Barbell);2;100;5;0;0;felt strong;;",
]


def table(text: str, name: str = "logs/export.csv"):
    return PARSERS["table"](text.encode(), name)


def sessions(doc):
    return {b.group: [x for x in doc.blocks if x.group == b.group] for b in doc.blocks if b.group.startswith("session")}


def test_strava_activities_export_is_read_with_dates_units_and_a_week():
    doc = table("\n".join([STRAVA_HEADER, *STRAVA_ROWS]) + "\n", "logs/activities.csv")
    assert doc.warnings == []
    first = next(b for b in doc.blocks if "Evening Run" in b.text)
    assert first.date == "2021-07-07" and first.line == 2
    assert "7 July 2021" in first.text and "7 июля 2021" in first.text
    # seconds read as a duration, km and metres columns read as the same distance
    assert "Elapsed Time: 52:01" in first.text and "Moving Time: 50:50" in first.text
    assert first.text.count("Distance: 10.02 km") == 1
    week = next(b for b in doc.blocks if b.group.startswith("week"))
    assert week.date == "2021-07-05" and "3 sessions" in week.text
    assert "39.63 km" in week.text and "3:22:11" in week.text


def test_strong_export_sets_become_one_session_per_workout():
    doc = table("\n".join([STRONG_HEADER, *STRONG_ROWS]) + "\n", "logs/strong.csv")
    assert doc.warnings == []
    by_session = sessions(doc)
    assert len(by_session) == 2
    push = by_session["session 2021-07-07"]
    assert [b.line for b in push] == [2, 3, 4]
    # what every set of the workout shares is said once, at the top; each set keeps its own figures
    assert "Workout Name: Push day; Duration: 1:05:00" in push[0].text
    assert "Weight: 70; Reps: 8" in push[1].text and "Push day" not in push[1].text
    # Strong's unused Distance and Seconds columns (all zero) are left out
    assert "Seconds" not in " ".join(b.text for b in doc.blocks)
    week = next(b for b in doc.blocks if b.group.startswith("week"))
    assert "2 sessions" in week.text and "1:57:00" in week.text  # the workout's duration counted once


@pytest.mark.parametrize("header, value, expected", [
    ("Start Time", "2021-07-07T23:35:21+03:00", "2021-07-07"),
    ("Start Time", "2021-07-07T20:35:21Z", "2021-07-07"),
    ("Дата тренировки", "12 марта 2026", "2026-03-12"),
    ("Дата тренировки", "12.03.2026", "2026-03-12"),
    ("date", "Jul 7, 2021, 11:35:21 PM UTC", "2021-07-07"),
    ("Date", 45000, "2023-03-15"),          # an Excel serial day number
    ("Date", "45000", "2023-03-15"),
    ("День", "вт, 7 июля 2021", "2021-07-07"),
])
def test_dates_in_the_forms_exports_use(header, value, expected):
    found = date_column([header, "Distance (km)"], [[value, "5"]])
    assert found is not None and found[0] == 0
    assert found[1].read(value) == dt.date.fromisoformat(expected)


def test_day_month_order_is_decided_once_per_column():
    assert DateReader.for_values(["03/04/2021", "25/04/2021"]).read("03/04/2021") == dt.date(2021, 4, 3)
    assert DateReader.for_values(["03/04/2021", "04/25/2021"]).read("03/04/2021") == dt.date(2021, 3, 4)


def test_durations_are_not_mistaken_for_the_date_column():
    found = date_column(["Elapsed Time", "Moving Time", "Start Time"], [[3121, 3050, "2021-07-07 06:35"]])
    assert found is not None and found[0] == 2


@pytest.mark.parametrize("header, value, shown", [
    ("Distance (m)", "12000", "Distance: 12 km"),
    ("distance_mi", "6.2", "Distance: 9.98 km"),
    ("Time (s)", "3725", "Time: 1:02:05"),
    ("Duration", "1:02:05", "Duration: 1:02:05"),
    ("Длительность (мин)", "45", "Длительность: 45:00"),
    ("Pace (min/mi)", "8:03", "Pace: 5:00 /km"),
    ("Темп (мин/км)", "4:55", "Темп: 4:55 /km"),
    ("Elevation gain (m)", "85", "Elevation gain: 85 m"),
])
def test_unit_columns_are_normalised(header, value, shown):
    doc = table(f"Date,{header}\n2026-03-02,{value}\n")
    assert shown in doc.blocks[0].text


def test_rows_with_the_same_problem_are_said_once_and_listed_in_full():
    rows = "".join(f"2021-07-{d:02d} 18:35:21,5\n" for d in range(1, 4)) + "".join(f"later {n},5\n" for n in range(40))
    doc = table("Date,Distance (km)\n" + rows)
    assert doc.warnings == ["40 rows skipped: 'Date' values such as 'later 0', 'later 1' are not dates; first at line 5"]
    assert len(doc.details) == 40 and doc.details[0] == "line 5, field 'Date': 'later 0' is not a date; row skipped"


def test_a_file_whose_dates_never_read_is_one_line_naming_the_column():
    rows = "".join(f"{n}/xx/2021,5\n" for n in range(4801))
    with pytest.raises(MaterialError) as error:
        table("Date,Distance (km)\n" + rows)
    assert str(error.value) == "no date column found: 'Date' values such as '0/xx/2021', '1/xx/2021' are not dates"


def test_a_missing_date_is_reported_with_its_line():
    doc = table("Date,Session\n2026-03-01,Easy\n,Tempo\n")
    assert doc.warnings == ["line 3, field 'Date': missing; row skipped"]


def test_workbook_title_row_and_russian_headers_give_a_dated_week():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Май"
    sheet.append(["Дневник: Иван Кузнецов, май 2026"])
    sheet.append(["Дата тренировки", "Тренировка", "Дистанция (м)", "Время"])
    sheet.append([dt.datetime(2026, 5, 4), "Лёгкий бег", 10000, dt.time(0, 50, 10)])
    sheet.append([46148, "Темп", 12000, "0:55:00"])   # 2026-05-06 as an Excel serial
    buffer = io.BytesIO()
    workbook.save(buffer)
    doc = PARSERS["table"](buffer.getvalue(), "logs/kuznetsov_may.xlsx")
    assert [b.date for b in doc.blocks] == ["2026-05-04", "2026-05-06", "2026-05-04"]
    assert "Иван Кузнецов" in doc.blocks[0].text and "Дистанция: 10 km" in doc.blocks[0].text
    week = doc.blocks[-1]
    assert "22 km" in week.text and "1:45:10" in week.text and "4–10 мая 2026" in week.text
