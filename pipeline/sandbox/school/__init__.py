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
- Terms: the calendar's (``pipeline.core.calendar.term_of``: 寒 Jan–Feb, 春 Mar–Jun, 暑 Jul–Aug,
  秋 Sep–Dec); ``term = (year - 1985) * 4 + season`` (season 0 寒, 1 春, 2 暑, 3 秋), so 2026秋
  is term 167.
- Classrooms live in one term and meet once or twice a week in a fixed "lane" (weekday(s),
  start time, duration, category, teacher).  A lane is split into consecutive classrooms over
  the term's weeks.  ``classroom_id = 20_000_000 + term * 200_000 + lane * 24 + segment`` with
  ``lane = weekday * lessons_per_day + i`` (``i`` the index of the lane's first meeting among
  that weekday's meetings as drawn; ``segment < 24``), so the id decodes without a scan
  (terms 0…4059, i.e. the calendar from 1985 to 2999, have classrooms).
- Lessons: ``lesson_id = 100_000_000 + (day - 2015-01-01).days * 1000 + slot`` where
  ``slot`` is the position in ``lessons_on(day)`` (ordered by ``(start, id)``): 0 …
  ``lessons_per_day - 1`` on an ordinary day, fewer on a closure day (国庆, 春节).  Ids from
  ``900_000_000`` are reserved for lessons created through the API.  The supported calendar
  is ``MIN_DAY`` (1985-01-01) … ``MAX_DAY`` (2999-12-31) (days before 2015 have ids below
  100_000_000).
- Courseware library: ids ``10_001 …`` (4 per subject).

Where the rest is documented, next to the code that draws it
-------------------------------------------------------------
- :mod:`.timetable`: terms, closures, lesson times, twice-a-week lanes, categories,
  enrolment, durations, classroom lengths and names, test lessons;
- :mod:`.activity`: status (from ``now``), attendance of held lessons (student and teacher
  propensities, the drift over a term: at-risk students and declining classrooms,
  definitions of listen/inout/late/leave), key events and their Poisson rates, awards, help
  requests, replays;
- :mod:`.roster`: names, mobiles, grades and the courseware library; :mod:`.export`: the
  roster as the school office exports it, with its deliberate problems; :mod:`.rand`: the
  seeded primitives; :mod:`.model`: the records; :mod:`.school`: :class:`School` and its
  caches.

This package file is the facade: import everything from ``pipeline.sandbox.school``.
"""

from __future__ import annotations

# Re-exported: the records, School, TZ, EVENT_TYPES and the id constants.
from pipeline.api.catalog import EVENT_TYPES
from pipeline.core.calendar import TZ

from .activity import DROPOUT_ABSENCE, EXPIRED_SHARE
from .export import NAMELESS_PROBLEMS, PROBLEM_CODES, RosterExport, RosterFile, RosterProblem
from .model import (
    API_LESSON_ID_BASE,
    CLASSROOM_ID_BASE,
    CLASSROOM_TERM_STRIDE,
    COURSEWARE_ID_BASE,
    LESSON_EPOCH,
    LESSON_ID_BASE,
    MAX_DAY,
    MAX_SEGMENTS,
    MAX_TERM_WEEKS,
    MIN_DAY,
    STUDENT_ID_BASE,
    TEACHER_ID_BASE,
    TERM_BASE_YEAR,
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
from .timetable import (
    ACTIVE_SHARE,
    AT_RISK_SHARE,
    DECLINING_SHARE,
    HOLIDAY_ONE_TO_ONE_SHARE,
    SPRING_FESTIVAL,
    TEST_LESSON_SHARE,
    closure_of,
    term_index,
)

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
    "RosterExport",
    "RosterFile",
    "RosterProblem",
    "PROBLEM_CODES",
    "NAMELESS_PROBLEMS",
    "closure_of",
    "term_index",
    "EXPIRED_SHARE",
    "DROPOUT_ABSENCE",
    "TEST_LESSON_SHARE",
    "ACTIVE_SHARE",
    "AT_RISK_SHARE",
    "DECLINING_SHARE",
    "HOLIDAY_ONE_TO_ONE_SHARE",
    "SPRING_FESTIVAL",
    "API_LESSON_ID_BASE",
    "CLASSROOM_ID_BASE",
    "CLASSROOM_TERM_STRIDE",
    "COURSEWARE_ID_BASE",
    "LESSON_EPOCH",
    "LESSON_ID_BASE",
    "MAX_DAY",
    "MAX_SEGMENTS",
    "MAX_TERM_WEEKS",
    "MIN_DAY",
    "STUDENT_ID_BASE",
    "TEACHER_ID_BASE",
    "TERM_BASE_YEAR",
]

