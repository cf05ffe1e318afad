"""A recorded activity (from a watch or an app's device file) as a dated session summary: sport,
distance, duration, average pace and heart rate, elevation, and its laps or intervals."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .document import Document, MaterialError
from .sessions import LogRow, session_blocks
from .text import stem_title
from .units import clock, format_measure

# sports whose speed is read as a pace (time per km) rather than km/h
_ON_FOOT = ("run", "walk", "hik", "trail", "treadmill", "бег", "ходьб")


@dataclass
class Lap:
    distance_m: float | None = None
    seconds: float | None = None
    avg_hr: float | None = None


@dataclass
class Activity:
    start: dt.datetime            # on the athlete's clock where the file says it, else as recorded
    sport: str
    distance_m: float | None = None
    seconds: float | None = None  # moving (timer) time
    elapsed_seconds: float | None = None
    avg_hr: float | None = None
    max_hr: float | None = None
    ascent_m: float | None = None
    descent_m: float | None = None
    name: str | None = None
    laps: list[Lap] = field(default_factory=list)


def activity_document(path: str, file_format: str, activities: list[Activity]) -> Document:
    if not activities:
        raise MaterialError(f"no activity in the {file_format} file")
    rows = [_row(a) for a in activities]
    return Document(path=path, title=stem_title(path), blocks=session_blocks(rows, f"Recorded activity ({file_format})"))


def _row(activity: Activity) -> LogRow:
    fields = [("Sport", activity.sport)]
    if activity.name:
        fields.append(("Name", activity.name))
    fields.append(("Start", activity.start.strftime("%H:%M")))
    measures = {}
    if activity.distance_m:
        measures["distance"] = activity.distance_m / 1000
        fields.append(("Distance", format_measure("distance", measures["distance"])))
    if activity.seconds:
        measures["duration"] = activity.seconds
        fields.append(("Duration", clock(activity.seconds)))
    if activity.elapsed_seconds and activity.seconds and activity.elapsed_seconds - activity.seconds >= 60:
        fields.append(("Elapsed time", clock(activity.elapsed_seconds)))
    if activity.distance_m and activity.seconds:
        fields.append(_speed(activity.sport, activity.distance_m, activity.seconds, "Average"))
    for name, value, unit in (("Average HR", activity.avg_hr, "bpm"), ("Max HR", activity.max_hr, "bpm"),
                              ("Elevation gain", activity.ascent_m, "m"), ("Elevation loss", activity.descent_m, "m")):
        if value is not None:
            fields.append((name, f"{round(value):d} {unit}"))
    if len(activity.laps) > 1:
        fields.append(("Laps", " | ".join(_lap(n, lap, activity.sport) for n, lap in enumerate(activity.laps, start=1))))
    return LogRow(date=activity.start.date(), stamp=None, athlete=None, label=activity.name or activity.sport,
                  fields=fields, measures=measures)


def _speed(sport: str, metres: float, seconds: float, prefix: str) -> tuple[str, str]:
    if any(word in sport.lower() for word in _ON_FOOT):
        return f"{prefix} pace", format_measure("pace", seconds / (metres / 1000))
    return f"{prefix} speed", f"{metres / seconds * 3.6:.1f} km/h"


def _lap(number: int, lap: Lap, sport: str) -> str:
    parts = []
    if lap.distance_m:
        parts.append(format_measure("distance", lap.distance_m / 1000))
    if lap.seconds:
        parts.append(f"in {clock(lap.seconds)}")
    if lap.distance_m and lap.seconds:
        parts.append(f"({_speed(sport, lap.distance_m, lap.seconds, '')[1]})")
    if lap.avg_hr is not None:
        parts.append(f"HR {round(lap.avg_hr):d}")
    return f"{number}: {' '.join(parts)}"
