"""Raw API answers -> typed lake tables.  Every quirk of the document is absorbed here.

* ids arrive as ints or as strings (APIs 16, 17, 18, 24) -> int64;
* API 19 names the lesson id ``zby_lid``; API 27 keys counts by user-id strings;
* API 23 nests rows in ``data.data``; API 34 answers with ``code``;
* times are China Standard Time without offset (``YYYY-MM-DD HH:MM:SS``, sometimes
  unpadded or without seconds) -> ``timestamp[us, tz=Asia/Shanghai]``;
* durations are minutes.

Harmless drift (unknown extra fields, a number sent as a decimal string, a
missing optional field) is absorbed.  Drift that would change numbers (a
non-integral count, an unparseable time, a missing required field) raises
:class:`DataDriftError` naming the endpoint, the field and an example value:
nothing is silently dropped or guessed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa

from pipeline.api.catalog import path_of
from pipeline.core import schemas
from pipeline.core.coerce import DataDriftError, req_int, require, to_int, to_str, to_time
from pipeline.core.profile import PlatformProfile

DEFAULT = PlatformProfile()

API16 = path_of("16")
API17 = path_of("17")
API18 = path_of("18")
API19 = path_of("19")
API23 = path_of("23")
API25 = path_of("25")
API26 = path_of("26")
API27 = path_of("27")
API28 = path_of("28")
API30 = path_of("30")
API34 = path_of("34")


@dataclass
class Normalized:
    """A lake table plus the facts its asset checks compare against."""

    table: pa.Table
    facts: dict[str, Any] = field(default_factory=dict)


#: API 23 and API 34 report attendance with the same fields: lake column -> API field.
_ATTENDANCE_FIELDS = (("listen_minutes", "listen_time"), ("inout_times", "inout_times"),
                      ("late_minutes", "u_late"), ("leave_minutes", "u_leave"))


_API_FIELDS = dict(_ATTENDANCE_FIELDS)
_PROGRESS_FIELDS = {"finished": "finish", "not_started": "lessonNotStart", "on_class": "lessonOnClass",
                    "expired": "lessonExpired", "total": "total"}


def _attendance_fields(item: Mapping[str, Any], endpoint: str, profile: PlatformProfile) -> dict[str, int]:
    """The four attendance numbers of APIs 23 and 34, in minutes whatever unit the platform uses
    (reading ``listen_time``: seconds are floored to whole minutes, as the platform does)."""
    values = {column: req_int(item, key, endpoint) for column, key in _ATTENDANCE_FIELDS}
    if profile.get("listen_time") == "seconds":
        for column in _SECONDS_FIELDS:
            values[column] //= 60
    return values


#: The fields that are durations (reported in the reading listen_time's unit); inout_times is a count.
_SECONDS_FIELDS = ("listen_minutes", "late_minutes", "leave_minutes")


def _data_object(rec: Mapping[str, Any], endpoint: str, expected: str = "an object") -> Mapping[str, Any]:
    data = rec["body"].get("data")
    if not isinstance(data, Mapping):
        raise DataDriftError(endpoint, "data", data, expected)
    return data


def _data_list(rec: Mapping[str, Any], endpoint: str) -> list:
    """The answer's ``data`` list: ``[]`` (or PHP's empty ``{}``) is an honest empty answer; a missing
    or null ``data`` on success is not (the client retries those; a recorded one is drift)."""
    data = rec["body"].get("data", "<missing>")
    if data == {}:
        return []
    if not isinstance(data, list):
        raise DataDriftError(endpoint, "data", data, "a list")
    return data


def _scheduled_day(item: Mapping[str, Any]) -> date | None:
    start = to_time(item.get("start_time"), API19, "start_time")
    return start.date() if start is not None else None


def _requested_ids(rec: Mapping[str, Any], endpoint: str, name: str) -> set[int]:
    """The ids a request asked for: a native array, or the same as a JSON string (reading ``arrays``)."""
    value = rec["params"].get(name)
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            raise DataDriftError(endpoint, name, value, "an array of ids") from None
    values = value if isinstance(value, list) else [value]
    return {to_int(v, endpoint, name) for v in values}


def _foreign(endpoint: str, rec: Mapping[str, Any], name: str, got: int, requested: set[int]) -> dict | None:
    """Evidence that an answer holds an id its request did not ask for (an answer of another request)."""
    if got in requested:
        return None
    return {"endpoint": endpoint, "field": name, "got": got, "requested": sorted(requested)[:10]}


def _by_path(records: Iterable[Mapping[str, Any]], path: str) -> list[Mapping[str, Any]]:
    return [r for r in records if r["path"] == path]


def _table(rows: list[dict[str, Any]], schema: pa.Schema, keys: tuple[str, ...], endpoint: str,
           fields: Mapping[str, str] | None = None) -> pa.Table:
    """The rows as a table of ``schema``; a value that does not fit its column is reported with the
    endpoint, the API field (``fields``: column -> API field) and the value, never a bare Arrow error."""
    arrays = []
    for f in schema:
        values = [r[f.name] for r in rows]
        try:
            arrays.append(pa.array(values, type=f.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            bad = next((v for v in values if not _fits(v, f.type)), values[0] if values else None)
            field_name = (fields or {}).get(f.name, f.name)
            raise DataDriftError(endpoint, field_name, bad, f"a value that fits {f.type}") from exc
    table = pa.table(arrays, schema=schema)
    return table.sort_by([(k, "ascending") for k in keys]) if table.num_rows else table


def _fits(value: Any, type_: pa.DataType) -> bool:
    try:
        pa.array([value], type=type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return False
    return True


# --------------------------------------------------------------------------- lessons


def api17_lessons(records: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """Lesson id -> API 17 item (the day's window)."""
    out: dict[int, Mapping[str, Any]] = {}
    for rec in _by_path(records, API17):
        for item in _data_list(rec, API17):
            out[req_int(item, "lesson_id", API17)] = item
    return out


def lessons(day: date, records: list[Mapping[str, Any]], profile: PlatformProfile = DEFAULT) -> Normalized:
    window = api17_lessons(records)
    details: dict[int, Mapping[str, Any]] = {}
    foreign: list[dict] = []
    for rec in _by_path(records, API19):
        asked = _requested_ids(rec, API19, "lessonId")
        for item in _data_list(rec, API19):
            lid = req_int(item, "zby_lid", API19)
            details[lid] = item
            foreign.append(_foreign(API19, rec, "zby_lid", lid, asked))
    replay: dict[int, Mapping[str, Any]] = {}
    for rec in _by_path(records, API18):
        asked = _requested_ids(rec, API18, "lesson_id")
        for item in _data_list(rec, API18):
            lid = req_int(item, "lesson_id", API18)
            replay[lid] = item
            foreign.append(_foreign(API18, rec, "lesson_id", lid, asked))
    classes: dict[int, Mapping[str, Any]] = {}
    for rec in _by_path(records, API30):
        lid = to_int(rec["params"].get("lessonId"), API30, "lessonId")
        data = _data_object(rec, API30, "an object {id, name}")
        classes[lid] = data
    if profile.get("class_window") == "actual_start":  # the window was asked wider: the day's scheduled lessons
        window = {lid: item for lid, item in window.items()
                  if lid not in details or _scheduled_day(details[lid]) == day}
    rows = []
    for lid in sorted(window):
        d = details.get(lid)
        if d is None:
            continue  # reported by the check "every lesson in the window has details"
        c = classes.get(lid, {})
        video = replay.get(lid, {}).get("video")
        rows.append({
            "lesson_date": day,
            "lesson_id": lid,
            "class_id": to_int(c.get("id"), API30, "id", nullable=True),
            "class_name": to_str(c.get("name"), API30, "name"),
            "teacher_name": to_str(d.get("teacher_name"), API19, "teacher_name"),
            "status": req_int(d, "status", API19),
            "scheduled_start": to_time(require(d, "start_time", API19), API19, "start_time", nullable=False),
            "scheduled_end": to_time(require(d, "end_time", API19), API19, "end_time", nullable=False),
            "actual_start": to_time(d.get("actual_start_time"), API19, "actual_start_time"),
            "actual_end": to_time(d.get("actual_end_time"), API19, "actual_end_time"),
            "replay_url": to_str(video, API18, "video") or None,
        })
    for r in rows:
        if r["status"] not in (0, 1, 2, 3):
            raise DataDriftError(API19, "status", r["status"], "a lesson status 0-3")
    return Normalized(
        _table(rows, schemas.LESSONS, ("lesson_id",), API19),
        {"window_ids": sorted(window), "missing_details": sorted(set(window) - set(details)),
         "missing_class": sorted(set(window) - set(classes)), "foreign": [f for f in foreign if f]},
    )


# --------------------------------------------------------------------------- attendance


def attendance(day: date, records: list[Mapping[str, Any]], profile: PlatformProfile = DEFAULT,
               teachers: Mapping[int, int] | None = None) -> Normalized:
    """API 23's rows, students only: where the platform lists the teacher too (reading
    ``attendance_rows=students_and_teacher``), the row of the lesson's teacher (``teachers``: lesson
    id -> API 34's teacher id) is left out and the reported count is taken as one more than the students."""
    with_teacher = profile.get("attendance_rows") == "students_and_teacher"
    rows, counts, teacher_rows = [], {}, Counter()
    for rec in _by_path(records, API23):
        lid = to_int(rec["params"].get("lessonId"), API23, "lessonId")
        data = _data_object(rec, API23, "an object with page, sumpage, count, data")
        counts[lid] = req_int(data, "count", API23)
        for item in data.get("data") or []:
            uid = req_int(item, "user_id", API23)
            if with_teacher and teachers is not None and teachers.get(lid) == uid:
                teacher_rows[lid] += 1
                continue
            rows.append({"lesson_date": day, "lesson_id": lid, "user_id": uid,
                         **_attendance_fields(item, API23, profile)})
    if with_teacher:
        counts = {lid: n - teacher_rows[lid] for lid, n in counts.items()}
    return Normalized(_table(rows, schemas.ATTENDANCE, ("lesson_id", "user_id"), API23, _API_FIELDS),
                      {"api_count": counts})


def teachers_of(records: Iterable[Mapping[str, Any]]) -> dict[int, int]:
    """Lesson id -> the teacher id API 34 answered (for leaving the teacher's own API 23 row out)."""
    out = {}
    for rec in _by_path(records, API34):
        data = rec["body"].get("data")
        if isinstance(data, Mapping):
            lid, tid = to_int(rec["params"].get("lessonId"), API34, "lessonId"), data.get("teacher_id")
            if tid is not None:
                out[lid] = to_int(tid, API34, "teacher_id")
    return out


def teacher_inout(day: date, records: list[Mapping[str, Any]], profile: PlatformProfile = DEFAULT) -> Normalized:
    rows = []
    for rec in _by_path(records, API34):
        lid = to_int(rec["params"].get("lessonId"), API34, "lessonId")
        d = _data_object(rec, API34)
        rows.append({
            "lesson_date": day,
            "lesson_id": lid,
            "teacher_id": req_int(d, "teacher_id", API34),
            "actual_start": to_time(d.get("actual_start_time"), API34, "actual_start_time"),
            "actual_end": to_time(d.get("actual_end_time"), API34, "actual_end_time"),
            **_attendance_fields(d, API34, profile),
        })
    return Normalized(_table(rows, schemas.TEACHER_INOUT, ("lesson_id",), API34, _API_FIELDS))


def awards(day: date, records: list[Mapping[str, Any]]) -> Normalized:
    rows, foreign = [], []
    for rec in _by_path(records, API25):
        asked = _requested_ids(rec, API25, "lessonIds")
        for item in _data_list(rec, API25):
            lid = req_int(item, "lesson_id", API25)
            foreign.append(_foreign(API25, rec, "lesson_id", lid, asked))
            rows.append({
                "lesson_date": day,
                "lesson_id": lid,
                "user_id": req_int(item, "user_id", API25),
                "award_num": req_int(item, "award_num", API25),
            })
    return Normalized(_table(rows, schemas.AWARDS, ("lesson_id", "user_id"), API25),
                      {"foreign": [f for f in foreign if f]})


def key_event_counts(day: date, records: list[Mapping[str, Any]]) -> Normalized:
    rows = []
    for rec in _by_path(records, API27):
        lid = to_int(rec["params"].get("lid"), API27, "lid")
        etype = rec["params"].get("event_type")
        data = rec["body"].get("data", "<missing>")
        if data == []:
            continue  # PHP's json_encode of an empty array: no events of this type
        if not isinstance(data, Mapping):
            raise DataDriftError(API27, "data", data, "an object {user_id: count}")
        for uid, n in data.items():
            count = to_int(n, API27, f"data[{uid}]")
            if count != 0:  # a negative count is kept for the plausibility check to report
                rows.append({"lesson_date": day, "lesson_id": lid, "user_id": to_int(uid, API27, "data key"),
                             "event_type": etype, "event_count": count})
    return Normalized(_table(rows, schemas.KEY_EVENT_COUNTS, ("lesson_id", "user_id", "event_type"), API27))


def key_events(day: date, records: list[Mapping[str, Any]], count_records: list[Mapping[str, Any]]) -> Normalized:
    rows = []
    for rec in _by_path(records, API28):
        p = rec["params"]
        lid, uid, etype = to_int(p.get("lid"), API28, "lid"), to_int(p.get("uid"), API28, "uid"), p.get("event_type")
        for item in _data_list(rec, API28):
            rows.append({"lesson_date": day, "lesson_id": lid, "user_id": uid, "event_type": etype,
                         "event_time": to_time(require(item, "event_time", API28), API28, "event_time",
                                               nullable=False)})
    expected = {(r["lesson_id"], r["user_id"], r["event_type"]): r["event_count"]
                for r in key_event_counts(day, count_records).table.to_pylist()}
    got = Counter((r["lesson_id"], r["user_id"], r["event_type"]) for r in rows)
    return Normalized(_table(rows, schemas.KEY_EVENTS, ("lesson_id", "user_id", "event_type", "event_time"), API28),
                      {"expected_counts": expected, "got_counts": dict(got)})


def help_requests(day: date, records: list[Mapping[str, Any]]) -> Normalized:
    rows, windows = [], []
    for rec in _by_path(records, API16):
        windows.append([to_time(rec["params"].get(k), API16, k, nullable=False) for k in ("start_time", "end_time")])
        for item in _data_list(rec, API16):
            rows.append({
                "lesson_date": day,
                "lesson_id": req_int(item, "lesson_id", API16),
                "user_id": req_int(item, "user_id", API16),
                "help_type": to_str(item.get("help_type"), API16, "help_type"),
                "help_item_name": to_str(item.get("help_item_name"), API16, "help_item_name"),
                "help_content": to_str(item.get("help_content"), API16, "help_content"),
                "help_time": to_time(require(item, "help_time", API16), API16, "help_time", nullable=False),
            })
    return Normalized(_table(rows, schemas.HELP_REQUESTS, ("lesson_id", "user_id", "help_time", "help_type"), API16),
                      {"windows": windows})


def course_progress(records: list[Mapping[str, Any]]) -> Normalized:
    rows = []
    for rec in _by_path(records, API26):
        cid = to_int(rec["params"].get("classroomId"), API26, "classroomId")
        d = _data_object(rec, API26)
        rows.append({
            "class_id": cid,
            "finished": req_int(d, "finish", API26),
            "not_started": req_int(d, "lessonNotStart", API26),
            "on_class": req_int(d, "lessonOnClass", API26),
            "expired": req_int(d, "lessonExpired", API26),
            "total": req_int(d, "total", API26),
        })
    return Normalized(_table(rows, schemas.COURSE_PROGRESS, ("class_id",), API26, _PROGRESS_FIELDS))
