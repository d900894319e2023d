"""Build the DuckDB warehouse from the Parquet lake: in full, or incrementally for the changed days.

``build_warehouse(lake_dir, out_path)`` publishes a warehouse at ``out_path`` built from ``lake_dir``
(docs/architecture.md, "The warehouse build"):

* **Full rebuild** (``full=True``, no previous build, the models' SQL or the build changed, or the lake
  does not let days be rebuilt on their own): a fresh database file beside ``out_path``; every lake
  table exposed as a temporary ``stg_<table>`` view (or an empty temporary table of the lake schema
  when the table has no file yet); the SQL models of ``warehouse/models/*.sql`` run in filename order.
* **Incremental** (the default when the previous build allows it): the previous generation is copied
  beside ``out_path`` (:func:`clone_file`: a reflink where the file system has them, else a plain
  copy), the changed days are found by comparing the lake's files (path, size, mtime) with the
  manifest the previous build recorded in ``etl_build``, and each model is brought up to date by
  the rule its header declares (``-- incremental: full|day|week|month|term``): ``full`` models are
  recomputed; the others delete the rows of the affected days (weeks, months, terms) and insert them
  again, computed by the model's own SELECT over relations restricted to those days.  A ``full``
  model that declares ``-- watch: <columns> [in <relation>]`` adds the days of the keys whose
  watched columns changed (e.g. a teacher's name) to the affected days of the models after it.
  The result is the same as a full rebuild, table by table (tests/warehouse/test_incremental.py).

Either way every table and column must carry a comment, every model's declared key is checked,
the run is recorded in ``etl_build`` (with the lake manifest and the models' digest), the file is
CHECKPOINTed, closed and atomically renamed onto ``out_path``.  On any failure the temporary file is
removed and the published warehouse is left untouched; temporary files of a builder that was
killed outright are removed by the next build (:func:`remove_stale_builds`).

Memory: ``memory_limit`` and ``temp_dir`` go to DuckDB (``SET memory_limit``, ``temp_directory``),
with ``preserve_insertion_order = false``; DuckDB spills sorts, joins and aggregates to the temp
directory instead of exceeding the limit.  ``liveclass`` passes them from the settings
(``LIVECLASS_WAREHOUSE_MEMORY``, default :func:`pipeline.core.settings.default_warehouse_memory`).

Models reference only ``stg_*`` relations and each other; they never see a path.  Staging objects
are TEMP, so the published file holds no reference to the lake's location.

Readers: :func:`connect_readonly`.  A reader that keeps a connection open keeps reading the build it
opened (on Linux the replaced inode stays valid).  Note that DuckDB caches database instances per
path inside one process: while any connection to ``out_path`` is open in a process, new connections
from that same process share the old instance.  Close all connections to pick up a new build.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
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

#: How a model is brought up to date (``-- incremental:``) -> the column holding its period.
PERIOD_COLUMNS = {"day": "lesson_date", "week": "week_start", "month": "month_start", "term": "term"}
INCREMENTAL_MODES = ("full", *PERIOD_COLUMNS)


@dataclass(frozen=True)
class ModelSpec:
    """What a model file declares: its table, grain key, description, the relations it reads and how
    an incremental build brings it up to date.

    Each ``warehouse/models/NN_<table>.sql`` creates one table and states its key in a header line
    ``-- key: col, col`` (checked unique and non-NULL by every build; a column written ``col?`` may be
    NULL, a NULL counting as one value).  ``deps`` are the other
    models it reads, ``lake`` the lake tables (``stg_<table>``), both found in its SQL.

    ``-- incremental: full|day|week|month|term`` (``incremental``, default ``full``): ``full`` tables are
    recomputed by every build; the others hold one period per row (``lesson_date``, ``week_start``, ``month_start`` or
    ``term``) and are rebuilt for the periods of the changed days only.  ``-- watch: col, col [in
    relation]`` (``watch``, ``watch_in``; ``*`` = every column): when those columns of a key change, the
    days of that key (the table's own ``lesson_date``/``date``, else the days of ``relation``'s rows with
    that key) count as changed for the models after it.  ``-- mirrors: <lake table>`` (``mirrors``): the
    table holds that lake table's rows one for one with all its columns (by its key, given the lake's
    checks), so an incremental build reads the unchanged days of the lake table from the previous
    build instead of from hundreds of small files."""

    file: str
    table: str
    key: tuple[str, ...]
    nullable: tuple[str, ...]
    description: str
    deps: tuple[str, ...]
    lake: tuple[str, ...]
    sql: str = field(repr=False, default="")
    incremental: str = "full"
    watch: tuple[str, ...] = ()
    watch_in: str | None = None
    mirrors: str | None = None

    @property
    def period(self) -> str | None:
        """The column that holds the period of an incremental model's rows (None: recomputed in full)."""
        return PERIOD_COLUMNS.get(self.incremental)


_CREATE = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(\w+)", re.I | re.M)
_CREATE_AS = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+\w+\s+AS\b", re.I | re.M)
_KEY = re.compile(r"^--\s*key:\s*(.+?)\s*$", re.M)
_INCREMENTAL = re.compile(r"^--\s*incremental:\s*(\w+)\s*$", re.M)
_MIRRORS = re.compile(r"^--\s*mirrors:\s*(\w+)\s*$", re.M)
_WATCH = re.compile(r"^--\s*watch:\s*(.+?)(?:\s+in\s+(\w+))?\s*$", re.M)
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
        im = _INCREMENTAL.search(text)  # none: recomputed by every build (always exact)
        if im and im.group(1) not in INCREMENTAL_MODES:
            raise RuntimeError(f"model {name}: '-- incremental: {im.group(1)}' is not one of "
                               f"{'|'.join(INCREMENTAL_MODES)}")
        wm = _WATCH.search(text)
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
            incremental=im.group(1) if im else "full",
            watch=tuple(c.strip() for c in wm.group(1).split(",")) if wm else (),
            watch_in=wm.group(2) if wm else None,
            mirrors=mm.group(1) if (mm := _MIRRORS.search(text)) else None,
        ))
    return specs


def models_digest(specs: list[ModelSpec] | None = None) -> str:
    """SHA-256 over every model's file name and SQL, the build's rules version and DuckDB's version: a
    change of any of them makes the next build a full rebuild."""
    h = hashlib.sha256(f"build-rules {BUILD_RULES} duckdb {duckdb.__version__}\n".encode())
    for s in specs or model_specs():
        h.update(f"{s.file}\n{len(s.sql)}\n".encode() + s.sql.encode())
    return h.hexdigest()


#: Bump when the build's own logic (staging, the incremental rules) changes what a build produces.
BUILD_RULES = 1


class ModelKeyError(RuntimeError):
    """A model's declared key is not unique (or has NULLs): the table mixes grains or double counts."""


def _check_key(con: duckdb.DuckDBPyConnection, spec: ModelSpec, relation: str) -> None:
    """``relation`` holds ``spec``'s key at most once and no NULL in its non-nullable columns.  The rows
    are grouped on one 64-bit hash of the key (fast, little memory); only hashes seen twice are looked
    at again with the key itself, so a hash collision never passes for a duplicate."""
    cols = ", ".join(f'"{k}"' for k in spec.key)
    nulls = " OR ".join(f'"{k}" IS NULL' for k in spec.key if k not in spec.nullable) or "false"
    twice = con.execute(f"SELECT h FROM (SELECT hash({cols}) AS h FROM {relation}) GROUP BY h "
                        "HAVING count(*) > 1 LIMIT 1000").fetchall()
    if twice:
        hashes = ", ".join(str(h) for (h,) in twice)
        dup = con.execute(f"SELECT {cols}, count(*) FROM {relation} WHERE hash({cols}) IN ({hashes}) "
                          "GROUP BY ALL HAVING count(*) > 1 LIMIT 1").fetchall()
        if dup:
            raise ModelKeyError(f"{spec.table}: key ({', '.join(spec.key)}) = {dup[0][:-1]} occurs {dup[0][-1]} times")
    n = con.execute(f"SELECT count(*) FROM {relation} WHERE {nulls}").fetchall()[0][0]
    if n:
        raise ModelKeyError(f"{spec.table}: {n} rows have a NULL in the key ({', '.join(spec.key)})")


def check_model_keys(con: duckdb.DuckDBPyConnection, specs: list[ModelSpec] | None = None) -> None:
    """Every model's declared key is unique and non-NULL in the built tables."""
    for spec in specs or model_specs():
        _check_key(con, spec, f'"{spec.table}"')


def mart_keys() -> dict[str, str]:
    """Every mart (``mart_*`` model) and its declared key, in build order: what feeds and summaries read."""
    return {s.table: ", ".join(s.key) for s in model_specs() if s.table.startswith("mart_")}



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


def _drop_stage(con: duckdb.DuckDBPyConnection, name: str) -> None:
    stg = f"stg_{name}"
    kind = con.execute("SELECT 'VIEW' FROM duckdb_views() WHERE temporary AND view_name = ? UNION ALL "
                       "SELECT 'TABLE' FROM duckdb_tables() WHERE temporary AND table_name = ?", [stg, stg]).fetchall()
    for (k,) in kind:
        con.execute(f"DROP {k} temp.main.{stg}")


def _stage_view(con: duckdb.DuckDBPyConnection, name: str, paths: list[str]) -> None:
    """(Re)define the temporary ``stg_<name>`` over ``paths`` (an empty table of the lake schema without)."""
    schema = LAKE_TABLES[name]
    stg = f"stg_{name}"
    cols = ", ".join(_stage_column(f) for f in schema)
    _drop_stage(con, name)
    if paths:
        listed = "[" + ", ".join(sql_literal(p) for p in paths) + "]"
        con.execute(
            f"CREATE TEMP VIEW {stg} AS SELECT {cols} FROM read_parquet({listed}, "
            "hive_partitioning = false, union_by_name = false)"
        )
    else:
        con.register("_empty_stage", schema.empty_table())
        con.execute(f"CREATE TEMP TABLE {stg} AS SELECT {cols} FROM _empty_stage")
        con.unregister("_empty_stage")


def _create_staging(con: duckdb.DuckDBPyConnection, files: dict[str, list[str]]) -> None:
    for name in LAKE_TABLES:
        _stage_view(con, name, files[name])
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


def _check_lessons_across_days(con: duckdb.DuckDBPyConnection) -> None:
    """The same lesson in two days' partitions (e.g. a lesson moved to another day after its old day
    was extracted and before that day was extracted again) would be counted twice.  Nothing is
    guessed: the build stops, the published warehouse stays, and the message says what to re-run."""
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


def _unaligned_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The daily tables with a row whose lesson is not a lesson of the same day in ``stg_lessons``.

    When none has (the lake as the pipeline writes it: each day's tables describe that day's lessons),
    a lesson's rows all lie in one day's partitions, which (a) rules out the same key in two days'
    partitions once each lesson is on one day, and (b) lets a day be rebuilt on its own."""
    out = []
    for name in DAILY_TABLES:
        if name == "lessons":
            continue
        n = con.execute(f"SELECT count(*) FROM (SELECT lesson_id, lesson_date FROM stg_{name} ANTI JOIN "
                        "(SELECT lesson_id, lesson_date FROM stg_lessons) USING (lesson_id, lesson_date))"
                        ).fetchall()[0][0]
        if n:
            out.append(name)
    return out


def _check_keys_across_days(con: duckdb.DuckDBPyConnection) -> bool:
    """Each lake partition's keys are unique (blocking asset checks); this checks them across days.
    Returns whether the lake is aligned (:func:`_unaligned_tables`): only then can days be rebuilt
    on their own."""
    _check_lessons_across_days(con)
    unaligned = _unaligned_tables(con)
    for name in unaligned:  # rows of lessons of other days (or of no lesson): check their keys the slow way
        keys = ", ".join(f'"{k}"' for k in PRIMARY_KEYS[name])
        dup = con.execute(f"SELECT {keys}, count(*) FROM stg_{name} GROUP BY ALL HAVING count(*) > 1 LIMIT 1"
                          ).fetchall()
        if dup:
            raise LakeKeyError(f"lake table {name} holds key {dup[0][:-1]} {dup[0][-1]} times across its partitions")
    return not unaligned


def _run_statements(con: duckdb.DuckDBPyConnection, spec: ModelSpec, statements: list) -> None:
    for stmt in statements:
        try:
            con.execute(stmt)
        except duckdb.Error as exc:
            raise RuntimeError(f"model {spec.file} failed: {exc}") from exc


def _run_models(con: duckdb.DuckDBPyConnection, specs: list[ModelSpec]) -> None:
    for spec in specs:
        _run_statements(con, spec, con.extract_statements(spec.sql))


# --- the lake manifest: which days changed since the previous build -----------------------------


def lake_manifest(lake_dir: str | os.PathLike, files: dict[str, list[str]],
                  versions: Mapping[str, str] | None = None) -> list[list]:
    """``[table, path relative to the lake, size, version]`` of every file the build reads, sorted.
    The version is the file's mtime_ns: the lake replaces a partition by writing a new file and renaming
    it into place, so a rewritten day has a new mtime (and usually a new size).  ``versions`` (path ->
    sha256) names files by content instead: a working copy of a lake on object storage, whose files
    get new mtimes on every host that downloads them."""
    root = Path(lake_dir)
    versions = versions or {}
    out = []
    for table, paths in files.items():
        for p in paths:
            st = os.stat(p)
            out.append([table, Path(p).relative_to(root).as_posix(), st.st_size, versions.get(str(p), st.st_mtime_ns)])
    return sorted(out, key=lambda r: (r[0], r[1]))


def _day_of_file(rel: str) -> date | None:
    parts = rel.split("/")
    if len(parts) >= 2 and parts[-2].startswith("date="):
        return date.fromisoformat(parts[-2][len("date="):])
    return None


def changed_days(old: list[list], new: list[list]) -> tuple[set[date], set[str]]:
    """The days whose daily partitions were added, removed or rewritten between two manifests, and the
    snapshot tables (course progress, the roster) that changed."""
    before = {(t, rel): (size, mtime) for t, rel, size, mtime in old}
    after = {(t, rel): (size, mtime) for t, rel, size, mtime in new}
    days: set[date] = set()
    snapshots: set[str] = set()
    for k in before.keys() | after.keys():
        if before.get(k) != after.get(k):
            day = _day_of_file(k[1]) if k[0] in DAILY_TABLES else None
            if day is None:
                snapshots.add(k[0])
            else:
                days.add(day)
    return days, snapshots


# --- periods ---------------------------------------------------------------------------------------


def period_of(mode: str, day: date):
    """The period (of an ``-- incremental:`` mode) a day falls in, as the tables store it."""
    if mode == "day":
        return day
    if mode == "week":
        return day - timedelta(days=day.weekday())
    if mode == "month":
        return day.replace(day=1)
    if mode == "term":
        return term_of(day).name
    raise ValueError(mode)


def days_of(mode: str, day: date) -> list[date]:
    """Every day of the period ``day`` falls in."""
    if mode == "day":
        return [day]
    if mode == "week":
        start = day - timedelta(days=day.weekday())
        return days_between(start, start + timedelta(days=6))
    if mode == "month":
        start = day.replace(day=1)
        end = (start.replace(year=start.year + 1, month=1) if start.month == 12
               else start.replace(month=start.month + 1)) - timedelta(days=1)
        return days_between(start, end)
    if mode == "term":
        t = term_of(day)
        return days_between(t.start, t.end)
    raise ValueError(mode)


def _literal(v) -> str:
    return f"DATE '{v.isoformat()}'" if isinstance(v, date) else sql_literal(v)


def _in_list(values) -> str:
    return ", ".join(_literal(v) for v in sorted(values))


# --- the incremental build -------------------------------------------------------------------------


class FallBack(Exception):
    """An incremental build cannot be exact for this lake or this previous build: build in full."""


@dataclass
class Plan:
    """What the next build does: ``full`` or ``incremental`` (with the days whose lake files changed)."""

    mode: str
    reason: str
    changed: set[date] = field(default_factory=set)
    snapshots: set[str] = field(default_factory=set)


def plan_build(previous: Path, lake_dir: Path, manifest: list[list], digest: str, *, full: bool = False,
               lake_id: str | None = None) -> Plan:
    """Full or incremental, and why, from the previous build's ``etl_build`` row."""
    if full:
        return Plan("full", "a full rebuild was asked for")
    if not previous.is_file():
        return Plan("full", "no previous build")
    try:
        con = connect_readonly(previous)
        try:
            cols = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ?",
                                              [ETL_TABLE]).fetchall()}
            if not {"models_sha256", "lake_manifest", "lake_aligned", "lake_dir"} <= cols:
                return Plan("full", "the previous build recorded no lake manifest")
            [(sha, man, aligned, prev_lake)] = con.execute(
                f"SELECT models_sha256, lake_manifest, lake_aligned, lake_dir FROM {ETL_TABLE}").fetchall()
        finally:
            con.close()
    except duckdb.Error as exc:
        return Plan("full", f"the previous build cannot be read ({str(exc).splitlines()[0]})")
    if sha != digest:
        return Plan("full", "the models' SQL (or the build rules, or DuckDB's version) changed")
    if not aligned:
        return Plan("full", "the lake holds rows of lessons of other days (days cannot be rebuilt on their own)")
    if prev_lake != (lake_id or str(lake_dir.resolve())):
        return Plan("full", f"the previous build read another lake ({prev_lake})")
    days, snapshots = changed_days(json.loads(man), manifest)
    return Plan("incremental", f"{len(days)} changed day(s)", days, snapshots)


def _columns(con: duckdb.DuckDBPyConnection, db: str, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' "
        "AND table_name = ? ORDER BY column_index", [db, table]).fetchall()]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _watch_columns(con, db: str, spec: ModelSpec) -> list[str] | None:
    """What is kept of the old table to compare: key and watched columns; for ``*`` the key, the day
    and one 64-bit hash of the whole row (a change that keeps a row's hash is 1 in 2^64)."""
    cols = _columns(con, db, spec.table)
    if not cols:
        return None
    if spec.watch == ("*",):
        day = "lesson_date" if "lesson_date" in cols else "date"
        row = ", ".join(_ident(c) for c in cols)
        return [*dict.fromkeys([*spec.key, day]), f"hash({row}) AS _row_hash"]
    return list(dict.fromkeys([*spec.key, *spec.watch]))


def _watched_days(con, db: str, spec: ModelSpec, cols: list[str]) -> set[date]:
    """The days of the keys whose watched columns differ between the old table (``_watch_old``) and the
    one just built."""
    sel = ", ".join(c if " AS " in c else _ident(c) for c in cols)
    table = f"{_ident(db)}.main.{_ident(spec.table)}"
    names = ", ".join(c.split(" AS ")[-1] if " AS " in c else _ident(c) for c in cols)
    diff = (f"(SELECT {names} FROM temp.main._watch_old EXCEPT SELECT {sel} FROM {table}) UNION ALL "
            f"(SELECT {sel} FROM {table} EXCEPT SELECT {names} FROM temp.main._watch_old)")
    if spec.watch == ("*",):
        day = "lesson_date" if "lesson_date" in cols else "date"
        rows = con.execute(f"SELECT DISTINCT {day} FROM ({diff}) WHERE {day} IS NOT NULL").fetchall()
    else:
        if len(spec.key) != 1:
            raise RuntimeError(f"model {spec.file}: '-- watch: ... in' needs a one-column key")
        k = _ident(spec.key[0])
        n = con.execute(f"SELECT count(*) FROM ({diff})").fetchall()[0][0]
        if not n:
            return set()
        rows = con.execute(f"SELECT DISTINCT lesson_date FROM {_ident(db)}.main.{_ident(spec.watch_in)} "
                           f"WHERE {k} IN (SELECT {k} FROM ({diff}))").fetchall()
    return {r[0] for r in rows}


def _stage_mirrors(con, db: str, specs: list[ModelSpec], changed: set[date],
                   changed_files: dict[str, list[str]]) -> set[str]:
    """``stg_<lake table>`` of each mirrored lake table as one temporary table: the previous build's rows
    of the unchanged days (from the table that mirrors it) and the changed days' files.  Returns the
    lake tables so staged."""
    out = set()
    for spec in specs:
        name = spec.mirrors
        if name not in DAILY_TABLES:
            continue
        lake_cols = [f.name for f in LAKE_TABLES[name]]
        if not set(lake_cols) <= set(_columns(con, db, spec.table)):
            continue
        sel = ", ".join(_ident(c) for c in lake_cols)
        keep = f"WHERE lesson_date NOT IN ({_in_list(changed)})" if changed else ""
        _stage_view(con, name, changed_files[name])
        con.execute(f"CREATE TEMP TABLE _mirror_{name} AS SELECT {sel} FROM {_ident(db)}.main.{_ident(spec.table)} "
                    f"{keep} UNION ALL SELECT {sel} FROM stg_{name}")
        _drop_stage(con, name)
        con.execute(f"CREATE TEMP VIEW stg_{name} AS SELECT * FROM temp.main._mirror_{name}")
        out.add(name)
    return out


def _files_by_day(files: dict[str, list[str]]) -> dict[str, dict[date, list[str]]]:
    out: dict[str, dict[date, list[str]]] = {}
    for name in DAILY_TABLES:
        for p in files[name]:
            day = _day_of_file(Path(p).as_posix())
            out.setdefault(name, {}).setdefault(day, []).append(p)
    return out


def _update_periods(con, db: str, spec: ModelSpec, affected: set[date], restore,
                    by_day: dict[str, dict[date, list[str]]]) -> int:
    """Delete ``spec``'s rows of the periods of ``affected`` and insert them again, computed by the
    model's SELECT over its relations restricted to the days of those periods; the rows inserted."""
    mode, col = spec.incremental, spec.period
    periods = {period_of(mode, d) for d in affected}
    if not periods:
        return 0
    days = sorted({x for d in affected for x in days_of(mode, d)})
    day_filter = (f"lesson_date BETWEEN {_literal(days[0])} AND {_literal(days[-1])} "
                  f"AND lesson_date IN ({_in_list(days)})")
    staged = [n for n in spec.lake if n in DAILY_TABLES]
    shadows = [d for d in spec.deps if "lesson_date" in _columns(con, db, d)]
    first = con.extract_statements(spec.sql)[0].query
    if not _CREATE_AS.search(first):
        raise RuntimeError(f"model {spec.file}: its first statement must be CREATE TABLE {spec.table} AS ...")
    try:
        for name in staged:
            _stage_view(con, name, [p for d in days for p in by_day.get(name, {}).get(d, [])])
        for dep in shadows:
            con.execute(f"CREATE TEMP VIEW {_ident(dep)} AS SELECT * FROM {_ident(db)}.main.{_ident(dep)} "
                        f"WHERE {day_filter}")
        try:
            con.execute(_CREATE_AS.sub("CREATE TEMP TABLE _inc AS", first, count=1))
        except duckdb.Error as exc:
            raise RuntimeError(f"model {spec.file} failed (incremental): {exc}") from exc
    finally:
        for dep in shadows:
            con.execute(f"DROP VIEW IF EXISTS temp.main.{_ident(dep)}")
        for name in staged:
            restore(name)
    period_list = _in_list(periods)
    stray = con.execute(f"SELECT count(*) FROM temp.main._inc WHERE {col} IS NULL OR {col} NOT IN ({period_list})"
                        ).fetchall()[0][0]
    if stray:
        raise FallBack(f"{spec.table}: {stray} rebuilt rows lie outside the periods rebuilt")
    _check_key(con, spec, "temp.main._inc")
    table = f"{_ident(db)}.main.{_ident(spec.table)}"
    con.execute(f"DELETE FROM {table} WHERE {col} IN ({period_list})")
    n = con.execute(f"INSERT INTO {table} SELECT * FROM temp.main._inc").fetchall()[0][0]
    con.execute("DROP TABLE temp.main._inc")
    return n


def _build_incremental(con, specs: list[ModelSpec], files: dict[str, list[str]], plan: Plan,
                       timings: dict[str, float]) -> set[date]:
    """Bring the copied previous build up to date; returns every day that was rebuilt."""
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    by_day = _files_by_day(files)
    for name in LAKE_TABLES:
        _stage_view(con, name, files[name])
    changed_files = {n: [p for d in sorted(plan.changed) for p in by_day.get(n, {}).get(d, [])] for n in DAILY_TABLES}
    mirrored = _stage_mirrors(con, db, specs, plan.changed, changed_files)
    _create_calendar(con)
    _check_lessons_across_days(con)
    # the changed partitions must hold rows of their own days' lessons (the rest was checked when built)
    for name in DAILY_TABLES:
        if name != "lessons":
            _stage_view(con, name, changed_files[name])
    unaligned = _unaligned_tables(con)
    if unaligned:
        raise FallBack(f"the changed days of {', '.join(unaligned)} hold rows of lessons of other days")

    def restore(name: str) -> None:  # the staging full-mode models read: the mirror, else every file
        if name in mirrored:
            _drop_stage(con, name)
            con.execute(f"CREATE TEMP VIEW stg_{name} AS SELECT * FROM temp.main._mirror_{name}")
        else:
            _stage_view(con, name, files[name])

    for name in DAILY_TABLES:
        restore(name)
    affected = set(plan.changed)
    for spec in specs:
        t0 = time.perf_counter()
        if spec.period is None:
            cols = _watch_columns(con, db, spec) if spec.watch else None
            if cols:
                con.execute(f"CREATE OR REPLACE TEMP TABLE _watch_old AS SELECT "
                            f"{', '.join(c if ' AS ' in c else _ident(c) for c in cols)} "
                            f"FROM {_ident(db)}.main.{_ident(spec.table)}")
            con.execute(f"DROP TABLE IF EXISTS {_ident(db)}.main.{_ident(spec.table)}")
            _run_statements(con, spec, con.extract_statements(spec.sql))
            if cols:
                affected |= _watched_days(con, db, spec, cols)
                con.execute("DROP TABLE temp.main._watch_old")
            _check_key(con, spec, f"{_ident(db)}.main.{_ident(spec.table)}")
        else:
            _update_periods(con, db, spec, affected, restore, by_day)
        timings[spec.table] = time.perf_counter() - t0
    return affected


def clone_file(src: Path, dst: Path) -> str:
    """Copy ``src`` to ``dst``: a reflink (copy-on-write, instant, no space) where the file system has
    them (btrfs, XFS, ...), else a plain copy (``copy_file_range``/``sendfile`` in the kernel).
    Returns ``"reflink"`` or ``"copy"``."""
    import fcntl

    ficlone = 0x40049409  # FICLONE from linux/fs.h
    with open(src, "rb") as fs, open(dst, "wb") as fd:
        try:
            fcntl.ioctl(fd.fileno(), ficlone, fs.fileno())
            return "reflink"
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.EBADF,
                                 errno.ENOSYS, errno.EPERM):
                raise
    shutil.copyfile(src, dst)
    return "copy"


# --- the build -------------------------------------------------------------------------------------


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


def _write_etl(con, lake_id: str, n_files: int, rows: dict, seconds: float, *, mode: str, reason: str,
               changed: list[str], rebuilt: list[str], digest: str, manifest: list[list], aligned: bool) -> None:
    con.execute(f"DROP TABLE IF EXISTS {ETL_TABLE}")
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
            duckdb_version VARCHAR NOT NULL,
            build_mode VARCHAR NOT NULL,
            build_reason VARCHAR NOT NULL,
            changed_days JSON NOT NULL,
            rebuilt_days JSON NOT NULL,
            models_sha256 VARCHAR NOT NULL,
            lake_aligned BOOLEAN NOT NULL,
            lake_manifest JSON NOT NULL
        )
        """
    )
    con.execute(
        f"INSERT INTO {ETL_TABLE} SELECT timezone(getvariable('time_zone'), now()), now(), "
        "min(date), max(date), count(*), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM dim_date",
        [lake_id, n_files, json.dumps(rows, sort_keys=True), seconds, duckdb.__version__,
         mode, reason, json.dumps(changed), json.dumps(rebuilt), digest, aligned, json.dumps(manifest)],
    )
    for stmt in (
        f"COMMENT ON TABLE {ETL_TABLE} IS 'Run bookkeeping: one row describing the build that produced this file (the only table that differs between two builds of the same lake, incremental or full).'",
        f"COMMENT ON COLUMN {ETL_TABLE}.built_at IS 'When the build ran, Beijing wall time: what a dashboard shows as \"data as of\".'",
        f"COMMENT ON COLUMN {ETL_TABLE}.built_at_utc IS 'When the build ran, as an absolute instant.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.data_from IS 'First lesson day in the warehouse (NULL when empty).'",
        f"COMMENT ON COLUMN {ETL_TABLE}.data_to IS 'Last lesson day in the warehouse.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.days IS 'Days from data_from to data_to (rows of dim_date).'",
        f"COMMENT ON COLUMN {ETL_TABLE}.lake_dir IS 'Lake the build read: its absolute folder, or the s3:// URL of a data directory on object storage.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.lake_files IS 'Number of Parquet files read from the lake.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.rows_per_table IS 'JSON object: row count of every warehouse table.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.duration_seconds IS 'Wall time of copying, staging plus models, in seconds (before the final checkpoint).'",
        f"COMMENT ON COLUMN {ETL_TABLE}.duckdb_version IS 'DuckDB library version that wrote the file.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.build_mode IS 'full (every table computed from the whole lake) or incremental (the previous build brought up to date for the changed days).'",
        f"COMMENT ON COLUMN {ETL_TABLE}.build_reason IS 'Why this mode, e.g. no previous build, the models changed, 2 changed day(s).'",
        f"COMMENT ON COLUMN {ETL_TABLE}.changed_days IS 'JSON array: the days whose lake partitions were added, rewritten or removed since the previous build (empty for a full build).'",
        f"COMMENT ON COLUMN {ETL_TABLE}.rebuilt_days IS 'JSON array: the days rebuilt by an incremental build (the changed days and those of keys whose watched dimension columns changed); the marts of their weeks, months and terms were rebuilt with them.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.models_sha256 IS 'SHA-256 of the model files, the build rules and the DuckDB version: when it differs from the code, the next build is a full rebuild.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.lake_aligned IS 'Every daily lake row belongs to a lesson of its own day, so days can be rebuilt on their own; false makes the next build a full rebuild.'",
        f"COMMENT ON COLUMN {ETL_TABLE}.lake_manifest IS 'JSON array of [table, path in the lake, size, mtime_ns or the sha256 of a file committed to object storage] of every file read: what the next build compares to find the changed days.'",
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


def remove_stale_builds(out_path: Path, temp_dir: Path | None = None) -> list[Path]:
    """Remove temporary build files (``.<name>.<pid>.<id>.building`` and its WAL/spill, and spill folders
    ``<pid>.<id>`` under ``temp_dir``) left by a builder that died (crash, SIGKILL); builds of living
    processes are left alone."""
    removed = []
    for p in out_path.parent.glob(f".{out_path.name}.*.building*"):
        parts = p.name[len(out_path.name) + 2:].split(".")
        if not parts or not parts[0].isdigit() or pid_alive(int(parts[0])):
            continue
        _remove_quietly(p)
        removed.append(p)
    if temp_dir is not None and temp_dir.is_dir():
        for p in temp_dir.iterdir():
            pid = p.name.split(".", 1)[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                _remove_quietly(p)
                removed.append(p)
    return removed


@dataclass
class BuildResult:
    out_path: Path
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    lake_files: int = 0
    mode: str = "full"               # full | incremental
    reason: str = ""                 # why that mode
    changed_days: list[str] = field(default_factory=list)   # days whose lake files changed (incremental)
    rebuilt_days: list[str] = field(default_factory=list)   # days rebuilt (incremental)
    copy: str = ""                   # how the previous generation was copied: reflink | copy (incremental)
    copy_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per model (and staging, checks)
    duckdb_settings: dict[str, str] = field(default_factory=dict)  # memory_limit, temp_directory, threads ...


def _configure(con, *, spill: Path, threads: int | None, memory_limit: str | None) -> dict[str, str]:
    """Session, spill folder, threads and memory limit; returns those settings as DuckDB reports them."""
    session(con)
    con.execute(f"SET temp_directory = {sql_literal(str(spill))}")
    # rows need no order the SQL does not ask for: lets DuckDB stream big inserts (less memory)
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = {sql_literal(memory_limit)}")
    return {k: str(con.execute(f"SELECT current_setting('{k}')").fetchall()[0][0])
            for k in ("memory_limit", "temp_directory", "threads", "preserve_insertion_order")}


def build_warehouse(
    lake_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    full: bool = False,
    previous: str | os.PathLike | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_dir: str | os.PathLike | None = None,
    lake_id: str | None = None,
    versions: Mapping[str, str] | None = None,
) -> BuildResult:
    """Publish at ``out_path`` the warehouse of ``lake_dir``: the ``previous`` build (default: the file at
    ``out_path``) brought up to date for the changed days, or a full rebuild when ``full`` or when the
    previous build does not allow an exact incremental one (:func:`plan_build`; the result says which
    and why).  ``memory_limit`` (DuckDB syntax, e.g. ``"4GB"``) and ``temp_dir`` (where DuckDB spills;
    default beside the output) bound the build's memory.  ``lake_id`` names the lake in place of its
    folder and ``versions`` (path -> sha256) its files by content: the working copy of a lake on object
    storage, so that a build on another host is incremental on this one's (:func:`lake_manifest`)."""
    t0 = time.perf_counter()
    lake_dir = Path(lake_dir)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    base = Path(previous) if previous is not None else out_path
    spill_root = Path(temp_dir) if temp_dir is not None else None
    if spill_root is not None:
        spill_root.mkdir(parents=True, exist_ok=True)  # DuckDB creates the spill folder, not its parents
    remove_stale_builds(out_path, spill_root)
    tag = f"{os.getpid()}.{uuid.uuid4().hex}"
    tmp = out_path.with_name(f".{out_path.name}.{tag}.building")
    wal = tmp.with_name(tmp.name + ".wal")
    spill = spill_root / tag if spill_root is not None else tmp.with_name(tmp.name + ".spill")
    files = lake_files(lake_dir)
    n_files = sum(len(v) for v in files.values())
    specs = model_specs()
    digest = models_digest(specs)
    manifest = lake_manifest(lake_dir, files, versions)
    plan = plan_build(base, lake_dir, manifest, digest, full=full, lake_id=lake_id)
    result = BuildResult(out_path=out_path, lake_files=n_files)
    con = None
    try:
        rebuilt: set[date] = set()
        aligned = True
        if plan.mode == "incremental":
            try:
                tc = time.perf_counter()
                result.copy = clone_file(base, tmp)
                result.copy_seconds = time.perf_counter() - tc
                con = duckdb.connect(str(tmp))
                result.duckdb_settings = _configure(con, spill=spill, threads=threads, memory_limit=memory_limit)
                rebuilt = _build_incremental(con, specs, files, plan, result.timings)
            except FallBack as exc:
                if con is not None:
                    con.close()
                    con = None
                _remove_quietly(tmp, wal)
                plan = Plan("full", f"incremental build not exact: {exc}")
                rebuilt = set()
        if plan.mode == "full":
            con = duckdb.connect(str(tmp))
            result.duckdb_settings = _configure(con, spill=spill, threads=threads, memory_limit=memory_limit)
            ts = time.perf_counter()
            _create_staging(con, files)
            aligned = _check_keys_across_days(con)
            result.timings["staging and lake checks"] = time.perf_counter() - ts
            for spec in specs:
                tm = time.perf_counter()
                _run_statements(con, spec, con.extract_statements(spec.sql))
                result.timings[spec.table] = time.perf_counter() - tm
        crash_point("warehouse.mid_build")
        tk = time.perf_counter()
        _check_comments(con)
        if plan.mode == "full":
            check_model_keys(con, specs)
        result.timings["checks"] = time.perf_counter() - tk
        rows = {
            t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in warehouse_tables(con)
            if t != ETL_TABLE
        }
        seconds = time.perf_counter() - t0
        result.mode, result.reason = plan.mode, plan.reason
        result.changed_days = sorted(d.isoformat() for d in plan.changed) if plan.mode == "incremental" else []
        result.rebuilt_days = sorted(d.isoformat() for d in rebuilt)
        _write_etl(con, lake_id or str(lake_dir.resolve()), n_files, rows, seconds, mode=plan.mode, reason=plan.reason,
                   changed=result.changed_days, rebuilt=result.rebuilt_days, digest=digest, manifest=manifest,
                   aligned=aligned)
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
            with contextlib.suppress(Exception):
                con.close()
        _remove_quietly(tmp, wal, spill)
        raise
    _remove_quietly(wal, spill)
    result.rows = rows
    result.seconds = time.perf_counter() - t0
    return result


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Build the DuckDB warehouse from the Parquet lake (incrementally "
                                            "when the previous build at OUT_PATH allows it).")
    p.add_argument("lake_dir")
    p.add_argument("out_path")
    p.add_argument("--full", action="store_true", help="rebuild every table from the whole lake")
    p.add_argument("--threads", type=int)
    p.add_argument("--memory-limit")
    p.add_argument("--temp-dir")
    a = p.parse_args(argv)
    r = build_warehouse(a.lake_dir, a.out_path, full=a.full, threads=a.threads, memory_limit=a.memory_limit,
                        temp_dir=a.temp_dir)
    print(f"built {r.out_path} ({r.mode}: {r.reason}) in {r.seconds:.1f} s from {r.lake_files} files")
    for t, n in r.rows.items():
        print(f"  {t:32s} {n:>12,d}")


#: The marts and their keys (row order of feeds), from the model files.
MART_KEYS: dict[str, str] = mart_keys()


if __name__ == "__main__":
    main()
