"""Writing and reading lake Parquet files (atomic, deterministic bytes)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.storage import atomic_path


def write_table(table: pa.Table, path: Path) -> None:
    """Replace ``path`` with ``table``: same table, same bytes."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)


def read_column(lake_dir: Path, table: str, column: str) -> list:
    """All values of a column across a daily table's partitions (empty if none)."""
    files = sorted((lake_dir / table).glob("date=*/part-0.parquet"))
    values: list = []
    for f in files:
        values.extend(pq.read_table(f, columns=[column])[column].to_pylist())
    return values
