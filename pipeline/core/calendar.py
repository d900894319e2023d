"""The platform's calendar: Asia/Shanghai wall time, and the days the pipeline works in.

The API writes China Standard Time without an offset (openapi.md section 4 (d)).
A day ``YYYY-MM-DD`` holds the lessons *scheduled* on that day (API 17's window
``[D 00:00:00, D+1 00:00:00)``); only complete days (before today in Beijing)
are extracted.  This module is the one home of the time zone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
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
