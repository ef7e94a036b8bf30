"""`dcp mask`: apply the configured masking plan to local files; write masked and encrypted Parquet."""

from __future__ import annotations

from pathlib import Path

import click

from dcp.cli import App, pass_app
from dcp.pipeline.classify import expand_inputs
from dcp.pipeline.mask import MaskOptions, mask_files


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Folder for <table>.masked.parquet and <table>.encrypted.parquet.",
)
@click.option(
    "--findings",
    "findings_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Macie findings (JSON, JSON Lines, EventBridge events or Firehose output); default: classify the files first.",
)
@click.option("--key-id", help="KMS key for the data keys (default: kms.data_key_alias from config).")
@click.option("--batch-size", type=click.IntRange(min=1), default=65536, show_default=True)
@pass_app
def mask(
    app: App,
    paths: tuple[str, ...],
    out_dir: str,
    findings_file: str | None,
    key_id: str | None,
    batch_size: int,
) -> None:
    """Mask files by the config's masking plan (one KMS data key per table).

    Findings are matched to the input files by table: a finding's object key and a file's path
    name the same table (`dataset/customer/LOAD00000001.csv`, `exports/customer.csv` and
    `exports/customer/part-0.parquet` are all table `customer`). Fail closed: an unreadable
    findings file, or one about none of the input tables, stops with nothing written; a table no
    finding matches, or with occurrences no column is given for, is scanned by dcp's detector,
    and if that cannot locate a reported type either, nothing is written.

    \b
    dcp mask data/card.csv data/customer.csv --out masked/
    dcp mask data/ --findings findings.jsonl --out masked/
    """
    inputs = list(expand_inputs(paths, lambda: app.aws.client("s3")))
    options = MaskOptions(Path(out_dir), findings_file, key_id, batch_size)
    rows = mask_files(app.settings, inputs, options, lambda: app.aws, app.console.warn)
    app.console.table("Masked", ["table", "rows", "masked", "encrypted", "output"], rows)
