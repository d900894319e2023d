"""Pure tests of the lake normalisation: the document's quirks in, typed rows out."""

from datetime import date, datetime

import pyarrow as pa
import pytest

from assets.lake import checks, normalize
from assets.raw import fanout
from pipeline.core import schemas
from pipeline.core.calendar import TZ
from pipeline.core.coerce import DataDriftError

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


# -- a misbehaving platform: values that do not fit, answers of other requests, implausible values --------

def _attendance_page(lid, rows, count=None):
    return rec(normalize.API23, {"lessonId": lid, "page": 1}, {"status": 1, "data": {
        "page": 1, "sumpage": 1, "count": len(rows) if count is None else count, "data": rows}})


def _row(uid, listen=30, late=0, leave=0):
    return {"user_id": uid, "listen_time": listen, "inout_times": 2, "u_late": late, "u_leave": leave}


def test_values_that_do_not_fit_their_column_name_endpoint_field_and_value():
    with pytest.raises(DataDriftError) as err:
        normalize.attendance(DAY, [_attendance_page(5, [_row(1, listen=10**12)])])
    assert "/lesson/io/info field 'listen_time'" in str(err.value) and "1000000000000" in str(err.value)
    with pytest.raises(DataDriftError) as err:  # a float id past 2^53 may have been rounded already
        normalize.attendance(DAY, [_attendance_page(5, [_row(float(2**53 + 2))])])
    assert "user_id" in str(err.value) and "2^53" in str(err.value)
    help_rec = rec(normalize.API16, {"start_time": "2026-03-10 00:00", "end_time": "2026-03-11 00:00"},
                   {"status": 1, "data": [{"lesson_id": 1, "user_id": 2, "help_type": "x", "help_item_name": "y",
                                           "help_content": "bad \ud800 text", "help_time": "2026-03-10 10:00:00"}]})
    with pytest.raises(DataDriftError) as err:
        normalize.help_requests(DAY, [help_rec])
    assert "help_content" in str(err.value) and "valid Unicode" in str(err.value)


def test_a_lone_surrogate_answer_is_kept_exactly_in_the_raw_pages(tmp_path):
    from assets.raw.store import read_raw, write_raw

    record = rec(normalize.API16, {"start_time": "a"}, {"status": 1, "data": [{"help_content": "x\ud800y 中"}]})
    write_raw(tmp_path / "p.jsonl.gz", [record])
    assert read_raw(tmp_path / "p.jsonl.gz") == [record]


def test_success_without_data_in_a_recorded_page_is_drift_not_nothing():
    recs = lessons_records()
    recs[1]["body"]["data"] = None  # API 19 "succeeded" with nothing
    with pytest.raises(DataDriftError, match="/lesson/info field 'data'"):
        normalize.lessons(DAY, recs)
    counts = [rec(normalize.API27, {"lid": 9, "event_type": "handup"}, {"status": 1})]
    with pytest.raises(DataDriftError, match="/lessonData/query field 'data'"):
        normalize.key_event_counts(DAY, counts)


def test_an_answer_of_another_request_is_found_by_its_echoed_ids():
    recs = lessons_records()
    recs[1]["params"]["lessonId"] = [100001]  # API 19 answered 100002 too, which this request never asked for
    passed, meta = checks.answers_match_requests(normalize.lessons(DAY, recs))
    assert not passed and meta["example"][0] == {"endpoint": normalize.API19, "field": "zby_lid", "got": 100002,
                                                 "requested": [100001]}
    assert checks.answers_match_requests(normalize.lessons(DAY, lessons_records()))[0]


def _lessons_table():
    return checks.lessons_by_id(normalize.lessons(DAY, lessons_records()).table)


def test_attendance_plausibility_bounds():
    lessons = _lessons_table()  # 100001 ran 18:00 .. 19:03:04 (63 min); 100002 never started (scheduled 45 min)
    ok = normalize.attendance(DAY, [_attendance_page(100001, [_row(1, listen=70, late=5)]),
                                    _attendance_page(100002, [_row(2, listen=0)])])
    assert checks.attendance_plausible(ok, lessons)[0]
    for row, field_name in [(_row(1, listen=-1), "listen_minutes"), (_row(1, listen=63 + 16), "listen_time"),
                            (_row(1, late=61), "u_late"), (_row(1, leave=-3), "leave_minutes")]:
        passed, meta = checks.attendance_plausible(normalize.attendance(DAY, [_attendance_page(100001, [row])]),
                                                   lessons)
        assert not passed and meta["example"][0]["field"] == field_name, (row, meta)
        assert meta["example"][0]["endpoint"] == "/lesson/io/info"


def test_attendance_must_hold_every_student_other_endpoints_saw():
    norm = normalize.attendance(DAY, [_attendance_page(100001, [_row(1), _row(2)])])
    assert checks.students_attended(norm, {"/lesson/student/award": {(100001, 1)}})[0]
    passed, meta = checks.students_attended(norm, {"/lessonData/query": {(100001, 3)}})
    assert not passed and meta["example"][0]["user_id"] == 3 and "/lessonData/query" in meta["example"][0]["expected"]


def test_teacher_record_must_belong_to_its_lesson():
    lessons = _lessons_table()
    inout = lambda lid, start, tid=7: rec(normalize.API34, {"lessonId": lid}, {"status": 1, "code": 10000, "data": {
        "teacher_id": tid, "actual_start_time": start, "actual_end_time": "2026-03-10 19:03:04" if start else None,
        "listen_time": 60 if start else 0, "inout_times": 2, "u_late": 0, "u_leave": 0}})
    good = normalize.teacher_inout(DAY, [inout(100001, "2026-03-10 18:02:49"), inout(100002, None, tid=8)])
    assert checks.teacher_inout_plausible(good, lessons)[0]
    other = normalize.teacher_inout(DAY, [inout(100001, "2026-03-10 20:02:49")])  # another lesson's record
    passed, meta = checks.teacher_inout_plausible(other, lessons)
    assert not passed and meta["example"][0]["field"] == "actual_start_time"
    same_id = normalize.teacher_inout(DAY, [inout(100001, "2026-03-10 18:02:49"), inout(100002, None)])
    passed, meta = checks.teacher_inout_plausible(same_id, lessons)  # one id for 李老师 and 王老师
    assert not passed and meta["example"][0]["field"] == "teacher_id"


def test_stars_counts_event_times_help_times_and_progress_that_cannot_be_true():
    award = lambda n: rec(normalize.API25, {"lessonIds": [100001]}, {"status": 1, "data": [
        {"lesson_id": 100001, "user_id": 1, "award_num": n}]})
    assert checks.awards_plausible(normalize.awards(DAY, [award(3)]))[0]
    assert not checks.awards_plausible(normalize.awards(DAY, [award(-1)]))[0]
    assert not checks.awards_plausible(normalize.awards(DAY, [award(checks.MAX_STARS_PER_LESSON + 1)]))[0]
    counts = [rec(normalize.API27, {"lid": 9, "event_type": "handup"}, {"status": 1, "data": {"11": -2}})]
    passed, meta = checks.event_counts_plausible(normalize.key_event_counts(DAY, counts))
    assert not passed and meta["example"][0]["value"] == -2  # a negative count is reported, not dropped
    times = lambda t: [rec(normalize.API28, {"lid": 100001, "uid": 1, "event_type": "handup"},
                           {"status": 1, "data": [{"event_time": t}]})]
    lessons = _lessons_table()
    assert checks.event_times_within_lesson(normalize.key_events(DAY, times("2026-03-10 18:30:00"), []), lessons)[0]
    assert not checks.event_times_within_lesson(normalize.key_events(DAY, times("2026-03-10 23:30:00"), []),
                                                lessons)[0]
    help_at = lambda t: [rec(normalize.API16, {"start_time": "2026-03-10 00:00", "end_time": "2026-03-11 00:00"},
                             {"status": 1, "data": [{"lesson_id": 1, "user_id": 2, "help_time": t}]})]
    assert checks.help_within_window(normalize.help_requests(DAY, help_at("2026-03-10 10:00:00")))[0]
    assert not checks.help_within_window(normalize.help_requests(DAY, help_at("2026-03-11 00:30:00")))[0]
    progress = lambda total: [rec(normalize.API26, {"classroomId": 5}, {"status": 1, "data": {
        "finish": 3, "lessonNotStart": 2, "lessonOnClass": 0, "lessonExpired": 1, "total": total}})]
    assert checks.progress_adds_up(normalize.course_progress(progress(6)).table)[0]
    assert not checks.progress_adds_up(normalize.course_progress(progress(7)).table)[0]


def test_class_names_consistent_over_the_day():
    recs = lessons_records()
    recs[4]["body"]["data"] = {"id": 77, "name": "物理"}  # lesson 100002 claims class 77 under another name
    passed, meta = checks.class_names_consistent(normalize.lessons(DAY, recs))
    assert not passed and meta["example"][0]["class_id"] == 77


def test_check_reports_are_json_by_construction():
    import json

    t = normalize.key_events(DAY, [rec(normalize.API28, {"lid": 1, "uid": 2, "event_type": "handup"},
                                       {"status": 1, "data": [{"event_time": "2026-03-10 10:00:00"}] * 2})], []).table
    passed, meta = checks.unique_keys(t, schemas.PRIMARY_KEYS["key_events"])
    assert not passed
    json.dumps(checks.json_safe(meta))  # a duplicate event time (a datetime) in the example


def test_readings_change_units_and_rows_not_numbers():
    from pipeline.core.profile import PlatformProfile

    page = [_attendance_page(100001, [_row(1, listen=1830, late=125, leave=59), _row(7, listen=3600)], count=2)]
    seconds = PlatformProfile({"listen_time": "seconds"})
    norm = normalize.attendance(DAY, page, profile=seconds)
    assert [(r["listen_minutes"], r["late_minutes"], r["leave_minutes"]) for r in norm.table.to_pylist()] == [
        (30, 2, 0), (60, 0, 0)]  # floored to whole minutes, as the platform floors
    passed, meta = checks.teacher_not_a_student(normalize.attendance(DAY, page), {100001: 7},
                                                "attendance_rows=students")
    assert not passed and "contradicts the reading attendance_rows=students" in meta["example"][0]["expected"]
    both = PlatformProfile({"attendance_rows": "students_and_teacher"})
    norm = normalize.attendance(DAY, page, profile=both, teachers={100001: 7})
    assert norm.table["user_id"].to_pylist() == [1] and norm.facts["api_count"] == {100001: 1}
    assert checks.attendance_matches_count(norm)[0]
