"""Crashes: SIGKILL at every named crash point of a run (``LIVECLASS_CRASH_AT``, see pipeline/core/crash.py):
during extraction, Parquet writes, the warehouse build and publish, the feeds swap.

Whatever a crash leaves is complete (never half a file), a reader of the published
warehouse and feeds never sees a partial state, and the next run ends identical to an
uninterrupted one.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from pipeline.core.crash import CRASH_POINTS
from pipeline.sandbox.runner import start_sandbox
from tests.reliability import harness

pytestmark = pytest.mark.xdist_group("reliability_crash")

#: (crash spec, what is interrupted).  ``@n``: the n-th time the point is reached in the run.
CHAIN = [
    ("raw.response@3", "extraction, 3rd API answer of day 1"),
    ("raw.before_write@2", "extraction done, raw pages not written (2nd raw asset)"),
    ("file.before_rename@1", "first raw page written, not renamed"),
    ("raw.response@80", "extraction of day 2"),
    ("file.before_rename@9", "a lake Parquet partition written, not renamed"),
    ("lake.after_write@4", "a lake partition in place, Dagster not told"),
    ("file.before_rename@27", "day 2's Parquet writes"),
    ("warehouse.mid_build", "warehouse models ran in the temporary file"),
    ("warehouse.before_publish", "new warehouse closed, not renamed"),
    ("warehouse.after_publish", "warehouse replaced, feeds not written"),
    ("feeds.before_swap", "feeds generation written, link not swapped"),
]


def _run(sb, data_dir, home, cwd, crash: str | None):
    env = harness.sandbox_env(sb)
    if crash:
        env["LIVECLASS_CRASH_AT"] = crash
    return harness.liveclass(["-vv", "run", "--start", harness.DAYS[0], "--end", harness.DAYS[-1]],
                             data_dir, home, cwd=cwd, **env)


def _leftovers(data_dir):
    return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*")
                  if p.name.startswith(".tmp-") or p.name.endswith((".building", ".building.wal")))


def _check_complete(data_dir, reference):
    """Every lake file a crash left is byte-identical to the uninterrupted run's (never half a file)."""
    ref = reference["lake"]
    return [name for name, data in harness.lake_bytes(data_dir).items() if data != ref.get(name)]


def _crash_chain(reference, tmp_path, chain):
    data_dir, home = tmp_path / "data", tmp_path / "dh"
    outputs: list[str] = []
    rows = []
    with start_sandbox(harness.small_config()) as sb:
        tap = harness.SignMsgTap(sb)
        reader = harness.Reader(data_dir, tmp_path)
        try:
            for spec, what in chain:
                proc = _run(sb, data_dir, home, tmp_path, spec)
                outputs += [proc.stdout, proc.stderr]
                assert proc.returncode == -signal.SIGKILL, (spec, proc.returncode, proc.stderr[-2000:])
                bad = _check_complete(data_dir, reference)
                assert not bad, (spec, bad)
                rows.append((spec, what))
            final = _run(sb, data_dir, home, tmp_path, None)
            outputs += [final.stdout, final.stderr]
        finally:
            stats = reader.stop()
    assert final.returncode == 0, final.stderr[-3000:]
    cmp = harness.compare_snapshots(harness.warehouse_snapshot(data_dir / "warehouse.duckdb"), reference["warehouse"])
    assert cmp["rows_lost"] == 0 and cmp["rows_duplicated"] == 0, cmp
    assert harness.lake_bytes(data_dir) == reference["lake"]
    assert _leftovers(data_dir) == []
    assert stats["errors"] == [], stats["errors"][:5]
    assert stats["warehouse_reads"] > 0 and stats["feeds_reads"] > 0
    leaks = harness.scan_for_leaks([data_dir, home], secret=sb.secret, sign_msgs=tap.sign_msgs,
                                   mobiles=harness.student_mobiles(), outputs=outputs)
    assert not leaks["leaked"], leaks["found"]
    return rows, cmp, stats, leaks


#: crash points only an s3:// data directory reaches, each killed in a test of its own
OBJECT_STORAGE_POINTS = {"commit.before_commit": "tests/pipeline/test_multi_host.py"}


def test_crash_points_cover_every_named_point():
    assert {spec.split("@")[0] for spec, _ in CHAIN} | set(OBJECT_STORAGE_POINTS) == set(CRASH_POINTS)
    for point, test in OBJECT_STORAGE_POINTS.items():
        assert f'LIVECLASS_CRASH_AT="{point}"' in (Path(__file__).parents[2] / test).read_text(), (point, test)


def test_sigkill_at_every_crash_point_then_rerun_equals_uninterrupted(reference, tmp_path):
    """One data directory killed at each point in turn (damage accumulates), then one clean run."""
    rows, cmp, stats, leaks = _crash_chain(reference, tmp_path, CHAIN)
    for seq, (spec, what) in enumerate(rows):
        harness.record("crash", f"SIGKILL at {spec} ({what})", runs=1, seq=seq,
                       outcome="killed; every lake file left complete; the final rerun equals the uninterrupted "
                               "run; readers saw no error",
                       lost=cmp["rows_lost"], duplicated=cmp["rows_duplicated"], leaked=leaks["leaked"],
                       passed=True, details={"compare": cmp})
    harness.record("crash", f"dashboard reading warehouse + feeds during the {len(rows)} crashed runs and the rerun",
                   seq=len(rows),
                   runs=stats["warehouse_reads"] + stats["feeds_reads"],
                   outcome=f"{stats['warehouse_reads']} warehouse reads ({len(stats['builds_seen'])} builds seen), "
                           f"{stats['feeds_reads']} feeds reads ({len(stats['generations_seen'])} generations), "
                           f"{len(stats['errors'])} errors, never a partial build",
                   lost=0, duplicated=0, leaked=leaks["leaked"], passed=not stats["errors"],
                   details={k: v for k, v in stats.items() if k != "errors"})


@pytest.mark.slow
@pytest.mark.parametrize("spec", [s for s, _ in CHAIN] + [f"file.before_rename@{n}" for n in (2, 5, 14, 20, 29)]
                         + [f"raw.response@{n}" for n in (1, 10, 40, 120)])
def test_sigkill_at_one_point_then_rerun(reference, tmp_path, spec):
    rows, cmp, stats, leaks = _crash_chain(reference, tmp_path, [(spec, "isolated")])
    harness.record("crash (soak)", f"SIGKILL at {spec}, then one rerun", runs=1,
                   outcome="rerun equals the uninterrupted run; readers saw no error",
                   lost=cmp["rows_lost"], duplicated=cmp["rows_duplicated"], leaked=leaks["leaked"], passed=True)
