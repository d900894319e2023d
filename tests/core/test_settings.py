"""Settings: the one reader of the environment; relative paths resolved, bad values in one line."""

from datetime import date

import pytest

from pipeline.core.settings import Settings, SettingsError


def test_defaults_use_the_sandbox_and_resolve_paths_against_cwd(tmp_path):
    s = Settings.from_env({}, cwd=tmp_path)
    assert s.uses_sandbox and s.base_url is None
    assert s.data_dir == tmp_path / "data" and s.dagster_home == tmp_path / "dagster_home"
    assert (s.concurrency, s.lookback_days, s.start_date) == (8, 2, date(2026, 1, 1))
    assert s.requests_per_second == 0.0  # the sandbox needs no politeness


def test_env_example_as_shipped_resolves(tmp_path):
    from pathlib import Path

    lines = (Path(__file__).parents[2] / ".env.example").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    s = Settings.from_env(env, cwd=tmp_path)
    assert s.dagster_home.is_absolute() and s.dagster_home == tmp_path / "dagster_home"
    assert s.data_dir == tmp_path / "data"
    assert s.uses_sandbox  # the platform lines ship commented out
    commented = {line.lstrip("# ").split("=", 1)[0]: line.lstrip("# ").split("=", 1)[1]
                 for line in lines if line.startswith("# LIVECLASS_") and "=" in line}
    # the commented tenant registry names a file of the user's (docs/tenants.md): one as that page shows it
    (tmp_path / commented["LIVECLASS_TENANTS"]).write_text(
        "tenants:\n  - {name: school-a, base_url: 'https://openapi.example', app_id: '10001', "
        "secret_env: LIVECLASS_SECRET_SCHOOL_A}\n")
    real = Settings.from_env({**env, **commented}, cwd=tmp_path)
    assert not real.uses_sandbox and real.secret_env == "LIVECLASS_SECRET" and real.requests_per_second == 20.0
    assert "your-secret" not in repr(real)
    assert [t.name for t in real.tenants] == ["school-a"] and real.settle_hours == 24.0
    assert real.rate_limit_url and real.rate_limit_url.startswith("redis://")


def test_with_api_points_at_the_sandbox_with_plain_values(tmp_path):
    s = Settings.from_env({"LIVECLASS_RATE_LIMIT": "5"}, cwd=tmp_path).with_api("http://127.0.0.1:1", "app", "sec")
    assert (s.base_url, s.app_id, s.secret, s.secret_env, s.requests_per_second) == (
        "http://127.0.0.1:1", "app", "sec", None, 5.0)
    assert s.missing_credentials() == []


@pytest.mark.parametrize("name,value,words", [
    ("LIVECLASS_RATE_LIMIT", "fast", "LIVECLASS_RATE_LIMIT='fast' is not a number"),
    ("LIVECLASS_CONCURRENCY", "0", "LIVECLASS_CONCURRENCY='0' must be at least 1"),
    ("LIVECLASS_LOOKBACK_DAYS", "two", "LIVECLASS_LOOKBACK_DAYS='two' is not an integer"),
    ("LIVECLASS_START_DATE", "2026-13-01", "LIVECLASS_START_DATE='2026-13-01' is not a date"),
])
def test_bad_values_are_one_line_naming_the_variable(tmp_path, name, value, words):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({name: value}, cwd=tmp_path)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_missing_credentials_with_a_url(tmp_path):
    s = Settings.from_env({"LIVECLASS_BASE_URL": "https://x.invalid", "LIVECLASS_APP_ID": "a"}, cwd=tmp_path)
    assert s.missing_credentials() == ["LIVECLASS_SECRET"]


def test_env_file_is_read_under_the_environment_and_warned_about_when_others_can_read_it(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nexport LIVECLASS_CONCURRENCY=3\nLIVECLASS_DATA_DIR='./d'\n"
                        "LIVECLASS_LOOKBACK_DAYS=5\n")
    env_file.chmod(0o644)
    s = Settings.from_env({"LIVECLASS_LOOKBACK_DAYS": "1"}, cwd=tmp_path)
    assert (s.concurrency, s.data_dir, s.lookback_days) == (3, tmp_path / "d", 1)  # the set variable wins
    assert len(s.notices) == 1 and "chmod 600" in s.notices[0] and "644" in s.notices[0]
    env_file.chmod(0o600)
    assert Settings.from_env({}, cwd=tmp_path).notices == ()


def test_bad_env_file_line_names_file_and_line(tmp_path):
    (tmp_path / ".env").write_text("LIVECLASS_CONCURRENCY=2\nthis is not a setting\n")
    with pytest.raises(SettingsError) as err:
        Settings.from_env({}, cwd=tmp_path)
    assert f"{tmp_path / '.env'}:2: expected NAME=VALUE" in str(err.value)


def test_an_s3_data_dir_is_the_master_copy_and_each_host_has_a_working_copy(tmp_path):
    from pipeline.core.tenants import Tenant

    s = Settings.from_env({"LIVECLASS_DATA_DIR": "s3://district-data/liveclass/", "XDG_CACHE_HOME": str(tmp_path)},
                          cwd=tmp_path)
    assert s.data_url == "s3://district-data/liveclass"
    assert s.data_dir == tmp_path / "liveclass" / "district-data" / "liveclass"
    work = Settings.from_env({"LIVECLASS_DATA_DIR": "s3://b/p", "LIVECLASS_WORK_DIR": "wc"}, cwd=tmp_path)
    assert (work.data_url, work.data_dir) == ("s3://b/p", tmp_path / "wc")
    t = s.for_tenant(Tenant("north", "http://x", "app", "NORTH_SECRET"))
    assert t.data_url == "s3://district-data/liveclass/tenants/north"
    assert t.data_dir == s.data_dir / "tenants" / "north"
    local = Settings.from_env({"LIVECLASS_DATA_DIR": "data"}, cwd=tmp_path)
    assert local.data_url is None and local.for_tenant(Tenant("n", "http://x", "a", "S")).data_url is None
    with pytest.raises(SettingsError, match="LIVECLASS_DATA_DIR.*s3://bucket/prefix"):
        Settings.from_env({"LIVECLASS_DATA_DIR": "s3:///nobucket"}, cwd=tmp_path)
