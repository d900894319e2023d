"""The invariants a lake partition must satisfy before the warehouse may read it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.api.catalog import path_of
from pipeline.core.calendar import TZ

from .normalize import Normalized

CheckOutcome = tuple[bool, dict]

API16, API23, API25, API26, API27, API28, API30, API34 = (
    path_of(n) for n in ("16", "23", "25", "26", "27", "28", "30", "34"))


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
    diff = [f"{API28} (lesson, user, type) {k}: API 27 count {exp.get(k, 0)}, "
            f"API 28 times {got.get(k, 0)}" for k in sorted(set(exp) | set(got)) if exp.get(k, 0) != got.get(k, 0)]
    return not diff, {"triples": len(exp), "mismatches": len(diff), "example": diff[:5]}


# -- answers checked against their requests, plausibility, cross-checks between endpoints -----------

#: Minutes a session may exceed the lesson's actual duration: students may enter up to 5 minutes
#: before the start and the platform rounds; more than this is not one lesson's attendance.
LISTEN_SLACK_MINUTES = 15
#: Stars one student can plausibly earn in one lesson (the sandbox's busiest lessons give ~40).
MAX_STARS_PER_LESSON = 500
#: Minutes around the scheduled times inside which a lesson's key events must lie.
EVENT_SLACK_MINUTES = 60

Lessons = dict[int, dict]


def lessons_by_id(table: pa.Table | None) -> Lessons:
    """Lesson id -> its lake row (scheduled and actual times, status, class)."""
    return {r["lesson_id"]: r for r in table.to_pylist()} if table is not None else {}


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    return None if start is None or end is None else max(0, int((end - start).total_seconds() // 60))


def _report(problems: list[dict], checked: int, **extra) -> CheckOutcome:
    return not problems, {"checked": checked, "problems": len(problems), "example": problems[:5], **extra}


def answers_match_requests(norm: Normalized) -> CheckOutcome:
    """Every id an answer echoes is one its request asked for (else it answers another request)."""
    foreign = norm.facts.get("foreign", [])
    return not foreign, {"foreign": len(foreign), "example": foreign[:5]}


def class_names_consistent(norm: Normalized) -> CheckOutcome:
    """API 30: one class id, one class name across the day's lessons."""
    names: dict[int, set[str]] = {}
    for r in norm.table.select(["class_id", "class_name"]).to_pylist():
        if r["class_id"] is not None:
            names.setdefault(r["class_id"], set()).add(r["class_name"])
    bad = [{"endpoint": API30, "class_id": c, "names": sorted(n, key=str)}
           for c, n in sorted(names.items()) if len(n) > 1]
    return _report(bad, len(names))


def _span_minutes(lesson: dict) -> int:
    """Minutes from the earlier of the scheduled and the actual start to the actual end (the
    scheduled end while it has none): students may wait in the room for a late teacher."""
    start = lesson["scheduled_start"] if lesson["actual_start"] is None else min(lesson["scheduled_start"],
                                                                                 lesson["actual_start"])
    end = lesson["actual_end"] or lesson["scheduled_end"]
    return _minutes(start, max(end, start)) or 0


def _session_problems(rows: list[dict], lessons: Lessons, endpoint: str, who: str) -> list[dict]:
    """Attendance-like rows (APIs 23, 34) that cannot be true of their lesson."""
    problems = []
    for r in rows:
        lesson = lessons.get(r["lesson_id"])
        evidence = {"endpoint": endpoint, "lesson_id": r["lesson_id"], who: r.get(who)}
        negative = [c for c in ("listen_minutes", "inout_times", "late_minutes", "leave_minutes") if r[c] < 0]
        if negative:
            problems.append(evidence | {"field": negative[0], "value": r[negative[0]], "expected": ">= 0"})
            continue
        if lesson is None:
            continue  # a lesson the day does not have: the lessons check reports it
        scheduled = _minutes(lesson["scheduled_start"], lesson["scheduled_end"]) or 0
        span = _span_minutes(lesson)
        limit = span + LISTEN_SLACK_MINUTES
        if r["listen_minutes"] > limit:
            problems.append(evidence | {"field": "listen_time", "value": r["listen_minutes"],
                                        "expected": f"<= {limit} (the lesson spans {span} min, slack "
                                                    f"{LISTEN_SLACK_MINUTES}); a unit other than the "
                                                    "profile's reading listen_time? run `liveclass probe`"})
        for column, field_name in (("late_minutes", "u_late"), ("leave_minutes", "u_leave")):
            if r[column] > scheduled:
                problems.append(evidence | {"field": field_name, "value": r[column],
                                            "expected": f"<= {scheduled} (the scheduled length)"})
    return problems


def teacher_not_a_student(norm: Normalized, teachers: dict[int, int], reading: str) -> CheckOutcome:
    """No lesson's teacher (API 34) among its API 23 students: where that happens the platform lists the
    teacher too, and ``reading`` (the profile's attendance_rows) is contradicted."""
    rows = norm.table.select(["lesson_id", "user_id"]).to_pylist()
    bad = [{"endpoint": API23, "lesson_id": r["lesson_id"], "user_id": r["user_id"],
            "expected": f"a student, not the lesson's teacher (API 34); contradicts the reading {reading}: "
                        "run `liveclass probe`"}
           for r in rows if teachers.get(r["lesson_id"]) == r["user_id"]]
    return _report(bad, len(rows))


def attendance_plausible(norm: Normalized, lessons: Lessons) -> CheckOutcome:
    """Minutes non-negative; listen minutes within the lesson's span (earlier of scheduled and
    actual start to actual end) plus LISTEN_SLACK_MINUTES; lateness and early leaving within the
    scheduled length."""
    rows = norm.table.to_pylist()
    return _report(_session_problems(rows, lessons, API23, "user_id"), len(rows))


def teacher_inout_plausible(norm: Normalized, lessons: Lessons) -> CheckOutcome:
    """As for students, and the teacher's record belongs to its lesson: API 34's actual start and
    end equal API 19's, and one teacher id stands for one teacher name over the day."""
    rows = norm.table.to_pylist()
    problems = _session_problems(rows, lessons, API34, "teacher_id")
    names: dict[int, set[str]] = {}
    for r in rows:
        lesson = lessons.get(r["lesson_id"])
        if lesson is None:
            continue
        if lesson["teacher_name"] is not None:  # an optional field API 19 may omit
            names.setdefault(r["teacher_id"], set()).add(lesson["teacher_name"])
        for column in ("actual_start", "actual_end"):
            if r[column] != lesson[column]:
                problems.append({"endpoint": API34, "lesson_id": r["lesson_id"],
                                 "field": f"{column}_time", "value": _iso(r[column]),
                                 "expected": f"{_iso(lesson[column])} (API 19's {column}_time)"})
    for tid, n in sorted(names.items()):
        if len(n) > 1:
            problems.append({"endpoint": API34, "field": "teacher_id", "value": tid,
                             "expected": f"one teacher name (API 19 says {sorted(n, key=str)})"})
    return _report(problems, len(rows))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def students_attended(norm: Normalized, others: dict[str, set[tuple[int, int]]]) -> CheckOutcome:
    """Every student with stars (API 25) or key events (API 27) in a lesson is in that lesson's
    attendance (API 23): ``others`` maps an endpoint to its (lesson, user) pairs."""
    seen: dict[int, set[int]] = {}
    for lid, uid in zip(norm.table["lesson_id"].to_pylist(), norm.table["user_id"].to_pylist()):
        seen.setdefault(lid, set()).add(uid)
    problems = [{"endpoint": API23, "lesson_id": lid, "user_id": uid,
                 "expected": f"in the attendance: {endpoint} has this student in the lesson"}
                for endpoint, pairs in sorted(others.items()) for lid, uid in sorted(pairs)
                if lid in seen and uid not in seen[lid]]
    return _report(problems, sum(len(p) for p in others.values()))


def awards_plausible(norm: Normalized) -> CheckOutcome:
    """1 to MAX_STARS_PER_LESSON stars per student and lesson (API 25 lists students with stars)."""
    rows = norm.table.to_pylist()
    bad = [{"endpoint": API25, "lesson_id": r["lesson_id"], "user_id": r["user_id"],
            "field": "award_num", "value": r["award_num"], "expected": f"1..{MAX_STARS_PER_LESSON}"}
           for r in rows if not 1 <= r["award_num"] <= MAX_STARS_PER_LESSON]
    return _report(bad, len(rows))


def event_counts_plausible(norm: Normalized) -> CheckOutcome:
    rows = norm.table.to_pylist()
    bad = [{"endpoint": API27, "lesson_id": r["lesson_id"], "event_type": r["event_type"],
            "field": f"data[{r['user_id']}]", "value": r["event_count"], "expected": ">= 0"}
           for r in rows if r["event_count"] < 0]
    return _report(bad, len(rows))


def event_times_within_lesson(norm: Normalized, lessons: Lessons) -> CheckOutcome:
    """API 28's times lie within the lesson's scheduled time, give or take EVENT_SLACK_MINUTES."""
    slack = timedelta(minutes=EVENT_SLACK_MINUTES)
    rows = norm.table.to_pylist()
    bad = []
    for r in rows:
        lesson = lessons.get(r["lesson_id"])
        if lesson is None:
            bad.append({"endpoint": API28, "lesson_id": r["lesson_id"],
                        "expected": "a lesson of the day"})
        elif not lesson["scheduled_start"] - slack <= r["event_time"] <= lesson["scheduled_end"] + slack:
            bad.append({"endpoint": API28, "lesson_id": r["lesson_id"], "user_id": r["user_id"],
                        "field": "event_time", "value": _iso(r["event_time"]),
                        "expected": f"within {EVENT_SLACK_MINUTES} min of {_iso(lesson['scheduled_start'])} .. "
                                    f"{_iso(lesson['scheduled_end'])}"})
    return _report(bad, len(rows))


def help_within_window(norm: Normalized) -> CheckOutcome:
    """API 16's help times lie inside the window its request asked for."""
    windows = norm.facts.get("windows", [])
    rows = norm.table.to_pylist()
    bad = [{"endpoint": API16, "lesson_id": r["lesson_id"], "field": "help_time",
            "value": _iso(r["help_time"]), "expected": "inside " + ", ".join(f"[{_iso(a)}, {_iso(b)})"
                                                                            for a, b in windows)}
           for r in rows if not any(a <= r["help_time"] < b for a, b in windows)]
    return _report(bad, len(rows))


def progress_adds_up(table: pa.Table) -> CheckOutcome:
    """API 26: finished + not started + in class + expired = total, every part non-negative."""
    rows = table.to_pylist()
    parts = ("finished", "not_started", "on_class", "expired")
    bad = [{"endpoint": API26, "class_id": r["class_id"], **{p: r[p] for p in parts},
            "total": r["total"], "expected": "non-negative parts adding up to total"}
           for r in rows if sum(r[p] for p in parts) != r["total"] or min(r[p] for p in (*parts, "total")) < 0]
    return _report(bad, len(rows))


def json_safe(value):
    """Check metadata as JSON by construction: tuples and sets to lists, times to ISO text, keys to text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [json_safe(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
