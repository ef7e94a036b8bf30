"""`dcp audit`: each persona tries, as itself, what it must and must not do; exit 1 on any surprise."""

from __future__ import annotations

import click

from dcp.cli import App, RuntimeFailure, pass_app
from dcp.commands.options import output_option
from dcp.console import set_output


@click.command()
@output_option
@click.option(
    "--timeout",
    type=click.IntRange(1, 3600),
    default=120,
    show_default=True,
    help="Seconds each Athena query may run.",
)
@pass_app
def audit(app: App, output: str | None, timeout: int) -> None:
    """Try, as every persona: read a raw object, query each zone, read another persona's results,
    decrypt the data key, change the key policy. Print the actual matrix next to the intended one
    (from config.yaml's personas) and exit 1 on any difference."""
    from dcp.pipeline.audit import CHECKS, differences, matrix, run_audit, to_json

    if output is not None:
        set_output(output)
    names = app.names
    rows = run_audit(app.aws, names, timeout=timeout)
    diffs = differences(rows)
    console = app.console
    if console.output == "json":
        console.data(to_json(rows))
    else:
        columns = ["persona", *CHECKS]
        intended: dict[str, dict[str, str]] = {}
        for r in rows:
            intended.setdefault(r.persona, {"persona": r.persona})[r.check] = r.expected
        console.table("intended (config.yaml)", columns, list(intended.values()))
        console.table("actual (tried as each persona)", columns, matrix(rows))
    for r in diffs:
        console.error(r.difference())
    if diffs:
        raise RuntimeFailure(f"{len(diffs)} difference(s) between the intended and the actual access matrix")
    console.success(f"every persona can do exactly what config.yaml intends ({len(rows)} checks)")
