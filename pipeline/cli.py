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
def run(start: date | None, end: date | None) -> None:
    """Extract the window's days, build the lake, publish the warehouse.

    Uses LIVECLASS_BASE_URL / LIVECLASS_APP_ID / LIVECLASS_SECRET, or the
    embedded sandbox when LIVECLASS_BASE_URL is not set.  Exit codes: 0 published,
    1 failed (nothing or not everything published), 2 bad configuration (nothing
    written), 3 published with warnings (printed: data kept from an earlier snapshot).
    """
    from pipeline.run import ConfigError, run_window

    settings = _settings()
    try:
        summary = run_window(settings, start, end, echo=click.echo)
    except ConfigError as exc:
        click.echo(f"liveclass: {exc}", err=True)
        sys.exit(2)
    if summary.warehouse is not None:
        click.echo("")
        click.echo(f"Warehouse: {summary.warehouse}")
        for mart, rows in summary.mart_rows.items():
            click.echo(f"  {mart:<28} {rows:>8} rows")
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


@main.command()
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--warehouse", "path", default=None,
              help="Warehouse file (default: $LIVECLASS_WAREHOUSE, else warehouse.duckdb in the data directory).")
def query(sql: str, fmt: str, path: str | None) -> None:
    """Run read-only SQL against the published warehouse."""
    from pathlib import Path

    import duckdb

    from warehouse.build import connect_readonly

    settings = _settings()
    wh = Path(path) if path else (settings.warehouse or settings.dirs.warehouse)
    if not wh.exists():
        click.echo(f"liveclass: no warehouse at {wh}; run `liveclass run` first.", err=True)
        sys.exit(2)
    con = connect_readonly(wh)
    try:
        rel = con.sql(sql)
        if rel is None:
            return
        if fmt == "table":
            rel.show(max_rows=200, max_width=200)
        else:
            click.echo(_render(rel.columns, rel.fetchall(), fmt), nl=False)
    except duckdb.Error as exc:
        click.echo(f"liveclass: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)
    finally:
        con.close()


def _published_warehouse():
    dirs = _settings().dirs
    if not dirs.warehouse.exists():
        click.echo(f"liveclass: no warehouse at {dirs.warehouse}; run `liveclass run` first.", err=True)
        sys.exit(2)
    return dirs, dirs.warehouse


@main.command()
def feeds() -> None:
    """Write the dashboard feeds (CSV/JSON/Parquet + manifest.json) from the published warehouse."""
    from assets.publish.feeds import write_feeds

    dirs, wh = _published_warehouse()
    r = write_feeds(wh, dirs.root)
    for mart, rows in r.rows.items():
        click.echo(f"  {mart:<28} {rows:>8} rows")
    click.echo(f"Feeds: {r.path}/  ({r.bytes:,} bytes, {r.seconds:.1f}s)")


@main.command()
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True,
              help="Days in the window, ending at the newest lesson_date in the warehouse.")
def report(days: int) -> None:
    """Write the self-contained HTML report from the published warehouse."""
    from assets.publish.assets import data_notes
    from assets.publish.report import build_report

    dirs, wh = _published_warehouse()
    r = build_report(wh, dirs.report, days=days, notes=data_notes(dirs))
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
    """CSV or JSON text of a result, keeping integer types (DuckDB's HUGEINT sums too) and ISO dates."""
    import csv
    import io
    import json
    from decimal import Decimal

    def plain(v):
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else float(v)
        if hasattr(v, "isoformat"):
            return v.isoformat()
        return v

    if fmt == "json":
        return json.dumps([{c: plain(v) for c, v in zip(columns, row)} for row in rows], ensure_ascii=False) + "\n"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[plain(v) for v in row] for row in rows])
    return buf.getvalue()


main.add_command(sandbox)


if __name__ == "__main__":
    main()
