"""One typed method per documented endpoint (API 1 … 34 and 8.1).

Parameter names are exactly the document's (camelCase, snake_case and ``lid``
as printed).  Arrays follow section 4(b) of openapi.md: native arrays for API
18 ``lesson_id``, 19 ``lessonId``, 20 ``mobile`` and 25 ``lessonIds``; JSON
strings for API 3 ``studentId``, 4 ``coursewareIds``, 8.1 ``dataInfo``, 10
``diskId`` and 12 ``studentId``.  Times may be ``datetime`` (aware ones are
converted to Asia/Shanghai, section 4(d)) or already formatted strings.

Methods return the response's ``data``, or the documented top-level value
where the result is not in ``data`` (API 2 ``classroomId``, 3
``notEnterStudentIds``, 6 ``coursewareId``, 22 ``uid``), or the whole body
where it carries several top-level results (API 8, API 21).

The client checks the *protocol* only: the envelope and codes (in
:mod:`.classify`), the shape of ``data`` where a method needs it, and the
consistency of pages (API 23's page / sumpage / count).  The *payload* (types
and required fields of the records) is the lake normalizer's to check: APIs 27
and 28, for instance, return their data as it came.

The endpoint facts (:data:`ENDPOINTS`, :data:`PATHS`, :data:`WRITE_PATHS`,
:data:`EVENT_TYPES`) come from :mod:`.catalog`, their one home.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pipeline.core.calendar import TZ

from .catalog import ENDPOINTS, EVENT_TYPES, PATHS, WRITE_PATHS, Endpoint
from .errors import ApiError, PaginationError

__all__ = ["ENDPOINTS", "Endpoint", "EndpointsMixin", "EVENT_TYPES", "PATHS", "WRITE_PATHS", "BATCH_SIZE",
           "ATTENDANCE_PAGE_SIZE"]

#: Lesson ids (or mobiles) per call for the batched lookups (API 19 documents at most 100).
BATCH_SIZE = 100
#: API 23 returns 40 rows a page.
ATTENDANCE_PAGE_SIZE = 40
#: API 1 and API 3 take at most 50 entries per call.
USERS_PER_CALL = 50

FMT_MINUTE = "%Y-%m-%d %H:%M"        # YYYY-mm-dd HH:ii     (APIs 8, 15, 16)
FMT_SECOND = "%Y-%m-%d %H:%M:%S"     # YYYY-mm-dd HH:ii:ss  (API 17, API 31's example)
FMT_DAY = "%Y-%m-%d"                 # API 29 day, API 8.1 createDate
FMT_HHMM = "%H:%M"                   # API 8.1 startTime / endTime


#: API 2 options: documented name, plus a snake_case alias.
_CLASSROOM_OPTIONS = {
    "smallRoutine": "small_routine",
    "classFrontCoverUrl": "class_front_cover_url",
    "classInfo": "class_info",
    "collectInfo": "collect_info",
    "QRCodeImgUrl": "qr_code_img_url",
    "teacherIntro": "teacher_intro",
    "needLianMai": "need_lian_mai",
    "parentSupervise": "parent_supervise",
    "isReplay": "is_replay",
    "replayDuration": "replay_duration",
}
_CLASSROOM_ALIASES = {alias: name for name, alias in _CLASSROOM_OPTIONS.items()}


# -- value helpers ------------------------------------------------------------------

_INT_RE = re.compile(r"-?[0-9]+")


def _int(value: Any, name: str) -> int:
    """An id or flag as int (ids also arrive as digit strings from other responses)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"{name} must be an integer, got {type(value).__name__}")


def _ints(values: Iterable[Any], name: str) -> list[int]:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of ids, not a string")
    return [_int(v, name) for v in values]


def _json_list(values: Sequence[Any]) -> str:
    """A JSON-string array parameter, compact like the document's ``[1234,3456]``."""
    return json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))


def _time(value: Any, fmt: str, name: str) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(TZ)
        return value.strftime(fmt)
    if isinstance(value, dt.date) and fmt == FMT_DAY:
        return value.strftime(fmt)
    if isinstance(value, dt.time) and fmt == FMT_HHMM:
        return value.strftime(fmt)
    if isinstance(value, str) and value:
        return value
    raise TypeError(f"{name} must be a datetime or a non-empty string, got {type(value).__name__}")


def _top(body: Mapping[str, Any], key: str) -> Any:
    """A top-level result key; tolerates stray whitespace in the key (API 3's example
    prints ``"notEnterStudentIds "``) and falls back to the same key inside ``data``."""
    if key in body:
        return body[key]
    for k, v in body.items():
        if isinstance(k, str) and k.strip() == key:
            return v
    data = body.get("data")
    if isinstance(data, Mapping):
        return data.get(key)
    return None


def _list(value: Any) -> list:
    """A list result: ``None`` / ``{}`` (PHP's empty array may arrive either way) become ``[]``."""
    if value is None or value == {}:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):  # a PHP array with non-sequential keys
        return list(value.values())
    raise ApiError(f"expected a list in the response, got {type(value).__name__}")


def _chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


class EndpointsMixin:
    """Typed endpoint methods; the class using it provides ``call`` and ``map_concurrent``."""

    def call(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def map_concurrent(self, fn, items, workers=None) -> list:  # pragma: no cover
        raise NotImplementedError

    #: How the document's array parameters (APIs 18, 19, 20, 25) are sent: "native" or "json_string",
    #: and its JSON-string parameters (APIs 3, 4, 8.1, 10, 12): "json_string" or "native" (the readings
    #: ``arrays`` and ``json_arrays`` of pipeline/core/profile.py).
    array_form = "native"
    json_array_form = "json_string"

    def _data(self, method: str, params: Mapping[str, Any]) -> Any:
        return self.call(PATHS[method], params).get("data")

    def _array(self, values: list[Any]) -> list[Any] | str:
        return _json_list(values) if self.array_form == "json_string" else list(values)

    def _json_array(self, values: Sequence[Any]) -> list[Any] | str:
        return list(values) if self.json_array_form == "native" else _json_list(values)

    def _batched(self, method: str, key: str, values: list[Any]) -> list[Any]:
        """Array lookups, ``BATCH_SIZE`` values per call, concurrently, concatenated in order."""
        if not values:
            return []
        batches = _chunks(values, BATCH_SIZE)
        results = self.map_concurrent(lambda batch: _list(self._data(method, {key: self._array(batch)})), batches)
        return [row for rows in results for row in rows]

    # -- users (APIs 1, 20, 22, 32) ---------------------------------------------------

    def create_users(self, user_data: list[dict]) -> list:
        """API 1 ``/user/create``: ``userData`` (userPhone, userName, userType, userGender), 50 per call.

        Returns the concatenated ``data`` lists (``{mobile, uid}`` per created user).
        """
        users = [dict(u) for u in user_data]
        out: list = []
        for chunk in _chunks(users, USERS_PER_CALL):
            out.extend(_list(self._data("create_users", {"userData": chunk})))
        return out

    def get_user_ids(self, mobiles: Sequence[int | str]) -> list:
        """API 20 ``/user/id``: ``mobile`` as a native array, 100 per call."""
        return self._batched("get_user_ids", "mobile", _ints(mobiles, "mobile"))

    def edit_user_mobile(self, old_mobile: int | str, new_mobile: int | str) -> Any:
        """API 22 ``/user/edit``: returns the top-level ``uid``."""
        body = self.call(PATHS["edit_user_mobile"], {"newMobile": _int(new_mobile, "newMobile"),
                                                     "oldMobile": _int(old_mobile, "oldMobile")})
        return _top(body, "uid")

    def edit_user_info(self, user_id: int, user_type: int, user_name: str | None = None,
                       gender: int | None = None) -> Any:
        """API 32 ``/user/editinfo``."""
        params: dict[str, Any] = {"userId": _int(user_id, "userId"), "userType": _int(user_type, "userType")}
        if user_name is not None:
            params["userName"] = str(user_name)
        if gender is not None:
            params["gender"] = _int(gender, "gender")
        return self._data("edit_user_info", params)

    # -- courses (APIs 2, 3, 4, 5, 26, 33) --------------------------------------------

    def create_classroom(self, teacher_id: int, class_name: str, category: int, **options: Any) -> Any:
        """API 2 ``/classroom/create``; options by documented name (``smallRoutine``, ``isReplay`` …)
        or snake_case alias (``small_routine``, ``is_replay`` …).  Returns ``classroomId``."""
        params: dict[str, Any] = {"teacherId": _int(teacher_id, "teacherId"), "className": str(class_name),
                                  "category": _int(category, "category")}
        for key, value in options.items():
            name = key if key in _CLASSROOM_OPTIONS else _CLASSROOM_ALIASES.get(key)
            if name is None:
                raise TypeError(f"create_classroom() got an unknown option {key!r}")
            if value is None:
                continue
            params[name] = value if name in ("classFrontCoverUrl", "classInfo", "QRCodeImgUrl", "teacherIntro") \
                else _int(value, name)
        return _top(self.call(PATHS["create_classroom"], params), "classroomId")

    def add_classroom_students(self, classroom_id: int, student_ids: Sequence[int]) -> list:
        """API 3 ``/classroom/student/add``: ``studentId`` as a JSON string, 50 per call.
        Returns ``notEnterStudentIds`` (the ids that do not exist), concatenated."""
        ids = _ints(student_ids, "studentId")
        out: list = []
        for chunk in _chunks(ids, USERS_PER_CALL):
            body = self.call(PATHS["add_classroom_students"], {"classroomId": _int(classroom_id, "classroomId"),
                                                              "studentId": self._json_array(chunk)})
            out.extend(_list(_top(body, "notEnterStudentIds")))
        return out

    def add_classroom_coursewares(self, classroom_id: int, courseware_ids: Sequence[int]) -> Any:
        """API 4 ``/classroom/courseware/add``: ``coursewareIds`` as a JSON string."""
        return self._data("add_classroom_coursewares", {
            "classroomId": _int(classroom_id, "classroomId"),
            "coursewareIds": self._json_array(_ints(courseware_ids, "coursewareIds"))})

    def delete_classroom(self, classroom_id: int) -> Any:
        """API 5 ``/classroom/delete``."""
        return self._data("delete_classroom", {"classroomId": _int(classroom_id, "classroomId")})

    def get_course_progress(self, classroom_id: int) -> Any:
        """API 26 ``/lesson/finish``: ``{finish, lessonNotStart, lessonOnClass, lessonExpired, total}``."""
        return self._data("get_course_progress", {"classroomId": _int(classroom_id, "classroomId")})

    def remove_classroom_student(self, classroom_id: int, student_id: int) -> Any:
        """API 33 ``/classroom/student/delete``."""
        return self._data("remove_classroom_student", {"classroomId": _int(classroom_id, "classroomId"),
                                                       "studentId": _int(student_id, "studentId")})

    # -- courseware (APIs 6, 7) -----------------------------------------------------

    def upload_courseware(self, filename: str, filesize: int, courseware_url: str, type: int,
                          covt: int | None = None) -> Any:
        """API 6 ``/courseware/upload``: returns the top-level ``coursewareId``."""
        params: dict[str, Any] = {"filename": str(filename), "filesize": _int(filesize, "filesize"),
                                  "coursewareUrl": str(courseware_url), "type": _int(type, "type")}
        if covt is not None:
            params["covt"] = _int(covt, "covt")
        return _top(self.call(PATHS["upload_courseware"], params), "coursewareId")

    def list_coursewares(self, page: int, page_size: int) -> Any:
        """API 7 ``/courseware/list``: ``data`` = ``{count, page, pageSize, sumpage, list}``."""
        return self._data("list_coursewares", {"page": _int(page, "page"), "pageSize": _int(page_size, "pageSize")})

    def iter_coursewares(self, page_size: int = 40) -> Iterator[dict]:
        """All courseware over all pages of API 7 (stops after ``sumpage`` or at an empty page)."""
        page = 1
        while True:
            data = self.list_coursewares(page, page_size) or {}
            items = _list(data.get("list"))
            yield from items
            sumpage = _int(data.get("sumpage", 0) or 0, "sumpage")
            if not items or page >= sumpage:
                return
            page += 1

    # -- lessons: management (APIs 8 … 15) --------------------------------------------

    def create_lesson(self, classroom_id: int, start_time: dt.datetime | str, end_time: dt.datetime | str,
                      genre: int, teacher_id: int | None = None, lesson_name: str | None = None,
                      is_replay: int | None = None, replay_duration: int | None = None) -> dict[str, Any]:
        """API 8 ``/lesson/create``: returns the whole body (``data`` = lesson id, maybe ``command``)."""
        params: dict[str, Any] = {"classroomId": _int(classroom_id, "classroomId"),
                                  "startTime": _time(start_time, FMT_MINUTE, "startTime"),
                                  "endTime": _time(end_time, FMT_MINUTE, "endTime"),
                                  "genre": _int(genre, "genre")}
        if teacher_id is not None:
            params["teacherId"] = _int(teacher_id, "teacherId")
        if lesson_name is not None:
            params["lessonName"] = str(lesson_name)
        if is_replay is not None:
            params["is_replay"] = _int(is_replay, "is_replay")
        if replay_duration is not None:
            params["replay_duration"] = _int(replay_duration, "replay_duration")
        return self.call(PATHS["create_lesson"], params)

    def create_lessons(self, classroom_id: int, data_info: list[dict], genre: int,
                       teacher_id: int | None = None) -> Any:
        """API 8.1 ``/lesson/multi_create``: ``dataInfo`` as a JSON string.

        Each entry uses the example's keys (``creatDate``, ``startTime``, ``endTime``,
        optional ``lessonName``); ``date`` values are formatted ``YYYY-mm-dd`` and
        ``time``/``datetime`` values ``HH:ii``.
        """
        entries = []
        for entry in data_info:
            out = {}
            for key, value in entry.items():
                if isinstance(value, dt.datetime) or isinstance(value, dt.time):
                    value = _time(value, FMT_HHMM, key)
                elif isinstance(value, dt.date):
                    value = _time(value, FMT_DAY, key)
                out[key] = value
            entries.append(out)
        params: dict[str, Any] = {"classroomId": _int(classroom_id, "classroomId"), "dataInfo": self._json_array(entries),
                                  "genre": _int(genre, "genre")}
        if teacher_id is not None:
            params["teacherId"] = _int(teacher_id, "teacherId")
        return self._data("create_lessons", params)

    def delete_lesson(self, lesson_id: int) -> Any:
        """API 9 ``/lesson/delete``."""
        return self._data("delete_lesson", {"lessonId": _int(lesson_id, "lessonId")})

    def add_lesson_coursewares(self, lesson_id: int, disk_ids: Sequence[int]) -> Any:
        """API 10 ``/lesson/add/disk``: ``diskId`` as a JSON string; ``data`` = notFound/unConverted/alreadyExist."""
        return self._data("add_lesson_coursewares", {"lessonId": _int(lesson_id, "lessonId"),
                                                     "diskId": self._json_array(_ints(disk_ids, "diskId"))})

    def remove_lesson_courseware(self, lesson_id: int, disk_id: int) -> Any:
        """API 11 ``/lesson/delete/disk``."""
        return self._data("remove_lesson_courseware", {"lessonId": _int(lesson_id, "lessonId"),
                                                       "diskId": _int(disk_id, "diskId")})

    def add_lesson_students(self, lesson_id: int, student_ids: Sequence[int]) -> Any:
        """API 12 ``/lesson/add/student``: ``studentId`` as a JSON string; ``data`` = notFound/already."""
        return self._data("add_lesson_students", {"lessonId": _int(lesson_id, "lessonId"),
                                                  "studentId": self._json_array(_ints(student_ids, "studentId"))})

    def remove_lesson_student(self, lesson_id: int, student_id: int) -> Any:
        """API 13 ``/lesson/delete/student``."""
        return self._data("remove_lesson_student", {"lessonId": _int(lesson_id, "lessonId"),
                                                    "studentId": _int(student_id, "studentId")})

    def change_lesson_teacher(self, lesson_id: int, teacher_id: int) -> Any:
        """API 14 ``/lesson/change/teacher``."""
        return self._data("change_lesson_teacher", {"lessonId": _int(lesson_id, "lessonId"),
                                                    "teacherId": _int(teacher_id, "teacherId")})

    def edit_lesson(self, lesson_id: int, new_name: str | None = None, start_time: dt.datetime | str | None = None,
                    end_time: dt.datetime | str | None = None, parent_supervise: int | None = None,
                    collect_info: int | None = None) -> Any:
        """API 15 ``/lesson/edit``: ``startTime`` and ``endTime`` go together."""
        if (start_time is None) != (end_time is None):
            raise ValueError("edit_lesson: start_time and end_time must be given together")
        params: dict[str, Any] = {"lessonId": _int(lesson_id, "lessonId")}
        if new_name is not None:
            params["newName"] = str(new_name)
        if start_time is not None:
            params["startTime"] = _time(start_time, FMT_MINUTE, "startTime")
            params["endTime"] = _time(end_time, FMT_MINUTE, "endTime")
        if parent_supervise is not None:
            params["parentSupervise"] = _int(parent_supervise, "parentSupervise")
        if collect_info is not None:
            params["collectInfo"] = _int(collect_info, "collectInfo")
        return self._data("edit_lesson", params)

    # -- reporting (APIs 16 … 19, 21, 23 … 31, 34) ----------------------------------

    def get_help_info(self, start_time: dt.datetime | str, end_time: dt.datetime | str) -> list:
        """API 16 ``/lesson/get_help_info`` (times ``YYYY-mm-dd HH:ii``)."""
        return _list(self._data("get_help_info", {"start_time": _time(start_time, FMT_MINUTE, "start_time"),
                                                  "end_time": _time(end_time, FMT_MINUTE, "end_time")}))

    def get_class_info(self, start_time: dt.datetime | str, end_time: dt.datetime | str) -> list:
        """API 17 ``/lesson/get_class_info`` (times ``YYYY-mm-dd HH:ii:ss``)."""
        return _list(self._data("get_class_info", {"start_time": _time(start_time, FMT_SECOND, "start_time"),
                                                   "end_time": _time(end_time, FMT_SECOND, "end_time")}))

    def get_lesson_status(self, lesson_ids: Sequence[int]) -> list:
        """API 18 ``/lesson/get_lesson_status``: ``lesson_id`` native array, 100 per call."""
        return self._batched("get_lesson_status", "lesson_id", _ints(lesson_ids, "lesson_id"))

    def get_lesson_info(self, lesson_ids: Sequence[int]) -> list:
        """API 19 ``/lesson/info``: ``lessonId`` native array, at most 100 per call."""
        return self._batched("get_lesson_info", "lessonId", _ints(lesson_ids, "lessonId"))

    def get_service_record(self, lesson_id: int, user_id: int) -> dict[str, Any]:
        """API 21 ``/lesson/service/record``: the whole body (videos under top-level date keys)."""
        return self.call(PATHS["get_service_record"], {"lesson_id": _int(lesson_id, "lesson_id"),
                                                       "user_id": _int(user_id, "user_id")})

    def get_attendance_page(self, lesson_id: int, page: int) -> dict[str, Any]:
        """API 23 ``/lesson/io/info``, one page: ``{page, sumpage, count, data}``."""
        data = self._data("get_attendance_page", {"lessonId": _int(lesson_id, "lessonId"), "page": _int(page, "page")})
        if not isinstance(data, Mapping):
            raise PaginationError(f"page {page} of lesson {lesson_id}: data is not an object",
                                  path=PATHS["get_attendance_page"])
        return dict(data)

    def get_attendance(self, lesson_id: int) -> list[dict]:
        """All attendance rows of a lesson (API 23 over all pages, 40 a page).

        Page 1 gives ``sumpage`` and ``count``; the other pages are fetched
        concurrently.  Raises :class:`PaginationError` when the pages do not add
        up: a page before the last that is not full, a page over 40 rows, an
        empty last page, ``sumpage`` / ``count`` disagreeing with each other or
        changing between pages, or a row total different from ``count``.
        """
        path = PATHS["get_attendance_page"]
        size = ATTENDANCE_PAGE_SIZE

        def fail(why: str) -> PaginationError:
            return PaginationError(f"lesson {lesson_id}: {why}", path=path)

        def meta(page_no: int, data: Mapping[str, Any]) -> tuple[int, int, list]:
            try:
                sumpage = int(data.get("sumpage") or 0)
                count = int(data.get("count") or 0)
                got_page = data.get("page")
                got_page = int(got_page) if got_page not in (None, "") else page_no
            except (TypeError, ValueError):
                raise fail(f"page {page_no}: page/sumpage/count are not integers") from None
            if got_page != page_no:
                raise fail(f"asked for page {page_no}, got page {got_page}")
            return sumpage, count, _list(data.get("data"))

        first = self.get_attendance_page(lesson_id, 1)
        sumpage, count, rows = meta(1, first)
        if count < 0 or sumpage < 0:
            raise fail(f"negative count={count} or sumpage={sumpage}")
        if sumpage != math.ceil(count / size) and not (count == 0 and sumpage <= 1):
            raise fail(f"sumpage={sumpage} does not fit count={count} at {size} rows a page")
        pages = [rows]
        if sumpage > 1:
            rest = self.map_concurrent(lambda p: (p, self.get_attendance_page(lesson_id, p)), range(2, sumpage + 1))
            for p, data in rest:
                s, c, r = meta(p, data)
                if (s, c) != (sumpage, count):
                    raise fail(f"page {p} says sumpage={s} count={c}, page 1 said sumpage={sumpage} count={count}")
                pages.append(r)
        for p, r in enumerate(pages, 1):
            if len(r) > size:
                raise fail(f"page {p} has {len(r)} rows, more than {size}")
            if p < len(pages) and len(r) != size:
                raise fail(f"page {p} of {sumpage} has {len(r)} rows, expected {size}")
            if p == len(pages) and p > 1 and not r:
                raise fail(f"last page {p} is empty")
        out = [row for r in pages for row in r]
        if len(out) != count:
            raise fail(f"{len(out)} rows over {len(pages)} page(s), count says {count}")
        return out

    def get_replay_url(self, lesson_id: int) -> Any:
        """API 24 ``/lesson/replay/url``: ``{lesson_id, name, mp4url}``."""
        return self._data("get_replay_url", {"lessonId": _int(lesson_id, "lessonId")})

    def get_student_awards(self, lesson_ids: Sequence[int]) -> list:
        """API 25 ``/lesson/student/award``: ``lessonIds`` native array, 100 per call."""
        return self._batched("get_student_awards", "lessonIds", _ints(lesson_ids, "lessonIds"))

    def get_key_event_counts(self, lesson_id: int, event_type: str) -> dict[str, Any]:
        """API 27 ``/lessonData/query`` (``lid`` = lesson id, section 4(a)): student id -> count, as it came
        (``{}`` for a ``null`` or empty ``data``)."""
        data = self._data("get_key_event_counts", {"lid": _int(lesson_id, "lid"),
                                                   "event_type": _event_type(event_type)})
        if data is None or data == []:
            return {}
        if not isinstance(data, Mapping):
            raise ApiError(f"lesson {lesson_id}: event counts are not an object", path=PATHS["get_key_event_counts"])
        return dict(data)

    def get_key_event_times(self, lesson_id: int, user_id: int, event_type: str) -> list:
        """API 28 ``/lessonData/user/query``: the ``data`` list as it came (``{event_time}`` items)."""
        return _list(self._data("get_key_event_times", {"lid": _int(lesson_id, "lid"),
                                                        "event_type": _event_type(event_type),
                                                        "uid": _int(user_id, "uid")}))

    def get_lesson_status_by_day(self, day: dt.date | str, uid: int) -> list:
        """API 29 ``/lessonData/status``: ``[{id, status}]`` for a user and a day (``YYYY-MM-DD``)."""
        return _list(self._data("get_lesson_status_by_day", {"day": _time(day, FMT_DAY, "day"),
                                                             "uid": _int(uid, "uid")}))

    def get_lesson_class(self, lesson_id: int) -> Any:
        """API 30 ``/lesson/getClassInfo``: ``{id, name}`` of the class."""
        return self._data("get_lesson_class", {"lessonId": _int(lesson_id, "lessonId")})

    def get_user_lessons(self, user_id: int, start_time: dt.datetime | str, end_time: dt.datetime | str) -> list:
        """API 31 ``/lesson/byUser``: ``[{lesson_id}]`` (times with seconds, as the example)."""
        return _list(self._data("get_user_lessons", {"userId": _int(user_id, "userId"),
                                                     "startTime": _time(start_time, FMT_SECOND, "startTime"),
                                                     "endTime": _time(end_time, FMT_SECOND, "endTime")}))

    def get_teacher_inout(self, lesson_id: int) -> Any:
        """API 34 ``/v2/data/teacher/inout`` (answers with ``code``, not ``error_code``)."""
        return self._data("get_teacher_inout", {"lessonId": _int(lesson_id, "lessonId")})


def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise ValueError(f"event_type must be one of {', '.join(EVENT_TYPES)}; got {value!r}")
    return value
