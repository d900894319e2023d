"""The platform's calendar: Asia/Shanghai wall time, and the days the pipeline works in.

The API writes China Standard Time without an offset (openapi.md section 4 (d)).
A day ``YYYY-MM-DD`` holds the lessons *scheduled* on that day (API 17's window
``[D 00:00:00, D+1 00:00:00)``); only complete days (before today in Beijing)
are extracted.  This module is the one home of the time zone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

TZ_NAME = "Asia/Shanghai"
TZ = ZoneInfo(TZ_NAME)


def now() -> datetime:
    return datetime.now(TZ)


def today(at: datetime | None = None) -> date:
    """Today in Beijing (of ``at`` when given)."""
    return (at or now()).astimezone(TZ).date()


def day_window(day: date | str) -> tuple[datetime, datetime]:
    """The aware [start, end) window of a day."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    start = datetime(day.year, day.month, day.day, tzinfo=TZ)
    return start, start + timedelta(days=1)


def complete_days(at: datetime | None = None, *, last: int = 7) -> list[date]:
    """The ``last`` complete days before ``at`` (default now), oldest first."""
    t = today(at)
    return [t - timedelta(days=i) for i in range(last, 0, -1)]


def days_between(start: date, end: date) -> list[date]:
    """Every day from ``start`` to ``end``, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# -- terms --------------------------------------------------------------------------
#: The four terms of a Chinese training school's year, by calendar month of the day:
#: 寒 winter Jan–Feb, 春 spring Mar–Jun, 暑 summer Jul–Aug, 秋 autumn Sep–Dec.  One home
#: for the rule: the warehouse's ``dim_date`` and the sandbox's class names both call
#: :func:`term_of`.
TERM_SEASONS: tuple[tuple[str, str, int, int], ...] = (
    ("winter", "寒", 1, 2),
    ("spring", "春", 3, 6),
    ("summer", "暑", 7, 8),
    ("autumn", "秋", 9, 12),
)


class Term(NamedTuple):
    """A term, e.g. ``Term('2026秋', 'autumn', date(2026, 9, 1), date(2026, 12, 31))``."""

    name: str
    season: str
    start: date
    end: date


def term_of(day: date) -> Term:
    """The term a day falls in (see :data:`TERM_SEASONS`)."""
    for season, label, first, last in TERM_SEASONS:
        if first <= day.month <= last:
            start = date(day.year, first, 1)
            end = (date(day.year + 1, 1, 1) if last == 12 else date(day.year, last + 1, 1)) - timedelta(days=1)
            return Term(f"{day.year}{label}", season, start, end)
    raise AssertionError(day)  # pragma: no cover - the seasons cover every month
