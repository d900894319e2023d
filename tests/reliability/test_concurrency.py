"""Concurrent use: two ``liveclass run`` over overlapping windows at once (same data dir and
DAGSTER_HOME, one sandbox), and a dashboard reading the warehouse and the feeds all the while.

The second writer waits (one line naming the holder) instead of interleaving; the final
warehouse equals one run over the union window; readers never see an error. Also the
secrets check: nothing under the data dir or DAGSTER_HOME, no output line of ``liveclass -vv``
holds the secret or a signMsg, and no student mobile appears outside raw/.
"""

from __future__ import annotations

import os
import time

import pytest

from pipeline.core.files import file_lock
from pipeline.core.layout import DataDir
from pipeline.sandbox.runner import start_sandbox
from tests.reliability import harness

pytestmark = pytest.mark.xdist_group("reliability_concurrency")


def _wait_for(path, text, procs, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        for p in procs:
            assert p.poll() is None, f"a run ended early: {path.read_text()[-2000:]}"
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_two_runs_at_once_wait_for_each_other_and_readers_never_fail(reference, tmp_path):
    import subprocess
    import sys

    data_dir, home = tmp_path / "data", tmp_path / "dh"
    windows = [(harness.DAYS[0], harness.DAYS[-1]), (harness.DAYS[-1], harness.DAYS[-1])]  # overlapping
    outs = [tmp_path / f"run{i}.out" for i in range(2)]
    with start_sandbox(harness.small_config()) as sb:
        tap = harness.SignMsgTap(sb)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")}
        env.update(LIVECLASS_DATA_DIR=str(data_dir), DAGSTER_HOME=str(home), LIVECLASS_RATE_LIMIT="0",
                   PYTHONUNBUFFERED="1", **harness.sandbox_env(sb))
        reader = harness.Reader(data_dir, tmp_path)
        procs = []
        try:
            with file_lock(DataDir(data_dir).run_lock):  # a run already holds the data dir: both must wait for it
                (DataDir(data_dir).run_lock).write_text(f"{os.getpid()}\n")
                for (start, end), out in zip(windows, outs):
                    fh = open(out, "w")
                    procs.append(subprocess.Popen(
                        [sys.executable, "-m", "pipeline.cli", "-vv", "run", "--start", start, "--end", end],
                        env=env, cwd=tmp_path, stdout=fh, stderr=subprocess.STDOUT, text=True))
                for out in outs:
                    _wait_for(out, "waiting for it", procs)
            codes = [p.wait(timeout=600) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            stats = reader.stop()
    texts = [o.read_text() for o in outs]
    assert codes == [0, 0], [t[-3000:] for t in texts]
    waits = [[l for l in t.splitlines() if "waiting for it" in l] for t in texts]
    want = f"another liveclass run (pid {os.getpid()}) is using {data_dir}; waiting for it…"
    assert all(w == [want] for w in waits) or all(len(w) == 1 and want in w[0] for w in waits), waits
    assert not any("database is locked" in t or "Traceback" in t for t in texts)

    cmp = harness.compare_snapshots(harness.warehouse_snapshot(data_dir / "warehouse.duckdb"), reference["warehouse"])
    assert cmp["rows_lost"] == 0 and cmp["rows_duplicated"] == 0, cmp
    assert harness.lake_bytes(data_dir) == reference["lake"]
    assert stats["errors"] == [], stats["errors"][:5]
    assert stats["warehouse_reads"] > 0 and stats["feeds_reads"] > 0 and len(stats["builds_seen"]) >= 2

    leaks = harness.scan_for_leaks([data_dir, home], secret=sb.secret, sign_msgs=tap.sign_msgs,
                                   mobiles=harness.student_mobiles(), outputs=texts)
    assert leaks["files_scanned"] > 20 and leaks["sign_msgs_known"] > 100 and leaks["mobiles_known"] > 10
    assert not leaks["leaked"], leaks["found"]
    assert any("POST /lesson" in t for t in texts), "-vv did not log requests: the scan proved nothing"

    harness.record("concurrency", f"two `liveclass run` at once over {windows[0]} and {windows[1]}, same data dir "
                   "and DAGSTER_HOME, one sandbox, while the run lock was held", runs=2,
                   outcome="each printed one 'another liveclass run (pid N) … waiting for it…' line, then both "
                           "succeeded; warehouse and lake identical to one run over the union window",
                   lost=cmp["rows_lost"], duplicated=cmp["rows_duplicated"], leaked=leaks["leaked"], passed=True,
                   details={"compare": cmp})
    harness.record("concurrency", "dashboard reading warehouse + feeds (read-only, in a loop) during both runs",
                   runs=stats["warehouse_reads"] + stats["feeds_reads"],
                   outcome=f"{stats['warehouse_reads']} warehouse reads over {len(stats['builds_seen'])} builds, "
                           f"{stats['feeds_reads']} feeds reads over {len(stats['generations_seen'])} generations, "
                           f"{len(stats['errors'])} errors or lock failures",
                   lost=0, duplicated=0, leaked=False, passed=not stats["errors"], details=stats)
    harness.record("secrets and personal data", "`liveclass -vv run` ×2: data dir, DAGSTER_HOME, stdout/stderr "
                   "(DEBUG logs) scanned", runs=1,
                   outcome=f"{leaks['files_scanned']} files (gzip pages decompressed, Parquet and DuckDB values "
                           f"decoded) and {leaks['outputs_scanned']} outputs: no secret, none of the "
                           f"{leaks['sign_msgs_known']} signMsgs seen by the sandbox, none of the "
                           f"{leaks['mobiles_known']} student mobiles outside raw/",
                   lost=0, duplicated=0, leaked=leaks["leaked"], passed=True, details=leaks)
