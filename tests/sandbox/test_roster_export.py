"""The roster as the school office exports it: files, round trips, API 20, and exactly the deliberate problems."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta

import pytest
import requests
from click.testing import CliRunner

from pipeline.api.signing import encode_sign_msg
from pipeline.sandbox.cli import sandbox as sandbox_cli
from pipeline.sandbox.runner import SandboxConfig, start_sandbox
from pipeline.sandbox.school import NAMELESS_PROBLEMS, PROBLEM_CODES, TZ, RosterProblem, School
from pipeline.sandbox.truth import write_roster

SEED, LPD = 11, 12
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=TZ)  # `liveclass run`'s default window: 2026-11-24 .. 2026-11-30
WINDOW = [date(2026, 11, 24) + timedelta(days=i) for i in range(7)]
STUDENT_HEADER = ["手机号", "姓名", "学号", "班级", "年级"]


@pytest.fixture(scope="module")
def school() -> School:
    return School(seed=SEED, lessons_per_day=LPD, now=NOW)


@pytest.fixture(scope="module")
def export(school: School):
    return school.roster_export("csv")


@pytest.fixture(scope="module")
def sb():
    with start_sandbox(SandboxConfig(seed=SEED, lessons_per_day=LPD, now=NOW)) as running:
        yield running


def api20(sb, mobiles: list[str]) -> dict:
    """``{mobile: (uid, role)}`` of API 20 for the mobiles (500 a call, the sandbox's cap)."""
    out = {}
    for i in range(0, len(mobiles), 500):
        params = {"mobile": [int(m) for m in mobiles[i:i + 500]]}
        body = requests.post(sb.base_url + "/user/id", timeout=10, data={
            "applicationID": sb.app_id, "signMsg": encode_sign_msg(params, sb.secret)}).json()
        assert body["status"] == 1, body
        out.update({str(d["mobile"]): (d["uid"], d["role"]) for d in body["data"]})
    return out


def test_the_deliberate_problems_are_exactly_these(school: School, export):
    students = export.files["students"]
    assert students.name == "students.csv" and list(students.header) == STUDENT_HEADER
    assert len(students.rows) == len(school.students()) + 2  # a student who left and a duplicate row
    problems = export.problems
    assert all(isinstance(p, RosterProblem) and p.file == "students.csv" for p in problems)
    assert sorted(p.problem for p in problems) == sorted(
        ["unknown_mobile", "unknown_mobile", "invalid_mobile", "missing_name", "duplicate_mobile"])
    assert {p.problem for p in problems} <= set(PROBLEM_CODES)
    assert list(problems) == sorted(problems, key=lambda p: p.row)
    by_code = {}
    for p in problems:
        by_code.setdefault(p.problem, []).append(p)
        row = students.rows[p.row - 2]
        assert students.user_ids[p.row - 2] == p.user_id
        mobile, name = row[0], row[1]
        if p.problem == "unknown_mobile":
            assert p.column == "手机号" and len(mobile) == 11 and school.person_by_mobile(int(mobile)) is None
            if p.user_id is not None:  # a real student's mobile with two adjacent digits swapped
                real = str(school.person(p.user_id).mobile)
                diff = [k for k in range(11) if real[k] != mobile[k]]
                assert len(diff) == 2 and diff[1] == diff[0] + 1 and sorted(real) == sorted(mobile)
                assert name == school.person(p.user_id).name
            else:  # a student who left
                assert name and row[2] == f"XS{len(school.students()) + 1:05d}"
        elif p.problem == "invalid_mobile":
            real = str(school.person(p.user_id).mobile)
            assert p.column == "手机号" and len(mobile) == 10 and any(real[:k] + real[k + 1:] == mobile for k in range(11))
        elif p.problem == "missing_name":
            assert p.column == "姓名" and name == "" and mobile == str(school.person(p.user_id).mobile)
        else:
            assert p.problem == "duplicate_mobile" and p.column == "手机号"
            first = [r for r in students.rows[: p.row - 2] if r[0] == mobile]
            assert len(first) == 1 and first[0][1] == school.person(p.user_id).name
            assert (row[1], row[3]) != (first[0][1], first[0][3])  # another spelling or another class
    assert len({p.user_id for p in problems if p.user_id}) == 4
    # no other row has a problem: every other mobile is a distinct student's, with their name
    bad_rows = {p.row for p in problems}
    seen = set()
    for k, (row, uid) in enumerate(zip(students.rows, students.user_ids), 2):
        if k in bad_rows:
            continue
        person = school.person(uid)
        assert (row[0], row[1], row[2]) == (str(person.mobile), person.name, f"XS{uid - 2_000_000 + 1:05d}")
        assert uid not in seen
        seen.add(uid)
    # the nameless students had lessons in the days before the export (so the exception matters)
    recent = {u for back in (1, 2, 3) for x in school.lessons_on(NOW.date() - timedelta(days=back)) for u in x.student_ids}
    assert {p.user_id for p in problems if p.user_id} <= recent


def test_every_student_with_a_lesson_has_a_name_except_the_problems(school: School, export):
    names = export.names_by_user()
    nameless = {p.user_id for p in export.problems if p.problem in NAMELESS_PROBLEMS and p.user_id}
    assert len(nameless) == 3
    attended = {u for day in WINDOW for x in school.lessons_on(day) for u in x.student_ids}
    assert nameless <= attended
    assert {u for u in attended if u not in names} == nameless
    for uid in attended - nameless:
        assert names[uid] == school.person(uid).name
    teachers = {x.teacher_id for day in WINDOW for x in school.lessons_on(day)}
    assert all(names[t] == school.person(t).name for t in teachers)


def test_mobiles_resolve_through_api_20(sb, school: School, export):
    students = export.files["students"]
    problems = {p.row: p for p in export.problems}
    valid = [r[0] for k, r in enumerate(students.rows, 2) if problems.get(k, None) is None
             or problems[k].problem != "invalid_mobile"]
    answer = api20(sb, valid)
    for k, (row, uid) in enumerate(zip(students.rows, students.user_ids), 2):
        p = problems.get(k)
        if p is None or p.problem == "duplicate_mobile":
            assert answer[row[0]] == (uid, 3), (k, row)
        elif p.problem == "unknown_mobile":
            assert row[0] not in answer
        elif p.problem == "missing_name":
            assert answer[row[0]] == (uid, 3)
    # the malformed mobile is refused by the platform (11 digits expected): an ingestion must not send it
    bad = next(r[0] for k, r in enumerate(students.rows, 2) if k in problems and problems[k].problem == "invalid_mobile")
    body = requests.post(sb.base_url + "/user/id", timeout=10, data={
        "applicationID": sb.app_id, "signMsg": encode_sign_msg({"mobile": [bad]}, sb.secret)}).json()
    assert body["status"] == 0 and body["error_code"] == 40003
    teachers = export.files["teachers"]
    answer = api20(sb, [r[0] for r in teachers.rows])
    assert [answer[r[0]] for r in teachers.rows] == [(uid, 2) for uid in teachers.user_ids]
    assert [r[2] for r in teachers.rows] == [school.subject_of(uid) for uid in teachers.user_ids]


def test_courses_and_classes(school: School, export):
    courses = export.files["courses"]
    assert list(courses.header) == ["班级ID", "班级名称", "科目", "年级", "学期"]
    term = school.term_of(NOW.date())
    assert export.term == term.name == "2026秋"
    ids = [int(r[0]) for r in courses.rows]
    assert ids == [c.id for c in school.classrooms_of_term(NOW.date())]
    for row in courses.rows:
        c = school.classroom(int(row[0]))
        assert row[1] == c.name and (row[3], row[2]) == school.classroom_info(c.id) and row[4] == term.name
    names = {r[1] for r in courses.rows}
    assert len(names) == len(courses.rows)
    students = export.files["students"]
    for row, uid in zip(students.rows, students.user_ids):
        assert row[3] == "" or row[3] in names
        if uid is not None:
            assert row[4] == school.grade_of(uid, NOW.date())
            if row[3]:  # a class the student is in (the duplicate row may name their other class)
                c = next(c for c in school.classrooms_of_term(NOW.date()) if c.name == row[3])
                assert uid in c.student_ids
    assert sum(1 for r in students.rows if r[3]) >= 0.5 * len(students.rows)


def test_csv_round_trip_with_bom(tmp_path, school: School):
    export = write_roster(school, tmp_path, "csv")
    for f in export.files.values():
        raw = (tmp_path / f.name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
        with open(tmp_path / f.name, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == list(f.header) and [tuple(r) for r in rows[1:]] == list(f.rows)
    assert export == school.roster_export("csv")  # deterministic


def test_xlsx_round_trip(tmp_path, school: School):
    openpyxl = pytest.importorskip("openpyxl")
    export = write_roster(school, tmp_path, "xlsx")
    assert {f.name for f in export.files.values()} == {"students.xlsx", "teachers.xlsx", "courses.xlsx"}
    assert all(p.file == "students.xlsx" for p in export.problems)
    for f in export.files.values():
        ws = openpyxl.load_workbook(tmp_path / f.name, read_only=True).active
        rows = [tuple("" if v is None else v for v in r) for r in ws.iter_rows(values_only=True)]
        assert rows[0] == f.header and rows[1:] == list(f.rows)
        assert all(isinstance(v, str) for r in rows for v in r)  # mobiles and ids are text, not numbers
    # the problems are the same rows whatever the format
    assert [p[1:] for p in export.problems] == [p[1:] for p in school.roster_export("csv").problems]


def test_cli_roster(tmp_path):
    out = tmp_path / "roster"
    result = CliRunner().invoke(sandbox_cli, ["roster", "--seed", str(SEED), "--lessons-per-day", str(LPD), "--out",
                                              str(out), "--now", "2026-12-01 03:00"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["courses.csv", "students.csv", "teachers.csv"]
    export = School(seed=SEED, lessons_per_day=LPD, now=NOW).roster_export("csv")
    for p in export.problems:
        assert f"students.csv row {p.row} {p.column}: {p.problem}" in result.output
    result = CliRunner().invoke(sandbox_cli, ["roster", "--out", str(tmp_path / "x"), "--format", "xlsx",
                                              "--now", "2026-12-01"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x" / "students.xlsx").exists()
    assert "students.xlsx: 2402 rows" in result.output  # defaults: seed 7, 40 lessons a day (2,400 students)


def test_other_day_other_problems_same_school():
    a = School(seed=SEED, lessons_per_day=LPD, now=NOW).roster_export()
    b = School(seed=SEED, lessons_per_day=LPD, now=NOW + timedelta(days=1)).roster_export()
    assert a.files["teachers"] == b.files["teachers"] and a.files["courses"] == b.files["courses"]
    assert a.problems != b.problems
