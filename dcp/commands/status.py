"""`dcp status`: every resource of the stack, whether it exists, its state and where it is."""

from __future__ import annotations

import click

from dcp.cli import App, pass_app
from dcp.commands.stack import load_stack, workers_option
from dcp.pipeline.status import pipeline_status
from dcp.stack.planner import read_stack

COLUMNS = ("resource", "kind", "name", "exists", "state", "where")


@click.command()
@workers_option
@pass_app
def status(app: App, workers: int) -> None:
    """Show each stack resource: exists, state (RDS available, crawler READY, ...) and ARN/URL."""
    stack = load_stack(app)
    current = read_stack(stack.resources, app.aws, workers=workers)
    rows = [
        {
            "resource": r.logical,
            "kind": r.kind,
            "name": r.physical,
            "exists": current[r.logical] is not None,
            "state": r.state(current[r.logical]),
            "where": r.where(current[r.logical]) if current[r.logical] is not None else "",
        }
        for r in stack.resources
        if not (r.retired and current[r.logical] is None)
    ]
    present = sum(1 for row in rows if row["exists"])
    sections = pipeline_status(app.aws, stack.names)
    if app.console.output == "json":  # one document: the resources and the pipeline sections
        app.console.data({"resources": rows, "pipeline": [section.to_dict() for section in sections]})
        return
    app.console.table(
        f"Stack {stack.names.prefix}: {present}/{len(rows)} resources exist", COLUMNS, rows, key="resources"
    )
    for section in sections:
        app.console.table(section.title, list(section.columns), section.rows)
