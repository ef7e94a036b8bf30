"""`dcp config schema|check`: the JSON Schema of config.yaml, and a check of the file without AWS."""

from __future__ import annotations

import click

from dcp.cli import App, pass_app


@click.group()
def config() -> None:
    """config.yaml: its JSON Schema (for editors) and a check of the file."""


@config.command()
def schema() -> None:
    """Print the JSON Schema of config.yaml (config.schema.json in the repository is this output)."""
    from dcp.config import config_schema_json

    click.echo(config_schema_json(), nl=False)


@config.command()
@pass_app
def check(app: App) -> None:
    """Validate the config file (every problem, with its line; exit 2) without any AWS call."""
    settings = app.settings
    if app.console.machine:
        app.console.data({"path": settings.path, "valid": True, "prefix": settings.prefix})
        return
    app.console.success(f"{settings.path}: valid (prefix {settings.prefix}, endpoint {settings.endpoint})")
