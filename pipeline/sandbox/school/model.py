"""The school's records (frozen dataclasses) and its identifier scheme.

The id ranges are documented in the package docstring (``Identifiers``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

# --------------------------------------------------------------------------- identifiers

LESSON_EPOCH = date(2015, 1, 1)
LESSON_ID_BASE = 100_000_000
API_LESSON_ID_BASE = 900_000_000
TEACHER_ID_BASE = 500_000
STUDENT_ID_BASE = 2_000_000
CLASSROOM_ID_BASE = 20_000_000
CLASSROOM_TERM_STRIDE = 200_000
COURSEWARE_ID_BASE = 10_001
#: Terms are the calendar's (``pipeline.core.calendar.term_of``), four a year; their index is
#: ``(year - TERM_BASE_YEAR) * 4 + season`` with season 0 寒 winter, 1 春 spring, 2 暑 summer, 3 秋 autumn.
TERM_BASE_YEAR = 1985
SEASONS_PER_YEAR = 4
#: Most calendar weeks (Monday to Sunday) a term touches (a 122-day term starting on a Sunday: 19).
MAX_TERM_WEEKS = 19
#: Classrooms of one lane (``lane * MAX_SEGMENTS + segment`` in the classroom id): at least MAX_TERM_WEEKS.
MAX_SEGMENTS = 24
#: First day whose lesson ids ``lesson()`` decodes (days before 2015 give ids below 100_000_000).
MIN_DAY = date(1985, 1, 1)
#: Last day of the supported calendar (term index 4059, classroom ids below 832,000,000).
MAX_DAY = date(2999, 12, 31)
MIN_LESSON_ID = LESSON_ID_BASE + (MIN_DAY - LESSON_EPOCH).days * 1000
MAX_TERM_INDEX = (MAX_DAY.year - TERM_BASE_YEAR) * SEASONS_PER_YEAR + SEASONS_PER_YEAR - 1


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    mobile: int
    gender: int  # 1 male, 2 female
    user_type: int  # 1 student, 2 teacher


@dataclass(frozen=True, slots=True)
class Classroom:
    id: int
    name: str
    category: int  # 0 one-to-one, 1 passcode big class, 2 big class, 7 small class
    teacher_id: int
    student_ids: tuple[int, ...]
    first_day: date
    last_day: date
    small_routine: int
    need_lian_mai: int
    parent_supervise: int
    is_replay: int
    replay_duration: int


@dataclass(frozen=True, slots=True)
class Lesson:
    id: int
    classroom_id: int
    teacher_id: int
    name: str
    start: datetime  # aware (TZ, the platform's zone), whole minute
    end: datetime  # aware (TZ), :59 seconds
    student_ids: tuple[int, ...]
    genre: int
    courseware_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AttendanceRow:
    user_id: int
    sessions: tuple[tuple[datetime, datetime], ...]
    listen_minutes: int
    inout_times: int
    late_minutes: int
    leave_minutes: int
    # the same three durations in whole seconds (the minutes are these // 60); the readings' listen_time=seconds
    listen_seconds: int = 0
    late_seconds: int = 0
    leave_seconds: int = 0


@dataclass(frozen=True, slots=True)
class TeacherInout:
    teacher_id: int
    actual_start: datetime | None
    actual_end: datetime | None
    listen_minutes: int
    inout_times: int
    late_minutes: int
    leave_minutes: int
    listen_seconds: int = 0  # as AttendanceRow's
    late_seconds: int = 0
    leave_seconds: int = 0


@dataclass(frozen=True, slots=True)
class HelpRequest:
    lesson_id: int
    user_id: int
    help_type: str
    help_item_name: str
    help_content: str
    time: datetime


@dataclass(frozen=True, slots=True)
class Activity:
    status: int  # 0 not started, 1 in class, 2 finished, 3 expired
    actual_start: datetime | None
    actual_end: datetime | None
    attendance: tuple[AttendanceRow, ...]
    teacher: TeacherInout
    awards: Mapping[int, int]
    events: Mapping[tuple[int, str], tuple[datetime, ...]]
    help_requests: tuple[HelpRequest, ...]
    replay_url: str | None


class Courseware(NamedTuple):
    id: int
    filename: str
    filesize_kb: int
    type: int  # 1 ppt, 2 plain URL, 3 pdf, 4 word
    convert_status: int = 2

