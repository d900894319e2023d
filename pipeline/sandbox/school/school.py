"""The :class:`School`: lookups by id, day and lesson over the roster, the timetable and the activity.

Everything is generated on demand and kept in bounded ``lru_cache``s held by
the instance (one term template per term, the lessons of a day, a held lesson's
whole activity, its view at ``now``), so memory does not grow with the width of
the calendar.
"""

from __future__ import annotations

import functools
import math
from datetime import date, datetime, timedelta

from pipeline.core.calendar import TZ
from pipeline.core.calendar import Term as CalendarTerm

from .activity import (
    AFTER,
    BEFORE,
    LATE,
    LATE_SHARE,
    Full,
    build_full,
    cut_activity,
    empty_activity,
    late_delay,
    never_held,
    view_key,
    without_late_data,
)
from .export import RosterExport, build_export
from .model import (
    API_LESSON_ID_BASE,
    CLASSROOM_ID_BASE,
    CLASSROOM_TERM_STRIDE,
    LESSON_EPOCH,
    LESSON_ID_BASE,
    MAX_SEGMENTS,
    MAX_TERM_INDEX,
    MIN_LESSON_ID,
    TEACHER_ID_BASE,
    Activity,
    Classroom,
    Courseware,
    Lesson,
    Person,
)
from .roster import GRADES, SUBJECTS, build_coursewares, build_roster
from .timetable import (
    Lane,
    Segment,
    Term,
    build_term,
    closure_of,
    day_of,
    lessons_of_day,
    make_lesson,
    school_year,
    term_bounds,
    term_index,
)


class School:
    """Deterministic synthetic school; see the package docstring for ids and distributions."""

    def __init__(self, seed: int = 7, lessons_per_day: int = 40, now: datetime | None = None,
                 late_hours: float = 0.0, late_share: float = LATE_SHARE):
        if not 1 <= lessons_per_day <= 999:
            raise ValueError("lessons_per_day must be in 1..999")
        if not 0 <= late_hours < 24 * 30:
            raise ValueError("late_hours must be in [0, 720)")
        if not 0 <= late_share <= 1:
            raise ValueError("late_share must be in [0, 1]")
        self.seed = int(seed)
        #: hours after a lesson's end within which its late data (a share of lessons) comes in; 0: none
        self.late_hours = float(late_hours)
        self.late_share = float(late_share)  # the share of lessons with late data
        self.lessons_per_day = int(lessons_per_day)
        self._now: datetime = self._normalise_now(now)
        self.n_teachers = max(8, math.ceil(60 * lessons_per_day / 40))
        self.n_students = max(120, 60 * lessons_per_day)
        self._roster = build_roster(self.seed, self.n_teachers, self.n_students)
        self._coursewares = build_coursewares(self.seed)
        # Bounded per-instance caches (keys do not include the seed: one cache per school).
        self._term_cached = functools.lru_cache(maxsize=6)(self._build_term)
        self._lessons_on_cached = functools.lru_cache(maxsize=512)(self._build_lessons_on)
        self._full_cached = functools.lru_cache(maxsize=1024)(self._build_full)
        self._activity_cached = functools.lru_cache(maxsize=2048)(self._build_activity)

    # ------------------------------------------------------------------ clock

    @staticmethod
    def _normalise_now(now: datetime | None) -> datetime:
        if now is None:
            return datetime.now(TZ).replace(second=0, microsecond=0)
        if now.tzinfo is None:
            return now.replace(tzinfo=TZ)
        return now.astimezone(TZ)

    @property
    def now(self) -> datetime:
        return self._now

    @now.setter
    def now(self, value: datetime | None) -> None:
        self._now = self._normalise_now(value)

    # ------------------------------------------------------------------ people

    def teachers(self) -> tuple[Person, ...]:
        return self._roster.teachers

    def students(self) -> tuple[Person, ...]:
        return self._roster.students

    def people(self) -> tuple[Person, ...]:
        return self._roster.teachers + self._roster.students

    def person(self, user_id: int) -> Person | None:
        return self._roster.person(user_id)

    def person_by_mobile(self, mobile: int) -> Person | None:
        return self._roster.person_by_mobile(mobile)

    # ------------------------------------------------------------------ courseware

    def coursewares(self) -> tuple[Courseware, ...]:
        return self._coursewares

    # ------------------------------------------------------------------ terms

    term_index = staticmethod(term_index)
    closure_of = staticmethod(closure_of)

    @staticmethod
    def term_of(day: date) -> CalendarTerm:
        """The calendar term of ``day`` (``pipeline.core.calendar.term_of``), whose classrooms hold its lessons."""
        return term_bounds(term_index(day))

    def _build_term(self, term: int) -> Term:
        return build_term(self.seed, self.lessons_per_day, self._roster, term)

    def _term(self, term: int) -> Term:
        return self._term_cached(term)

    def at_risk(self, day: date) -> dict[int, tuple[float, float]]:
        """The at-risk students of the term of ``day``: ``{student id: (amplitude, dropout progress)}``.

        An at-risk student's absence probability grows by ``amplitude * progress`` over the
        term (progress 0 on its first day, 1 on its last); from ``dropout progress`` on (2.0:
        never) they miss almost every lesson.  A copy: changing it changes nothing.
        """
        return dict(self._term(term_index(day)).at_risk)

    def decline_of(self, classroom_id: int) -> float:
        """The absence added by a declining classroom's last lesson (0.0: a stable classroom)."""
        hit = self._locate_classroom(classroom_id)
        return hit[2].decline if hit else 0.0

    def grade_of(self, user_id: int, day: date) -> str | None:
        """A student's grade in the term of ``day`` (``None`` for an id that is not a student)."""
        g = self._roster.grade_index(int(user_id), school_year(term_index(day)))
        return None if g is None else GRADES[g]

    def subject_of(self, teacher_id: int) -> str | None:
        """A teacher's main subject."""
        i = int(teacher_id) - TEACHER_ID_BASE
        return SUBJECTS[self._roster.teacher_subject[i]] if 0 <= i < self.n_teachers else None

    def classroom_info(self, classroom_id: int) -> tuple[str, str] | None:
        """(grade, subject) of a classroom of the school."""
        hit = self._locate_classroom(classroom_id)
        return (hit[2].grade, hit[2].subject) if hit else None

    def roster_export(self, ext: str = "csv") -> RosterExport:
        """The roster as the school office exports it on ``now``'s day, with its deliberate problems.

        See :mod:`.export` (rows, problems) and ``docs/sandbox.md``.
        """
        day = self._now.date()
        recent: set[int] = set()
        for back in (1, 2, 3):
            for lesson in self.lessons_on(day - timedelta(days=back)):
                recent.update(lesson.student_ids)
        return build_export(self._roster, self._term(term_index(day)), recent, seed=self.seed,
                            lessons_per_day=self.lessons_per_day, day=day, ext=ext)

    # ------------------------------------------------------------------ classrooms

    def _locate_classroom(self, classroom_id: int) -> tuple[Term, Lane, Segment] | None:
        try:
            classroom_id = int(classroom_id)
        except (TypeError, ValueError):
            return None
        term, rest = divmod(classroom_id - CLASSROOM_ID_BASE, CLASSROOM_TERM_STRIDE)
        if rest >= 7 * self.lessons_per_day * MAX_SEGMENTS or not 0 <= term <= MAX_TERM_INDEX:
            return None
        tpl = self._term(term)
        hit = tpl.classrooms.get(classroom_id)
        if hit is None:
            return None
        return tpl, hit[0], hit[1]

    def classroom(self, classroom_id: int) -> Classroom | None:
        hit = self._locate_classroom(classroom_id)
        return hit[2].classroom if hit else None

    def classrooms_on(self, day: date) -> tuple[Classroom, ...]:
        day = day_of(day)
        tpl = self._term(term_index(day))
        return tuple(c for c in tpl.classroom_list if c.first_day <= day <= c.last_day)

    def classrooms_of_term(self, day: date) -> tuple[Classroom, ...]:
        """Every classroom of the term of ``day``, by id."""
        return self._term(term_index(day)).classroom_list

    def classroom_lessons(self, classroom_id: int) -> tuple[Lesson, ...]:
        hit = self._locate_classroom(classroom_id)
        if hit is None:
            return ()
        tpl, _, seg = hit
        return tuple(make_lesson(self.seed, tpl, day, slot) for day, slot in seg.lessons)

    # ------------------------------------------------------------------ lessons

    @staticmethod
    def lesson_id_for(day: date, slot: int) -> int:
        return LESSON_ID_BASE + (day_of(day) - LESSON_EPOCH).days * 1000 + slot

    def _build_lessons_on(self, day: date) -> tuple[Lesson, ...]:
        tpl = self._term(term_index(day))
        return lessons_of_day(self.seed, tpl, day)

    def lessons_on(self, day: date) -> tuple[Lesson, ...]:
        return self._lessons_on_cached(day_of(day))

    def lesson(self, lesson_id: int) -> Lesson | None:
        try:
            lesson_id = int(lesson_id)
        except (TypeError, ValueError):
            return None
        if not MIN_LESSON_ID <= lesson_id < API_LESSON_ID_BASE:
            return None
        days, slot = divmod(lesson_id - LESSON_ID_BASE, 1000)
        if slot >= self.lessons_per_day:
            return None
        try:
            day = LESSON_EPOCH + timedelta(days=days)
        except OverflowError:
            return None
        lessons = self.lessons_on(day)
        return lessons[slot] if slot < len(lessons) else None

    # ------------------------------------------------------------------ status & activity

    def never_held(self, lesson: Lesson) -> bool:
        """Whether the lesson is one of the ~3 % that are scheduled but never held."""
        return never_held(self.seed, lesson.id)

    def status(self, lesson: Lesson) -> int:
        """The lesson's status as of ``now`` (cheap: no activity is generated)."""
        now = self._now
        if lesson.start > now:
            return 0
        if now < lesson.end:
            return 1
        return 3 if self.never_held(lesson) else 2

    def activity(self, lesson: Lesson) -> Activity:
        late = late_delay(self.seed, lesson.id, self.late_hours, self.late_share) if self.late_hours else None
        return self._activity_cached(lesson, view_key(lesson, self._now, late))

    def category_of(self, lesson: Lesson) -> int:
        """The category of the lesson's classroom (inferred from the class size if unknown)."""
        return self._category(lesson)[0]

    def _category(self, lesson: Lesson) -> tuple[int, int, int]:
        """(category, need_lian_mai, is_replay) of the lesson's classroom (inferred if unknown)."""
        c = self.classroom(lesson.classroom_id)
        if c is not None:
            return c.category, c.need_lian_mai, c.is_replay
        n = len(lesson.student_ids)
        return (0 if n <= 1 else 7 if n <= 12 else 2), 0, 1

    def _build_full(self, lesson: Lesson) -> Full:
        cat, lian_mai, _ = self._category(lesson)
        day = lesson.start.date()
        tpl = self._term(term_index(day))
        progress = (day - tpl.start).days / max(1, (tpl.end - tpl.start).days)
        class_extra = 0.0
        hit = self._locate_classroom(lesson.classroom_id)
        if hit is not None and hit[2].decline:
            c = hit[2].classroom
            frac = (day - c.first_day).days / max(1, (c.last_day - c.first_day).days)
            class_extra = hit[2].decline * min(1.0, max(0.0, frac))
        return build_full(lesson, seed=self.seed, category=cat, lian_mai=lian_mai, roster=self._roster,
                          class_extra=class_extra, progress=progress, at_risk=tpl.at_risk)

    def _build_activity(self, lesson: Lesson, key: int) -> Activity:
        """``key``: ``BEFORE``, ``AFTER``, ``LATE`` or the in-class cut in seconds since the start."""
        if key == BEFORE:
            return empty_activity(lesson, 0)
        if key == LATE:
            return without_late_data(self._build_activity(lesson, AFTER), self.seed, lesson.id)
        finished = key == AFTER
        if self.never_held(lesson):
            return empty_activity(lesson, 3 if finished else 1)
        full = self._full_cached(lesson)
        has_replay = finished and bool(self._category(lesson)[2])
        return cut_activity(lesson, full, None if finished else key, has_replay)
