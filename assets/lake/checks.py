"""The invariants a lake partition must satisfy before the warehouse may read it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.core.calendar import TZ

from .normalize import Normalized

CheckOutcome = tuple[bool, dict]


def unique_keys(table: pa.Table, keys: tuple[str, ...]) -> CheckOutcome:
    if table.num_rows == 0:
        return True, {"rows": 0, "duplicates": 0}
    groups = table.group_by(list(keys)).aggregate([([], "count_all")])
    dup = groups.filter(pc.greater(groups["count_all"], 1))
    return dup.num_rows == 0, {"rows": table.num_rows, "duplicates": dup.num_rows,
                               "example": dup.slice(0, 3).drop(["count_all"]).to_pylist() if dup.num_rows else []}


def timestamps_plausible(table: pa.Table, day: date, *, slack_days: int = 1) -> CheckOutcome:
    """Every timestamp lies within the partition day, give or take ``slack_days``."""
    lo = datetime(day.year, day.month, day.day, tzinfo=TZ) - timedelta(days=slack_days)
    hi = lo + timedelta(days=1 + 2 * slack_days)
    bad: dict[str, int] = {}
    for f in table.schema:
        if pa.types.is_timestamp(f.type):
            col = table[f.name]
            out = pc.or_(pc.less(col, pa.scalar(lo, f.type)), pc.greater_equal(col, pa.scalar(hi, f.type)))
            n = pc.sum(pc.cast(pc.fill_null(out, False), pa.int64())).as_py() or 0
            if n:
                bad[f.name] = n
    return not bad, {"outside": bad, "bounds": f"[{lo.isoformat()}, {hi.isoformat()})"}


def scheduled_on_day(norm: Normalized, day: date) -> CheckOutcome:
    """Lessons' scheduled start falls inside the partition's own day (API 17's window)."""
    return timestamps_plausible(norm.table.select(["scheduled_start"]), day, slack_days=0)


def lessons_have_details(norm: Normalized) -> CheckOutcome:
    missing = norm.facts.get("missing_details", [])
    return not missing, {"window_lessons": len(norm.facts.get("window_ids", [])), "missing": missing[:20]}


def attendance_matches_count(norm: Normalized) -> CheckOutcome:
    api_count: dict[int, int] = norm.facts["api_count"]
    got: dict[int, int] = {}
    for lid in norm.table["lesson_id"].to_pylist():
        got[lid] = got.get(lid, 0) + 1
    diff = {lid: {"api_count": n, "rows": got.get(lid, 0)} for lid, n in api_count.items() if got.get(lid, 0) != n}
    return not diff, {"lessons": len(api_count), "mismatches": len(diff), "example": dict(list(diff.items())[:5])}


def event_times_match_counts(norm: Normalized) -> CheckOutcome:
    exp, got = norm.facts["expected_counts"], norm.facts["got_counts"]
    diff = [f"{k}: count {exp.get(k, 0)}, times {got.get(k, 0)}" for k in sorted(set(exp) | set(got))
            if exp.get(k, 0) != got.get(k, 0)]
    return not diff, {"triples": len(exp), "mismatches": len(diff), "example": diff[:5]}
