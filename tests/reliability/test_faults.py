"""Faults end to end: every fault kind the sandbox injects, at 5 %, 20 % and 50 % of requests.

The pipeline retries through them and ends with the fault-free warehouse; when the
retry budget runs out the partition fails loudly and the previous data stays, byte
for byte.
"""

from __future__ import annotations

import pytest

from pipeline.sandbox.faults import FAULT_KINDS
from pipeline.sandbox.runner import start_sandbox
from tests.reliability import harness

pytestmark = pytest.mark.xdist_group("reliability_faults")

#: The "slow" fault (3 s) outlasts the 1.5 s read timeout, so it is a real timeout, while an honest answer
#: on a loaded 2-core CI machine never comes near it (with 0.5 s it sometimes did: one retry too many).
SLOW_SECONDS = 3.0
FAULTY_API = dict(read_timeout=1.5, max_attempts=40, max_retry_seconds=120.0)


def _fault_run(reference, tmp_path, rate: float, seed: int):
    cfg = harness.small_config(fault_rate=rate, slow_seconds=SLOW_SECONDS, retry_after=1, seed=harness.SEED)
    with start_sandbox(cfg) as sb:
        sb.app.faults = type(sb.app.faults)(seed=seed, fault_rate=rate, slow_seconds=SLOW_SECONDS, retry_after=1)
        tap = harness.SignMsgTap(sb)
        results = harness.materialize_days(sb, tmp_path, **FAULTY_API)
        injected = dict(sb.app.faults.counts)
        served = sb.app.requests
    assert all(r.success for r in results)
    meta = harness.run_metadata(results)
    cmp = harness.compare_snapshots(harness.warehouse_snapshot(tmp_path / "warehouse.duckdb"),
                                    reference["warehouse"])
    lake_same = harness.lake_bytes(tmp_path) == reference["lake"]
    leaks = harness.scan_for_leaks([tmp_path], secret=cfg.secret, sign_msgs=tap.sign_msgs,
                                   mobiles=harness.student_mobiles())
    return meta, injected, served, cmp, lake_same, leaks


@pytest.mark.parametrize("rate", [0.05, 0.2, 0.5])
def test_faults_end_with_the_fault_free_warehouse(reference, tmp_path, rate):
    meta, injected, served, cmp, lake_same, leaks = _fault_run(reference, tmp_path, rate, seed=3)
    n_faults = sum(injected.values())
    # every injected fault cost exactly one failed attempt, and was retried; nothing else was
    assert n_faults > 0
    assert meta["retries"] == n_faults, (meta, injected)
    assert meta["http_requests"] == served == meta["api_calls"] + meta["retries"]
    assert meta["api_calls"] == reference["meta"]["api_calls"]
    if rate >= 0.2:
        assert all(injected[k] > 0 for k in FAULT_KINDS), injected
    assert cmp["rows_lost"] == 0 and cmp["rows_duplicated"] == 0, cmp
    assert lake_same
    assert not leaks["leaked"], leaks["found"]
    harness.record("faults", f"fault_rate={rate}: {', '.join(FAULT_KINDS)}", runs=1,
                   outcome=f"{n_faults} faults injected ({', '.join(f'{k} {v}' for k, v in injected.items() if v)}), "
                           f"{meta['retries']} retries, {meta['http_requests']} requests for {meta['api_calls']} "
                           "calls; warehouse and lake identical to the fault-free run",
                   lost=cmp["rows_lost"], duplicated=cmp["rows_duplicated"], leaked=leaks["leaked"], passed=True,
                   details={"injected": injected, "metadata": meta, "compare": cmp, "leaks": leaks})


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 9))
@pytest.mark.parametrize("rate", [0.05, 0.2, 0.5])
def test_faults_soak(reference, tmp_path, rate, seed):
    meta, injected, served, cmp, lake_same, leaks = _fault_run(reference, tmp_path, rate, seed=100 + seed)
    assert meta["retries"] == sum(injected.values())
    assert cmp["rows_lost"] == 0 and cmp["rows_duplicated"] == 0 and lake_same and not leaks["leaked"]
    harness.record("faults (soak)", f"fault_rate={rate} seed={100 + seed}", runs=1,
                   outcome=f"{sum(injected.values())} faults, {meta['retries']} retries; identical warehouse",
                   lost=cmp["rows_lost"], duplicated=cmp["rows_duplicated"], leaked=leaks["leaked"], passed=True,
                   details={"injected": injected, "metadata": meta})


def test_exhausted_retry_budget_fails_the_partition_and_keeps_previous_data(reference, tmp_path):
    """fault_rate 1.0, 3 attempts: the day's assets and the publish fail loudly; nothing on disk changes."""
    import shutil

    data_dir = tmp_path / "data"
    shutil.copytree(reference["data_dir"], data_dir, symlinks=True)
    before = harness.tree_bytes(data_dir)
    cfg = harness.small_config(fault_rate=1.0, slow_seconds=1.0)
    with start_sandbox(cfg) as sb:
        tap = harness.SignMsgTap(sb)
        results = harness.materialize_days(sb, data_dir, days=harness.DAYS[:1], raise_on_error=False,
                                           full_refresh=True,  # a settled day would ask nothing
                                           read_timeout=0.5, max_attempts=3, max_retry_seconds=30.0)
        served = sb.app.requests
    daily, publish = results
    assert not daily.success and not publish.success
    msgs = "\n".join(failure_messages := harness.failure_messages(daily) + harness.failure_messages(publish))
    assert "gave up after 3 attempts" in msgs, msgs[:2000]
    # the first raw assets tried 3 times each; nothing downstream of a failure ran
    assert served >= 3
    materialized = [ev.materialization.asset_key.path for r in results for ev in r.get_asset_materialization_events()]
    assert materialized == []
    after = harness.tree_bytes(data_dir)
    assert after == before  # lake partition, raw pages, warehouse, feeds, report: byte for byte
    leaks = harness.scan_for_leaks([data_dir], secret=cfg.secret, sign_msgs=tap.sign_msgs, outputs=failure_messages)
    assert not leaks["leaked"], leaks["found"]
    harness.record("faults", "fault_rate=1.0, retry budget 3 attempts", runs=1,
                   outcome=f"day and publish failed loudly ('gave up after 3 attempts'), {served} requests; "
                           f"all {len(before)} files of the previous data unchanged byte for byte",
                   lost=0 if after == before else 1, duplicated=0, leaked=leaks["leaked"], passed=True,
                   details={"requests": served, "files_unchanged": len(before), "leaks": leaks})
