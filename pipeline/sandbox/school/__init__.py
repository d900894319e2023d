"""A deterministic synthetic school: people, classrooms, lessons and what happened in them.

Everything is a pure function of ``(seed, lessons_per_day, now)`` and is generated on
demand per term / day / lesson from seeded RNGs (``random.Random("<seed>:<kind>:<key>")``;
string seeding is stable across processes, Python's ``hash()`` is never used) plus a
splitmix64 integer hash for cheap per-lesson draws.  Caches are bounded ``lru_cache``s
held by the instance, so memory does not grow with the width of the calendar.

Identifiers
-----------
- Teachers: ``500_000 + i`` (``i < n_teachers``), students: ``2_000_000 + i``.
  Roster: ``n_teachers = max(8, ceil(60 * lessons_per_day / 40))`` (60 at the default 40
  lessons/day) and ``n_students = max(120, 60 * lessons_per_day)`` (2,400 at 40).
- Terms: 16-week terms (112 days) starting on Mondays from ``TERM_EPOCH`` (2014-12-29);
  ``term = (day - TERM_EPOCH).days // 112``.
- Classrooms live in one term and meet once a week in a fixed "lane" (weekday, start
  time, duration, category, teacher).  A lane is split into consecutive classrooms over the
  term's weeks.  ``classroom_id = 20_000_000 + term * 200_000 + (weekday * lessons_per_day
  + slot) * 16 + segment`` (so the id decodes without a scan; terms -99…2000, i.e. the
  calendar from 1984 to 2628, have classrooms).
- Lessons: ``lesson_id = 100_000_000 + (day - 2015-01-01).days * 1000 + slot`` where
  ``slot`` is the position in ``lessons_on(day)`` (ordered by ``(start, id)``).  Ids from
  ``900_000_000`` are reserved for lessons created through the API.  The supported calendar
  is ``MIN_DAY`` (1985-01-01) … 2628 (days before 2015 have ids below 100_000_000).
- Courseware library: ids ``10_001 …`` (4 per subject).

Where the rest is documented, next to the code that draws it
-------------------------------------------------------------
- :mod:`.timetable`: lesson times, categories, enrolment, durations, classroom lengths,
  test lessons;
- :mod:`.activity`: status (from ``now``), attendance of held lessons (student and teacher
  propensities, definitions of listen/inout/late/leave), key events and their Poisson
  rates, awards, help requests, replays;
- :mod:`.roster`: names, mobiles and the courseware library; :mod:`.rand`: the seeded
  primitives; :mod:`.model`: the records; :mod:`.school`: :class:`School` and its caches.

This package file is the facade: import everything from ``pipeline.sandbox.school``.
"""

from __future__ import annotations

# Re-exported: the records, School, TZ, EVENT_TYPES and the id constants.
from pipeline.api.catalog import EVENT_TYPES
from pipeline.core.calendar import TZ

from .activity import EXPIRED_SHARE
from .model import (
    API_LESSON_ID_BASE,
    CLASSROOM_ID_BASE,
    CLASSROOM_TERM_STRIDE,
    COURSEWARE_ID_BASE,
    LESSON_EPOCH,
    LESSON_ID_BASE,
    MAX_SEGMENTS,
    MIN_DAY,
    STUDENT_ID_BASE,
    TEACHER_ID_BASE,
    TERM_DAYS,
    TERM_EPOCH,
    TERM_WEEKS,
    Activity,
    AttendanceRow,
    Classroom,
    Courseware,
    HelpRequest,
    Lesson,
    Person,
    TeacherInout,
)
from .school import School
from .timetable import TEST_LESSON_SHARE

__all__ = [
    "TZ",
    "EVENT_TYPES",
    "Person",
    "Classroom",
    "Lesson",
    "AttendanceRow",
    "TeacherInout",
    "HelpRequest",
    "Activity",
    "Courseware",
    "School",
    "EXPIRED_SHARE",
    "TEST_LESSON_SHARE",
    "API_LESSON_ID_BASE",
    "CLASSROOM_ID_BASE",
    "CLASSROOM_TERM_STRIDE",
    "COURSEWARE_ID_BASE",
    "LESSON_EPOCH",
    "LESSON_ID_BASE",
    "MAX_SEGMENTS",
    "MIN_DAY",
    "STUDENT_ID_BASE",
    "TEACHER_ID_BASE",
    "TERM_DAYS",
    "TERM_EPOCH",
    "TERM_WEEKS",
]

