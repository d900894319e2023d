"""The stateful platform behind the sandbox: applications, and an overlay of management edits on the School.

The :class:`~pipeline.sandbox.school.School` is immutable and generated on
demand; everything the management endpoints change lives here:

* created users (API 1; ids from :data:`USER_ID_BASE`), mobile edits (API 22),
  name/gender edits (API 32);
* created courses (API 2; ids from :data:`CLASSROOM_ID_BASE`), deleted courses
  (API 5), course students (API 3/33), course courseware (API 4);
* uploaded courseware (API 6; ids from :data:`COURSEWARE_ID_BASE`) and its
  conversion status (0 for ``convert_seconds`` of wall time, then 2, or 1 when
  the extension does not match the type);
* created lessons (API 8/8.1; ids from 900,000,000), deleted lessons (API 9)
  and edited lessons (APIs 10–15), stored as replaced ``Lesson`` objects.

Students added to or removed from a course (API 3/33) apply lazily to the
course's lessons that had not started when the call was made, so a term of
lessons is never copied.  Reporting endpoints read lessons only through
:meth:`Platform.lesson`, :meth:`lessons_on` and :meth:`classroom_lessons`, so
they see every edit; the School's ``activity(lesson)`` is a function of the
(possibly edited) lesson.

Writes take a lock and bump :attr:`version` (the server's answer cache is
keyed on it).  :attr:`Platform.readings` (:mod:`.readings`) is how this platform reads the
document's open points; the handlers consult it, the School never sees it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

from pipeline.core.calendar import TZ

from .config import INACTIVE_APP_ID, SandboxConfig
from .errors import Reject
from .readings import Readings
from .school import API_LESSON_ID_BASE, Classroom, Courseware, Lesson, Person, School

USER_ID_BASE = 90_000_000
CLASSROOM_ID_BASE = 990_000_000
COURSEWARE_ID_BASE = 600_001
UPLOAD_INTERVAL_SECONDS = 30.0
#: Most students a course of each category can hold (API 3 beyond -> 40004).
CLASSROOM_CAPACITY = {0: 1, 7: 16, 2: 500, 1: 5000}


@dataclass(frozen=True)
class App:
    id: str
    secret: str
    active: bool = True


@dataclass(frozen=True)
class UploadedCourseware:
    id: int
    filename: str
    filesize_kb: int
    type: int
    url: str
    uploaded_at: float  # time.monotonic()
    convertible: bool


class Platform:
    tz = TZ

    def __init__(self, school: School, apps: Iterable[App], *, fixed_now: datetime | None = None,
                 convert_seconds: float = 3.0, readings: Readings | None = None):
        self.school = school
        #: how this platform reads the document's open points (what its answers say, never the school)
        self.readings = readings or Readings()
        self.apps: dict[str, App] = {a.id: a for a in apps}
        self._fixed_now = None if fixed_now is None else school.now
        self.convert_seconds = convert_seconds
        self.version = 0
        self._lock = threading.RLock()
        self._seq = 0
        # users
        self._people: dict[int, Person] = {}
        self._mobile_index: dict[int, int | None] = {}
        self._next_user = USER_ID_BASE
        # classrooms
        self._classrooms: dict[int, Classroom] = {}
        self._classroom_settings: dict[int, dict] = {}
        self._deleted_classrooms: set[int] = set()
        self._deltas: dict[int, list[tuple[int, datetime, str, frozenset[int]]]] = {}
        self._classroom_cw: dict[int, tuple[int, ...]] = {}
        self._created_by_classroom: dict[int, list[int]] = {}
        self._next_classroom = CLASSROOM_ID_BASE
        # lessons
        self._lessons: dict[int, tuple[Lesson, int]] = {}
        self._day_extra: dict[date, set[int]] = {}
        self._deleted_lessons: set[int] = set()
        self._lesson_settings: dict[int, dict] = {}
        self._next_lesson = API_LESSON_ID_BASE + 1
        # courseware
        self._school_cw: dict[int, Courseware] = {cw.id: cw for cw in school.coursewares()}
        self._uploads: dict[int, UploadedCourseware] = {}
        self._last_upload: dict[str, float] = {}
        self._next_cw = COURSEWARE_ID_BASE

    @classmethod
    def from_config(cls, config: SandboxConfig) -> Platform:
        school = School(seed=config.seed, lessons_per_day=config.lessons_per_day, now=config.now,
                        late_hours=getattr(config, "late_hours", 0.0), late_share=getattr(config, "late_share", 0.3))
        apps = [App(config.app_id, config.secret, True)]
        if config.app_id != INACTIVE_APP_ID:
            apps.append(App(INACTIVE_APP_ID, config.secret, False))
        return cls(school, apps, fixed_now=config.now, convert_seconds=config.convert_seconds,
                   readings=Readings.of(getattr(config, "readings", None)))

    # ------------------------------------------------------------------ clock

    def now(self) -> datetime:
        return self.school.now

    def clock(self) -> datetime:
        """The platform's clock to the second: the simulated one when fixed, else the wall clock."""
        return self._fixed_now if self._fixed_now is not None else datetime.now(TZ)

    def clock_key(self) -> datetime:
        """Advance the school's clock to the current minute (live clock) and return it."""
        if self._fixed_now is not None:
            return self._fixed_now
        minute = datetime.now(TZ).replace(second=0, microsecond=0)
        if minute != self.school.now:
            self.school.now = minute
        return minute

    def _bump(self) -> None:
        self.version += 1

    # ------------------------------------------------------------------ people

    def person(self, uid: int) -> Person | None:
        p = self._people.get(uid)
        if p is not None:
            return p
        return self.school.person(uid)

    def person_by_mobile(self, mobile: int) -> Person | None:
        if mobile in self._mobile_index:
            uid = self._mobile_index[mobile]
            return None if uid is None else self.person(uid)
        p = self.school.person_by_mobile(mobile)
        return None if p is None else self.person(p.id)

    def create_users(self, rows: list[tuple[int, str, int, int]]) -> list[tuple[int, int]]:
        with self._lock:
            seen: set[int] = set()
            for mobile, *_ in rows:
                if mobile in seen:
                    raise Reject(40004, f"mobile {mobile} appears twice in userData")
                seen.add(mobile)
                if self.person_by_mobile(mobile) is not None:
                    raise Reject(40004, f"mobile {mobile} is already registered")
            out = []
            for mobile, name, utype, gender in rows:
                uid = self._next_user
                self._next_user += 1
                self._people[uid] = Person(uid, name, mobile, gender, utype)
                self._mobile_index[mobile] = uid
                out.append((mobile, uid))
            self._bump()
            return out

    def change_mobile(self, old: int, new: int) -> int:
        with self._lock:
            p = self.person_by_mobile(old)
            if p is None:
                raise Reject(40003, f"no user has mobile {old}")
            if new == old:
                return p.id
            if self.person_by_mobile(new) is not None:
                raise Reject(40004, f"mobile {new} is already registered")
            self._people[p.id] = replace(p, mobile=new)
            self._mobile_index[old] = None
            self._mobile_index[new] = p.id
            self._bump()
            return p.id

    def edit_person(self, uid: int, *, name: str | None, gender: int | None) -> None:
        with self._lock:
            p = self.person(uid)
            assert p is not None
            changes = {}
            if name is not None:
                changes["name"] = name
            if gender is not None:
                changes["gender"] = gender
            if changes:
                self._people[uid] = replace(p, **changes)
                self._bump()

    # ------------------------------------------------------------------ classrooms

    def classroom(self, cid: int) -> Classroom | None:
        if cid in self._deleted_classrooms:
            return None
        c = self._classrooms.get(cid)
        if c is not None:
            return c
        return self.school.classroom(cid)

    def create_classroom(self, *, name: str, category: int, teacher_id: int, small_routine: int,
                         need_lian_mai: int, parent_supervise: int, is_replay: int, replay_duration: int,
                         collect_info: int) -> int:
        with self._lock:
            cid = self._next_classroom
            self._next_classroom += 1
            today = self.now().date()
            self._classrooms[cid] = Classroom(cid, name, category, teacher_id, (), today, today, small_routine,
                                              need_lian_mai, parent_supervise, is_replay, replay_duration)
            self._classroom_settings[cid] = {"collect_info": collect_info}
            self._bump()
            return cid

    def add_classroom_students(self, cid: int, ids: list[int]) -> list[int]:
        with self._lock:
            c = self.classroom(cid)
            assert c is not None
            not_enter = []
            new = []
            for sid in ids:
                p = self.person(sid)
                if p is None or p.user_type != 1:
                    not_enter.append(sid)
                elif sid not in c.student_ids:
                    new.append(sid)
            cap = CLASSROOM_CAPACITY.get(c.category, 5000)
            if len(c.student_ids) + len(new) > cap:
                raise Reject(40004, f"course {cid} (category {c.category}) holds at most {cap} students")
            if new:
                self._classrooms[cid] = replace(c, student_ids=tuple(c.student_ids) + tuple(new))
                self._seq += 1
                self._deltas.setdefault(cid, []).append((self._seq, self.now(), "add", frozenset(new)))
                self._bump()
            return not_enter

    def remove_classroom_student(self, cid: int, sid: int) -> None:
        with self._lock:
            c = self.classroom(cid)
            assert c is not None
            self._classrooms[cid] = replace(c, student_ids=tuple(x for x in c.student_ids if x != sid))
            self._seq += 1
            self._deltas.setdefault(cid, []).append((self._seq, self.now(), "remove", frozenset((sid,))))
            self._bump()

    def add_classroom_coursewares(self, cid: int, ids: list[int]) -> None:
        with self._lock:
            cur = self._classroom_cw.get(cid, ())
            self._classroom_cw[cid] = cur + tuple(i for i in ids if i not in cur)
            self._bump()

    def delete_classroom(self, cid: int) -> None:
        with self._lock:
            now = self.now()
            started = [lesson.id for lesson in self.classroom_lessons(cid) if lesson.start <= now]
            if started:
                raise Reject(40004, f"course {cid} has lessons that have already started")
            self._deleted_classrooms.add(cid)
            self._bump()

    # ------------------------------------------------------------------ lessons

    def _view(self, base: Lesson) -> Lesson | None:
        lid = base.id
        if lid in self._deleted_lessons or base.classroom_id in self._deleted_classrooms:
            return None
        seq0 = 0
        ov = self._lessons.get(lid)
        if ov is not None:
            base, seq0 = ov
        deltas = self._deltas.get(base.classroom_id)
        if deltas:
            ids = base.student_ids
            changed = False
            for seq, op_now, op, sids in deltas:
                if seq > seq0 and base.start > op_now:
                    if op == "add":
                        ids = ids + tuple(s for s in sorted(sids) if s not in ids)
                    else:
                        ids = tuple(s for s in ids if s not in sids)
                    changed = True
            if changed:
                base = replace(base, student_ids=ids)
        return base

    def lesson(self, lid: int) -> Lesson | None:
        ov = self._lessons.get(lid)
        if ov is not None:
            return self._view(ov[0])
        if lid >= API_LESSON_ID_BASE:
            return None
        base = self.school.lesson(lid)
        return None if base is None else self._view(base)

    def lessons_on(self, day: date) -> list[Lesson]:
        base = self.school.lessons_on(day)
        if self.version == 0:
            return list(base)
        out = []
        seen = set()
        for lesson in base:
            v = self._view(lesson)
            if v is not None and v.start.date() == day:
                out.append(v)
                seen.add(v.id)
        extra = self._day_extra.get(day)
        if extra:
            for lid in extra:
                if lid in seen:
                    continue
                v = self.lesson(lid)
                if v is not None and v.start.date() == day:
                    out.append(v)
            out.sort(key=lambda lesson: (lesson.start, lesson.id))
        return out

    def classroom_lessons(self, cid: int) -> list[Lesson]:
        if cid in self._deleted_classrooms:
            return []
        out = []
        for lesson in self.school.classroom_lessons(cid):
            v = self._view(lesson)
            if v is not None:
                out.append(v)
        for lid in self._created_by_classroom.get(cid, ()):
            v = self.lesson(lid)
            if v is not None:
                out.append(v)
        out.sort(key=lambda lesson: (lesson.start, lesson.id))
        return out

    def activity(self, lesson: Lesson):
        return self.school.activity(lesson)

    def status(self, lesson: Lesson) -> int:
        return self.school.status(lesson)

    def _store(self, lesson: Lesson, original_day: date | None) -> None:
        old = self._lessons.get(lesson.id)
        if old is not None:
            old_day = old[0].start.date()
            if old_day in self._day_extra:
                self._day_extra[old_day].discard(lesson.id)
        self._lessons[lesson.id] = (lesson, self._seq)
        day = lesson.start.date()
        if day != original_day:
            self._day_extra.setdefault(day, set()).add(lesson.id)

    def create_lessons(self, cid: int, teacher_id: int, genre: int, slots: list[tuple[datetime, datetime, str | None]],
                       *, is_replay: int | None = None, replay_duration: int | None = None) -> list[int]:
        with self._lock:
            c = self.classroom(cid)
            assert c is not None
            existing = self.classroom_lessons(cid)
            if c.small_routine and len(existing) + len(slots) > 1:
                raise Reject(40004, f"mini-program course {cid} can have only one lesson")
            cw = self._classroom_cw.get(cid, ())
            ids = []
            for i, (start, end, name) in enumerate(slots):
                lid = self._next_lesson
                self._next_lesson += 1
                lesson = Lesson(lid, cid, teacher_id, name or f"{c.name}{len(existing) + i + 1}", start,
                                end.replace(second=59), tuple(c.student_ids), genre, cw)
                self._store(lesson, None)
                self._created_by_classroom.setdefault(cid, []).append(lid)
                settings = {}
                if is_replay is not None:
                    settings["is_replay"] = is_replay
                if replay_duration is not None:
                    settings["replay_duration"] = replay_duration
                if settings:
                    self._lesson_settings[lid] = settings
                ids.append(lid)
            if cid in self._classrooms:  # a created course spans its lessons
                days = [s[0].date() for s in slots]
                cc = self._classrooms[cid]
                self._classrooms[cid] = replace(cc, first_day=min([cc.first_day, *days]),
                                                last_day=max([cc.last_day, *days]))
            self._bump()
            return ids

    def delete_lesson(self, lid: int) -> None:
        with self._lock:
            self._deleted_lessons.add(lid)
            self._bump()

    def set_lesson_fields(self, lid: int, **changes) -> None:
        with self._lock:
            cur = self.lesson(lid)
            assert cur is not None
            original = None if lid >= API_LESSON_ID_BASE else self.school.lesson(lid)
            self._store(replace(cur, **changes), original.start.date() if original else None)
            self._bump()

    def set_lesson_settings(self, lid: int, **settings) -> None:
        with self._lock:
            cur = self._lesson_settings.setdefault(lid, {})
            cur.update({k: v for k, v in settings.items() if v is not None})
            self._bump()

    # ------------------------------------------------------------------ courseware

    def courseware(self, cw_id: int):
        cw = self._school_cw.get(cw_id)
        if cw is not None:
            return cw
        return self._uploads.get(cw_id)

    def courseware_list(self) -> list:
        return [*self._school_cw.values(), *self._uploads.values()]

    def convert_status(self, cw) -> int:
        if isinstance(cw, Courseware):
            return cw.convert_status
        if cw.type == 2:
            return 2
        if time.monotonic() - cw.uploaded_at < self.convert_seconds:
            return 0
        return 2 if cw.convertible else 1

    def upload_courseware(self, app_id: str, *, filename: str, filesize: int, url: str, ctype: int,
                          convertible: bool) -> int:
        with self._lock:
            now = time.monotonic()
            if ctype != 2:
                last = self._last_upload.get(app_id)
                if last is not None and now - last < UPLOAD_INTERVAL_SECONDS:
                    wait = UPLOAD_INTERVAL_SECONDS - (now - last)
                    raise Reject(40004, f"one non-URL courseware upload per 30 s; retry in {wait:.0f} s")
                self._last_upload[app_id] = now
            cw_id = self._next_cw
            self._next_cw += 1
            self._uploads[cw_id] = UploadedCourseware(cw_id, filename, (filesize + 1023) // 1024, ctype, url, now,
                                                      convertible)
            self._bump()
            return cw_id
