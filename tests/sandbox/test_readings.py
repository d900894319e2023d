"""Readings: every key and value played by a loopback sandbox, signed requests showing each effect; the
all-alternatives platform serving; config/CLI/runtime names; the truth the same for every reading."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta

import pyarrow.parquet as pq
import pytest
import requests
from click.testing import CliRunner

from pipeline.api.signing import encode_sign_msg
from pipeline.sandbox.cli import _config, sandbox, serve
from pipeline.sandbox.readings import (
    ALTERNATIVES,
    CLASS_ID_BASE,
    DEFAULTS,
    READINGS,
    Readings,
    class_id_of,
    parse_readings,
)
from pipeline.sandbox.runner import SandboxConfig, start_sandbox, start_sandbox_process
from pipeline.sandbox.school import TZ, School
from pipeline.sandbox.server import make_app
from pipeline.sandbox.truth import TRUTH_SCHEMAS, write_truth

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=TZ)
PAST = date(2024, 5, 30)
FUTURE = date(2024, 6, 3)
SCHOOL = School(seed=7, now=NOW)
HELD = [x for x in SCHOOL.lessons_on(PAST) if SCHOOL.status(x) == 2]


def post(sb, path, params):
    return requests.post(sb.base_url + path, data={"applicationID": sb.app_id,
                                                   "signMsg": encode_sign_msg(params, sb.secret)}, timeout=10).json()


def code_of(body) -> int:
    return body.get("error_code", body.get("code"))


def must(sb, path, params):
    body = post(sb, path, params)
    assert body["status"] == 1, (path, params, body)
    return body


@pytest.fixture(scope="module")
def sandboxes():
    """name -> running sandbox: "default", every key at its other value (named by the key), "all"."""
    running: dict = {}

    def get(name: str):
        if name not in running:
            readings = {} if name == "default" else ALTERNATIVES if name == "all" else {name: ALTERNATIVES[name]}
            running[name] = start_sandbox(SandboxConfig(now=NOW, readings=readings))
        return running[name]

    yield get
    for sb in running.values():
        sb.stop()


# ---------------------------------------------------------------------------- names


def test_keys_values_and_defaults():
    assert READINGS == {
        "listen_time": ("minutes", "seconds"),
        "attendance_rows": ("students", "students_and_teacher"),
        "class_window": ("scheduled_start", "actual_start"),
        "class_is_course": ("yes", "no"),
        "arrays": ("native", "json_string"),
        "json_arrays": ("json_string", "native"),
        "unknown_ids": ("reject", "omit"),
        "empty": ("object", "list"),
    }
    assert Readings().as_dict() == DEFAULTS and Readings(**ALTERNATIVES).changed() == ALTERNATIVES
    assert parse_readings(["listen_time=seconds", " empty = list "]) == {"listen_time": "seconds", "empty": "list"}
    assert parse_readings("listen_time=seconds,empty=list") == parse_readings({"listen_time": "seconds",
                                                                                "empty": "list"})
    assert parse_readings(None) == {} and Readings.of(None) == Readings()
    for bad in (["listen_time"], ["nope=1"], ["listen_time=hours"], {"empty": "null"}):
        with pytest.raises(ValueError):
            parse_readings(bad)
    with pytest.raises(ValueError):
        SandboxConfig(readings={"arrays": "both"})


def test_config_cli_round_trip_and_runtime_attribute():
    for readings in ({}, {"listen_time": "seconds"}, ALTERNATIVES, {"empty": "object"}):
        cfg = SandboxConfig(now=NOW, seed=3, readings=readings)
        assert cfg.readings == readings
        assert _config(serve.make_context("serve", cfg.cli_args()).params) == cfg
        assert cfg.cli_args().count("--reading") == len(readings)
    group = sandbox.make_context("sandbox", ["--reading", "arrays=json_string", "--reading", "empty=list"])
    assert _config(group.params).readings == {"arrays": "json_string", "empty": "list"}
    result = CliRunner().invoke(sandbox, ["serve", "--reading", "listen_time=hours"])
    assert result.exit_code == 2 and "listen_time" in result.output and "minutes|seconds" in result.output
    app = make_app(SandboxConfig(now=NOW, readings={"class_is_course": "no"}))
    assert app.readings == Readings(class_is_course="no") == app.platform.readings
    assert app.readings["class_is_course"] == "no" and app.readings.changed() == {"class_is_course": "no"}


def test_readings_change_at_runtime():
    with start_sandbox(SandboxConfig(now=NOW)) as sb:
        lesson = HELD[0]
        before = must(sb, "/lesson/io/info", {"lessonId": lesson.id})["data"]["count"]  # cached now
        sb.app.readings = {"attendance_rows": "students_and_teacher"}
        assert sb.app.readings == Readings(attendance_rows="students_and_teacher")
        assert must(sb, "/lesson/io/info", {"lessonId": lesson.id})["data"]["count"] == before + 1
        sb.app.readings = Readings()
        assert must(sb, "/lesson/io/info", {"lessonId": lesson.id})["data"]["count"] == before
        with pytest.raises(ValueError):
            sb.app.readings = {"empty": "nothing"}


def test_subprocess_sandbox_plays_its_readings():
    lesson = SCHOOL.lessons_on(FUTURE)[0]
    with start_sandbox_process(SandboxConfig(now=NOW, readings={"empty": "list"})) as sb:
        assert must(sb, "/lessonData/query", {"lid": lesson.id, "event_type": "handup"})["data"] == []
        assert "readings: empty=list" in sb.output


# ---------------------------------------------------------------------------- each key


def _rows(sb, lesson_id):
    """All of API 23's rows of a lesson, page by page, and the first page's data."""
    first = must(sb, "/lesson/io/info", {"lessonId": lesson_id})["data"]
    rows = list(first["data"])
    for page in range(2, first["sumpage"] + 1):
        rows += must(sb, "/lesson/io/info", {"lessonId": lesson_id, "page": page})["data"]["data"]
    return first, rows


def test_listen_time(sandboxes):
    lesson = next(x for x in HELD if any(r.late_seconds and r.leave_seconds for r in SCHOOL.activity(x).attendance))
    act = SCHOOL.activity(lesson)
    minutes = {r["user_id"]: r for r in _rows(sandboxes("default"), lesson.id)[1]}
    seconds = {r["user_id"]: r for r in _rows(sandboxes("listen_time"), lesson.id)[1]}
    for r in act.attendance:
        assert (minutes[r.user_id]["listen_time"], minutes[r.user_id]["u_late"], minutes[r.user_id]["u_leave"]) == (
            r.listen_minutes, r.late_minutes, r.leave_minutes)
        got = seconds[r.user_id]
        assert (got["listen_time"], got["u_late"], got["u_leave"]) == (r.listen_seconds, r.late_seconds,
                                                                       r.leave_seconds)
        assert (got["listen_time"] // 60, got["u_late"] // 60, got["u_leave"] // 60) == (
            r.listen_minutes, r.late_minutes, r.leave_minutes)
        assert got["inout_times"] == r.inout_times  # a count, not a duration
    assert any(r.listen_seconds % 60 for r in act.attendance)  # seconds, not minutes * 60
    t = act.teacher
    m34 = must(sandboxes("default"), "/v2/data/teacher/inout", {"lessonId": lesson.id})["data"]
    s34 = must(sandboxes("listen_time"), "/v2/data/teacher/inout", {"lessonId": lesson.id})["data"]
    assert (m34["listen_time"], m34["u_late"], m34["u_leave"]) == (t.listen_minutes, t.late_minutes, t.leave_minutes)
    assert (s34["listen_time"], s34["u_late"], s34["u_leave"]) == (t.listen_seconds, t.late_seconds, t.leave_seconds)
    assert s34["listen_time"] > 60 * t.listen_minutes - 60 and s34["listen_time"] // 60 == t.listen_minutes
    assert {k: v for k, v in s34.items() if k not in ("listen_time", "u_late", "u_leave")} == {
        k: v for k, v in m34.items() if k not in ("listen_time", "u_late", "u_leave")}


def test_attendance_rows(sandboxes):
    big = next(x for x in HELD if len(x.student_ids) > 40)
    forty = [x for x in SCHOOL.lessons_on(PAST) + SCHOOL.lessons_on(PAST - timedelta(days=1))
             if len(x.student_ids) % 40 == 0]
    for lesson in [big, HELD[0], *forty[:1]]:
        n = len(lesson.student_ids)
        first, rows = _rows(sandboxes("default"), lesson.id)
        assert first["count"] == n == len(rows) and first["sumpage"] == math.ceil(n / 40)
        assert lesson.teacher_id not in {r["user_id"] for r in rows}
        first_t, rows_t = _rows(sandboxes("attendance_rows"), lesson.id)
        assert first_t["count"] == n + 1 == len(rows_t) and first_t["sumpage"] == math.ceil((n + 1) / 40)
        teacher34 = must(sandboxes("default"), "/v2/data/teacher/inout", {"lessonId": lesson.id})["data"]
        assert rows_t[0] == {"user_id": teacher34["teacher_id"], "listen_time": teacher34["listen_time"],
                             "inout_times": teacher34["inout_times"], "u_late": teacher34["u_late"],
                             "u_leave": teacher34["u_leave"]}
        assert rows_t[1:] == rows
    page2 = must(sandboxes("attendance_rows"), "/lesson/io/info", {"lessonId": big.id, "page": 2})["data"]
    assert page2["data"][0] == _rows(sandboxes("default"), big.id)[1][39]  # the teacher shifted every page by one


def _window_ids(sb, start: datetime, end: datetime) -> list[int]:
    fmt = "%Y-%m-%d %H:%M:%S"
    data = must(sb, "/lesson/get_class_info", {"start_time": start.strftime(fmt), "end_time": end.strftime(fmt)})
    return [int(i["lesson_id"]) for i in data["data"]]


def test_class_window(sandboxes):
    default, actual = sandboxes("default"), sandboxes("class_window")
    late = next(x for x in HELD if SCHOOL.activity(x).actual_start - x.start >= timedelta(minutes=2))
    early = next(x for x in HELD if SCHOOL.activity(x).actual_start < x.start)
    for lesson in (late, early):
        s, a = lesson.start, SCHOOL.activity(lesson).actual_start
        minute = timedelta(minutes=1)
        assert lesson.id in _window_ids(default, s, s + minute)
        assert lesson.id not in _window_ids(actual, s, s + minute) or s <= a < s + minute
        assert lesson.id in _window_ids(actual, a, a + timedelta(seconds=1))  # [start, end): start included
        assert lesson.id not in _window_ids(actual, a - minute, a)  # end excluded
        assert lesson.id not in _window_ids(default, a, a + timedelta(seconds=1)) or s == a
    # a lesson never started is matched on its scheduled start: the not-started and the never-held
    never = next(x for x in SCHOOL.lessons_on(PAST) if SCHOOL.status(x) == 3)
    future = SCHOOL.lessons_on(FUTURE)[0]
    for lesson in (never, future):
        assert SCHOOL.activity(lesson).actual_start is None
        assert lesson.id in _window_ids(actual, lesson.start, lesson.start + timedelta(seconds=1))
    # a whole day: the same lessons but the ones whose actual start crossed the day's bounds
    day0 = datetime(PAST.year, PAST.month, PAST.day, tzinfo=TZ)
    by_scheduled, by_actual = _window_ids(default, day0, day0 + timedelta(days=1)), _window_ids(
        actual, day0, day0 + timedelta(days=1))
    expected = sorted(x.id for d in (PAST - timedelta(days=1), PAST, PAST + timedelta(days=1))
                      for x in SCHOOL.lessons_on(d)
                      if day0 <= (SCHOOL.activity(x).actual_start or x.start) < day0 + timedelta(days=1))
    assert sorted(by_actual) == expected and sorted(by_scheduled) == [x.id for x in SCHOOL.lessons_on(PAST)]


def test_class_is_course(sandboxes):
    # a held lesson whose course had a lesson in the two weeks before
    lesson, same_course = next((x, y) for x in HELD for d in range(1, 15) for y in SCHOOL.lessons_on(PAST - timedelta(days=d))
                               if y.classroom_id == x.classroom_id)
    other = next(x for x in HELD if x.classroom_id != lesson.classroom_id)
    c30 = must(sandboxes("default"), "/lesson/getClassInfo", {"lessonId": lesson.id})["data"]
    assert c30 == {"id": lesson.classroom_id, "name": SCHOOL.classroom(lesson.classroom_id).name}
    assert must(sandboxes("default"), "/lesson/finish", {"classroomId": c30["id"]})["data"]["total"] > 0
    sb = sandboxes("class_is_course")
    k30 = must(sb, "/lesson/getClassInfo", {"lessonId": lesson.id})["data"]
    assert k30["id"] == class_id_of(lesson.classroom_id) != lesson.classroom_id and k30["id"] >= CLASS_ID_BASE
    assert k30["name"] == c30["name"] + "班"
    refused = post(sb, "/lesson/finish", {"classroomId": k30["id"]})
    assert refused["status"] == 0 and code_of(refused) == 40003
    assert must(sb, "/lesson/finish", {"classroomId": lesson.classroom_id})["data"] == must(
        sandboxes("default"), "/lesson/finish", {"classroomId": lesson.classroom_id})["data"]
    assert must(sb, "/lesson/getClassInfo", {"lessonId": same_course.id})["data"]["id"] == k30["id"]
    assert must(sb, "/lesson/getClassInfo", {"lessonId": other.id})["data"]["id"] != k30["id"]
    ids = [class_id_of(c) for c in range(200_000, 832_000_000, 997)]  # up to the school's last classroom id + [class_id_of(990_000_000 + i) for i in range(99)]
    assert len(set(ids)) == len(ids) and min(ids) >= CLASS_ID_BASE and max(ids) < 2**31


def _array_calls(ids: list[int], mobile: int, as_json: bool):
    def form(values):
        return json.dumps(values) if as_json else values

    return [("/lesson/get_lesson_status", {"lesson_id": form(ids)}), ("/lesson/info", {"lessonId": form(ids)}),
            ("/user/id", {"mobile": form([mobile])}), ("/lesson/student/award", {"lessonIds": form(ids)})]


def test_arrays(sandboxes):
    ids = [x.id for x in HELD[:3]]
    mobile = SCHOOL.teachers()[0].mobile
    default, strict = sandboxes("default"), sandboxes("arrays")
    natives = [must(default, p, q)["data"] for p, q in _array_calls(ids, mobile, as_json=False)]
    # the default: the documented native array, and the JSON-string form too (section 4 (b)), as today
    assert [must(default, p, q)["data"] for p, q in _array_calls(ids, mobile, as_json=True)] == natives
    # json_string: only the JSON-string form; a native array is a wrong type
    assert [must(strict, p, q)["data"] for p, q in _array_calls(ids, mobile, as_json=True)] == natives
    for path, params in _array_calls(ids, mobile, as_json=False):
        body = post(strict, path, params)
        assert body["status"] == 0 and code_of(body) == 40002 and "JSON string" in body["msg"], (path, body)
    for path, params in _array_calls(ids[:1], mobile, as_json=False):  # also a one-id array (what a probe sends)
        assert code_of(post(strict, path, params)) == 40002


def _json_array_calls(sb, as_native: bool):
    """APIs 3, 4, 8.1, 10, 12 on a fresh course and a future lesson, with their array parameter in one form."""
    def form(values):
        return values if as_native else json.dumps(values, ensure_ascii=False)

    teacher = SCHOOL.teachers()[0]
    cid = must(sb, "/classroom/create", {"teacherId": teacher.id, "className": "读法测试", "category": 2})["classroomId"]
    future = SCHOOL.lessons_on(FUTURE)[1]
    students = [s.id for s in SCHOOL.students()[-3:]]
    return [
        ("/classroom/student/add", {"classroomId": cid, "studentId": form(students[:2])}),
        ("/classroom/courseware/add", {"classroomId": cid, "coursewareIds": form([10001, 10002])}),
        ("/lesson/multi_create", {"classroomId": cid, "genre": 1, "dataInfo": form(
            [{"createDate": "2024-06-10", "startTime": "09:00", "endTime": "10:00", "lessonName": "一"}])}),
        ("/lesson/add/disk", {"lessonId": future.id, "diskId": form([10003])}),
        ("/lesson/add/student", {"lessonId": future.id, "studentId": form(students[2:])}),
    ]


def test_json_arrays():
    answers = {}
    for readings, as_native in (({}, False), ({}, True), ({"json_arrays": "native"}, True)):
        with start_sandbox(SandboxConfig(now=NOW, readings=readings)) as sb:  # fresh state for the writes
            answers[(bool(readings), as_native)] = [must(sb, p, q) for p, q in _json_array_calls(sb, as_native)]
    # the default takes the documented JSON string and, as today, a native array; json_arrays=native the native
    assert answers[(False, False)] == answers[(False, True)] == answers[(True, True)]
    with start_sandbox(SandboxConfig(now=NOW, readings={"json_arrays": "native"})) as sb:
        for path, params in _json_array_calls(sb, as_native=False):
            body = post(sb, path, params)
            assert body["status"] == 0 and code_of(body) == 40002 and "native array" in body["msg"], (path, body)
        assert sb.platform.version == 1  # only the course was created: no refused write was applied


def test_unknown_ids(sandboxes):
    known = HELD[0]
    cases = [("/lesson/get_lesson_status", "lesson_id", "lesson_id"), ("/lesson/info", "lessonId", "zby_lid"),
             ("/lesson/student/award", "lessonIds", "lesson_id")]
    for path, name, key in cases:
        body = post(sandboxes("default"), path, {name: [known.id, 1]})
        assert body["status"] == 0 and code_of(body) == 40003 and "1 does not exist" in body["msg"]
        omitted = must(sandboxes("unknown_ids"), path, {name: [known.id, 1]})["data"]
        assert omitted == must(sandboxes("default"), path, {name: [known.id]})["data"]
        assert {int(i[key]) for i in omitted} <= {known.id}
        assert must(sandboxes("unknown_ids"), path, {name: [1, 2]})["data"] == []
    assert code_of(post(sandboxes("unknown_ids"), "/lesson/info", {"lessonId": ["x"]})) == 40002  # still a type


def test_empty(sandboxes):
    future = SCHOOL.lessons_on(FUTURE)[0]
    assert must(sandboxes("default"), "/lessonData/query", {"lid": future.id, "event_type": "handup"})["data"] == {}
    sb = sandboxes("empty")
    raw = requests.post(sb.base_url + "/lessonData/query", data={
        "applicationID": sb.app_id, "signMsg": encode_sign_msg({"lid": future.id, "event_type": "handup"},
                                                               sb.secret)}).content
    assert raw.endswith(b'"data":[]}')
    lesson, ((uid, etype), times) = next((x, next(iter(SCHOOL.activity(x).events.items())))
                                         for x in HELD if SCHOOL.activity(x).events)
    counts = must(sandboxes("empty"), "/lessonData/query", {"lid": lesson.id, "event_type": etype})["data"]
    assert isinstance(counts, dict) and counts[str(uid)] == len(times)  # a non-empty answer is still keyed


# ---------------------------------------------------------------------------- all at once


def test_all_alternatives_at_once(sandboxes):
    sb = sandboxes("all")
    assert sb.app.readings == Readings(**ALTERNATIVES)
    lesson = next(x for x in HELD if SCHOOL.activity(x).actual_start - x.start >= timedelta(minutes=2))
    ids = json.dumps([lesson.id, 1])  # arrays=json_string, unknown_ids=omit
    assert [int(i["zby_lid"]) for i in must(sb, "/lesson/info", {"lessonId": ids})["data"]] == [lesson.id]
    assert [int(i["lesson_id"]) for i in must(sb, "/lesson/get_lesson_status", {"lesson_id": ids})["data"]] == [
        lesson.id]
    must(sb, "/lesson/student/award", {"lessonIds": ids})
    assert code_of(post(sb, "/lesson/info", {"lessonId": [lesson.id]})) == 40002
    first, rows = _rows(sb, lesson.id)  # students_and_teacher, seconds
    act = SCHOOL.activity(lesson)
    assert first["count"] == len(lesson.student_ids) + 1 and rows[0]["user_id"] == lesson.teacher_id
    assert rows[0]["listen_time"] == act.teacher.listen_seconds
    assert must(sb, "/v2/data/teacher/inout", {"lessonId": lesson.id})["data"]["listen_time"] == act.teacher.listen_seconds
    assert lesson.id not in _window_ids(sb, lesson.start, lesson.start + timedelta(minutes=1))  # actual_start
    assert lesson.id in _window_ids(sb, act.actual_start, act.actual_start + timedelta(minutes=1))
    cid = must(sb, "/lesson/getClassInfo", {"lessonId": lesson.id})["data"]["id"]
    assert code_of(post(sb, "/lesson/finish", {"classroomId": cid})) == 40003
    future = SCHOOL.lessons_on(FUTURE)[0]
    assert must(sb, "/lessonData/query", {"lid": future.id, "event_type": "onstage"})["data"] == []
    students = [s.id for s in SCHOOL.students()[:2]]
    assert code_of(post(sb, "/lesson/add/student", {"lessonId": future.id, "studentId": json.dumps(students)})) == 40002
    assert must(sb, "/lesson/add/student", {"lessonId": future.id, "studentId": students})["data"]["notFound"] == []


# ---------------------------------------------------------------------------- the truth


def _tables(school: School, out) -> dict:
    write_truth(school, PAST - timedelta(days=1), PAST + timedelta(days=1), out)
    return {name: pq.read_table(out / f"{name}.parquet") for name in TRUTH_SCHEMAS}


def test_truth_is_the_same_for_every_reading(tmp_path, sandboxes):
    reference = _tables(School(seed=7, now=NOW), tmp_path / "reference")
    configs = {"default": {}, **{k: {k: v} for k, v in ALTERNATIVES.items()}, "all": ALTERNATIVES}
    for name, readings in configs.items():
        school = make_app(SandboxConfig(now=NOW, readings=readings)).platform.school
        tables = _tables(school, tmp_path / name)
        for table, t in reference.items():
            assert tables[table].equals(t), (name, table)
    # a sandbox that served under every alternative reading still holds the same school
    sb = sandboxes("all")
    for lesson in HELD[:3]:
        post(sb, "/lesson/io/info", {"lessonId": lesson.id})
        post(sb, "/lessonData/query", {"lid": lesson.id, "event_type": "handup"})
    served = _tables(sb.platform.school, tmp_path / "served")
    assert all(served[t].equals(reference[t]) for t in reference)


def test_truth_command_takes_readings_and_ignores_them(tmp_path):
    base = ["truth", "--seed", "7", "--start", "2024-05-30", "--end", "2024-05-30", "--now", "2024-06-01 12:00",
            "--lessons-per-day", "12"]
    plain = CliRunner().invoke(sandbox, [*base, "--out", str(tmp_path / "plain")])
    flags = [a for k, v in ALTERNATIVES.items() for a in ("--reading", f"{k}={v}")]
    read = CliRunner().invoke(sandbox, [*base, "--out", str(tmp_path / "read"), *flags])
    assert plain.exit_code == read.exit_code == 0, read.output
    assert plain.output.splitlines()[:-1] == read.output.splitlines()[:-1]  # rows per table ("written to" aside)
    for name in TRUTH_SCHEMAS:
        assert pq.read_table(tmp_path / "plain" / f"{name}.parquet").equals(
            pq.read_table(tmp_path / "read" / f"{name}.parquet")), name
    bad = CliRunner().invoke(sandbox, [*base, "--out", str(tmp_path / "bad"), "--reading", "empty=null"])
    assert bad.exit_code == 2 and "empty" in bad.output
