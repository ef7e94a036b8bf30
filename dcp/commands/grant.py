"""`dcp grant`: LF-tags on the lake from the findings, and each persona's LF-tag grants."""

from __future__ import annotations

import click

from dcp.cli import App, UsageFailure, pass_app
from dcp.config import UnknownPersonaError


@click.command()
@click.option(
    "--persona",
    "persona_names",
    multiple=True,
    metavar="NAME",
    help="Persona to grant (repeatable); see lakeformation.personas in config.",
)
@click.option("--all", "all_personas", is_flag=True, help="Every persona in config.")
@click.option("--revoke", is_flag=True, help="Revoke the persona's grants instead.")
@pass_app
def grant(app: App, persona_names: tuple[str, ...], all_personas: bool, revoke: bool) -> None:
    """Tag databases, tables and columns (zone, sensitivity) and grant personas their LF-tag expressions.

    Idempotent: what is already in place is not sent again.
    """
    from dcp.pipeline.grant import grant_persona, grants_table, load_findings, tag_catalog

    settings = app.settings
    if not persona_names and not all_personas:
        valid = ", ".join(settings.lakeformation.personas)
        raise UsageFailure(f"name a persona with --persona NAME or use --all; personas: {valid}")
    try:
        personas = (
            list(settings.lakeformation.personas.values())
            if all_personas
            else [settings.persona(n) for n in persona_names]
        )
    except UnknownPersonaError as exc:
        raise UsageFailure(str(exc)) from None
    names = app.names
    console = app.console
    if not revoke:
        findings = load_findings(app.aws, names)
        if not findings:
            console.warn("no findings delivered yet: every column is tagged public (run `dcp scan --wait`)")
        tagging = tag_catalog(app.aws, names, findings)
        console.info(
            f"LF-tags: {len(tagging.applied)} assignment(s) made, "
            f"{len(tagging.unchanged_tables)} table(s) already tagged"
        )
    rows = []
    for persona in personas:
        result = grant_persona(app.aws, names, persona, revoke=revoke)
        verb = "revoked" if revoke else "granted"
        changed = {(g.resource_type, g.expression) for g in result.changed}
        shown = result.changed if revoke else result.current
        for row, g in zip(
            grants_table(shown), sorted(shown, key=lambda g: (g.expression, g.resource_type)), strict=True
        ):
            rows.append(
                {
                    "persona": persona.name,
                    **row,
                    "change": verb if (g.resource_type, g.expression) in changed else "in place",
                }
            )
        if not shown:
            rows.append(
                {
                    "persona": persona.name,
                    "on": "",
                    "expression": "",
                    "permissions": "",
                    "change": "nothing to revoke" if revoke else "none",
                }
            )
    console.table("Lake Formation grants", ["persona", "on", "expression", "permissions", "change"], rows, key="grants")
