"""The reporting endpoints: APIs 16–19, 21, 23–31 and 34 (read-only; their answers are cached).

Times are answered as ``YYYY-mm-dd HH:ii:ss`` in the platform's zone; time
windows (APIs 16, 17, 31) are at most :data:`MAX_WINDOW` long.  What the
platform's readings (:mod:`..readings`, ``p.readings``) change: API 17's window
(``class_window``), the array form and unknown ids of APIs 18, 19, 25
(``arrays``, ``unknown_ids``), API 23's rows (``attendance_rows``), the unit of
APIs 23 and 34's durations (``listen_time``), API 27's empty answer (``empty``)
and API 30's class (``class_is_course``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from pipeline.api.catalog import EVENT_TYPES

from ..errors import Reject
from ..platform import Platform
from ..readings import class_id_of
from .params import (
    MAX_IDS_UNDOCUMENTED,
    dedupe,
    ok,
    opt_int,
    parse_day,
    raw,
    req_classroom,
    req_datetime,
    req_id_list,
    req_int,
    req_lesson,
    req_str,
)

#: Longest time window accepted by APIs 16, 17 and 31 (40003 beyond).
MAX_WINDOW = timedelta(days=31)
PAGE_SIZE_23 = 40


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


def _event_type(params: Mapping[Any, Any]) -> str:
    et = req_str(params, "event_type")
    if et not in EVENT_TYPES:
        raise Reject(40003, f"event_type {et!r} is not one of {', '.join(EVENT_TYPES)}")
    return et


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


#: How far a lesson's actual start can be from its scheduled day (early the evening before, late after
#: midnight): the days API 17 looks at around its window under ``class_window=actual_start``.
_ACTUAL_START_SLACK = timedelta(days=1)


def api17_class_info(p: Platform, params, ctx) -> dict:
    """Lessons whose scheduled start (``class_window=scheduled_start``) or whose actual start
    (``actual_start``; a lesson never started: its scheduled start) is in ``[start_time, end_time)``."""
    tz = p.tz
    start, end = _window(params, "start_time", "end_time", tz)
    by_actual = p.readings.class_window == "actual_start"
    days = _days(start - _ACTUAL_START_SLACK, end + _ACTUAL_START_SLACK) if by_actual else _days(start, end)
    data = []
    for day in days:
        for lesson in p.lessons_on(day):
            a = p.activity(lesson) if by_actual else None
            at = (a.actual_start or lesson.start) if a is not None else lesson.start
            if start <= at < end:
                a = a or p.activity(lesson)
                data.append({"lesson_id": str(lesson.id), "status": a.status,
                             "actual_start_time": fmt(a.actual_start, tz), "actual_end_time": fmt(a.actual_end, tz)})
    return {"status": 1, "msg": "", "data": data}


def _lessons_by_ids(p: Platform, ids: list[int]):
    """The lessons of ``ids`` (first-seen order, each once); an unknown id fails the batch with 40003
    (``unknown_ids=reject``) or is left out (``omit``)."""
    omit = p.readings.unknown_ids == "omit"
    out = []
    for lid in dedupe(ids):
        lesson = p.lesson(lid)
        if lesson is None:
            if omit:
                continue
            raise Reject(40003, f"lesson {lid} does not exist")
        out.append(lesson)
    return out


def _ids(p: Platform, params, name: str, max_items: int) -> list[int]:
    """An id-array parameter of APIs 18, 19, 25 in the form the reading ``arrays`` accepts."""
    return req_id_list(params, name, max_items=max_items, only=p.readings.only_form("arrays"))


def api18_lesson_status(p: Platform, params, ctx) -> dict:
    lessons = _lessons_by_ids(p, _ids(p, params, "lesson_id", MAX_IDS_UNDOCUMENTED))
    data = []
    for lesson in lessons:
        a = p.activity(lesson)
        data.append({"lesson_id": str(lesson.id), "status": a.status, "video": a.replay_url})
    return {"status": 1, "msg": "成功", "data": data}


def api19_lesson_info(p: Platform, params, ctx) -> dict:
    tz = p.tz
    lessons = _lessons_by_ids(p, _ids(p, params, "lessonId", 100))
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
    return ok("获取信息成功", data=data)


def api21_service_record(p: Platform, params, ctx) -> dict:
    lesson = req_lesson(p, params, "lesson_id")
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


def _durations(p: Platform, r) -> tuple[int, int, int]:
    """(listen_time, u_late, u_leave) of an attendance row or the teacher's, in the reading's unit
    (``listen_time=minutes``: minutes; ``seconds``: all three in seconds)."""
    if p.readings.listen_time == "seconds":
        return r.listen_seconds, r.late_seconds, r.leave_seconds
    return r.listen_minutes, r.late_minutes, r.leave_minutes


def api23_io_info(p: Platform, params, ctx) -> dict:
    """The lesson's students, 40 a page (``attendance_rows=students_and_teacher``: the teacher's own row
    first, counted in ``count`` and ``sumpage``)."""
    lesson = req_lesson(p, params, "lessonId")
    page = opt_int(params, "page", 0)
    if page < 0:
        raise Reject(40003, "page must not be negative")
    page = page or 1
    students = set(lesson.student_ids)
    a = p.activity(lesson)
    rows = [(r.user_id, r) for r in a.attendance if r.user_id in students]
    if p.readings.attendance_rows == "students_and_teacher":
        rows.insert(0, (a.teacher.teacher_id, a.teacher))
    count = len(rows)
    chunk = rows[(page - 1) * PAGE_SIZE_23 : page * PAGE_SIZE_23]
    out = []
    for uid, r in chunk:
        listen, late, leave = _durations(p, r)
        out.append({"user_id": uid, "listen_time": listen, "inout_times": r.inout_times, "u_late": late,
                    "u_leave": leave})
    return ok("success", data={"page": page, "sumpage": math.ceil(count / PAGE_SIZE_23), "count": count,
                               "data": out})


def api24_replay_url(p: Platform, params, ctx) -> dict:
    lesson = req_lesson(p, params, "lessonId")
    a = p.activity(lesson)
    return ok("获取信息成功", data={"lesson_id": str(lesson.id), "name": lesson.name, "mp4url": a.replay_url})


def api25_student_award(p: Platform, params, ctx) -> dict:
    lessons = _lessons_by_ids(p, _ids(p, params, "lessonIds", MAX_IDS_UNDOCUMENTED))
    data = []
    for lesson in lessons:
        awards = p.activity(lesson).awards
        for uid in sorted(awards):
            data.append({"user_id": uid, "award_num": awards[uid], "lesson_id": lesson.id})
    return ok("查询成功", data=data)


def api26_finish(p: Platform, params, ctx) -> dict:
    c = req_classroom(p, params)
    counts = {0: 0, 1: 0, 2: 0, 3: 0}
    lessons = p.classroom_lessons(c.id)
    for lesson in lessons:
        counts[p.activity(lesson).status] += 1
    return ok("查询成功", data={"finish": counts[2], "lessonNotStart": counts[0], "lessonOnClass": counts[1],
                                 "lessonExpired": counts[3], "total": len(lessons)})


def api27_event_counts(p: Platform, params, ctx) -> dict:
    lesson = req_lesson(p, params, "lid")
    et = _event_type(params)
    events = p.activity(lesson).events
    students = set(lesson.student_ids)
    counts = {uid: len(times) for (uid, kind), times in events.items() if kind == et and uid in students and times}
    if not counts and p.readings.empty == "list":
        return ok("查询成功", data=[])  # PHP's json_encode of an empty array
    return ok("查询成功", data={str(uid): counts[uid] for uid in sorted(counts)})


def api28_event_times(p: Platform, params, ctx) -> dict:
    tz = p.tz
    lesson = req_lesson(p, params, "lid")
    et = _event_type(params)
    uid = req_int(params, "uid")
    if p.person(uid) is None:
        raise Reject(40003, f"user {uid} does not exist")
    times = sorted(p.activity(lesson).events.get((uid, et), ()))
    return ok("查询成功", data=[{"event_time": fmt(t, tz)} for t in times])


def _user(p: Platform, params, name: str):
    uid = req_int(params, name)
    person = p.person(uid)
    if person is None:
        raise Reject(40003, f"user {uid} does not exist")
    return person


def _involves(lesson, uid: int) -> bool:
    return lesson.teacher_id == uid or uid in lesson.student_ids


def api29_status(p: Platform, params, ctx) -> dict:
    day = parse_day(raw(params, "day", True), "day")
    person = _user(p, params, "uid")
    data = [{"id": lesson.id, "status": p.activity(lesson).status}
            for lesson in p.lessons_on(day) if _involves(lesson, person.id)]
    return ok("查询成功", data=data)


def api30_get_class_info(p: Platform, params, ctx) -> dict:
    lesson = req_lesson(p, params, "lessonId")
    c = p.classroom(lesson.classroom_id)
    name = c.name if c else ""
    if p.readings.class_is_course == "no":  # a 班级 of its own: not a course id (API 26 refuses it)
        return ok("获取班级信息成功", data={"id": class_id_of(lesson.classroom_id), "name": f"{name}班"})
    return ok("获取班级信息成功", data={"id": lesson.classroom_id, "name": name})


def api31_by_user(p: Platform, params, ctx) -> dict:
    tz = p.tz
    person = _user(p, params, "userId")
    start, end = _window(params, "startTime", "endTime", tz)
    data = []
    for day in _days(start, end):
        for lesson in p.lessons_on(day):
            if start <= lesson.start < end and _involves(lesson, person.id):
                data.append({"lesson_id": lesson.id})
    return ok("获取班级信息成功", data=data)


def api34_teacher_inout(p: Platform, params, ctx) -> dict:
    tz = p.tz
    lesson = req_lesson(p, params, "lessonId")
    t = p.activity(lesson).teacher
    listen, late, leave = _durations(p, t)
    return {"status": 1, "code": 10000, "msg": "", "data": {
        "teacher_id": t.teacher_id, "actual_start_time": fmt(t.actual_start, tz),
        "actual_end_time": fmt(t.actual_end, tz), "listen_time": listen, "inout_times": t.inout_times,
        "u_late": late, "u_leave": leave,
    }}


#: API number -> handler.
HANDLERS = {
    "16": api16_help_info,
    "17": api17_class_info,
    "18": api18_lesson_status,
    "19": api19_lesson_info,
    "21": api21_service_record,
    "23": api23_io_info,
    "24": api24_replay_url,
    "25": api25_student_award,
    "26": api26_finish,
    "27": api27_event_counts,
    "28": api28_event_times,
    "29": api29_status,
    "30": api30_get_class_info,
    "31": api31_by_user,
    "34": api34_teacher_inout,
}
