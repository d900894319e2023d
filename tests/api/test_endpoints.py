"""Typed endpoint methods: documented parameter names and types as they arrive at a real server."""

from __future__ import annotations

import datetime as dt
import inspect
import os
import re
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from loopback import Loopback, ok  # noqa: E402

from pipeline.api import ENDPOINTS, ApiError, LiveClassClient, PaginationError, RetriesExhausted  # noqa: E402
from pipeline.api.catalog import WRITE_PATHS  # noqa: E402
from pipeline.api.endpoints import EndpointsMixin  # noqa: E402

#: The document's heading + Path line of every API, and its section 3.1 (as printed).
DOC = Path(__file__).parents[1] / "fixtures" / "openapi_paths.md"
FAST = dict(timeout=(1.0, 1.0), backoff_base=0.005, backoff_max=0.05, max_attempts=3)

EXPECTED_APIS = [str(n) for n in range(1, 35)] + ["8.1"]


def test_endpoints_table_covers_all_35():
    apis = [e.api for e in ENDPOINTS]
    assert sorted(apis) == sorted(EXPECTED_APIS) and len(set(apis)) == 35
    assert len({e.path for e in ENDPOINTS}) == 35
    assert len({e.method for e in ENDPOINTS}) == 35
    for e in ENDPOINTS:
        assert callable(getattr(LiveClassClient, e.method)), e
        assert e.method in EndpointsMixin.__dict__
    assert issubclass(LiveClassClient, EndpointsMixin)


def test_endpoint_paths_match_the_document():
    text = DOC.read_text(encoding="utf-8")
    documented = dict(re.findall(r"^### API (\d+(?:\.\d+)?) .*?\n\*\*Path:\*\* `([^`]+)`", text, re.M | re.S))
    assert len(documented) == 35
    assert {e.api: e.path for e in ENDPOINTS} == documented


def test_reporting_endpoints_of_the_document_are_reads():
    text = DOC.read_text(encoding="utf-8")
    reporting = dict(re.findall(r"^\| (\d+) \| `([^`]+)` \|", text, re.M))
    assert len(reporting) == 14
    assert {e.api: e.path for e in ENDPOINTS if e.api in reporting} == reporting
    assert not set(reporting.values()) & WRITE_PATHS


D = dt.datetime(2024, 3, 5, 9, 7, 6)

# method, args, kwargs, path, params expected at the server, body answered, expected return value
CASES = [
    ("create_users", ([{"userPhone": "13800138000", "userName": "张一", "userType": "1", "userGender": "1"}],), {},
     "/user/create", {"userData": [{"userPhone": "13800138000", "userName": "张一", "userType": "1",
                                    "userGender": "1"}]},
     ok([{"mobile": "13800138000", "uid": 1}]), [{"mobile": "13800138000", "uid": 1}]),
    ("create_classroom", (11020, "我的课程", 1), {"smallRoutine": 1, "is_replay": 1, "replayDuration": 365},
     "/classroom/create", {"teacherId": 11020, "className": "我的课程", "category": 1, "smallRoutine": 1,
                           "isReplay": 1, "replayDuration": 365},
     ok(classroomId=1002), 1002),
    ("add_classroom_students", (11020, [1234, 3456]), {},
     "/classroom/student/add", {"classroomId": 11020, "studentId": "[1234,3456]"},
     ok(**{"notEnterStudentIds ": [1234]}), [1234]),
    ("add_classroom_coursewares", (11020, [1234, 3456]), {},
     "/classroom/courseware/add", {"classroomId": 11020, "coursewareIds": "[1234,3456]"}, ok(), None),
    ("delete_classroom", (1002,), {}, "/classroom/delete", {"classroomId": 1002}, ok(), None),
    ("upload_courseware", ("我的课件示例.ppt", 30234, "https://files.invalid/a.pptx", 1), {"covt": 1},
     "/courseware/upload", {"filename": "我的课件示例.ppt", "filesize": 30234,
                            "coursewareUrl": "https://files.invalid/a.pptx", "type": 1, "covt": 1},
     ok(coursewareId=11020), 11020),
    ("list_coursewares", (1, 20), {}, "/courseware/list", {"page": 1, "pageSize": 20},
     {"status": 1, "msg": "", "data": {"count": 0, "page": "1", "pageSize": "20", "sumpage": 0, "list": []}},
     {"count": 0, "page": "1", "pageSize": "20", "sumpage": 0, "list": []}),
    ("create_lesson", (148, D, "2024-03-05 10:00", 1), {"teacher_id": 28335, "lesson_name": "初二一班",
                                                        "is_replay": 1, "replay_duration": 365},
     "/lesson/create", {"classroomId": 148, "startTime": "2024-03-05 09:07", "endTime": "2024-03-05 10:00",
                        "genre": 1, "teacherId": 28335, "lessonName": "初二一班", "is_replay": 1,
                        "replay_duration": 365},
     ok(219343875, command=872353), ok(219343875, command=872353).body),
    ("create_lessons", (148, [{"creatDate": dt.date(2018, 12, 14), "startTime": dt.time(9, 0), "endTime": "10:30",
                               "lessonName": "hao 课节"}], 1), {"teacher_id": 200006},
     "/lesson/multi_create", {"classroomId": 148, "genre": 1, "teacherId": 200006,
                              "dataInfo": '[{"creatDate":"2018-12-14","startTime":"09:00","endTime":"10:30",'
                                          '"lessonName":"hao 课节"}]'},
     ok(219343875), 219343875),
    ("delete_lesson", (219343891,), {}, "/lesson/delete", {"lessonId": 219343891}, ok(219343891), 219343891),
    ("add_lesson_coursewares", (219343891, [234, 235]), {}, "/lesson/add/disk",
     {"lessonId": 219343891, "diskId": "[234,235]"}, ok({"notFound": [], "unConverted": [], "alreadyExist": []}),
     {"notFound": [], "unConverted": [], "alreadyExist": []}),
    ("remove_lesson_courseware", (460010, 267), {}, "/lesson/delete/disk", {"lessonId": 460010, "diskId": 267},
     ok(267), 267),
    ("add_lesson_students", (219343891, ["23235", 234237]), {}, "/lesson/add/student",
     {"lessonId": 219343891, "studentId": "[23235,234237]"}, ok({"notFound": [], "already": []}),
     {"notFound": [], "already": []}),
    ("remove_lesson_student", (460010, 26724), {}, "/lesson/delete/student", {"lessonId": 460010, "studentId": 26724},
     ok(26724), 26724),
    ("change_lesson_teacher", (460010, 11306), {}, "/lesson/change/teacher", {"lessonId": 460010, "teacherId": 11306},
     ok(), None),
    ("edit_lesson", (460010,), {"new_name": "新", "start_time": D, "end_time": D + dt.timedelta(hours=1),
                                "parent_supervise": 1, "collect_info": 0},
     "/lesson/edit", {"lessonId": 460010, "newName": "新", "startTime": "2024-03-05 09:07",
                      "endTime": "2024-03-05 10:07", "parentSupervise": 1, "collectInfo": 0}, ok(), None),
    ("get_help_info", (D, D + dt.timedelta(days=1)), {}, "/lesson/get_help_info",
     {"start_time": "2024-03-05 09:07", "end_time": "2024-03-06 09:07"},
     {"status": 1, "msg": "", "data": [{"lesson_id": "1"}]}, [{"lesson_id": "1"}]),
    ("get_class_info", (D, "2024-03-06 00:00:00"), {}, "/lesson/get_class_info",
     {"start_time": "2024-03-05 09:07:06", "end_time": "2024-03-06 00:00:00"},
     {"status": 1, "msg": "", "data": [{"lesson_id": 4, "status": 2}]}, [{"lesson_id": 4, "status": 2}]),
    ("get_lesson_status", ([10001, "10002"],), {}, "/lesson/get_lesson_status", {"lesson_id": [10001, 10002]},
     {"status": 1, "msg": "成功", "data": [{"lesson_id": "10001"}]}, [{"lesson_id": "10001"}]),
    ("get_lesson_info", ([10001, 10002],), {}, "/lesson/info", {"lessonId": [10001, 10002]},
     ok([{"zby_lid": 10001}]), [{"zby_lid": 10001}]),
    ("get_user_ids", (["13410000002", 18616145322],), {}, "/user/id", {"mobile": [13410000002, 18616145322]},
     ok([{"uid": 100095, "mobile": 13410000002, "role": 2}]), [{"uid": 100095, "mobile": 13410000002, "role": 2}]),
    ("get_service_record", (100001, 24421), {}, "/lesson/service/record", {"lesson_id": 100001, "user_id": 24421},
     {"20160401": ["https://x.invalid/a.mp4"], "status": 1, "msg": "sucess", "script_flag": 1, "scribblelog": []},
     {"20160401": ["https://x.invalid/a.mp4"], "status": 1, "msg": "sucess", "script_flag": 1, "scribblelog": []}),
    ("edit_user_mobile", (12345678912, "12345678911"), {}, "/user/edit",
     {"newMobile": 12345678911, "oldMobile": 12345678912}, ok(uid=12345), 12345),
    ("get_attendance_page", (123, 2), {}, "/lesson/io/info", {"lessonId": 123, "page": 2},
     ok({"page": 2, "sumpage": 2, "count": 41, "data": [{"user_id": 1}]}),
     {"page": 2, "sumpage": 2, "count": 41, "data": [{"user_id": 1}]}),
    ("get_replay_url", (100001,), {}, "/lesson/replay/url", {"lessonId": 100001},
     ok({"lesson_id": "100001", "name": "测试", "mp4url": "http://x.invalid/a.mp4"}),
     {"lesson_id": "100001", "name": "测试", "mp4url": "http://x.invalid/a.mp4"}),
    ("get_student_awards", ([121322, 2351354],), {}, "/lesson/student/award", {"lessonIds": [121322, 2351354]},
     ok([{"user_id": 1, "award_num": 4, "lesson_id": 121322}]), [{"user_id": 1, "award_num": 4, "lesson_id": 121322}]),
    ("get_course_progress", (134215,), {}, "/lesson/finish", {"classroomId": 134215},
     ok({"finish": 1, "lessonNotStart": 0, "lessonOnClass": 0, "lessonExpired": 3, "total": 4}),
     {"finish": 1, "lessonNotStart": 0, "lessonOnClass": 0, "lessonExpired": 3, "total": 4}),
    ("get_key_event_counts", (134215, "toggle_mic_on"), {}, "/lessonData/query",
     {"lid": 134215, "event_type": "toggle_mic_on"}, ok({"2621913": 4, "2621885": "1"}),
     {"2621913": 4, "2621885": "1"}),
    ("get_key_event_times", (134215, 24421, "handup"), {}, "/lessonData/user/query",
     {"lid": 134215, "event_type": "handup", "uid": 24421},
     ok([{"event_time": "2020-05-09 22:40:21"}, {"event_time": "2020-05-09 22:41:40"}]),
     [{"event_time": "2020-05-09 22:40:21"}, {"event_time": "2020-05-09 22:41:40"}]),
    ("get_lesson_status_by_day", (dt.date(2020, 8, 10), 12345), {}, "/lessonData/status",
     {"day": "2020-08-10", "uid": 12345}, ok([{"id": 114547881, "status": 2}]), [{"id": 114547881, "status": 2}]),
    ("get_lesson_class", (13353521,), {}, "/lesson/getClassInfo", {"lessonId": 13353521},
     ok({"id": 5754247, "name": "测试"}), {"id": 5754247, "name": "测试"}),
    ("get_user_lessons", (1333521, D, "2020-09-01 18:00:00"), {}, "/lesson/byUser",
     {"userId": 1333521, "startTime": "2024-03-05 09:07:06", "endTime": "2020-09-01 18:00:00"},
     ok([{"lesson_id": 115344850}]), [{"lesson_id": 115344850}]),
    ("edit_user_info", (1333521, 1), {"user_name": "张三", "gender": 2}, "/user/editinfo",
     {"userId": 1333521, "userType": 1, "userName": "张三", "gender": 2}, ok(), None),
    ("remove_classroom_student", (1333521, 12345), {}, "/classroom/student/delete",
     {"classroomId": 1333521, "studentId": 12345}, ok(), None),
    ("get_teacher_inout", (1333521,), {}, "/v2/data/teacher/inout", {"lessonId": 1333521},
     {"status": 1, "code": 10000, "msg": "", "data": {"teacher_id": 599876, "listen_time": 50}},
     {"teacher_id": 599876, "listen_time": 50}),
]


def test_cases_cover_every_endpoint():
    assert sorted(c[0] for c in CASES) == sorted(e.method for e in ENDPOINTS)


@pytest.fixture(scope="module")
def server():
    answers: dict[str, object] = {}
    srv = Loopback(lambda path, params, attempt: answers[path])
    srv.answers = answers
    with srv:
        yield srv


@pytest.fixture
def client(server):
    server.requests.clear()
    server._seen.clear()
    c = LiveClassClient(server.url, server.app_id, server.secret, **FAST)
    yield c
    c.close()


@pytest.mark.parametrize("method,args,kwargs,path,params,body,expected", CASES, ids=[c[0] for c in CASES])
def test_method_sends_documented_parameters(server, client, method, args, kwargs, path, params, body, expected):
    server.answers[path] = body
    result = getattr(client, method)(*args, **kwargs)
    assert [r.path for r in server.requests] == [path]
    got = server.requests[0].params
    assert got == params
    # types survive the PHP serialization: JSON-string arrays are strings, native arrays are lists
    for key, value in params.items():
        assert type(got[key]) is type(value), key
    assert result == expected


def test_aware_datetimes_are_sent_in_shanghai_time(server, client):
    server.answers["/lesson/get_class_info"] = {"status": 1, "msg": "", "data": []}
    start = dt.datetime(2024, 3, 4, 16, 0, tzinfo=dt.UTC)
    assert client.get_class_info(start, start.astimezone(ZoneInfo("Asia/Shanghai")) + dt.timedelta(days=1)) == []
    assert server.requests[0].params == {"start_time": "2024-03-05 00:00:00", "end_time": "2024-03-06 00:00:00"}


def test_argument_validation(client):
    with pytest.raises(ValueError):
        client.get_key_event_counts(1, "clap")
    with pytest.raises(ValueError):
        client.edit_lesson(1, start_time=D)
    with pytest.raises(TypeError):
        client.create_classroom(1, "x", 1, colour="red")
    with pytest.raises(TypeError):
        client.get_lesson_info("10001,10002")
    with pytest.raises(TypeError):
        client.delete_lesson(True)


@pytest.mark.parametrize("path,data,method,args,expected", [
    # the client checks the protocol only: payload content is the lake normalizer's to judge
    ("/lessonData/query", {"1": "n/a", "2": 2.5, "3": None}, "get_key_event_counts", (1, "handup"),
     {"1": "n/a", "2": 2.5, "3": None}),
    ("/lessonData/query", [], "get_key_event_counts", (1, "handup"), {}),
    ("/lessonData/user/query", [{"time": "x"}, "2020-05-09 22:40:21", 7], "get_key_event_times", (1, 2, "reward"),
     [{"time": "x"}, "2020-05-09 22:40:21", 7]),
])
def test_key_event_payloads_come_back_as_they_came(server, client, path, data, method, args, expected):
    server.answers[path] = {"status": 1, "error_code": 10000, "msg": "", "data": data}
    assert getattr(client, method)(*args) == expected


@pytest.mark.parametrize("path,method,args", [("/lessonData/query", "get_key_event_counts", (1, "handup")),
                                              ("/lessonData/user/query", "get_key_event_times", (1, 2, "reward"))])
def test_success_without_data_is_retried_then_fails_naming_the_endpoint(server, client, path, method, args):
    server.answers[path] = {"status": 1, "error_code": 10000, "msg": "", "data": None}
    with pytest.raises(RetriesExhausted) as err:
        getattr(client, method)(*args)
    assert path in str(err.value) and "without its data" in str(err.value) and err.value.attempts > 1


def test_key_event_counts_data_must_be_an_object(server, client):
    server.answers["/lessonData/query"] = ok("not an object")
    with pytest.raises(ApiError, match="not an object"):
        client.get_key_event_counts(1, "handup")


def test_method_signatures():
    sig = inspect.signature(LiveClassClient.create_lesson)
    assert list(sig.parameters)[1:] == ["classroom_id", "start_time", "end_time", "genre", "teacher_id",
                                        "lesson_name", "is_replay", "replay_duration"]
    assert list(inspect.signature(LiveClassClient.get_attendance).parameters)[1:] == ["lesson_id"]
    assert list(inspect.signature(LiveClassClient.iter_coursewares).parameters)[1:] == ["page_size"]


# -- batching ------------------------------------------------------------------------

def test_lesson_info_batches_of_100(server, client):
    server.answers["/lesson/info"] = None
    server.script = lambda path, params, attempt: ok([{"zby_lid": i} for i in params["lessonId"]])
    try:
        ids = list(range(1000, 1250))
        rows = client.get_lesson_info(ids)
    finally:
        server.script = lambda path, params, attempt: server.answers[path]
    assert [r["zby_lid"] for r in rows] == ids
    sent = [r.params["lessonId"] for r in server.requests]
    assert len(sent) == 3 and all(isinstance(s, list) and len(s) <= 100 for s in sent)
    assert sorted(x for s in sent for x in s) == ids
    assert client.get_lesson_info([]) == []


@pytest.mark.parametrize("method,path,key", [
    ("get_lesson_status", "/lesson/get_lesson_status", "lesson_id"),
    ("get_user_ids", "/user/id", "mobile"),
    ("get_student_awards", "/lesson/student/award", "lessonIds"),
])
def test_other_batched_lookups(server, client, method, path, key):
    server.script = lambda p, params, attempt: ok([{"v": v} for v in params[key]])
    try:
        values = list(range(13000000000, 13000000201))
        rows = getattr(client, method)(values)
    finally:
        server.script = lambda p, params, attempt: server.answers[p]
    assert [r["v"] for r in rows] == values
    assert sorted(len(r.params[key]) for r in server.requests) == [1, 100, 100]


def test_create_users_and_classroom_students_in_fifties(server, client):
    server.answers["/user/create"] = ok([{"uid": 1}])
    users = [{"userPhone": str(13800000000 + i), "userName": f"u{i}", "userType": "1", "userGender": "1"}
             for i in range(120)]
    assert client.create_users(users) == [{"uid": 1}] * 3
    assert [len(r.params["userData"]) for r in server.requests] == [50, 50, 20]
    server.requests.clear()
    server.answers["/classroom/student/add"] = ok(notEnterStudentIds=[7])
    assert client.add_classroom_students(1, range(60)) == [7, 7]
    assert [r.params["studentId"].count(",") + 1 for r in server.requests] == [50, 10]


# -- pagination ----------------------------------------------------------------------

def attendance_script(total: int, *, count: int | None = None, page_sizes: dict[int, int] | None = None,
                      sumpage: int | None = None):
    pages = sumpage if sumpage is not None else max(1, -(-total // 40))

    def script(path, params, attempt):
        page = params.get("page") or 1
        start = (page - 1) * 40
        n = (page_sizes or {}).get(page, max(0, min(40, total - start)))
        rows = [{"user_id": start + i, "listen_time": 1, "inout_times": 1, "u_late": 0, "u_leave": 0}
                for i in range(n)]
        return ok({"page": page, "sumpage": pages, "count": total if count is None else count, "data": rows})

    return script


def test_attendance_three_pages(server, client):
    server.script = attendance_script(95)
    rows = client.get_attendance(42)
    assert [r["user_id"] for r in rows] == list(range(95))
    assert sorted(r.params["page"] for r in server.requests) == [1, 2, 3]
    assert all(r.params["lessonId"] == 42 for r in server.requests)


def test_attendance_single_and_empty(server, client):
    server.script = attendance_script(0)
    assert client.get_attendance(1) == []
    server.script = attendance_script(40)
    assert len(client.get_attendance(1)) == 40


@pytest.mark.parametrize("kw", [
    {"total": 95, "count": 96},                       # row total differs from count
    {"total": 95, "page_sizes": {2: 39}},             # short page in the middle
    {"total": 95, "page_sizes": {2: 41}},             # over-long page
    {"total": 95, "sumpage": 2},                      # sumpage does not fit count
    {"total": 80, "page_sizes": {2: 0}},              # empty last page
])
def test_attendance_inconsistent_pages(server, client, kw):
    server.script = attendance_script(**kw)
    with pytest.raises(PaginationError) as info:
        client.get_attendance(42)
    assert isinstance(info.value, ApiError) and not info.value.transient
    assert "lesson 42" in str(info.value)


def test_iter_coursewares_all_pages(server, client):
    def script(path, params, attempt):
        page, size = params["page"], params["pageSize"]
        total = 25
        items = [{"id": i} for i in range((page - 1) * size, min(total, page * size))]
        return {"status": 1, "msg": "", "data": {"count": total, "page": str(page), "pageSize": str(size),
                                                 "sumpage": -(-total // size), "list": items}}

    server.script = script
    assert [c["id"] for c in client.iter_coursewares(page_size=10)] == list(range(25))
    assert [r.params["page"] for r in server.requests] == [1, 2, 3]


@pytest.fixture(autouse=True)
def _restore_script(server):
    yield
    server.script = lambda path, params, attempt: server.answers[path]
