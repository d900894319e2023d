"""Rate limiting: GCRA schedule, threads of one process, and a file bucket shared by processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from loopback import Loopback, ok  # noqa: E402

from pipeline.api import LiveClassClient, RetriesExhausted  # noqa: E402
from pipeline.api.limiters import make_limiter  # noqa: E402
from pipeline.api.ratelimit import FileBucket, RateLimitTimeout, TokenBucket  # noqa: E402


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_gcra_schedule_exact():
    clock = FakeClock()
    bucket = TokenBucket(10, burst=1, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits[0] == 0 and all(abs(w - 0.1) < 1e-9 for w in waits[1:])
    assert abs(clock.now - 100.4) < 1e-9
    clock.now += 10  # idle: no credit beyond the burst
    assert bucket.acquire() == 0 and abs(bucket.acquire() - 0.1) < 1e-9


def test_gcra_burst():
    clock = FakeClock()
    bucket = TokenBucket(10, burst=3, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(6)]
    assert waits[:3] == [0, 0, 0] and all(w > 0 for w in waits[3:])
    assert abs(clock.now - 100.3) < 1e-9  # 6 requests, 3 free, then one every 0.1 s


def test_max_wait_bounds_the_wait_and_reserves_nothing_beyond_it():
    clock = FakeClock()
    bucket = TokenBucket(2, clock=clock, sleep=clock.sleep)
    assert bucket.acquire(max_wait=0) == 0
    with pytest.raises(RateLimitTimeout) as info:
        bucket.acquire(max_wait=0.4)  # the next slot is 0.5 s away
    assert abs(info.value.wait - 0.5) < 1e-9 and clock.now == 100.0
    assert abs(bucket.acquire(max_wait=0.5) - 0.5) < 1e-9  # the refused call took no slot
    assert abs(clock.now - 100.5) < 1e-9


def _rate(stamps: list[float]) -> float:
    stamps = sorted(stamps)
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def test_thread_bucket_shared_by_threads():
    bucket = TokenBucket(200)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(15):
            bucket.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stamps) == 120
    assert _rate(stamps) <= 200 * 1.05
    assert _rate(stamps) >= 200 * 0.7  # and it does not crawl


def test_client_rate_limit_measured_at_server():
    with Loopback(lambda p, q, a: ok(1)) as srv:
        client = LiveClassClient(srv.url, srv.app_id, srv.secret, rate_limit_per_second=100, concurrency=8)
        client.map_concurrent(lambda i: client.call("/x", {"i": i}), range(60))
        assert _rate([r.at for r in srv.requests]) <= 100 * 1.1
        assert client.stats.snapshot()["rate_limit_wait_seconds"] > 0.3
        client.close()


def test_file_bucket_two_instances_share_one_budget(tmp_path):
    path = tmp_path / "rate.state"
    a, b = FileBucket(path, 100), FileBucket(path, 100)
    stamps = []
    for i in range(40):
        (a if i % 2 else b).acquire()
        stamps.append(time.time())
    assert _rate(stamps) <= 100 * 1.05
    a.close()
    b.close()


def test_file_bucket_ignores_stale_future_state(tmp_path):
    path = tmp_path / "rate.state"
    import struct

    path.write_bytes(struct.pack("<d", time.time() + 10 * 86400))  # clock stepped back / stale file
    bucket = FileBucket(path, 10, max_backlog=60)
    assert bucket.acquire() == 0
    bucket.close()


def test_file_bucket_creates_its_folder(tmp_path):
    path = tmp_path / "fresh" / "data" / ".ratelimit"  # a data directory nobody made yet
    bucket = FileBucket(path, 10)
    assert bucket.acquire() == 0
    assert path.is_file()
    bucket.close()


def test_a_rate_limit_wait_past_the_deadline_gives_up_at_once(tmp_path):
    """Other processes hold the next 30 s of slots: a call with a 1 s deadline neither waits them out nor
    sends a request late with the little time left; it gives up at once and takes no slot."""
    import struct

    state = tmp_path / "data" / ".ratelimit"
    state.parent.mkdir()
    held = struct.pack("<d", time.time() + 30)
    state.write_bytes(held)
    with Loopback(lambda p, q, a: ok(1)) as srv:
        client = LiveClassClient(srv.url, srv.app_id, srv.secret, rate_limit_per_second=1,
                                 rate_limit_file=str(state), max_retry_seconds=1.0)
        t0 = time.monotonic()
        with pytest.raises(RetriesExhausted) as info:
            client.call("/lesson/get_class_info", {})
        assert time.monotonic() - t0 < 0.5
        client.close()
        assert srv.hits() == 0
    text = str(info.value)
    assert "the rate limiter's wait" in text and "reaches past the retry time limit 1s" in text
    assert "rate_limit: not sent" in text
    assert state.read_bytes() == held  # nothing reserved


def test_make_limiter_choices(tmp_path):
    assert make_limiter(None) is None
    assert isinstance(make_limiter(5), TokenBucket)
    assert isinstance(make_limiter(5, str(tmp_path / "f")), FileBucket)
    with pytest.raises(ValueError):
        make_limiter(None, str(tmp_path / "f"))
    with pytest.raises(ValueError):
        TokenBucket(0)


WORKER = textwrap.dedent("""
    import json, sys, time
    from pipeline.api import LiveClassClient
    url, app_id, secret, state, start, n, tag = sys.argv[1:8]
    client = LiveClassClient(url, app_id, secret, rate_limit_per_second=40, rate_limit_file=state, concurrency=4)
    while time.time() < float(start):
        time.sleep(0.001)
    client.map_concurrent(lambda i: client.call("/x", {"proc": tag, "i": i}), range(int(n)))
    print(json.dumps(client.stats.snapshot()))
""")


def test_file_bucket_across_two_processes(tmp_path):
    """Two processes, each with 4 threads, share a 40/s budget through the state file."""
    state = str(tmp_path / "rate.state")
    with Loopback(lambda p, q, a: ok(1)) as srv:
        start = time.time() + 3.0  # both interpreters are up and importing by then, even on a loaded machine
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, srv.url, srv.app_id, srv.secret, state,
                                   str(start), "20", tag], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for tag in ("a", "b")]
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err
            assert json.loads(out)["calls"] == 20
        stamps = [r.at for r in srv.requests]
    assert len(stamps) == 40
    assert {r.params["proc"] for r in srv.requests} == {"a", "b"}
    # 40 requests at 40/s in total: ~0.975 s; two independent buckets would take ~0.5 s
    assert _rate(stamps) <= 40 * 1.1


def test_the_rate_limit_url_setting_reaches_the_api_resource(tmp_path):
    from pipeline.core.settings import Settings, SettingsError
    from pipeline.definitions import build_resources

    url = "redis://:pw@cache.internal:6379/2?burst=5"
    settings = Settings.from_env({"LIVECLASS_RATE_LIMIT_URL": url, "LIVECLASS_BASE_URL": "http://x"}, cwd=tmp_path)
    assert settings.rate_limit_url == url and "pw" not in repr(settings)
    assert build_resources(settings)["api"].rate_limit_url == url
    assert Settings.from_env({}, cwd=tmp_path).rate_limit_url is None  # unset: the file bucket in the data dir
    plain = Settings.from_env({"LIVECLASS_RATE_LIMIT_URL": "shared/.ratelimit"}, cwd=tmp_path)
    assert plain.rate_limit_url == str(tmp_path / "shared" / ".ratelimit")  # a path, resolved where read
    with pytest.raises(SettingsError, match="LIVECLASS_RATE_LIMIT_URL"):
        Settings.from_env({"LIVECLASS_RATE_LIMIT_URL": "memcached://x:1"}, cwd=tmp_path)


def test_a_rate_limit_url_wins_over_the_data_dirs_file(tmp_path):
    from tests.conftest import api_resource

    class Sb:  # only what api_resource reads
        base_url, app_id, secret = "http://127.0.0.1:9", "app", "secret"

    shared = tmp_path / "shared" / ".ratelimit"
    client = api_resource(Sb, rate_limit_per_second=5.0, rate_limit_url=f"file://{shared}").get_client(
        rate_limit_file=str(tmp_path / "data" / ".ratelimit"))
    assert isinstance(client.limiter, FileBucket) and client.limiter.path == str(shared)
    client.close()
    client = api_resource(Sb, rate_limit_per_second=5.0).get_client(rate_limit_file=str(tmp_path / "d" / ".rl"))
    assert client.limiter.path == str(tmp_path / "d" / ".rl")  # unset: the data dir's file, as before
    client.close()
