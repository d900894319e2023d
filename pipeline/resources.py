"""Dagster resources: the openAPI client and the data directory.

Secrets come only through ``EnvVar``; see ``pipeline.definitions``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.api import LiveClassClient
from pipeline.storage import DataDir


class LiveClassApiResource(ConfigurableResource):
    """The platform's signed server openAPI (or the sandbox).

    ``rate_limit_per_second`` is enforced across every thread and, through a
    file-backed bucket in the data directory, across every process that
    materialises partitions at the same time.
    """

    base_url: str = Field(description="API base URL, e.g. the sandbox's http://127.0.0.1:8765")
    app_id: str = Field(description="applicationID assigned by the platform")
    secret: str = Field(description="The application's secret (marked secret; comes from an EnvVar)",
                        json_schema_extra={"dagster__is_secret": True})
    concurrency: int = Field(default=8, description="Concurrent requests within one process")
    rate_limit_per_second: float = Field(default=50.0, description="Requests per second, all processes together")
    rate_limit_file: str | None = Field(default=None, description="Shared bucket file; default: in the data dir")
    connect_timeout: float = 3.05
    read_timeout: float = 30.0
    max_attempts: int = 8
    max_retry_seconds: float = 120.0
    backoff_base: float = 0.5
    backoff_max: float = 20.0

    def get_client(self, *, on_response: Callable[[str, dict, dict], Any] | None = None,
                   rate_limit_file: str | None = None) -> LiveClassClient:
        rate = self.rate_limit_per_second or None
        return LiveClassClient(
            self.base_url,
            self.app_id,
            self.secret,
            timeout=(self.connect_timeout, self.read_timeout),
            max_attempts=self.max_attempts,
            max_retry_seconds=self.max_retry_seconds,
            backoff_base=self.backoff_base,
            backoff_max=self.backoff_max,
            rate_limit_per_second=rate,
            rate_limit_file=(self.rate_limit_file or rate_limit_file) if rate else None,
            concurrency=self.concurrency,
            on_response=on_response,
        )


class DataDirResource(ConfigurableResource):
    """Root of raw pages, lake, warehouse, feeds and report."""

    path: str = Field(default="data", description="LIVECLASS_DATA_DIR")

    @property
    def dirs(self) -> DataDir:
        return DataDir(self.path)
