"""The roster as a school office exports it: students, teachers and courses, with a few deliberate problems.

:func:`build_export` returns three tables (header row in Chinese, every cell a string, ``""``
for an empty cell) for the term of a day, and the list of problems it put in on purpose:

- ``students.<ext>``: 手机号, 姓名, 学号, 班级, 年级 — every student of the roster in id order
  (学号 ``XS00001`` …; 班级 the name of one of the student's classrooms of the term: one still
  running on the day before one that has ended, a group class before a one-to-one, then the
  lowest id; empty for a student without a class that term; 年级 the student's grade that term);
- ``teachers.<ext>``: 手机号, 姓名, 科目 (main subject) — every teacher;
- ``courses.<ext>``: 班级ID, 班级名称, 科目, 年级, 学期 — every classroom of the term.

The problems, all in ``students`` (rows are 1-based as a spreadsheet shows them, the header
being row 1), drawn from ``random.Random("<seed>:roster:<lessons_per_day>:<day>")``; the four
students involved are distinct students who had a lesson on one of the three days before the
export's day (when there are fewer than four, students enrolled in the term, then any):

- ``unknown_mobile`` (手机号, user ``None``): an extra row, a student who left: a mobile that is
  not on the platform, a name, 学号 past the last one;
- ``unknown_mobile`` (手机号, the student): a real student's row with two adjacent digits of the
  mobile swapped (not on the platform): no name for them;
- ``invalid_mobile`` (手机号, the student): a real student's row with a digit missing (10 digits;
  API 20 refuses the batch with 40003): no name for them;
- ``missing_name`` (姓名, the student): a real student's row with an empty 姓名: no name for them;
- ``duplicate_mobile`` (手机号, the student): an extra row later in the file with the mobile of a
  student listed earlier, with another class (when the student has two) or the name spelled
  with a space (``王 子涵``); the first row is the right one.

So every student of the roster is resolved to a name except the ``user_id`` of the
``unknown_mobile``/``invalid_mobile``/``missing_name`` problems; teachers and courses have no
problem.  The export is a pure function of ``(seed, lessons_per_day, day)``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from .model import STUDENT_ID_BASE, Classroom
from .roster import GRADES, MOBILE_PREFIXES, SUBJECTS, Roster, person_name
from .timetable import Term

STUDENT_HEADER = ("手机号", "姓名", "学号", "班级", "年级")
TEACHER_HEADER = ("手机号", "姓名", "科目")
COURSE_HEADER = ("班级ID", "班级名称", "科目", "年级", "学期")
#: Problem codes (the same as the lake's ``roster_problems.problem``).
PROBLEM_CODES = ("unknown_mobile", "duplicate_mobile", "missing_name", "invalid_mobile")
#: Problems that leave a real student without a name.
NAMELESS_PROBLEMS = ("unknown_mobile", "invalid_mobile", "missing_name")


class RosterProblem(NamedTuple):
    """A deliberate problem: the file, its 1-based spreadsheet row (header = 1), column, code, affected user."""

    file: str
    row: int
    column: str
    problem: str
    user_id: int | None


@dataclass(frozen=True)
class RosterFile:
    """One exported table: its file name, header and rows (strings), and the user each row means."""

    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    user_ids: tuple[int | None, ...]  # the platform user the office meant (None: not on the platform / a course)


@dataclass(frozen=True)
class RosterExport:
    """What :func:`build_export` returns: ``files`` by kind (students, teachers, courses) and the problems."""

    term: str
    day: date
    files: dict[str, RosterFile]
    problems: tuple[RosterProblem, ...]

    def names_by_user(self) -> dict[int, str]:
        """The name a correct ingestion gives each user id (first row of a mobile wins; problems skipped)."""
        out: dict[int, str] = {}
        bad = {(p.file, p.row) for p in self.problems}
        for f in (self.files["students"], self.files["teachers"]):
            for i, (row, uid) in enumerate(zip(f.rows, f.user_ids), 2):
                if uid is not None and (f.name, i) not in bad and uid not in out:
                    out[uid] = row[1]
        return out


def _student_classes(classrooms: Iterable[Classroom], day: date) -> dict[int, list[Classroom]]:
    """Each student's classrooms: still running on ``day`` first, then group classes first, then by id."""
    out: dict[int, list[Classroom]] = {}
    for c in sorted(classrooms, key=lambda c: (c.last_day < day, c.category == 0, c.id)):
        for uid in c.student_ids:
            out.setdefault(uid, []).append(c)
    return out


def build_export(roster: Roster, tpl: Term, recent: Iterable[int], *, seed: int, lessons_per_day: int, day: date,
                 ext: str = "csv") -> RosterExport:
    """The roster export of term ``tpl`` on ``day``; ``recent``: students with a lesson in the days before."""
    rng = random.Random(f"{seed}:roster:{lessons_per_day}:{day.isoformat()}")
    classes = _student_classes(tpl.classroom_list, day)
    n_s = len(roster.students)

    # the four students the problems are about
    pool = sorted({u for u in recent if 0 <= u - STUDENT_ID_BASE < n_s})
    if len(pool) < 4:
        pool = sorted(classes)
    if len(pool) < 4:
        pool = [p.id for p in roster.students]
    mistyped, invalid, nameless, duplicated = rng.sample(pool, 4)  # the roster has >= 120 students

    def grade(uid: int) -> str:
        g = roster.grade_index(uid, tpl.school_year)
        return "" if g is None else GRADES[g]

    students: list[tuple[str, ...]] = []
    users: list[int | None] = []
    for i, p in enumerate(roster.students):
        mine = classes.get(p.id, [])
        students.append((str(p.mobile), p.name, f"XS{i + 1:05d}", mine[0].name if mine else "", grade(p.id)))
        users.append(p.id)
    problems: list[tuple[int, str, str, int | None]] = []  # (index in the final rows, column, code, user)
    marked: dict[int, tuple[str, str]] = {}  # user id -> (column, code) of its problem

    def edit(uid: int, column: int, value: str, code: str) -> None:
        i = uid - STUDENT_ID_BASE
        row = list(students[i])
        row[column] = value
        students[i] = tuple(row)
        marked[uid] = (STUDENT_HEADER[column], code)

    taken = set(roster.by_mobile)
    # a real student's mobile with two adjacent digits swapped (else the last digit changed): off the platform
    digits = str(roster.students[mistyped - STUDENT_ID_BASE].mobile)
    spots = [k for k in range(3, 10) if digits[k] != digits[k + 1]]
    rng.shuffle(spots)
    typos = [digits[:k] + digits[k + 1] + digits[k] + digits[k + 2:] for k in spots]
    typos += [digits[:-1] + x for x in "0123456789"]
    typo = next(t for t in typos if int(t) not in taken)
    taken.add(int(typo))
    edit(mistyped, 0, typo, "unknown_mobile")
    # a digit missing: 10 digits
    m = str(roster.students[invalid - STUDENT_ID_BASE].mobile)
    k = rng.randrange(3, 11)
    edit(invalid, 0, m[:k] + m[k + 1:], "invalid_mobile")
    edit(nameless, 1, "", "missing_name")

    # a student who left: a mobile not on the platform
    while True:
        leaver_mobile = int(rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}")
        if leaver_mobile not in taken:
            break
    group = [c for c in tpl.classroom_list if c.category != 0]
    left_class = rng.choice(group) if group else None
    left_grade = tpl.classrooms[left_class.id][1].grade if left_class else ""
    leaver = (str(leaver_mobile), person_name(rng, rng.choice((1, 2))), f"XS{n_s + 1:05d}",
              left_class.name if left_class else "", left_grade)
    at = rng.randrange(len(students) + 1)
    students.insert(at, leaver)
    users.insert(at, None)

    # a duplicate: the same mobile again, later in the file
    i = users.index(duplicated)
    mobile, name, number, klass, g = students[i]
    mine = classes.get(duplicated, [])
    if len(mine) >= 2:
        dup = (mobile, name, number, mine[1].name, g)
    else:
        dup = (mobile, name[0] + " " + name[1:], number, klass, g)
    at = rng.randrange(i + 1, len(students) + 1)
    students.insert(at, dup)
    users.insert(at, duplicated)
    problems.append((at, "手机号", "duplicate_mobile", duplicated))
    for k, uid in enumerate(users):
        if uid in marked and k == users.index(uid):  # the first row of the user (the edited one)
            column, code = marked[uid]
            problems.append((k, column, code, uid))
        if uid is None:
            problems.append((k, "手机号", "unknown_mobile", None))

    student_file = f"students.{ext}"
    found = tuple(sorted(RosterProblem(student_file, k + 2, col, code, uid) for k, col, code, uid in problems))

    teachers = RosterFile(
        f"teachers.{ext}", TEACHER_HEADER,
        tuple((str(p.mobile), p.name, SUBJECTS[roster.teacher_subject[i]]) for i, p in enumerate(roster.teachers)),
        tuple(p.id for p in roster.teachers),
    )
    course_rows = []
    for c in tpl.classroom_list:
        seg = tpl.classrooms[c.id][1]
        course_rows.append((str(c.id), c.name, seg.subject, seg.grade, tpl.name))
    courses = RosterFile(f"courses.{ext}", COURSE_HEADER, tuple(course_rows), (None,) * len(course_rows))
    files = {
        "students": RosterFile(student_file, STUDENT_HEADER, tuple(students), tuple(users)),
        "teachers": teachers,
        "courses": courses,
    }
    return RosterExport(tpl.name, day, files, found)
