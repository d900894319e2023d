"""Ground truth of a sandbox school as Parquet, with exactly the lake's schemas.

``write_truth(school, start, end, out_dir)`` writes, for the lessons scheduled on the days
``start..end`` (inclusive), one file per table, ``out_dir/<table>.parquet``:

- the daily lake tables ``lessons, attendance, teacher_inout, awards, key_event_counts,
  key_events, help_requests`` with the schemas of ``pipeline/core/schemas.py`` (the sandbox
  reads API 30's 班级 as the course, so ``lessons.class_id``/``class_name`` are the
  lesson's classroom id/name; ``help_requests.lesson_date`` is the day of ``help_time``);
- ``course_progress`` (lake schema) for every classroom seen, counting the classroom's
  lessons by status as of ``school.now`` (``total`` = the sum);
- extra truth tables ``attendance_sessions``, ``lessons_detail``, ``people`` and ``drift``
  (schemas below), which the lake does not have but tests and benchmarks can join against.
  ``drift`` lists, for every term the days touch, its at-risk students (``kind``
  ``at_risk_student``: their absence probability grows by ``amplitude`` times the term's
  progress, and from term progress ``dropout`` on, when not null, they miss almost every
  lesson) and the declining classrooms seen (``declining_classroom``: ``amplitude`` is added by
  the classroom's last lesson, proportionally before); see ``pipeline/sandbox/school/activity.py``.

Everything reflects the school's state as of ``school.now`` (statuses, in-class cuts).

``write_roster(school, out_dir, fmt)`` writes the roster as the school office exports it
(``students``, ``teachers``, ``courses`` as CSV UTF-8 with BOM or xlsx) and returns the
:class:`~pipeline.sandbox.school.RosterExport` with its deliberate problems
(``pipeline/sandbox/school/export.py``, docs/sandbox.md).
"""

from __future__ import annotations

import csv
import os
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.api.catalog import EVENT_TYPES
from pipeline.core.schemas import COURSE_PROGRESS, DAILY_TABLES, TS

from .school import RosterExport, School

__all__ = ["write_truth", "write_roster", "TRUTH_SCHEMAS", "ATTENDANCE_SESSIONS", "LESSONS_DETAIL", "PEOPLE",
           "DRIFT", "ROSTER_FORMATS"]

ATTENDANCE_SESSIONS = pa.schema(
    [
        pa.field("lesson_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("session_no", pa.int32(), nullable=False),  # 1-based, in time order
        pa.field("in_time", TS, nullable=False),
        pa.field("out_time", TS, nullable=False),
    ]
)

LESSONS_DETAIL = pa.schema(
    [
        pa.field("lesson_id", pa.int64(), nullable=False),
        pa.field("classroom_id", pa.int64(), nullable=False),
        pa.field("category", pa.int8(), nullable=False),
        pa.field("teacher_id", pa.int64(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("genre", pa.int8(), nullable=False),
        pa.field("enrolled", pa.int32(), nullable=False),
    ]
)

PEOPLE = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("mobile", pa.int64(), nullable=False),
        pa.field("gender", pa.int8(), nullable=False),
        pa.field("user_type", pa.int8(), nullable=False),
    ]
)

DRIFT = pa.schema(
    [
        pa.field("term", pa.string(), nullable=False),  # e.g. 2026秋
        pa.field("kind", pa.string(), nullable=False),  # at_risk_student | declining_classroom
        pa.field("id", pa.int64(), nullable=False),  # the student's or the classroom's id
        pa.field("amplitude", pa.float64(), nullable=False),  # absence probability added at the end
        pa.field("dropout", pa.float64()),  # at-risk students: term progress from which they stop coming
    ]
)

#: Every table written by ``write_truth``, by name.
TRUTH_SCHEMAS: dict[str, pa.Schema] = {
    **DAILY_TABLES,
    "course_progress": COURSE_PROGRESS,
    "attendance_sessions": ATTENDANCE_SESSIONS,
    "lessons_detail": LESSONS_DETAIL,
    "people": PEOPLE,
    "drift": DRIFT,
}

#: Formats of ``write_roster``.
ROSTER_FORMATS = ("csv", "xlsx")

_EVENT_ORDER = {e: i for i, e in enumerate(EVENT_TYPES)}


def _columns(schema: pa.Schema) -> dict[str, list]:
    return {name: [] for name in schema.names}


def _micros(values: list) -> list:
    """Aware datetimes as epoch microseconds (cheaper than converting datetime objects)."""
    return [None if v is None else round(v.timestamp() * 1_000_000) for v in values]


_UNIX_DAY0 = date(1970, 1, 1)


def _days(values: list) -> list:
    """Dates as days since 1970-01-01 (same reason)."""
    return [None if v is None else (v - _UNIX_DAY0).days for v in values]


def _array(field: pa.Field, values: list) -> pa.Array:
    if field.type == TS:
        return pa.array(_micros(values), type=pa.int64()).cast(field.type)
    if field.type == pa.date32():
        return pa.array(_days(values), type=pa.int32()).cast(field.type)
    return pa.array(values, type=field.type)


def _write(out_dir: Path, name: str, cols: dict[str, list]) -> int:
    schema = TRUTH_SCHEMAS[name]
    arrays = [_array(f, cols[f.name]) for f in schema]
    table = pa.Table.from_arrays(arrays, schema=schema)
    pq.write_table(table, out_dir / f"{name}.parquet")
    return table.num_rows


def write_truth(school: School, start: date, end: date, out_dir: Path) -> dict[str, int]:
    """Write the ground truth for lessons scheduled on ``start..end`` (inclusive).

    Returns the number of rows written per table.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t = {name: _columns(schema) for name, schema in TRUTH_SCHEMAS.items()}
    lessons, att, tio, awd = t["lessons"], t["attendance"], t["teacher_inout"], t["awards"]
    kec, kev, hlp = t["key_event_counts"], t["key_events"], t["help_requests"]
    ses, det = t["attendance_sessions"], t["lessons_detail"]
    classrooms_seen: dict[int, None] = {}

    day = start
    while day <= end:
        for lesson in school.lessons_on(day):
            act = school.activity(lesson)
            lid = lesson.id
            classroom = school.classroom(lesson.classroom_id)
            classrooms_seen[lesson.classroom_id] = None
            teacher = school.person(lesson.teacher_id)

            lessons["lesson_date"].append(day)
            lessons["lesson_id"].append(lid)
            lessons["class_id"].append(lesson.classroom_id)
            lessons["class_name"].append(classroom.name if classroom else None)
            lessons["teacher_name"].append(teacher.name if teacher else None)
            lessons["status"].append(act.status)
            lessons["scheduled_start"].append(lesson.start)
            lessons["scheduled_end"].append(lesson.end)
            lessons["actual_start"].append(act.actual_start)
            lessons["actual_end"].append(act.actual_end)
            lessons["replay_url"].append(act.replay_url)

            det["lesson_id"].append(lid)
            det["classroom_id"].append(lesson.classroom_id)
            det["category"].append(school.category_of(lesson))
            det["teacher_id"].append(lesson.teacher_id)
            det["name"].append(lesson.name)
            det["genre"].append(lesson.genre)
            det["enrolled"].append(len(lesson.student_ids))

            for row in act.attendance:
                att["lesson_date"].append(day)
                att["lesson_id"].append(lid)
                att["user_id"].append(row.user_id)
                att["listen_minutes"].append(row.listen_minutes)
                att["inout_times"].append(row.inout_times)
                att["late_minutes"].append(row.late_minutes)
                att["leave_minutes"].append(row.leave_minutes)
                for no, (t_in, t_out) in enumerate(row.sessions, 1):
                    ses["lesson_id"].append(lid)
                    ses["user_id"].append(row.user_id)
                    ses["session_no"].append(no)
                    ses["in_time"].append(t_in)
                    ses["out_time"].append(t_out)

            ti = act.teacher
            tio["lesson_date"].append(day)
            tio["lesson_id"].append(lid)
            tio["teacher_id"].append(ti.teacher_id)
            tio["actual_start"].append(ti.actual_start)
            tio["actual_end"].append(ti.actual_end)
            tio["listen_minutes"].append(ti.listen_minutes)
            tio["inout_times"].append(ti.inout_times)
            tio["late_minutes"].append(ti.late_minutes)
            tio["leave_minutes"].append(ti.leave_minutes)

            for uid in sorted(act.awards):
                awd["lesson_date"].append(day)
                awd["lesson_id"].append(lid)
                awd["user_id"].append(uid)
                awd["award_num"].append(act.awards[uid])

            for (uid, etype) in sorted(act.events, key=lambda k: (k[0], _EVENT_ORDER.get(k[1], 99))):
                times = act.events[(uid, etype)]
                kec["lesson_date"].append(day)
                kec["lesson_id"].append(lid)
                kec["user_id"].append(uid)
                kec["event_type"].append(etype)
                kec["event_count"].append(len(times))
                for ts in times:
                    kev["lesson_date"].append(day)
                    kev["lesson_id"].append(lid)
                    kev["user_id"].append(uid)
                    kev["event_type"].append(etype)
                    kev["event_time"].append(ts)

            for h in act.help_requests:
                hlp["lesson_date"].append(h.time.date())
                hlp["lesson_id"].append(h.lesson_id)
                hlp["user_id"].append(h.user_id)
                hlp["help_type"].append(h.help_type)
                hlp["help_item_name"].append(h.help_item_name)
                hlp["help_content"].append(h.help_content)
                hlp["help_time"].append(h.time)
        day += timedelta(days=1)

    prog = t["course_progress"]
    for cid in sorted(classrooms_seen):
        counts = [0, 0, 0, 0]
        for lesson in school.classroom_lessons(cid):
            counts[school.status(lesson)] += 1
        prog["class_id"].append(cid)
        prog["finished"].append(counts[2])
        prog["not_started"].append(counts[0])
        prog["on_class"].append(counts[1])
        prog["expired"].append(counts[3])
        prog["total"].append(sum(counts))

    ppl = t["people"]
    for p in school.teachers() + school.students():
        ppl["id"].append(p.id)
        ppl["name"].append(p.name)
        ppl["mobile"].append(p.mobile)
        ppl["gender"].append(p.gender)
        ppl["user_type"].append(p.user_type)

    dft = t["drift"]
    firsts: dict[int, date] = {}  # term index -> a day of it inside the window
    day = start
    while day <= end:
        firsts.setdefault(school.term_index(day), day)
        day += timedelta(days=1)
    rows: list[tuple[str, str, int, float, float | None]] = []
    for first in firsts.values():
        name = school.term_of(first).name
        for uid, (amp, stop) in sorted(school.at_risk(first).items()):
            rows.append((name, "at_risk_student", uid, amp, stop if stop <= 1.0 else None))
    for cid in sorted(classrooms_seen):
        amp = school.decline_of(cid)
        if amp:
            c = school.classroom(cid)
            rows.append((school.term_of(c.first_day).name, "declining_classroom", cid, amp, None))
    for row in rows:
        for col, value in zip(DRIFT.names, row):
            dft[col].append(value)

    return {name: _write(out_dir, name, cols) for name, cols in t.items()}


def write_roster(school: School, out_dir: Path, fmt: str = "csv") -> RosterExport:
    """Write ``students``, ``teachers`` and ``courses`` (``.csv``: UTF-8 with BOM, CRLF; ``.xlsx``: one sheet each).

    The roster is the school's on ``school.now``'s day (``School.roster_export``); returns it, with
    its deliberate problems.  Every cell is text (mobiles and ids too, as an office's export
    keeps them).
    """
    if fmt not in ROSTER_FORMATS:
        raise ValueError(f"format must be one of {ROSTER_FORMATS}, not {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    export = school.roster_export(fmt)
    sheet_titles = {"students": "学生", "teachers": "老师", "courses": "班级"}
    for kind, f in export.files.items():
        path = out_dir / f.name
        tmp = path.with_name(f".{path.name}.tmp")
        if fmt == "csv":
            with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.writer(fh, lineterminator="\r\n")
                writer.writerow(f.header)
                writer.writerows(f.rows)
        else:
            import openpyxl  # only the xlsx export needs it

            wb = openpyxl.Workbook()
            ws = wb.active
            ws.title = sheet_titles[kind]
            ws.append(list(f.header))
            for row in f.rows:
                ws.append(list(row))
            stamp = datetime(export.day.year, export.day.month, export.day.day)
            wb.properties.created = wb.properties.modified = stamp
            wb.properties.creator = "liveclass sandbox"
            wb.save(tmp)
        os.replace(tmp, path)
    return export
