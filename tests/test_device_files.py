"""FIT, GPX and TCX files, written here in their real formats, become dated session summaries; a
damaged one is reported in one line like any bad file."""
import datetime as dt
import sys

import pytest

from persona_pipeline.ingest.loading import load_materials
from persona_pipeline.ingest.parsers import PARSERS
from persona_pipeline.rag_config import load_rag_config
from persona_pipeline.settings import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "scripts"))
from device_samples import Segment, fit_bytes, gpx_text, interval_session, tcx_text  # noqa: E402

UTC = dt.timezone.utc


def test_fit_activity_keeps_laps_and_the_watch_local_date():
    # 22:30 UTC with the watch three hours ahead: the run was on the 13th on the athlete's clock
    data = fit_bytes(dt.datetime(2026, 3, 12, 22, 30, tzinfo=UTC), interval_session(), utc_offset_hours=3)
    doc = PARSERS["fit"](data, "logs/devices/anna_intervals.fit")
    session = doc.blocks[0]
    assert session.date == "2026-03-13" and "Start: 01:30" in session.text
    assert "Sport: running" in session.text and "Distance: 11.6 km" in session.text and "Duration: 51:33" in session.text
    assert "Average pace: 4:27 /km" in session.text and "Max HR: 177 bpm" in session.text
    assert "2: 1 km in 3:26 (3:26 /km) HR 171" in session.text and "11: 2 km in 11:00" in session.text


def test_gpx_track_gives_distance_elevation_and_heart_rate():
    text = gpx_text(dt.datetime(2026, 3, 14, 5, 30, tzinfo=UTC), "Zhiguli trail long run", 18.0, 330, 420)
    doc = PARSERS["gpx"](text.encode(), "logs/devices/orlov_trail.gpx")
    session = doc.blocks[0]
    assert session.date == "2026-03-14" and "Name: Zhiguli trail long run" in session.text
    assert "Distance: 18.0" in session.text and "Duration: 1:39:00" in session.text
    assert "Elevation gain: 4" in session.text and "Average HR: 14" in session.text


def test_tcx_laps_are_the_intervals():
    laps = [Segment(2000, 690, 140), Segment(6000, 1380, 169), Segment(2000, 700, 142)]
    doc = PARSERS["tcx"](tcx_text(dt.datetime(2026, 3, 13, 14, 0, tzinfo=UTC), laps).encode(), "logs/devices/ivan_tempo.tcx")
    session = doc.blocks[0]
    assert session.date == "2026-03-13" and "Distance: 10 km" in session.text
    assert "2: 6 km in 23:00 (3:50 /km) HR 169" in session.text


def test_damaged_device_files_are_skipped_with_one_line_and_the_rest_indexed(tmp_path):
    devices = tmp_path / "logs" / "devices"
    devices.mkdir(parents=True)
    good = fit_bytes(dt.datetime(2026, 3, 12, 4, 5, tzinfo=UTC), interval_session())
    (devices / "good.fit").write_bytes(good)
    (devices / "truncated.fit").write_bytes(good[:-40])
    (devices / "notes.fit").write_bytes(b"this is not a FIT file at all")
    (devices / "cut.gpx").write_text(gpx_text(dt.datetime(2026, 3, 14, tzinfo=UTC), "Run", 5, 300, 10)[:400])
    (devices / "cut.tcx").write_text(tcx_text(dt.datetime(2026, 3, 13, tzinfo=UTC), [Segment(1000, 300, 150)])[:300])
    result = load_materials(tmp_path, load_rag_config(PROJECT_DIR / "RAG_config.yaml"))
    assert [d.source.path for d in result.documents] == ["logs/devices/good.fit"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons["logs/devices/truncated.fit"].startswith("damaged FIT file")
    assert reasons["logs/devices/notes.fit"] == "not a FIT file (no FIT header)"
    assert reasons["logs/devices/cut.gpx"].startswith("damaged GPX file") and reasons["logs/devices/cut.tcx"].startswith("damaged TCX file")
    assert all("\n" not in reason for reason in reasons.values())


@pytest.mark.parametrize("name", ["petrova_2026-03-12_intervals.fit", "orlov_2026-03-14_zhiguli_trail.gpx",
                                  "kuznetsov_2026-03-13_tempo.tcx"])
def test_shipped_samples_are_what_the_generator_writes(tmp_path, name):
    from device_samples import write_samples

    write_samples(tmp_path)
    assert (tmp_path / name).read_bytes() == (PROJECT_DIR / "raw_materials/logs/devices" / name).read_bytes()


def test_a_fit_file_whose_crc_fails_but_whose_records_decode_is_read_with_a_warning(tmp_path):
    good = fit_bytes(dt.datetime(2026, 3, 12, 4, 5, tzinfo=UTC), interval_session())
    bad_crc = bytearray(good)
    bad_crc[-2:] = bytes([good[-2] ^ 0x5A, good[-1] ^ 0xA5])   # the file CRC wrong, every record whole
    doc = PARSERS["fit"](bytes(bad_crc), "logs/devices/edge810.fit")
    assert [b.text for b in doc.blocks] == [b.text for b in PARSERS["fit"](good, "logs/devices/edge810.fit").blocks]
    assert doc.warnings == ["the FIT file's CRC check failed, but its records decoded and were read"]
    devices = tmp_path / "logs" / "devices"
    devices.mkdir(parents=True)
    (devices / "edge810.fit").write_bytes(bytes(bad_crc))
    (devices / "truncated.fit").write_bytes(good[:-40])
    result = load_materials(tmp_path, load_rag_config(PROJECT_DIR / "RAG_config.yaml"))
    assert [d.source.path for d in result.documents] == ["logs/devices/edge810.fit"]
    assert [s.path for s in result.skipped] == ["logs/devices/truncated.fit"]
