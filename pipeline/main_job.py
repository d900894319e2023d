"""``liveclass run``: materialize a window of days through Dagster, then publish.

Runs are recorded in ``$DAGSTER_HOME`` (default ``./dagster_home``) so the UI
shows them.  Without ``LIVECLASS_BASE_URL`` the embedded sandbox is started on
a free loopback port and used.  Bad configuration stops the run before
anything is written, with one line that says what to fix.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from pipeline.api import ApiError, AuthError, LiveClassClient, ParameterError, RoutingError
from pipeline.partitions import TZ, day_window, start_date


#: Dagster's console logger at WARNING: progress comes from our own lines; the UI keeps every event.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class ConfigError(Exception):
    """Configuration the user must fix; its text is the one line we print."""


@dataclass
class DayResult:
    day: str
    success: bool
    api_calls: int = 0
    retries: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""


@dataclass
class RunSummary:
    days: list[DayResult]
    warehouse: Path | None
    mart_rows: dict[str, int]
    sandbox_url: str | None
    feeds: Path | None = None      # $LIVECLASS_DATA_DIR/feeds when published by this run
    report: Path | None = None     # $LIVECLASS_DATA_DIR/report/index.html when published by this run
    published: bool = True         # every publish step (course progress, warehouse, feeds, report) succeeded

    @property
    def success(self) -> bool:
        return all(d.success for d in self.days) and self.warehouse is not None and self.published


def default_window(now: datetime | None = None, days: int = 7) -> tuple[date, date]:
    today = (now or datetime.now(TZ)).astimezone(TZ).date()
    return today - timedelta(days=days), today - timedelta(days=1)


def resolve_window(start: date | None, end: date | None, now: datetime | None = None) -> list[date]:
    """The days to run: both bounds given, one (the other follows), or neither (the last 7 complete days).

    Only complete days (before today in Asia/Shanghai) on or after the first partition
    (``LIVECLASS_START_DATE``) can run.
    """
    today = (now or datetime.now(TZ)).astimezone(TZ).date()
    newest = today - timedelta(days=1)
    given = [(flag, day) for flag, day in (("--start", start), ("--end", end)) if day is not None]
    if start is None and end is None:
        start, end = default_window(now)
    elif start is None:
        start = end  # just that day
    elif end is None:
        end = max(start, newest)  # from start up to yesterday
    for flag, day in given:
        if day > newest:
            raise ConfigError(f"{flag} {day} is not a complete day yet (today in Asia/Shanghai is {today}); "
                              f"the newest day you can run is {newest}.")
    if end < start:
        raise ConfigError(f"--end {end} is before --start {start}.")
    first = date.fromisoformat(start_date())
    if start < first:
        raise ConfigError(f"--start {start} is before the first partition {first}; "
                          f"set LIVECLASS_START_DATE={start} to extract earlier days.")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def check_data_dir(path: Path) -> None:
    """Fail before writing anything if the data directory cannot be written.

    Probes the nearest existing ancestor with a temporary file that is removed at once.
    """
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    hint = "set LIVECLASS_DATA_DIR to a folder you can write."
    if not ancestor.is_dir():
        raise ConfigError(f"data directory {path} is not writable ({ancestor} is a file): {hint}")
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as exc:
        raise ConfigError(f"data directory {path} is not writable ({exc.strerror}): {hint}") from None


def check_api(base_url: str, app_id: str, secret: str, day: date) -> None:
    """One cheap signed call (API 17 over one minute) to prove URL and credentials work.

    What cannot succeed by retrying (refused credentials, a server that is not
    the openAPI, a page of HTML) is reported after the first answer.
    """
    from pipeline.api import RetriesExhausted

    start, _ = day_window(day)
    client = LiveClassClient(base_url, app_id, secret, timeout=(3.05, 15.0), max_attempts=2,
                             max_retry_seconds=5.0, backoff_base=0.2)
    try:
        client.get_class_info(start, start + timedelta(minutes=1))
    except AuthError as exc:
        what = {20001: "LIVECLASS_APP_ID", 20003: "LIVECLASS_APP_ID", 20004: "LIVECLASS_APP_ID (it is inactive)",
                20002: "LIVECLASS_SECRET", 20005: "LIVECLASS_SECRET"}.get(exc.error_code,
                                                                          "LIVECLASS_APP_ID and LIVECLASS_SECRET")
        raise ConfigError(f"the API refused the credentials (error_code {exc.error_code}: {exc.msg}); "
                          f"check {what}.") from None
    except (RoutingError, ParameterError) as exc:
        raise ConfigError(f"{base_url} does not look like the openAPI (error_code {exc.error_code}: {exc.msg}); "
                          "check LIVECLASS_BASE_URL.") from None
    except ApiError as exc:
        last = getattr(exc, "last_error", exc) if isinstance(exc, RetriesExhausted) else exc
        if getattr(last, "content_type", None) is not None:
            kind = "HTML" if "html" in last.content_type else f"{last.content_type or 'a body'} that is not JSON"
            raise ConfigError(f"LIVECLASS_BASE_URL={base_url} answered {kind}, not the openAPI; "
                              "check LIVECLASS_BASE_URL.") from None
        if last.msg.startswith(("connection error", "connect timeout")):
            import re

            why = re.search(r"\[Errno -?\d+\] ([^')\"]+)", last.msg)
            why = why.group(1).strip().lower() if why else last.msg.split(":", 1)[0]
            raise ConfigError(f"nothing answers at LIVECLASS_BASE_URL={base_url} ({why}); "
                              "check the URL and the network.") from None
        raise ConfigError(f"cannot use LIVECLASS_BASE_URL={base_url}: {exc.msg}; check the URL and the network.") \
            from None
    finally:
        client.close()


@contextlib.contextmanager
def api_environment(echo: Callable[[str], None]) -> Iterator[str | None]:
    """Use the configured API, or start the embedded sandbox when none is configured."""
    if os.environ.get("LIVECLASS_BASE_URL"):
        missing = [v for v in ("LIVECLASS_APP_ID", "LIVECLASS_SECRET") if not os.environ.get(v)]
        if missing:
            raise ConfigError(f"LIVECLASS_BASE_URL is set but {' and '.join(missing)} "
                              f"{'is' if len(missing) == 1 else 'are'} not; see .env.example.")
        yield None
        return
    from pipeline.sandbox.runner import SandboxConfig, start_sandbox

    saved = {k: os.environ.get(k) for k in ("LIVECLASS_BASE_URL", "LIVECLASS_APP_ID", "LIVECLASS_SECRET",
                                             "LIVECLASS_RATE_LIMIT")}
    sandbox = start_sandbox(SandboxConfig())
    try:
        os.environ.update(LIVECLASS_BASE_URL=sandbox.base_url, LIVECLASS_APP_ID=sandbox.app_id,
                          LIVECLASS_SECRET=sandbox.secret)
        os.environ.setdefault("LIVECLASS_RATE_LIMIT", "0")  # no need to be polite to our own sandbox
        echo(f"LIVECLASS_BASE_URL is not set: using the embedded sandbox at {sandbox.base_url} (synthetic school).")
        yield sandbox.base_url
    finally:
        sandbox.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


RUN_LOCK = ".run.lock"


@contextlib.contextmanager
def run_lock(data_dir: Path, echo: Callable[[str], None]) -> Iterator[None]:
    """One ``liveclass run`` at a time per data directory; a second one waits, saying for whom.

    Two runs at once would each be safe file by file, but they would interleave
    their Dagster runs and publish twice; waiting makes the second run start from
    what the first one published.  The kernel releases the lock if the holder dies.
    """
    from pipeline.storage import file_lock

    path = data_dir / RUN_LOCK

    def waiting() -> None:
        try:
            holder = path.read_text().strip() or "?"
        except OSError:
            holder = "?"
        echo(f"another liveclass run (pid {holder}) is using {data_dir}; waiting for it…")

    with file_lock(path, on_wait=waiting):
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, f"{os.getpid()}\n".encode())
            finally:
                os.close(fd)
        yield


def _day_result(day: str, result, seconds: float) -> DayResult:
    out = DayResult(day=day, success=result.success, seconds=seconds)
    for ev in result.get_asset_materialization_events():
        mat = ev.materialization
        md = {k: v.value for k, v in mat.metadata.items()}
        key = mat.asset_key.path
        if key[0] == "raw":
            out.api_calls += int(md.get("api_calls", 0))
            out.retries += int(md.get("retries", 0))
        elif key[0] == "lake":
            out.rows[key[1]] = int(md.get("rows", 0))
    if not result.success:
        out.error = failure_text(result)
    return out


def failure_text(result) -> str:
    """One line for a failed Dagster run: the failed step and its root cause (e.g. the DataDriftError
    naming endpoint, field and value), not Dagster's generic 'Execution of step ... failed.'"""
    for ev in result.all_events:
        if not ev.is_failure:
            continue
        err = getattr(ev.event_specific_data, "error", None)
        if err is None:
            continue
        while getattr(err, "cause", None) is not None:
            err = err.cause
        text = (err.message or "").strip().splitlines()
        step = f"{ev.step_key}: " if ev.step_key else ""
        if text:
            return step + text[0]
    failures = [ev.message or "" for ev in result.all_events if ev.is_failure]
    return (failures[0] if failures else "run failed").splitlines()[0]


def run_main_job(start: date | None = None, end: date | None = None, *,
                 echo: Callable[[str], None] = print) -> RunSummary:
    days = resolve_window(start, end)
    start, end = days[0], days[-1]
    data_dir = Path(os.environ.get("LIVECLASS_DATA_DIR", "data")).resolve()
    check_data_dir(data_dir)
    with api_environment(echo) as sandbox_url:
        check_api(os.environ["LIVECLASS_BASE_URL"], os.environ["LIVECLASS_APP_ID"],
                  os.environ["LIVECLASS_SECRET"], end)
        with run_lock(data_dir, echo):
            return _execute(days, start, end, data_dir, sandbox_url, echo)


def _execute(days: list[date], start: date, end: date, data_dir: Path, sandbox_url: str | None,
             echo: Callable[[str], None]) -> RunSummary:
    os.environ["LIVECLASS_DATA_DIR"] = str(data_dir)
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path("dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():  # a home we create: no telemetry banner, quiet runs
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    from dagster import DagsterInstance

    from pipeline.definitions import DAILY_JOB, PUBLISH_JOB, defs

    instance = DagsterInstance.get()
    results: list[DayResult] = []
    echo(f"Extracting {len(days)} day(s) {start} .. {end} into {data_dir}")
    job = defs.resolve_job_def(DAILY_JOB)
    for i, day in enumerate(days, 1):
        t0 = time.monotonic()
        res = job.execute_in_process(partition_key=day.isoformat(), instance=instance, raise_on_error=False,
                                     run_config=QUIET)
        r = _day_result(day.isoformat(), res, time.monotonic() - t0)
        results.append(r)
        status = "ok" if r.success else f"FAILED: {r.error}"
        echo(f"  [{i}/{len(days)}] {r.day}: {r.rows.get('lessons', 0)} lessons, {r.api_calls} API calls"
             f" ({r.retries} retries), {sum(r.rows.values())} lake rows, {r.seconds:.1f}s  {status}")
    if not all(r.success for r in results):
        # The warehouse only ever reflects complete extractions: a failed day may have left some of
        # its lake tables new and others old (each table is all-or-nothing, checked before writing).
        echo("Not publishing: the warehouse, feeds and report keep the previous data until the failed days succeed.")
        return RunSummary(results, None, {}, sandbox_url, published=False)
    echo("Publishing the warehouse ...")
    pub = defs.resolve_job_def(PUBLISH_JOB).execute_in_process(instance=instance, raise_on_error=False,
                                                                      run_config=QUIET)
    published = {tuple(ev.materialization.asset_key.path) for ev in pub.get_asset_materialization_events()}
    # the warehouse may be published even when a later step (feeds, report) failed
    warehouse = data_dir / "warehouse.duckdb" if ("warehouse", "duckdb") in published else None
    mart_rows: dict[str, int] = {}
    if warehouse is not None:
        from warehouse.build import MART_KEYS, connect_readonly

        con = connect_readonly(warehouse)
        try:
            for m in MART_KEYS:
                mart_rows[m] = con.execute(f'SELECT count(*) FROM "{m}"').fetchone()[0]
        finally:
            con.close()
    if not pub.success:
        echo(f"  publish FAILED: {failure_text(pub)}")
    feeds = data_dir / "feeds" if ("feeds", "files") in published else None
    report = data_dir / "report" / "index.html" if ("report", "html") in published else None
    return RunSummary(results, warehouse, mart_rows, sandbox_url, feeds=feeds, report=report,
                      published=pub.success)
