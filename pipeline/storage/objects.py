"""A bucket and prefix of S3-compatible object storage, read and written the few ways liveclass needs.

Object storage has no rename, so every write here is one PUT (atomic per object) and the two
conditional PUTs carry what a rename gave on a local disk: ``create`` (``If-None-Match: *``, the
object must not exist) and ``replace`` with the ETag the writer last read (``If-Match``); a lost
race is :class:`Conflict`, never a silent overwrite.

Endpoint, region and credentials come from the usual AWS variables and files (``AWS_ENDPOINT_URL``,
``AWS_REGION``, ``AWS_ACCESS_KEY_ID`` ..., or an instance role), read by botocore itself: liveclass
never holds them, and no message here carries more than a bucket, a key and an HTTP status.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.core.files import atomic_path

SCHEME = "s3"


class StorageError(RuntimeError):
    """Object storage refused or failed a request (one line: bucket, key, status)."""


class Conflict(StorageError):
    """A conditional PUT lost: the object exists (create) or changed since it was read (replace)."""


@dataclass(frozen=True)
class Listed:
    key: str  # relative to the store's prefix
    size: int
    etag: str


def is_url(value: str | os.PathLike[str] | None) -> bool:
    return isinstance(value, str) and value.lower().startswith(f"{SCHEME}://")


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (bucket, "some/prefix")."""
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME or not parts.netloc:
        raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
    return parts.netloc, parts.path.strip("/")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ObjectStore:
    """``s3://bucket/prefix``: keys below are relative to the prefix."""

    def __init__(self, url: str, *, client=None):
        self.url = url.rstrip("/")
        self.bucket, self.prefix = split_url(self.url)
        self._client = client

    def __repr__(self) -> str:
        return f"ObjectStore({self.url!r})"

    def child(self, sub: str) -> ObjectStore:
        return ObjectStore(f"{self.url}/{sub.strip('/')}", client=self._client)

    @property
    def client(self):
        if self._client is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session()
            self._client = session.client(
                "s3", region_name=session.region_name or "us-east-1",
                config=Config(connect_timeout=10, read_timeout=120, retries={"max_attempts": 5, "mode": "standard"},
                              s3={"addressing_style": "path"}))
        return self._client

    def key(self, rel: str) -> str:
        rel = rel.lstrip("/")
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def url_of(self, rel: str) -> str:
        return f"{SCHEME}://{self.bucket}/{self.key(rel)}"

    def _fail(self, exc, rel: str, what: str) -> StorageError:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if hasattr(exc, "response") else None
        code = exc.response.get("Error", {}).get("Code") if hasattr(exc, "response") else type(exc).__name__
        kind = Conflict if status == 412 or code in ("PreconditionFailed", "ConditionalRequestConflict") else StorageError
        return kind(f"{what} s3://{self.bucket}/{self.key(rel)}: {code} (HTTP {status})")

    # -- writing ----------------------------------------------------------------------
    def put(self, rel: str, body: bytes | Path, *, create: bool = False, replace: str | None = None) -> str:
        """PUT one object (bytes, or a local file's content); its ETag.  ``create``: only if absent;
        ``replace``: only if its ETag is still this one."""
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {}
        if create:
            extra["IfNoneMatch"] = "*"
        if replace is not None:
            extra["IfMatch"] = replace
        try:
            if isinstance(body, Path):
                with open(body, "rb") as fh:
                    answer = self.client.put_object(Bucket=self.bucket, Key=self.key(rel), Body=fh, **extra)
            else:
                answer = self.client.put_object(Bucket=self.bucket, Key=self.key(rel), Body=body, **extra)
        except ClientError as exc:
            raise self._fail(exc, rel, "PUT") from None
        except BotoCoreError as exc:
            raise StorageError(f"PUT s3://{self.bucket}/{self.key(rel)}: {type(exc).__name__}") from None
        return answer["ETag"]

    def delete(self, rel: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(rel))
        except ClientError as exc:
            raise self._fail(exc, rel, "DELETE") from None

    # -- reading ----------------------------------------------------------------------
    def get(self, rel: str) -> tuple[bytes, str] | tuple[None, None]:
        """The object's bytes and ETag, or (None, None) when there is none."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(rel))
            return answer["Body"].read(), answer["ETag"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None, None
            raise self._fail(exc, rel, "GET") from None
        except BotoCoreError as exc:
            raise StorageError(f"GET s3://{self.bucket}/{self.key(rel)}: {type(exc).__name__}") from None

    def download(self, rel: str, dest: Path, *, sha256: str | None = None) -> None:
        """Copy an object to ``dest`` atomically; with ``sha256``, refuse a copy whose content differs."""
        from botocore.exceptions import BotoCoreError, ClientError

        with atomic_path(dest) as tmp:
            try:
                self.client.download_file(self.bucket, self.key(rel), str(tmp))
            except (ClientError, BotoCoreError) as exc:
                raise (self._fail(exc, rel, "GET") if isinstance(exc, ClientError) else
                       StorageError(f"GET s3://{self.bucket}/{self.key(rel)}: {type(exc).__name__}")) from None
            if sha256 is not None and sha256_file(tmp) != sha256:
                raise StorageError(f"GET s3://{self.bucket}/{self.key(rel)}: content differs from its sha256")

    def list(self, rel_prefix: str) -> list[Listed]:
        """Every object under ``rel_prefix`` (keys relative to the store), sorted by key."""
        from botocore.exceptions import BotoCoreError, ClientError

        out: list[Listed] = []
        cut = len(self.key("")) if self.prefix else 0
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=self.key(rel_prefix)):
                for o in page.get("Contents", ()):
                    out.append(Listed(o["Key"][cut:], int(o["Size"]), o["ETag"]))
        except ClientError as exc:
            raise self._fail(exc, rel_prefix, "LIST") from None
        except BotoCoreError as exc:
            raise StorageError(f"LIST s3://{self.bucket}/{self.key(rel_prefix)}: {type(exc).__name__}") from None
        return sorted(out, key=lambda o: o.key)

    def filesystem(self):
        """An fsspec file system on the same endpoint and credentials (``duckdb`` ``register_filesystem``)."""
        import s3fs

        return s3fs.S3FileSystem(endpoint_url=self.client.meta.endpoint_url,
                                 client_kwargs={"region_name": self.client.meta.region_name})
