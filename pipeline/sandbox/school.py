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

Timetable
---------
Every day has exactly ``lessons_per_day`` lessons; a lane holds the same weekday/time for
the whole term.  Weekdays are evening heavy (≈63 % start 18:00–20:30, 25 % 16:00–17:30,
12 % 09:00–15:30); weekends are daytime heavy (35 % 08:00–11:30, 45 % 13:00–17:30, 20 %
18:00–20:00).  Nothing starts before 07:00 or ends after 22:30, so lessons never cross
midnight.  Lane categories: 35 % one-to-one (0), 40 % small class (7), 18 % big class
(2), 7 % passcode big class (1).  Enrolment: 1 / 4–12 / 20–60 / 30–80.  Durations
(minutes): one-to-one 30/45/60 (20/30/50 %), small 60/90 (60/40 %), big 45/60/90
(30/50/20 %), passcode 60/90.  Classroom lengths in weeks: one-to-one 4/8/16, small
8/16, big 8/16, passcode 1/2/4.  A scheduled end is ``start + duration + 59 s`` (like the
document's ``18:00:00 … 18:45:59``).  Teachers and students are never double-booked
(students best effort; a teacher owns a lane for the whole term).  ~2 % of lessons are
test lessons (genre 1).

Status (from ``now``)
---------------------
``start > now`` → 0; ``start <= now < end`` → 1; ``end <= now`` → 2, except ~3 % of
lessons that are never held → 3 (no actual times, every student absent with zeros, teacher
zeros, no events/awards/help/replay).  A never-held lesson reads status 1 with no actual
start while inside its scheduled window.  For an in-class lesson (status 1) the activity is
cut at ``now``: sessions/events after ``now`` are not shown, an open session ends at
``now``, ``actual_end`` is ``None`` and ``leave_minutes`` is 0.

Attendance of held lessons (all times whole seconds)
----------------------------------------------------
Per-student propensities, fixed for life:
- absence: 85 % regular (3–6 %), 10 % irregular (12–25 %), 5 % chronic (35–60 %),
  multiplied by category (one-to-one ×0.5, small ×0.9, big ×1.3, passcode ×1.6) and
  ×1.2 on weekends.  Overall ≈ 10 % of student rows absent (one-to-one ≈ 4 %, small ≈ 7 %,
  big ≈ 11 %, passcode ≈ 13 %; weekdays ≈ 10 %, weekends ≈ 12 %).
- lateness: 75 % rarely late (3–8 %), 20 % often (15–30 %), 5 % chronic (45–70 %);
  ×1.2 in big classes.  Late minutes: 55 % 2–5, 30 % 6–15, 15 % 16–40 (capped at half the
  lesson).  On-time students enter between 5 min before and 90 s after the start.
- early leaving: 80 % 3–8 %, 20 % 12–30 %; leave minutes 50 % 3–10, 35 % 11–25, 15 %
  26–45 (capped at 45 % of the lesson).  Others leave when the teacher ends the class.
- network flakiness: 0–1 (skewed low); with that probability a student has 1–3 drop-outs
  (65/25/10 %) of 10–240 s, hence 1–4 sessions.
- engagement: log-normal around 1, scales the key-event rates.

Definitions (``E`` = scheduled end, ``S`` = scheduled start):
``listen_minutes = floor(sum(out - in seconds over sessions) / 60)``;
``inout_times = entries + exits`` (2 per closed session; an open session counts 1);
``late_minutes = floor(max(0, first_in - S) / 60)``;
``leave_minutes = floor(max(0, E - last_out) / 60)``.  Absent: no sessions, all zeros.

Teacher: 92 % of teachers are punctual (late with p 3 %), 8 % chronically late (p 30 %);
``actual_start`` is ``S`` −150…+75 s, or 3–15 min late; ``actual_end`` is ``E`` −0…60 s,
or 3–10 min early (p 3–8 %); 8–20 % chance of 1–2 short drop-outs.  The teacher's
sessions run from ``actual_start`` to ``actual_end``; the same definitions give
listen/inout/late/leave.  A student's last exit is never after ``actual_end``.

Key events (times inside the student's sessions and inside ``[actual_start,
actual_end)``, distinct to the second per (user, type), sorted).  Poisson means per hour
present at engagement 1:

=============  =======  =======  ============  ======  =================
category       handup   onstage  mic pairs     reward  reward_all moments
=============  =======  =======  ============  ======  =================
0 one-to-one   0.6      0        4.0           4.0     0
7 small        3.0      2.0      3.0           2.0     2.5
2 big          1.2      0.25     0.4 (连麦)     0.4     3.0
1 passcode     0.8      0.1      0.2 (连麦)     0.25    2.0
=============  =======  =======  ============  ======  =================

Each on-stage earns an extra individual reward with p ½.  Mic events come in pairs
(``toggle_mic_off`` 5–240 s after ``toggle_mic_on``, same session, before the next on);
big/passcode classes have mic pairs only when ``need_lian_mai``.  ``reward_all`` moments
are the teacher's and are attributed to every student inside a session at that second.
Stars: ``awards[user] = #reward + #reward_all`` (only > 0).

Help requests: Poisson(``(0.06 + 0.004 * present) * hours``) per held lesson (≈ 5 a day
at 40 lessons/day), raised by present students (flaky ones more often) at a second inside
their sessions; types 网络卡顿 / 听不到老师声音 / 看不到课件 / 看不到老师视频 / 麦克风没声音
with items 001–005.

Replay: finished lessons of classrooms with ``is_replay`` get
``zbywsvod.weclassroom.com/vod/zby/_<lesson_id>_<n>.mp4`` (scheme-less, as in the doc).
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo

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
]

TZ = ZoneInfo("Asia/Shanghai")
EVENT_TYPES = ("onstage", "handup", "reward", "toggle_mic_on", "toggle_mic_off", "reward_all")

LESSON_EPOCH = date(2015, 1, 1)
LESSON_ID_BASE = 100_000_000
API_LESSON_ID_BASE = 900_000_000
TEACHER_ID_BASE = 500_000
STUDENT_ID_BASE = 2_000_000
CLASSROOM_ID_BASE = 20_000_000
CLASSROOM_TERM_STRIDE = 200_000
COURSEWARE_ID_BASE = 10_001
TERM_EPOCH = date(2014, 12, 29)  # a Monday
TERM_WEEKS = 16
TERM_DAYS = TERM_WEEKS * 7
MAX_SEGMENTS = 16
EXPIRED_SHARE = 0.03
#: First day whose lesson ids ``lesson()`` decodes (days before 2015 give ids below 100_000_000).
MIN_DAY = date(1985, 1, 1)
_MIN_LESSON_ID = LESSON_ID_BASE + (MIN_DAY - LESSON_EPOCH).days * 1000
TEST_LESSON_SHARE = 0.02


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
    start: datetime  # aware, Asia/Shanghai, whole minute
    end: datetime  # aware, Asia/Shanghai, :59 seconds
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


@dataclass(frozen=True, slots=True)
class TeacherInout:
    teacher_id: int
    actual_start: datetime | None
    actual_end: datetime | None
    listen_minutes: int
    inout_times: int
    late_minutes: int
    leave_minutes: int


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


# --------------------------------------------------------------------------- static lists

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
# Roughly Zipf-like frequency: 王/李/张 are far more common than 汤.
_SURNAME_CUM: tuple[float, ...] = tuple(
    itertools.accumulate(1.0 / (r + 4) for r in range(len(_SURNAMES)))
)
_MALE_CHARS = "子梓浩宇轩俊杰博文涛明辰睿泽一诺宸昊然航磊鹏晨阳峰凯铭瑞天佑霖嘉奕乐鑫诚逸恒思远"
_FEMALE_CHARS = "欣怡梓涵雨萱诗琪佳悦可馨若彤思雅静婷晓梦月语心一诺紫妍嘉琳雪璐慧玥菲瑶安"
_MOBILE_PREFIXES = tuple(
    [f"13{d}" for d in range(10)] + [f"15{d}" for d in range(10) if d != 4] + [f"18{d}" for d in range(10)]
)
_SUBJECTS = ("数学", "语文", "英语", "物理", "化学", "生物", "编程", "美术", "书法", "围棋", "科学", "历史")
_GRADES = ("小一", "小二", "小三", "小四", "小五", "小六", "初一", "初二", "初三", "高一", "高二", "高三")
_WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_KIND_LABEL = {7: "小班", 2: "大班", 1: "讲座"}
_CATEGORIES = (0, 7, 2, 1)
_CATEGORY_WEIGHTS = (35, 40, 18, 7)
_DURATIONS = {0: ((30, 45, 60), (20, 30, 50)), 7: ((60, 90), (60, 40)), 2: ((45, 60, 90), (30, 50, 20)), 1: ((60, 90), (50, 50))}
_SEGMENT_WEEKS = {0: (4, 8, 8, 16, 16), 7: (8, 16, 16), 2: (8, 16), 1: (1, 2, 4)}
_ENROLMENT = {0: (1, 1), 7: (4, 12), 2: (20, 60), 1: (30, 80)}
_LATEST_END_MIN = 22 * 60 + 29  # end (incl. the :59 second) stays before 22:30

# Per-hour Poisson means at engagement 1: handup, onstage, mic pairs, reward, reward_all moments.
_RATES = {
    0: (0.6, 0.0, 4.0, 4.0, 0.0),
    7: (3.0, 2.0, 3.0, 2.0, 2.5),
    2: (1.2, 0.25, 0.4, 0.4, 3.0),
    1: (0.8, 0.1, 0.2, 0.25, 2.0),
}
_ABSENCE_MULT = {0: 0.5, 7: 0.9, 2: 1.3, 1: 1.6}

_HELP_TYPES = (  # (help_type, item, weight, contents)
    ("网络卡顿", "001", 35, ("一直在转圈", "画面很卡", "老师说话断断续续", "掉线了好几次")),
    ("听不到老师声音", "002", 25, ("没有声音", "声音很小", "只有杂音")),
    ("看不到课件", "003", 18, ("课件是白屏", "课件加载不出来", "翻页没反应")),
    ("看不到老师视频", "004", 12, ("老师画面黑屏", "视频一直加载")),
    ("麦克风没声音", "005", 10, ("老师听不到我说话", "麦克风打不开")),
)
_HELP_CUM = tuple(itertools.accumulate(h[2] for h in _HELP_TYPES))


# --------------------------------------------------------------------------- helpers

_M64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64 finaliser."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _hash(*parts: int) -> int:
    h = 0x5EED5C4001
    for p in parts:
        h = _mix(h ^ (p & _M64))
    return h


def _unit(*parts: int) -> float:
    return _hash(*parts) / 18446744073709551616.0


# activity cache keys that do not depend on the exact clock (in-class keys are cuts >= 0)
_BEFORE, _AFTER = -1, -2

# kinds for _hash
_K_EXPIRED, _K_GENRE, _K_CW, _K_REPLAY = 1, 2, 3, 4


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0.0:
        return 0
    limit = math.exp(-lam)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _split(rng: random.Random, a: int, b: int, k: int) -> list[tuple[int, int]]:
    """Presence ``[a, b)`` broken by up to ``k`` drop-outs of 10–240 s into sessions."""
    if k <= 0 or b - a < 420:
        return [(a, b)]
    lo, hi = a + 60, b - 180
    k = min(k, (hi - lo) // 120)
    if k <= 0:
        return [(a, b)]
    cuts = sorted(rng.sample(range(lo, hi), k))
    out: list[tuple[int, int]] = []
    cur = a
    for i, c in enumerate(cuts):
        nxt = cuts[i + 1] if i + 1 < k else b - 60
        if c <= cur:
            continue
        resume = min(c + rng.randint(10, 240), nxt - 30)
        if resume <= c:
            continue
        out.append((cur, c))
        cur = resume
    out.append((cur, b))
    return out


def _pick(rng: random.Random, ivs: list[tuple[int, int]], total: int, k: int) -> list[tuple[int, int]]:
    """``k`` distinct seconds inside the half-open intervals, sorted, each with its interval's end."""
    if k <= 0 or total <= 0:
        return []
    k = min(k, total)
    ps = sorted(rng.sample(range(total), k)) if k > 1 else [rng.randrange(total)]
    out = []
    j = 0
    base = 0
    a, b = ivs[0]
    for p in ps:
        while p >= base + (b - a):
            base += b - a
            j += 1
            a, b = ivs[j]
        out.append((a + p - base, b))
    return out


def _clip(sessions: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    for i, o in sessions:
        i2 = i if i > lo else lo
        o2 = o if o < hi else hi
        if o2 > i2:
            out.append((i2, o2))
    return out


def _day_of(day: date) -> date:
    if isinstance(day, datetime):
        return day.date()
    return day


class _StudentProp(NamedTuple):
    absent: float
    late: float
    leave: float
    flaky: float
    engage: float


class _TeacherProp(NamedTuple):
    late: float
    early: float
    drop: float


def _student_prop(rng: random.Random) -> _StudentProp:
    u = rng.random()
    absent = rng.uniform(0.03, 0.06) if u < 0.85 else rng.uniform(0.12, 0.25) if u < 0.95 else rng.uniform(0.35, 0.60)
    u = rng.random()
    late = rng.uniform(0.03, 0.08) if u < 0.75 else rng.uniform(0.15, 0.30) if u < 0.95 else rng.uniform(0.45, 0.70)
    leave = rng.uniform(0.03, 0.08) if rng.random() < 0.80 else rng.uniform(0.12, 0.30)
    flaky = rng.betavariate(1.2, 5.0)
    engage = math.exp(rng.gauss(0.0, 0.45))
    return _StudentProp(absent, late, leave, flaky, engage)


def _teacher_prop(rng: random.Random) -> _TeacherProp:
    late = 0.30 if rng.random() < 0.08 else 0.03
    return _TeacherProp(late, rng.uniform(0.03, 0.08), rng.uniform(0.08, 0.20))


def _person_name(rng: random.Random, gender: int) -> str:
    surname = rng.choices(_SURNAMES, cum_weights=_SURNAME_CUM)[0]
    chars = _MALE_CHARS if gender == 1 else _FEMALE_CHARS
    n = 2 if rng.random() < 0.8 else 1
    return surname + "".join(rng.choice(chars) for _ in range(n))


# --------------------------------------------------------------------------- term template


@dataclass(slots=True)
class _Segment:
    classroom: Classroom
    first_week: int
    last_week: int
    grade: str
    subject: str
    coursewares: tuple[int, ...]


@dataclass(slots=True)
class _Lane:
    weekday: int
    slot: int
    start_min: int
    dur: int
    category: int
    teacher_id: int
    segments: list[_Segment]
    seg_of_week: list[int]


@dataclass(slots=True)
class _Term:
    index: int
    start: date
    lanes: list[list[_Lane]]  # by weekday, in slot order
    classrooms: dict[int, tuple[_Lane, _Segment]]
    classroom_list: tuple[Classroom, ...]


class _Full(NamedTuple):
    """A held lesson's whole activity, as second offsets from the scheduled start."""

    a0: int
    a1: int
    teacher_sessions: list[tuple[int, int]]
    student_sessions: list[list[tuple[int, int]] | None]  # in student_ids order; None = absent
    events: dict[tuple[int, str], list[int]]
    help: list[tuple[int, int, int, int]]  # (offset, user_id, type index, content index)
    replay_n: int


# --------------------------------------------------------------------------- the school


class School:
    """Deterministic synthetic school; see the module docstring for ids and distributions."""

    def __init__(self, seed: int = 7, lessons_per_day: int = 40, now: datetime | None = None):
        if not 1 <= lessons_per_day <= 999:
            raise ValueError("lessons_per_day must be in 1..999")
        self.seed = int(seed)
        self.lessons_per_day = int(lessons_per_day)
        self._now: datetime = self._normalise_now(now)
        self.n_teachers = max(8, math.ceil(60 * lessons_per_day / 40))
        self.n_students = max(120, 60 * lessons_per_day)
        self._build_people()
        self._coursewares = self._build_coursewares()
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

    def _build_people(self) -> None:
        rng = random.Random(f"{self.seed}:people")
        used: set[int] = set()

        def mobile() -> int:
            while True:
                m = int(rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}")
                if m not in used:
                    used.add(m)
                    return m

        teachers = []
        self._teacher_props: list[_TeacherProp] = []
        self._teacher_subject: list[int] = []
        self._teacher_load: list[float] = []
        for i in range(self.n_teachers):
            gender = 2 if rng.random() < 0.65 else 1
            teachers.append(Person(TEACHER_ID_BASE + i, _person_name(rng, gender), mobile(), gender, 2))
            self._teacher_props.append(_teacher_prop(rng))
            self._teacher_subject.append(rng.choices(range(len(_SUBJECTS)), weights=(5, 4, 5, 2, 2, 1, 2, 1, 1, 1, 1, 1))[0])
            self._teacher_load.append(rng.choice((1.0, 2.0, 3.0, 3.0, 4.0)))
        students = []
        self._student_props: list[_StudentProp] = []
        for i in range(self.n_students):
            gender = 1 if rng.random() < 0.5 else 2
            students.append(Person(STUDENT_ID_BASE + i, _person_name(rng, gender), mobile(), gender, 1))
            self._student_props.append(_student_prop(rng))
        self._teacher_load_cum = tuple(itertools.accumulate(self._teacher_load))
        self._teachers = tuple(teachers)
        self._students = tuple(students)
        self._by_mobile = {p.mobile: p for p in teachers}
        self._by_mobile.update((p.mobile, p) for p in students)

    def teachers(self) -> tuple[Person, ...]:
        return self._teachers

    def students(self) -> tuple[Person, ...]:
        return self._students

    def people(self) -> tuple[Person, ...]:
        return self._teachers + self._students

    def person(self, user_id: int) -> Person | None:
        i = user_id - TEACHER_ID_BASE
        if 0 <= i < self.n_teachers:
            return self._teachers[i]
        i = user_id - STUDENT_ID_BASE
        if 0 <= i < self.n_students:
            return self._students[i]
        return None

    def person_by_mobile(self, mobile: int) -> Person | None:
        try:
            return self._by_mobile.get(int(mobile))
        except (TypeError, ValueError):
            return None

    def _sprop(self, uid: int) -> _StudentProp:
        i = uid - STUDENT_ID_BASE
        if 0 <= i < self.n_students:
            return self._student_props[i]
        return _student_prop(random.Random(f"{self.seed}:sprop:{uid}"))

    def _tprop(self, uid: int) -> _TeacherProp:
        i = uid - TEACHER_ID_BASE
        if 0 <= i < self.n_teachers:
            return self._teacher_props[i]
        return _teacher_prop(random.Random(f"{self.seed}:tprop:{uid}"))

    # ------------------------------------------------------------------ courseware

    def _build_coursewares(self) -> tuple[Courseware, ...]:
        rng = random.Random(f"{self.seed}:courseware")
        out = []
        for s, subject in enumerate(_SUBJECTS):
            for k in range(4):
                cid = COURSEWARE_ID_BASE + 4 * s + k
                typ = rng.choices((1, 3, 4, 2), weights=(60, 25, 10, 5))[0]
                ext = {1: ".pptx", 3: ".pdf", 4: ".docx", 2: ".html"}[typ]
                size = 0 if typ == 2 else rng.randint(300, 40_000)
                out.append(Courseware(cid, f"{subject}讲义{k + 1:02d}{ext}", size, typ, 2))
        return tuple(out)

    def coursewares(self) -> tuple[Courseware, ...]:
        return self._coursewares

    # ------------------------------------------------------------------ terms

    @staticmethod
    def term_of(day: date) -> int:
        return (_day_of(day) - TERM_EPOCH).days // TERM_DAYS

    @staticmethod
    def term_start(term: int) -> date:
        return TERM_EPOCH + timedelta(days=term * TERM_DAYS)

    def _lane_times(self, rng: random.Random, weekday: int) -> list[tuple[int, int, int]]:
        """``lessons_per_day`` (start minute, duration, category) triples, sorted by start."""
        out = []
        for _ in range(self.lessons_per_day):
            cat = rng.choices(_CATEGORIES, weights=_CATEGORY_WEIGHTS)[0]
            durs, w = _DURATIONS[cat]
            dur = rng.choices(durs, weights=w)[0]
            u = rng.random()
            if weekday < 5:
                if u < 0.63:
                    lo, hi = 18 * 60, 20 * 60 + 30
                elif u < 0.88:
                    lo, hi = 16 * 60, 17 * 60 + 30
                else:
                    lo, hi = 9 * 60, 15 * 60 + 30
            else:
                if u < 0.35:
                    lo, hi = 8 * 60, 11 * 60 + 30
                elif u < 0.80:
                    lo, hi = 13 * 60, 17 * 60 + 30
                else:
                    lo, hi = 18 * 60, 20 * 60
            step = 15 if rng.random() < 0.15 else 30
            start = lo + step * rng.randint(0, (hi - lo) // step)
            start = min(start, _LATEST_END_MIN - dur)
            out.append((start, dur, cat))
        out.sort(key=lambda t: t[0])  # stable: ties keep draw order
        return out

    def _build_term(self, term: int) -> _Term:
        rng = random.Random(f"{self.seed}:term:{term}:{self.lessons_per_day}")
        t_start = self.term_start(term)
        season = {12: "冬", 1: "冬", 2: "春", 3: "春", 4: "春", 5: "春", 6: "夏", 7: "夏", 8: "夏"}.get(t_start.month, "秋")
        label = f"{t_start.year}{season}"
        lanes: list[list[_Lane]] = []
        classrooms: dict[int, tuple[_Lane, _Segment]] = {}
        student_busy: dict[int, list[tuple[int, int, int, int]]] = {}
        n_t, n_s = self.n_teachers, self.n_students
        lpd = self.lessons_per_day
        for wd in range(7):
            day_lanes: list[_Lane] = []
            teacher_busy: list[list[tuple[int, int]]] = [[] for _ in range(n_t)]
            for slot, (start_min, dur, cat) in enumerate(self._lane_times(rng, wd)):
                end_min = start_min + dur
                # a load-weighted teacher free at that time (n_teachers >= 1.5 * lanes: always exists)
                for _ in range(64):
                    t_idx = rng.choices(range(n_t), cum_weights=self._teacher_load_cum)[0]
                    if all(end_min + 10 <= s or e + 10 <= start_min for s, e in teacher_busy[t_idx]):
                        break
                else:
                    free = [
                        t
                        for t in range(n_t)
                        if all(end_min + 10 <= s or e + 10 <= start_min for s, e in teacher_busy[t])
                    ] or list(range(n_t))
                    t_idx = rng.choice(free)
                teacher_busy[t_idx].append((start_min, end_min))
                teacher_id = TEACHER_ID_BASE + t_idx
                lane = _Lane(wd, slot, start_min, dur, cat, teacher_id, [], [0] * TERM_WEEKS)
                week = 0
                seg_no = 0
                while week < TERM_WEEKS:
                    length = min(rng.choice(_SEGMENT_WEEKS[cat]), TERM_WEEKS - week)
                    w0, w1 = week, week + length - 1
                    cid = CLASSROOM_ID_BASE + term * CLASSROOM_TERM_STRIDE + (wd * lpd + slot) * MAX_SEGMENTS + seg_no
                    subject_i = self._teacher_subject[t_idx] if rng.random() < 0.85 else rng.randrange(len(_SUBJECTS))
                    subject = _SUBJECTS[subject_i]
                    grade = rng.choice(_GRADES)
                    # enrolment, avoiding students' clashes (same weekday, overlapping time and weeks)
                    lo_n, hi_n = _ENROLMENT[cat]
                    n = min(rng.randint(lo_n, hi_n), n_s)
                    chosen: set[int] = set()
                    for _ in range(n):
                        for attempt in range(25):
                            s_idx = rng.randrange(n_s)
                            if s_idx in chosen:
                                continue
                            busy = student_busy.get(s_idx)
                            if attempt < 24 and busy and any(
                                bwd == wd and bs < end_min + 10 and start_min < be + 10 and bw0 <= w1 and w0 <= bw1
                                for bwd, bs, be, bw0, bw1 in busy
                            ):
                                continue
                            chosen.add(s_idx)
                            student_busy.setdefault(s_idx, []).append((wd, start_min, end_min, w0, w1))
                            break
                    student_ids = tuple(sorted(STUDENT_ID_BASE + s for s in chosen))
                    if cat == 0:
                        who = self._students[student_ids[0] - STUDENT_ID_BASE].name if student_ids else "学员"
                        name = f"{grade}{subject}一对一·{who}"
                    else:
                        name = f"{label}{grade}{subject}{_KIND_LABEL[cat]}({_WEEKDAY_NAMES[wd]}{start_min // 60:02d}:{start_min % 60:02d})"
                    is_replay = 1 if rng.random() < 0.85 else 0
                    classroom = Classroom(
                        id=cid,
                        name=name,
                        category=cat,
                        teacher_id=teacher_id,
                        student_ids=student_ids,
                        first_day=t_start + timedelta(days=7 * w0 + wd),
                        last_day=t_start + timedelta(days=7 * w1 + wd),
                        small_routine=1 if cat == 1 and rng.random() < 0.3 else 0,
                        need_lian_mai=(1 if rng.random() < 0.5 else 0) if cat in (1, 2) else 0,
                        parent_supervise=(1 if rng.random() < 0.25 else 0) if cat in (0, 7) else 0,
                        is_replay=is_replay,
                        replay_duration=rng.choice((30, 90, 180, 365, 365)) if is_replay else 0,
                    )
                    cws = tuple(COURSEWARE_ID_BASE + 4 * subject_i + k for k in range(4))
                    seg = _Segment(classroom, w0, w1, grade, subject, cws)
                    for w in range(w0, w1 + 1):
                        lane.seg_of_week[w] = seg_no
                    lane.segments.append(seg)
                    classrooms[cid] = (lane, seg)
                    week = w1 + 1
                    seg_no += 1
                day_lanes.append(lane)
            lanes.append(day_lanes)
        classroom_list = tuple(sorted((s.classroom for _, s in classrooms.values()), key=lambda c: c.id))
        return _Term(term, t_start, lanes, classrooms, classroom_list)

    def _term(self, term: int) -> _Term:
        return self._term_cached(term)

    # ------------------------------------------------------------------ classrooms

    def _locate_classroom(self, classroom_id: int) -> tuple[_Term, _Lane, _Segment] | None:
        try:
            classroom_id = int(classroom_id)
        except (TypeError, ValueError):
            return None
        term, rest = divmod(classroom_id - CLASSROOM_ID_BASE, CLASSROOM_TERM_STRIDE)
        if rest >= 7 * self.lessons_per_day * MAX_SEGMENTS or not -99 <= term <= 2_000:
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
        day = _day_of(day)
        tpl = self._term(self.term_of(day))
        return tuple(c for c in tpl.classroom_list if c.first_day <= day <= c.last_day)

    def classroom_lessons(self, classroom_id: int) -> tuple[Lesson, ...]:
        hit = self._locate_classroom(classroom_id)
        if hit is None:
            return ()
        tpl, lane, seg = hit
        out = []
        for w in range(seg.first_week, seg.last_week + 1):
            day = tpl.start + timedelta(days=7 * w + lane.weekday)
            out.append(self._make_lesson(tpl, day, lane.slot))
        return tuple(out)

    # ------------------------------------------------------------------ lessons

    @staticmethod
    def lesson_id_for(day: date, slot: int) -> int:
        return LESSON_ID_BASE + (_day_of(day) - LESSON_EPOCH).days * 1000 + slot

    def _make_lesson(self, tpl: _Term, day: date, slot: int) -> Lesson:
        wd = day.weekday()
        week = (day - tpl.start).days // 7
        lane = tpl.lanes[wd][slot]
        seg = lane.segments[lane.seg_of_week[week]]
        c = seg.classroom
        lid = LESSON_ID_BASE + (day - LESSON_EPOCH).days * 1000 + slot
        start = datetime(day.year, day.month, day.day, lane.start_min // 60, lane.start_min % 60, tzinfo=TZ)
        end = start + timedelta(minutes=lane.dur, seconds=59)
        n = week - seg.first_week + 1
        genre = 1 if _unit(self.seed, _K_GENRE, lid) < TEST_LESSON_SHARE else 0
        name = f"{seg.subject}测试课" if genre else f"{seg.grade}{seg.subject}第{n}讲"
        u = _unit(self.seed, _K_CW, lid)
        cws = seg.coursewares
        if u < 0.10:
            cw: tuple[int, ...] = ()
        elif u < 0.85:
            cw = (cws[(n - 1) % 4],)
        else:
            cw = (cws[(n - 1) % 4], cws[n % 4])
        return Lesson(lid, c.id, lane.teacher_id, name, start, end, c.student_ids, genre, cw)

    def _build_lessons_on(self, day: date) -> tuple[Lesson, ...]:
        tpl = self._term(self.term_of(day))
        return tuple(self._make_lesson(tpl, day, slot) for slot in range(self.lessons_per_day))

    def lessons_on(self, day: date) -> tuple[Lesson, ...]:
        return self._lessons_on_cached(_day_of(day))

    def lesson(self, lesson_id: int) -> Lesson | None:
        try:
            lesson_id = int(lesson_id)
        except (TypeError, ValueError):
            return None
        if not _MIN_LESSON_ID <= lesson_id < API_LESSON_ID_BASE:
            return None
        days, slot = divmod(lesson_id - LESSON_ID_BASE, 1000)
        if slot >= self.lessons_per_day:
            return None
        try:
            day = LESSON_EPOCH + timedelta(days=days)
        except OverflowError:
            return None
        return self.lessons_on(day)[slot]

    # ------------------------------------------------------------------ status & activity

    def never_held(self, lesson: Lesson) -> bool:
        """Whether the lesson is one of the ~3 % that are scheduled but never held."""
        return _unit(self.seed, _K_EXPIRED, lesson.id) < EXPIRED_SHARE

    def status(self, lesson: Lesson) -> int:
        """The lesson's status as of ``now`` (cheap: no activity is generated)."""
        now = self._now
        if lesson.start > now:
            return 0
        if now < lesson.end:
            return 1
        return 3 if self.never_held(lesson) else 2

    def activity(self, lesson: Lesson) -> Activity:
        now = self._now
        if lesson.start > now:
            key = _BEFORE
        elif now >= lesson.end:
            key = _AFTER
        else:  # in class: the view is cut at now (whole seconds since the scheduled start)
            key = int((now - lesson.start).total_seconds())
        return self._activity_cached(lesson, key)

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

    def _build_full(self, lesson: Lesson) -> _Full:
        seed = self.seed
        lid = lesson.id
        cat, lian_mai, _ = self._category(lesson)
        E = int((lesson.end - lesson.start).total_seconds())
        if E < 120:
            E = 120
        weekend = lesson.start.weekday() >= 5

        # teacher
        trng = random.Random(f"{seed}:tact:{lid}:{lesson.teacher_id}")
        tp = self._tprop(lesson.teacher_id)
        if trng.random() < tp.late:
            a0 = trng.randint(180, max(180, min(900, E // 3)))
        else:
            a0 = trng.randint(-150, 75)
        if trng.random() < tp.early:
            a1 = E - trng.randint(180, max(180, min(600, E // 4)))
        else:
            a1 = E - trng.randint(0, 60)
        if a1 < a0 + 300:
            a1 = max(min(E, a0 + 300), a0 + 60)
        k = 0
        if trng.random() < tp.drop:
            k = 1 if trng.random() < 0.8 else 2
        t_sessions = _split(trng, a0, a1, k)
        span = a1 - a0

        h_rate, o_rate, m_rate, r_rate, g_rate = _RATES[cat]
        if cat in (1, 2) and not lian_mai:
            m_rate = 0.0
        abs_mult = _ABSENCE_MULT[cat] * (1.2 if weekend else 1.0)
        late_mult = 1.2 if cat in (1, 2) else 1.0
        late_cap = max(2, (E // 60) // 2)
        leave_cap = max(3, int((E // 60) * 0.45))

        # reward_all moments (the teacher's)
        n_group = _poisson(trng, g_rate * span / 3600.0)
        moments = sorted(trng.sample(range(a0, a1), min(n_group, span))) if n_group else []

        sessions_all: list[list[tuple[int, int]] | None] = []
        events: dict[tuple[int, str], list[int]] = {}
        present: list[tuple[int, float, list[tuple[int, int]]]] = []
        for uid in lesson.student_ids:
            sp = self._sprop(uid)
            r = random.Random(f"{seed}:sact:{lid}:{uid}")
            if r.random() < min(0.97, sp.absent * abs_mult):
                sessions_all.append(None)
                continue
            if r.random() < sp.late * late_mult:
                u = r.random()
                m = r.randint(2, 5) if u < 0.55 else r.randint(6, 15) if u < 0.85 else r.randint(16, 40)
                first_in = min(m, late_cap) * 60 + r.randint(0, 59)
            else:
                first_in = r.randint(-300, 90)
            if r.random() < sp.leave:
                u = r.random()
                m = r.randint(3, 10) if u < 0.5 else r.randint(11, 25) if u < 0.85 else r.randint(26, 45)
                last_out = min(E - min(m, leave_cap) * 60 - r.randint(0, 59), a1)
            else:
                last_out = a1 - r.randint(0, 20)
            if last_out - first_in < 300:
                last_out = min(a1, first_in + 300)
            if last_out - first_in < 120:
                sessions_all.append(None)  # arrived after the class was over: absent
                continue
            k = 0
            if r.random() < sp.flaky:
                u = r.random()
                k = 1 if u < 0.65 else 2 if u < 0.90 else 3
            sess = _split(r, first_in, last_out, k)
            sessions_all.append(sess)

            # key events inside the sessions and inside [a0, a1)
            ivs = _clip(sess, a0, a1)
            total = sum(o - i for i, o in ivs)
            if total <= 0:
                continue
            present.append((uid, sp.flaky, ivs))
            hours = total / 3600.0 * sp.engage
            n_hand = _poisson(r, h_rate * hours)
            n_stage = _poisson(r, o_rate * hours)
            n_mic = _poisson(r, m_rate * hours)
            n_reward = _poisson(r, r_rate * hours) + sum(1 for _ in range(n_stage) if r.random() < 0.5)
            for etype, n in (("handup", n_hand), ("onstage", n_stage), ("reward", n_reward)):
                if n:
                    events[(uid, etype)] = [t for t, _ in _pick(r, ivs, total, n)]
            if n_mic:
                ons = _pick(r, ivs, total, n_mic)
                on_l: list[int] = []
                off_l: list[int] = []
                for j, (t, b) in enumerate(ons):
                    limit = b - 1
                    if j + 1 < len(ons) and ons[j + 1][0] - 1 < limit:
                        limit = ons[j + 1][0] - 1
                    off = min(t + r.randint(5, 240), limit)
                    if off > t:
                        on_l.append(t)
                        off_l.append(off)
                if on_l:
                    events[(uid, "toggle_mic_on")] = on_l
                    events[(uid, "toggle_mic_off")] = off_l
            if moments:
                got = [m for m in moments if any(i <= m < o for i, o in ivs)]
                if got:
                    events[(uid, "reward_all")] = got

        # help requests
        help_list: list[tuple[int, int, int, int]] = []
        if present:
            hrng = random.Random(f"{seed}:help:{lid}")
            n_help = _poisson(hrng, (0.06 + 0.004 * len(present)) * span / 3600.0)
            seen: set[tuple[int, int]] = set()
            weights = [0.1 + f for _, f, _ in present]
            for _ in range(n_help):
                uid, _, ivs = hrng.choices(present, weights=weights)[0]
                total = sum(o - i for i, o in ivs)
                t = _pick(hrng, ivs, total, 1)[0][0]
                ti = hrng.choices(range(len(_HELP_TYPES)), cum_weights=_HELP_CUM)[0]
                ci = hrng.randrange(len(_HELP_TYPES[ti][3]))
                if (uid, t) in seen:
                    continue
                seen.add((uid, t))
                help_list.append((t, uid, ti, ci))
            help_list.sort()
        replay_n = 10_000 + _hash(seed, _K_REPLAY, lid) % 90_000
        return _Full(a0, a1, t_sessions, sessions_all, events, help_list, replay_n)

    def _empty_activity(self, lesson: Lesson, status: int) -> Activity:
        rows = tuple(AttendanceRow(uid, (), 0, 0, 0, 0) for uid in lesson.student_ids)
        teacher = TeacherInout(lesson.teacher_id, None, None, 0, 0, 0, 0)
        return Activity(status, None, None, rows, teacher, MappingProxyType({}), MappingProxyType({}), (), None)

    def _build_activity(self, lesson: Lesson, key: int) -> Activity:
        """``key``: ``_BEFORE``, ``_AFTER`` or the in-class cut in seconds since the start."""
        if key == _BEFORE:
            return self._empty_activity(lesson, 0)
        finished = key == _AFTER
        if self.never_held(lesson):
            return self._empty_activity(lesson, 3 if finished else 1)
        full = self._full_cached(lesson)
        E = int((lesson.end - lesson.start).total_seconds())
        cut = None if finished else key
        start = lesson.start
        td = timedelta

        def at(t: int) -> datetime:
            return start + td(seconds=t)

        # teacher
        tsess = full.teacher_sessions
        t_open = False
        if cut is not None:
            t_open = any(i < cut < o for i, o in tsess)
            tsess = [(i, min(o, cut)) for i, o in tsess if i < cut]
        if tsess:
            t_listen = sum(o - i for i, o in tsess) // 60
            teacher = TeacherInout(
                lesson.teacher_id,
                at(full.a0),
                None if cut is not None else at(full.a1),
                t_listen,
                2 * len(tsess) - (1 if t_open else 0),
                max(0, full.a0) // 60,
                0 if cut is not None else max(0, E - full.a1) // 60,
            )
        else:
            teacher = TeacherInout(lesson.teacher_id, None, None, 0, 0, 0, 0)

        rows = []
        for uid, sess in zip(lesson.student_ids, full.student_sessions):
            if not sess:
                rows.append(AttendanceRow(uid, (), 0, 0, 0, 0))
                continue
            is_open = False
            if cut is not None:
                is_open = any(i < cut < o for i, o in sess)
                sess = [(i, min(o, cut)) for i, o in sess if i < cut]
                if not sess:
                    rows.append(AttendanceRow(uid, (), 0, 0, 0, 0))
                    continue
            rows.append(
                AttendanceRow(
                    uid,
                    tuple((at(i), at(o)) for i, o in sess),
                    sum(o - i for i, o in sess) // 60,
                    2 * len(sess) - (1 if is_open else 0),
                    max(0, sess[0][0]) // 60,
                    0 if cut is not None else max(0, E - sess[-1][1]) // 60,
                )
            )

        events: dict[tuple[int, str], tuple[datetime, ...]] = {}
        awards: dict[int, int] = {}
        for key, times in full.events.items():
            if cut is not None:
                times = [t for t in times if t < cut]
                if not times:
                    continue
            events[key] = tuple(at(t) for t in times)
            if key[1] == "reward" or key[1] == "reward_all":
                awards[key[0]] = awards.get(key[0], 0) + len(times)

        helps = []
        for t, uid, ti, ci in full.help:
            if cut is not None and t >= cut:
                continue
            htype, item, _, contents = _HELP_TYPES[ti]
            helps.append(HelpRequest(lesson.id, uid, htype, item, contents[ci], at(t)))

        replay = None
        if cut is None and self._category(lesson)[2]:
            replay = f"zbywsvod.weclassroom.com/vod/zby/_{lesson.id}_{full.replay_n}.mp4"
        return Activity(
            1 if cut is not None else 2,
            at(full.a0) if cut is None or full.a0 < cut else None,
            None if cut is not None else at(full.a1),
            tuple(rows),
            teacher,
            MappingProxyType(awards),
            MappingProxyType(events),
            tuple(helps),
            replay,
        )
