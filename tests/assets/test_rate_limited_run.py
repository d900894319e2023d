"""A Dagster-launched run with rate limiting on: a fresh data directory, a Redis limit, Redis unreachable.

``liveclass run`` creates the data directory first (its run lock); a run Dagster launches (the schedule,
a backfill, the UI) does not, and the first raw step's limiter must not depend on it.
"""

from __future__ import annotations

import os
import threading

import pytest
from dagster import materialize

from assets.resources import DataDirResource
from pipeline.definitions import daily_assets
from tests.conftest import SANDBOX_DAYS, api_resource

pytestmark = pytest.mark.xdist_group("sandbox")

DAY = SANDBOX_DAYS[-1]


def run_day(sb, data_dir, **api):
    return materialize(daily_assets(), partition_key=DAY, raise_on_error=False,
                       resources={"api": api_resource(sb, **api), "data_dir": DataDirResource(path=str(data_dir))})


def http_requests(res) -> int:
    return sum(ev.materialization.metadata["http_requests"].value for ev in res.get_asset_materialization_events()
               if "http_requests" in ev.materialization.metadata)


def failures(res) -> list[str]:
    """Each failed step's error with its causes (the op's own exception is the cause of Dagster's)."""
    out = []
    for ev in res.get_step_failure_events():
        err, text = ev.step_failure_data.error, []
        while err is not None:
            text.append(err.message)
            err = err.cause
        out.append(" <- ".join(text))
    return out


def test_a_dagster_run_on_a_fresh_empty_data_directory_succeeds(sandbox, tmp_path):
    """The default API resource (rate limiting on, rate_limit_file unset: the bucket in the data dir) on a
    data directory that does not exist yet."""
    data_dir = tmp_path / "fresh" / "data"
    assert not data_dir.exists()
    res = run_day(sandbox, data_dir, rate_limit_per_second=500.0)
    assert res.success, failures(res)
    assert (data_dir / ".ratelimit").is_file()  # the file bucket was used, in the data dir
    assert sorted(p.name for p in (data_dir / "lake").iterdir())  # and the day reached the lake
    assert list((data_dir / "lake" / "lessons").glob(f"date={DAY}/part-0.parquet"))


def test_a_dagster_run_with_one_redis_limit(sandbox, tmp_path, redis_server):
    import redis

    r = redis.Redis.from_url(redis_server.url)
    before = r.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    key = f"liveclass:ratelimit:{sandbox.app_id}"  # keyed by the applicationID
    seen, done = [], threading.Event()

    def watch():  # the state lives only while it says something (it expires ~1 s after the last request)
        while not done.wait(0.02):
            seen.append(r.pttl(key))

    watcher = threading.Thread(target=watch)
    watcher.start()
    data_dir = tmp_path / "data"
    try:
        res = run_day(sandbox, data_dir, rate_limit_per_second=500.0, rate_limit_url=redis_server.url)
    finally:
        done.set()
        watcher.join()
    assert res.success, failures(res)
    assert any(0 < ttl <= 2000 for ttl in seen)
    assert not (data_dir / ".ratelimit").exists()  # the Redis limit, not the file
    requests = http_requests(res)
    reservations = r.info("commandstats")["cmdstat_evalsha"]["calls"] - before
    assert requests > 20 and requests <= reservations <= 2 * requests  # a reservation (and a check) per request
    r.close()


def test_redis_unreachable_fails_the_step_naming_the_limiter(sandbox, tmp_path):
    from tests.redis_server import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    res = run_day(sandbox, tmp_path / "data", rate_limit_per_second=500.0, rate_limit_url=url,
                  max_retry_seconds=1.0, max_attempts=50)
    assert not res.success
    messages = failures(res)
    assert messages and any(f"the rate limiter at {url} is unavailable" in m for m in messages), messages
    assert not os.path.exists(tmp_path / "data" / "lake" / "lessons")  # nothing half-written for the day
