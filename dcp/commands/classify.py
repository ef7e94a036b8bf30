"""`dcp classify`: Macie-compatible detection on local files or s3:// objects, no stack needed."""

from __future__ import annotations

import click

from dcp.cli import App, pass_app
from dcp.console import to_json
from dcp.pipeline.classify import classify_inputs, expand_inputs, finding_rows


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default=None,
    help="table (default) or json: one Macie-schema finding per line.",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=None,
    help="Read at most N rows per file (default: every row, as Macie does).",
)
@pass_app
def classify(app: App, paths: tuple[str, ...], fmt: str | None, sample: int | None) -> None:
    """Find personal data in CSV/TSV, JSON/JSON Lines and Parquet files, per file and column.

    \b
    dcp classify data/customer.csv data/card.parquet
    dcp classify exports/ --format json > findings.jsonl
    """
    fmt = fmt or ("json" if app.output == "json" else "table")
    rows = []
    for item, finding in classify_inputs(app.settings, expand_inputs(paths, lambda: app.aws.client("s3")), sample):
        if fmt == "table":
            rows += finding_rows(item, finding)
        elif finding is not None:
            document = finding.to_json()
            if item.bucket is None:
                document["resourcesAffected"]["s3Object"]["key"] = item.name
            app.console.out.file.write(to_json(document) + "\n")
    if fmt == "table":
        app.console.table("Personal data found", ["file", "column", "types", "count"], rows)
