"""Bad credentials and bad configuration: ``liveclass run`` stops at once with ONE line saying what
to fix, exits non-zero, does not retry what cannot succeed, and writes nothing."""

from __future__ import annotations

import http.server
import os
import socket
import threading

import pytest

from pipeline.sandbox.runner import INACTIVE_APP_ID, start_sandbox
from tests.reliability import harness

pytestmark = pytest.mark.xdist_group("reliability_config")

RUN = ["run", "--start", harness.DAYS[0], "--end", harness.DAYS[-1]]


class _Html(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self):  # noqa: N802
        type(self).hits += 1
        body = b"<!doctype html><html><head><title>Welcome</title></head><body>It works!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args):
        pass


@pytest.fixture
def html_server():
    _Html.hits = 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the block ends: connections are refused


def _refusal(tmp_path, env, *, secret: str | None = None):
    data_dir, home = tmp_path / "data", tmp_path / "dh"
    proc = harness.liveclass(RUN, data_dir, home, cwd=tmp_path, **env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-1000:], proc.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("liveclass: "), proc.stderr
    assert proc.stdout == ""
    assert not data_dir.exists() and not home.exists(), "a refused run wrote something"
    if secret:
        assert secret not in proc.stdout + proc.stderr
    return lines[0]


def _record(scenario, line, requests, expected_requests):
    harness.record("bad configuration", scenario, runs=1,
                   outcome=f"exit 2 after {requests} request(s) (expected {expected_requests}), one line: {line!r}; "
                           "no data dir, no DAGSTER_HOME",
                   lost=0, duplicated=0, leaked=False, passed=True, details={"requests": requests, "line": line})


def test_wrong_secret_one_request_one_line(tmp_path):
    with start_sandbox(harness.small_config()) as sb:
        line = _refusal(tmp_path, harness.sandbox_env(sb, LIVECLASS_SECRET="wrong-secret-123"),
                        secret="wrong-secret-123")
        n = sb.app.requests
    assert n == 1
    assert "20005" in line and "LIVECLASS_SECRET" in line
    _record("wrong secret (20005)", line, n, 1)


@pytest.mark.parametrize("app_id,code", [("no-such-application", 20003), (INACTIVE_APP_ID, 20004)])
def test_unknown_or_inactive_application_one_request_one_line(tmp_path, app_id, code):
    with start_sandbox(harness.small_config()) as sb:
        line = _refusal(tmp_path, harness.sandbox_env(sb, LIVECLASS_APP_ID=app_id))
        n = sb.app.requests
    assert n == 1
    assert str(code) in line and "LIVECLASS_APP_ID" in line
    _record(f"{'unknown' if code == 20003 else 'inactive'} applicationID ({code})", line, n, 1)


def test_unreachable_base_url(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    line = _refusal(tmp_path, {"LIVECLASS_BASE_URL": url, "LIVECLASS_APP_ID": "a", "LIVECLASS_SECRET": "s"})
    assert f"nothing answers at LIVECLASS_BASE_URL={url} (connection refused)" in line
    _record("unreachable base URL (closed loopback port)", line, 0, 0)


def test_base_url_answering_html(tmp_path, html_server):
    url = f"http://127.0.0.1:{html_server.server_address[1]}"
    line = _refusal(tmp_path, {"LIVECLASS_BASE_URL": url, "LIVECLASS_APP_ID": "a", "LIVECLASS_SECRET": "s"})
    assert f"LIVECLASS_BASE_URL={url} answered HTML, not the openAPI" in line
    assert 1 <= _Html.hits <= 2
    _record("base URL answering text/html 200", line, _Html.hits, "at most 2")


def test_server_failing_every_request(tmp_path):
    with start_sandbox(harness.small_config(fault_rate=1.0, slow_seconds=0.0)) as sb:
        sb.app.faults.kinds = ("http503",)
        line = _refusal(tmp_path, harness.sandbox_env(sb))
        n = sb.app.requests
    assert "cannot use LIVECLASS_BASE_URL" in line and "HTTP 503" in line
    assert n == 2  # the preflight's one retry, then it stops
    _record("server answering HTTP 503 to everything", line, n, 2)


def test_missing_secret_with_a_base_url(tmp_path):
    line = _refusal(tmp_path, {"LIVECLASS_BASE_URL": "http://127.0.0.1:9", "LIVECLASS_APP_ID": "a"})
    assert "LIVECLASS_SECRET" in line
    _record("LIVECLASS_BASE_URL set, LIVECLASS_SECRET missing", line, 0, 0)


def test_data_dir_not_writable(tmp_path):
    (tmp_path / "afile").write_text("x")
    home = tmp_path / "dh"
    proc = harness.liveclass(RUN, tmp_path / "afile" / "data", home, cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "not writable" in lines[0] and "LIVECLASS_DATA_DIR" in lines[0]
    assert not home.exists() and (tmp_path / "afile").read_text() == "x"
    _record("data directory not writable (a path under a file)", lines[0], 0, 0)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):
        return  # root writes anywhere; the file case above covers the check
    proc = harness.liveclass(RUN, locked / "data", home, cwd=tmp_path)
    locked.chmod(0o700)
    assert proc.returncode == 2 and "not writable" in proc.stderr and not (locked / "data").exists()
