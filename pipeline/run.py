"""The ``liveclass run`` command: materialize a window of days through Dagster, then publish.

Everything comes in a :class:`~pipeline.core.settings.Settings` value; nothing here
reads or writes the environment.  Runs are recorded in ``settings.dagster_home`` so
the UI shows them.  Without a base URL the embedded sandbox is started on a free
loopback port and handed to Dagster as resource values.  Bad configuration stops
the run before anything is written, with one line that says what to fix.
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

from pipeline.api import ApiError, AuthError, ParameterError, RoutingError
from pipeline.core import settings as env_names
from pipeline.core import tenants
from pipeline.core.calendar import TZ, day_window, days_between, today
from pipeline.core.layout import DataDir
from pipeline.core.settings import Settings

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
    resumed: bool = False  # extracted by an interrupted run of the same window: not asked again


@dataclass
class Checkpoint:
    """The days of a window that a ``liveclass run`` finished (``DataDir.run_checkpoint``).

    Written after every finished day, removed once the window is published; a run of the same window
    (and mode) started again within :data:`RESUME_HOURS` skips those days, so a run killed half-way
    redoes no finished day.  Older than that, its days are simply re-extracted (incrementally)."""

    path: Path
    window: str
    full: bool
    done: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, path: Path, days: list[date], full: bool, now: float | None = None) -> Checkpoint:
        import json

        window = f"{days[0]}..{days[-1]}"
        fresh = cls(path, window, full)
        try:
            body = json.loads(path.read_text())
            age_h = ((now or time.time()) - float(body["written_at"])) / 3600
            if body["window"] != window or bool(body["full"]) != full or not 0 <= age_h < RESUME_HOURS:
                return fresh
            fresh.done = [d for d in body["done"] if isinstance(d, str)]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return fresh

    def add(self, day: str) -> None:
        import json

        from pipeline.core.files import atomic_write_bytes

        self.done.append(day)
        body = {"window": self.window, "full": self.full, "done": sorted(set(self.done)), "written_at": time.time(),
                "pid": os.getpid()}
        atomic_write_bytes(self.path, json.dumps(body).encode())

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


#: How long an interrupted window can be resumed (hours); later, its days are extracted again.
RESUME_HOURS = 24.0


@dataclass
class RunSummary:
    days: list[DayResult]
    warehouse: Path | None
    mart_rows: dict[str, int]
    sandbox_url: str | None
    feeds: Path | None = None      # the data dir's feeds/ when published by this run
    report: Path | None = None     # the data dir's report/index.html when published by this run
    published: bool = True         # every publish step (course progress, warehouse, feeds, report) succeeded
    warnings: list[str] = field(default_factory=list)  # what the published data lacks or keeps from earlier

    @property
    def success(self) -> bool:
        return all(d.success for d in self.days) and self.warehouse is not None and self.published


def default_window(now: datetime | None = None, days: int = 7) -> tuple[date, date]:
    t = today(now)
    return t - timedelta(days=days), t - timedelta(days=1)


def resolve_window(start: date | None, end: date | None, first_day: date,
                   now: datetime | None = None) -> list[date]:
    """The days to run: both bounds given, one (the other follows), or neither (the last 7 complete days).

    Only complete days (before today in Asia/Shanghai) on or after ``first_day``
    (the first partition) can run.
    """
    t = today(now)
    newest = t - timedelta(days=1)
    given = [(flag, day) for flag, day in (("--start", start), ("--end", end)) if day is not None]
    if start is None and end is None:
        start, end = default_window(now)
    elif start is None:
        start = end  # just that day
    elif end is None:
        end = max(start, newest)  # from start up to yesterday
    for flag, day in given:
        if day > newest:
            raise ConfigError(f"{flag} {day} is not a complete day yet (today in {TZ.key} is {t}); "
                              f"the newest day you can run is {newest}.")
    if end < start:
        raise ConfigError(f"--end {end} is before --start {start}.")
    if start < first_day:
        raise ConfigError(f"--start {start} is before the first partition {first_day}; "
                          f"set {env_names.START_DATE}={start} to extract earlier days.")
    return days_between(start, end)


def check_data_dir(path: Path) -> None:
    """Fail before writing anything if the data directory cannot be written.

    Probes the nearest existing ancestor with a temporary file that is removed at once.
    """
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    hint = f"set {env_names.DATA_DIR} to a folder you can write."
    if not ancestor.is_dir():
        raise ConfigError(f"data directory {path} is not writable ({ancestor} is a file): {hint}")
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as exc:
        raise ConfigError(f"data directory {path} is not writable ({exc.strerror}): {hint}") from None


def check_api(settings: Settings, day: date) -> None:
    """One cheap signed call (API 17 over one minute) to prove URL and credentials work.

    Uses the client the API resource builds (same URL and credentials), with short
    timeouts and one retry.  What cannot succeed by retrying (refused
    credentials, a server that is not the openAPI, a page of HTML) is reported
    after the first answer.
    """
    from pipeline.api import RetriesExhausted
    from pipeline.definitions import build_resources

    url = env_names.BASE_URL if settings.tenant is None else f"base_url of tenant {settings.tenant}"
    app_id, secret = settings.credential_names
    base_url = settings.base_url
    start, _ = day_window(day)
    api = build_resources(settings)["api"].process_config_and_initialize()  # EnvVars resolved, as Dagster does
    client = api.get_client(  # one call: no shared bucket, nothing written
        rate_limit_per_second=None, rate_limit_file=None, timeout=(3.05, 15.0), max_attempts=2,
        max_retry_seconds=5.0, backoff_base=0.2)
    try:
        client.get_class_info(start, start + timedelta(minutes=1))
    except AuthError as exc:
        what = {20001: app_id, 20003: app_id, 20004: f"{app_id} (it is inactive)",
                20002: secret, 20005: secret}.get(exc.error_code, f"{app_id} and {secret}")
        raise ConfigError(f"the API refused the credentials (error_code {exc.error_code}: {exc.msg}); "
                          f"check {what}.") from None
    except (RoutingError, ParameterError) as exc:
        raise ConfigError(f"{base_url} does not look like the openAPI (error_code {exc.error_code}: {exc.msg}); "
                          f"check {url}.") from None
    except ApiError as exc:
        last = getattr(exc, "last_error", exc) if isinstance(exc, RetriesExhausted) else exc
        if getattr(last, "content_type", None) is not None:
            kind = "HTML" if "html" in last.content_type else f"{last.content_type or 'a body'} that is not JSON"
            raise ConfigError(f"{url}={base_url} answered {kind}, not the openAPI; check {url}.") from None
        if last.msg.startswith(("connection error", "connect timeout")):
            import re

            why = re.search(r"\[Errno -?\d+\] ([^')\"]+)", last.msg)
            why = why.group(1).strip().lower() if why else last.msg.split(":", 1)[0]
            raise ConfigError(f"nothing answers at {url}={base_url} ({why}); "
                              "check the URL and the network.") from None
        raise ConfigError(f"cannot use {url}={base_url}: {exc.msg}; check the URL and the network.") from None
    finally:
        client.close()


@contextlib.contextmanager
def api_environment(settings: Settings, echo: Callable[[str], None]) -> Iterator[tuple[Settings, str | None]]:
    """The settings to run with, and the sandbox URL when the embedded sandbox was started
    because no platform is configured."""
    if not settings.uses_sandbox:
        missing = settings.missing_credentials()
        if missing:
            where = env_names.BASE_URL if settings.tenant is None else f"tenant {settings.tenant}"
            raise ConfigError(f"{where} is set but {' and '.join(missing)} "
                              f"{'is' if len(missing) == 1 else 'are'} not; see .env.example.")
        yield settings, None
        return
    from pipeline.sandbox.runner import SandboxConfig, start_sandbox

    sandbox = start_sandbox(SandboxConfig())
    try:
        echo(f"{env_names.BASE_URL} is not set: using the embedded sandbox at {sandbox.base_url} (synthetic school).")
        yield settings.with_api(sandbox.base_url, sandbox.app_id, sandbox.secret), sandbox.base_url
    finally:
        sandbox.stop()


@contextlib.contextmanager
def run_lock(dirs: DataDir, echo: Callable[[str], None]) -> Iterator[None]:
    """One ``liveclass run`` at a time per data directory; a second one waits, saying for whom.

    Two runs at once would each be safe file by file, but they would interleave
    their Dagster runs and publish twice; waiting makes the second run start from
    what the first one published.  The kernel releases the lock if the holder dies.
    """
    from pipeline.core.files import file_lock

    path = dirs.run_lock

    def waiting() -> None:
        try:
            holder = path.read_text().strip() or "?"
        except OSError:
            holder = "?"
        echo(f"another liveclass run (pid {holder}) is using {dirs.root}; waiting for it…")

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
            out.rows[key[1]] = int(md.get("dagster/partition_row_count", md.get("dagster/row_count", 0)))
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


def run_window(settings: Settings, start: date | None = None, end: date | None = None, *,
               echo: Callable[[str], None] = print, progress: Callable[[str], None] | None = None,
               full: bool = False, full_warehouse: bool = False) -> RunSummary:
    """``liveclass run``: extract the window's days, one Dagster run each, then publish once.
    ``full_warehouse`` rebuilds the warehouse from the whole lake (default: only the changed days).

    A day extracted before is re-extracted incrementally (``assets/raw/settle.py``); ``full`` asks every
    answer again.  A run of the same window that was interrupted (killed) resumes after its last finished day.

    Without a platform profile in the data directory, the platform is probed first (a few dozen
    read-only calls over the window's last days) and the profile written.  ``progress`` receives a
    line every half second or so while a day runs (which day, raw asset, API, calls done/planned, ETA)."""
    days = resolve_window(start, end, settings.start_date)
    check_data_dir(settings.data_dir)
    with api_environment(settings, echo) as (settings, sandbox_url):
        check_api(settings, days[-1])
        with run_lock(settings.dirs, echo):
            if not settings.dirs.platform_profile.exists():
                echo("No platform profile yet: probing which reading of the document the platform follows ...")
                try:
                    probe_platform(settings, days[-PROBE_DAYS:], echo)
                except ApiError as exc:  # the run's own retries and checks still stand guard
                    echo(f"  the probe failed ({exc}); using the default readings this time")
            return _execute(settings, days, sandbox_url, echo, progress, full=full, full_warehouse=full_warehouse)


#: Days the probe looks at (the newest of the window).
PROBE_DAYS = 3


def probe_platform(settings: Settings, days: list[date], echo: Callable[[str], None] = print):
    """Probe the platform over ``days``, print one line per reading, write the profile; return it."""
    from pipeline.api.probe import Probe
    from pipeline.core.files import atomic_write_bytes
    from pipeline.definitions import build_resources

    api = build_resources(settings)["api"].process_config_and_initialize()
    client = api.get_client(rate_limit_file=str(settings.dirs.rate_limit_file), max_attempts=4,
                            max_retry_seconds=30.0)
    try:
        profile = Probe(client, list(days)).run(echo)
        calls = client.stats.snapshot()["calls"]
    finally:
        client.close()
    atomic_write_bytes(settings.dirs.platform_profile, profile.to_json().encode("utf-8"))
    echo(f"  ({calls} API calls; profile written to {settings.dirs.platform_profile})")
    return profile


#: The instance configuration shipped with liveclass (pool limit, run queue, monitoring, retention).
INSTANCE_CONFIG = Path(__file__).with_name("dagster.yaml")


def ensure_instance_home(home: Path, template: Path | None = None) -> Path:
    """``home`` with a ``dagster.yaml``, copied on first use (never overwritten) from ``template`` when it
    exists (a tenant's instance: the deployment's DAGSTER_HOME/dagster.yaml, e.g. the PostgreSQL one),
    else the shipped one."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        from pipeline.core.files import atomic_write_bytes

        source = template if template is not None and template.is_file() else INSTANCE_CONFIG
        atomic_write_bytes(config, source.read_bytes())
    return home


def dagster_instance(home: Path, template: Path | None = None):
    """The Dagster instance in ``home`` (its configuration copied on first use, see :func:`ensure_instance_home`)."""
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(ensure_instance_home(home, template)))


#: The process that ran a ``liveclass run`` run (to tell a dead run from a running one).
PID_TAG = "liveclass/pid"
WINDOW_TAG = "liveclass/window"
TENANT_TAG = tenants.RUN_TAG


def run_tags(days: list[date], tenant: str | None = None) -> dict[str, str]:
    """What every Dagster run of this ``liveclass run`` carries: who started it, its window, its process
    (and its tenant, with a registry)."""
    from pipeline.schedules import BY_LIVECLASS_RUN, STARTED_BY_TAG

    tags = {STARTED_BY_TAG: BY_LIVECLASS_RUN, WINDOW_TAG: f"{days[0]}..{days[-1]}", PID_TAG: str(os.getpid())}
    return {**tags, TENANT_TAG: tenant} if tenant else tags


def reap_dead_runs(instance) -> list[str]:
    """Mark failed the runs of a ``liveclass run`` that was killed (still "started" in the instance, its
    process gone), so Dagster does not show them in progress forever and the publish automation
    does not wait for them; returns their ids.  Runs Dagster launched are its run monitoring's."""
    from dagster import DagsterRunStatus, RunsFilter

    from pipeline.core.files import pid_alive
    from pipeline.schedules import BY_LIVECLASS_RUN, STARTED_BY_TAG

    unfinished = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED,
                  DagsterRunStatus.CANCELING]
    reaped = []
    for run in instance.get_runs(filters=RunsFilter(statuses=unfinished, tags={STARTED_BY_TAG: BY_LIVECLASS_RUN})):
        pid = run.tags.get(PID_TAG, "")
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            instance.report_run_failed(run, message=f"the liveclass run process {pid} that ran it is gone (killed)")
            reaped.append(run.run_id)
    return reaped


@contextlib.contextmanager
def day_progress(progress: Callable[[str], None] | None, i: int, n: int) -> Iterator[None]:
    """While day ``i`` of ``n`` runs in this process, its raw assets' progress reaches ``progress``."""
    import assets.raw.assets as raw

    if progress is None:
        yield
        return
    before = raw.progress_sink
    raw.progress_sink = lambda p: progress(f"  [{i}/{n}] {p.line()}")
    try:
        yield
    finally:
        raw.progress_sink = before


def _execute(settings: Settings, days: list[date], sandbox_url: str | None,
             echo: Callable[[str], None], progress: Callable[[str], None] | None = None, *,
             full: bool = False, full_warehouse: bool = False) -> RunSummary:
    from assets.warehouse.assets import FULL_REBUILD_CONFIG
    from pipeline.definitions import DAILY_JOB, PUBLISH_JOB, build_defs, first_partition
    from pipeline.schedules import publish_verdict

    dirs = settings.dirs
    defs = build_defs(settings, first_day=first_partition(settings, days[0]))
    instance = dagster_instance(settings.dagster_home, settings.instance_template)
    reaped = reap_dead_runs(instance)
    if reaped:
        echo(f"  ({len(reaped)} run(s) of an earlier liveclass run that was killed marked failed)")
    tags = run_tags(days, settings.tenant)
    results: list[DayResult] = []
    checkpoint = Checkpoint.open(dirs.run_checkpoint, days, full)
    resumed = set(checkpoint.done)
    mode = "every answer asked again (--full)" if full else "days extracted before: only what can have changed"
    echo(f"Extracting {len(days)} day(s) {days[0]} .. {days[-1]} into {dirs.root} ({mode})")
    if resumed:
        echo(f"  resuming an interrupted run of this window: {len(resumed)} of {len(days)} day(s) were finished "
             "and are not asked again")
    job = defs.resolve_job_def(DAILY_JOB)
    # a config field of the raw assets, not of the api resource: run config given for a resource replaces all of
    # its configuration, so that would silently drop the URL and credentials bound from the settings
    from assets.raw.assets import full_refresh_config
    from pipeline.definitions import daily_assets

    run_config = {**QUIET, **full_refresh_config(daily_assets())} if full else QUIET
    window_t0, extracted = time.monotonic(), 0
    for i, day in enumerate(days, 1):
        if day.isoformat() in resumed:
            results.append(DayResult(day=day.isoformat(), success=True, resumed=True))
            echo(f"  [{i}/{len(days)}] {day}: finished by the interrupted run")
            continue
        t0 = time.monotonic()
        with day_progress(progress, i, len(days)):
            res = job.execute_in_process(partition_key=day.isoformat(), instance=instance, raise_on_error=False,
                                         run_config=run_config, tags=tags)
        r = _day_result(day.isoformat(), res, time.monotonic() - t0)
        results.append(r)
        extracted += 1
        if r.success:
            checkpoint.add(r.day)
        status = "ok" if r.success else f"FAILED: {r.error}"
        left = sum(1 for d in days[i:] if d.isoformat() not in resumed)
        eta = f", ETA {_duration((time.monotonic() - window_t0) / extracted * left)}" if left else ""
        echo(f"  [{i}/{len(days)}] {r.day}: {r.rows.get('lessons', 0)} lessons, {r.api_calls} API calls"
             f" ({r.retries} retries), {sum(r.rows.values())} lake rows, {r.seconds:.1f}s{eta}  {status}")
    publish, why = publish_verdict({r.day: r.success for r in results})
    if not publish:
        # The warehouse only ever reflects complete extractions: a failed day may have left some of
        # its lake tables new and others old (each table is all-or-nothing, checked before writing).
        echo(f"Not publishing ({why}): the warehouse, feeds and report keep the previous data until the failed "
             "days succeed.")
        return RunSummary(results, None, {}, sandbox_url, published=False)
    echo("Publishing the warehouse ...")
    pub = defs.resolve_job_def(PUBLISH_JOB).execute_in_process(
        instance=instance, raise_on_error=False, tags=tags,
        run_config={**QUIET, **FULL_REBUILD_CONFIG} if full_warehouse else QUIET)
    mats = {ev.materialization.asset_key: ev.materialization for ev in pub.get_asset_materialization_events()}
    _echo_roster(dirs, echo)
    # the warehouse may be published even when a later step (feeds, report) failed
    from assets.publish.assets import FEEDS_KEY, REPORT_KEY
    from assets.warehouse.assets import ETL_KEY

    warehouse = dirs.warehouse if ETL_KEY in mats else None
    mart_rows = {key.path[-1]: int(m.metadata["dagster/row_count"].value) for key, m in mats.items()
                 if key.path[0] == "warehouse" and key.path[-1].startswith("mart_") and "dagster/row_count" in m.metadata}
    if not pub.success:
        echo(f"  publish FAILED: {failure_text(pub)}")
    else:
        checkpoint.remove()
    feeds = dirs.feeds if FEEDS_KEY in mats else None
    report = dirs.report if REPORT_KEY in mats else None
    from assets.publish.assets import data_notes

    return RunSummary(results, warehouse, mart_rows, sandbox_url, feeds=feeds, report=report,
                      published=pub.success, warnings=data_notes(dirs) if warehouse is not None else [])


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else (
        f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s")


def _echo_roster(dirs, echo) -> None:
    """The roster's problems, one line each (mobiles masked), and how many students it named."""
    import pyarrow.parquet as pq

    problems, students = dirs.lake_snapshot("roster_problems"), dirs.lake_snapshot("roster_students")
    if not problems.is_file():
        return
    lines = pq.read_table(problems, columns=["message"]).column("message").to_pylist()
    named = pq.read_metadata(students).num_rows if students.is_file() else 0
    echo(f"Roster: {named} students matched to platform users, {len(lines)} problem(s)"
         + (":" if lines else "."))
    for line in lines:
        echo(f"  {line}")


def run_tenants(settings: Settings, options: list[str], *, jobs: int = 2, env_file: str | None = None,
                echo: Callable[[str], None] = print) -> int:
    """``liveclass run`` with a tenant registry: every tenant as its own ``liveclass run --tenant NAME``
    process (its own data directory, Dagster instance, locks and rate limit), ``jobs`` at a time, each
    line prefixed with the tenant's name; a tenant that fails, is refused or is slow holds no other.
    Returns the exit code: 0 when every tenant published, 3 when some published with warnings, 1
    when any tenant did not publish."""
    import subprocess
    import sys
    import threading
    from concurrent.futures import ThreadPoolExecutor

    lock = threading.Lock()
    width = max(len(t.name) for t in settings.tenants)

    def say(line: str) -> None:
        with lock:
            echo(line)

    def one(name: str) -> tuple[int, float]:
        t0 = time.monotonic()
        cmd = [sys.executable, "-m", "pipeline.cli", *(["--env-file", env_file] if env_file else []), "run",
               "--tenant", name, *options]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:
            say(f"[{name:<{width}}] {line.rstrip()}")
        return proc.wait(), time.monotonic() - t0

    names = [t.name for t in settings.tenants]
    echo(f"{len(names)} tenant(s) from the registry, {min(jobs, len(names))} at a time: {', '.join(names)}")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes = dict(zip(names, pool.map(one, names)))
    meaning = {0: "published", 1: "FAILED (not everything published)", 2: "REFUSED (bad configuration, nothing "
               "written)", 3: "published with warnings"}
    echo("")
    for name, (code, seconds) in outcomes.items():
        echo(f"  {name:<{width}}  {meaning.get(code, f'FAILED (exit {code})')}  {seconds:.0f}s  "
             f"{settings.for_tenant(settings.tenant_named(name)).data_dir}")
    codes = {code for code, _ in outcomes.values()}
    return 0 if codes <= {0} else 3 if codes <= {0, 3} else 1
