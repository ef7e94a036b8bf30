"""`dcp reveal`: decrypt the encrypted copy of a table as a persona (KMS decides; only ml-training may)."""

from __future__ import annotations

import click

from dcp.cli import App, UsageFailure, pass_app
from dcp.config import UnknownPersonaError


@click.command()
@click.option(
    "--persona",
    default="ml-training",
    show_default=True,
    metavar="NAME",
    help="Whose role reads and decrypts.",
)
@click.argument("table")
@click.option("--limit", type=click.IntRange(1), default=10, show_default=True, help="Rows to print.")
@pass_app
def reveal(app: App, persona: str, table: str, limit: int) -> None:
    """Print TABLE's encrypted copy decrypted with PERSONA's KMS rights (plaintext: use with care)."""
    from dcp.pipeline.reveal import reveal_as

    try:
        app.settings.persona(persona)
    except UnknownPersonaError as exc:
        raise UsageFailure(str(exc)) from None
    if table not in app.settings.source.tables:
        raise UsageFailure(f"unknown table {table!r}; tables: {', '.join(app.settings.source.tables)}")
    names = app.names
    revealed = reveal_as(app.aws, names, names.persona_role_arn(persona), table, limit=limit)
    rows = revealed.data.to_pylist()
    app.console.info(f"{persona} decrypted {', '.join(revealed.decrypted_columns) or 'no'} column(s) of {table}")
    app.console.table(f"{table} (revealed as {persona})", revealed.data.column_names, rows, key="rows")
