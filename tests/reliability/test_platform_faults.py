"""A misbehaving platform (or a cache or gateway in between): answers of another request on the same
path, "success" without data, implausible values, oversized bodies, at 5 % and 20 % of requests.

Every run ends with the fault-free warehouse, or fails loudly naming the endpoint and leaves the
published warehouse as it was; a plain rerun once the platform answers correctly ends with the
fault-free warehouse.  Never exit 0 with different data.
"""

from __future__ import annotations

import shutil

import pytest

from pipeline.api.catalog import ENDPOINTS
from pipeline.sandbox.runner import start_sandbox
from pipeline.schedules import publish_verdict
from tests.reliability import harness

pytestmark = pytest.mark.xdist_group("reliability_platform_faults")

KINDS = ("swap", "nodata", "implausible", "oversized")
PATHS = tuple(e.path for e in ENDPOINTS)


def _run(sb, data_dir) -> tuple[bool, list[str]]:
    """The daily runs, then the publish only when every day succeeded (the rule `liveclass run` and the
    sensor follow); returns (published, failure messages)."""
    days = harness.materialize_days(sb, data_dir, publish=False, raise_on_error=False, max_attempts=6,
                                    max_retry_seconds=30.0)
    messages = [m for r in days for m in harness.failure_messages(r)]
    ok, _ = publish_verdict({str(i): r.success for i, r in enumerate(days)})
    if not ok:
        return False, messages
    [pub] = harness.materialize_days(sb, data_dir, days=(), raise_on_error=False)
    return pub.success, messages + harness.failure_messages(pub)


@pytest.mark.parametrize("rate", [0.05, 0.2])
@pytest.mark.parametrize("kind", KINDS)
def test_misbehaving_platform_never_publishes_different_data(reference, tmp_path, kind, rate):
    data_dir = tmp_path / "data"
    shutil.copytree(reference["data_dir"], data_dir, symlinks=True)
    published = (data_dir / "warehouse.duckdb").read_bytes()
    with start_sandbox(harness.small_config(fault_rate=rate, fault_kinds=(kind,))) as sb:
        ok, messages = _run(sb, data_dir)
        injected = sb.app.faults.counts[kind]
        snapshot = harness.warehouse_snapshot(data_dir / "warehouse.duckdb")
        if ok:
            outcome = "published, identical to the fault-free warehouse"
            assert snapshot == reference["warehouse"], f"{kind} at {rate}: published different data"
        else:
            text = "\n".join(messages)
            named = sorted({p for p in PATHS if p in text})
            assert named, f"{kind} at {rate}: the failure names no endpoint:\n{text[:3000]}"
            assert (data_dir / "warehouse.duckdb").read_bytes() == published, "the published warehouse changed"
            first = next(line for m in messages for line in m.splitlines() if any(p in line for p in PATHS))
            outcome = f"failed loudly, naming {', '.join(named)} ({first.strip()[:200]!r}); warehouse kept"
        sb.app.faults.rate = 0  # the platform answers correctly again
        ok_again, again = _run(sb, data_dir)
    assert injected > 0, f"no {kind} fault was injected"
    assert ok_again, "\n".join(again)[:3000]
    cmp = harness.compare_snapshots(harness.warehouse_snapshot(data_dir / "warehouse.duckdb"), reference["warehouse"])
    assert cmp["rows_lost"] == 0 and cmp["rows_duplicated"] == 0, cmp
    harness.record("misbehaving platform", f"{kind} at {rate:.0%}", runs=2,
                   outcome=f"{injected} injected; {outcome}; a plain rerun after the fault cleared: identical",
                   lost=cmp["rows_lost"], duplicated=cmp["rows_duplicated"], leaked=False, passed=True,
                   details={"injected": injected, "published": ok})
