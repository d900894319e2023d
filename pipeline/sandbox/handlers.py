"""One handler per openAPI path: parameter validation (4000x) and the documented response shapes.

A handler is ``handler(platform, params, ctx) -> dict``: ``params`` is the
decoded signMsg map, the returned dict is the whole response object (key order
as in the document's examples, quirks included).  A handler rejects a request
by raising :class:`Reject` with a Table 4 code; the server turns it into the
error envelope.

Parameter rules (PHP-like, see docs):

* int parameters accept ints and decimal-digit strings (``"12"``); anything
  else (floats, booleans, arrays, other strings) is 40002;
* a required parameter that is absent, ``null``, ``""`` or an empty array is
  40001;
* array parameters accept a native PHP array or a JSON string holding an
  array (section 4 (b)), for every array parameter of the document;
* date-time parameters accept ``YYYY-m-d H:i`` with or without ``:s`` and
  with unpadded month/day/hour; a string that is not in that format is 40002,
  an impossible date or time is 40003;
* an id that does not exist (lesson, course, user, courseware) is 40003.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .platform import Platform

__all__ = ["Reject", "Route", "ROUTES", "Ctx"]

EVENT_TYPES = ("onstage", "handup", "reward", "toggle_mic_on", "toggle_mic_off", "reward_all")

#: Longest time window accepted by APIs 16, 17 and 31 (40003 beyond).
MAX_WINDOW = timedelta(days=31)
#: Sanity cap for id lists without a documented maximum (APIs 18, 20, 25).
MAX_IDS_UNDOCUMENTED = 500
PAGE_SIZE_23 = 40
#: Dates outside these years are 40003 (the school starts in 2015).
MIN_YEAR, MAX_YEAR = 2015, 2999


class Reject(Exception):
    """A request refused with a Table 4 code; ``detail`` follows the code's text in ``msg``."""

    def __init__(self, code: int, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Ctx:
    app_id: str


@dataclass(frozen=True)
class Route:
    api: str
    path: str
    handler: Callable[[Platform, Mapping[Any, Any], Ctx], dict]
    write: bool = False  # management endpoints that change state
    code_key: str = "error_code"  # API 34 answers with "code"
    cache: bool = False  # answers may be cached per (path, params) while state and clock are unchanged


# ----------------------------------------------------------------------------
# parameter helpers

_INT_RE = re.compile(r"-?[0-9]{1,19}\Z")
_DT_RE = re.compile(r"\s*([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[ T]+([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2}))?\s*\Z")
_DAY_RE = re.compile(r"\s*([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})\s*\Z")
_HM_RE = re.compile(r"\s*([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2}))?\s*\Z")
_MOBILE_RE = re.compile(r"1[0-9]{10}\Z")


def _absent(v: Any) -> bool:
    return v is None or (isinstance(v, (str, list, dict)) and len(v) == 0)


def _raw(params: Mapping[Any, Any], name: str, required: bool) -> Any:
    v = params.get(name)
    if _absent(v):
        if required:
            raise Reject(40001, f"{name} is required")
        return None
    return v


def as_int(v: Any, name: str) -> int:
    if type(v) is int:
        return v
    if isinstance(v, str) and _INT_RE.match(v):
        return int(v)
    raise Reject(40002, f"{name} must be an integer")


def req_int(params: Mapping[Any, Any], name: str, lo: int | None = None, hi: int | None = None) -> int:
    v = as_int(_raw(params, name, True), name)
    _check_range(v, name, lo, hi)
    return v


def opt_int(params: Mapping[Any, Any], name: str, default: Any = None, lo: int | None = None,
            hi: int | None = None) -> Any:
    v = _raw(params, name, False)
    if v is None:
        return default
    v = as_int(v, name)
    _check_range(v, name, lo, hi)
    return v


def _check_range(v: int, name: str, lo: int | None, hi: int | None) -> None:
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise Reject(40003, f"{name}={v} is out of range")


def req_flag(params: Mapping[Any, Any], name: str, default: int | None) -> int | None:
    v = opt_int(params, name, default)
    if v is not None and v not in (0, 1):
        raise Reject(40003, f"{name} must be 0 or 1")
    return v


def as_str(v: Any, name: str) -> str:
    if isinstance(v, str):
        return v
    if type(v) is int:  # PHP would cast
        return str(v)
    raise Reject(40002, f"{name} must be a string")


def req_str(params: Mapping[Any, Any], name: str, max_len: int | None = None) -> str:
    s = as_str(_raw(params, name, True), name)
    if max_len is not None and len(s) > max_len:
        raise Reject(40003, f"{name} is longer than {max_len} characters")
    return s


def opt_str(params: Mapping[Any, Any], name: str, max_len: int | None = None) -> str | None:
    v = _raw(params, name, False)
    if v is None:
        return None
    s = as_str(v, name)
    if max_len is not None and len(s) > max_len:
        raise Reject(40003, f"{name} is longer than {max_len} characters")
    return s


def as_array(v: Any, name: str) -> list:
    """A native PHP array (list or int-keyed map) or a JSON string holding an array."""
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except (ValueError, RecursionError):
            raise Reject(40002, f"{name} must be an array or a JSON array string") from None
        if not isinstance(v, list):
            raise Reject(40002, f"{name} must be an array or a JSON array string")
        return v
    if isinstance(v, list):
        return v
    if isinstance(v, dict):
        return list(v.values())
    raise Reject(40002, f"{name} must be an array or a JSON array string")


def req_array(params: Mapping[Any, Any], name: str) -> list:
    arr = as_array(_raw(params, name, True), name)
    if not arr:
        raise Reject(40001, f"{name} is empty")
    return arr


def req_id_list(params: Mapping[Any, Any], name: str, max_items: int | None = None) -> list[int]:
    arr = req_array(params, name)
    if max_items is not None and len(arr) > max_items:
        raise Reject(40004, f"{name} has {len(arr)} entries, at most {max_items} are allowed")
    return [as_int(x, f"{name}[]") for x in arr]


def _dedupe(ids: list[int]) -> list[int]:
    return list(dict.fromkeys(ids))


def parse_datetime(v: Any, name: str, tz) -> datetime:
    if not isinstance(v, str):
        raise Reject(40002, f"{name} must be a date-time string YYYY-mm-dd HH:ii[:ss]")
    m = _DT_RE.match(v)
    if not m:
        raise Reject(40002, f"{name} must be a date-time string YYYY-mm-dd HH:ii[:ss]")
    y, mo, d, h, mi, s = (int(x) if x is not None else 0 for x in m.groups())
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise Reject(40003, f"{name}={v!r} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=tz)
    except ValueError:
        raise Reject(40003, f"{name}={v!r} is not a valid date-time") from None


def req_datetime(params: Mapping[Any, Any], name: str, tz) -> datetime:
    return parse_datetime(_raw(params, name, True), name, tz)


def parse_day(v: Any, name: str) -> date:
    if not isinstance(v, str) or not _DAY_RE.match(v):
        raise Reject(40002, f"{name} must be a date string YYYY-mm-dd")
    y, mo, d = (int(x) for x in _DAY_RE.match(v).groups())
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise Reject(40003, f"{name}={v!r} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    try:
        return date(y, mo, d)
    except ValueError:
        raise Reject(40003, f"{name}={v!r} is not a valid date") from None


def parse_hm(v: Any, name: str) -> tuple[int, int]:
    if not isinstance(v, str) or not _HM_RE.match(v):
        raise Reject(40002, f"{name} must be a time string HH:ii")
    h, mi, _s = _HM_RE.match(v).groups()
    h, mi = int(h), int(mi)
    if not (0 <= h <= 23 and 0 <= mi <= 59):
        raise Reject(40003, f"{name}={v!r} is not a valid time")
    return h, mi


def as_mobile(v: Any, name: str) -> int:
    if type(v) is int:
        s = str(v)
    elif isinstance(v, str) and v.isascii() and v.isdigit():
        s = v
    else:
        raise Reject(40002, f"{name} must be a mobile number")
    if not _MOBILE_RE.match(s):
        raise Reject(40003, f"{name}={s} is not an 11-digit mobile number")
    return int(s)


def fmt(dt: datetime | None, tz) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _window(params: Mapping[Any, Any], start_name: str, end_name: str, tz) -> tuple[datetime, datetime]:
    start = req_datetime(params, start_name, tz)
    end = req_datetime(params, end_name, tz)
    if end <= start:
        raise Reject(40003, f"{end_name} must be later than {start_name}")
    if end - start > MAX_WINDOW:
        raise Reject(40003, f"the window is longer than {MAX_WINDOW.days} days")
    return start, end


def _days(start: datetime, end: datetime) -> list[date]:
    """Calendar days of [start, end) (end exclusive)."""
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _ok(msg: str, **rest: Any) -> dict:
    out: dict[str, Any] = {"status": 1, "error_code": 10000, "msg": msg}
    out.update(rest)
    return out


def _lesson(p: Platform, params: Mapping[Any, Any], name: str):
    lid = req_int(params, name)
    lesson = p.lesson(lid)
    if lesson is None:
        raise Reject(40003, f"lesson {lid} does not exist")
    return lesson


def _classroom(p: Platform, params: Mapping[Any, Any], name: str = "classroomId"):
    cid = req_int(params, name)
    c = p.classroom(cid)
    if c is None:
        raise Reject(40003, f"course {cid} does not exist")
    return c


def _teacher(p: Platform, tid: int, name: str = "teacherId"):
    t = p.person(tid)
    if t is None or t.user_type != 2:
        raise Reject(40003, f"{name}={tid} is not a teacher of this institution")
    return t


def _event_type(params: Mapping[Any, Any]) -> str:
    et = req_str(params, "event_type")
    if et not in EVENT_TYPES:
        raise Reject(40003, f"event_type {et!r} is not one of {', '.join(EVENT_TYPES)}")
    return et


# ----------------------------------------------------------------------------
# users: APIs 1, 20, 22, 32


def api1_user_create(p: Platform, params, ctx) -> dict:
    users = req_array(params, "userData")
    if len(users) > 50:
        raise Reject(40004, f"userData has {len(users)} users, at most 50 are allowed")
    rows = []
    for i, u in enumerate(users):
        if not isinstance(u, (dict, list)):
            raise Reject(40002, f"userData[{i}] must be an array")
        if isinstance(u, list):
            raise Reject(40001, f"userData[{i}] needs userPhone, userName, userType and userGender")
        phone_raw = _raw(u, "userPhone", True)
        phone = as_mobile(phone_raw, f"userData[{i}].userPhone")
        name = as_str(_raw(u, "userName", True), f"userData[{i}].userName")
        if len(name) > 20:
            raise Reject(40003, f"userData[{i}].userName is longer than 20 characters")
        utype = as_int(_raw(u, "userType", True), f"userData[{i}].userType")
        gender = as_int(_raw(u, "userGender", True), f"userData[{i}].userGender")
        if utype not in (1, 2):
            raise Reject(40003, f"userData[{i}].userType must be 1 (student) or 2 (teacher)")
        if gender not in (1, 2):
            raise Reject(40003, f"userData[{i}].userGender must be 1 (male) or 2 (female)")
        rows.append((phone, name, utype, gender))
    created = p.create_users(rows)
    return _ok("操作成功", data=[{"mobile": str(m), "uid": uid} for m, uid in created])


def api20_user_id(p: Platform, params, ctx) -> dict:
    arr = req_array(params, "mobile")
    if len(arr) > MAX_IDS_UNDOCUMENTED:
        raise Reject(40004, f"mobile has {len(arr)} entries, at most {MAX_IDS_UNDOCUMENTED} are allowed")
    out = []
    for m in _dedupe([as_mobile(x, "mobile[]") for x in arr]):
        person = p.person_by_mobile(m)
        if person is not None:
            out.append({"uid": person.id, "mobile": person.mobile, "role": 2 if person.user_type == 2 else 3})
    return _ok("获取信息成功", data=out)


def api22_user_edit(p: Platform, params, ctx) -> dict:
    new = as_mobile(_raw(params, "newMobile", True), "newMobile")
    old = as_mobile(_raw(params, "oldMobile", True), "oldMobile")
    uid = p.change_mobile(old, new)
    return {"status": 1, "uid": uid, "error_code": 10000, "msg": "修改用户手机号成功"}


def api32_user_editinfo(p: Platform, params, ctx) -> dict:
    uid = req_int(params, "userId")
    utype = req_int(params, "userType")
    if utype not in (1, 2):
        raise Reject(40003, "userType must be 1 (student) or 2 (teacher)")
    name = opt_str(params, "userName", max_len=20)
    gender = opt_int(params, "gender")
    if gender is not None and gender not in (1, 2):
        raise Reject(40003, "gender must be 1 (male) or 2 (female)")
    person = p.person(uid)
    if person is None:
        raise Reject(40003, f"user {uid} does not exist")
    if person.user_type != utype:
        raise Reject(40003, f"user {uid} is not of userType {utype}")
    p.edit_person(uid, name=name, gender=gender)
    return _ok("成功", data=None)


# ----------------------------------------------------------------------------
# courses: APIs 2, 3, 4, 5, 33


def api2_classroom_create(p: Platform, params, ctx) -> dict:
    teacher_id = req_int(params, "teacherId")
    name = req_str(params, "className")
    category = req_int(params, "category")
    if not 1 <= len(name) <= 20:
        raise Reject(40003, "className must be 1-20 characters")
    if category not in (0, 1, 2, 7):
        raise Reject(40003, "category must be one of 0, 1, 2, 7")
    small = req_flag(params, "smallRoutine", 0)
    need_lian_mai = req_flag(params, "needLianMai", 0)
    parent = req_flag(params, "parentSupervise", 0)
    is_replay = req_flag(params, "isReplay", 1)
    replay_duration = opt_int(params, "replayDuration", 365, lo=0, hi=36500)
    collect = req_flag(params, "collectInfo", 1)
    cover = opt_str(params, "classFrontCoverUrl", max_len=1000)
    info = opt_str(params, "classInfo", max_len=1000)
    qr = opt_str(params, "QRCodeImgUrl", max_len=1000)
    opt_str(params, "teacherIntro", max_len=1000)
    if small == 1:
        if category != 1:
            raise Reject(40003, "smallRoutine=1 is only allowed for category 1 (passcode big class)")
        if cover is None:
            raise Reject(40001, "classFrontCoverUrl is required when smallRoutine=1")
        if info is None:
            raise Reject(40001, "classInfo is required when smallRoutine=1")
    for label, url in (("classFrontCoverUrl", cover), ("QRCodeImgUrl", qr)):
        if url is not None and not re.match(r"(?i)https?://\S+\Z", url):
            raise Reject(40003, f"{label} must be a readable http(s) address")
    if need_lian_mai == 1 and category != 1:
        raise Reject(40003, "needLianMai=1 is only allowed for category 1")
    if parent == 1 and category not in (0, 7):
        raise Reject(40003, "parentSupervise=1 is only allowed for category 0 or 7")
    _teacher(p, teacher_id)
    cid = p.create_classroom(
        name=name, category=category, teacher_id=teacher_id, small_routine=small, need_lian_mai=need_lian_mai,
        parent_supervise=parent, is_replay=is_replay, replay_duration=replay_duration, collect_info=collect,
    )
    return _ok("创建课程成功", classroomId=cid)


def api3_classroom_student_add(p: Platform, params, ctx) -> dict:
    c = _classroom(p, params)
    ids = req_id_list(params, "studentId", max_items=50)
    not_enter = p.add_classroom_students(c.id, _dedupe(ids))
    return _ok("创建课程成功", notEnterStudentIds=not_enter)


def api4_classroom_courseware_add(p: Platform, params, ctx) -> dict:
    c = _classroom(p, params)
    ids = _dedupe(req_id_list(params, "coursewareIds", max_items=100))
    missing = [i for i in ids if p.courseware(i) is None]
    if missing:
        raise Reject(40003, f"courseware {', '.join(map(str, missing))} does not exist")
    p.add_classroom_coursewares(c.id, ids)
    return _ok("创建课程成功")


def api5_classroom_delete(p: Platform, params, ctx) -> dict:
    c = _classroom(p, params)
    p.delete_classroom(c.id)
    return _ok("删除课程成功")


def api33_classroom_student_delete(p: Platform, params, ctx) -> dict:
    c = _classroom(p, params)
    sid = req_int(params, "studentId")
    if sid not in c.student_ids:
        raise Reject(40003, f"student {sid} is not in course {c.id}")
    p.remove_classroom_student(c.id, sid)
    return _ok("成功", data=None)


# ----------------------------------------------------------------------------
# courseware: APIs 6, 7

_EXT_TYPE = {"ppt": 1, "pptx": 1, "pdf": 3, "doc": 4, "docx": 4}


def api6_courseware_upload(p: Platform, params, ctx) -> dict:
    filename = req_str(params, "filename", max_len=255)
    filesize = req_int(params, "filesize")
    url = req_str(params, "coursewareUrl", max_len=2000)
    ctype = req_int(params, "type")
    req_flag(params, "covt", 0)
    if not 0 <= filesize <= 50 * 1024 * 1024:
        raise Reject(40003, "filesize must be between 0 bytes and 50 MB")
    if ctype not in (1, 2, 3, 4):
        raise Reject(40003, "type must be 1 (ppt), 2 (URL), 3 (pdf) or 4 (word)")
    if not re.match(r"(?i)https?://\S+\Z", url):
        raise Reject(40003, "coursewareUrl must be a publicly readable http(s) address")
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    # An extension that does not match the type is accepted; its conversion fails (convert_status 1).
    convertible = ctype == 2 or _EXT_TYPE.get(ext) == ctype
    cw_id = p.upload_courseware(ctx.app_id, filename=filename, filesize=filesize, url=url, ctype=ctype,
                                convertible=convertible)
    return _ok("上传课件成功", coursewareId=cw_id)


def api7_courseware_list(p: Platform, params, ctx) -> dict:
    page = req_int(params, "page", lo=1)
    page_size = req_int(params, "pageSize", lo=1, hi=1000)
    items = p.courseware_list()
    count = len(items)
    chunk = items[(page - 1) * page_size : page * page_size]
    return {
        "status": 1,
        "msg": "获取课件列表成功",
        "data": {
            "count": count,
            "page": str(page),
            "pageSize": str(page_size),
            "sumpage": math.ceil(count / page_size),
            "list": [
                {"filesize": cw.filesize_kb, "type": cw.type, "convert_status": p.convert_status(cw),
                 "filename": cw.filename, "id": cw.id}
                for cw in chunk
            ],
        },
    }


# ----------------------------------------------------------------------------
# lessons: APIs 8, 8.1, 9, 10..15


def _create_common(p: Platform, params):
    c = _classroom(p, params)
    genre = req_int(params, "genre")
    if genre not in (0, 1):
        raise Reject(40003, "genre must be 0 or 1")
    teacher_id = opt_int(params, "teacherId")
    if teacher_id is not None:
        _teacher(p, teacher_id)
    else:
        teacher_id = c.teacher_id
    return c, genre, teacher_id


def _check_slot(p: Platform, start: datetime, end: datetime, what: str) -> None:
    if end <= start:
        raise Reject(40003, f"{what}: endTime must be later than startTime")
    if start < p.now():
        raise Reject(40003, f"{what}: startTime is in the past")


def _command(c, lesson_ids: list[int]):
    return [800_000 + lid % 100_000 for lid in lesson_ids] if c.category == 1 else None


def api8_lesson_create(p: Platform, params, ctx) -> dict:
    tz = p.tz
    c, genre, teacher_id = _create_common(p, params)
    start = req_datetime(params, "startTime", tz).replace(second=0)
    end = req_datetime(params, "endTime", tz).replace(second=0)
    _check_slot(p, start, end, "lesson")
    name = opt_str(params, "lessonName", max_len=50)
    is_replay = req_flag(params, "is_replay", None)
    replay_duration = opt_int(params, "replay_duration", None, lo=0, hi=36500)
    [lid] = p.create_lessons(c.id, teacher_id, genre, [(start, end, name)], is_replay=is_replay,
                             replay_duration=replay_duration)
    out = _ok("新增课节成功", data=lid)
    cmd = _command(c, [lid])
    if cmd:
        out["command"] = cmd[0]
    return out


def api81_lesson_multi_create(p: Platform, params, ctx) -> dict:
    tz = p.tz
    c, genre, teacher_id = _create_common(p, params)
    items = req_array(params, "dataInfo")
    if len(items) > 100:
        raise Reject(40004, f"dataInfo has {len(items)} lessons, at most 100 are allowed")
    slots = []
    for i, it in enumerate(items):
        what = f"dataInfo[{i}]"
        if not isinstance(it, dict):
            raise Reject(40002, f"{what} must be an object")
        day_raw = it.get("createDate") if not _absent(it.get("createDate")) else it.get("creatDate")
        if _absent(day_raw):
            raise Reject(40001, f"{what}.createDate is required")
        day = parse_day(day_raw, f"{what}.createDate")
        sh, sm = parse_hm(_raw(it, "startTime", True), f"{what}.startTime")
        eh, em = parse_hm(_raw(it, "endTime", True), f"{what}.endTime")
        start = datetime(day.year, day.month, day.day, sh, sm, tzinfo=tz)
        end = datetime(day.year, day.month, day.day, eh, em, tzinfo=tz)
        _check_slot(p, start, end, what)
        name = opt_str(it, "lessonName", max_len=50)
        slots.append((start, end, name))
    lids = p.create_lessons(c.id, teacher_id, genre, slots)
    out = _ok("新增课节成功", data=lids)
    cmd = _command(c, lids)
    if cmd:
        out["command"] = cmd
    return out


def _not_started(p: Platform, lesson, what: str) -> None:
    if lesson.start <= p.now():
        raise Reject(40004, f"lesson {lesson.id} has already started; cannot {what}")


def api9_lesson_delete(p: Platform, params, ctx) -> dict:
    lesson = _lesson(p, params, "lessonId")
    _not_started(p, lesson, "delete it")
    p.delete_lesson(lesson.id)
    return _ok("删除课节成功", data=lesson.id)


def api10_lesson_add_disk(p: Platform, params, ctx) -> dict:
    lesson = _lesson(p, params, "lessonId")
    ids = _dedupe(req_id_list(params, "diskId", max_items=100))
    not_found, unconverted, already, add = [], [], [], []
    for i in ids:
        cw = p.courseware(i)
        if cw is None:
            not_found.append(f"不存在 id 为 {i} 的课件,请先为本机构添加课件")
        elif i in lesson.courseware_ids:
            already.append(f"id 为 {i} 的课件已存在")
        elif p.convert_status(cw) not in (2, 3):
            unconverted.append(f"id 为 {i} 的课件正在转换中,无法添加 ")
        else:
            add.append(i)
    if add:
        p.set_lesson_fields(lesson.id, courseware_ids=tuple(lesson.courseware_ids) + tuple(add))
    return _ok("添加课件成功", data={"notFound": not_found, "unConverted": unconverted, "alreadyExist": already})


def api11_lesson_delete_disk(p: Platform, params, ctx) -> dict:
    lesson = _lesson(p, params, "lessonId")
    disk = req_int(params, "diskId")
    if disk not in lesson.courseware_ids:
        raise Reject(40003, f"courseware {disk} is not bound to lesson {lesson.id}")
    p.set_lesson_fields(lesson.id, courseware_ids=tuple(x for x in lesson.courseware_ids if x != disk))
    return _ok("移除课件成功", data=disk)


def api12_lesson_add_student(p: Platform, params, ctx) -> dict:
    lesson = _lesson(p, params, "lessonId")
    ids = _dedupe(req_id_list(params, "studentId", max_items=MAX_IDS_UNDOCUMENTED))
    not_found, already, add = [], [], []
    for sid in ids:
        person = p.person(sid)
        if person is None or person.user_type != 1:
            not_found.append(f"不存在 id 为 {sid} 的学生,请先为本机构添加学生")
        elif sid in lesson.student_ids:
            already.append(f"id 为 {sid} 的学生已存在")
        else:
            add.append(sid)
    if add:
        p.set_lesson_fields(lesson.id, student_ids=tuple(lesson.student_ids) + tuple(add))
    return _ok("添加学生成功", data={"notFound": not_found, "already": already})


def api13_lesson_delete_student(p: Platform, params, ctx) -> dict:
    lesson = _lesson(p, params, "lessonId")
    sid = req_int(params, "studentId")
    if sid not in lesson.student_ids:
        raise Reject(40003, f"student {sid} is not in lesson {lesson.id}")
    p.set_lesson_fields(lesson.id, student_ids=tuple(x for x in lesson.student_ids if x != sid))
    return _ok("删除学生成功", data=sid)


def api14_lesson_change_teacher(p: Platform, params, ctx) -> dict:
    lesson = _lesson(p, params, "lessonId")
    tid = req_int(params, "teacherId")
    _teacher(p, tid)
    p.set_lesson_fields(lesson.id, teacher_id=tid)
    return _ok("更换老师成功")


def api15_lesson_edit(p: Platform, params, ctx) -> dict:
    tz = p.tz
    lesson = _lesson(p, params, "lessonId")
    new_name = opt_str(params, "newName", max_len=50)
    has_start = not _absent(params.get("startTime"))
    has_end = not _absent(params.get("endTime"))
    if has_start != has_end:
        raise Reject(40001, "startTime and endTime must be sent together")
    parent = req_flag(params, "parentSupervise", None)
    collect = req_flag(params, "collectInfo", None)
    changes: dict[str, Any] = {}
    c = p.classroom(lesson.classroom_id)
    if parent is not None and (c is None or c.category not in (0, 7)):
        raise Reject(40003, "parentSupervise is only usable for courses of category 0 or 7")
    if collect is not None and (c is None or not c.small_routine):
        raise Reject(40003, "collectInfo is only usable for mini-program courses")
    if has_start:
        start = req_datetime(params, "startTime", tz).replace(second=0)
        end = req_datetime(params, "endTime", tz).replace(second=0)
        if end <= start:
            raise Reject(40003, "endTime must be later than startTime")
        _not_started(p, lesson, "change its times")
        if start < p.now():
            raise Reject(40003, "startTime is in the past")
        changes["start"] = start
        changes["end"] = end + timedelta(seconds=59)
    if new_name is not None:
        if not new_name:
            raise Reject(40003, "newName must not be empty")
        changes["name"] = new_name
    if changes:
        p.set_lesson_fields(lesson.id, **changes)
    if parent is not None or collect is not None:
        p.set_lesson_settings(lesson.id, parent_supervise=parent, collect_info=collect)
    return _ok("编辑课节成功", data=None)


# ----------------------------------------------------------------------------
# reporting: APIs 16..19, 21, 23..31, 34


def api16_help_info(p: Platform, params, ctx) -> dict:
    tz = p.tz
    start, end = _window(params, "start_time", "end_time", tz)
    rows = []
    days = _days(start - timedelta(days=1), end)
    for day in days:
        for lesson in p.lessons_on(day):
            for h in p.activity(lesson).help_requests:
                if start <= h.time < end:
                    rows.append((h.time, h.lesson_id, h.user_id, h))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    data = [
        {"lesson_id": str(h.lesson_id), "user_id": str(h.user_id), "help_type": h.help_type,
         "help_item_name": h.help_item_name, "help_content": h.help_content, "help_time": fmt(h.time, tz)}
        for *_, h in rows
    ]
    return {"status": 1, "msg": "", "data": data}


def api17_class_info(p: Platform, params, ctx) -> dict:
    tz = p.tz
    start, end = _window(params, "start_time", "end_time", tz)
    data = []
    for day in _days(start, end):
        for lesson in p.lessons_on(day):
            if start <= lesson.start < end:
                a = p.activity(lesson)
                data.append({"lesson_id": str(lesson.id), "status": a.status,
                             "actual_start_time": fmt(a.actual_start, tz), "actual_end_time": fmt(a.actual_end, tz)})
    return {"status": 1, "msg": "", "data": data}


def _lessons_by_ids(p: Platform, ids: list[int]):
    out = []
    for lid in _dedupe(ids):
        lesson = p.lesson(lid)
        if lesson is None:
            raise Reject(40003, f"lesson {lid} does not exist")
        out.append(lesson)
    return out


def api18_lesson_status(p: Platform, params, ctx) -> dict:
    lessons = _lessons_by_ids(p, req_id_list(params, "lesson_id", max_items=MAX_IDS_UNDOCUMENTED))
    data = []
    for lesson in lessons:
        a = p.activity(lesson)
        data.append({"lesson_id": str(lesson.id), "status": a.status, "video": a.replay_url})
    return {"status": 1, "msg": "成功", "data": data}


def api19_lesson_info(p: Platform, params, ctx) -> dict:
    tz = p.tz
    lessons = _lessons_by_ids(p, req_id_list(params, "lessonId", max_items=100))
    data = []
    for lesson in lessons:
        a = p.activity(lesson)
        teacher = p.person(lesson.teacher_id)
        data.append({
            "zby_lid": lesson.id, "status": a.status,
            "actual_start_time": fmt(a.actual_start, tz), "actual_end_time": fmt(a.actual_end, tz),
            "teacher_name": teacher.name if teacher else "",
            "start_time": fmt(lesson.start, tz), "end_time": fmt(lesson.end, tz),
        })
    return _ok("获取信息成功", data=data)


def api21_service_record(p: Platform, params, ctx) -> dict:
    lesson = _lesson(p, params, "lesson_id")
    uid = req_int(params, "user_id")
    if uid != lesson.teacher_id and uid not in lesson.student_ids:
        raise Reject(40003, f"user {uid} is neither the teacher nor a student of lesson {lesson.id}")
    a = p.activity(lesson)
    attended = False
    if a.status == 2:
        if uid == lesson.teacher_id:
            attended = a.teacher.actual_start is not None
        else:
            attended = any(r.user_id == uid and r.listen_minutes > 0 for r in a.attendance)
    out: dict[str, Any] = {}
    if attended:
        day = lesson.start.astimezone(p.tz).strftime("%Y%m%d")
        stamp = int(lesson.start.timestamp())
        out[day] = [f"https://record.sandbox.invalid/media/{lesson.id}_{uid}_{day}_1_{stamp}.mp4"]
    out.update({"status": 1, "msg": "sucess", "script_flag": 1 if attended else 0, "scribblelog": []})
    return out


def api23_io_info(p: Platform, params, ctx) -> dict:
    lesson = _lesson(p, params, "lessonId")
    page = opt_int(params, "page", 0)
    if page < 0:
        raise Reject(40003, "page must not be negative")
    page = page or 1
    students = set(lesson.student_ids)
    rows = [r for r in p.activity(lesson).attendance if r.user_id in students]
    count = len(rows)
    chunk = rows[(page - 1) * PAGE_SIZE_23 : page * PAGE_SIZE_23]
    return _ok("success", data={
        "page": page, "sumpage": math.ceil(count / PAGE_SIZE_23), "count": count,
        "data": [{"user_id": r.user_id, "listen_time": r.listen_minutes, "inout_times": r.inout_times,
                  "u_late": r.late_minutes, "u_leave": r.leave_minutes} for r in chunk],
    })


def api24_replay_url(p: Platform, params, ctx) -> dict:
    lesson = _lesson(p, params, "lessonId")
    a = p.activity(lesson)
    return _ok("获取信息成功", data={"lesson_id": str(lesson.id), "name": lesson.name, "mp4url": a.replay_url})


def api25_student_award(p: Platform, params, ctx) -> dict:
    lessons = _lessons_by_ids(p, req_id_list(params, "lessonIds", max_items=MAX_IDS_UNDOCUMENTED))
    data = []
    for lesson in lessons:
        awards = p.activity(lesson).awards
        for uid in sorted(awards):
            data.append({"user_id": uid, "award_num": awards[uid], "lesson_id": lesson.id})
    return _ok("查询成功", data=data)


def api26_finish(p: Platform, params, ctx) -> dict:
    c = _classroom(p, params)
    counts = {0: 0, 1: 0, 2: 0, 3: 0}
    lessons = p.classroom_lessons(c.id)
    for lesson in lessons:
        counts[p.activity(lesson).status] += 1
    return _ok("查询成功", data={"finish": counts[2], "lessonNotStart": counts[0], "lessonOnClass": counts[1],
                                 "lessonExpired": counts[3], "total": len(lessons)})


def api27_event_counts(p: Platform, params, ctx) -> dict:
    lesson = _lesson(p, params, "lid")
    et = _event_type(params)
    events = p.activity(lesson).events
    students = set(lesson.student_ids)
    counts = {uid: len(times) for (uid, kind), times in events.items() if kind == et and uid in students and times}
    return _ok("查询成功", data={str(uid): counts[uid] for uid in sorted(counts)})


def api28_event_times(p: Platform, params, ctx) -> dict:
    tz = p.tz
    lesson = _lesson(p, params, "lid")
    et = _event_type(params)
    uid = req_int(params, "uid")
    if p.person(uid) is None:
        raise Reject(40003, f"user {uid} does not exist")
    times = sorted(p.activity(lesson).events.get((uid, et), ()))
    return _ok("查询成功", data=[{"event_time": fmt(t, tz)} for t in times])


def _user(p: Platform, params, name: str):
    uid = req_int(params, name)
    person = p.person(uid)
    if person is None:
        raise Reject(40003, f"user {uid} does not exist")
    return person


def _involves(lesson, uid: int) -> bool:
    return lesson.teacher_id == uid or uid in lesson.student_ids


def api29_status(p: Platform, params, ctx) -> dict:
    day = parse_day(_raw(params, "day", True), "day")
    person = _user(p, params, "uid")
    data = [{"id": lesson.id, "status": p.activity(lesson).status}
            for lesson in p.lessons_on(day) if _involves(lesson, person.id)]
    return _ok("查询成功", data=data)


def api30_get_class_info(p: Platform, params, ctx) -> dict:
    lesson = _lesson(p, params, "lessonId")
    c = p.classroom(lesson.classroom_id)
    return _ok("获取班级信息成功", data={"id": lesson.classroom_id, "name": c.name if c else ""})


def api31_by_user(p: Platform, params, ctx) -> dict:
    tz = p.tz
    person = _user(p, params, "userId")
    start, end = _window(params, "startTime", "endTime", tz)
    data = []
    for day in _days(start, end):
        for lesson in p.lessons_on(day):
            if start <= lesson.start < end and _involves(lesson, person.id):
                data.append({"lesson_id": lesson.id})
    return _ok("获取班级信息成功", data=data)


def api34_teacher_inout(p: Platform, params, ctx) -> dict:
    tz = p.tz
    lesson = _lesson(p, params, "lessonId")
    t = p.activity(lesson).teacher
    return {"status": 1, "code": 10000, "msg": "", "data": {
        "teacher_id": t.teacher_id, "actual_start_time": fmt(t.actual_start, tz),
        "actual_end_time": fmt(t.actual_end, tz), "listen_time": t.listen_minutes, "inout_times": t.inout_times,
        "u_late": t.late_minutes, "u_leave": t.leave_minutes,
    }}


_TABLE: list[tuple[str, str, Callable, bool]] = [
    ("1", "/user/create", api1_user_create, True),
    ("2", "/classroom/create", api2_classroom_create, True),
    ("3", "/classroom/student/add", api3_classroom_student_add, True),
    ("4", "/classroom/courseware/add", api4_classroom_courseware_add, True),
    ("5", "/classroom/delete", api5_classroom_delete, True),
    ("6", "/courseware/upload", api6_courseware_upload, True),
    ("7", "/courseware/list", api7_courseware_list, False),
    ("8", "/lesson/create", api8_lesson_create, True),
    ("8.1", "/lesson/multi_create", api81_lesson_multi_create, True),
    ("9", "/lesson/delete", api9_lesson_delete, True),
    ("10", "/lesson/add/disk", api10_lesson_add_disk, True),
    ("11", "/lesson/delete/disk", api11_lesson_delete_disk, True),
    ("12", "/lesson/add/student", api12_lesson_add_student, True),
    ("13", "/lesson/delete/student", api13_lesson_delete_student, True),
    ("14", "/lesson/change/teacher", api14_lesson_change_teacher, True),
    ("15", "/lesson/edit", api15_lesson_edit, True),
    ("16", "/lesson/get_help_info", api16_help_info, False),
    ("17", "/lesson/get_class_info", api17_class_info, False),
    ("18", "/lesson/get_lesson_status", api18_lesson_status, False),
    ("19", "/lesson/info", api19_lesson_info, False),
    ("20", "/user/id", api20_user_id, False),
    ("21", "/lesson/service/record", api21_service_record, False),
    ("22", "/user/edit", api22_user_edit, True),
    ("23", "/lesson/io/info", api23_io_info, False),
    ("24", "/lesson/replay/url", api24_replay_url, False),
    ("25", "/lesson/student/award", api25_student_award, False),
    ("26", "/lesson/finish", api26_finish, False),
    ("27", "/lessonData/query", api27_event_counts, False),
    ("28", "/lessonData/user/query", api28_event_times, False),
    ("29", "/lessonData/status", api29_status, False),
    ("30", "/lesson/getClassInfo", api30_get_class_info, False),
    ("31", "/lesson/byUser", api31_by_user, False),
    ("32", "/user/editinfo", api32_user_editinfo, True),
    ("33", "/classroom/student/delete", api33_classroom_student_delete, True),
    ("34", "/v2/data/teacher/inout", api34_teacher_inout, False),
]

#: path -> Route for all 35 documented endpoints.
ROUTES: dict[str, Route] = {
    path: Route(api, path, fn, write, "code" if api == "34" else "error_code", cache=not write and api != "7")
    for api, path, fn, write in _TABLE
}
