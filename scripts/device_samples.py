"""Writes real-format device files (FIT, GPX, TCX) for the sample corpus and the tests.

FIT is encoded with the Garmin FIT SDK's own Encoder (header, definition and data messages, CRC);
GPX and TCX are written as the XML a watch exports. Run it to regenerate the shipped samples:

    .venv/bin/python scripts/device_samples.py [raw_materials/logs/devices]
"""
from __future__ import annotations

import datetime as dt
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from garmin_fit_sdk import Encoder, Profile

UTC = dt.timezone.utc
_KM_PER_DEGREE_LATITUDE = 111.2


@dataclass(frozen=True)
class Segment:
    metres: float
    seconds: float
    heart_rate: int


def interval_session() -> list[Segment]:
    """Warm-up, 5 x 1 km with 400 m jog recoveries, cool-down."""
    reps = [Segment(1000, s, hr) for s, hr in ((206, 171), (205, 173), (204, 174), (205, 175), (203, 177))]
    jog = Segment(400, 120, 148)
    middle = [seg for rep in reps for seg in (rep, jog)][:-1]
    return [Segment(3000, 930, 138), *middle, Segment(2000, 660, 141)]


def fit_bytes(start_utc: dt.datetime, segments: list[Segment], utc_offset_hours: int = 3, sport: str = "running") -> bytes:
    """An activity FIT file: file_id, one record per lap end, a lap per segment, the session, the activity."""
    number = Profile["mesg_num"]
    encoder = Encoder()
    encoder.write_mesg({"mesg_num": number["FILE_ID"], "type": "activity", "manufacturer": "development",
                        "product": 1, "serial_number": 10_010, "time_created": start_utc})
    clock_at, distance, laps = start_utc, 0.0, []
    for segment in segments:
        lap_start = clock_at
        clock_at += dt.timedelta(seconds=segment.seconds)
        distance += segment.metres
        encoder.write_mesg({"mesg_num": number["RECORD"], "timestamp": clock_at, "distance": distance,
                            "heart_rate": segment.heart_rate, "altitude": 40.0})
        laps.append({"mesg_num": number["LAP"], "timestamp": clock_at, "start_time": lap_start,
                     "total_elapsed_time": float(segment.seconds), "total_timer_time": float(segment.seconds),
                     "total_distance": float(segment.metres), "avg_heart_rate": segment.heart_rate,
                     "event": "lap", "event_type": "stop"})
    for lap in laps:
        encoder.write_mesg(lap)
    total = (clock_at - start_utc).total_seconds()
    beats = sum(s.heart_rate * s.seconds for s in segments) / total
    encoder.write_mesg({"mesg_num": number["SESSION"], "timestamp": clock_at, "start_time": start_utc, "sport": sport,
                        "total_elapsed_time": total, "total_timer_time": total, "total_distance": distance,
                        "avg_heart_rate": round(beats), "max_heart_rate": max(s.heart_rate for s in segments),
                        "total_ascent": 12, "total_descent": 12, "num_laps": len(laps), "first_lap_index": 0,
                        "event": "session", "event_type": "stop"})
    encoder.write_mesg({"mesg_num": number["ACTIVITY"], "timestamp": clock_at, "total_timer_time": total,
                        "num_sessions": 1, "type": "manual", "event": "activity", "event_type": "stop",
                        "local_timestamp": clock_at.replace(tzinfo=None) + dt.timedelta(hours=utc_offset_hours)})
    return encoder.close()


def gpx_text(start_utc: dt.datetime, name: str, kilometres: float, pace_s_per_km: float, climb_m: float) -> str:
    """A GPX 1.1 track with elevation and Garmin heart-rate extensions, one point a minute."""
    minutes = int(kilometres * pace_s_per_km / 60)
    points = []
    for minute in range(minutes + 1):
        share = minute / minutes
        lat, lon = 53.40 + kilometres / _KM_PER_DEGREE_LATITUDE * share, 49.70
        elevation = 60 + climb_m / 4 * (1 - math.cos(share * 8 * math.pi)) / 2
        stamp = (start_utc + dt.timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
        points.append(f'<trkpt lat="{lat:.6f}" lon="{lon:.6f}"><ele>{elevation:.1f}</ele><time>{stamp}</time>'
                      f'<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>{140 + minute % 12}</gpxtpx:hr>'
                      f'</gpxtpx:TrackPointExtension></extensions></trkpt>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<gpx version="1.1" creator="persona_pipeline samples" xmlns="http://www.topografix.com/GPX/1/1" '
            'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">\n'
            f'<trk><name>{name}</name><type>running</type><trkseg>\n' + "\n".join(points) + "\n</trkseg></trk></gpx>\n")


def tcx_text(start_utc: dt.datetime, segments: list[Segment], sport: str = "Running") -> str:
    """A TCX activity with one lap per segment and a trackpoint every 30 s."""
    laps, clock_at, distance = [], start_utc, 0.0
    for segment in segments:
        points, steps = [], max(2, int(segment.seconds // 30))
        for step in range(steps + 1):
            share = step / steps
            stamp = (clock_at + dt.timedelta(seconds=segment.seconds * share)).strftime("%Y-%m-%dT%H:%M:%SZ")
            points.append(f"<Trackpoint><Time>{stamp}</Time><AltitudeMeters>{50 + 5 * share:.1f}</AltitudeMeters>"
                          f"<DistanceMeters>{distance + segment.metres * share:.1f}</DistanceMeters>"
                          f"<HeartRateBpm><Value>{segment.heart_rate}</Value></HeartRateBpm></Trackpoint>")
        laps.append(f'<Lap StartTime="{clock_at.strftime("%Y-%m-%dT%H:%M:%SZ")}">'
                    f"<TotalTimeSeconds>{segment.seconds:.0f}</TotalTimeSeconds><DistanceMeters>{segment.metres:.1f}</DistanceMeters>"
                    f"<Calories>0</Calories><Intensity>Active</Intensity><TriggerMethod>Manual</TriggerMethod>"
                    f"<Track>{''.join(points)}</Track></Lap>")
        clock_at += dt.timedelta(seconds=segment.seconds)
        distance += segment.metres
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
            f'<Activities><Activity Sport="{sport}"><Id>{start_utc.strftime("%Y-%m-%dT%H:%M:%SZ")}</Id>'
            + "".join(laps) + "</Activity></Activities></TrainingCenterDatabase>\n")


def write_samples(folder: Path) -> list[Path]:
    """The shipped samples: Petrova's intervals (FIT), Orlov's trail long run (GPX), Kuznetsov's tempo (TCX)."""
    folder.mkdir(parents=True, exist_ok=True)
    tempo = [Segment(2000, 690, 140), Segment(6000, 1380, 169), Segment(2000, 700, 142)]
    files = {
        "petrova_2026-03-12_intervals.fit": fit_bytes(dt.datetime(2026, 3, 12, 4, 5, tzinfo=UTC), interval_session()),
        "orlov_2026-03-14_zhiguli_trail.gpx": gpx_text(dt.datetime(2026, 3, 14, 5, 30, tzinfo=UTC),
                                                       "Zhiguli trail long run", 18.0, 330, 420).encode(),
        "kuznetsov_2026-03-13_tempo.tcx": tcx_text(dt.datetime(2026, 3, 13, 14, 0, tzinfo=UTC), tempo).encode(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "raw_materials/logs/devices"
    for written in write_samples(target):
        print(written)
