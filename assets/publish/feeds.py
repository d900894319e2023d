"""Dashboard feeds: every mart as CSV, JSON and Parquet, plus ``manifest.json``.

Layout under ``$LIVECLASS_DATA_DIR``::

    feeds -> .feeds-generations/<generation>     a symlink, swapped atomically
    .feeds-generations/<generation>/
        manifest.json                            written last in each generation
        mart_daily_overview.csv|json|parquet     ... one triple per mart (one grain per file)
        mart_daily_overview.zh.csv               with --lang zh: Chinese headers and labels

A generation is written completely in a staging directory, fsynced, renamed to
its final name, and only then published by atomically replacing the ``feeds``
symlink (``rename(2)`` of a new link over the old one).  So, at every instant:

* ``feeds/`` exists and every file in it is complete (no half-written file);
* ``feeds/manifest.json`` describes exactly the files beside it (names, row
  counts, column types, sha256);
* a reader that wants a consistent set across several files resolves the link
  once (``os.path.realpath("feeds")``) and reads the manifest and the files from
  that directory.  The previous :data:`KEEP_PREVIOUS` generations are kept, so
  such a reader is never pulled out from under, even when a new generation is
  published while it reads.

Why not a directory rename: swapping a real directory takes two renames, leaving a
moment with no ``feeds/`` at all, and deletes the old files at once; a
dashboard polling during a run could then fail or mix two generations.

All three formats are written from one Arrow table read from the read-only
warehouse, so they hold identical values, except that CSV and JSON round
floating-point values to :data:`DECIMALS` places (stated in the manifest).  The marts carry no mobile numbers
(they have no such column); :func:`assert_no_personal_data` checks that before
anything is written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import math
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.core.calendar import TZ
from pipeline.core.crash import crash_point
from pipeline.core.files import TMP_PREFIX, file_lock, fsync_dir
from pipeline.core.layout import FEEDS_GENERATIONS, DataDir
from warehouse.build import MART_KEYS, connect_readonly

from .labels import ZH_FALSE, ZH_HEADERS, ZH_TRUE, ZH_VALUES

#: Bump when a feed's columns, types or file formats change incompatibly.
FEEDS_SCHEMA_VERSION = 1

#: Marts published as feeds, with the order their rows are written in (the key).
FEED_ORDER: dict[str, str] = MART_KEYS
FORMATS = ("csv", "json", "parquet")
#: Decimal places of floating-point values (rates, shares) in the CSV and JSON feeds; Parquet keeps them exact.
DECIMALS = 4
#: Feed languages: ``zh`` adds ``<mart>.zh.csv`` with Chinese headers and labels for Excel.
LANGS = ("en", "zh")
MANIFEST = "manifest.json"
#: Superseded generations kept for readers that resolved the link just before a swap.
KEEP_PREVIOUS = 2

UTF8_BOM = b"\xef\xbb\xbf"
#: A mainland mobile number: 11 digits 1[3-9]xxxxxxxxx, not part of a longer number or a decimal.
MOBILE_RE = re.compile(r"(?<![\d.])1[3-9]\d{9}(?!\d)")
_PERSONAL_COLUMN_RE = re.compile(r"mobile|phone|tel|手机|电话", re.IGNORECASE)


class PersonalDataError(RuntimeError):
    """A feed would publish personal data (a mobile number or such a column)."""


@dataclass
class FeedsResult:
    path: Path               # the published ``feeds`` link
    generation: str
    rows: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0
    manifest: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- reading


def _read_mart(con, mart: str) -> pa.Table:
    return con.sql(f'SELECT * FROM "{mart}" ORDER BY {FEED_ORDER[mart]}').arrow().read_all()


def _column_info(con, mart: str) -> tuple[str, list[dict]]:
    comment = con.execute(
        "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() AND table_name = ?",
        [mart]).fetchall()
    comment = comment[0] if comment else None
    cols = con.execute(
        "SELECT column_name, data_type, is_nullable, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND table_name = ? ORDER BY column_index", [mart]).fetchall()
    return (comment[0] if comment else "") or "", [
        {"name": n, "type": t, "nullable": bool(nullable), "description": c or ""} for n, t, nullable, c in cols
    ]


def _data_window(con) -> dict:
    lo, hi, days = con.execute(
        "SELECT min(lesson_date), max(lesson_date), count(DISTINCT lesson_date) FROM mart_daily_overview").fetchall()[0]
    return {"min_lesson_date": lo.isoformat() if lo else None,
            "max_lesson_date": hi.isoformat() if hi else None, "days": int(days)}


def _warehouse_built_at(con) -> str | None:
    with contextlib.suppress(Exception):
        row = con.execute("SELECT max(built_at) FROM etl_build").fetchall()[0]
        if row and row[0] is not None:
            return row[0].isoformat()
    return None


def assert_no_personal_data(mart: str, table: pa.Table) -> None:
    """Refuse columns named like phone numbers and any string value holding a mobile number."""
    for f in table.schema:
        if _PERSONAL_COLUMN_RE.search(f.name):
            raise PersonalDataError(f"{mart}.{f.name}: feeds never publish phone or mobile columns")
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            for v in table.column(f.name).to_pylist():
                if v is not None and MOBILE_RE.search(v):
                    raise PersonalDataError(f"{mart}.{f.name}: a value looks like a mobile number")


# --------------------------------------------------------------------------- encoding


def rounded(table: pa.Table, decimals: int = DECIMALS) -> pa.Table:
    """Floating-point columns rounded to ``decimals`` places (half to even), other columns as they are."""
    for i, f in enumerate(table.schema):
        if pa.types.is_floating(f.type):
            table = table.set_column(i, f, pc.round(table.column(i), decimals, round_mode="half_to_even"))
    return table


def in_chinese(table: pa.Table) -> pa.Table:
    """Chinese headers (:data:`ZH_HEADERS`), status labels in Chinese and booleans as 是/否."""
    cols, names = [], []
    for f, col in zip(table.schema, table.columns):
        if pa.types.is_boolean(f.type):
            col = pa.array([None if v is None else (ZH_TRUE if v else ZH_FALSE) for v in col.to_pylist()], pa.string())
        elif f.name == "status_label":
            col = pa.array([None if v is None else ZH_VALUES.get(v, v) for v in col.to_pylist()], pa.string())
        cols.append(col)
        names.append(ZH_HEADERS.get(f.name, f.name))
    return pa.table(cols, names=names)


def encode_csv(table: pa.Table) -> bytes:
    """UTF-8 with BOM (so Excel opens Chinese correctly), header row, nulls empty, RFC 4180 quoting."""
    buf = io.BytesIO()
    buf.write(UTF8_BOM)
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=True, quoting_style="needed"))
    return buf.getvalue()


def _json_value(v):
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, bytes):
        return v.hex()
    return v


def encode_json(table: pa.Table) -> bytes:
    """A JSON array of row objects (column -> value); dates ISO, NaN/inf as null, UTF-8."""
    names = table.column_names
    cols = [table.column(n).to_pylist() for n in names]
    rows = [{n: _json_value(c[i]) for n, c in zip(names, cols)} for i in range(table.num_rows)]
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def encode_parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


ENCODERS = {"csv": lambda t: encode_csv(rounded(t)), "json": lambda t: encode_json(rounded(t)),
            "parquet": encode_parquet}


# --------------------------------------------------------------------------- writing


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _new_generation() -> str:
    now = dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:8]}"


def build_generation(warehouse: str | os.PathLike, out_dir: Path, lang: str = "en") -> dict:
    """Write every feed and then ``manifest.json`` into the (empty) ``out_dir``; return the manifest."""
    if lang not in LANGS:
        raise ValueError(f"feeds language {lang!r} is not one of {', '.join(LANGS)}")
    con = connect_readonly(warehouse)
    try:
        window = _data_window(con)
        built_at = _warehouse_built_at(con)
        feeds: dict[str, dict] = {}
        for mart in FEED_ORDER:
            table = _read_mart(con, mart)
            assert_no_personal_data(mart, table)
            description, columns = _column_info(con, mart)
            for col in columns:
                col["arrow_type"] = str(table.schema.field(col["name"]).type)
            files = {}
            for fmt in FORMATS:
                data = ENCODERS[fmt](table)
                name = f"{mart}.{fmt}"
                _write_synced(out_dir / name, data)
                files[fmt] = {"path": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            if lang == "zh":
                data = encode_csv(in_chinese(rounded(table)))
                name = f"{mart}.zh.csv"
                _write_synced(out_dir / name, data)
                files["csv_zh"] = {"path": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            feeds[mart] = {"description": description, "rows": table.num_rows, "order_by": FEED_ORDER[mart],
                           "columns": columns, "files": files}
    finally:
        con.close()
    manifest = {
        "schema_version": FEEDS_SCHEMA_VERSION,
        "generation": out_dir.name.lstrip(".").removesuffix(".staging"),
        "generated_at": dt.datetime.now(TZ).isoformat(timespec="seconds"),
        "warehouse_built_at": built_at,
        "data_window": window,
        "decimals": DECIMALS,
        "formats": {"csv": f"UTF-8 with BOM, header row, empty field = null, floats rounded to {DECIMALS} places",
                    "json": f"array of row objects, dates as YYYY-MM-DD, null for missing, floats rounded to "
                            f"{DECIMALS} places",
                    "parquet": "zstd-compressed, Arrow types as listed per column, floats exact",
                    **({"csv_zh": "as csv, with Chinese headers, status labels and 是/否 for booleans"}
                       if lang == "zh" else {})},
        "feeds": feeds,
    }
    _write_synced(out_dir / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
    fsync_dir(out_dir)
    return manifest


def _swap_link(link: Path, target_rel: str) -> None:
    """Point ``link`` at ``target_rel`` with one atomic rename."""
    tmp = link.with_name(f"{TMP_PREFIX}{link.name}.{uuid.uuid4().hex}")
    os.symlink(target_rel, tmp)
    try:
        if link.exists() and not link.is_symlink():
            # A plain directory from an older layout: move it aside once (the only non-atomic step).
            legacy = link.parent / FEEDS_GENERATIONS / f"00000000-legacy-{uuid.uuid4().hex[:8]}"
            os.replace(link, legacy)
        os.replace(tmp, link)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(link.parent)


def _prune(gens: Path, current: str, keep_previous: int) -> None:
    entries = sorted(p for p in gens.iterdir() if p.is_dir())
    for p in entries:
        if p.name.startswith("."):  # staging left by a crashed writer (we hold the lock)
            shutil.rmtree(p, ignore_errors=True)
    done = [p for p in entries if not p.name.startswith(".") and p.name != current]
    for p in done[:max(0, len(done) - keep_previous)]:
        shutil.rmtree(p, ignore_errors=True)


def write_feeds(warehouse: str | os.PathLike, data_root: str | os.PathLike, *,
                keep_previous: int = KEEP_PREVIOUS, lang: str = "en") -> FeedsResult:
    """Publish a new feeds generation built from ``warehouse`` as ``<data_root>/feeds``."""
    t0 = time.perf_counter()
    dirs = DataDir(data_root)
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {warehouse}; build it first (liveclass run)")
    gens = dirs.feeds_generations
    gens.mkdir(parents=True, exist_ok=True)
    with file_lock(dirs.feeds_lock):
        gen = _new_generation()
        staging = gens / f".{gen}.staging"
        staging.mkdir()
        try:
            manifest = build_generation(warehouse, staging, lang)
            os.replace(staging, gens / gen)
            fsync_dir(gens)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        crash_point("feeds.before_swap")
        _swap_link(dirs.feeds, f"{FEEDS_GENERATIONS}/{gen}")
        _prune(gens, gen, keep_previous)
    total = sum(f["bytes"] for feed in manifest["feeds"].values() for f in feed["files"].values())
    return FeedsResult(path=dirs.feeds, generation=gen,
                       rows={m: f["rows"] for m, f in manifest["feeds"].items()},
                       bytes=total, seconds=time.perf_counter() - t0, manifest=manifest)


def read_manifest(feeds_dir: str | os.PathLike) -> tuple[Path, dict]:
    """Resolve the feeds link once and load its manifest: read files from the returned directory."""
    d = Path(os.path.realpath(feeds_dir))
    return d, json.loads((d / MANIFEST).read_text(encoding="utf-8"))
