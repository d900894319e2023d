"""A real PostgreSQL server (Debian's package) on loopback for the tests: ``initdb`` in a temp dir, a free port.

``PostgresServer().start()`` creates a cluster (trust authentication, loopback only, no fsync: it is
thrown away), starts it on a free port with its socket in the temp dir, creates the database
``dagster`` and waits until it answers; ``stop()`` ends it.  PostgreSQL refuses to run as root, so as root
the cluster belongs to the ``postgres`` user the package creates and every command runs as that user
(``runuser``).  The fixture ``postgres_server`` (tests/conftest.py) skips when PostgreSQL is not
installed, except in CI (``.ci/run`` installs it), where it fails.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _bin(name: str) -> str | None:
    for folder in PG_BIN_DIRS:
        if (folder / name).is_file():
            return str(folder / name)
    return shutil.which(name)


def available() -> bool:
    return all(_bin(n) for n in ("initdb", "pg_ctl", "postgres"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, folder: str | os.PathLike | None = None, database: str = "dagster"):
        # a folder of its own: pytest's temporary folders are readable by their owner only, and the cluster
        # may belong to another user
        self._own = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix="liveclass-pg-")) if folder is None else Path(folder)
        self.database = database
        self.port: int | None = None
        self.as_user = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """The SQLAlchemy URL dagster-postgres takes (psycopg2 named: with SQLAlchemy 2.1 a bare postgresql://
        means psycopg 3)."""
        user = self.as_user or pwd.getpwuid(os.geteuid()).pw_name
        return f"postgresql+psycopg2://{user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        full = ["runuser", "-u", self.as_user, "--", *cmd] if self.as_user else list(cmd)
        return subprocess.run(full, capture_output=True, text=True, check=check, timeout=120)

    def start(self, timeout: float = 30.0) -> PostgresServer:
        data, sock = self.folder / "pgdata", self.folder / "sock"
        self.folder.mkdir(parents=True, exist_ok=True)
        sock.mkdir(exist_ok=True)
        if self.as_user:
            info = pwd.getpwnam(self.as_user)
            for p in (self.folder, sock):
                os.chown(p, info.pw_uid, info.pw_gid)
        self._run(_bin("initdb"), "-D", str(data), "-A", "trust", "-U", self.as_user or pwd.getpwuid(os.geteuid()).pw_name,
                  "--no-sync", "-E", "UTF8", "--locale", "C")
        self.port = free_port()
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {sock} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=100")
        self._run(_bin("pg_ctl"), "-D", str(data), "-l", str(self.folder / "postgres.log"), "-o", opts, "-w",
                  "-t", str(int(timeout)), "start")
        deadline = time.monotonic() + timeout
        while True:
            made = self._run(_bin("createdb") or "createdb", "-h", "127.0.0.1", "-p", str(self.port), self.database,
                             check=False)
            if made.returncode == 0:
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {made.stderr[-1000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.port is not None:
            self._run(_bin("pg_ctl"), "-D", str(self.folder / "pgdata"), "-m", "immediate", "-w", "stop", check=False)
            self.port = None
        if self._own:
            shutil.rmtree(self.folder, ignore_errors=True)
