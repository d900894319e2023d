"""The ``liveclass`` command line."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="liveclass")
def main() -> None:
    """liveclass: reporting pipeline for the 直播云 live-classroom openAPI."""


def _register() -> None:
    from pipeline.sandbox.cli import sandbox

    main.add_command(sandbox)


try:  # the sandbox command group lives with the sandbox
    _register()
except ImportError:  # pragma: no cover - during bootstrap only
    pass
