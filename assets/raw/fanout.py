"""What the raw pages of one step tell the next step to ask for.

Lenient on purpose: a value that is not a usable id or count is skipped here, and
the lake's normalizer, which reads the same pages, fails on it with a
:class:`~pipeline.core.coerce.DataDriftError` naming endpoint and field.  So a
payload problem always surfaces in the lake, with every raw page on disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from pipeline.api.catalog import path_of
from pipeline.core.coerce import DataDriftError, to_int, to_time

API17, API19, API25, API27, API30 = (path_of(n) for n in ("17", "19", "25", "27", "30"))

Record = Mapping[str, Any]


def _int(value: Any) -> int | None:
    try:
        return to_int(value, "", "")
    except DataDriftError:
        return None


def _data(rec: Record) -> Any:
    body = rec.get("body")
    return body.get("data") if isinstance(body, Mapping) else None


def lesson_ids(items: Iterable[Any], key: str = "lesson_id") -> list[int]:
    """The usable lesson ids among API items (API 17's ``lesson_id``, API 19's ``zby_lid`` ...)."""
    ids = (_int(item.get(key)) if isinstance(item, Mapping) else None for item in items)
    return sorted({lid for lid in ids if lid is not None})


def window_lesson_ids(records: Iterable[Record], scheduled_day: date | None = None) -> list[int]:
    """Lesson ids of API 17's window, from its raw pages; with ``scheduled_day``, only those API 19
    says were scheduled on that day (the window was asked wider, see extract.lessons)."""
    records = list(records)
    items: list[Any] = []
    for rec in records:
        data = _data(rec) if rec["path"] == API17 else None
        if isinstance(data, list):
            items.extend(data)
    ids = lesson_ids(items)
    if scheduled_day is None:
        return ids
    details = [item for rec in records if rec["path"] == API19 for item in (_data(rec) or [])]
    return sorted(set(ids) & set(scheduled_on(details, scheduled_day)))


def scheduled_on(details: Iterable[Any], day: date) -> list[int]:
    """The lessons among API 19 items whose scheduled start falls on ``day``."""
    out = set()
    for item in details:
        if not isinstance(item, Mapping):
            continue
        lid = _int(item.get("zby_lid"))
        start = str(item.get("start_time") or "")
        if lid is not None and _day_of(start) == day:
            out.add(lid)
    return sorted(out)


def _day_of(text: str) -> date | None:
    try:
        start = to_time(text, API19, "start_time")
    except DataDriftError:
        return None
    return start.date() if start is not None else None


def unheld_lessons(records: Iterable[Record]) -> list[int]:
    """Lessons API 19 says never started (no actual start time)."""
    out: set[int] = set()
    for rec in records:
        data = _data(rec) if rec["path"] == API19 else None
        for item in data if isinstance(data, list) else ():
            lid = _int(item.get("zby_lid")) if isinstance(item, Mapping) else None
            if lid is not None and not item.get("actual_start_time"):
                out.add(lid)
    return sorted(out)


def known_lesson_classes(records: Iterable[Record], accepted: Mapping[int, tuple[Any, Any]]) -> dict[int, Record]:
    """Lesson id -> the API 30 record of an earlier extraction, for the lessons whose class the lake
    accepted (``accepted``: lesson id -> (class id, class name) of the lake's lessons partition).
    An answer the lake never accepted (its day failed) is asked again."""
    out: dict[int, Record] = {}
    for rec in records:
        lid = _int(rec["params"].get("lessonId")) if rec["path"] == API30 else None
        data = _data(rec)
        if lid is None or lid not in accepted or not isinstance(data, Mapping):
            continue
        if (_int(data.get("id")), data.get("name")) == accepted[lid]:
            out[lid] = rec
    return out


def class_ids(records: Iterable[Record]) -> set[int]:
    """Class ids in API 30 answers."""
    out: set[int] = set()
    for rec in records:
        data = _data(rec) if rec["path"] == API30 else None
        cid = _int(data.get("id")) if isinstance(data, Mapping) else None
        if cid is not None:
            out.add(cid)
    return out


def positive_event_triples(records: Iterable[Record]) -> list[tuple[int, int, str]]:
    """(lesson, user, type) with an API 27 count above zero: the only API 28 calls worth making."""
    return sorted(positive_event_counts(records))


def positive_event_counts(records: Iterable[Record]) -> dict[tuple[int, int, str], int]:
    """(lesson, user, type) -> API 27's count, where it is above zero."""
    out: dict[tuple[int, int, str], int] = {}
    for rec in records:
        if rec["path"] != API27:
            continue
        lid, etype, data = _int(rec["params"].get("lid")), rec["params"].get("event_type"), _data(rec)
        if lid is None or not isinstance(data, Mapping):
            continue
        for uid, n in data.items():
            user, count = _int(uid), _int(n)
            if user is not None and count is not None and count > 0:
                out[(lid, user, etype)] = count
    return out


def award_students(records: Iterable[Record]) -> set[tuple[int, int]]:
    """(lesson, user) pairs with stars in API 25's answers."""
    out: set[tuple[int, int]] = set()
    for rec in records:
        data = _data(rec) if rec["path"] == API25 else None
        for item in data if isinstance(data, list) else ():
            pair = (_int(item.get("lesson_id")), _int(item.get("user_id"))) if isinstance(item, Mapping) else (None,)
            if None not in pair:
                out.add(pair)
    return out
