"""The ``liveclass`` command line: reads the settings once, hands them to each command."""

from __future__ import annotations

import sys
from datetime import date

import click

from pipeline.core.settings import Settings, SettingsError
from pipeline.sandbox.cli import sandbox


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="liveclass")
@click.option("-v", "--verbose", count=True, help="Log API retries (-v) or every request (-vv) to stderr.")
@click.option("--env-file", type=click.Path(dir_okay=False), default=None,
              help="Read settings from this file (default: ./.env when there is one); set variables win.")
@click.pass_context
def main(ctx: click.Context, verbose: int = 0, env_file: str | None = None) -> None:
    """liveclass: reporting pipeline for the 直播云 live-classroom openAPI.

    Settings come from LIVECLASS_* variables (see .env.example).
    """
    import logging

    level = {0: logging.ERROR, 1: logging.WARNING}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ctx.obj = {"env_file": env_file}


#: `liveclass run` published everything, but some data is kept from an earlier snapshot or missing.
EXIT_WARNINGS = 3


def _settings() -> Settings:
    """The settings of this invocation (notices printed), or one line and exit 2."""
    ctx = click.get_current_context()
    try:
        settings = Settings.from_env(env_file=(ctx.find_root().obj or {}).get("env_file"))
    except SettingsError as exc:
        click.echo(f"liveclass: {exc}", err=True)
        sys.exit(2)
    for notice in settings.notices:
        click.echo(f"liveclass: warning: {notice}", err=True)
    return settings


def _parse_day(ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


@main.command()
@click.option("--start", callback=_parse_day, help="First day YYYY-MM-DD (default: 7 complete days ago).")
@click.option("--end", callback=_parse_day, help="Last day YYYY-MM-DD (default: yesterday, Asia/Shanghai).")
@click.option("--full", is_flag=True, help="Ask every answer again, keeping nothing from earlier extractions "
              "(default: a day extracted before asks only for what can have changed, LIVECLASS_SETTLE_HOURS).")
@click.option("--full-warehouse", is_flag=True, help="Rebuild the warehouse from the whole lake (default: bring "
              "the published warehouse up to date for the days whose lake files changed).")
@click.option("--tenant", "tenant", default=None, metavar="NAME",
              help="With a tenant registry (LIVECLASS_TENANTS): run this tenant only (default: every tenant).")
@click.option("--jobs", default=2, show_default=True, type=click.IntRange(1, 64),
              help="With a tenant registry: tenants run at once (one process each).")
def run(start: date | None, end: date | None, full: bool, full_warehouse: bool, tenant: str | None,
        jobs: int) -> None:
    """Extract the window's days, build the lake, publish the warehouse.

    Uses LIVECLASS_BASE_URL / LIVECLASS_APP_ID / LIVECLASS_SECRET, or the
    embedded sandbox when LIVECLASS_BASE_URL is not set; with a tenant registry
    (LIVECLASS_TENANTS) every tenant in its own process and folders.  Exit codes:
    0 published, 1 failed (nothing or not everything published; with tenants: any
    tenant), 2 bad configuration (nothing written), 3 published with warnings
    (printed: data kept from an earlier snapshot).
    """
    import time

    from pipeline.run import ConfigError, run_tenants, run_window

    settings = _settings()
    if tenant is not None or settings.tenants:
        if tenant is None:  # every tenant, each in its own process: one's failure or slowness holds no other
            options = [*(["--start", start.isoformat()] if start else []), *(["--end", end.isoformat()] if end else []),
                       *(["--full"] if full else []), *(["--full-warehouse"] if full_warehouse else [])]
            env_file = (click.get_current_context().find_root().obj or {}).get("env_file")
            sys.exit(run_tenants(settings, options, jobs=jobs, env_file=env_file, echo=click.echo))
        try:
            settings = settings.for_tenant(settings.tenant_named(tenant))
        except SettingsError as exc:
            click.echo(f"liveclass: {exc}", err=True)
            sys.exit(2)
    tty = sys.stdout.isatty()
    shown = {"status": False, "at": 0.0}

    def echo(line: str) -> None:  # a finished step: clear the status line first
        if shown["status"]:
            click.echo("\r\033[K", nl=False)
            shown["status"] = False
        click.echo(line)

    def progress(line: str) -> None:  # within a day: one status line rewritten (a line every 10 s if not a terminal)
        if tty:
            click.echo(f"\r\033[K{line[:200]}", nl=False)
            shown["status"] = True
        elif time.monotonic() - shown["at"] >= 10:
            shown["at"] = time.monotonic()
            click.echo(line)

    try:
        summary = run_window(settings, start, end, echo=echo, progress=progress, full=full,
                             full_warehouse=full_warehouse)
    except ConfigError as exc:
        click.echo(f"liveclass: {exc}", err=True)
        sys.exit(2)
    if summary.warehouse is not None:
        click.echo("")
        click.echo(f"Warehouse: {summary.warehouse}")
        width = max((len(m) for m in summary.mart_rows), default=28)
        for mart, rows in summary.mart_rows.items():
            click.echo(f"  {mart:<{width}} {rows:>8} rows")
        if summary.feeds is not None:
            click.echo(f"Feeds:     {summary.feeds}/  (manifest.json, CSV/JSON/Parquet per mart)")
        if summary.report is not None:
            click.echo(f"Report:    {summary.report}")
        click.echo(f"Try:  {_self_command()} query \"SELECT lesson_date, lessons, attendance_rate "
                   "FROM mart_daily_overview ORDER BY lesson_date\"")
    failed = [d.day for d in summary.days if not d.success]
    if failed:
        click.echo(f"liveclass: {len(failed)} day(s) failed: {', '.join(failed)}; nothing was published, so the "
                   "warehouse, feeds and report still hold the previous data. Run the same command again once "
                   "the cause is fixed: failed days are asked again in full.", err=True)
    for warning in summary.warnings:
        click.echo(f"liveclass: warning: {warning}", err=True)
    if not summary.success:
        sys.exit(1)
    if summary.warnings:
        sys.exit(EXIT_WARNINGS)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("dagster_args", nargs=-1, type=click.UNPROCESSED)
def dev(dagster_args: tuple[str, ...]) -> None:
    """Open the Dagster UI (and its daemon) on this project's assets.

    Prepares DAGSTER_HOME (./dagster_home unless set; the shipped instance configuration is
    copied there on first use), then runs `dagster dev -m pipeline.definitions` with the same
    settings as `liveclass run`.  Without LIVECLASS_BASE_URL every run uses the embedded sandbox.
    Arguments after `--` go to dagster dev (e.g. `liveclass dev -- -p 3001`).
    """
    import os
    import shutil
    from pathlib import Path

    from pipeline.core import settings as env_names
    from pipeline.run import ensure_instance_home

    settings = _settings()
    home = ensure_instance_home(settings.dagster_home)
    env = dict(os.environ)
    env_file = (click.get_current_context().find_root().obj or {}).get("env_file")
    if env_file:  # dagster dev reads ./.env itself; an explicit --env-file reaches it as variables
        from pipeline.core.settings import read_env_file

        env = {**read_env_file(Path(env_file))[0], **env}
    env[env_names.DAGSTER_HOME] = str(home)
    env[env_names.DATA_DIR] = str(settings.data_dir)  # resolved here, whatever folder dagster runs in
    dagster = Path(sys.executable).with_name("dagster")
    command = str(dagster) if dagster.exists() else (shutil.which("dagster") or "dagster")
    platform = "the embedded sandbox (synthetic school)" if settings.uses_sandbox else settings.base_url
    click.echo(f"Dagster UI on {platform}: data in {settings.data_dir}, runs in {home}")
    os.execve(command, [command, "dev", "-m", "pipeline.definitions", *dagster_args], env)


@main.command()
@click.option("--start", callback=_parse_day, help="First day to look at (default: 3 complete days ago).")
@click.option("--end", callback=_parse_day, help="Last day to look at (default: yesterday, Asia/Shanghai).")
def probe(start: date | None, end: date | None) -> None:
    """Find out which reading of the document the platform follows (read-only calls).

    Prints one line per reading (value, evidence, whether decided or the default kept) and
    writes the platform profile (platform.json in the data directory) that `liveclass run`
    and the Dagster assets use.
    """
    from datetime import timedelta

    from pipeline.run import ConfigError, api_environment, check_api, probe_platform, resolve_window

    settings = _settings()
    try:
        if start is None and end is None:
            from pipeline.core.calendar import today

            end = today() - timedelta(days=1)
            start = end - timedelta(days=2)
        days = resolve_window(start, end, settings.start_date)
        with api_environment(settings, click.echo) as (settings, _url):
            check_api(settings, days[-1])
            click.echo(f"Probing {settings.base_url} over {days[0]} .. {days[-1]}:")
            probe_platform(settings, days, click.echo)
    except ConfigError as exc:
        click.echo(f"liveclass: {exc}", err=True)
        sys.exit(2)


class _SqlCommand(click.Command):
    """A command whose SQL argument may start with a ``--`` comment.

    Click would take ``"-- by day\\nSELECT ..."`` for an option; an argument that starts with ``-``
    and holds whitespace cannot be an option, so it is passed after ``--`` (unless it is the value
    of an option, or the user already wrote ``--``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            takes_value = {o for p in self.params if isinstance(p, click.Option) and not p.is_flag
                           for o in (*p.opts, *p.secondary_opts)}
            sql = [i for i, a in enumerate(args) if a.startswith("-") and a != "-" and any(c.isspace() for c in a)
                   and (i == 0 or args[i - 1] not in takes_value)]
            if sql:
                args = [a for i, a in enumerate(args) if i not in sql] + ["--"] + [args[i] for i in sql]
        return super().parse_args(ctx, args)


#: `liveclass query` / `liveclass feeds`: the command could not run as asked (nothing or not everything
#: was run): bad SQL, no warehouse, or the warehouse is locked by another program.  Same code as bad usage.
EXIT_INPUT = 2


@main.command(cls=_SqlCommand)
@click.argument("sql", required=False)
@click.option("-f", "--file", "sql_file", type=click.File("r", encoding="utf-8-sig"), default=None,
              help="Read the SQL from this file (- for standard input).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="table rounds floats to 4 decimals for display; csv and json keep every value exact.")
@click.option("--warehouse", "path", default=None,
              help="Warehouse file (default: $LIVECLASS_WAREHOUSE, else warehouse.duckdb in the data directory).")
def query(sql: str | None, sql_file, fmt: str, path: str | None) -> None:
    """Run read-only SQL against the published warehouse.

    SQL is the argument, `-` (read from standard input) or `-f FILE.sql`; it may start with a
    `-- comment` and hold several statements, run in order, each result printed (table: one box
    each; csv: a blank line between results; json: one array per line).  Exit codes: 0 done,
    1 a statement failed while running (e.g. a conversion error, out of memory), 2 nothing run
    or a statement refused: bad usage or SQL (DuckDB's message and hints printed), no
    warehouse, or the warehouse held open read-write by another program (its PID printed).
    """
    from pathlib import Path

    import duckdb

    from warehouse.readers import WarehouseLockedError, connect_readonly

    if (sql is None) == (sql_file is None):
        raise click.UsageError("give the SQL as an argument, - to read it from standard input, or -f FILE.sql")
    if sql_file is not None:
        sql = sql_file.read()
    elif sql == "-":
        sql = sys.stdin.read()
    settings = _settings()
    wh = Path(path) if path else (settings.warehouse or settings.dirs.warehouse)
    if not wh.exists():
        click.echo(f"liveclass: no warehouse at {wh}; run `liveclass run` first.", err=True)
        sys.exit(EXIT_INPUT)
    try:
        con = connect_readonly(wh)
    except WarehouseLockedError as exc:
        click.echo(f"liveclass: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    try:
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            _sql_error(exc, None)
        if not statements:
            click.echo("liveclass: no SQL statement to run.", err=True)
            sys.exit(EXIT_INPUT)
        shown = 0
        for number, statement in enumerate(statements, 1):
            try:
                rel = con.sql(statement.query)
                if rel is None or rel.columns == ["Success"]:  # SET, USE, BEGIN ...: nothing to show
                    continue
                if fmt == "table":  # DuckDB's box, which ends with a blank line
                    sys.stdout.flush()
                    _rounded_for_display(rel).show(max_rows=200, max_width=200)
                else:
                    out = _render(rel.columns, rel.fetchall(), fmt)
                    click.echo(("\n" if shown and fmt == "csv" else "") + out, nl=False)
                shown += 1
            except duckdb.Error as exc:
                _sql_error(exc, number if len(statements) > 1 else None)
    finally:
        con.close()


def _rounded_for_display(rel):
    """``rel`` with its DOUBLE/FLOAT columns rounded to 4 decimals (tiny values kept), for the table view."""
    floats = {i for i, t in enumerate(rel.types) if str(t) in ("DOUBLE", "FLOAT")}
    if not floats:
        return rel
    exprs = []
    for i, name in enumerate(rel.columns):
        alias = '"' + name.replace('"', '""') + '"'
        col = f"#{i + 1}"
        exprs.append(f"CASE WHEN abs({col}) < 0.0001 THEN {col} ELSE round({col}, 4) END AS {alias}"
                     if i in floats else f"{col} AS {alias}")
    return rel.project(", ".join(exprs))


def _sql_error(exc: Exception, number: int | None):
    """DuckDB's message (with its hints: "Did you mean ...", the caret under the error) and exit 2 for
    a statement DuckDB refused (syntax, unknown names, writes to the read-only warehouse), 1 for one
    that failed while running."""
    import duckdb

    where = f"statement {number}: " if number else ""
    lines = [line.rstrip() for line in str(exc).strip().splitlines()]
    click.echo(f"liveclass: {where}" + "\n".join(lines[:12]), err=True)
    sys.exit(EXIT_INPUT if isinstance(exc, duckdb.ProgrammingError) else 1)


def _published_warehouse():
    dirs = _settings().dirs
    if not dirs.warehouse.exists():
        click.echo(f"liveclass: no warehouse at {dirs.warehouse}; run `liveclass run` first.", err=True)
        sys.exit(2)
    return dirs, dirs.warehouse


@main.command()
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="zh also writes <mart>.zh.csv with Chinese headers and labels, for Excel.")
def feeds(lang: str) -> None:
    """Write the dashboard feeds (CSV/JSON/Parquet + manifest.json) from the published warehouse.

    One file per mart, so one grain per file; floats rounded to 4 places in CSV and JSON.
    Exit codes: 0 written, 2 nothing written: no warehouse, or the warehouse held open read-write
    by another program (its PID printed).
    """
    from assets.publish.feeds import write_feeds
    from warehouse.readers import WarehouseLockedError

    dirs, wh = _published_warehouse()
    try:
        r = write_feeds(wh, dirs.root, lang=lang)
    except WarehouseLockedError as exc:
        click.echo(f"liveclass: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    for mart, rows in r.rows.items():
        click.echo(f"  {mart:<28} {rows:>8} rows")
    click.echo(f"Feeds: {r.path}/  ({r.bytes:,} bytes, {r.seconds:.1f}s)")


@main.command()
@click.option("--days", type=click.IntRange(1, 366), default=None,
              help="Days of lessons in the page, ending at the newest lesson_date  [default: 140, a term].")
@click.option("--period", default=None, metavar="PERIOD",
              help="Open on one period and embed only it and the one before: 2026-11, 2026-W48, 2026秋 or "
                   "2026-11-01..2026-11-30.")
@click.option("--class", "class_", default=None, metavar="CLASS", help="Only this class (its id or exact name).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where to write  [default: report/index.html; with --period/--class report/<period>_<class>.html].")
def report(days: int | None, period: str | None, class_: str | None, out: str | None) -> None:
    """Write the self-contained HTML report from the published warehouse (exit codes as feeds)."""
    import re
    from pathlib import Path

    from assets.publish.assets import data_notes
    from assets.publish.report import DEFAULT_DAYS, build_report
    from warehouse.readers import WarehouseLockedError

    dirs, wh = _published_warehouse()
    if out is None:
        out = dirs.report
        if period or class_:
            slug = "_".join(re.sub(r"[^\w.-]+", "-", v) for v in (period, class_) if v)
            out = dirs.report.with_name(f"{slug}.html")
    out = Path(out)
    try:
        r = build_report(wh, out, days=days or DEFAULT_DAYS, notes=data_notes(dirs), period=period, class_=class_)
    except WarehouseLockedError as exc:
        click.echo(f"liveclass: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"Report: {r.path}  ({r.bytes:,} bytes, window {r.window[0]} .. {r.window[1]}, {r.seconds:.1f}s)")


def _self_command() -> str:
    """How the user can call us again: ``liveclass`` when it is on PATH, else the path they used."""
    import os
    import shutil

    argv0 = sys.argv[0]
    if os.path.basename(argv0) != "liveclass" or shutil.which("liveclass") == os.path.abspath(argv0):
        return "liveclass"
    rel = os.path.relpath(argv0)
    return argv0 if rel.startswith("..") else rel


def _render(columns: list[str], rows: list[tuple], fmt: str) -> str:
    """CSV or JSON text of a result, every value exact: integer types kept (DuckDB's HUGEINT sums too),
    floats as their shortest exact repr, DECIMALs with all their digits (JSON numbers), ISO dates."""
    import csv
    import io
    import json
    import os
    from decimal import Decimal

    decimals: list[str] = []
    mark = os.urandom(6).hex()

    def plain(v):
        if isinstance(v, Decimal):
            if v.is_finite() and v == v.to_integral_value():
                return int(v)
            if fmt == "json" and v.is_finite():  # a placeholder, replaced by the number's digits below
                decimals.append(str(v))
                return f"{mark}:{len(decimals) - 1}"
            return str(v)
        if hasattr(v, "isoformat"):
            return v.isoformat()
        return v

    if fmt == "json":
        text = json.dumps([{c: plain(v) for c, v in zip(columns, row)} for row in rows], ensure_ascii=False)
        if decimals:
            import re

            text = re.sub(f'"{mark}:(\\d+)"', lambda m: decimals[int(m[1])], text)
        return text + "\n"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[plain(v) for v in row] for row in rows])
    return buf.getvalue()


main.add_command(sandbox)


if __name__ == "__main__":
    main()
