"""The sandbox's rate limit: HTTP 429 + Retry-After above N requests per second per applicationID."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from pipeline.api import LiveClassClient
from pipeline.api.signing import encode_sign_msg
from pipeline.sandbox.runner import INACTIVE_APP_ID, SandboxConfig, start_sandbox, start_sandbox_process

NOW = datetime(2026, 3, 12, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
PATH = "/lesson/get_class_info"
PARAMS = {"start_time": "2026-03-10 00:00", "end_time": "2026-03-11 00:00"}


def config(**kw) -> SandboxConfig:
    return SandboxConfig(seed=11, lessons_per_day=4, now=NOW, **kw)


def post(session: requests.Session, sb, app_id: str | None = None) -> requests.Response:
    form = {"applicationID": app_id or sb.app_id, "signMsg": encode_sign_msg(PARAMS, sb.secret)}
    return session.post(sb.base_url + PATH, data=form, timeout=10)


class FrozenClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_burst_then_one_request_per_interval_with_a_fake_clock():
    with start_sandbox(config(rate_limit=10)) as sb, requests.Session() as s:
        limit = sb.app.rate_limit
        assert (limit.rate, limit.burst) == (10, 3)  # burst: a quarter second's worth, ceil(10 / 4)
        limit.clock = clock = FrozenClock()
        answers = [post(s, sb) for _ in range(6)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429, 429]
        assert all(a.json()["status"] == 1 for a in answers[:3])
        refused = answers[3]
        assert refused.headers["Retry-After"] == "0.100"  # the next slot is one interval (1/10 s) away
        assert refused.headers["Content-Type"].startswith("text/plain") and b"Too Many Requests" in refused.content
        clock.now += 0.1
        assert [post(s, sb).status_code for _ in range(2)] == [200, 429]
        assert post(s, sb).headers["Retry-After"] == "0.100"
        clock.now += 0.05
        assert post(s, sb).headers["Retry-After"] == "0.050"
        # the limit is per applicationID, and checked before anything else is: the inactive application
        # is answered 20004, a request without an applicationID 20001
        assert post(s, sb, INACTIVE_APP_ID).json()["error_code"] == 20004
        no_app = s.post(sb.base_url + PATH, data={"signMsg": "x"}, timeout=10)
        assert no_app.status_code == 200 and no_app.json()["error_code"] == 20001
        assert (limit.accepted, limit.limited) == (5, 6)  # 20004 counted too: a known application
        assert sb.app.faults.counts == {k: 0 for k in sb.app.faults.counts}


def test_a_burst_of_requests_is_held_to_the_limit_on_the_wall_clock():
    """4 threads send as fast as they can: accepted <= N x window + burst, the rest 429 with Retry-After."""
    rate = 20
    accepted, retry_afters = [], []
    lock = threading.Lock()
    with start_sandbox(config(rate_limit=rate)) as sb:
        burst = sb.app.rate_limit.burst

        def worker():
            with requests.Session() as s:
                for _ in range(15):
                    r = post(s, sb)
                    with lock:
                        if r.status_code == 200:
                            assert r.json()["status"] == 1
                            accepted.append(r)
                        else:
                            assert r.status_code == 429
                            retry_afters.append(float(r.headers["Retry-After"]))

        t0 = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        window = time.monotonic() - t0
    assert len(accepted) + len(retry_afters) == 60
    assert burst <= len(accepted) <= rate * window + burst
    assert retry_afters, "a burst of 60 requests must meet the limit"
    assert all(0 < ra <= 1 / rate + 0.001 for ra in retry_afters)


def test_the_client_discovers_the_limit_and_every_call_succeeds():
    """The client's ceiling is 3x the sandbox's limit: it slows down on the 429s and every call succeeds."""
    with start_sandbox(config(rate_limit=20)) as sb:
        client = LiveClassClient(sb.base_url, sb.app_id, sb.secret, rate_limit_per_second=60, concurrency=4,
                                 backoff_base=0.05, backoff_max=0.2)
        t0 = time.monotonic()
        client.map_concurrent(lambda i: client.call(PATH, PARAMS), range(80))
        window = time.monotonic() - t0
        snap = client.stats.snapshot()
        client.close()
        limit = sb.app.rate_limit
    assert snap["calls"] == 80 and snap["failed_calls"] == 0
    assert snap["http_429"] == limit.limited >= 1 and snap["rate_limit_decreases"] >= 1
    assert snap["rate_limit_per_second"] < 60
    assert snap["attempts"] - snap["http_429"] == limit.accepted == 80
    assert window >= (80 - limit.burst) / 20 * 0.95  # the server held it to the limit
    assert snap["http_429"] <= 20  # discovered, not hammered (a client that ignored the 429s: ~160)


def test_config_cli_and_subprocess():
    cfg = config(rate_limit=2.5, rate_limit_burst=2)
    args = cfg.cli_args()
    assert args[args.index("--rate-limit") + 1] == "2.5" and args[args.index("--rate-limit-burst") + 1] == "2"
    assert "--rate-limit" not in config().cli_args()
    for bad in ({"rate_limit": -1}, {"rate_limit": float("nan")}, {"rate_limit_burst": -1}):
        with pytest.raises(ValueError):
            config(**bad)
    with start_sandbox_process(config(rate_limit=1)) as sb, requests.Session() as s:
        line = "rate limit: 1 requests/s per applicationID, burst 1"
        deadline = time.monotonic() + 10  # the banner's lines after the URL arrive a moment later
        while line not in sb.output and time.monotonic() < deadline:
            time.sleep(0.02)
        assert line in sb.output
        first, second = post(s, sb), post(s, sb)
        assert first.status_code == 200
        assert second.status_code == 429 and 0 < float(second.headers["Retry-After"]) <= 1.0
