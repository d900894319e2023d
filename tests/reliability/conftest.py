"""Fixtures of the reliability tests: one fault-free reference run per worker."""

from __future__ import annotations

import pytest

from tests.reliability import harness


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """A fault-free run of harness.DAYS (daily + publish): its warehouse tables and lake bytes."""
    from pipeline.sandbox.runner import start_sandbox

    data_dir = tmp_path_factory.mktemp("reference")
    with start_sandbox(harness.small_config()) as sb:
        results = harness.materialize_days(sb, data_dir)
    return {"data_dir": data_dir, "warehouse": harness.warehouse_snapshot(data_dir / "warehouse.duckdb"),
            "lake": harness.lake_bytes(data_dir), "meta": harness.run_metadata(results)}
