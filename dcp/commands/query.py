"""`dcp query`: SQL in Athena as a persona's role; Lake Formation decides what comes back."""

from __future__ import annotations

import click

from dcp.cli import App, pass_app
from dcp.commands.options import output_option
from dcp.console import set_output


@click.command()
@click.option("--persona", required=True, metavar="NAME", help="Whose role runs the query.")
@click.argument("sql")
@click.option("--database", help="Default database for unqualified table names (default: the masked one).")
@output_option
@click.option(
    "--max-rows",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Print at most this many rows.",
)
@click.option(
    "--timeout",
    type=click.IntRange(1, 3600),
    default=300,
    show_default=True,
    help="Seconds the query may run.",
)
@pass_app
def query(
    app: App, persona: str, sql: str, database: str | None, output: str | None, max_rows: int, timeout: int
) -> None:
    """Run SQL in PERSONA's Athena workgroup as PERSONA, e.g. "select * from dataset_masked.card limit 5"."""
    from dcp.pipeline.query import query_as

    if output is not None:
        set_output(output)
    app.settings.persona(persona)  # an unknown persona is a usage error, before any AWS call
    names = app.names
    result = query_as(
        app.aws,
        names.persona_role_arn(persona),
        names.persona_workgroup(persona),
        sql,
        database=database or names.masked_database,
        timeout=timeout,
        max_rows=max_rows,
    )
    app.console.info(f"{len(result.rows)} row(s) as {persona}, {result.scanned_bytes} bytes scanned")
    app.console.table(persona, list(result.columns), list(result.rows), key="rows")
