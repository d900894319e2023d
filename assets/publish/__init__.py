"""Publish layer: dashboard feeds (``feeds.py``) and the HTML report (``report.py``) from the published warehouse.

Pure functions of a published ``warehouse.duckdb`` (opened read-only); the Dagster
assets in ``assets.py`` and the ``liveclass feeds`` / ``liveclass report`` commands
are thin wrappers around them.
"""
