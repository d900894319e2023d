"""Names from the school's roster: the sandbox school's own export (with its deliberate problems) is
resolved through the real sandbox's API 20 and built into the warehouse from a real extraction.

Every student who had a lesson gets the roster's name, except the students the export's deliberate
problems concern, which are reported one line each and listed in qa_roster_problems."""

from __future__ import annotations

import shutil

import pytest

from tests.assets.test_extraction import extracted  # noqa: F401  (fixture)
from tests.conftest import SANDBOX_LESSONS_PER_DAY, SANDBOX_NOW, SANDBOX_SEED, api_resource

pytestmark = pytest.mark.xdist_group("sandbox")


@pytest.fixture(scope="module", params=["csv", "xlsx"])
def named(request, extracted, sandbox, tmp_path_factory):  # noqa: F811
    from assets.lake.roster import refresh_roster
    from pipeline.core.layout import DataDir
    from pipeline.sandbox.school import School
    from pipeline.sandbox.truth import write_roster
    from warehouse.build import build_warehouse, connect_readonly

    data_dir, _ = extracted
    root = tmp_path_factory.mktemp(f"named-{request.param}")
    shutil.copytree(data_dir / "lake", root / "lake")
    dirs = DataDir(root)
    school = School(seed=SANDBOX_SEED, lessons_per_day=SANDBOX_LESSONS_PER_DAY, now=SANDBOX_NOW)
    export = write_roster(school, dirs.roster_dir, request.param)
    lines: list[str] = []
    client = api_resource(sandbox).get_client()
    summary = refresh_roster(client, dirs, dirs.roster_dir, echo=lines.append)
    build_warehouse(dirs.lake_dir(), dirs.warehouse)
    con = connect_readonly(dirs.warehouse)
    yield con, export, lines, summary
    con.close()


def test_every_student_with_a_lesson_has_a_name_but_the_deliberate_problems(named):
    from pipeline.sandbox.school.export import NAMELESS_PROBLEMS

    con, export, _, _ = named
    seen = dict(con.execute("SELECT s.user_id, s.student_name FROM dim_student AS s "
                            "WHERE s.lessons_enrolled > 0").fetchall())
    nameless = {p.user_id for p in export.problems if p.problem in NAMELESS_PROBLEMS and p.user_id is not None}
    assert nameless and nameless <= set(seen)  # the problems concern students who had lessons
    expected = export.names_by_user()
    assert {u for u, n in seen.items() if n is None} == nameless
    assert {u: n for u, n in seen.items() if n is not None} == {u: expected[u] for u in seen if u not in nameless}
    # names reach the marts; the warehouse has no mobile anywhere
    shown = dict(con.execute("SELECT user_id, student_name FROM mart_students_at_risk").fetchall())
    assert shown == {u: (f"学员 {u}" if u in nameless else expected[u]) for u in shown} and len(shown) > 100
    cols = con.execute("SELECT table_name, column_name FROM duckdb_columns() "
                       "WHERE column_name ILIKE '%mobile%' OR column_name ILIKE '%phone%'").fetchall()
    assert cols == []


def test_teachers_get_the_rosters_names(named):
    con, export, _, _ = named
    expected = export.names_by_user()
    got = dict(con.execute("SELECT teacher_id, teacher_name FROM dim_teacher WHERE name_source = 'roster'"
                           ).fetchall())
    lessons = {t for (t,) in con.execute("SELECT DISTINCT teacher_id FROM dim_lesson WHERE teacher_id IS NOT NULL"
                                         ).fetchall()}
    assert lessons and lessons <= set(got)
    assert got == {t: expected[t] for t in got}


def test_each_deliberate_problem_is_reported_once_with_file_row_and_column(named):
    con, export, lines, summary = named
    got = con.execute("SELECT file, row_in_file, problem, message FROM qa_roster_problems").fetchall()
    want = {(p.file, p.row, p.problem) for p in export.problems}
    assert {(f, r, p) for f, r, p, _ in got} == want
    for file, row, _, message in got:
        assert f"{file} row {row}" in message
        assert sum(1 for line in lines if line == message) == 1  # one line per problem in the run's output
    assert len(lines) == len(got) + 1  # and a last summary line
    assert not any(c.isdigit() and len(c) == 11 for line in lines for c in line.split())  # mobiles masked
