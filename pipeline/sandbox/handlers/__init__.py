"""One handler per openAPI path: parameter validation (4000x) and the documented response shapes.

A handler is ``handler(platform, params, ctx) -> dict``: ``params`` is the
decoded signMsg map, the returned dict is the whole response object (key order
as in the document's examples, quirks included).  A handler rejects a request
by raising :class:`Reject` with a Table 4 code; the server turns it into the
error envelope.

* :mod:`.params` — the parameter rules (PHP-like coercion, 40001–40003) and id lookups;
* :mod:`.management` — APIs 1–15, 20, 22, 32, 33;
* :mod:`.reporting` — APIs 16–19, 21, 23–31, 34.

:data:`ROUTES` pairs every endpoint of :mod:`pipeline.api.catalog` (path,
write flag, error-code key) with its handler, matched by API number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.api.catalog import BY_API, ENDPOINTS

from ..errors import Reject
from ..platform import Platform
from . import management, reporting

__all__ = ["Reject", "Route", "ROUTES", "Ctx"]


@dataclass(frozen=True)
class Ctx:
    app_id: str


@dataclass(frozen=True)
class Route:
    api: str
    path: str
    handler: Callable[[Platform, Mapping[Any, Any], Ctx], dict]
    write: bool = False  # management endpoints that change state
    code_key: str = "error_code"  # API 34 answers with "code"
    cache: bool = False  # answers may be cached per (path, params) while state and clock are unchanged


#: Read-only endpoints whose answers change with wall time (API 7: convert_status), never cached.
_UNCACHED = frozenset({"7"})


def _routes() -> dict[str, Route]:
    handlers = {**management.HANDLERS, **reporting.HANDLERS}
    missing = [e.api for e in ENDPOINTS if e.api not in handlers]
    unknown = sorted(set(handlers) - set(BY_API))
    if missing or unknown or len(handlers) != len(management.HANDLERS) + len(reporting.HANDLERS):
        raise RuntimeError(f"sandbox handlers do not match the catalog: missing {missing}, unknown {unknown}")
    return {
        e.path: Route(e.api, e.path, handlers[e.api], e.write, e.code_key, cache=not e.write and e.api not in _UNCACHED)
        for e in ENDPOINTS
    }


#: path -> Route for all 35 documented endpoints.
ROUTES: dict[str, Route] = _routes()
