"""The school's fixed cast, drawn once per school: its people and its courseware library.

People: ``n_teachers`` teachers and ``n_students`` students (ids and counts in
the package docstring), with Chinese names (Zipf-like surnames), distinct
mobiles and propensities fixed for life (absence, lateness, early leaving,
network flakiness, engagement; punctuality of teachers; the distributions are
documented with the attendance in :mod:`.activity`).  65 % of teachers are
women; each teacher has a main subject and a load (the weight with which the
timetable gives them lanes).  The courseware library holds 4 items per subject.

Students also have a cohort and an appetite, drawn from :func:`~.rand.hash64` (not from the
people's RNG, so names and mobiles do not depend on them): a student's grade in a school year
``Y`` is ``GRADES[(cohort + Y) % 12]`` (one grade up every September; the cast is recycled, so
after 高三 an id comes back as a 小一), and the appetite (1, 1, 2, 2, 3 or 4, equally likely)
is the weight with which the timetable enrols the student in classes.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import NamedTuple

from .model import COURSEWARE_ID_BASE, STUDENT_ID_BASE, TEACHER_ID_BASE, Courseware, Person
from .rand import K_APPETITE, K_COHORT, hash64

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
MOBILE_PREFIXES = tuple(
    [f"13{d}" for d in range(10)] + [f"15{d}" for d in range(10) if d != 4] + [f"18{d}" for d in range(10)]
)
SUBJECTS = ("数学", "语文", "英语", "物理", "化学", "生物", "编程", "美术", "书法", "围棋", "科学", "历史")
GRADES = ("小一", "小二", "小三", "小四", "小五", "小六", "初一", "初二", "初三", "高一", "高二", "高三")
_APPETITES = (1, 1, 2, 2, 3, 4)


class StudentProp(NamedTuple):
    absent: float
    late: float
    leave: float
    flaky: float
    engage: float


class TeacherProp(NamedTuple):
    late: float
    early: float
    drop: float


def _student_prop(rng: random.Random) -> StudentProp:
    u = rng.random()
    absent = rng.uniform(0.03, 0.06) if u < 0.85 else rng.uniform(0.12, 0.25) if u < 0.95 else rng.uniform(0.35, 0.60)
    u = rng.random()
    late = rng.uniform(0.03, 0.08) if u < 0.75 else rng.uniform(0.15, 0.30) if u < 0.95 else rng.uniform(0.45, 0.70)
    leave = rng.uniform(0.03, 0.08) if rng.random() < 0.80 else rng.uniform(0.12, 0.30)
    flaky = rng.betavariate(1.2, 5.0)
    engage = math.exp(rng.gauss(0.0, 0.45))
    return StudentProp(absent, late, leave, flaky, engage)


def _teacher_prop(rng: random.Random) -> TeacherProp:
    late = 0.30 if rng.random() < 0.08 else 0.03
    return TeacherProp(late, rng.uniform(0.03, 0.08), rng.uniform(0.08, 0.20))


def person_name(rng: random.Random, gender: int) -> str:
    """A Chinese name (surname + one or two given-name characters) drawn from ``rng``."""
    surname = rng.choices(_SURNAMES, cum_weights=_SURNAME_CUM)[0]
    chars = _MALE_CHARS if gender == 1 else _FEMALE_CHARS
    n = 2 if rng.random() < 0.8 else 1
    return surname + "".join(rng.choice(chars) for _ in range(n))



@dataclass(frozen=True, slots=True, eq=False)
class Roster:
    """The people of one school and their propensities (index ``i`` is id ``*_ID_BASE + i``)."""

    seed: int
    teachers: tuple[Person, ...]
    students: tuple[Person, ...]
    teacher_props: tuple[TeacherProp, ...]
    teacher_subject: tuple[int, ...]  # index into SUBJECTS
    teacher_load_cum: tuple[float, ...]  # cumulative loads (cum_weights of the timetable's teacher draw)
    student_props: tuple[StudentProp, ...]
    by_mobile: dict[int, Person]
    student_cohort: tuple[int, ...]  # grade index in school year Y: (cohort + Y) % 12
    student_appetite: tuple[int, ...]  # enrolment weight

    def grade_index(self, uid: int, school_year: int) -> int | None:
        """A student's grade (index into GRADES) in ``school_year``; None for unknown ids."""
        i = uid - STUDENT_ID_BASE
        if 0 <= i < len(self.students):
            return (self.student_cohort[i] + school_year) % len(GRADES)
        return None

    def person(self, user_id: int) -> Person | None:
        i = user_id - TEACHER_ID_BASE
        if 0 <= i < len(self.teachers):
            return self.teachers[i]
        i = user_id - STUDENT_ID_BASE
        if 0 <= i < len(self.students):
            return self.students[i]
        return None

    def person_by_mobile(self, mobile: int) -> Person | None:
        try:
            return self.by_mobile.get(int(mobile))
        except (TypeError, ValueError):
            return None

    def sprop(self, uid: int) -> StudentProp:
        """A student's propensities (drawn from the id for students unknown to the roster)."""
        i = uid - STUDENT_ID_BASE
        if 0 <= i < len(self.students):
            return self.student_props[i]
        return _student_prop(random.Random(f"{self.seed}:sprop:{uid}"))

    def tprop(self, uid: int) -> TeacherProp:
        """A teacher's propensities (drawn from the id for teachers unknown to the roster)."""
        i = uid - TEACHER_ID_BASE
        if 0 <= i < len(self.teachers):
            return self.teacher_props[i]
        return _teacher_prop(random.Random(f"{self.seed}:tprop:{uid}"))


def build_roster(seed: int, n_teachers: int, n_students: int) -> Roster:
    rng = random.Random(f"{seed}:people")
    used: set[int] = set()

    def mobile() -> int:
        while True:
            m = int(rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}")
            if m not in used:
                used.add(m)
                return m

    teachers = []
    teacher_props: list[TeacherProp] = []
    teacher_subject: list[int] = []
    teacher_load: list[float] = []
    for i in range(n_teachers):
        gender = 2 if rng.random() < 0.65 else 1
        teachers.append(Person(TEACHER_ID_BASE + i, person_name(rng, gender), mobile(), gender, 2))
        teacher_props.append(_teacher_prop(rng))
        teacher_subject.append(rng.choices(range(len(SUBJECTS)), weights=(5, 4, 5, 2, 2, 1, 2, 1, 1, 1, 1, 1))[0])
        teacher_load.append(rng.choice((1.0, 2.0, 3.0, 3.0, 4.0)))
    students = []
    student_props: list[StudentProp] = []
    for i in range(n_students):
        gender = 1 if rng.random() < 0.5 else 2
        students.append(Person(STUDENT_ID_BASE + i, person_name(rng, gender), mobile(), gender, 1))
        student_props.append(_student_prop(rng))
    by_mobile = {p.mobile: p for p in teachers}
    by_mobile.update((p.mobile, p) for p in students)
    cohort = tuple(hash64(seed, K_COHORT, p.id) % len(GRADES) for p in students)
    appetite = tuple(_APPETITES[hash64(seed, K_APPETITE, p.id) % len(_APPETITES)] for p in students)
    return Roster(seed, tuple(teachers), tuple(students), tuple(teacher_props), tuple(teacher_subject),
                  tuple(itertools.accumulate(teacher_load)), tuple(student_props), by_mobile, cohort, appetite)


def build_coursewares(seed: int) -> tuple[Courseware, ...]:
    rng = random.Random(f"{seed}:courseware")
    out = []
    for s, subject in enumerate(SUBJECTS):
        for k in range(4):
            cid = COURSEWARE_ID_BASE + 4 * s + k
            typ = rng.choices((1, 3, 4, 2), weights=(60, 25, 10, 5))[0]
            ext = {1: ".pptx", 3: ".pdf", 4: ".docx", 2: ".html"}[typ]
            size = 0 if typ == 2 else rng.randint(300, 40_000)
            out.append(Courseware(cid, f"{subject}讲义{k + 1:02d}{ext}", size, typ, 2))
    return tuple(out)
