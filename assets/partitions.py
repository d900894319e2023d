"""Daily partitions in Beijing time, starting at the configured first day.

A partition ``YYYY-MM-DD`` holds the lessons *scheduled* on that day (see
:mod:`pipeline.core.calendar`).  With ``end_offset=0`` the newest partition is
yesterday: today's unfinished day is not a partition until it is over.
"""

from __future__ import annotations

from datetime import date

from dagster import DailyPartitionsDefinition

from pipeline.core.calendar import TZ_NAME
from pipeline.core.settings import DEFAULT_START_DATE


def daily_partitions(start: date = DEFAULT_START_DATE) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(start_date=start.isoformat(), timezone=TZ_NAME, end_offset=0, fmt="%Y-%m-%d")
