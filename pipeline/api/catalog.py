"""The catalog of the openAPI: every documented endpoint, once.

Number, path, the client's method name, whether it changes the platform's state
(a write: a lost answer is never retried blindly), and which key of an error
answer carries the code (API 34 answers with ``code``, every other with
``error_code``).  The client, the sandbox and the lake's normalizer all read
their endpoint facts from here; :data:`EVENT_TYPES` are the six key-event types
of APIs 27 and 28.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Endpoint", "ENDPOINTS", "BY_API", "BY_PATH", "BY_METHOD", "PATHS", "WRITE_PATHS", "EVENT_TYPES", "path_of"]


class Endpoint(NamedTuple):
    api: str
    path: str
    method: str
    write: bool = False
    code_key: str = "error_code"

    @property
    def answers_data(self) -> bool:
        """The documented success answer carries ``data`` (so ``status: 1`` without it is no answer)."""
        return self.api in _ANSWERS_DATA


_W = True
ENDPOINTS: tuple[Endpoint, ...] = tuple(Endpoint(*row) for row in (
    ("1", "/user/create", "create_users", _W),
    ("2", "/classroom/create", "create_classroom", _W),
    ("3", "/classroom/student/add", "add_classroom_students", _W),
    ("4", "/classroom/courseware/add", "add_classroom_coursewares", _W),
    ("5", "/classroom/delete", "delete_classroom", _W),
    ("6", "/courseware/upload", "upload_courseware", _W),
    ("7", "/courseware/list", "list_coursewares"),
    ("8", "/lesson/create", "create_lesson", _W),
    ("8.1", "/lesson/multi_create", "create_lessons", _W),
    ("9", "/lesson/delete", "delete_lesson", _W),
    ("10", "/lesson/add/disk", "add_lesson_coursewares", _W),
    ("11", "/lesson/delete/disk", "remove_lesson_courseware", _W),
    ("12", "/lesson/add/student", "add_lesson_students", _W),
    ("13", "/lesson/delete/student", "remove_lesson_student", _W),
    ("14", "/lesson/change/teacher", "change_lesson_teacher", _W),
    ("15", "/lesson/edit", "edit_lesson", _W),
    ("16", "/lesson/get_help_info", "get_help_info"),
    ("17", "/lesson/get_class_info", "get_class_info"),
    ("18", "/lesson/get_lesson_status", "get_lesson_status"),
    ("19", "/lesson/info", "get_lesson_info"),
    ("20", "/user/id", "get_user_ids"),
    ("21", "/lesson/service/record", "get_service_record"),
    ("22", "/user/edit", "edit_user_mobile", _W),
    ("23", "/lesson/io/info", "get_attendance_page"),
    ("24", "/lesson/replay/url", "get_replay_url"),
    ("25", "/lesson/student/award", "get_student_awards"),
    ("26", "/lesson/finish", "get_course_progress"),
    ("27", "/lessonData/query", "get_key_event_counts"),
    ("28", "/lessonData/user/query", "get_key_event_times"),
    ("29", "/lessonData/status", "get_lesson_status_by_day"),
    ("30", "/lesson/getClassInfo", "get_lesson_class"),
    ("31", "/lesson/byUser", "get_user_lessons"),
    ("32", "/user/editinfo", "edit_user_info", _W),
    ("33", "/classroom/student/delete", "remove_classroom_student", _W),
    ("34", "/v2/data/teacher/inout", "get_teacher_inout", False, "code"),
))

#: Reads whose documented success answer carries ``data`` (API 21 answers under top-level date keys).
_ANSWERS_DATA = frozenset({"7", "16", "17", "18", "19", "20", "23", "24", "25", "26", "27", "28", "29", "30", "31",
                           "34"})

BY_API: dict[str, Endpoint] = {e.api: e for e in ENDPOINTS}
BY_PATH: dict[str, Endpoint] = {e.path: e for e in ENDPOINTS}
BY_METHOD: dict[str, Endpoint] = {e.method: e for e in ENDPOINTS}
PATHS: dict[str, str] = {e.method: e.path for e in ENDPOINTS}
#: Management endpoints: they change the platform's state.
WRITE_PATHS = frozenset(e.path for e in ENDPOINTS if e.write)

#: Event types of APIs 27 and 28.
EVENT_TYPES = ("onstage", "handup", "reward", "toggle_mic_on", "toggle_mic_off", "reward_all")


def path_of(api: str) -> str:
    """The path of API number ``api`` (``"23"``, ``"8.1"``)."""
    return BY_API[api].path
