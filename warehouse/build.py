"""Build the DuckDB warehouse from the Parquet lake.

``build_warehouse(lake_dir, out_path)`` is a full rebuild: it opens a fresh
database file beside ``out_path``, exposes every lake table as a temporary
``stg_<table>`` view (or an empty temporary table of the lake schema when the
table has no file yet), runs the SQL models of ``warehouse/models/*.sql`` in
filename order, checks that every table and column carries a comment, records
the run in ``etl_build``, CHECKPOINTs, closes and atomically renames the file
onto ``out_path``.  On any failure the temporary file is removed and the
published warehouse is left untouched; temporary files of a builder that was
killed outright are removed by the next build (:func:`remove_stale_builds`).

Models reference only ``stg_*`` relations and each other; they never see a
path.  Staging objects are TEMP, so the published file holds no reference to
the lake's location.

Readers: :func:`connect_readonly`.  A reader that keeps a connection open keeps
reading the build it opened (on Linux the replaced inode stays valid).  Note
that DuckDB caches database instances per path inside one process: while any
connection to ``out_path`` is open in a process, new connections from that
same process share the old instance.  Close all connections to pick up a new
build.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.core.calendar import TZ_NAME, days_between, term_of
from pipeline.core.crash import crash_point
from pipeline.core.files import pid_alive
from pipeline.core.layout import lake_files as table_files
from pipeline.core.layout import lake_snapshot_file
from pipeline.core.schemas import COURSE_PROGRESS, DAILY_TABLES, PRIMARY_KEYS, ROSTER_TABLES
from warehouse.readers import connect_readonly as connect_readonly  # re-exported; it lives there
from warehouse.readers import session

#: lake table name -> pyarrow schema, including the snapshot tables (course progress, the roster).
LAKE_TABLES: dict[str, pa.Schema] = {**DAILY_TABLES, "course_progress": COURSE_PROGRESS, **ROSTER_TABLES}
ALL_LAKE_TABLES = tuple(LAKE_TABLES)

#: Bookkeeping table, not a model: changes every build.
ETL_TABLE = "etl_build"

@dataclass(frozen=True)
class ModelSpec:
    """What a model file declares: its table, grain key, description and the relations it reads.

    Each ``warehouse/models/NN_<table>.sql`` creates one table and states its key in a header line
    ``-- key: col, col`` (checked unique and non-NULL by every build; a column written ``col?`` may be
    NULL, a NULL counting as one value).  ``deps`` are the other
    models it reads, ``lake`` the lake tables (``stg_<table>``), both found in its SQL."""

    file: str
    table: str
    key: tuple[str, ...]
    nullable: tuple[str, ...]
    description: str
    deps: tuple[str, ...]
    lake: tuple[str, ...]
    sql: str = field(repr=False, default="")


_CREATE = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(\w+)", re.I | re.M)
_KEY = re.compile(r"^--\s*key:\s*(.+?)\s*$", re.M)
_TABLE_COMMENT = re.compile(r"COMMENT\s+ON\s+TABLE\s+(\w+)\s+IS\s+'((?:[^']|'')*)'", re.I)
_STRING = re.compile(r"'(?:[^']|'')*'")
_WORD = re.compile(r"\b[a-z_][a-z0-9_]*\b")


def model_specs() -> list[ModelSpec]:
    """The packaged models in build order, each with what its SQL declares and reads."""
    files = model_files()
    tables = []
    for name, text in files:
        m = _CREATE.search(text)
        if not m:
            raise RuntimeError(f"model {name} creates no table")
        tables.append(m.group(1))
    specs = []
    for (name, text), table in zip(files, tables):
        km = _KEY.search(text)
        if not km:
            raise RuntimeError(f"model {name} declares no key (a header line '-- key: col, col')")
        body = "\n".join(line.split("--", 1)[0] for line in text.splitlines())  # SQL without comments
        body = _STRING.sub("''", body)  # nor string literals (COMMENT texts name other tables)
        words = set(_WORD.findall(body.lower()))
        comment = next((c.replace("''", "'") for t, c in _TABLE_COMMENT.findall(text) if t == table), "")
        specs.append(ModelSpec(
            file=name, table=table, key=tuple(k.strip().rstrip("?") for k in km.group(1).split(",")),
            nullable=tuple(k.strip().rstrip("?") for k in km.group(1).split(",") if k.strip().endswith("?")),
            description=comment,
            deps=tuple(t for t in tables if t != table and t in words),
            lake=tuple(t for t in ALL_LAKE_TABLES if f"stg_{t}" in words),
            sql=text,
        ))
    return specs


class ModelKeyError(RuntimeError):
    """A model's declared key is not unique (or has NULLs): the table mixes grains or double counts."""


def check_model_keys(con: duckdb.DuckDBPyConnection, specs: list[ModelSpec] | None = None) -> None:
    """Every model's declared key is unique and non-NULL in the built tables."""
    for spec in specs or model_specs():
        cols = ", ".join(f'"{k}"' for k in spec.key)
        nulls = " OR ".join(f'"{k}" IS NULL' for k in spec.key if k not in spec.nullable) or "false"
        dup = con.execute(f'SELECT {cols}, count(*) FROM "{spec.table}" GROUP BY ALL HAVING count(*) > 1 LIMIT 1'
                          ).fetchone()
        if dup is not None:
            raise ModelKeyError(f"{spec.table}: key ({', '.join(spec.key)}) = {dup[:-1]} occurs {dup[-1]} times")
        n = con.execute(f'SELECT count(*) FROM "{spec.table}" WHERE {nulls}').fetchone()[0]
        if n:
            raise ModelKeyError(f"{spec.table}: {n} rows have a NULL in the key ({', '.join(spec.key)})")


def mart_keys() -> dict[str, str]:
    """Every mart (``mart_*`` model) and its declared key, in build order: what feeds and summaries read."""
    return {s.table: ", ".join(s.key) for s in model_specs() if s.table.startswith("mart_")}



@dataclass
class BuildResult:
    out_path: Path
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    lake_files: int = 0


def sql_literal(value: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def model_files() -> list[tuple[str, str]]:
    """(file name, SQL text) of the packaged models, in filename order."""
    root = resources.files("warehouse") / "models"
    files = sorted((p for p in root.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [(p.name, p.read_text(encoding="utf-8")) for p in files]


def lake_files(lake_dir: str | os.PathLike) -> dict[str, list[str]]:
    """Parquet files of each lake table, sorted (daily tables by partition)."""
    out = {name: [str(p) for p in table_files(Path(lake_dir), name)] for name in DAILY_TABLES}
    for name in LAKE_TABLES:
        if name not in DAILY_TABLES:
            snap = lake_snapshot_file(Path(lake_dir), name)
            out[name] = [str(snap)] if snap.is_file() else []
    return out


def _stage_column(f: pa.Field) -> str:
    """A lake column as the models see it: zoned timestamps become Beijing wall-clock ``TIMESTAMP``s, so
    every client (plain duckdb, pandas, SQLAlchemy, a CSV) reads the hour the school lived, with no
    session time zone (docs/definitions.md, "Units and time")."""
    if pa.types.is_timestamp(f.type) and f.type.tz:
        return f'timezone({sql_literal(TZ_NAME)}, "{f.name}") AS "{f.name}"'
    return f'"{f.name}"'


def _create_staging(con: duckdb.DuckDBPyConnection, files: dict[str, list[str]]) -> None:
    for name, schema in LAKE_TABLES.items():
        stg = f"stg_{name}"
        cols = ", ".join(_stage_column(f) for f in schema)
        if files[name]:
            paths = "[" + ", ".join(sql_literal(p) for p in files[name]) + "]"
            con.execute(
                f"CREATE TEMP VIEW {stg} AS SELECT {cols} FROM read_parquet({paths}, "
                "hive_partitioning = false, union_by_name = false)"
            )
        else:
            con.register("_empty_stage", schema.empty_table())
            con.execute(f"CREATE TEMP TABLE {stg} AS SELECT {cols} FROM _empty_stage")
            con.unregister("_empty_stage")
    _create_calendar(con)


_WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def _create_calendar(con: duckdb.DuckDBPyConnection) -> None:
    """``stg_calendar``: one row per day from the first to the last lesson day of the lake, with the
    periods analysts group by; the term comes from :func:`pipeline.core.calendar.term_of`."""
    [(lo, hi)] = con.execute("SELECT min(lesson_date), max(lesson_date) FROM stg_lessons").fetchall()
    days = days_between(lo, hi) if lo is not None else []
    terms = [term_of(d) for d in days]
    iso = [d.isocalendar() for d in days]
    table = pa.table({
        "date": pa.array(days, pa.date32()),
        "iso_year": pa.array([i.year for i in iso], pa.int16()),
        "iso_week": pa.array([i.week for i in iso], pa.int8()),
        "week_start": pa.array([d - timedelta(days=d.weekday()) for d in days], pa.date32()),
        "month_start": pa.array([d.replace(day=1) for d in days], pa.date32()),
        "term": pa.array([t.name for t in terms], pa.string()),
        "term_season": pa.array([t.season for t in terms], pa.string()),
        "term_start": pa.array([t.start for t in terms], pa.date32()),
        "term_end": pa.array([t.end for t in terms], pa.date32()),
        "weekday": pa.array([d.isoweekday() for d in days], pa.int8()),
        "weekday_name": pa.array([_WEEKDAYS_ZH[d.weekday()] for d in days], pa.string()),
    })
    con.register("_calendar", table)
    con.execute("CREATE TEMP TABLE stg_calendar AS SELECT * FROM _calendar")
    con.unregister("_calendar")


class LakeKeyError(RuntimeError):
    """The lake holds the same key in two daily partitions; building would double count it."""


def _check_keys_across_days(con: duckdb.DuckDBPyConnection) -> None:
    """Each lake partition's keys are unique (blocking asset checks); this checks them across days.

    The same lesson in two days' partitions (e.g. a lesson moved to another day after its old day
    was extracted and before that day was extracted again) would be counted twice.  Nothing is
    guessed: the build stops, the published warehouse stays, and the message says what to re-run.
    """
    rows = con.execute(
        "SELECT lesson_id, list(DISTINCT lesson_date ORDER BY lesson_date) AS days FROM stg_lessons "
        "GROUP BY lesson_id HAVING count(DISTINCT lesson_date) > 1 ORDER BY lesson_id LIMIT 5").fetchall()
    if rows:
        days = sorted({d for _, ds in rows for d in ds})
        raise LakeKeyError(
            "the lake has the same lesson on more than one day: "
            + "; ".join(f"lesson {lid} on {', '.join(str(d) for d in ds)}" for lid, ds in rows)
            + f". Re-extract those days (liveclass run --start {days[0]} --end {days[-1]}) so each lesson "
              "is in the partition of its current scheduled day.")
    for name in DAILY_TABLES:
        keys = ", ".join(f'"{k}"' for k in PRIMARY_KEYS[name])
        dup = con.execute(f"SELECT {keys}, count(*) FROM stg_{name} GROUP BY ALL HAVING count(*) > 1 LIMIT 1"
                          ).fetchone()
        if dup is not None:
            raise LakeKeyError(f"lake table {name} holds key {dup[:-1]} {dup[-1]} times across its partitions")


def _run_models(con: duckdb.DuckDBPyConnection, specs: list[ModelSpec]) -> None:
    for spec in specs:
        for stmt in con.extract_statements(spec.sql):
            try:
                con.execute(stmt)
            except duckdb.Error as exc:
                raise RuntimeError(f"model {spec.file} failed: {exc}") from exc


def warehouse_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
        ).fetchall()
    ]


def _check_comments(con: duckdb.DuckDBPyConnection) -> None:
    missing = con.execute(
        """
        SELECT table_name, NULL AS column_name FROM duckdb_tables()
         WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary
           AND coalesce(trim(comment), '') = ''
        UNION ALL
        SELECT table_name, column_name FROM duckdb_columns()
         WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal
           AND coalesce(trim(comment), '') = ''
        ORDER BY ALL
        """
    ).fetchall()
    if missing:
        raise RuntimeError(f"tables/columns without COMMENT: {missing}")


def _write_etl(con, lake_dir, n_files, rows, seconds) -> None:
    con.execute(
        f"""
        CREATE TABLE {ETL_TABLE} (
            built_at TIMESTAMP NOT NULL,
            built_at_utc TIMESTAMPTZ NOT NULL,
            data_from DATE,
            data_to DATE,
            days INTEGER NOT NULL,
            lake_dir VARCHAR NOT NULL,
            lake_files INTEGER NOT NULL,
            rows_per_table JSON NOT NULL,
            duration_seconds DOUBLE NOT NULL,
            duckdb_version VARCHAR NOT NULL
        )
        """
    )
    con.execute(
        f"INSERT INTO {ETL_TABLE} SELECT timezone(getvariable('time_zone'), now()), now(), "
        "min(date), max(date), count(*), ?, ?, ?, ?, ? FROM dim_date",
        [str(lake_dir), n_files, json.dumps(rows, sort_keys=True), seconds, duckdb.__version__],
    )
    for stmt in (
        f"COMMENT ON TABLE {ETL_TABLE} IS 'Run bookkeeping: one row describing the build that produced this file (the only table that differs between two builds of the same lake).'",
        f"COMMENT ON COLUMN {ETL_TABLE}.built_at IS 'When the build ran, Beijing wall time: what a dashboard shows as \"data as of\".'",
        f"COMMENT ON COLUMN {ETL_TABLE}.built_at_utc IS 'When the build ran, as an absolute instant.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.data_from IS 'First lesson day in the warehouse (NULL when empty).'",
        f"COMMENT ON COLUMN {ETL_TABLE}.data_to IS 'Last lesson day in the warehouse.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.days IS 'Days from data_from to data_to (rows of dim_date).'",
        f"COMMENT ON COLUMN {ETL_TABLE}.lake_dir IS 'Lake directory the build read.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.lake_files IS 'Number of Parquet files read from the lake.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.rows_per_table IS 'JSON object: row count of every warehouse table.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.duration_seconds IS 'Wall time of staging plus models, in seconds (before the final checkpoint).'",
        f"COMMENT ON COLUMN {ETL_TABLE}.duckdb_version IS 'DuckDB library version that wrote the file.'",
    ):
        con.execute(stmt)


def _remove_quietly(*paths: Path) -> None:
    for p in paths:
        try:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        except OSError:
            pass


def remove_stale_builds(out_path: Path) -> list[Path]:
    """Remove temporary build files (``.<name>.<pid>.<id>.building`` and its WAL/spill) left by a
    builder that died (crash, SIGKILL); builds of living processes are left alone."""
    removed = []
    for p in out_path.parent.glob(f".{out_path.name}.*.building*"):
        parts = p.name[len(out_path.name) + 2:].split(".")
        if not parts or not parts[0].isdigit() or pid_alive(int(parts[0])):
            continue
        _remove_quietly(p)
        removed.append(p)
    return removed


def build_warehouse(
    lake_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> BuildResult:
    """Full rebuild of the warehouse from ``lake_dir``, published atomically at ``out_path``."""
    t0 = time.perf_counter()
    lake_dir = Path(lake_dir)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(out_path)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.{uuid.uuid4().hex}.building")
    wal = tmp.with_name(tmp.name + ".wal")
    spill = tmp.with_name(tmp.name + ".spill")
    files = lake_files(lake_dir)
    n_files = sum(len(v) for v in files.values())
    con = None
    try:
        con = duckdb.connect(str(tmp))
        session(con)
        con.execute(f"SET temp_directory = {sql_literal(str(spill))}")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute(f"SET memory_limit = {sql_literal(memory_limit)}")
        _create_staging(con, files)
        _check_keys_across_days(con)
        specs = model_specs()
        _run_models(con, specs)
        crash_point("warehouse.mid_build")
        _check_comments(con)
        check_model_keys(con, specs)
        rows = {
            t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in warehouse_tables(con)
        }
        seconds = time.perf_counter() - t0
        _write_etl(con, lake_dir, n_files, rows, seconds)
        con.execute("CHECKPOINT")
        con.close()
        con = None
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        crash_point("warehouse.before_publish")
        os.replace(tmp, out_path)
        try:
            dfd = os.open(out_path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
    except BaseException:
        if con is not None:
            try:
                con.close()
            except Exception:
                pass
        _remove_quietly(tmp, wal, spill)
        raise
    _remove_quietly(wal, spill)
    return BuildResult(out_path=out_path, rows=rows, seconds=time.perf_counter() - t0, lake_files=n_files)


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Rebuild the DuckDB warehouse from the Parquet lake.")
    p.add_argument("lake_dir")
    p.add_argument("out_path")
    p.add_argument("--threads", type=int)
    p.add_argument("--memory-limit")
    a = p.parse_args(argv)
    r = build_warehouse(a.lake_dir, a.out_path, threads=a.threads, memory_limit=a.memory_limit)
    print(f"built {r.out_path} in {r.seconds:.1f} s from {r.lake_files} files")
    for t, n in r.rows.items():
        print(f"  {t:32s} {n:>12,d}")


#: The marts and their keys (row order of feeds), from the model files.
MART_KEYS: dict[str, str] = mart_keys()


if __name__ == "__main__":
    main()
