"""What the pipeline commands share: the stack's names and turning stage failures into one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from dcp.cli import App, RuntimeFailure
from dcp.console import OUTPUT_FORMATS
from dcp.names import StackNames
from dcp.pipeline.errors import PipelineError

#: `--output` on a command (overrides the global one); the command calls console.set_output.
output_option = click.option(
    "--output",
    "output",
    type=click.Choice(OUTPUT_FORMATS),
    default=None,
    help="table, json or csv (overrides the global --output).",
)


def stack_names(app: App) -> StackNames:
    """Physical names for this config, account and region (no state file)."""
    return StackNames.of(app.settings, app.aws.account_id, app.aws.region)


@contextmanager
def stage_errors() -> Iterator[None]:
    """A PipelineError (timeout, failed step, refused persona) ends the command: one line, exit 1."""
    try:
        yield
    except PipelineError as exc:
        raise RuntimeFailure(str(exc)) from None


def pipeline_sections(app: App) -> list[dict[str, object]]:
    """`dcp status`'s pipeline part as JSON-ready sections ({title, rows})."""
    from dcp.pipeline.status import pipeline_status

    return [section.to_dict() for section in pipeline_status(app.aws, stack_names(app))]


def show_pipeline_status(app: App) -> None:
    """Print the pipeline part of `dcp status` as tables (table and csv output)."""
    from dcp.pipeline.status import pipeline_status

    for section in pipeline_status(app.aws, stack_names(app)):
        app.console.table(section.title, list(section.columns), section.rows)
