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
LIVECLASS_RATE_LIMIT     requests/s, every process together; 0 = off  20 (0 on the sandbox)
LIVECLASS_CONCURRENCY    concurrent requests per process              8
LIVECLASS_START_DATE     first daily partition                        2026-01-01
LIVECLASS_LOOKBACK_DAYS  days the nightly tick re-extracts            2
LIVECLASS_SETTLE_HOURS   a lesson final this long is not asked again   24
LIVECLASS_ROSTER_DIR     the school's roster files (optional)         <data dir>/roster
DAGSTER_HOME             Dagster's instance folder                    ./dagster_home
======================== ============================================ =====================
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .layout import DataDir

BASE_URL = "LIVECLASS_BASE_URL"
APP_ID = "LIVECLASS_APP_ID"
SECRET = "LIVECLASS_SECRET"
DATA_DIR = "LIVECLASS_DATA_DIR"
RATE_LIMIT = "LIVECLASS_RATE_LIMIT"
CONCURRENCY = "LIVECLASS_CONCURRENCY"
START_DATE = "LIVECLASS_START_DATE"
LOOKBACK_DAYS = "LIVECLASS_LOOKBACK_DAYS"
SETTLE_HOURS = "LIVECLASS_SETTLE_HOURS"
WAREHOUSE = "LIVECLASS_WAREHOUSE"
ROSTER_DIR = "LIVECLASS_ROSTER_DIR"
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
    rate_limit: float | None = None  # None: the default for the platform in use
    concurrency: int = 8
    start_date: date = DEFAULT_START_DATE
    lookback_days: int = 2
    settle_hours: float = 24.0  # re-extractions keep what was fetched this long after a lesson became final
    dagster_home: Path = field(default_factory=lambda: Path("dagster_home").resolve())
    warehouse: Path | None = None  # `liveclass query --warehouse` default; None: the data dir's
    roster_dir: Path | None = None  # None: <data dir>/roster
    notices: tuple[str, ...] = ()  # one line each, for the user (e.g. an env file others can read)

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
        return cls(
            base_url=base_url,
            app_id=text(APP_ID),
            secret=env.get(SECRET) or None,
            secret_env=SECRET if base_url and process.get(SECRET) else None,
            data_dir=path(DATA_DIR, "data"),
            rate_limit=number(RATE_LIMIT, float, None, 0),
            concurrency=number(CONCURRENCY, int, 8, 1),
            start_date=start_date,
            lookback_days=number(LOOKBACK_DAYS, int, 2, 0),
            settle_hours=number(SETTLE_HOURS, float, 24.0, 0),
            dagster_home=path(DAGSTER_HOME, "dagster_home"),
            warehouse=(base / warehouse).resolve() if warehouse else None,
            roster_dir=(base / Path(roster).expanduser()).resolve() if roster else None,
            notices=tuple(notices),
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
    def roster_folder(self) -> Path:
        """Where the school's roster files are looked for."""
        return self.roster_dir or self.dirs.roster_dir

    def missing_credentials(self) -> list[str]:
        """The credential variables a configured platform still needs."""
        if self.uses_sandbox:
            return []
        return [name for name, value in ((APP_ID, self.app_id), (SECRET, self.secret)) if not value]

    def with_api(self, base_url: str, app_id: str, secret: str) -> Settings:
        """The same settings pointed at another API (the embedded sandbox); the secret is a plain value."""
        rate = self.rate_limit if self.rate_limit is not None else 0.0  # no need to be polite to our own sandbox
        return dataclasses.replace(self, base_url=base_url, app_id=app_id, secret=secret, secret_env=None,
                                   rate_limit=rate)

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


def crash_spec() -> str | None:
    """``$LIVECLASS_CRASH_AT`` (crash tests only), read on each call so a test's subprocess sees its own."""
    return os.environ.get(CRASH_AT) or None
