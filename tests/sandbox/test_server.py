"""The sandbox server over real HTTP: protocol error codes, determinism, management -> reporting, faults."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime

import pytest
import requests

from pipeline.api.errors import ERROR_MESSAGES
from pipeline.api.signing import encode_sign_msg
from pipeline.sandbox.runner import INACTIVE_APP_ID, SandboxConfig, start_sandbox
from pipeline.sandbox.school import TZ, School

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=TZ)
PAST = date(2024, 5, 30)
FUTURE = date(2024, 6, 3)
SCHOOL = School(seed=7, now=NOW)


def post(sb, path, params=None, *, app_id=None, secret=None, session=None, timeout=10, **kw):
    data = {}
    if app_id is not False:
        data["applicationID"] = app_id or sb.app_id
    if params is not None:
        data["signMsg"] = encode_sign_msg(params, secret or sb.secret)
    return (session or requests).post(sb.base_url + path, data=data, timeout=timeout, **kw)


def code_of(resp) -> int:
    body = resp.json()
    return body.get("error_code", body.get("code"))


@pytest.fixture(scope="module")
def sb():
    with start_sandbox(SandboxConfig(now=NOW)) as s:
        yield s


def past_lesson(min_students=2):
    return next(x for x in SCHOOL.lessons_on(PAST) if SCHOOL.status(x) == 2 and len(x.student_ids) >= min_students)


# ---------------------------------------------------------------------------- protocol


def test_protocol_error_codes(sb):
    lesson = past_lesson()
    cases = [
        (requests.get(sb.base_url + "/lesson/info"), 30002),
        (requests.put(sb.base_url + "/lesson/info", data={"applicationID": sb.app_id}), 30002),
        (post(sb, "/lesson/nope", {"lessonId": 1}), 30001),
        (post(sb, "/lesson/info", {"lessonId": [lesson.id]}, app_id=False), 20001),
        (post(sb, "/lesson/info", None), 20002),
        (post(sb, "/lesson/info", {"lessonId": [lesson.id]}, app_id="no-such-app"), 20003),
        (post(sb, "/lesson/info", {"lessonId": [lesson.id]}, app_id=INACTIVE_APP_ID), 20004),
        (post(sb, "/lesson/info", {"lessonId": [lesson.id]}, secret="another-secret"), 20005),
        (requests.post(sb.base_url + "/lesson/info", data={"applicationID": sb.app_id, "signMsg": "abc$%"}), 20005),
        (post(sb, "/lesson/info", {"lesson_id": [lesson.id]}), 40001),
        (post(sb, "/lesson/info", {"lessonId": "not json"}), 40002),
        (post(sb, "/lesson/io/info", {"lessonId": 1.5}), 40002),
        (post(sb, "/lesson/io/info", {"lessonId": 123}), 40003),
        (post(sb, "/lesson/info", {"lessonId": list(range(100_000_000, 100_000_101))}), 40004),
        (post(sb, "/lesson/delete", {"lessonId": lesson.id}), 40004),
        (post(sb, "/user/create", {"userData": [
            {"userPhone": str(13000000000 + i), "userName": "x", "userType": "1", "userGender": "1"}
            for i in range(51)]}), 40004),
        (post(sb, "/classroom/student/add", {"classroomId": lesson.classroom_id,
                                             "studentId": json.dumps(list(range(2_000_000, 2_000_051)))}), 40004),
        (requests.post(sb.base_url + "/lesson/info", data=b"x" * (1024 * 1024 + 10),
                       headers={"content-type": "application/x-www-form-urlencoded"}), 40003),
    ]
    for i, (resp, expected) in enumerate(cases):
        assert resp.status_code == 200, i
        assert resp.headers["content-type"] == "application/json; charset=utf-8"
        body = resp.json()
        assert body["status"] == 0 and body["data"] is None, (i, body)
        assert body["error_code"] == expected, (i, body)
        assert body["msg"].startswith(ERROR_MESSAGES[expected]), (i, body)
    # API 34 answers errors with "code" instead of "error_code"
    body = post(sb, "/v2/data/teacher/inout", {"lessonId": "x"}).json()
    assert body["code"] == 40002 and "error_code" not in body


def test_success_envelope_and_encoding(sb):
    lesson = past_lesson()
    r = post(sb, "/lesson/info", {"lessonId": [lesson.id]})
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    raw = r.content
    body = json.loads(raw)
    assert list(body) == ["status", "error_code", "msg", "data"]
    assert body["msg"] == "获取信息成功"
    assert "获取信息成功".encode() in raw  # ensure_ascii=False, compact separators
    assert b", " not in raw and b": " not in raw
    item = body["data"][0]
    assert item["zby_lid"] == lesson.id and item["end_time"].endswith(":59")


def test_concurrent_connections(sb):
    from concurrent.futures import ThreadPoolExecutor

    lesson = past_lesson()

    def one(_):
        with requests.Session() as s:
            return [code_of(post(sb, "/lesson/io/info", {"lessonId": lesson.id}, session=s)) for _ in range(3)]

    with ThreadPoolExecutor(64) as ex:
        results = [c for cs in ex.map(one, range(64)) for c in cs]
    assert results == [10000] * 192


# ---------------------------------------------------------------------------- determinism


def _report_bytes(sb) -> list[bytes]:
    lessons = [x for x in SCHOOL.lessons_on(PAST) if SCHOOL.status(x) == 2][:5]
    reqs = [
        ("/lesson/get_class_info", {"start_time": "2024-5-30 00:00", "end_time": "2024-05-31 00:00:00"}),
        ("/lesson/info", {"lessonId": [x.id for x in lessons]}),
        *[("/lesson/io/info", {"lessonId": x.id}) for x in lessons],
        *[("/lessonData/query", {"lid": x.id, "event_type": et}) for x in lessons for et in ("handup", "reward")],
    ]
    return [post(sb, path, params).content for path, params in reqs]


def test_determinism_across_sandboxes():
    with start_sandbox(SandboxConfig(seed=7, now=NOW)) as a, start_sandbox(SandboxConfig(seed=7, now=NOW)) as b:
        ra, rb = _report_bytes(a), _report_bytes(b)
    assert ra == rb
    assert all(json.loads(x)["status"] == 1 for x in ra)
    with start_sandbox(SandboxConfig(seed=8, now=NOW)) as c:
        rc = _report_bytes(c)
    assert rc != ra


# ---------------------------------------------------------------------------- management -> reporting


def test_management_changes_reporting():
    with start_sandbox(SandboxConfig(now=NOW)) as sb:
        teacher, other_teacher = SCHOOL.teachers()[0], SCHOOL.teachers()[1]
        r = post(sb, "/classroom/create", {"teacherId": teacher.id, "className": "沙盒测试课程", "category": 7}).json()
        assert r["status"] == 1, r
        cid = r["classroomId"]
        r = post(sb, "/lesson/create", {"classroomId": cid, "startTime": "2024-06-03 09:00",
                                         "endTime": "2024-06-03 10:00", "genre": 0}).json()
        assert r["status"] == 1 and r["msg"] == "新增课节成功", r
        lid = r["data"]
        assert lid >= 900_000_000

        window = {"start_time": "2024-6-3 00:00", "end_time": "2024-6-4 00:00"}
        ids = [row["lesson_id"] for row in post(sb, "/lesson/get_class_info", window).json()["data"]]
        assert str(lid) in ids
        info = post(sb, "/lesson/info", {"lessonId": [lid]}).json()["data"][0]
        assert info == {"zby_lid": lid, "status": 0, "actual_start_time": None, "actual_end_time": None,
                        "teacher_name": teacher.name, "start_time": "2024-06-03 09:00:00",
                        "end_time": "2024-06-03 10:00:59"}

        # change the teacher
        assert post(sb, "/lesson/change/teacher", {"lessonId": lid, "teacherId": other_teacher.id}).json()["status"] == 1
        info = post(sb, "/lesson/info", {"lessonId": [lid]}).json()["data"][0]
        assert info["teacher_name"] == other_teacher.name

        # students: course (API 3) and lesson (API 12) -> API 23 count grows
        def count(lesson_id):
            return post(sb, "/lesson/io/info", {"lessonId": lesson_id}).json()["data"]["count"]

        assert count(lid) == 0
        students = [s.id for s in SCHOOL.students()[:3]]
        r = post(sb, "/classroom/student/add", {"classroomId": cid, "studentId": json.dumps(students + [42])}).json()
        assert r["status"] == 1 and r["notEnterStudentIds"] == [42], r
        assert count(lid) == 3
        future = SCHOOL.lessons_on(FUTURE)[0]
        before = count(future.id)
        r = post(sb, "/lesson/add/student", {"lessonId": future.id, "studentId": json.dumps([students[0], 7])}).json()
        assert r["status"] == 1 and len(r["data"]["notFound"]) == 1, r
        assert count(future.id) == before + 1

        # course progress sees the created lesson
        prog = post(sb, "/lesson/finish", {"classroomId": cid}).json()["data"]
        assert prog == {"finish": 0, "lessonNotStart": 1, "lessonOnClass": 0, "lessonExpired": 0, "total": 1}

        # edit, then delete: a started lesson cannot be deleted, a future one can
        r = post(sb, "/lesson/edit", {"lessonId": lid, "newName": "改名", "startTime": "2024-06-04 09:00",
                                       "endTime": "2024-06-04 09:45"}).json()
        assert r["status"] == 1, r
        assert str(lid) not in [x["lesson_id"] for x in post(sb, "/lesson/get_class_info", window).json()["data"]]
        info = post(sb, "/lesson/info", {"lessonId": [lid]}).json()["data"][0]
        assert info["start_time"] == "2024-06-04 09:00:00" and info["end_time"] == "2024-06-04 09:45:59"
        assert code_of(post(sb, "/lesson/delete", {"lessonId": past_lesson().id})) == 40004
        assert post(sb, "/lesson/delete", {"lessonId": lid}).json() == {
            "status": 1, "error_code": 10000, "msg": "删除课节成功", "data": lid}
        assert code_of(post(sb, "/lesson/info", {"lessonId": [lid]})) == 40003

        # users: create, look up by mobile, change mobile and name
        r = post(sb, "/user/create", {"userData": [{"userPhone": "13800138000", "userName": "张一", "userType": "1",
                                                    "userGender": "1"}]}).json()
        assert r["status"] == 1, r
        uid = r["data"][0]["uid"]
        assert post(sb, "/user/id", {"mobile": [13800138000]}).json()["data"] == [
            {"uid": uid, "mobile": 13800138000, "role": 3}]
        assert code_of(post(sb, "/user/create", {"userData": [{"userPhone": "13800138000", "userName": "x",
                                                               "userType": 1, "userGender": 1}]})) == 40004
        r = post(sb, "/user/edit", {"newMobile": 13800138009, "oldMobile": 13800138000}).json()
        assert r == {"status": 1, "uid": uid, "error_code": 10000, "msg": "修改用户手机号成功"}
        assert post(sb, "/user/id", {"mobile": "[13800138000, 13800138009]"}).json()["data"] == [
            {"uid": uid, "mobile": 13800138009, "role": 3}]


# ---------------------------------------------------------------------------- faults


def _outcome(sb, path, params, session) -> tuple[str, bytes | None]:
    try:
        r = post(sb, path, params, session=session, timeout=(2, 0.2))
    except requests.exceptions.ReadTimeout:
        return "slow", None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError):
        return "reset", None
    if r.status_code != 200:
        if r.status_code == 429:
            assert r.headers.get("retry-after") == "1"
        return f"http{r.status_code}", None
    try:
        body = r.json()
    except ValueError:
        return "truncated", None
    if body.get("error_code", body.get("code")) == 50000:
        return "code50000", None
    return "ok", r.content


def test_every_fault_kind_appears():
    lesson = past_lesson()
    with start_sandbox(SandboxConfig(now=NOW, fault_rate=1.0, slow_seconds=0.5)) as sb:
        seen = Counter()
        for i in range(120):
            with requests.Session() as s:
                kind, _ = _outcome(sb, "/lesson/io/info", {"lessonId": lesson.id}, s)
            seen[kind] += 1
            if i >= 40 and len(seen) == 8:
                break
    assert set(seen) == {"http500", "http502", "http503", "http429", "code50000", "slow", "reset", "truncated"}, seen


def test_faulted_writes_are_not_applied():
    with start_sandbox(SandboxConfig(now=NOW, fault_rate=1.0, slow_seconds=0.2)) as sb:
        for i in range(20):
            with requests.Session() as s:
                _outcome(sb, "/user/create", {"userData": [{"userPhone": str(13900000000 + i), "userName": "x",
                                                            "userType": 1, "userGender": 1}]}, s)
        assert sb.platform.version == 0  # no write went through


def test_retries_at_half_fault_rate_give_unfaulted_answers():
    lessons = [x for x in SCHOOL.lessons_on(PAST) if SCHOOL.status(x) == 2][:4]
    reqs = [("/lesson/get_class_info", {"start_time": "2024-05-30 00:00:00", "end_time": "2024-05-31 00:00"})]
    for x in lessons:
        reqs += [("/lesson/io/info", {"lessonId": x.id}), ("/v2/data/teacher/inout", {"lessonId": x.id}),
                 ("/lesson/student/award", {"lessonIds": [x.id]}), ("/lessonData/query", {"lid": x.id,
                                                                                         "event_type": "handup"})]
    with start_sandbox(SandboxConfig(now=NOW)) as clean:
        expected = [post(clean, p, q).content for p, q in reqs]
    with start_sandbox(SandboxConfig(now=NOW, fault_rate=0.5, slow_seconds=0.5)) as sb:
        got = []
        faults = 0
        session = requests.Session()
        for path, params in reqs:
            for _attempt in range(40):
                kind, content = _outcome(sb, path, params, session)
                if kind == "ok":
                    got.append(content)
                    break
                faults += 1
                session.close()
                session = requests.Session()
            else:  # pragma: no cover
                pytest.fail(f"no success for {path}")
        session.close()
    assert got == expected
    assert faults > 0
