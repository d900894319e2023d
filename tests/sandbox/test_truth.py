"""Ground truth Parquet: lake schemas, row counts that match the school, unique keys."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from pipeline.core.schemas import COURSE_PROGRESS, DAILY_TABLES, PRIMARY_KEYS
from pipeline.sandbox.school import TZ, School
from pipeline.sandbox.truth import TRUTH_SCHEMAS, write_truth

START, END = date(2024, 5, 18), date(2024, 5, 20)
NOW = datetime(2024, 5, 20, 19, 10, tzinfo=TZ)  # the last day is partly in class / not started


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    school = School(seed=7, now=NOW)
    out = tmp_path_factory.mktemp("truth")
    counts = write_truth(school, START, END, out)
    tables = {name: pq.read_table(out / f"{name}.parquet") for name in TRUTH_SCHEMAS}
    return school, counts, tables


def days():
    d = START
    while d <= END:
        yield d
        d += timedelta(days=1)


def test_schemas_equal_lake_schemas(truth):
    _, _, tables = truth
    for name, schema in DAILY_TABLES.items():
        assert tables[name].schema.equals(schema), name
    assert tables["course_progress"].schema.equals(COURSE_PROGRESS)
    for name, schema in TRUTH_SCHEMAS.items():
        assert tables[name].schema.equals(schema), name


def test_row_counts_match_school(truth):
    school, counts, tables = truth
    assert counts == {name: t.num_rows for name, t in tables.items()}
    lessons = [lesson for d in days() for lesson in school.lessons_on(d)]
    acts = [school.activity(lesson) for lesson in lessons]
    assert counts["lessons"] == counts["teacher_inout"] == counts["lessons_detail"] == len(lessons)
    assert counts["attendance"] == sum(len(x.student_ids) for x in lessons)
    assert counts["attendance_sessions"] == sum(len(r.sessions) for a in acts for r in a.attendance)
    assert counts["awards"] == sum(len(a.awards) for a in acts)
    assert counts["key_event_counts"] == sum(len(a.events) for a in acts)
    assert counts["key_events"] == sum(len(ts) for a in acts for ts in a.events.values())
    assert counts["help_requests"] == sum(len(a.help_requests) for a in acts)
    assert counts["people"] == len(school.teachers()) + len(school.students())
    assert counts["course_progress"] == len({x.classroom_id for x in lessons})
    assert counts["key_events"] > 0 and counts["help_requests"] > 0


def test_contents(truth):
    school, _, tables = truth
    lessons = tables["lessons"].to_pylist()
    statuses = Counter(r["status"] for r in lessons)
    assert statuses[2] > 0 and statuses[0] > 0 and statuses[1] > 0
    for row in lessons[:: 7]:
        lesson = school.lesson(row["lesson_id"])
        act = school.activity(lesson)
        classroom = school.classroom(lesson.classroom_id)
        assert row["lesson_date"] == lesson.start.date()
        assert (row["class_id"], row["class_name"]) == (classroom.id, classroom.name)
        assert row["teacher_name"] == school.person(lesson.teacher_id).name
        assert row["status"] == act.status
        assert row["scheduled_start"] == lesson.start and row["scheduled_end"] == lesson.end
        assert row["actual_start"] == act.actual_start and row["actual_end"] == act.actual_end
        assert row["replay_url"] == act.replay_url
    for row in tables["help_requests"].to_pylist():
        assert row["lesson_date"] == row["help_time"].astimezone(TZ).date()
    for row in tables["course_progress"].to_pylist():
        parts = row["finished"] + row["not_started"] + row["on_class"] + row["expired"]
        assert row["total"] == parts == len(school.classroom_lessons(row["class_id"]))
    kec = {(r["lesson_id"], r["user_id"], r["event_type"]): r["event_count"] for r in tables["key_event_counts"].to_pylist()}
    per_key = Counter((r["lesson_id"], r["user_id"], r["event_type"]) for r in tables["key_events"].to_pylist())
    assert kec == dict(per_key)


def test_primary_keys_unique(truth):
    _, _, tables = truth
    for name, key in PRIMARY_KEYS.items():
        if name not in tables:  # the roster's lake tables are not truth tables
            continue
        rows = tables[name].select(list(key)).to_pylist()
        values = [tuple(r.values()) for r in rows]
        assert len(values) == len(set(values)), name
