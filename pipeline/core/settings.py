"""Settings: the one reader of the ``LIVECLASS_*`` variables and ``DAGSTER_HOME``.

Everything else receives a :class:`Settings` value (or the pieces it needs) as an
argument; nothing reads or writes the environment for settings.  Relative paths
are resolved against the working directory when read, so the shipped
``.env.example`` (``LIVECLASS_DATA_DIR=./data``, ``DAGSTER_HOME=./dagster_home``)
works as is.  A value that cannot be used raises :class:`SettingsError` with one
line naming the variable.

======================== ============================================ =====================
variable                 meaning                                      default
======================== ============================================ =====================
LIVECLASS_BASE_URL       the platform's openAPI                       unset: the embedded sandbox
LIVECLASS_APP_ID         applicationID                                (required with a URL)
LIVECLASS_SECRET         the application's secret                     (required with a URL)
LIVECLASS_DATA_DIR       raw pages, lake, warehouse, feeds, report    ./data
                         (a folder, or s3://bucket/prefix: object
                         storage, docs/deployment.md)
LIVECLASS_WORK_DIR       this host's working copy of an s3:// data    ~/.cache/liveclass/
                         directory                                    <bucket>/<prefix>
LIVECLASS_RATE_LIMIT     requests/s, every process together; 0 = off  20 (0 on the sandbox)
LIVECLASS_RATE_LIMIT_URL the shared limiter: redis://host:port/db     unset: the file bucket in the data dir
                         (every host, per app id) or file:///path
LIVECLASS_CONCURRENCY    concurrent requests per process              8
LIVECLASS_START_DATE     first daily partition                        2026-01-01
LIVECLASS_LOOKBACK_DAYS  days the nightly tick re-extracts            2
LIVECLASS_SETTLE_HOURS   a lesson final this long is not asked again   24
LIVECLASS_ROSTER_DIR     the school's roster files (optional)         <data dir>/roster
LIVECLASS_TENANTS        a registry of institutions (YAML, optional)  unset: one institution
DAGSTER_HOME             Dagster's instance folder                    ./dagster_home
======================== ============================================ =====================

``LIVECLASS_WAREHOUSE_MEMORY``: DuckDB's memory limit for the warehouse build (e.g. ``3GB``; default a
quarter of the machine's RAM, 1-16 GB, :func:`default_warehouse_memory`); beyond it the build spills to
``<data dir>/.warehouse-tmp``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .layout import DataDir
from .tenants import TENANTS_FOLDER, Tenant, TenantError
from .tenants import load as load_tenants

BASE_URL = "LIVECLASS_BASE_URL"
APP_ID = "LIVECLASS_APP_ID"
SECRET = "LIVECLASS_SECRET"
DATA_DIR = "LIVECLASS_DATA_DIR"
WORK_DIR = "LIVECLASS_WORK_DIR"
RATE_LIMIT = "LIVECLASS_RATE_LIMIT"
RATE_LIMIT_URL = "LIVECLASS_RATE_LIMIT_URL"
CONCURRENCY = "LIVECLASS_CONCURRENCY"
START_DATE = "LIVECLASS_START_DATE"
LOOKBACK_DAYS = "LIVECLASS_LOOKBACK_DAYS"
SETTLE_HOURS = "LIVECLASS_SETTLE_HOURS"
WAREHOUSE = "LIVECLASS_WAREHOUSE"
ROSTER_DIR = "LIVECLASS_ROSTER_DIR"
TENANTS = "LIVECLASS_TENANTS"
WAREHOUSE_MEMORY = "LIVECLASS_WAREHOUSE_MEMORY"
DAGSTER_HOME = "DAGSTER_HOME"
#: Crash tests only: ``<point>[@<n>]``, see :mod:`pipeline.core.crash`.
CRASH_AT = "LIVECLASS_CRASH_AT"

DEFAULT_RATE_LIMIT = 20.0
DEFAULT_START_DATE = date(2026, 1, 1)


class SettingsError(ValueError):
    """A setting that cannot be used; its text is one line naming the variable."""


@dataclass(frozen=True)
class Settings:
    """Every setting of liveclass, as values.

    ``base_url`` None means: use the embedded sandbox (``liveclass run`` starts it
    and calls :meth:`with_api`).  ``secret_env`` names the variable the secret came
    from, so Dagster resources can take it as an ``EnvVar`` and the UI never shows it.
    """

    base_url: str | None = None
    app_id: str | None = None
    secret: str | None = field(default=None, repr=False)
    secret_env: str | None = None
    data_dir: Path = field(default_factory=lambda: Path("data").resolve())
    # LIVECLASS_DATA_DIR=s3://bucket/prefix: the master copy on object storage (pipeline/storage); data_dir
    # is then this host's working copy of it (LIVECLASS_WORK_DIR, default ~/.cache/liveclass/<bucket>/<prefix>)
    data_url: str | None = None
    rate_limit: float | None = None  # None: the default for the platform in use
    rate_limit_url: str | None = field(default=None, repr=False)  # redis://... or file:///...; None: the data dir's
    concurrency: int = 8
    start_date: date = DEFAULT_START_DATE
    lookback_days: int = 2
    settle_hours: float = 24.0  # re-extractions keep what was fetched this long after a lesson became final
    dagster_home: Path = field(default_factory=lambda: Path("dagster_home").resolve())
    warehouse: Path | None = None  # `liveclass query --warehouse` default; None: the data dir's
    roster_dir: Path | None = None  # None: <data dir>/roster
    warehouse_memory: str | None = None  # DuckDB memory limit of the warehouse build; None: sized to the machine
    notices: tuple[str, ...] = ()  # one line each, for the user (e.g. an env file others can read)
    tenants: tuple[Tenant, ...] = ()  # LIVECLASS_TENANTS; () = one institution, today's layout
    tenant: str | None = None  # the tenant these settings are for (:meth:`for_tenant`)
    credential_names: tuple[str, str] = (APP_ID, SECRET)  # where the app id and secret come from (for messages)
    instance_template: Path | None = None  # a tenant's: the deployment's DAGSTER_HOME/dagster.yaml, copied once

    # -- reading ----------------------------------------------------------------------

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, cwd: str | os.PathLike | None = None,
                 env_file: str | os.PathLike | None = None) -> Settings:
        """Settings from ``env`` (default ``os.environ``) over an env file (``env_file``, else ``.env`` in
        ``cwd`` if there is one; the variables already set win, as with Dagster's own ``.env``
        loading); relative paths resolved against ``cwd``."""
        process = os.environ if env is None else env
        base = Path(cwd) if cwd is not None else Path.cwd()
        file = Path(env_file) if env_file is not None else base / ".env"
        notices: list[str] = []
        env = dict(process)
        if env_file is not None or file.is_file():
            values, notices = read_env_file(file)
            env = {**values, **process}

        def text(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        def path(name: str, default: str) -> Path:
            return (base / Path(text(name) or default).expanduser()).resolve()

        def number(name: str, kind: type, default, lo: float) -> float | int:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r} is not {'an integer' if kind is int else 'a number'}.") from None
            if value < lo:
                raise SettingsError(f"{name}={raw!r} must be at least {lo:g}.")
            return value

        start = text(START_DATE)
        try:
            start_date = date.fromisoformat(start) if start else DEFAULT_START_DATE
        except ValueError:
            raise SettingsError(f"{START_DATE}={start!r} is not a date YYYY-MM-DD.") from None
        base_url = text(BASE_URL)
        warehouse = text(WAREHOUSE)
        roster = text(ROSTER_DIR)
        limiter = text(RATE_LIMIT_URL)
        if limiter and limiter.partition("://")[0].lower() not in ("redis", "rediss", "file"):
            if "://" in limiter:
                raise SettingsError(f"{RATE_LIMIT_URL} must be redis://host:port/db or file:///path.")
            limiter = str((base / Path(limiter).expanduser()).resolve())  # a plain path: the file bucket there
        data_url = text(DATA_DIR) if (text(DATA_DIR) or "").lower().startswith("s3://") else None
        if data_url is not None:
            data_url = data_url.rstrip("/")
            bucket, _, prefix = data_url[len("s3://"):].partition("/")
            if not bucket:
                raise SettingsError(f"{DATA_DIR}={data_url!r}: expected s3://bucket/prefix.")
            cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            work = path(WORK_DIR, str(cache / "liveclass" / bucket / prefix))
        registry = text(TENANTS)
        try:
            tenants = load_tenants((base / Path(registry).expanduser()).resolve(), env) if registry else ()
        except TenantError as exc:
            raise SettingsError(f"{TENANTS}: {exc}") from None
        tenants = tuple(dataclasses.replace(t, secret_in_process=bool(process.get(t.secret_env))) for t in tenants)
        return cls(
            base_url=base_url,
            app_id=text(APP_ID),
            secret=env.get(SECRET) or None,
            secret_env=SECRET if base_url and process.get(SECRET) else None,
            data_dir=work if data_url is not None else path(DATA_DIR, "data"),
            data_url=data_url,
            rate_limit=number(RATE_LIMIT, float, None, 0),
            rate_limit_url=limiter,
            concurrency=number(CONCURRENCY, int, 8, 1),
            start_date=start_date,
            lookback_days=number(LOOKBACK_DAYS, int, 2, 0),
            settle_hours=number(SETTLE_HOURS, float, 24.0, 0),
            dagster_home=path(DAGSTER_HOME, "dagster_home"),
            warehouse=(base / warehouse).resolve() if warehouse else None,
            roster_dir=(base / Path(roster).expanduser()).resolve() if roster else None,
            warehouse_memory=memory_size(WAREHOUSE_MEMORY, text(WAREHOUSE_MEMORY)),
            notices=tuple(notices),
            tenants=tenants,
        )

    # -- deriving ---------------------------------------------------------------------

    @property
    def uses_sandbox(self) -> bool:
        return self.base_url is None

    @property
    def dirs(self) -> DataDir:
        return DataDir(self.data_dir)

    @property
    def requests_per_second(self) -> float:
        """The rate limit in force: the configured one, else 20/s (0, no limit, on the sandbox)."""
        if self.rate_limit is not None:
            return self.rate_limit
        return 0.0 if self.uses_sandbox else DEFAULT_RATE_LIMIT

    @property
    def warehouse_memory_limit(self) -> str:
        """The warehouse build's DuckDB memory limit: the configured one, else :func:`default_warehouse_memory`."""
        return self.warehouse_memory or default_warehouse_memory()

    @property
    def roster_folder(self) -> Path:
        """Where the school's roster files are looked for."""
        return self.roster_dir or self.dirs.roster_dir

    def missing_credentials(self) -> list[str]:
        """The credential variables a configured platform still needs."""
        if self.uses_sandbox:
            return []
        return [name for name, value in zip(self.credential_names, (self.app_id, self.secret)) if not value]

    def with_api(self, base_url: str, app_id: str, secret: str) -> Settings:
        """The same settings pointed at another API (the embedded sandbox); the secret is a plain value."""
        rate = self.rate_limit if self.rate_limit is not None else 0.0  # no need to be polite to our own sandbox
        return dataclasses.replace(self, base_url=base_url, app_id=app_id, secret=secret, secret_env=None,
                                   rate_limit=rate)

    def for_tenant(self, tenant: Tenant) -> Settings:
        """The settings of one tenant of the registry: its platform, credentials, rate limit and first day,
        its own data directory and Dagster instance under ``tenants/<name>``."""
        return dataclasses.replace(
            self, base_url=tenant.base_url, app_id=tenant.app_id, secret=tenant.secret,
            secret_env=tenant.secret_env if tenant.secret_in_process else None,
            rate_limit=tenant.rate_limit if tenant.rate_limit is not None else self.rate_limit,
            start_date=tenant.start_date or self.start_date, data_dir=tenant.data_dir(self.data_dir),
            data_url=f"{self.data_url}/{TENANTS_FOLDER}/{tenant.name}" if self.data_url else None,
            dagster_home=tenant.dagster_home(self.dagster_home), warehouse=None,
            roster_dir=None, tenants=(), tenant=tenant.name,
            credential_names=(f"app_id of tenant {tenant.name} ({TENANTS})", tenant.secret_env),
            instance_template=self.dagster_home / "dagster.yaml")

    def tenant_named(self, name: str) -> Tenant:
        for t in self.tenants:
            if t.name == name:
                return t
        known = ", ".join(t.name for t in self.tenants) or "none: LIVECLASS_TENANTS is not set"
        raise SettingsError(f"no tenant {name!r} in the registry (tenants: {known}).")

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)


def read_env_file(path: Path) -> tuple[dict[str, str], list[str]]:
    """``KEY=VALUE`` lines of an env file (``#`` comments, optional ``export`` and quotes), and a
    notice when others can read it (it holds the secret)."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except OSError as exc:
        raise SettingsError(f"cannot read the env file {path}: {exc.strerror}.") from None
    values: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not name.strip().isidentifier():
            raise SettingsError(f"{path}:{n}: expected NAME=VALUE, got {line[:40]!r}.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    notices = []
    if mode & 0o077:
        notices.append(f"{path} can be read by other users (mode {mode & 0o777:o}) and may hold the secret; "
                       f"run: chmod 600 {path}")
    return values, notices


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.I)


def memory_size(name: str, raw: str | None) -> str | None:
    """A memory size as DuckDB takes it (``3GB``, ``512MiB``), or SettingsError naming the variable."""
    if raw is None:
        return None
    m = _SIZE.match(raw)
    if not m or float(m.group(1)) <= 0:
        raise SettingsError(f"{name}={raw!r} is not a memory size such as 3GB or 512MB.")
    return f"{m.group(1)}{m.group(2).upper().replace('IB', 'iB')}"


def default_warehouse_memory(total_bytes: int | None = None) -> str:
    """A quarter of the machine's physical memory, at least 1 GB and at most 16 GB: the warehouse
    build's default DuckDB memory limit (it spills to disk beyond it)."""
    if total_bytes is None:
        try:
            total_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total_bytes = 8 * 2**30
    gb = min(16.0, max(1.0, total_bytes / 4 / 1e9))
    return f"{gb:.1f}GB"


def crash_spec() -> str | None:
    """``$LIVECLASS_CRASH_AT`` (crash tests only), read on each call so a test's subprocess sees its own."""
    return os.environ.get(CRASH_AT) or None
