"""Reading the published warehouse: DuckDB connections, lock diagnosis, a SQLAlchemy engine for BI.

The warehouse file is rebuilt beside its path and renamed onto it (``warehouse.build``), so a
reader never sees a half-written file and never blocks the build.  Two things decide when a reader
sees a new build:

* an open connection keeps reading the file it opened (on Linux the replaced inode stays valid);
* DuckDB caches database instances per path inside one process: while any connection to the path
  is open, ``duckdb.connect(path)`` from the same process returns the old instance.

:func:`connect_readonly` is for short-lived readers (the CLI, feeds, the report): open, read,
close.  :func:`sqlalchemy_engine` is for long-lived ones (dashboards, notebooks, BI servers): its
dialect opens every connection as a private in-memory DuckDB that ATTACHes the file READ_ONLY, so
no instance is shared and each connection sees the build published before it was opened; it uses
no connection pool by default (see ``docs/bi.md`` for the measurements), and reflects tables
and columns from DuckDB's own catalog (``duckdb_columns()`` ...), which works with SQLAlchemy 2.0
and 2.1 alike, where duckdb-engine's PostgreSQL catalog queries fail under SQLAlchemy 2.1.

``sqlalchemy`` and ``duckdb_engine`` are imported only by the SQLAlchemy helpers (the ``bi``
extra: ``pip install -c constraints.txt -e '.[bi]'``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import duckdb

from pipeline.core.calendar import TZ_NAME

#: The SQLAlchemy URL scheme of :class:`ReadOnlyDialect` (``duckdb+liveclass:////abs/warehouse.duckdb``).
URL_SCHEME = "duckdb+liveclass"


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


# --- DuckDB connections ------------------------------------------------------------------------


class WarehouseLockedError(duckdb.IOException):
    """The warehouse file is open read-write in another program, so it cannot be opened at all.

    A ``duckdb.IOException`` (callers catching ``duckdb.Error`` keep working) whose message is one
    line naming the holder and the fix; ``pid``/``program`` are None when DuckDB did not say."""

    def __init__(self, path: str | os.PathLike, pid: int | None, program: str | None, detail: str):
        self.path, self.pid, self.program, self.detail = str(path), pid, program, detail
        super().__init__(locked_message(path, pid, program))

    def __reduce__(self):
        return type(self), (self.path, self.pid, self.program, self.detail)


_LOCK = re.compile(r"Could not set lock on file")
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


def lock_holder(exc: BaseException) -> tuple[int | None, str | None] | None:
    """(pid, program) of the process holding the lock named in a DuckDB error, or None when
    ``exc`` is not a lock conflict.  DuckDB says: ``IO Error: Could not set lock on file "...":
    Conflicting lock is held in /usr/bin/python3.11 (PID 4242) ...``."""
    if isinstance(exc, WarehouseLockedError):
        return exc.pid, exc.program
    text = str(exc)
    if not isinstance(exc, duckdb.Error) or not _LOCK.search(text):
        return None
    m = _HOLDER.search(text)
    return (int(m["pid"]), m["program"]) if m else (None, None)


def locked_message(path: str | os.PathLike, pid: int | None, program: str | None) -> str:
    """One line: who holds the warehouse open read-write, and what to do about it."""
    who = f"PID {pid} ({program})" if pid is not None else "another process"
    return (f"{path} is held open read-write by {who}, which locks out every reader; open it read-only "
            "there (duckdb.connect(path, read_only=True) or `duckdb -readonly`) or close it, then run this again.")


def session(con: duckdb.DuckDBPyConnection) -> None:
    """The session the models are built in and ad-hoc SQL runs in (the build calls this too)."""
    con.execute(f"SET TimeZone = {_quote(TZ_NAME)}")
    con.execute(f"SET VARIABLE time_zone = {_quote(TZ_NAME)}")
    con.execute("SET enable_progress_bar = false")


def connect_readonly(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """Open a published warehouse read-only, with the session time zone set.

    Raises :class:`WarehouseLockedError` (a ``duckdb.IOException``) when another program holds
    the file open read-write.  Close the connection to see a later build (module docstring)."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        holder = lock_holder(exc)
        if holder is None:
            raise
        raise WarehouseLockedError(path, *holder, detail=str(exc)) from exc
    session(con)
    return con


# --- SQLAlchemy ----------------------------------------------------------------------------------


def sqlalchemy_url(path: str | os.PathLike) -> str:
    """The URL of the warehouse at ``path`` for :class:`ReadOnlyDialect` (absolute path)."""
    return f"{URL_SCHEME}:///{Path(path).resolve()}"


def register_dialect() -> None:
    """Make ``duckdb+liveclass://`` URLs known to SQLAlchemy in this process (idempotent)."""
    from sqlalchemy.dialects import registry

    registry.register("duckdb.liveclass", "warehouse.readers", "ReadOnlyDialect")


def sqlalchemy_engine(path: str | os.PathLike, **kwargs: Any):
    """A SQLAlchemy engine on the published warehouse: read-only, sees every new publish.

    Each connection is a private DuckDB instance ATTACHing the file READ_ONLY (never a cached
    instance of the path), with no pool by default (``NullPool``): every ``engine.connect()`` sees
    the build published before it.  ``kwargs`` go to ``sqlalchemy.create_engine`` (e.g.
    ``poolclass=QueuePool, pool_recycle=2`` to reuse connections at most 2 s old)."""
    from sqlalchemy import create_engine

    register_dialect()
    return create_engine(sqlalchemy_url(path), **kwargs)


def _attach_alias(path: str) -> str:
    stem = Path(path).stem
    if not stem or stem.lower() in {"memory", "temp", "system", "main"}:
        return "warehouse"
    return stem


_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")
_ENUM = re.compile(r"^ENUM\((.*)\)$", re.S)
_ARRAY = re.compile(r"^(.*)\[(\d*)\]$", re.S)


def _sa_type(data_type: str):
    """The SQLAlchemy type of a DuckDB ``data_type`` string (``duckdb_columns()``)."""
    from duckdb_engine import datatypes as dt
    from sqlalchemy import types as t

    s = data_type.strip()
    if m := _ARRAY.match(s):
        return t.ARRAY(_sa_type(m[1]), dimensions=1)
    if m := _DECIMAL.match(s):
        return t.Numeric(int(m[1]), int(m[2]))
    if m := _ENUM.match(s):
        return t.Enum(*[v.replace("''", "'") for v in re.findall(r"'((?:[^']|'')*)'", m[1])], native_enum=False)
    simple = {
        "BOOLEAN": t.Boolean(), "TINYINT": dt.TinyInteger(), "SMALLINT": t.SmallInteger(),
        "INTEGER": t.Integer(), "BIGINT": t.BigInteger(), "HUGEINT": dt.HugeInteger(),
        "UTINYINT": dt.UTinyInteger(), "USMALLINT": dt.USmallInteger(), "UINTEGER": dt.UInteger(),
        "UBIGINT": dt.UBigInteger(), "UHUGEINT": dt.UHugeInteger(),
        "FLOAT": t.REAL(), "DOUBLE": t.Double(), "VARCHAR": t.String(), "JSON": t.JSON(),
        "DATE": t.Date(), "TIME": t.Time(), "TIME WITH TIME ZONE": t.Time(timezone=True),
        "TIMESTAMP": t.DateTime(), "TIMESTAMP_S": t.DateTime(), "TIMESTAMP_MS": t.DateTime(),
        "TIMESTAMP_NS": t.DateTime(), "TIMESTAMP WITH TIME ZONE": t.DateTime(timezone=True),
        "INTERVAL": t.Interval(), "BLOB": t.LargeBinary(), "UUID": t.Uuid(),
    }
    return simple.get(s.upper(), t.NullType())


def _make_dialect():
    import duckdb_engine
    from sqlalchemy import exc as sa_exc
    from sqlalchemy import pool
    from sqlalchemy.engine.reflection import ObjectKind, ObjectScope

    class ReadOnlyDialect(duckdb_engine.Dialect):
        """duckdb-engine for the published warehouse: read-only, fresh, native reflection."""

        driver = "liveclass"
        supports_statement_cache = False

        @classmethod
        def get_pool_class(cls, url):
            # A pooled connection keeps reading the build it opened: no pool unless asked for.
            return pool.NullPool

        def create_connect_args(self, url):
            cargs, opts = super().create_connect_args(url)
            database = opts.get("database")
            if not database or database == ":memory:":
                raise sa_exc.ArgumentError(f"{URL_SCHEME}:// needs the path of a warehouse file")
            return cargs, opts

        def connect(self, *cargs: Any, **cparams: Any):
            path = cparams.pop("database")
            cparams.pop("read_only", None)  # always read-only: the attach says so
            config = dict(cparams.pop("config", None) or {})
            config.pop("access_mode", None)
            url_config = dict(cparams.pop("url_config", None) or {})
            url_config.pop("access_mode", None)
            con = super().connect(":memory:", config=config, url_config=url_config, **cparams)
            alias = '"' + _attach_alias(path).replace('"', '""') + '"'
            try:
                con.execute(f"ATTACH {_quote(path)} AS {alias} (READ_ONLY)")
            except duckdb.Error as exc:
                con.close()
                holder = lock_holder(exc)
                if holder is not None:
                    raise WarehouseLockedError(path, *holder, detail=str(exc)) from exc
                raise
            con.execute(f"USE {alias}")
            con.execute("SET enable_progress_bar = false")
            return con

        # -- reflection from DuckDB's catalog functions (no pg_catalog emulation) --

        def _where(self, connection, schema):
            """(database, schema) the reflection of ``schema`` looks in: ``db.schema`` or ``schema``."""
            db, sch = self.identifier_preparer._separate(schema) if schema else (None, None)
            if db is None:
                cur_db, cur_sch = connection.exec_driver_sql(
                    "SELECT current_database(), current_schema()").one()
                db, sch = cur_db, sch or cur_sch
            return db, sch

        def _relations(self, connection, schema, filter_names, scope, kind):
            """{name: (is_view, comment)} of the tables/views ``schema``, ``scope``, ``kind`` select."""
            db, sch = self._where(connection, schema)
            scope = scope if scope is not None else ObjectScope.DEFAULT
            kind = kind if kind is not None else ObjectKind.TABLE
            rows = connection.exec_driver_sql(
                "SELECT table_name, false, temporary, comment, database_name, schema_name FROM duckdb_tables() "
                "WHERE NOT internal UNION ALL "
                "SELECT view_name, true, temporary, comment, database_name, schema_name FROM duckdb_views() "
                "WHERE NOT internal").all()
            names = set(filter_names) if filter_names else None
            out = {}
            for name, is_view, temporary, comment, rdb, rsch in rows:
                if rsch != sch or (names is not None and name not in names):
                    continue
                if temporary:
                    if ObjectScope.TEMPORARY not in scope or (schema and rdb != db):
                        continue
                elif ObjectScope.DEFAULT not in scope or rdb != db:
                    continue
                if (ObjectKind.VIEW if is_view else ObjectKind.TABLE) not in kind:
                    continue
                out[(rdb, name)] = (is_view, comment)
            return out

        def _constraints(self, connection, relations, ctype):
            found: dict[tuple[str, str], list] = {}
            for rdb, table, cname, cols, ref_table, ref_cols, expression in connection.exec_driver_sql(
                    "SELECT database_name, table_name, constraint_name, constraint_column_names, "
                    "referenced_table, referenced_column_names, expression FROM duckdb_constraints() "
                    f"WHERE constraint_type = {_quote(ctype)} ORDER BY constraint_index").all():
                if (rdb, table) in relations:
                    found.setdefault((rdb, table), []).append((cname, list(cols), ref_table, list(ref_cols or []),
                                                               expression))
            return found

        def get_multi_columns(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
            rels = self._relations(connection, schema, filter_names, scope, kind)
            cols: dict[tuple[str, str], list] = {key: [] for key in rels}
            for rdb, table, name, data_type, nullable, default, comment, generated, expr in connection.exec_driver_sql(
                    "SELECT database_name, table_name, column_name, data_type, is_nullable, column_default, "
                    "comment, is_generated, generation_expression FROM duckdb_columns() "
                    "WHERE NOT internal ORDER BY database_name, table_name, column_index").all():
                if (rdb, table) not in cols:
                    continue
                col = {"name": name, "type": _sa_type(data_type), "nullable": bool(nullable),
                       "default": default, "autoincrement": False, "comment": comment or None}
                if generated:
                    col["computed"] = {"sqltext": expr, "persisted": False}
                cols[(rdb, table)].append(col)
            return [((schema, table), c) for (_, table), c in cols.items()]

        def get_multi_pk_constraint(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
            rels = self._relations(connection, schema, filter_names, scope, kind)
            pks = self._constraints(connection, rels, "PRIMARY KEY")
            out = []
            for key in rels:
                name, cols = (pks[key][0][0], pks[key][0][1]) if key in pks else (None, [])
                out.append(((schema, key[1]), {"name": name, "constrained_columns": cols}))
            return out

        def get_multi_unique_constraints(self, connection, schema=None, filter_names=None, scope=None, kind=None,
                                         **kw):
            rels = self._relations(connection, schema, filter_names, scope, kind)
            found = self._constraints(connection, rels, "UNIQUE")
            return [((schema, key[1]), [{"name": n, "column_names": c} for n, c, *_ in found.get(key, [])])
                    for key in rels]

        def get_multi_foreign_keys(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
            rels = self._relations(connection, schema, filter_names, scope, kind)
            found = self._constraints(connection, rels, "FOREIGN KEY")
            return [((schema, key[1]), [{"name": n, "constrained_columns": c, "referred_schema": schema,
                                         "referred_table": rt, "referred_columns": rc, "options": {}}
                                        for n, c, rt, rc, _ in found.get(key, [])]) for key in rels]

        def get_multi_check_constraints(self, connection, schema=None, filter_names=None, scope=None, kind=None,
                                        **kw):
            rels = self._relations(connection, schema, filter_names, scope, kind)
            found = self._constraints(connection, rels, "CHECK")
            return [((schema, key[1]), [{"name": n, "sqltext": e} for n, _, _, _, e in found.get(key, [])])
                    for key in rels]

        def get_multi_indexes(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
            # The warehouse has no indexes (tables are CREATE TABLE AS); DuckDB's ART indexes are not
            # reflected, and duckdb-engine's warning about it is not repeated here.
            rels = self._relations(connection, schema, filter_names, scope, kind)
            return [((schema, key[1]), []) for key in rels]

        def get_multi_table_comment(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
            rels = self._relations(connection, schema, filter_names, scope, kind)
            return [((schema, key[1]), {"text": comment or None}) for key, (_, comment) in rels.items()]

        def get_multi_table_options(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
            rels = self._relations(connection, schema, filter_names, scope, kind)
            return [((schema, key[1]), {}) for key in rels]

        def _one(self, data, table_name, schema):
            try:
                return dict(data)[(schema, table_name)]
            except KeyError:
                raise sa_exc.NoSuchTableError(f"{schema}.{table_name}" if schema else table_name) from None

        def _single(multi):
            def single(self, connection, table_name, schema=None, **kw):
                data = multi(self, connection, schema=schema, filter_names=[table_name], scope=ObjectScope.ANY,
                             kind=ObjectKind.ANY, **kw)
                return self._one(data, table_name, schema)
            single.__name__ = multi.__name__.replace("get_multi_", "get_")
            return single

        get_columns = _single(get_multi_columns)
        get_pk_constraint = _single(get_multi_pk_constraint)
        get_unique_constraints = _single(get_multi_unique_constraints)
        get_foreign_keys = _single(get_multi_foreign_keys)
        get_check_constraints = _single(get_multi_check_constraints)
        get_indexes = _single(get_multi_indexes)
        get_table_comment = _single(get_multi_table_comment)
        get_table_options = _single(get_multi_table_options)
        del _single

        def get_view_definition(self, connection, view_name, schema=None, **kw):
            db, sch = self._where(connection, schema)
            for rdb, rsch, name, sql in connection.exec_driver_sql(
                    "SELECT database_name, schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal").all():
                if (rdb, rsch, name) == (db, sch, view_name):
                    return sql
            raise sa_exc.NoSuchTableError(view_name)

    ReadOnlyDialect.__module__, ReadOnlyDialect.__qualname__ = __name__, "ReadOnlyDialect"
    return ReadOnlyDialect


_dialect_class = None


def __getattr__(name: str):
    # ReadOnlyDialect is built on first use, so importing this module needs neither sqlalchemy
    # nor duckdb_engine (the CLI and the pipeline import it on every start).
    global _dialect_class
    if name == "ReadOnlyDialect":
        if _dialect_class is None:
            _dialect_class = _make_dialect()
        return _dialect_class
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

