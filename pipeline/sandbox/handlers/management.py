"""The management endpoints: users (APIs 1, 20, 22, 32), courses (2–5, 33), courseware (6, 7), lessons (8, 8.1, 9–15).

The array parameters follow the readings ``arrays`` (API 20 ``mobile``) and
``json_arrays`` (APIs 3, 4, 8.1, 10, 12), see :mod:`..readings`.

Everything but APIs 7 and 20 changes the platform's state (the catalog's
``write`` flag); state checks that need the platform's lock (a mobile already
registered, a full course, ...) are the platform's and raise the same
:class:`~pipeline.sandbox.errors.Reject`.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from ..errors import Reject
from ..platform import Platform
from .params import (
    MAX_IDS_UNDOCUMENTED,
    absent,
    as_int,
    as_mobile,
    as_str,
    check_teacher,
    dedupe,
    ok,
    opt_int,
    opt_str,
    parse_day,
    parse_hm,
    raw,
    req_array,
    req_classroom,
    req_datetime,
    req_flag,
    req_id_list,
    req_int,
    req_lesson,
    req_str,
)

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
        phone_raw = raw(u, "userPhone", True)
        phone = as_mobile(phone_raw, f"userData[{i}].userPhone")
        name = as_str(raw(u, "userName", True), f"userData[{i}].userName")
        if len(name) > 20:
            raise Reject(40003, f"userData[{i}].userName is longer than 20 characters")
        utype = as_int(raw(u, "userType", True), f"userData[{i}].userType")
        gender = as_int(raw(u, "userGender", True), f"userData[{i}].userGender")
        if utype not in (1, 2):
            raise Reject(40003, f"userData[{i}].userType must be 1 (student) or 2 (teacher)")
        if gender not in (1, 2):
            raise Reject(40003, f"userData[{i}].userGender must be 1 (male) or 2 (female)")
        rows.append((phone, name, utype, gender))
    created = p.create_users(rows)
    return ok("操作成功", data=[{"mobile": str(m), "uid": uid} for m, uid in created])


def api20_user_id(p: Platform, params, ctx) -> dict:
    arr = req_array(params, "mobile", p.readings.only_form("arrays"))
    if len(arr) > MAX_IDS_UNDOCUMENTED:
        raise Reject(40004, f"mobile has {len(arr)} entries, at most {MAX_IDS_UNDOCUMENTED} are allowed")
    out = []
    for m in dedupe([as_mobile(x, "mobile[]") for x in arr]):
        person = p.person_by_mobile(m)
        if person is not None:
            out.append({"uid": person.id, "mobile": person.mobile, "role": 2 if person.user_type == 2 else 3})
    return ok("获取信息成功", data=out)


def api22_user_edit(p: Platform, params, ctx) -> dict:
    new = as_mobile(raw(params, "newMobile", True), "newMobile")
    old = as_mobile(raw(params, "oldMobile", True), "oldMobile")
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
    return ok("成功", data=None)


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
    check_teacher(p, teacher_id)
    cid = p.create_classroom(
        name=name, category=category, teacher_id=teacher_id, small_routine=small, need_lian_mai=need_lian_mai,
        parent_supervise=parent, is_replay=is_replay, replay_duration=replay_duration, collect_info=collect,
    )
    return ok("创建课程成功", classroomId=cid)


def api3_classroom_student_add(p: Platform, params, ctx) -> dict:
    c = req_classroom(p, params)
    ids = req_id_list(params, "studentId", max_items=50, only=p.readings.only_form("json_arrays"))
    not_enter = p.add_classroom_students(c.id, dedupe(ids))
    return ok("创建课程成功", notEnterStudentIds=not_enter)


def api4_classroom_courseware_add(p: Platform, params, ctx) -> dict:
    c = req_classroom(p, params)
    ids = dedupe(req_id_list(params, "coursewareIds", max_items=100, only=p.readings.only_form("json_arrays")))
    missing = [i for i in ids if p.courseware(i) is None]
    if missing:
        raise Reject(40003, f"courseware {', '.join(map(str, missing))} does not exist")
    p.add_classroom_coursewares(c.id, ids)
    return ok("创建课程成功")


def api5_classroom_delete(p: Platform, params, ctx) -> dict:
    c = req_classroom(p, params)
    p.delete_classroom(c.id)
    return ok("删除课程成功")


def api33_classroom_student_delete(p: Platform, params, ctx) -> dict:
    c = req_classroom(p, params)
    sid = req_int(params, "studentId")
    if sid not in c.student_ids:
        raise Reject(40003, f"student {sid} is not in course {c.id}")
    p.remove_classroom_student(c.id, sid)
    return ok("成功", data=None)


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
    return ok("上传课件成功", coursewareId=cw_id)


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
    c = req_classroom(p, params)
    genre = req_int(params, "genre")
    if genre not in (0, 1):
        raise Reject(40003, "genre must be 0 or 1")
    teacher_id = opt_int(params, "teacherId")
    if teacher_id is not None:
        check_teacher(p, teacher_id)
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
    out = ok("新增课节成功", data=lid)
    cmd = _command(c, [lid])
    if cmd:
        out["command"] = cmd[0]
    return out


def api81_lesson_multi_create(p: Platform, params, ctx) -> dict:
    tz = p.tz
    c, genre, teacher_id = _create_common(p, params)
    items = req_array(params, "dataInfo", p.readings.only_form("json_arrays"))
    if len(items) > 100:
        raise Reject(40004, f"dataInfo has {len(items)} lessons, at most 100 are allowed")
    slots = []
    for i, it in enumerate(items):
        what = f"dataInfo[{i}]"
        if not isinstance(it, dict):
            raise Reject(40002, f"{what} must be an object")
        day_raw = it.get("createDate") if not absent(it.get("createDate")) else it.get("creatDate")
        if absent(day_raw):
            raise Reject(40001, f"{what}.createDate is required")
        day = parse_day(day_raw, f"{what}.createDate")
        sh, sm = parse_hm(raw(it, "startTime", True), f"{what}.startTime")
        eh, em = parse_hm(raw(it, "endTime", True), f"{what}.endTime")
        start = datetime(day.year, day.month, day.day, sh, sm, tzinfo=tz)
        end = datetime(day.year, day.month, day.day, eh, em, tzinfo=tz)
        _check_slot(p, start, end, what)
        name = opt_str(it, "lessonName", max_len=50)
        slots.append((start, end, name))
    lids = p.create_lessons(c.id, teacher_id, genre, slots)
    out = ok("新增课节成功", data=lids)
    cmd = _command(c, lids)
    if cmd:
        out["command"] = cmd
    return out


def _not_started(p: Platform, lesson, what: str) -> None:
    if lesson.start <= p.now():
        raise Reject(40004, f"lesson {lesson.id} has already started; cannot {what}")


def api9_lesson_delete(p: Platform, params, ctx) -> dict:
    lesson = req_lesson(p, params, "lessonId")
    _not_started(p, lesson, "delete it")
    p.delete_lesson(lesson.id)
    return ok("删除课节成功", data=lesson.id)


def api10_lesson_add_disk(p: Platform, params, ctx) -> dict:
    lesson = req_lesson(p, params, "lessonId")
    ids = dedupe(req_id_list(params, "diskId", max_items=100, only=p.readings.only_form("json_arrays")))
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
    return ok("添加课件成功", data={"notFound": not_found, "unConverted": unconverted, "alreadyExist": already})


def api11_lesson_delete_disk(p: Platform, params, ctx) -> dict:
    lesson = req_lesson(p, params, "lessonId")
    disk = req_int(params, "diskId")
    if disk not in lesson.courseware_ids:
        raise Reject(40003, f"courseware {disk} is not bound to lesson {lesson.id}")
    p.set_lesson_fields(lesson.id, courseware_ids=tuple(x for x in lesson.courseware_ids if x != disk))
    return ok("移除课件成功", data=disk)


def api12_lesson_add_student(p: Platform, params, ctx) -> dict:
    lesson = req_lesson(p, params, "lessonId")
    ids = dedupe(req_id_list(params, "studentId", max_items=MAX_IDS_UNDOCUMENTED,
                             only=p.readings.only_form("json_arrays")))
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
    return ok("添加学生成功", data={"notFound": not_found, "already": already})


def api13_lesson_delete_student(p: Platform, params, ctx) -> dict:
    lesson = req_lesson(p, params, "lessonId")
    sid = req_int(params, "studentId")
    if sid not in lesson.student_ids:
        raise Reject(40003, f"student {sid} is not in lesson {lesson.id}")
    p.set_lesson_fields(lesson.id, student_ids=tuple(x for x in lesson.student_ids if x != sid))
    return ok("删除学生成功", data=sid)


def api14_lesson_change_teacher(p: Platform, params, ctx) -> dict:
    lesson = req_lesson(p, params, "lessonId")
    tid = req_int(params, "teacherId")
    check_teacher(p, tid)
    p.set_lesson_fields(lesson.id, teacher_id=tid)
    return ok("更换老师成功")


def api15_lesson_edit(p: Platform, params, ctx) -> dict:
    tz = p.tz
    lesson = req_lesson(p, params, "lessonId")
    new_name = opt_str(params, "newName", max_len=50)
    has_start = not absent(params.get("startTime"))
    has_end = not absent(params.get("endTime"))
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
    return ok("编辑课节成功", data=None)


#: API number -> handler.
HANDLERS = {
    "1": api1_user_create,
    "2": api2_classroom_create,
    "3": api3_classroom_student_add,
    "4": api4_classroom_courseware_add,
    "5": api5_classroom_delete,
    "6": api6_courseware_upload,
    "7": api7_courseware_list,
    "8": api8_lesson_create,
    "8.1": api81_lesson_multi_create,
    "9": api9_lesson_delete,
    "10": api10_lesson_add_disk,
    "11": api11_lesson_delete_disk,
    "12": api12_lesson_add_student,
    "13": api13_lesson_delete_student,
    "14": api14_lesson_change_teacher,
    "15": api15_lesson_edit,
    "20": api20_user_id,
    "22": api22_user_edit,
    "32": api32_user_editinfo,
    "33": api33_classroom_student_delete,
}
