"""DuckDB warehouse: SQL models (``warehouse/models/*.sql``, run in filename order)
and the small loader that builds and atomically publishes ``warehouse.duckdb``.

    from warehouse import build_warehouse, connect_readonly

See ``docs/definitions.md`` for what the numbers mean and
``docs/data-dictionary.md`` for every table and column.
"""

__all__ = ["BuildResult", "build_warehouse", "connect_readonly"]


def __getattr__(name: str):
    # lazy, so that ``python -m warehouse.build`` does not import the module twice
    if name in __all__:
        from warehouse import build

        return getattr(build, name)
    raise AttributeError(f"module 'warehouse' has no attribute {name!r}")
