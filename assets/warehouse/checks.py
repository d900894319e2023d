"""What the warehouse asset checks, as plain functions (no Dagster): the lake before a build, the
built file before it is published.

* :func:`lake_completeness`: every daily lake table has a partition for every day the lake holds
  (a day whose extraction failed part-way, e.g. without ``key_events``, must not be built into
  the warehouse), and each day's row count lies within a band of its neighbouring days'.
* :func:`reconcile_attended`: the school-day mart adds up to the lesson mart.
* :func:`table_schemas`: each table's columns, types and COMMENTs, read from the built file.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from pipeline.core import schemas
from pipeline.core.layout import DataDir

#: A day's rows may be this many times fewer or more than the median of its neighbouring days.
ROW_BAND = 5.0
#: Neighbouring days compared on each side.
NEIGHBOURS = 3
#: Below this median the neighbours are too few rows to judge by (help requests on a quiet week).
MIN_MEDIAN_ROWS = 20


@dataclass
class Completeness:
    """The lake's daily tables over the days it holds."""

    tables: tuple[str, ...]
    days: list[str]                                   # every day at least one daily table holds
    rows: dict[str, dict[str, int]]                   # table -> day -> rows
    missing: dict[str, list[str]] = field(default_factory=dict)   # day -> tables without that day
    outliers: dict[str, dict[str, dict]] = field(default_factory=dict)  # table -> day -> rows, median
    gaps: list[str] = field(default_factory=list)    # days between the first and last with no table at all
    days_off: list[str] = field(default_factory=list)  # days the lake holds with no lessons at all

    @property
    def complete(self) -> bool:
        return not self.missing

    def why(self) -> str:
        if self.complete:
            return f"every daily lake table has all {len(self.days)} day(s)"
        days = sorted(self.missing)
        shown = "; ".join(f"{d} lacks {', '.join(self.missing[d])}" for d in days[:5])
        more = f" (and {len(days) - 5} more days)" if len(days) > 5 else ""
        return (f"the lake is incomplete: {shown}{more}. Extract "
                f"{'that day' if len(days) == 1 else 'those days'} again (liveclass run --start {days[0]} "
                f"--end {days[-1]}, or materialize the day's raw and lake assets)")

    def metadata(self) -> dict:
        return {"days": len(self.days), "first_day": self.days[0] if self.days else "",
                "last_day": self.days[-1] if self.days else "", "missing": self.missing, "gaps": self.gaps}

    def band_metadata(self) -> dict:
        return {"band": f"x{ROW_BAND:g} of the median of {NEIGHBOURS} days each side (median >= {MIN_MEDIAN_ROWS}; "
                        "days without lessons left out)",
                "outliers": self.outliers, "days_off": self.days_off}


def _day_of(path: Path) -> str:
    return path.parent.name.removeprefix("date=")


def lake_completeness(dirs: DataDir, tables: Iterable[str] | None = None) -> Completeness:
    """The daily tables' partitions (from the files and their Parquet footers, no data read)."""
    names = tuple(tables if tables is not None else schemas.DAILY_TABLES)
    rows = {t: {_day_of(p): pq.ParquetFile(p).metadata.num_rows for p in dirs.lake_files(t)} for t in names}
    days = sorted(set().union(*(r.keys() for r in rows.values()))) if rows else []
    missing = {d: [t for t in names if d not in rows[t]] for d in days}
    out = Completeness(names, days, rows, missing={d: m for d, m in missing.items() if m})
    if days:
        from datetime import date, timedelta

        first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
        held = set(days)
        out.gaps = [d.isoformat() for d in (first + timedelta(n) for n in range((last - first).days + 1))
                    if d.isoformat() not in held]
    # a day without lessons is a day off (a holiday), not an outlier, and no neighbour to judge by
    out.days_off = [d for d in days if rows.get("lessons", {}).get(d) == 0]
    off = set(out.days_off)
    for t in names:
        series = [(d, rows[t][d]) for d in days if d in rows[t] and d not in off]
        for i, (d, n) in enumerate(series):
            around = [m for _, m in series[max(0, i - NEIGHBOURS):i] + series[i + 1:i + 1 + NEIGHBOURS]]
            if not around:
                continue
            median = statistics.median(around)
            if median >= MIN_MEDIAN_ROWS and not (median / ROW_BAND <= n <= median * ROW_BAND):
                out.outliers.setdefault(t, {})[d] = {"rows": n, "neighbours_median": median}
    return out


def reconcile_attended(con: duckdb.DuckDBPyConnection, overview: str, lessons: str,
                       column: str = "attended", *, overview_column: str | None = None,
                       lessons_where: str = "true") -> tuple[bool | None, dict]:
    """Whether ``sum(overview.overview_column)`` equals ``sum(lessons.column)`` over the lessons rows
    matching ``lessons_where``: True, False, or None when a table or column is missing (nothing to
    compare).  ``overview_column`` defaults to ``column``."""
    ocol = overview_column or column
    cols = {(t, c) for t, c in con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main'").fetchall()}
    absent = [f"{t}.{c}" for t, c in ((overview, ocol), (lessons, column)) if (t, c) not in cols]
    if absent:
        return None, {"not_compared": f"no column {', '.join(absent)}"}
    a, b = con.execute(f'SELECT (SELECT coalesce(sum("{ocol}"), 0) FROM "{overview}"), '
                       f'(SELECT coalesce(sum("{column}"), 0) FROM "{lessons}" WHERE {lessons_where})').fetchone()
    return int(a) == int(b), {f"{overview}.{ocol}": int(a), f"{lessons}.{column}": int(b),
                              "difference": int(a) - int(b)}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    comment: str


def table_schemas(con: duckdb.DuckDBPyConnection) -> dict[str, list[Column]]:
    """Every table's columns in order, with type, nullability and COMMENT (``duckdb_columns()``)."""
    out: dict[str, list[Column]] = {}
    for table, name, dtype, nullable, comment in con.execute(
            "SELECT table_name, column_name, data_type, is_nullable, comment FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal "
            "ORDER BY table_name, column_index").fetchall():
        out.setdefault(table, []).append(Column(name, dtype, bool(nullable), comment or ""))
    return out
