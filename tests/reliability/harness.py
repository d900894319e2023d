"""Shared machinery of the reliability tests: small sandboxes, runs, comparisons, leak scans, results.

Every scenario calls :func:`record` with what it *measured* (rows lost, rows
duplicated, leaks found); ``bench/reliability_report.py`` renders
``docs/reliability.md`` from those files.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from dagster import DagsterInstance, materialize

from assets.resources import DataDirResource
from pipeline.definitions import PUBLISH_ASSETS, daily_assets
from tests.conftest import SANDBOX_NOW, api_resource

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "test-artifacts" / "reliability"

SEED = 11
LESSONS_PER_DAY = 3
DAYS = ("2026-03-10", "2026-03-11")
#: Tables compared between runs: every fact, dimension and mart (etl_build differs by design).
COMPARED = re.compile(r"^(fct_|dim_|mart_)")


def small_config(**overrides):
    from pipeline.sandbox.runner import SandboxConfig

    return replace(SandboxConfig(seed=SEED, lessons_per_day=LESSONS_PER_DAY, now=SANDBOX_NOW), **overrides)


# --------------------------------------------------------------------------- running


def materialize_days(sb, data_dir: Path, days=DAYS, *, publish: bool = True, raise_on_error: bool = True,
                     instance=None, full_refresh: bool = False, **api) -> list:
    """Daily assets for each day, then the publish assets, in process (small timeouts and backoffs);
    ``full_refresh``: every answer asked again (a re-extraction of settled days otherwise asks nothing)."""
    from assets.raw.assets import full_refresh_config

    resources = {"api": api_resource(sb, **api), "data_dir": DataDirResource(path=str(data_dir))}
    instance = instance or DagsterInstance.ephemeral()
    run_config = full_refresh_config(daily_assets()) if full_refresh else None
    results = [materialize(daily_assets(), partition_key=d, resources=resources, instance=instance,
                           raise_on_error=raise_on_error, run_config=run_config) for d in days]
    if publish:
        results.append(materialize(PUBLISH_ASSETS, resources=resources, instance=instance,
                                   raise_on_error=raise_on_error))
    return results


def run_metadata(results) -> dict[str, int]:
    """api_calls / http_requests / retries summed over every materialization of the results."""
    out = {"api_calls": 0, "http_requests": 0, "retries": 0}
    for res in results:
        for ev in res.get_asset_materialization_events():
            md = ev.materialization.metadata
            for k in out:
                if k in md:
                    out[k] += int(md[k].value)
    return out


def failure_messages(result) -> list[str]:
    msgs = []
    for ev in result.all_events:
        if ev.is_failure:
            data = ev.event_specific_data
            err = getattr(data, "error", None)
            msgs.append((ev.message or "") + ("\n" + err.to_string() if err is not None else ""))
    return msgs


def liveclass(args: list[str], data_dir: Path, home: Path, *, cwd: Path, timeout: float = 300,
              **env: str) -> subprocess.CompletedProcess:
    """``liveclass <args>`` as a user runs it, in a clean environment."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")}
    full.update({"LIVECLASS_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(home), "LIVECLASS_RATE_LIMIT": "0",
                 **env})
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def sandbox_env(sb, **extra) -> dict[str, str]:
    return {"LIVECLASS_BASE_URL": sb.base_url, "LIVECLASS_APP_ID": sb.app_id, "LIVECLASS_SECRET": sb.secret, **extra}


# --------------------------------------------------------------------------- comparing


def warehouse_snapshot(path: Path) -> dict[str, list[tuple]]:
    """Every fct_/dim_/mart_ table's rows, ordered."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SET TimeZone = 'Asia/Shanghai'")
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1").fetchall()
            if COMPARED.match(t)]
        return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in tables}
    finally:
        con.close()


def compare_snapshots(got: dict[str, list[tuple]], want: dict[str, list[tuple]]) -> dict[str, int]:
    """Rows lost (in want, not in got) and duplicated (extra in got), as multisets over all tables."""
    from collections import Counter

    lost = dup = 0
    for t in set(got) | set(want):
        g, w = Counter(got.get(t, [])), Counter(want.get(t, []))
        lost += sum((w - g).values())
        dup += sum((g - w).values())
    return {"rows_lost": lost, "rows_duplicated": dup, "tables": len(want),
            "rows": sum(len(v) for v in want.values())}


def lake_bytes(data_dir: Path) -> dict[str, bytes]:
    lake = data_dir / "lake"
    return {str(p.relative_to(data_dir)): p.read_bytes() for p in sorted(lake.rglob("*.parquet"))} \
        if lake.exists() else {}


def lake_tables(data_dir: Path) -> dict[str, object]:
    """The lake's partitions as tables, without the provenance a partition carries in its footer (the sha256 of
    the raw pages it was built from, which differ whenever the answers' form does): the data, for comparing."""
    import pyarrow.parquet as pq

    from assets.raw.settle import LAKE_RAW_KEY

    out = {}
    for p in sorted((data_dir / "lake").rglob("*.parquet")) if (data_dir / "lake").exists() else ():
        t = pq.read_table(p)
        meta = {k: v for k, v in (t.schema.metadata or {}).items() if k != LAKE_RAW_KEY}
        out[str(p.relative_to(data_dir))] = t.replace_schema_metadata(meta or None)
    return out


def tree_bytes(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every regular file under ``root`` (following no links), by relative path."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_file() and not p.is_symlink() and not any(rel.startswith(s) for s in skip):
            out[rel] = p.read_bytes()
    return out


# --------------------------------------------------------------------------- secrets and personal data


class SignMsgTap:
    """Records every signMsg the sandbox receives (a test-only hook on its form parser)."""

    def __init__(self, sb):
        self.sign_msgs: set[str] = set()
        app = sb.app
        orig = app._form

        def form(content_type, body):
            out = orig(content_type, body)
            if out and out.get("signMsg"):
                self.sign_msgs.add(out["signMsg"])
            return out

        app._form = form


_B64_RUN = re.compile(r"[A-Za-z0-9]{20,}")


def _needles(sign_msgs) -> set[bytes]:
    """A distinctive piece of each signMsg that survives URL-encoding (its longest alphanumeric run,
    skipping the constant base64 of '{"iv":"' at the start)."""
    out = set()
    for s in sign_msgs:
        runs = sorted(_B64_RUN.findall(s[12:]), key=len, reverse=True)
        if runs:
            out.add(runs[0][:40].encode())
    return out


def student_mobiles(seed: int = SEED, lessons_per_day: int = LESSONS_PER_DAY) -> set[str]:
    from pipeline.sandbox.school import School

    school = School(seed=seed, lessons_per_day=lessons_per_day, now=SANDBOX_NOW)
    return {str(p.mobile) for p in school.students()}


_DIGITS11 = re.compile(rb"(?<!\d)1\d{10}(?!\d)")


def _texts_of(path: Path) -> list[bytes]:
    """What a reader of the file would see: raw bytes, decompressed gzip, decoded Parquet/DuckDB values."""
    data = path.read_bytes()
    texts = [data]
    if path.name.endswith(".gz"):
        texts.append(gzip.decompress(data))
    elif path.suffix == ".parquet":
        texts.append(json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False).encode())
    elif path.suffix == ".duckdb" and not path.name.startswith("."):
        con = duckdb.connect(str(path), read_only=True)
        try:
            for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
                rows = con.execute(f'SELECT * FROM "{t}"').fetchall()
                texts.append(json.dumps(rows, default=str, ensure_ascii=False).encode())
        finally:
            con.close()
    return texts


def scan_for_leaks(roots: list[Path], *, secret: str, sign_msgs=(), mobiles=(), outputs: list[str] = (),
                   mobile_exempt: tuple[str, ...] = ("raw",)) -> dict[str, Any]:
    """Files and outputs holding the secret or a signMsg; files outside ``raw/`` holding a student mobile."""
    from urllib.parse import quote_plus

    secret_forms = {secret.encode(), quote_plus(secret).encode()}
    needles = _needles(sign_msgs)
    mobiles = {m.encode() for m in mobiles}
    found: dict[str, list[str]] = {"secret": [], "sign_msg": [], "mobile": []}
    files = 0

    def check(name: str, blobs: list[bytes], mobile_ok: bool) -> None:
        for b in blobs:
            if any(s in b for s in secret_forms):
                found["secret"].append(name)
            if any(n in b for n in needles):
                found["sign_msg"].append(name)
            if not mobile_ok and mobiles and any(m in mobiles for m in _DIGITS11.findall(b)):
                found["mobile"].append(name)

    for root in roots:
        if not root.exists():
            continue
        for p in sorted(root.rglob("*")):
            if not p.is_file() or p.is_symlink():
                continue
            files += 1
            rel = p.relative_to(root).parts
            check(str(p), _texts_of(p), bool(rel) and rel[0] in mobile_exempt)
    for i, text in enumerate(outputs):
        check(f"output[{i}]", [text.encode()], False)
    found = {k: sorted(set(v)) for k, v in found.items()}
    return {"files_scanned": files, "outputs_scanned": len(outputs), "sign_msgs_known": len(sign_msgs),
            "mobiles_known": len(mobiles), "found": found, "leaked": any(found.values())}


# --------------------------------------------------------------------------- results


def record(category: str, scenario: str, *, runs: int, outcome: str, lost: int, duplicated: int,
           leaked: bool, passed: bool, details: dict | None = None, seq: int = 0) -> None:
    """Write one scenario's measured outcome to test-artifacts/reliability/<id>.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    import zlib

    ident = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{category}__{scenario}")
    if len(ident) > 100:
        ident = f"{ident[:90]}-{zlib.crc32(ident.encode()):08x}"
    doc = {"category": category, "scenario": scenario, "runs": runs, "outcome": outcome, "rows_lost": lost,
           "rows_duplicated": duplicated, "leaked": leaked, "passed": passed, "details": details or {},
           "seq": seq, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    tmp = RESULTS_DIR / f".{ident}.tmp"
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str))
    os.replace(tmp, RESULTS_DIR / f"{ident}.json")


class Reader:
    """A dashboard process reading the warehouse and the feeds throughout a block (see reader.py)."""

    def __init__(self, data_dir: Path, work: Path):
        self.stop_file = work / "reader.stop"
        self.out = work / "reader.json"
        self.stop_file.unlink(missing_ok=True)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.reliability.reader", str(data_dir),
                                      str(self.stop_file), str(self.out)], env=env, cwd=ROOT)
        self.stats: dict = {}

    def stop(self) -> dict:
        self.stop_file.write_text("stop")
        self.proc.wait(timeout=120)
        self.stats = json.loads(self.out.read_text())
        return self.stats
