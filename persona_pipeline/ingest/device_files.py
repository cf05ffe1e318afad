"""Device files under logs/: FIT (Garmin's FIT SDK), GPX (gpxpy) and TCX (tcxreader), each activity
read into a dated session summary. A damaged file is a MaterialError like any other bad file."""
from __future__ import annotations

import datetime as dt
import io
import xml.etree.ElementTree as ET

import gpxpy
import gpxpy.gpx
from garmin_fit_sdk import Decoder, Stream
from tcxreader.tcxreader import TCXReader

from .activities import Activity, Lap, activity_document
from .document import Document, MaterialError

# FIT counts seconds from 1989-12-31; the SDK leaves the local clock (`local_timestamp`) as that count
_FIT_EPOCH = dt.datetime(1989, 12, 31)


def parse_fit(data: bytes, path: str) -> Document:
    def decoder() -> Decoder:
        return Decoder(Stream.from_byte_array(bytearray(data)))

    if not decoder().is_fit():
        raise MaterialError("not a FIT file (no FIT header)")
    # devices (an Edge 810 among them) write files whose CRC is wrong while every record is whole: those are
    # read, with a warning; a file whose records do not decode is damaged
    intact = decoder().check_integrity()
    messages, errors = decoder().read(enable_crc_check=intact)
    if errors:
        raise MaterialError(f"damaged FIT file: {errors[0]}" if intact else
                            f"damaged FIT file: size or CRC check failed and the records do not decode ({errors[0]})")
    sessions, laps = messages.get("session_mesgs", []), messages.get("lap_mesgs", [])
    # a watch records UTC and the offset of its own clock, in the activity message
    activity = (messages.get("activity_mesgs") or [{}])[0]
    offset = dt.timedelta(0)
    if isinstance(activity.get("local_timestamp"), int) and activity.get("timestamp"):
        local = _FIT_EPOCH + dt.timedelta(seconds=activity["local_timestamp"])
        offset = local - activity["timestamp"].replace(tzinfo=None)
    document = activity_document(path, "FIT", [_fit_session(s, laps, offset) for s in sessions if s.get("start_time")])
    if not intact:
        document.warnings.append("the FIT file's CRC check failed, but its records decoded and were read")
    return document


def _fit_session(session: dict, laps: list[dict], offset: dt.timedelta) -> Activity:
    start = session["start_time"]
    end = start + dt.timedelta(seconds=session.get("total_elapsed_time") or 0)
    own = [lap for lap in laps if lap.get("start_time") and start <= lap["start_time"] <= end]
    return Activity(
        start=start.replace(tzinfo=None) + offset, sport=str(session.get("sport") or "activity"),
        distance_m=session.get("total_distance"), seconds=session.get("total_timer_time"),
        elapsed_seconds=session.get("total_elapsed_time"), avg_hr=session.get("avg_heart_rate"),
        max_hr=session.get("max_heart_rate"), ascent_m=session.get("total_ascent"), descent_m=session.get("total_descent"),
        laps=[Lap(lap.get("total_distance"), lap.get("total_timer_time"), lap.get("avg_heart_rate")) for lap in own])


def parse_gpx(data: bytes, path: str) -> Document:
    try:
        gpx = gpxpy.parse(io.BytesIO(data))
    except (gpxpy.gpx.GPXException, ValueError) as exc:
        raise MaterialError(f"damaged GPX file: {exc}") from exc
    activities = []
    for track in gpx.tracks:
        bounds = track.get_time_bounds()
        if bounds.start_time is None:
            continue
        moving = track.get_moving_data()
        climb = track.get_uphill_downhill()
        heart = [hr for segment in track.segments for point in segment.points if (hr := _gpx_heart_rate(point)) is not None]
        segments = [s for s in track.segments if s.points]
        activities.append(Activity(
            start=bounds.start_time.replace(tzinfo=None), sport=track.type or "activity", name=track.name,
            distance_m=track.length_3d() or track.length_2d(), seconds=moving.moving_time or None,
            elapsed_seconds=(bounds.end_time - bounds.start_time).total_seconds(),
            avg_hr=sum(heart) / len(heart) if heart else None, max_hr=max(heart) if heart else None,
            ascent_m=climb.uphill, descent_m=climb.downhill,
            laps=[Lap(s.length_3d(), s.get_duration()) for s in segments] if len(segments) > 1 else []))
    if not activities and gpx.tracks:
        raise MaterialError("GPX track has no timestamps: its date is unknown")
    return activity_document(path, "GPX", activities)


def _gpx_heart_rate(point) -> float | None:
    """Garmin's TrackPointExtension carries heart rate as <gpxtpx:hr>."""
    for extension in point.extensions:
        for element in extension.iter():
            if element.tag.rsplit("}", 1)[-1] == "hr" and element.text:
                return float(element.text)
    return None


def parse_tcx(data: bytes, path: str) -> Document:
    try:
        exercise = TCXReader().read(io.BytesIO(data), only_gps=False)
    except ET.ParseError as exc:
        raise MaterialError(f"damaged TCX file: {exc}") from exc
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise MaterialError(f"unreadable TCX activity: {type(exc).__name__}: {exc}") from exc
    if exercise.start_time is None:
        raise MaterialError("TCX file has no timed trackpoints: its date is unknown")
    activity = Activity(
        start=exercise.start_time.replace(tzinfo=None), sport=exercise.activity_type or "activity",
        distance_m=exercise.distance, seconds=exercise.duration, avg_hr=exercise.hr_avg, max_hr=exercise.hr_max,
        ascent_m=exercise.ascent, descent_m=exercise.descent,
        laps=[Lap(lap.distance, lap.duration, lap.hr_avg) for lap in exercise.laps])
    return activity_document(path, "TCX", [activity])
