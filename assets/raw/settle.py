"""What a re-extraction of a day may keep from the previous one, and what it must ask again.

The nightly tick re-extracts the look-back days because a lesson's data can still change after it
ends (late attendance, a late award, a status that moves from 1 in class to 2 finished).  It cannot
change for ever: a lesson is **settled** for a group of answers (attendance, awards ...) when that
group was last fetched at least the *settle time* after the lesson became final (API 19 status 2
finished or 3 expired, at its actual end, or its scheduled end when it has none).  A re-extraction
keeps a settled lesson's recorded answers and asks only for the others; a day whose every lesson
is settled for a group, and that had ended the settle time before the group was fetched, costs
that group no call at all.  API 28 (one call per lesson, user and event type, most of a day's
calls) is asked again only where API 27's count differs from the number of times recorded.

Everything kept must have been accepted: a group's previous pages are used only when their
``meta.json`` names them (sha256) and the day's lake partition was normalised and checked from
exactly those pages (the sha256 the lake writes into the partition's Parquet metadata).  Pages of
an extraction whose lake checks failed are asked again in full.

**The settle time** (``LIVECLASS_SETTLE_HOURS``, default 24 h).  The document promises nothing
about when data is final.  With the 03:00 tick and two look-back days every lesson is fetched at
3-27 h after its day ended and again at 27-51 h, so a settle time of 24 h keeps, for every
lesson, one copy fetched at least a day after it became final, and the second look-back day costs
(almost) nothing.  A platform whose late data takes longer needs a longer settle time (and
look-back); ``liveclass run --full`` (the raw assets' run config ``full_refresh: true``) asks
everything again.

Times: ``as_of`` is the platform's clock (the HTTP ``Date`` of the group's earliest answer) so a
skewed local clock cannot make a lesson look settled early; lesson times are the API's Beijing
wall time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipeline.api.catalog import path_of
from pipeline.core.calendar import day_window
from pipeline.core.coerce import DataDriftError, to_int, to_time
from pipeline.core.files import atomic_write_bytes
from pipeline.core.layout import DataDir

#: Parquet key-value metadata of a lake partition: {raw group: sha256 of the pages it was built from}.
LAKE_RAW_KEY = b"liveclass.raw_sha256"

API19, API28 = path_of("19"), path_of("28")
FINAL = (2, 3)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class RawMeta:
    """Which pages a raw file holds (their sha256) and when the platform gave them (its clock)."""

    as_of: datetime
    sha256: str

    def write(self, path: Path) -> None:
        body = {"as_of": self.as_of.isoformat(timespec="seconds"), "sha256": self.sha256}
        atomic_write_bytes(path, json.dumps(body, sort_keys=True).encode())

    @classmethod
    def read(cls, path: Path) -> RawMeta | None:
        try:
            body = json.loads(path.read_text())
            at = datetime.fromisoformat(body["as_of"])
            return cls(at, str(body["sha256"])) if at.tzinfo is not None else None
        except (OSError, ValueError, KeyError, TypeError):
            return None


def lake_sources(paths: Mapping[str, Path]) -> dict[bytes, bytes]:
    """The Parquet metadata a lake partition carries: the sha256 of each raw file it was built from."""
    return {LAKE_RAW_KEY: json.dumps({g: digest(p) for g, p in sorted(paths.items())}, sort_keys=True).encode()}


def accepted(dirs: DataDir, group: str, table: str, day: str) -> RawMeta | None:
    """The meta of ``group``'s raw pages of ``day`` when the lake partition of ``table`` was built from
    exactly those pages; None when anything does not match (no meta, other pages, no partition)."""
    pages, lake = dirs.raw_file(group, day), dirs.lake_file(table, day)
    meta = RawMeta.read(dirs.raw_meta(group, day))
    if meta is None or not pages.is_file() or not lake.is_file():
        return None
    try:
        recorded = json.loads((pq.read_schema(lake).metadata or {}).get(LAKE_RAW_KEY, b"{}"))
    except (OSError, ValueError):
        return None
    if recorded.get(group) != meta.sha256 or digest(pages) != meta.sha256:
        return None
    return meta


def _int(value: Any) -> int | None:
    try:
        return to_int(value, "", "")
    except DataDriftError:
        return None


def _data(rec: Mapping[str, Any]) -> Any:
    body = rec.get("body")
    return body.get("data") if isinstance(body, Mapping) else None


def final_lessons(lesson_records: Iterable[Mapping[str, Any]]) -> dict[int, datetime]:
    """Lesson id -> when it became final, for the lessons API 19 calls final (status 2 or 3): the actual
    end, else the scheduled end.  Lenient: a lesson whose fields do not read is simply not final."""
    out: dict[int, datetime] = {}
    for rec in lesson_records:
        data = _data(rec) if rec.get("path") == API19 else None
        for item in data if isinstance(data, list) else ():
            if not isinstance(item, Mapping):
                continue
            lid, status = _int(item.get("zby_lid")), _int(item.get("status"))
            if lid is None or status not in FINAL:
                continue
            try:
                end = to_time(item.get("actual_end_time") or item.get("end_time"), API19, "end_time")
            except DataDriftError:
                end = None
            if end is not None:
                out[lid] = end
    return out


def record_lesson(rec: Mapping[str, Any]) -> int | None:
    """The lesson a per-lesson answer is about (APIs 23, 27, 28 and 34 take one)."""
    params = rec.get("params") or {}
    return _int(params.get("lessonId", params.get("lid")))


def event_triple(rec: Mapping[str, Any]) -> tuple[int, int, str] | None:
    params = rec.get("params") or {}
    lid, uid = _int(params.get("lid")), _int(params.get("uid", params.get("user_id")))
    etype = params.get("event_type")
    return (lid, uid, etype) if lid is not None and uid is not None and isinstance(etype, str) else None


def times_recorded(rec: Mapping[str, Any]) -> int | None:
    """How many event times an API 28 answer lists."""
    data = _data(rec)
    return len(data) if isinstance(data, list) else None


@dataclass(frozen=True)
class Previous:
    """What a group's previous extraction of a day leaves for this one.

    ``records``: its accepted raw records (empty when there are none, they were not accepted, or the
    run is a full re-extraction); ``settled``: the lessons whose records may be kept;
    ``day_settled``: every answer of the day may be kept (no call at all); ``as_of``: when they were
    fetched (the platform's clock)."""

    records: list[dict] = field(default_factory=list)
    settled: frozenset[int] = frozenset()
    day_settled: bool = False
    as_of: datetime | None = None

    def kept(self, window: Iterable[int]) -> list[dict]:
        """The recorded per-lesson answers of the settled lessons of ``window``."""
        keep = self.settled & set(window)
        return [r for r in self.records if record_lesson(r) in keep]


NOTHING = Previous()


def previous(dirs: DataDir, group: str, table: str, day: str, *, settle: timedelta, full: bool,
             window: Iterable[int], lesson_records: Iterable[Mapping[str, Any]]) -> Previous:
    """What ``group``'s day may keep, judged from its accepted pages and the lessons final in
    ``lesson_records`` (API 19 answers: this run's, or the previous ones for the lessons group itself)."""
    if full:
        return NOTHING
    meta = accepted(dirs, group, table, day)
    if meta is None:
        return NOTHING
    from .store import read_raw

    final = final_lessons(lesson_records)
    settled = frozenset(lid for lid, end in final.items() if meta.as_of - end >= settle)
    window = set(window)
    _, day_end = day_window(date.fromisoformat(day))
    day_settled = window <= settled and meta.as_of - day_end >= settle
    return Previous(read_raw(dirs.raw_file(group, day)), settled, day_settled, meta.as_of)
