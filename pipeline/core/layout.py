"""The data directory's layout: the one place that spells a path under it.

::

    raw/<group>/date=YYYY-MM-DD/pages.jsonl.gz     exact API answers + request params
    raw/<group>/snapshot.jsonl.gz                  non-daily answers (course progress)
    raw/<group>/fetched_at.json                    when each snapshot entry was last answered
    raw/roster/user_ids.json                       mobiles of the roster resolved by API 20 (cache)
    roster/                                        the school's roster files (default roster folder)
    lake/<table>/date=YYYY-MM-DD/part-0.parquet    typed daily tables
    lake/<table>/snapshot.parquet                  typed snapshot tables
    warehouse.duckdb                               published atomically
    feeds -> .feeds-generations/<id>/              swapped atomically
    report/index.html
    platform.json                                  the platform profile (liveclass probe)
    .mirror.json                                   with an s3:// data dir: what this working copy holds
                                                   of object storage (pipeline/storage/remote.py)
    .committed/lake/                               ... and the committed lake the warehouse build reads
    .run.lock .warehouse.lock .feeds.lock .ratelimit  coordination files
    .warehouse-tmp/                                DuckDB's spill folder of the warehouse build
"""

from __future__ import annotations

import os
from pathlib import Path

RAW_PAGES = "pages.jsonl.gz"
RAW_META = "meta.json"
RAW_SNAPSHOT = "snapshot.jsonl.gz"
LAKE_PART = "part-0.parquet"
LAKE_SNAPSHOT = "snapshot.parquet"
FEEDS_GENERATIONS = ".feeds-generations"


def partition_dir(day: str) -> str:
    return f"date={day}"


class DataDir:
    """Where everything lives under the data directory (``Settings.data_dir``)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"DataDir({str(self.root)!r})"

    # -- raw ------------------------------------------------------------------------
    def raw_file(self, group: str, day: str) -> Path:
        return self.root / "raw" / group / partition_dir(day) / RAW_PAGES

    def raw_meta(self, group: str, day: str) -> Path:
        """When the platform gave a raw file's answers and which file it was (JSON: as_of, sha256)."""
        return self.root / "raw" / group / partition_dir(day) / RAW_META

    def raw_snapshot(self, group: str) -> Path:
        return self.root / "raw" / group / RAW_SNAPSHOT

    def raw_snapshot_ages(self, group: str) -> Path:
        """When each entry of a snapshot was last answered (JSON: key -> ISO time)."""
        return self.root / "raw" / group / "fetched_at.json"

    def raw_files(self, group: str | None = None) -> list[Path]:
        """Every raw page file (of one group, or of all), sorted."""
        return sorted((self.root / "raw").glob(f"{group or '*'}/{partition_dir('*')}/{RAW_PAGES}"))

    def raw_groups_of(self, day: str) -> list[str]:
        """The raw groups holding pages of ``day``, sorted."""
        return sorted(p.parent.parent.name for p in (self.root / "raw").glob(f"*/{partition_dir(day)}/{RAW_PAGES}"))

    def roster_user_ids(self) -> Path:
        """Cache of the roster's mobiles resolved to platform user ids (API 20); mobiles stop here."""
        return self.root / "raw" / "roster" / "user_ids.json"

    @property
    def roster_dir(self) -> Path:
        """The default roster folder (``LIVECLASS_ROSTER_DIR`` overrides it)."""
        return self.root / "roster"

    # -- lake -----------------------------------------------------------------------
    def lake_dir(self) -> Path:
        return self.root / "lake"

    def lake_file(self, table: str, day: str) -> Path:
        return self.lake_dir() / table / partition_dir(day) / LAKE_PART

    def lake_files(self, table: str) -> list[Path]:
        """Every daily partition file of a lake table, oldest first."""
        return lake_files(self.lake_dir(), table)

    def lake_snapshot(self, table: str) -> Path:
        return self.lake_dir() / table / LAKE_SNAPSHOT

    # -- warehouse and what is published from it --------------------------------------
    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def feeds(self) -> Path:
        return self.root / "feeds"

    @property
    def feeds_generations(self) -> Path:
        return self.root / FEEDS_GENERATIONS

    @property
    def feeds_lock(self) -> Path:
        return self.root / ".feeds.lock"

    @property
    def report(self) -> Path:
        return self.root / "report" / "index.html"

    @property
    def platform_profile(self) -> Path:
        """Which reading of the document the platform follows (`liveclass probe`)."""
        return self.root / "platform.json"

    # -- coordination ---------------------------------------------------------------
    @property
    def run_lock(self) -> Path:
        return self.root / ".run.lock"

    @property
    def run_checkpoint(self) -> Path:
        """The days a ``liveclass run`` finished, so that one started again after a kill resumes there."""
        return self.root / ".run-window.json"

    @property
    def warehouse_lock(self) -> Path:
        return self.root / ".warehouse.lock"

    @property
    def warehouse_tmp(self) -> Path:
        """Where the warehouse build spills beyond its memory limit (one folder per build, removed after)."""
        return self.root / ".warehouse-tmp"

    @property
    def rate_limit_file(self) -> Path:
        return self.root / ".ratelimit"


def lake_files(lake_dir: Path, table: str) -> list[Path]:
    """Every daily partition file of ``table`` under a lake folder, oldest first."""
    return sorted((Path(lake_dir) / table).glob(f"{partition_dir('*')}/*.parquet"))


def lake_snapshot_file(lake_dir: Path, table: str) -> Path:
    return Path(lake_dir) / table / LAKE_SNAPSHOT
