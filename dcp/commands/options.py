"""Options the commands share."""

from __future__ import annotations

import click

from dcp.console import OUTPUT_FORMATS

#: `--output` on a command (overrides the global one); the command calls console.set_output.
output_option = click.option(
    "--output",
    "output",
    type=click.Choice(OUTPUT_FORMATS),
    default=None,
    help="table, json or csv (overrides the global --output).",
)
