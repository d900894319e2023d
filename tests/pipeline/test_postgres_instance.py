"""The deployment's Dagster instance on a real PostgreSQL server: two tenants' ``liveclass run`` processes at
once (the case SQLite answers "database is locked") record every run in one database, each tagged with its
tenant, through the shipped ``pipeline/deploy/dagster-postgres.yaml``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from tests.conftest import SANDBOX_DAYS
from tests.pipeline.test_tenants import B, registry

SHIPPED = "pipeline/deploy/dagster-postgres.yaml"


@pytest.fixture(scope="module")
def postgres():
    from tests.postgres_server import PostgresServer, available

    if not available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_two_tenants_at_once_record_their_runs_in_one_postgres_instance(sandbox_config, postgres, tmp_path):
    import psycopg2
    from dagster import DagsterInstance
    from dagster_postgres import PostgresRunStorage

    from pipeline.run import TENANT_TAG
    from pipeline.sandbox.runner import start_sandbox

    home = tmp_path / "dh"
    home.mkdir()
    shutil.copy(SHIPPED, home / "dagster.yaml")
    day = SANDBOX_DAYS[-1]
    with start_sandbox(replace(sandbox_config, lessons_per_day=4, tenants=(B,))) as sb:  # small: a run's cost
        reg = registry(tmp_path / "tenants.yaml", sb.base_url, sb.app_id)
        reg.write_text("\n".join(reg.read_text().split("\n  - name: school-c")[0:1]) + "\n")  # tenants a and b
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")}
        env.update({"LIVECLASS_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(home),
                    "LIVECLASS_TENANTS": str(reg), "SECRET_SCHOOL_A": sb.secret, "SECRET_SCHOOL_B": B.secret,
                    "LIVECLASS_DAGSTER_PG_URL": postgres.url})
        proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--start", day, "--end", day, "--jobs", "2"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    for name in ("school-a", "school-b"):  # each tenant's instance is a copy of the deployment's
        assert (home / "tenants" / name / "dagster.yaml").read_text() == (home / "dagster.yaml").read_text()
    os.environ["LIVECLASS_DAGSTER_PG_URL"] = postgres.url  # Dagster reads the instance's env itself
    try:
        instance = DagsterInstance.from_config(str(home))
        assert isinstance(instance.run_storage, PostgresRunStorage)
        runs = instance.get_runs()
        instance.dispose()
    finally:
        del os.environ["LIVECLASS_DAGSTER_PG_URL"]
    by_tenant: dict[str, set[str]] = {}
    for run in runs:
        assert run.status.value == "SUCCESS", (run.job_name, run.status)
        by_tenant.setdefault(run.tags.get(TENANT_TAG), set()).add(run.job_name)
    assert by_tenant == {"school-a": {"daily_extract", "publish"}, "school-b": {"daily_extract", "publish"}}
    con = psycopg2.connect(postgres.url.replace("postgresql+psycopg2", "postgresql"))
    try:
        with con.cursor() as cur:
            cur.execute("SELECT count(*) FROM runs")
            assert cur.fetchone()[0] == len(runs) == 4
            cur.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
            assert cur.fetchone()[0] > 2 * 14  # raw and lake assets of both tenants, and more
    finally:
        con.close()
