"""Several institutions from one registry: ``liveclass run`` runs each in its own process and folders, against
one multi-institution sandbox; each tenant's warehouse holds exactly its own school, and a tenant with a bad
secret is refused in one line while the others publish."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline.core.settings import Settings, SettingsError
from pipeline.sandbox.config import SandboxTenant
from tests.conftest import SANDBOX_DAYS, SANDBOX_LESSONS_PER_DAY, SANDBOX_NOW, SANDBOX_SEED

B = SandboxTenant("school-b-app", "secret-b", seed=SANDBOX_SEED + 1, lessons_per_day=5)
C = SandboxTenant("school-c-app", "secret-c", seed=SANDBOX_SEED + 2, lessons_per_day=4)
DAYS = SANDBOX_DAYS[2:]


def registry(path: Path, url: str, app_a: str) -> Path:
    path.write_text(f"""# three institutions, one sandbox
tenants:
  - name: school-a
    base_url: {url}
    app_id: "{app_a}"
    secret_env: SECRET_SCHOOL_A
    rate_limit: 0
  - name: school-b
    base_url: {url}
    app_id: {B.app_id}
    secret_env: SECRET_SCHOOL_B
    rate_limit: 0
  - name: school-c
    base_url: {url}
    app_id: {C.app_id}
    secret_env: SECRET_SCHOOL_C
""", encoding="utf-8")
    return path


def truth_lessons(seed: int, lessons_per_day: int) -> dict[date, set[int]]:
    from pipeline.sandbox.school import School

    school = School(seed=seed, lessons_per_day=lessons_per_day, now=SANDBOX_NOW)
    return {date.fromisoformat(d): {lesson.id for lesson in school.lessons_on(date.fromisoformat(d))} for d in DAYS}


def test_each_tenant_publishes_its_own_school_and_a_bad_secret_blocks_no_other(sandbox_config, tmp_path):
    from pipeline.sandbox.runner import start_sandbox

    with start_sandbox(replace(sandbox_config, tenants=(B, C))) as sb:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")}
        env.update({"LIVECLASS_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "dh"),
                    "LIVECLASS_TENANTS": str(registry(tmp_path / "tenants.yaml", sb.base_url, sb.app_id)),
                    "SECRET_SCHOOL_A": sb.secret, "SECRET_SCHOOL_B": B.secret, "SECRET_SCHOOL_C": "not-its-secret"})
        proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--start", DAYS[0], "--end", DAYS[-1]],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:] + proc.stderr[-2000:]  # not every tenant published
    assert "3 tenant(s) from the registry" in out
    assert "school-a  published" in out and "school-b  published" in out and "school-c  REFUSED" in out, out[-1500:]
    refusal = [line for line in out.splitlines() if line.startswith("[school-c]") and "refused the credentials" in line]
    assert len(refusal) == 1 and "SECRET_SCHOOL_C" in refusal[0], out
    assert "not-its-secret" not in out + proc.stderr  # the secret is never printed
    data = tmp_path / "data"
    assert not (data / "warehouse.duckdb").exists()  # nothing at the single-institution place
    assert not (data / "tenants" / "school-c" / "warehouse.duckdb").exists()
    for name, seed, n in (("school-a", SANDBOX_SEED, SANDBOX_LESSONS_PER_DAY), ("school-b", B.seed, B.lessons_per_day)):
        folder = data / "tenants" / name
        con = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
        try:
            rows = con.execute("SELECT lesson_date, lesson_id FROM mart_lesson_attendance").fetchall()
            attendance = con.execute("SELECT count(*) FROM fct_attendance").fetchall()[0][0]
        finally:
            con.close()
        got: dict[date, set[int]] = {}
        for day, lid in rows:
            got.setdefault(day, set()).add(lid)
        expected = truth_lessons(seed, n)
        assert got == expected and all(len(v) == n for v in got.values()), name
        lake_rows = sum(pq.read_metadata(p).num_rows for p in (folder / "lake" / "attendance").rglob("*.parquet"))
        assert attendance == lake_rows > 0
        assert (tmp_path / "dh" / "tenants" / name / "dagster.yaml").exists()  # its own Dagster instance


def test_registry_errors_are_one_line_naming_file_tenant_and_field(tmp_path):
    bad = tmp_path / "t.yaml"
    cases = {
        "tenants: []\n": "at least one tenant",
        "tenants:\n  - {name: A, base_url: http://x, app_id: 1, secret_env: S}\n": "name 'A'",
        "tenants:\n  - {name: a, base_url: ftp://x, app_id: 1, secret_env: S}\n": "base_url",
        "tenants:\n  - {name: a, base_url: http://x, app_id: 1, secret_env: 'my secret!'}\n": "NAME of the variable",
        "tenants:\n  - {name: a, base_url: http://x, app_id: 1, secret_env: S, colour: red}\n": "unknown field 'colour'",
        "tenants:\n  - {name: a, base_url: http://x, app_id: 1, secret_env: S}\n"
        "  - {name: b, base_url: http://x, app_id: 1, secret_env: T}\n": "same app_id",
        "tenants:\n  - {name: a, base_url: http://x, app_id: 1, secret_env: S, start_date: soon}\n": "start_date",
        "tenants: [\n": "not valid YAML",
    }
    for text, expected in cases.items():
        bad.write_text(text)
        with pytest.raises(SettingsError) as info:
            Settings.from_env({"LIVECLASS_TENANTS": str(bad)}, cwd=tmp_path)
        msg = str(info.value)
        assert expected in msg and "\n" not in msg and str(bad) in msg, (text, msg)


def test_without_a_registry_nothing_changes(tmp_path):
    s = Settings.from_env({"LIVECLASS_DATA_DIR": str(tmp_path / "d")}, cwd=tmp_path)
    assert s.tenants == () and s.tenant is None and s.data_dir == tmp_path / "d"
