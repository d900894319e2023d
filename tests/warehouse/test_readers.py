"""Readers of the published warehouse: the SQLAlchemy recipe of docs/bi.md sees every publish, reflects,
stays read-only; why the default pool does not; the lock held by another program, named."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
import sqlalchemy
from sqlalchemy import MetaData, Table, inspect, select, text
from sqlalchemy.pool import QueuePool

from tests.warehouse.lakegen import write_lake
from warehouse.build import build_warehouse
from warehouse.readers import (
    WarehouseLockedError,
    connect_readonly,
    lock_holder,
    sqlalchemy_engine,
    sqlalchemy_url,
)

#: How soon a reader must see a publish (docs/bi.md promises "within seconds").
FRESH_WITHIN_S = 5.0


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("lake")
    write_lake(d, days=2, lessons_per_day=3, students_per_lesson=4, seed=5)
    return d


@pytest.fixture
def published(lake, tmp_path) -> Path:
    """A warehouse of this test's own, to rebuild."""
    out = tmp_path / "data" / "warehouse.duckdb"
    build_warehouse(lake, out)
    return out


@pytest.fixture(scope="module")
def warehouse(lake, tmp_path_factory) -> Path:
    """A warehouse only read (never rebuilt) by the tests of this module."""
    out = tmp_path_factory.mktemp("data") / "warehouse.duckdb"
    build_warehouse(lake, out)
    return out


def _built_at(path: Path):
    """built_at of the build at ``path`` now, from a private instance (immune to DuckDB's instance cache)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH '{path}' AS wh (READ_ONLY)")
        return con.execute("SELECT built_at FROM wh.etl_build").fetchone()[0]
    finally:
        con.close()


class Poller:
    """A dashboard in a thread: asks for the freshness row and reflects etl_build, over and over."""

    def __init__(self, engine, pause: float = 0.05):
        self.engine, self.pause = engine, pause
        self.seen: list[tuple[float, object]] = []  # (monotonic time, built_at)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                with self.engine.connect() as c:
                    value = c.execute(text("SELECT built_at FROM etl_build")).scalar_one()
                names = [col["name"] for col in inspect(self.engine).get_columns("etl_build")]
                if "built_at" not in names:
                    raise AssertionError(f"reflected etl_build columns: {names}")
                self.seen.append((time.monotonic(), value))
            except Exception as exc:  # noqa: BLE001 - every error is a finding
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.pause)

    def first_seen(self, value, deadline: float) -> float | None:
        while time.monotonic() < deadline:
            for t, v in list(self.seen):
                if v == value:
                    return t
            time.sleep(0.02)
        return None

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.mark.parametrize("engine_kwargs", [
    pytest.param({}, id="default-nullpool"),
    pytest.param({"poolclass": QueuePool, "pool_recycle": 2}, id="queuepool-recycle-2s"),
])
def test_engine_sees_every_publish_within_seconds(lake, published, engine_kwargs):
    engine = sqlalchemy_engine(published, **engine_kwargs)
    # A request that stays open across the publishes (a long dashboard query, another thread's
    # session): with plain duckdb-engine it pins DuckDB's cached instance and nobody sees a new build.
    long_request = engine.connect()
    first = long_request.execute(text("SELECT built_at FROM etl_build")).scalar_one()
    published_values = [first]
    try:
        with Poller(engine) as poller:
            assert poller.first_seen(first, time.monotonic() + FRESH_WITHIN_S) is not None, poller.errors
            for _ in range(3):
                build_warehouse(lake, published)
                t_publish = time.monotonic()
                new = _built_at(published)
                assert new != published_values[-1]
                published_values.append(new)
                seen_at = poller.first_seen(new, t_publish + FRESH_WITHIN_S + 1.0)
                assert seen_at is not None, f"build of {new} not seen in {FRESH_WITHIN_S} s; errors {poller.errors}"
                assert seen_at - t_publish <= FRESH_WITHIN_S
        assert poller.errors == []
        assert {v for _, v in poller.seen} <= set(published_values)
        # the open connection kept reading the build it opened, as documented
        assert long_request.execute(text("SELECT built_at FROM etl_build")).scalar_one() == first
    finally:
        long_request.close()
        engine.dispose()


def test_engine_is_read_only_and_reflects_the_warehouse(warehouse):
    import pandas as pd

    published = warehouse
    engine = sqlalchemy_engine(published)
    try:
        assert engine.pool.__class__.__name__ == "NullPool"
        with engine.connect() as c:  # one connection for the whole reflection
            _check_reflection(inspect(c))
        etl = Table("etl_build", MetaData(), autoload_with=engine)
        with engine.connect() as c:
            assert c.execute(select(etl.c.built_at)).scalar_one() == _built_at(published)
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only"):
                c.execute(text("CREATE TABLE scribble AS SELECT 1 AS x"))
            c.rollback()
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only"):
                c.execute(text("DELETE FROM etl_build"))
        frame = pd.read_sql("SELECT built_at FROM etl_build", engine)
        assert len(frame) == 1
    finally:
        engine.dispose()


def _check_reflection(insp) -> None:
    """What BI tools ask: tables, columns with types and comments, keys, indexes."""
    tables = insp.get_table_names()
    assert "etl_build" in tables
    for table in tables:  # every table reflects, every column with a type SQLAlchemy knows
        cols = insp.get_columns(table)
        assert cols, table
        assert all(not isinstance(c["type"], sqlalchemy.types.NullType) for c in cols), (table, cols)
        assert insp.get_pk_constraint(table) == {"name": None, "constrained_columns": []}
        assert insp.get_foreign_keys(table) == [] and insp.get_indexes(table) == []
    cols = {c["name"]: c for c in insp.get_columns("etl_build")}
    assert isinstance(cols["built_at"]["type"], sqlalchemy.DateTime)
    assert cols["built_at"]["comment"]  # the build comments every column
    assert insp.get_table_comment("etl_build")["text"]
    with pytest.raises(sqlalchemy.exc.NoSuchTableError):
        insp.get_columns("no_such_table")


def test_url_works_once_the_dialect_is_registered(warehouse):
    from warehouse.readers import register_dialect

    register_dialect()
    url = sqlalchemy_url(warehouse)
    assert url.startswith("duckdb+liveclass:///") and url.endswith("warehouse.duckdb")
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM etl_build")).scalar_one() == 1
    finally:
        engine.dispose()


# --- why: characterisation of duckdb-engine's defaults and DuckDB's instance cache ----------------


def test_default_duckdb_engine_pool_keeps_reading_the_old_build(lake, published):
    """The failure this recipe fixes: duckdb-engine's default QueuePool reuses the connection that
    opened the replaced file, so a dashboard never sees the new build (pool_pre_ping does not help)."""
    engine = sqlalchemy.create_engine(f"duckdb:///{published}", connect_args={"read_only": True},
                                      pool_pre_ping=True)
    try:
        with engine.connect() as c:
            old = c.execute(text("SELECT built_at FROM etl_build")).scalar_one()
        build_warehouse(lake, published)
        assert _built_at(published) != old
        with engine.connect() as c:
            assert c.execute(text("SELECT built_at FROM etl_build")).scalar_one() == old
    finally:
        engine.dispose()


def test_duckdb_shares_one_instance_per_path_while_a_connection_is_open(lake, published):
    """Why NullPool alone is not enough: a new duckdb.connect(path) in the same process gets the
    instance of a connection still open (the old build), whatever the pool does."""
    held = duckdb.connect(str(published), read_only=True)
    try:
        old = held.execute("SELECT built_at FROM etl_build").fetchone()[0]
        build_warehouse(lake, published)
        again = duckdb.connect(str(published), read_only=True)
        try:
            assert again.execute("SELECT built_at FROM etl_build").fetchone()[0] == old
        finally:
            again.close()
    finally:
        held.close()
    con = connect_readonly(published)  # all closed: the next connection opens the new file
    try:
        assert con.execute("SELECT built_at FROM etl_build").fetchone()[0] != old
    finally:
        con.close()


# --- a read-write connection held elsewhere ------------------------------------------------------------


@pytest.fixture
def held_read_write(published):
    """Another program holding the warehouse open read-write (DuckDB's exclusive lock) until the test ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()",
         str(published)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_connect_readonly_names_the_program_holding_the_lock(published, held_read_write):
    with pytest.raises(WarehouseLockedError) as info:
        connect_readonly(published)
    exc = info.value
    assert isinstance(exc, duckdb.Error)  # callers catching duckdb.Error keep working
    assert exc.pid == held_read_write.pid and exc.program
    message = str(exc)
    assert "\n" not in message and f"PID {held_read_write.pid}" in message and "read-only" in message

    engine = sqlalchemy_engine(published)
    try:
        with pytest.raises(sqlalchemy.exc.DBAPIError) as info:
            engine.connect()
        assert isinstance(info.value.orig, WarehouseLockedError) and info.value.orig.pid == held_read_write.pid
    finally:
        engine.dispose()


def test_lock_holder_parses_duckdbs_message():
    exc = duckdb.IOException('IO Error: Could not set lock on file "/d/warehouse.duckdb": Conflicting lock is '
                             "held in /usr/bin/python3.11 (PID 4242) by user ana. See also "
                             "https://duckdb.org/docs/current/connect/concurrency")
    assert lock_holder(exc) == (4242, "/usr/bin/python3.11")
    assert lock_holder(duckdb.IOException('IO Error: Could not set lock on file "/d/w.duckdb"')) == (None, None)
    assert lock_holder(duckdb.CatalogException("Catalog Error: Table with name x does not exist!")) is None
    assert lock_holder(ValueError("Could not set lock on file")) is None


# --- the measurements of docs/bi.md: pytest -m slow tests/warehouse/test_readers.py -s ------------------


def _measure_lag(make_engine, path: Path, threads: int, hold: float, wait: float = 12.0) -> float | None:
    """Seconds until every one of ``threads`` request loops saw a publish (None: not within ``wait``).
    Each request: connect, SELECT built_at, keep the connection ``hold`` s, close, pause 20 ms; the
    loops are staggered so that with ``hold`` > 0 some connection is open at every moment."""
    def publish(value):
        tmp = path.with_name(f".{path.name}.{value}.building")
        con = duckdb.connect(str(tmp))
        con.execute(f"CREATE TABLE etl_build AS SELECT {value} AS built_at")
        con.close()
        tmp.replace(path)

    publish(1)
    engine = make_engine()
    seen: dict[int, float] = {}
    stop = threading.Event()
    t_publish = [float("inf")]

    def loop(i):
        stop.wait(i * (hold or 0.02) / threads)
        while not stop.is_set():
            with engine.connect() as c:
                value = c.execute(text("SELECT built_at FROM etl_build")).scalar_one()
                stop.wait(hold)
            if value == 2:
                seen.setdefault(i, time.monotonic() - t_publish[0])
            stop.wait(0.02)

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    time.sleep(1.0)
    t_publish[0] = time.monotonic()
    publish(2)
    deadline = time.monotonic() + wait
    while len(seen) < threads and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    for w in workers:
        w.join(timeout=30)
    engine.dispose()
    return max(seen.values()) if len(seen) == threads else None


@pytest.mark.slow
def test_measure_pool_settings(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    plain = f"duckdb:///{path}"
    ro = {"read_only": True}
    configs = {
        "duckdb-engine default (QueuePool)": lambda: sqlalchemy.create_engine(plain, connect_args=ro),
        "  + pool_pre_ping=True": lambda: sqlalchemy.create_engine(plain, connect_args=ro, pool_pre_ping=True),
        "  + pool_recycle=2": lambda: sqlalchemy.create_engine(plain, connect_args=ro, pool_recycle=2),
        "  poolclass=NullPool": lambda: sqlalchemy.create_engine(plain, connect_args=ro,
                                                                  poolclass=sqlalchemy.pool.NullPool),
        "sqlalchemy_engine(path) (NullPool, private instance)": lambda: sqlalchemy_engine(path),
        "sqlalchemy_engine(path, poolclass=QueuePool, pool_recycle=2)":
            lambda: sqlalchemy_engine(path, poolclass=QueuePool, pool_recycle=2),
    }
    results = {}
    for name, make in configs.items():
        results[name] = [_measure_lag(make, path, 1, 0.0), _measure_lag(make, path, 4, 0.2)]
        lat = []
        engine = make()
        for _ in range(100):
            t0 = time.perf_counter()
            with engine.connect() as c:
                c.execute(text("SELECT built_at FROM etl_build")).scalar_one()
            lat.append(time.perf_counter() - t0)
        engine.dispose()
        results[name].append(sorted(lat)[len(lat) // 2] * 1000)
    print(f"\nSQLAlchemy {sqlalchemy.__version__}, duckdb {duckdb.__version__}")
    print("| engine | 1 request loop | 4 overlapping loops (0.2 s requests) | connect + query, median |")
    print("|---|---|---|---|")
    for name, (one, four, ms) in results.items():
        cell = [f"{s:.2f} s" if s is not None else "not in 12 s" for s in (one, four)]
        print(f"| {name} | {cell[0]} | {cell[1]} | {ms:.1f} ms |")
    assert results["duckdb-engine default (QueuePool)"][:2] == [None, None]
    assert results["  poolclass=NullPool"][1] is None  # the cached instance, pinned by overlapping requests
    assert all(s is not None and s < FRESH_WITHIN_S for s in results["sqlalchemy_engine(path) (NullPool, private instance)"][:2])
