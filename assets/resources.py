"""Dagster resources, one per external system: the openAPI client and the data directory (a folder, or
object storage with a working copy on this host).

The secret comes only through ``EnvVar`` (see :func:`pipeline.definitions.build_resources`).
With no ``base_url`` the API resource uses the embedded sandbox, started once per
process on a free loopback port: the synthetic school is deterministic, so every
process sees the same platform.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.api import LiveClassClient
from pipeline.core.layout import DataDir
from pipeline.core.profile import PlatformProfile
from pipeline.storage.remote import Remote, remote_for

_embedded = None
_embedded_lock = threading.Lock()


def embedded_sandbox():
    """The process's embedded sandbox (started on first use, stopped at exit)."""
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            import atexit

            from pipeline.sandbox.runner import SandboxConfig, start_sandbox

            _embedded = start_sandbox(SandboxConfig())
            atexit.register(_embedded.stop)
        return _embedded


class LiveClassApiResource(ConfigurableResource):
    """The platform's signed server openAPI (or, with no ``base_url``, the embedded sandbox).

    ``rate_limit_per_second`` is enforced across every thread and, through a
    file-backed bucket in the data directory, across every process that
    materialises partitions at the same time; with ``rate_limit_url``
    ``redis://...``, across every host (one budget per applicationID).
    """

    base_url: str = Field(default="", description="API base URL; empty: the embedded sandbox (synthetic school)")
    app_id: str = Field(default="", description="applicationID assigned by the platform")
    secret: str = Field(default="", description="The application's secret (marked secret; comes from an EnvVar)",
                        json_schema_extra={"dagster__is_secret": True})
    concurrency: int = Field(default=8, description="Concurrent requests within one process")
    rate_limit_per_second: float = Field(default=20.0, description="Requests per second, all processes together; "
                                                                    "0: no limit")
    rate_limit_file: str | None = Field(default=None, description="Shared bucket file; default: in the data dir")
    rate_limit_url: str | None = Field(default=None, description="Where the shared limiter lives: redis://host:port/db "
                                       "(every host, keyed by applicationID) or file:///path; default: the file "
                                       "bucket (LIVECLASS_RATE_LIMIT_URL)", json_schema_extra={"dagster__is_secret": True})
    connect_timeout: float = 3.05
    read_timeout: float = 30.0
    max_attempts: int = 8
    max_retry_seconds: float = 120.0
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    settle_hours: float = Field(default=24.0, description="A re-extraction keeps a lesson's answers fetched at least "
                                "this many hours after it became final, and asks for the rest (assets/raw/settle.py)")

    def _endpoint(self) -> tuple[str, str, str, float]:
        if self.base_url:
            return self.base_url, self.app_id, self.secret, self.rate_limit_per_second
        sb = embedded_sandbox()
        return sb.base_url, sb.app_id, sb.secret, 0.0  # no need to be polite to our own sandbox

    def get_client(self, *, on_response: Callable[[str, dict, dict], Any] | None = None,
                   rate_limit_file: str | None = None, profile: PlatformProfile | None = None,
                   **overrides: Any) -> LiveClassClient:
        """A client with these settings, sending arrays in the form ``profile`` found; ``overrides``
        change client arguments (e.g. a preflight's timeouts)."""
        base_url, app_id, secret, rate = self._endpoint()
        kwargs: dict[str, Any] = dict(
            timeout=(self.connect_timeout, self.read_timeout),
            max_attempts=self.max_attempts,
            max_retry_seconds=self.max_retry_seconds,
            backoff_base=self.backoff_base,
            backoff_max=self.backoff_max,
            rate_limit_per_second=rate or None,
            rate_limit_file=(self.rate_limit_file or rate_limit_file) if rate else None,
            rate_limit_url=self.rate_limit_url if rate else None,
            concurrency=self.concurrency,
            on_response=on_response,
            array_form=profile.get("arrays") if profile else "native",
            json_array_form=profile.get("json_arrays") if profile else "json_string",
        )
        kwargs.update(overrides)
        return LiveClassClient(base_url, app_id, secret, **kwargs)


class DataDirResource(ConfigurableResource):
    """Root of raw pages, lake, warehouse, feeds and report."""

    path: str = Field(default="data", description="The data directory (LIVECLASS_DATA_DIR), or this host's "
                                                   "working copy of it when ``url`` is set (LIVECLASS_WORK_DIR)")
    url: str = Field(default="", description="s3://bucket/prefix when the data directory is on object storage "
                                             "(the master copy; pipeline/storage), else empty")

    @property
    def dirs(self) -> DataDir:
        return DataDir(self.path)

    def remote(self) -> Remote | None:
        """The object storage holding the master copy, or None for a local data directory."""
        return remote_for(self.url or None, self.dirs)

    @property
    def profile(self) -> PlatformProfile:
        """The platform profile in the data directory (`liveclass probe`), or the default readings."""
        return PlatformProfile.read(self.dirs.platform_profile) or PlatformProfile()
