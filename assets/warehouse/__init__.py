"""Warehouse layer: the Dagster asset that builds and publishes warehouse.duckdb (SQL in warehouse/)."""
