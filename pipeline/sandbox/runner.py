"""Run a sandbox server: in a daemon thread (tests, embedded use) or in a subprocess (benchmarks, crash tests).

The configuration and the sandbox-only credentials live in :mod:`.config`
(re-exported here).  The server is imported only when a server is started in
this process: the parent of a sandbox subprocess never loads it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path

from .config import DEFAULT_APP_ID, DEFAULT_SECRET, INACTIVE_APP_ID, SandboxConfig

__all__ = [
    "DEFAULT_APP_ID", "DEFAULT_SECRET", "INACTIVE_APP_ID", "SandboxConfig",
    "RunningSandbox", "RunningSandboxProcess", "start_sandbox", "start_sandbox_process", "serve_forever",
]


def _uvicorn_config(app, config: SandboxConfig):
    import uvicorn

    from .protocol import header_timeout_protocol

    return uvicorn.Config(
        app,
        loop="uvloop",
        http=header_timeout_protocol(config.header_timeout),  # httptools, with a deadline on request headers
        lifespan="off",
        access_log=False,
        log_level=config.log_level,
        backlog=2048,
        timeout_keep_alive=30,
        limit_concurrency=None,
        server_header=False,
        date_header=False,
    )


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class RunningSandbox:
    """A sandbox served by uvicorn in a daemon thread of this process."""

    def __init__(self, config: SandboxConfig):
        import uvicorn

        from .server import make_app

        self.config = config
        self.app = make_app(config)
        self.platform = self.app.platform
        self._sock = _bind(config.host, config.port)
        self.port = self._sock.getsockname()[1]
        self.base_url = _base_url(config.host, self.port)
        self.app_id = config.app_id
        self.secret = config.secret
        self._server = uvicorn.Server(_uvicorn_config(self.app, config))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"sandbox-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"sandbox failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("sandbox did not start within 15 s")
            time.sleep(0.005)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # pragma: no cover
            self._error = exc

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        try:
            self._sock.close()
        except OSError:  # pragma: no cover
            pass

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_sandbox(config: SandboxConfig | None = None, **overrides) -> RunningSandbox:
    """Start a sandbox in a daemon thread; returns once it accepts connections.

    ``overrides`` are :class:`SandboxConfig` fields, e.g. ``start_sandbox(rate_limit=40)`` (HTTP 429 above
    40 requests/s per applicationID; the running limit is ``sandbox.app.rate_limit``)."""
    config = config or SandboxConfig()
    if overrides:
        names = {f.name for f in fields(SandboxConfig)}
        unknown = set(overrides) - names
        if unknown:
            raise TypeError(f"unknown SandboxConfig fields: {sorted(unknown)}")
        config = SandboxConfig(**{**{n: getattr(config, n) for n in names}, **overrides})
    return RunningSandbox(config)


def serve_forever(config: SandboxConfig, on_ready=None) -> None:
    """Serve in the foreground (the CLI); ``on_ready(base_url)`` once listening."""
    import uvicorn

    from .server import make_app

    app = make_app(config)
    sock = _bind(config.host, config.port)
    port = sock.getsockname()[1]
    server = uvicorn.Server(_uvicorn_config(app, config))
    if on_ready is not None:
        on_ready(_base_url(config.host, port))
    server.run(sockets=[sock])


_URL_RE = re.compile(r"base URL:\s*(\S+)")


class RunningSandboxProcess:
    """A sandbox served by ``python -m pipeline.sandbox.cli serve`` in a subprocess."""

    def __init__(self, config: SandboxConfig, *, startup_timeout: float = 30.0, env: dict | None = None):
        self.config = config
        self.app_id = config.app_id
        self.secret = config.secret
        cmd = [sys.executable, "-m", "pipeline.sandbox.cli", "serve", *config.cli_args()]
        penv = dict(os.environ if env is None else env)
        root = str(Path(__file__).resolve().parents[2])
        penv["PYTHONPATH"] = root + (os.pathsep + penv["PYTHONPATH"] if penv.get("PYTHONPATH") else "")
        penv["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=penv)
        self.pid = self.proc.pid
        self.base_url = ""
        self._lines: list[str] = []
        found = threading.Event()

        def pump() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                if len(self._lines) < 1000:
                    self._lines.append(line)
                m = _URL_RE.search(line)
                if m and not self.base_url:
                    self.base_url = m.group(1)
                    found.set()
            found.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        if not found.wait(startup_timeout) or not self.base_url:
            self.stop()
            raise RuntimeError("sandbox process did not start:\n" + "".join(self._lines[-30:]))
        host, port = self.base_url.rsplit("//", 1)[1].rsplit(":", 1)
        self.port = int(port)
        deadline = time.monotonic() + startup_timeout
        while True:  # wait until it accepts connections
            try:
                with socket.create_connection((host.strip("[]"), self.port), timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("sandbox process died:\n" + "".join(self._lines[-30:])) from None
                time.sleep(0.02)

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)

    def __enter__(self) -> RunningSandboxProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_sandbox_process(config: SandboxConfig | None = None, **kw) -> RunningSandboxProcess:
    """Start ``liveclass sandbox serve`` with ``config``'s flags (:meth:`SandboxConfig.cli_args`, the rate
    limit included) in a subprocess; returns once it accepts connections."""
    return RunningSandboxProcess(config or SandboxConfig(), **kw)
