"""`dcp seed`: Faker rows for the source tables, written through the in-VPC seed Lambda."""

from __future__ import annotations

from collections.abc import Callable

import click
from rich.progress import Progress, TaskID

from dcp.cli import App, UsageFailure, pass_app


def parse_tables(value: str | None, configured: tuple[str, ...]) -> list[str]:
    """--tables as a list: distinct names from source.tables; absent means all of them."""
    if value is None:
        return list(configured)
    tables = [t.strip() for t in value.split(",")]
    valid = f"source.tables are: {', '.join(configured)}"
    if not any(tables) or "" in tables:
        raise UsageFailure(f"--tables {value!r} names an empty table; give a comma-separated list ({valid})")
    unknown = [t for t in tables if t not in configured]
    if unknown:
        raise UsageFailure(f"unknown table(s) {', '.join(unknown)}; {valid}")
    repeated = sorted({t for t in tables if tables.count(t) > 1})
    if repeated:
        raise UsageFailure(f"--tables names {', '.join(repeated)} more than once; name each table once")
    return tables


def _advancer(progress: Progress, task: TaskID) -> Callable[[int], None]:
    return lambda n: progress.advance(task, n)


@click.command()
@click.option("--rows", type=click.IntRange(1, 50_000_000), default=200, show_default=True, help="Rows per table.")
@click.option(
    "--seed",
    "seed_value",
    type=int,
    default=42,
    show_default=True,
    help="Faker seed: the same rows and seed give the same data.",
)
@click.option("--tables", help="Comma-separated tables (default: source.tables from config).")
@click.option(
    "--update-fraction",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=None,
    help="Instead of reseeding: update this fraction of the rows with new values, delete "
    "half as many and insert a quarter as many (exercises CDC).",
)
@pass_app
def seed(app: App, rows: int, seed_value: int, tables: str | None, update_fraction: float | None) -> None:
    """Fill the source database with reproducible Faker data (customer, bank, card)."""
    from dcp.pipeline.seed import SeedClient, seed_tables, stage_changes, stage_seed

    chosen = parse_tables(tables, app.settings.source.tables)
    names = app.names
    client = SeedClient(app.aws, names.seed_lambda)
    with app.console.progress() as progress:
        if update_fraction is None:
            tasks = {t: progress.add_task(f"seed {t}", total=rows, status="") for t in chosen}
            results = seed_tables(
                client,
                chosen,
                lambda t: stage_seed(client, t, rows, seed_value, _advancer(progress, tasks[t])),
                replace=True,
            )
        else:
            fraction = update_fraction
            tasks = {t: progress.add_task(f"change {t}", total=None, status="") for t in chosen}
            results = seed_tables(
                client,
                chosen,
                lambda t: stage_changes(client, t, fraction, seed_value, _advancer(progress, tasks[t])),
                replace=False,
            )
        for result in results:
            done = result.inserted + result.updated + result.deleted
            progress.update(tasks[result.table], status=f"{result.total} rows", total=done, completed=done)
    app.console.table(
        "Seeded" if update_fraction is None else "Changed",
        ["table", "inserted", "updated", "deleted", "rows"],
        [
            {
                "table": r.table,
                "inserted": r.inserted,
                "updated": r.updated,
                "deleted": r.deleted,
                "rows": r.total,
            }
            for r in results
        ],
        key="tables",
    )
