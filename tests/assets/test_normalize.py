"""Pure tests of the lake normalisation: the document's quirks in, typed rows out."""

from datetime import date, datetime

import pyarrow as pa
import pytest

from assets.lake import checks, normalize
from assets.lake.normalize import TZ, DataDriftError
from assets.raw import fanout
from pipeline.core import schemas

DAY = date(2026, 3, 10)


def rec(path, params, body):
    return {"path": path, "params": params, "body": body}


def lessons_records():
    return [
        # API 17: ids as strings (quirk), no error_code
        rec(normalize.API17, {"start_time": "2026-03-10 00:00:00", "end_time": "2026-03-11 00:00:00"},
            {"status": 1, "msg": "", "data": [{"lesson_id": "100001", "status": 2},
                                               {"lesson_id": 100002, "status": 0}]}),
        rec(normalize.API19, {"lessonId": [100001, 100002]},
            {"status": 1, "error_code": 10000, "msg": "获取信息成功", "data": [
                {"zby_lid": 100001, "status": 2, "actual_start_time": "2026-03-10 18:02:49",
                 "actual_end_time": "2026-03-10 19:03:04", "teacher_name": "李老师",
                 "start_time": "2026-03-10 18:00:00", "end_time": "2026-03-10 18:59:59", "extra_field": 1},
                {"zby_lid": "100002", "status": 0, "actual_start_time": None, "actual_end_time": None,
                 "teacher_name": "王老师", "start_time": "2026-3-10 20:00", "end_time": "2026-03-10 20:44:59"}]}),
        rec(normalize.API18, {"lesson_id": [100001, 100002]},
            {"status": 1, "msg": "成功", "data": [{"lesson_id": "100001", "status": 2, "video": "v.example/1.mp4"},
                                                {"lesson_id": "100002", "status": 0, "video": ""}]}),
        rec(normalize.API30, {"lessonId": 100001}, {"status": 1, "error_code": 10000, "data": {"id": 77, "name": "数学"}}),
        rec(normalize.API30, {"lessonId": 100002}, {"status": 1, "error_code": 10000, "data": {"id": "78", "name": "语文"}}),
    ]


def test_lessons_absorb_id_and_time_quirks():
    norm = normalize.lessons(DAY, lessons_records())
    assert norm.table.schema == schemas.LESSONS
    rows = norm.table.to_pylist()
    assert [r["lesson_id"] for r in rows] == [100001, 100002]
    assert rows[0]["class_id"] == 77 and rows[1]["class_id"] == 78
    assert rows[0]["scheduled_start"] == datetime(2026, 3, 10, 18, 0, tzinfo=TZ)
    assert rows[0]["scheduled_end"] == datetime(2026, 3, 10, 18, 59, 59, tzinfo=TZ)
    assert rows[1]["scheduled_start"] == datetime(2026, 3, 10, 20, 0, tzinfo=TZ)  # unpadded month, no seconds
    assert rows[1]["actual_start"] is None
    assert rows[0]["replay_url"] == "v.example/1.mp4" and rows[1]["replay_url"] is None
    assert norm.facts["missing_details"] == []


def test_lesson_without_details_is_reported_not_invented():
    recs = lessons_records()
    recs[1]["body"]["data"].pop()  # API 19 lost lesson 100002
    norm = normalize.lessons(DAY, recs)
    assert norm.table.num_rows == 1
    passed, meta = checks.lessons_have_details(norm)
    assert not passed and meta["missing"] == [100002]


def test_attendance_pages_and_count_check():
    page = lambda lid, page, rows, count: rec(normalize.API23, {"lessonId": lid, "page": page}, {
        "status": 1, "error_code": 10000, "msg": "success",
        "data": {"page": page, "sumpage": 2, "count": count, "data": rows}})
    row = lambda uid, listen: {"user_id": uid, "listen_time": listen, "inout_times": 2, "u_late": "3", "u_leave": 0}
    recs = [page(5, 1, [row(1, 40), row(2, 0)], 3), page(5, 2, [row(3, 12)], 3)]
    norm = normalize.attendance(DAY, recs)
    assert norm.table.column("late_minutes").to_pylist() == [3, 3, 3]  # "3" (string) absorbed
    assert checks.attendance_matches_count(norm)[0]
    norm = normalize.attendance(DAY, recs[:1])  # a page went missing
    passed, meta = checks.attendance_matches_count(norm)
    assert not passed and meta["example"][5] == {"api_count": 3, "rows": 2}


@pytest.mark.parametrize("bad", [12.5, "abc", True, None])
def test_drift_that_changes_numbers_names_endpoint_field_and_value(bad):
    recs = [rec(normalize.API23, {"lessonId": 5, "page": 1}, {"status": 1, "data": {"page": 1, "sumpage": 1, "count": 1, "data": [
        {"user_id": 1, "listen_time": bad, "inout_times": 2, "u_late": 0, "u_leave": 0}]}})]
    with pytest.raises(DataDriftError) as err:
        normalize.attendance(DAY, recs)
    assert "/lesson/io/info" in str(err.value) and "listen_time" in str(err.value)


def test_key_events_counts_and_times_reconcile():
    counts = [rec(normalize.API27, {"lid": 9, "event_type": "handup"}, {"status": 1, "data": {"11": 2, "12": 0}}),
              rec(normalize.API27, {"lid": 9, "event_type": "onstage"}, {"status": 1, "data": []})]
    assert fanout.positive_event_triples(counts) == [(9, 11, "handup")]
    times = [rec(normalize.API28, {"lid": 9, "uid": 11, "event_type": "handup"},
                 {"status": 1, "data": [{"event_time": "2026-03-10 18:05:00"}, {"event_time": "2026-03-10 18:09:10"}]})]
    norm = normalize.key_events(DAY, times, counts)
    assert norm.table.num_rows == 2
    assert checks.event_times_match_counts(norm)[0]
    times[0]["body"]["data"].pop()
    assert not checks.event_times_match_counts(normalize.key_events(DAY, times, counts))[0]


def test_unique_and_timestamp_checks_fail_on_bad_rows():
    t = pa.table({"lesson_id": [1, 1], "user_id": [2, 2]})
    assert checks.unique_keys(t, ("lesson_id", "user_id")) == (False, {"rows": 2, "duplicates": 1,
                                                                      "example": [{"lesson_id": 1, "user_id": 2}]})
    ts = pa.table({"t": pa.array([datetime(2026, 3, 10, 9, tzinfo=TZ), datetime(2031, 1, 1, tzinfo=TZ)],
                                 type=schemas.TS)})
    passed, meta = checks.timestamps_plausible(ts, DAY)
    assert not passed and meta["outside"] == {"t": 1}
