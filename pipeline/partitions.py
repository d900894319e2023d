"""Daily partitions in Asia/Shanghai time.

A partition ``YYYY-MM-DD`` holds the lessons *scheduled* on that day (API 17's
window ``[D 00:00:00, D+1 00:00:00)``).  With ``end_offset=0`` the newest
partition is yesterday: today's unfinished day is not a partition until it is
over.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import DailyPartitionsDefinition

TZ_NAME = "Asia/Shanghai"
TZ = ZoneInfo(TZ_NAME)
DEFAULT_START_DATE = "2026-01-01"


def start_date() -> str:
    return os.environ.get("LIVECLASS_START_DATE", DEFAULT_START_DATE)


daily_partitions = DailyPartitionsDefinition(
    start_date=start_date(), timezone=TZ_NAME, end_offset=0, fmt="%Y-%m-%d"
)


def day_window(day: date | str) -> tuple[datetime, datetime]:
    """The aware [start, end) window of a partition day."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    start = datetime(day.year, day.month, day.day, tzinfo=TZ)
    return start, start + timedelta(days=1)


def complete_days(now: datetime | None = None, *, last: int = 7) -> list[date]:
    """The ``last`` complete days before ``now`` (Asia/Shanghai), oldest first."""
    now = (now or datetime.now(TZ)).astimezone(TZ)
    today = now.date()
    return [today - timedelta(days=i) for i in range(last, 0, -1)]
