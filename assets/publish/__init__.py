"""Publishing from the warehouse: dashboard feeds (``feeds.py``) and the HTML report (``report.py``).

Pure functions of a published ``warehouse.duckdb`` (opened read-only); the Dagster
assets in ``assets/feeds.py`` and ``assets/report.py`` and the ``liveclass feeds`` /
``liveclass report`` commands are thin wrappers around them.
"""
