"""Fixtures of the pipeline tests: the sandbox days' raw pages, extracted once per test process."""

from __future__ import annotations

import pytest

from tests.conftest import SANDBOX_DAYS, api_resource

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@pytest.fixture(scope="session")
def raw_pages(sandbox, tmp_path_factory):
    """``raw/`` of a data directory holding the three sandbox days (each test builds its own lake from it)."""
    from dagster import materialize

    from assets.resources import DataDirResource
    from pipeline.definitions import daily_assets

    data_dir = tmp_path_factory.mktemp("raw")
    assets = daily_assets()
    raw = [a.key for a in assets if a.key.path[0] == "raw"]
    for day in SANDBOX_DAYS:
        res = materialize(assets, partition_key=day, selection=raw, run_config=QUIET,
                          resources={"api": api_resource(sandbox), "data_dir": DataDirResource(path=str(data_dir))})
        assert res.success
    return data_dir / "raw"
