"""One Dagster code location per tenant of the registry (``LIVECLASS_TENANTS``).

``pipeline.locations`` has one attribute per tenant, its :class:`~dagster.Definitions` built from the
tenant's settings (platform, credentials, rate limit, first day, data directory ``.../tenants/<name>``)
and its runs tagged ``liveclass/tenant=<name>``, so the instance limits runs per tenant.  A workspace
lists them (docs/deployment.md)::

    load_from:
      - python_module: {module_name: pipeline.locations, attribute: north, location_name: north}
      - python_module: {module_name: pipeline.locations, attribute: south, location_name: south}

and ``dagster job launch -m pipeline.locations -a north -j daily_extract`` launches one tenant's run;
a Celery worker or Kubernetes pod loads the same attribute from the run's origin.  One tenant's code
location failing to load (a bad secret name, say) leaves the others serving.
"""

from __future__ import annotations

import functools

from dagster import Definitions

from pipeline.core.settings import Settings


@functools.cache
def tenant_defs(name: str) -> Definitions:
    from pipeline.definitions import build_defs

    settings = Settings.from_env()
    return build_defs(settings.for_tenant(settings.tenant_named(name)))


def __getattr__(name: str) -> Definitions:
    if name.startswith("_") or name not in {t.name for t in Settings.from_env().tenants}:
        raise AttributeError(f"module {__name__!r} has no tenant {name!r} (LIVECLASS_TENANTS)")
    return tenant_defs(name)
