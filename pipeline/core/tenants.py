"""The tenant registry: several institutions run by one installation (a vendor, a district).

A YAML file named by ``LIVECLASS_TENANTS``; without it liveclass runs one institution with
today's settings and layout (the zero-configuration default)::

    tenants:
      - name: school-a                      # [a-z0-9_-], 1-40 characters: its folder name
        base_url: https://openapi.example   # the platform's openAPI for this institution
        app_id: "10001"                     # its applicationID
        secret_env: LIVECLASS_SECRET_SCHOOL_A   # the NAME of the variable holding its secret
        rate_limit: 20                      # requests/s for this applicationID (optional)
        start_date: 2026-09-01              # its first day (optional)

The secret itself never appears in the registry: only the name of the environment variable (or
secret store entry exposed as one) that holds it, read like every other setting.  Each tenant's
state lives under its own prefix: ``<data dir>/tenants/<name>/`` (raw pages, lake, warehouse,
feeds, report) and ``<DAGSTER_HOME>/tenants/<name>/`` (its Dagster instance), so one tenant's
failure, bad secret or lock never touches another's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

#: Where a tenant's state lives under the data directory and DAGSTER_HOME.
TENANTS_FOLDER = "tenants"
RUN_TAG = "liveclass/tenant"  # the Dagster run tag naming the tenant of a run (per-tenant run limits)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYS = {"name", "base_url", "app_id", "secret_env", "rate_limit", "start_date"}


class TenantError(ValueError):
    """A registry that cannot be used; its text is one line naming the file, the tenant and the field."""


@dataclass(frozen=True)
class Tenant:
    name: str
    base_url: str
    app_id: str
    secret_env: str
    secret: str | None = field(default=None, repr=False)  # the value of ``secret_env`` when it is set
    rate_limit: float | None = None
    start_date: date | None = None
    secret_in_process: bool = False  # the variable is in the process environment (so Dagster's EnvVar reads it)

    def data_dir(self, root: Path) -> Path:
        return Path(root) / TENANTS_FOLDER / self.name

    def dagster_home(self, root: Path) -> Path:
        return Path(root) / TENANTS_FOLDER / self.name


def load(path: Path, env: Mapping[str, str]) -> tuple[Tenant, ...]:
    """The tenants of the registry at ``path``, their secrets looked up in ``env`` (a missing one is left
    None: that tenant's run says so, the others go on)."""
    import yaml

    where = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise TenantError(f"{where}: cannot read the tenant registry ({exc.strerror or exc}).") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise TenantError(f"{where}{line}: not valid YAML ({getattr(exc, 'problem', None) or exc}).") from None
    items = doc.get("tenants") if isinstance(doc, Mapping) else None
    if not isinstance(items, list) or not items:
        raise TenantError(f"{where}: expected a list 'tenants:' with at least one tenant.")
    out: list[Tenant] = []
    seen: dict[str, str] = {}
    for i, item in enumerate(items, 1):
        out.append(_tenant(where, i, item, env))
        t = out[-1]
        for key, value in (("name", t.name), ("app_id", t.app_id)):
            other = seen.get(f"{key}={value}")
            if other is not None:
                raise TenantError(f"{where}: tenant {i} ({t.name}) has the same {key} {value!r} as {other}.")
            seen[f"{key}={value}"] = t.name
    return tuple(out)


def _tenant(where: str, i: int, item: Any, env: Mapping[str, str]) -> Tenant:
    if not isinstance(item, Mapping):
        raise TenantError(f"{where}: tenant {i} is not a mapping of name, base_url, app_id, secret_env ...")
    label = f"{where}: tenant {i}" + (f" ({item.get('name')})" if isinstance(item.get("name"), str) else "")
    unknown = sorted(set(map(str, item)) - _KEYS)
    if unknown:
        raise TenantError(f"{label}: unknown field {unknown[0]!r} (fields: {', '.join(sorted(_KEYS))}).")

    def text(key: str) -> str:
        value = item.get(key)
        if value is None or str(value).strip() == "":
            raise TenantError(f"{label}: {key} is missing.")
        return str(value).strip()

    name = text("name")
    if not _NAME.match(name):
        raise TenantError(f"{label}: name {name!r} must be 1-40 of a-z, 0-9, '-' and '_' (it names folders).")
    base_url = text("base_url")
    if not base_url.startswith(("http://", "https://")):
        raise TenantError(f"{label}: base_url {base_url!r} is not an http(s) URL.")
    secret_env = text("secret_env")
    if not _ENV_NAME.match(secret_env):
        raise TenantError(f"{label}: secret_env {secret_env!r} must be the NAME of the variable holding the "
                          "secret, not the secret.")
    rate = item.get("rate_limit")
    if rate is not None:
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            rate = -1.0
        if not rate >= 0 or rate == float("inf"):
            raise TenantError(f"{label}: rate_limit {item.get('rate_limit')!r} is not a number >= 0.")
    start = item.get("start_date")
    if start is not None and not isinstance(start, date):
        try:
            start = date.fromisoformat(str(start))
        except ValueError:
            raise TenantError(f"{label}: start_date {start!r} is not a date YYYY-MM-DD.") from None
    return Tenant(name, base_url.rstrip("/"), text("app_id"), secret_env, env.get(secret_env) or None, rate, start)
