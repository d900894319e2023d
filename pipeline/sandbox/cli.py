"""``liveclass sandbox``: serve a local copy of the openAPI, or write its ground truth.

    liveclass sandbox [--port 8765 --seed 7 ...]           serve in the foreground
    liveclass sandbox serve [...]                          the same, explicitly
    liveclass sandbox --reading listen_time=seconds ...    play another reading of the document (repeatable)
    liveclass sandbox --rate-limit 40 ...                  HTTP 429 + Retry-After above 40 requests/s per applicationID
    liveclass sandbox truth --seed 7 --start D --end D --out DIR   (the same for every --reading)
    liveclass sandbox roster --seed 7 --out DIR [--format csv|xlsx]  the school office's roster export
    python -m pipeline.sandbox.cli serve [...]             without the console script
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from pipeline.core.calendar import TZ, TZ_NAME

from .config import DEFAULT_APP_ID, DEFAULT_SECRET, INACTIVE_APP_ID, SandboxConfig, default_burst
from .drift import normalize_mode
from .faults import parse_fault_kinds
from .readings import READINGS, parse_readings
from .runner import serve_forever


def _parse_now(value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=TZ)
        except ValueError:
            continue
    raise click.BadParameter(f"{value!r} is not 'YYYY-mm-dd HH:ii[:ss]'", param_hint="--now")


def _parse_kinds(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    try:
        return parse_fault_kinds(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _parse_reading(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    try:
        return parse_readings(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


_READING_HELP = ("How the platform reads a point the document leaves open (repeatable; the first value is the "
                 "default): " + "; ".join(f"{k}={'|'.join(v)}" for k, v in READINGS.items())
                 + ". See docs/sandbox.md.")


def _reading_option(help_text: str = _READING_HELP):
    return click.option("--reading", "readings", multiple=True, metavar="KEY=VALUE", callback=_parse_reading,
                        help=help_text)


def _serve_options(fn):
    opts = [
        click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default)."),
        click.option("--port", default=8765, show_default=True, type=int, help="Port; 0 picks a free one."),
        click.option("--seed", default=7, show_default=True, type=int, help="Seed of the synthetic school."),
        click.option("--app-id", default=DEFAULT_APP_ID, show_default=True, help="applicationID to accept."),
        click.option("--secret", default=DEFAULT_SECRET, show_default=True,
                     help="Secret of that application (sandbox-only credentials)."),
        click.option("--lessons-per-day", default=40, show_default=True, type=click.IntRange(1, 999)),
        click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(0),
                     help="Added latency per request (+-50% jitter)."),
        click.option("--fault-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
                     help="Share of requests that fail (HTTP 5xx/429, 50000, slow, reset, truncated; "
                     "see --fault-kinds)."),
        click.option("--fault-kinds", default="", metavar="KIND[,KIND...]", callback=_parse_kinds,
                     help="The fault mix (default: the 8 kinds of --fault-rate). Opt-in kinds that answer "
                     "wrongly: swap (another request's answer), nodata, implausible, oversized (over 20 MB); "
                     "'default' and 'all' expand, e.g. --fault-kinds default,swap."),
        click.option("--slow-seconds", default=35.0, show_default=True, type=click.FloatRange(0),
                     help="Delay of the 'slow' fault."),
        click.option("--retry-after", default=1, show_default=True, type=click.IntRange(0),
                     help="Retry-After seconds of the HTTP 429 fault."),
        click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(0),
                     help="Seconds a client has to send a request's headers before the connection is closed "
                     "(0: no limit)."),
        click.option("--convert-seconds", default=3.0, show_default=True, type=click.FloatRange(0),
                     help="Courseware conversion time (API 6/7)."),
        click.option("--now", "now", default=None, help=f"Simulated clock 'YYYY-mm-dd HH:ii[:ss]' ({TZ_NAME}); "
                     "default: the wall clock."),
        click.option("--drift", type=click.Choice(["off", "harmless", "harmful"]), default="off", is_flag=False,
                     flag_value="harmless", show_default=True,
                     help="Schema drift: harmless (extra fields, numbers as strings, optional fields omitted; "
                     "--drift alone) or harmful (also values that would change the numbers)."),
        click.option("--log-level", default="warning", show_default=True,
                     type=click.Choice(["critical", "error", "warning", "info", "debug"])),
        _reading_option(),
        click.option("--rate-limit", default=0.0, show_default=True, type=click.FloatRange(0, max_open=True, max=1e9),
                     metavar="N", help="Requests per second per applicationID; above it HTTP 429 with Retry-After "
                     "(decimal seconds), as an API gateway answers (0: no limit). See docs/sandbox.md."),
        click.option("--rate-limit-burst", default=0, show_default=True, type=click.IntRange(0), metavar="B",
                     help="Requests --rate-limit accepts at once (0: a quarter second's worth, max(1, ceil(N/4)))."),
        click.option("--late-hours", default=0.0, show_default=True, type=click.FloatRange(0, 720, max_open=True),
                     metavar="H", help="Late data: --late-share of lessons get one student's attendance and one star "
                     "award up to H hours after they end (0: all data at once). See docs/sandbox.md."),
        click.option("--late-share", default=0.3, show_default=True, type=click.FloatRange(0, 1), metavar="S",
                     help="The share of lessons with late data (with --late-hours)."),
        click.option("--tenant", "tenants", multiple=True, metavar="APP_ID:SECRET:SEED[:LESSONS]",
                     help="Serve a further institution at the same URL (repeatable): its applicationID, secret "
                     "and school (seed, lessons per day, default 40)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _config(kw: dict) -> SandboxConfig:
    try:
        return _make_config(kw)
    except ValueError as exc:  # a tenant that does not read, an applicationID used twice
        raise click.BadParameter(str(exc), param_hint="--tenant") from None


def _make_config(kw: dict) -> SandboxConfig:
    return SandboxConfig(
        host=kw["host"], port=kw["port"], seed=kw["seed"], app_id=kw["app_id"], secret=kw["secret"],
        lessons_per_day=kw["lessons_per_day"], latency_ms=kw["latency_ms"], fault_rate=kw["fault_rate"],
        slow_seconds=kw["slow_seconds"], retry_after=kw["retry_after"], now=_parse_now(kw["now"]),
        drift=normalize_mode(kw["drift"]) or False, convert_seconds=kw["convert_seconds"], log_level=kw["log_level"],
        fault_kinds=kw["fault_kinds"], header_timeout=kw["header_timeout"], readings=kw["readings"],
        rate_limit=kw["rate_limit"], rate_limit_burst=kw["rate_limit_burst"], late_hours=kw["late_hours"],
        late_share=kw["late_share"], tenants=tuple(kw["tenants"]),
    )


def _serve(config: SandboxConfig) -> None:
    def ready(base_url: str) -> None:
        clock = config.now.strftime("%Y-%m-%d %H:%M:%S") if config.now else "wall clock"
        click.echo(f"liveclass sandbox (seed {config.seed}, {config.lessons_per_day} lessons/day, now: {clock})")
        click.echo(f"base URL: {base_url}")
        click.echo(f"applicationID: {config.app_id}")
        click.echo(f"secret: {config.secret}")
        click.echo(f"(sandbox-only credentials; {INACTIVE_APP_ID} is a built-in inactive application)")
        if config.fault_rate or config.latency_ms:
            click.echo(f"faults: rate {config.fault_rate}, latency {config.latency_ms} ms, slow {config.slow_seconds} s")
        if config.fault_kinds:
            click.echo(f"fault kinds: {', '.join(config.fault_kinds)}")
        if config.readings:
            click.echo("readings: " + ", ".join(f"{k}={v}" for k, v in config.readings.items()))
        for tenant in config.tenants:
            click.echo(f"tenant: applicationID {tenant.app_id}, secret {tenant.secret}, seed {tenant.seed}, "
                       f"{tenant.lessons_per_day} lessons/day")
        if config.rate_limit:
            burst = config.rate_limit_burst or default_burst(config.rate_limit)
            click.echo(f"rate limit: {config.rate_limit:g} requests/s per applicationID, burst {burst} "
                       "(HTTP 429 + Retry-After above it)")
        sys.stdout.flush()

    serve_forever(config, on_ready=ready)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@_serve_options
@click.pass_context
def sandbox(ctx: click.Context, **kw) -> None:
    """Serve a local, faithful copy of the 直播云 openAPI (all 35 endpoints) on loopback.

    Without a subcommand it serves in the foreground and prints the base URL,
    applicationID and secret to use.  The data come from a deterministic
    synthetic school: the same --seed and --now answer byte-identically.
    Subcommands: `serve` (the same, explicitly), `truth` (write the ground
    truth as Parquet) and `roster` (write the roster as the school office
    exports it).
    """
    if ctx.invoked_subcommand is None:
        _serve(_config(kw))


@sandbox.command("serve")
@_serve_options
def serve(**kw) -> None:
    """Serve in the foreground (same options as `liveclass sandbox`)."""
    _serve(_config(kw))


@sandbox.command("truth")
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--start", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-mm-dd).")
@click.option("--end", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (YYYY-mm-dd).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--lessons-per-day", default=40, show_default=True, type=click.IntRange(1, 999))
@click.option("--now", "now", default=None, help="Simulated clock 'YYYY-mm-dd HH:ii[:ss]'; default: the wall clock.")
@_reading_option("Accepted (and checked) so a script can pass the server's --reading flags; changes nothing: "
                 "a reading changes what the API says, never what happened in the classroom.")
def truth(seed: int, start: datetime, end: datetime, out: str, lessons_per_day: int, now: str | None,
          readings: dict[str, str]) -> None:
    """Write the school's ground truth for [start, end] as Parquet and print rows per table.

    The truth is the same for every --reading.
    """
    from .school import School
    from .truth import write_truth

    school = School(seed=seed, lessons_per_day=lessons_per_day, now=_parse_now(now))
    result = write_truth(school, start.date(), end.date(), Path(out))
    if isinstance(result, dict):
        for table, rows in result.items():
            click.echo(f"{table}: {rows if isinstance(rows, int) else rows}")
    elif result is not None:
        click.echo(str(result))
    click.echo(f"written to {out}")


@sandbox.command("roster")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the synthetic school.")
@click.option("--lessons-per-day", default=40, show_default=True, type=click.IntRange(1, 999))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True,
              help="csv: UTF-8 with BOM (Excel's 'CSV UTF-8'); xlsx: an Excel workbook per file.")
@click.option("--now", "now", default=None,
              help="The export's clock 'YYYY-mm-dd HH:ii[:ss]' (its term and problems); default: the wall clock.")
def roster(seed: int, lessons_per_day: int, out: str, fmt: str, now: str | None) -> None:
    """Write the school's roster as its office exports it: students, teachers, courses (Chinese headers).

    The students file has a few deliberate problems (a student who left, a mistyped and a
    malformed mobile, a missing name, a duplicate row); they are printed, one a line:
    file, spreadsheet row, column, problem, user id.  See docs/sandbox.md.
    """
    from .school import School
    from .truth import write_roster

    school = School(seed=seed, lessons_per_day=lessons_per_day, now=_parse_now(now))
    export = write_roster(school, Path(out), fmt)
    for f in export.files.values():
        click.echo(f"{f.name}: {len(f.rows)} rows")
    click.echo(f"term {export.term}, day {export.day.isoformat()}; deliberate problems:")
    for p in export.problems:
        click.echo(f"  {p.file} row {p.row} {p.column}: {p.problem} (user {p.user_id if p.user_id else '-'})")
    click.echo(f"written to {out}")


if __name__ == "__main__":  # python -m pipeline.sandbox.cli serve ...
    sandbox(prog_name="liveclass sandbox")
