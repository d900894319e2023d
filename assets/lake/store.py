"""Writing and reading lake Parquet files (atomic, deterministic bytes)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.core.files import atomic_path


def write_table(table: pa.Table, path: Path, metadata: dict[bytes, bytes] | None = None) -> None:
    """Replace ``path`` with ``table`` (plus key-value ``metadata`` in its footer): same table, same bytes."""
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)


def read_table(path: Path) -> pa.Table | None:
    """A lake file, or None when it was never written."""
    return pq.read_table(path) if path.exists() else None
