"""Daily partitions in Beijing time, and the presentation vocabulary every layer shares.

A partition ``YYYY-MM-DD`` holds the lessons *scheduled* on that day (see
:mod:`pipeline.core.calendar`).  With ``end_offset=0`` the newest partition is
yesterday: today's unfinished day is not a partition until it is over.  Where the
partitions start is decided by the assembly (:func:`pipeline.definitions.first_partition`):
the first day the lake holds, so the UI's "filled" counts what was extracted.

Every daily asset has a single-run backfill policy: a range of days (a backfill from
the UI, ``dagster asset materialize --partition-range``) runs as *one* run that walks
the days in order, so the warehouse, which waits for every upstream run to finish,
is rebuilt once after it (docs/dagster.md).
"""

from __future__ import annotations

import warnings
from datetime import date

from dagster import BackfillPolicy, BetaWarning, DailyPartitionsDefinition

from pipeline.core.calendar import TZ_NAME
from pipeline.core.settings import DEFAULT_START_DATE

#: Who answers for every asset (shown in the UI, filterable); a team, as Dagster spells it.
OWNERS = ["team:liveclass-data"]

#: Walk a backfill's days in one run (see the module docstring).  Dagster 1.13 calls a backfill policy on
#: ``@asset`` beta; we rely on it on purpose, so its warning is not repeated for every asset.
DAILY_BACKFILL = BackfillPolicy.single_run()
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`", category=BetaWarning)

#: What each layer is, in the words the UI shows first (asset descriptions start with these).
LAYER_LABELS = {
    "raw": "Raw API pages",
    "lake": "Lake table (typed Parquet)",
    "warehouse": "Warehouse table (DuckDB)",
    "feeds": "Published feeds",
    "report": "Published report",
}


def daily_partitions(start: date = DEFAULT_START_DATE) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(start_date=start.isoformat(), timezone=TZ_NAME, end_offset=0, fmt="%Y-%m-%d")


def layer_tags(layer: str, domain: str, **extra: str) -> dict[str, str]:
    """Tags of an asset: its layer and its domain, and e.g. its cadence (``daily`` or ``snapshot``).

    Select with them in the catalog or on the command line: ``tag:layer=lake``,
    ``tag:cadence=daily`` (every daily raw and lake asset: one day's extraction)."""
    return {"layer": layer, "domain": domain, **extra}


def labelled(layer: str, text: str) -> str:
    """An asset description that says first which layer the asset is (raw and lake share table names)."""
    return f"{LAYER_LABELS[layer]}: {text}"
