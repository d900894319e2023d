"""``liveclass query`` and ``liveclass feeds`` as a user runs them (subprocesses): SQL from an argument,
stdin or a file, several statements, exact csv/json, DuckDB's hints kept, the exit codes, and one line
naming the program that holds the warehouse open read-write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest


def liveclass(args, tmp_path: Path, input: str | None = None, **env) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")}
    full_env.update({"LIVECLASS_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "dh"), **env})
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=full_env, cwd=tmp_path, input=input,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def wh(tmp_path) -> Path:
    """A small warehouse file where the CLI looks for it (data/warehouse.duckdb)."""
    path = tmp_path / "data" / "warehouse.duckdb"
    path.parent.mkdir()
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE etl_build AS SELECT TIMESTAMP '2026-03-12 03:05:00' AS built_at, "
                "DATE '2026-03-01' AS data_from, DATE '2026-03-11' AS data_to")
    con.execute("CREATE TABLE rates AS SELECT * FROM (VALUES (1, 2::DOUBLE / 3, 1.23456789::DECIMAL(18, 8)), "
                "(2, 1e-9::DOUBLE, 12345678901234567.123456789::DECIMAL(38, 9))) t(id, rate, amount)")
    con.close()
    return path


def _one_line_error(proc) -> str:
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_a_leading_comment_and_several_statements_print_every_result(wh, tmp_path):
    proc = liveclass(["query", "-- freshness first\nSELECT built_at FROM etl_build;\n"
                      "-- then the data\nSELECT count(*) AS n FROM rates;"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    boxes = [b for b in proc.stdout.split("\n\n") if b.strip()]
    assert len(boxes) == 2 and "built_at" in boxes[0] and "2026-03-12 03:05:00" in boxes[0]
    assert "│   n   │" in boxes[1] and "│     2 │" in boxes[1]
    proc = liveclass(["query", "--format", "csv", "-- c\nSELECT 1 AS a; SET threads = 1; SELECT 2 AS b"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "a\n1\n\nb\n2\n"  # SET prints nothing; a blank line between results
    proc = liveclass(["query", "--format", "json", "SELECT 1 AS a; SELECT 2 AS b"], tmp_path)
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [[{"a": 1}], [{"b": 2}]]


def test_options_after_a_commented_sql_still_count(wh, tmp_path):
    proc = liveclass(["query", "-- c\nSELECT 7 AS x", "--format", "csv"], tmp_path)
    assert proc.returncode == 0 and proc.stdout == "x\n7\n", proc.stderr
    proc = liveclass(["query", "--format", "csv", "--", "-- c\nSELECT 8 AS x"], tmp_path)  # the POSIX way works too
    assert proc.returncode == 0 and proc.stdout == "x\n8\n", proc.stderr


def test_floats_are_rounded_on_display_only(wh, tmp_path):
    sql = "SELECT id, rate, amount FROM rates ORDER BY id"
    table = liveclass(["query", sql], tmp_path)
    assert table.returncode == 0, table.stderr
    assert "0.6667" in table.stdout and "0.6666666" not in table.stdout
    assert "1e-09" in table.stdout  # a tiny value is not rounded to 0
    csv = liveclass(["query", "--format", "csv", sql], tmp_path)
    assert csv.stdout.splitlines() == ["id,rate,amount", "1,0.6666666666666666,1.234567890",
                                       "2,1e-09,12345678901234567.123456789"]
    out = liveclass(["query", "--format", "json", sql], tmp_path)
    rows = json.loads(out.stdout, parse_float=Decimal)
    assert rows == [{"id": 1, "rate": Decimal("0.6666666666666666"), "amount": Decimal("1.23456789")},
                    {"id": 2, "rate": Decimal("1e-09"), "amount": Decimal("12345678901234567.123456789")}]


def test_sql_from_stdin_and_from_a_file(wh, tmp_path):
    proc = liveclass(["query", "--format", "csv", "-"], tmp_path, input="-- from a pipe\nSELECT 3 AS x;\n")
    assert proc.returncode == 0 and proc.stdout == "x\n3\n", proc.stderr
    sql_file = tmp_path / "q.sql"
    sql_file.write_text("\ufeff-- saved query\nSELECT data_from, data_to FROM etl_build;\n", encoding="utf-8")
    proc = liveclass(["query", "--format", "csv", "-f", str(sql_file)], tmp_path)
    assert proc.returncode == 0 and proc.stdout == "data_from,data_to\n2026-03-01,2026-03-11\n", proc.stderr
    proc = liveclass(["query", "--format", "csv", "-f", "-"], tmp_path, input="SELECT 4 AS x")
    assert proc.returncode == 0 and proc.stdout == "x\n4\n", proc.stderr


def test_bad_sql_keeps_duckdbs_hint_and_exits_2(wh, tmp_path):
    proc = liveclass(["query", "SELECT * FROM etl_buil"], tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("liveclass: Catalog Error") and 'Did you mean "etl_build"' in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 6
    proc = liveclass(["query", "SELECT bulit_at FROM etl_build"], tmp_path)
    assert proc.returncode == 2 and '"built_at"' in proc.stderr and "Traceback" not in proc.stderr
    proc = liveclass(["query", "SELECT 1; SELEC 2"], tmp_path)  # a syntax error: nothing runs
    assert proc.returncode == 2 and proc.stdout == "" and "syntax error" in proc.stderr
    proc = liveclass(["query", "DROP TABLE rates"], tmp_path)
    assert proc.returncode == 2 and "read-only" in proc.stderr


def test_a_statement_failing_while_running_exits_1_after_the_earlier_results(wh, tmp_path):
    proc = liveclass(["query", "--format", "csv", "SELECT 1 AS a; SELECT CAST('x' AS INTEGER)"], tmp_path)
    assert proc.returncode == 1 and proc.stdout == "a\n1\n"
    assert proc.stderr.startswith("liveclass: statement 2: Conversion Error") and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [["query"], ["query", "SELECT 1", "-f", "q.sql"], ["query", "-- only a comment"]],
                         ids=["no-sql", "sql-and-file", "no-statement"])
def test_no_or_two_sources_of_sql_exit_2(wh, tmp_path, args):
    (tmp_path / "q.sql").write_text("SELECT 1")
    proc = liveclass(args, tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stdout == ""


def test_missing_warehouse_exits_2(tmp_path):
    proc = liveclass(["query", "SELECT 1"], tmp_path)
    assert proc.returncode == 2 and "run `liveclass run` first" in _one_line_error(proc)


def test_freshness_row_of_a_built_warehouse(tmp_path):
    from tests.warehouse.lakegen import write_lake
    from warehouse.build import build_warehouse, connect_readonly

    write_lake(tmp_path / "lake", days=2, lessons_per_day=2, students_per_lesson=3, seed=7)
    build_warehouse(tmp_path / "lake", tmp_path / "data" / "warehouse.duckdb")
    con = connect_readonly(tmp_path / "data" / "warehouse.duckdb")
    try:
        built_at = con.execute("SELECT built_at FROM etl_build").fetchone()[0]
    finally:
        con.close()
    proc = liveclass(["query", "--format", "json", "SELECT built_at FROM etl_build"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"built_at": built_at.isoformat()}]


@pytest.fixture
def held_read_write(wh):
    """Another program holding the warehouse open read-write (DuckDB's exclusive lock) until the test ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()",
         str(wh)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


@pytest.mark.parametrize("args", [["query", "SELECT 1"], ["feeds"]], ids=["query", "feeds"])
def test_a_lock_held_elsewhere_is_one_line_naming_the_pid_and_the_fix(held_read_write, tmp_path, args):
    proc = liveclass(args, tmp_path)
    assert proc.returncode == 2
    line = _one_line_error(proc)
    assert line.startswith("liveclass: ") and f"PID {held_read_write.pid}" in line
    assert "read-only" in line
    assert not (tmp_path / "data" / "feeds").exists()
