"""Every one of the 35 endpoints of openapi.md, over HTTP: documented response shapes and 4000x errors.

EXPECTED below is the shape table: for each endpoint the exact top-level keys
(in the document's order, quirks included: no error_code in APIs 7/16/17/18/21,
``code`` in API 34, results at top level in APIs 2/3/6/21/22) and the types
inside ``data``.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date, datetime

import pytest
import requests

from pipeline.api.signing import encode_sign_msg
from pipeline.sandbox.runner import SandboxConfig, start_sandbox
from pipeline.sandbox.school import TZ, School

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=TZ)
PAST = date(2024, 5, 30)
SCHOOL = School(seed=7, now=NOW)

NULL = type(None)


class Pattern:
    def __init__(self, regex: str, nullable: bool = False):
        self.re = re.compile(regex)
        self.nullable = nullable


class ListOf:
    def __init__(self, item, min_len: int = 0):
        self.item = item
        self.min_len = min_len


class MapOf:
    def __init__(self, key_regex: str, value):
        self.key = re.compile(key_regex)
        self.value = value


class DateKeyed:
    """API 21: optional top-level YYYYMMDD keys, then the fixed keys."""

    def __init__(self, value, fixed: dict):
        self.value = value
        self.fixed = fixed


TIME = Pattern(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\Z")
OPT_TIME = Pattern(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\Z", nullable=True)
DIGITS = Pattern(r"[0-9]+\Z")


def check(value, spec, where="$"):
    if isinstance(spec, Pattern):
        if value is None and spec.nullable:
            return
        assert isinstance(value, str) and spec.re.match(value), f"{where}: {value!r} does not match {spec.re.pattern}"
    elif isinstance(spec, ListOf):
        assert isinstance(value, list), f"{where}: expected a list, got {value!r}"
        assert len(value) >= spec.min_len, f"{where}: expected at least {spec.min_len} items"
        for i, v in enumerate(value):
            check(v, spec.item, f"{where}[{i}]")
    elif isinstance(spec, MapOf):
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        for k, v in value.items():
            assert spec.key.match(k), f"{where}: key {k!r}"
            check(v, spec.value, f"{where}.{k}")
    elif isinstance(spec, DateKeyed):
        assert isinstance(value, dict)
        dates = [k for k in value if re.fullmatch(r"\d{8}", k)]
        for k in dates:
            check(value[k], spec.value, f"{where}.{k}")
        rest = {k: v for k, v in value.items() if k not in dates}
        check(rest, spec.fixed, where)
    elif isinstance(spec, dict):
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        assert list(value) == list(spec), f"{where}: keys {list(value)} != {list(spec)}"
        for k, s in spec.items():
            check(value[k], s, f"{where}.{k}")
    else:
        types = spec if isinstance(spec, tuple) else (spec,)
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        assert ok, f"{where}: {value!r} is not {types}"


def ok(msg, **rest):
    return {"status": int, "error_code": int, "msg": Pattern(re.escape(msg) + r"\Z"), **rest}


ATTEND = {"user_id": int, "listen_time": int, "inout_times": int, "u_late": int, "u_leave": int}

#: api -> (path, shape of a successful answer)
EXPECTED = {
    "1": ("/user/create", ok("操作成功", data=ListOf({"mobile": DIGITS, "uid": int}, 2))),
    "2": ("/classroom/create", ok("创建课程成功", classroomId=int)),
    "3": ("/classroom/student/add", ok("创建课程成功", notEnterStudentIds=ListOf(int, 1))),
    "4": ("/classroom/courseware/add", ok("创建课程成功")),
    "5": ("/classroom/delete", ok("删除课程成功")),
    "6": ("/courseware/upload", ok("上传课件成功", coursewareId=int)),
    "7": ("/courseware/list", {"status": int, "msg": str, "data": {
        "count": int, "page": DIGITS, "pageSize": DIGITS, "sumpage": int,
        "list": ListOf({"filesize": int, "type": int, "convert_status": int, "filename": str, "id": int}, 1)}}),
    "8": ("/lesson/create", ok("新增课节成功", data=int)),
    "8.1": ("/lesson/multi_create", ok("新增课节成功", data=ListOf(int, 2))),
    "9": ("/lesson/delete", ok("删除课节成功", data=int)),
    "10": ("/lesson/add/disk", ok("添加课件成功", data={"notFound": ListOf(str, 1), "unConverted": ListOf(str),
                                                      "alreadyExist": ListOf(str, 1)})),
    "11": ("/lesson/delete/disk", ok("移除课件成功", data=int)),
    "12": ("/lesson/add/student", ok("添加学生成功", data={"notFound": ListOf(str, 1), "already": ListOf(str, 1)})),
    "13": ("/lesson/delete/student", ok("删除学生成功", data=int)),
    "14": ("/lesson/change/teacher", ok("更换老师成功")),
    "15": ("/lesson/edit", ok("编辑课节成功", data=NULL)),
    "16": ("/lesson/get_help_info", {"status": int, "msg": str, "data": ListOf({
        "lesson_id": DIGITS, "user_id": DIGITS, "help_type": str, "help_item_name": str, "help_content": str,
        "help_time": TIME}, 1)}),
    "17": ("/lesson/get_class_info", {"status": int, "msg": str, "data": ListOf({
        "lesson_id": DIGITS, "status": int, "actual_start_time": OPT_TIME, "actual_end_time": OPT_TIME}, 40)}),
    "18": ("/lesson/get_lesson_status", {"status": int, "msg": str, "data": ListOf({
        "lesson_id": DIGITS, "status": int, "video": (str, NULL)}, 2)}),
    "19": ("/lesson/info", ok("获取信息成功", data=ListOf({
        "zby_lid": int, "status": int, "actual_start_time": OPT_TIME, "actual_end_time": OPT_TIME,
        "teacher_name": str, "start_time": TIME, "end_time": Pattern(r".*:59\Z")}, 2))),
    "20": ("/user/id", ok("获取信息成功", data=ListOf({"uid": int, "mobile": int, "role": int}, 2))),
    "21": ("/lesson/service/record", DateKeyed(ListOf(str, 1), {"status": int, "msg": Pattern("sucess"),
                                                                "script_flag": int, "scribblelog": list})),
    "22": ("/user/edit", {"status": int, "uid": int, "error_code": int, "msg": str}),
    "23": ("/lesson/io/info", ok("success", data={"page": int, "sumpage": int, "count": int,
                                                  "data": ListOf(ATTEND, 1)})),
    "24": ("/lesson/replay/url", ok("获取信息成功", data={"lesson_id": DIGITS, "name": str, "mp4url": (str, NULL)})),
    "25": ("/lesson/student/award", ok("查询成功", data=ListOf({"user_id": int, "award_num": int, "lesson_id": int}, 1))),
    "26": ("/lesson/finish", ok("查询成功", data={"finish": int, "lessonNotStart": int, "lessonOnClass": int,
                                                "lessonExpired": int, "total": int})),
    "27": ("/lessonData/query", ok("查询成功", data=MapOf(r"[0-9]+\Z", int))),
    "28": ("/lessonData/user/query", ok("查询成功", data=ListOf({"event_time": TIME}, 1))),
    "29": ("/lessonData/status", ok("查询成功", data=ListOf({"id": int, "status": int}, 1))),
    "30": ("/lesson/getClassInfo", ok("获取班级信息成功", data={"id": int, "name": str})),
    "31": ("/lesson/byUser", ok("获取班级信息成功", data=ListOf({"lesson_id": int}, 1))),
    "32": ("/user/editinfo", ok("成功", data=NULL)),
    "33": ("/classroom/student/delete", ok("成功", data=NULL)),
    "34": ("/v2/data/teacher/inout", {"status": int, "code": int, "msg": str, "data": {
        "teacher_id": int, "actual_start_time": OPT_TIME, "actual_end_time": OPT_TIME, "listen_time": int,
        "inout_times": int, "u_late": int, "u_leave": int}}),
}


class Ctx:
    pass


def post(sb, path, params):
    data = {"applicationID": sb.app_id, "signMsg": encode_sign_msg(params, sb.secret)}
    return requests.post(sb.base_url + path, data=data, timeout=10)


def must(sb, path, params):
    body = post(sb, path, params).json()
    assert body["status"] == 1, (path, body)
    return body


@pytest.fixture(scope="module")
def env():
    with start_sandbox(SandboxConfig(now=NOW, convert_seconds=0.3)) as sb:
        c = Ctx()
        c.sb = sb
        c.t1, c.t2 = SCHOOL.teachers()[0], SCHOOL.teachers()[1]
        c.s = [s.id for s in SCHOOL.students()[:6]]
        c.cid = must(sb, "/classroom/create", {"teacherId": c.t1.id, "className": "沙盒课程", "category": 7})["classroomId"]
        c.cid2 = must(sb, "/classroom/create", {"teacherId": c.t1.id, "className": "待删课程", "category": 2})["classroomId"]
        must(sb, "/classroom/student/add", {"classroomId": c.cid, "studentId": json.dumps(c.s[:3])})
        c.lid = must(sb, "/lesson/create", {"classroomId": c.cid, "startTime": "2024-06-03 18:00",
                                             "endTime": "2024-06-03 19:00", "genre": 0})["data"]
        c.lid2 = must(sb, "/lesson/create", {"classroomId": c.cid, "startTime": "2024-06-04 18:00",
                                              "endTime": "2024-06-04 19:00", "genre": 0})["data"]
        must(sb, "/lesson/add/disk", {"lessonId": c.lid, "diskId": "[10001, 10003]"})
        c.user = must(sb, "/user/create", {"userData": [{"userPhone": "13800138000", "userName": "张一",
                                                        "userType": "1", "userGender": "1"}]})["data"][0]
        held = [x for x in SCHOOL.lessons_on(PAST) if SCHOOL.status(x) == 2]
        c.past = next(x for x in held if len(x.student_ids) >= 3 and SCHOOL.activity(x).awards
                      and SCHOOL.activity(x).replay_url)
        act = SCHOOL.activity(c.past)
        (c.ev_user, c.ev_type), _ = next(iter(act.events.items()))
        c.attended = next(r.user_id for r in act.attendance if r.listen_minutes > 0)
        c.past2 = held[-1]
        yield c


def valid_params(api: str, c: Ctx) -> dict:
    p = c.past
    return {
        "1": {"userData": [
            {"userPhone": "13800138001", "userName": "张一", "userType": "1", "userGender": "1"},
            {"userPhone": 13800138002, "userName": "李四", "userType": 2, "userGender": "2"}]},
        "2": {"teacherId": c.t1.id, "className": "我的课程", "category": 1, "smallRoutine": 1,
              "classFrontCoverUrl": "Http://aliyun/oss/demo.jpg", "classInfo": "你好我是课程简介", "collectInfo": 0,
              "QRCodeImgUrl": "Http://aliyun/oss/demo.jpg", "teacherIntro": "我是老师简介", "needLianMai": 1,
              "parentSupervise": 0, "isReplay": 1, "replayDuration": 365},
        "3": {"classroomId": str(c.cid), "studentId": json.dumps([c.s[3], 1234])},
        "4": {"classroomId": c.cid, "coursewareIds": "[10001,10002]"},
        "5": {"classroomId": c.cid2},
        "6": {"filename": "我的课件示例.ppt", "filesize": 30234, "coursewareUrl": "https://files.sandbox.invalid/a.pptx",
              "type": 1, "covt": 1},
        "7": {"page": 1, "pageSize": 20},
        "8": {"classroomId": c.cid, "startTime": "2024-06-05 12:00", "endTime": "2024-06-05 13:00", "genre": 1,
              "teacherId": c.t2.id, "lessonName": "初二一班", "is_replay": 1, "replay_duration": 365},
        "8.1": {"classroomId": c.cid, "genre": 1, "teacherId": c.t2.id, "dataInfo": json.dumps(
            [{"creatDate": "2024-06-14", "startTime": "09:00", "endTime": "10:30", "lessonName": "hao 课节"},
             {"createDate": "2024-06-24", "startTime": "19:00", "endTime": "20:30"}], ensure_ascii=False)},
        "9": {"lessonId": c.lid2},
        "10": {"lessonId": c.lid, "diskId": "[234,10001,10002]"},
        "11": {"lessonId": c.lid, "diskId": 10003},
        "12": {"lessonId": c.lid, "studentId": json.dumps([23234, c.s[1], c.s[4]])},
        "13": {"lessonId": c.lid, "studentId": c.s[0]},
        "14": {"lessonId": c.lid, "teacherId": c.t2.id},
        "15": {"lessonId": c.lid, "newName": "11306", "startTime": "2024-06-03 18:20", "endTime": "2024-06-03 19:30"},
        "16": {"start_time": "2024-5-30 0:00:00", "end_time": "2024-5-31 00:00"},
        "17": {"start_time": "2024-5-30 00:00:00", "end_time": "2024-5-31 0:00:00"},
        "18": {"lesson_id": [p.id, c.past2.id]},
        "19": {"lessonId": [p.id, c.lid]},
        "20": {"mobile": [c.t1.mobile, str(SCHOOL.students()[0].mobile), 13000000000]},
        "21": {"lesson_id": p.id, "user_id": c.attended},
        "22": {"newMobile": 13911112222, "oldMobile": int(c.user["mobile"])},
        "23": {"lessonId": p.id, "page": 0},
        "24": {"lessonId": str(p.id)},
        "25": {"lessonIds": [p.id, c.past2.id]},
        "26": {"classroomId": p.classroom_id},
        "27": {"lid": p.id, "event_type": c.ev_type},
        "28": {"lid": p.id, "event_type": c.ev_type, "uid": c.ev_user},
        "29": {"day": "2024-05-30", "uid": p.teacher_id},
        "30": {"lessonId": p.id},
        "31": {"userId": p.teacher_id, "startTime": "2024-05-30 00:00:00", "endTime": "2024-05-31 00:00:00"},
        "32": {"userId": c.s[5], "userType": 1, "userName": "新名字", "gender": 2},
        "33": {"classroomId": c.cid, "studentId": c.s[2]},
        "34": {"lessonId": p.id},
    }[api]


def invalid_cases(api: str, c: Ctx) -> dict[int, dict]:
    """error code -> params (40001 missing, 40002 wrong type, 40003 bad value)."""
    good = valid_params(api, c)

    def without(*names):
        return {k: v for k, v in good.items() if k not in names}

    def with_(**kw):
        return {**good, **kw}

    table = {
        "1": {40001: {}, 40002: {"userData": 5},
              40003: {"userData": [{"userPhone": "13800138111", "userName": "x", "userType": 3, "userGender": 1}]}},
        "2": {40001: without("className"), 40002: with_(category="abc"), 40003: with_(category=3)},
        "3": {40001: without("studentId"), 40002: with_(studentId="abc"), 40003: with_(classroomId=1)},
        "4": {40001: without("coursewareIds"), 40002: with_(classroomId=[1]), 40003: with_(coursewareIds="[1]")},
        "5": {40001: {}, 40002: {"classroomId": "x"}, 40003: {"classroomId": 1}},
        "6": {40001: without("filesize"), 40002: with_(filesize="big"), 40003: with_(type=9)},
        "7": {40001: without("pageSize"), 40002: with_(page="a"), 40003: with_(page=0)},
        "8": {40001: without("genre"), 40002: with_(startTime=20240605), 40003: with_(genre=2)},
        "8.1": {40001: without("dataInfo"), 40002: with_(dataInfo="nope"),
                40003: with_(dataInfo='[{"createDate":"2024-06-14","startTime":"10:00","endTime":"09:00"}]')},
        "9": {40001: {}, 40002: {"lessonId": "x"}, 40003: {"lessonId": 1}},
        "10": {40001: without("diskId"), 40002: with_(diskId="x"), 40003: with_(lessonId=1)},
        "11": {40001: without("diskId"), 40002: with_(diskId="a"), 40003: with_(diskId=99999)},
        "12": {40001: without("studentId"), 40002: with_(studentId=3.5), 40003: with_(lessonId=1)},
        "13": {40001: without("studentId"), 40002: with_(studentId=[1]), 40003: with_(studentId=1)},
        "14": {40001: without("teacherId"), 40002: with_(teacherId="t"), 40003: with_(teacherId=c.s[0])},
        "15": {40001: without("endTime"), 40002: with_(newName=["x"]), 40003: with_(endTime="2024-06-03 18:00")},
        "16": {40001: without("end_time"), 40002: with_(start_time=123), 40003: with_(start_time="2024-13-45 00:00")},
        "17": {40001: without("start_time"), 40002: with_(end_time="tomorrow"),
               40003: with_(end_time="2024-05-29 00:00")},
        "18": {40001: {}, 40002: {"lesson_id": "x"}, 40003: {"lesson_id": [1]}},
        "19": {40001: {"lessonId": []}, 40002: {"lessonId": ["a"]}, 40003: {"lessonId": [1]}},
        "20": {40001: {}, 40002: {"mobile": "abc"}, 40003: {"mobile": ["123"]}},
        "21": {40001: without("user_id"), 40002: with_(lesson_id="x"), 40003: with_(user_id=1)},
        "22": {40001: without("oldMobile"), 40002: with_(newMobile="abc"), 40003: with_(newMobile=123)},
        "23": {40001: without("lessonId"), 40002: with_(page="x"), 40003: with_(page=-1)},
        "24": {40001: {}, 40002: {"lessonId": [1]}, 40003: {"lessonId": "1"}},
        "25": {40001: {}, 40002: {"lessonIds": {"a": "b"}}, 40003: {"lessonIds": [1]}},
        "26": {40001: {}, 40002: {"classroomId": "x"}, 40003: {"classroomId": 1}},
        "27": {40001: without("event_type"), 40002: with_(event_type=[1]), 40003: with_(event_type="dance")},
        "28": {40001: without("uid"), 40002: with_(uid="u"), 40003: with_(uid=1)},
        "29": {40001: without("day"), 40002: with_(day=20240530), 40003: with_(day="2024-02-30")},
        "30": {40001: {}, 40002: {"lessonId": "x"}, 40003: {"lessonId": 1}},
        "31": {40001: without("endTime"), 40002: with_(userId="u"), 40003: with_(userId=1)},
        "32": {40001: without("userType"), 40002: with_(gender="m"), 40003: with_(userType=2)},
        "33": {40001: without("studentId"), 40002: with_(studentId="s"), 40003: with_(studentId=1)},
        "34": {40001: {}, 40002: {"lessonId": "x"}, 40003: {"lessonId": 1}},
    }
    return table[api]


APIS = list(EXPECTED)


def test_table_covers_all_35_endpoints():
    from pipeline.sandbox.handlers import ROUTES

    assert len(EXPECTED) == 35
    assert {path for path, _ in EXPECTED.values()} == set(ROUTES)


@pytest.mark.parametrize("api", APIS)
def test_valid_request_has_documented_shape(env, api):
    path, shape = EXPECTED[api]
    body = post(env.sb, path, valid_params(api, env)).json()
    assert body["status"] == 1, body
    assert body.get("error_code", body.get("code", 10000)) == 10000
    check(body, shape)


@pytest.mark.parametrize("api", APIS)
def test_invalid_requests_get_40001_40002_40003(env, api):
    path, _ = EXPECTED[api]
    for code, params in invalid_cases(api, env).items():
        body = post(env.sb, path, params).json()
        key = "code" if api == "34" else "error_code"
        assert body["status"] == 0 and body[key] == code, (api, code, params, body)
        assert body["data"] is None


def test_courseware_upload_rate_limit_and_conversion():
    # conversion takes 2 s: long enough that a loaded CI machine still sees the first file unconverted
    with start_sandbox(SandboxConfig(now=NOW, convert_seconds=2.0)) as sb:
        up = {"filename": "a.pdf", "filesize": 2048, "coursewareUrl": "https://files.sandbox.invalid/a.pdf", "type": 3}
        first = must(sb, "/courseware/upload", up)["coursewareId"]
        body = post(sb, "/courseware/upload", {**up, "filename": "b.pdf"}).json()
        assert body["error_code"] == 40004  # one non-URL upload per 30 s
        url = must(sb, "/courseware/upload", {**up, "filename": "page.html", "type": 2})["coursewareId"]

        def status(cw_id):
            items = must(sb, "/courseware/list", {"page": "1", "pageSize": "500"})["data"]["list"]
            return next(i["convert_status"] for i in items if i["id"] == cw_id)

        assert status(first) == 0 and status(url) == 2
        r = post(sb, "/lesson/add/disk", {"lessonId": SCHOOL.lessons_on(date(2024, 6, 3))[0].id,
                                          "diskId": json.dumps([first])}).json()
        assert len(r["data"]["unConverted"]) == 1
        time.sleep(2.1)
        assert status(first) == 2
        listing = must(sb, "/courseware/list", {"page": 2, "pageSize": 10})["data"]
        assert listing["page"] == "2" and listing["pageSize"] == "10" and len(listing["list"]) == 10
        assert listing["sumpage"] == -(-listing["count"] // 10)


def test_api23_paging_and_api8_passcode():
    with start_sandbox(SandboxConfig(now=NOW)) as sb:
        held = [x for x in SCHOOL.lessons_on(PAST) if SCHOOL.status(x) == 2]
        big = max(held, key=lambda x: len(x.student_ids))
        n = len(big.student_ids)
        assert n > 40
        p1 = must(sb, "/lesson/io/info", {"lessonId": big.id})["data"]
        p2 = must(sb, "/lesson/io/info", {"lessonId": big.id, "page": "2"})["data"]
        p9 = must(sb, "/lesson/io/info", {"lessonId": big.id, "page": 9})["data"]
        assert p1["page"] == 1 and p1["count"] == n and p1["sumpage"] == -(-n // 40) and len(p1["data"]) == 40
        assert len(p2["data"]) == n - 40 and p2["count"] == n
        assert p9["data"] == [] and p9["count"] == n and p9["sumpage"] == p1["sumpage"]
        assert {r["user_id"] for r in p1["data"] + p2["data"]} == set(big.student_ids)
        cid = must(sb, "/classroom/create", {"teacherId": SCHOOL.teachers()[0].id, "className": "口令大班",
                                              "category": 1})["classroomId"]
        body = must(sb, "/lesson/create", {"classroomId": cid, "startTime": "2024-06-03 18:00",
                                            "endTime": "2024-06-03 19:00", "genre": 0})
        assert isinstance(body["command"], int)
        assert list(body) == ["status", "error_code", "msg", "data", "command"]
