"""`dcp classify`: Macie-compatible detection on local files or s3:// objects, no stack needed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from dcp.cli import App, UsageFailure, pass_app
from dcp.console import to_json
from dcp.errors import about
from dcp.masking.detect import classify_source
from dcp.masking.findings import Finding
from dcp.masking.identifiers import managed_ids_for_selector
from dcp.masking.readers import format_of

SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet", ".csv.gz", ".tsv.gz", ".jsonl.gz")


@dataclass(frozen=True)
class Input:
    """One file to classify: its display name, the key that names its table, and its bytes or path."""

    name: str
    key: str
    bucket: str | None
    source: str | bytes


def _supported(name: str) -> bool:
    return name.lower().endswith(SUFFIXES)


def expand_inputs(app: App, paths: tuple[str, ...]) -> Iterator[Input]:
    """Local files (folders recursively) and s3:// objects or prefixes, in a stable order."""
    for raw in paths:
        if raw.startswith("s3://"):
            yield from _s3_inputs(app, raw)
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _supported(p.name))
            if not files:
                raise UsageFailure(f"{raw}: no CSV, TSV, JSON or Parquet files in this folder")
            for file in files:
                yield Input(str(file), file.relative_to(path).as_posix(), None, str(file))
        elif path.is_file():
            # A DMS file (LOAD00000001.csv, 20261127-101500123.csv) is named by its folder.
            dms_file = re.match(r"^(LOAD\d+|\d{8}-\d+)\.", path.name) is not None
            key = f"{path.parent.name}/{path.name}" if dms_file else path.name
            yield Input(str(path), key, None, str(path))
        else:
            raise UsageFailure(f"{raw}: no such file or folder")


def _s3_inputs(app: App, url: str) -> Iterator[Input]:
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise UsageFailure(f"{url}: an s3:// URL needs a bucket")
    s3 = app.aws.client("s3")
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
        if _supported(obj["Key"])
    ]
    if not keys:
        raise UsageFailure(f"{url}: no CSV, TSV, JSON or Parquet objects under this prefix")
    for key in sorted(keys):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        yield Input(f"s3://{bucket}/{key}", key, bucket, body)


def classify_inputs(app: App, inputs: Iterator[Input], sample: int | None) -> Iterator[tuple[Input, Finding | None]]:
    macie = app.settings.macie
    managed = managed_ids_for_selector(
        macie.managed_identifier_selection, app.settings.macie_managed_ids(extensions=True)
    )
    for item in inputs:
        with about(f"file {item.name}"):
            finding = classify_source(
                item.source,
                key=item.key,
                bucket=item.bucket,
                custom_identifiers=macie.custom_identifiers,
                managed_identifier_ids=managed,
                sample=sample,
                fmt=format_of(item.name),
            )
        yield item, finding


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
    for item, finding in classify_inputs(app, expand_inputs(app, paths), sample):
        if fmt == "json":
            if finding is not None:
                document = finding.to_json()
                if item.bucket is None:
                    document["resourcesAffected"]["s3Object"]["key"] = item.name
                app.console.out.file.write(to_json(document) + "\n")
            continue
        if finding is None:
            rows.append({"file": item.name, "column": "", "types": "(nothing found)", "count": 0})
            continue
        by_column: dict[str, dict[str, int]] = {}
        for detection in finding.detections:
            for column in detection.columns:
                by_column.setdefault(column, {})[detection.type] = detection.column_counts.get(column, 0)
        for column, types in by_column.items():
            rows.append(
                {
                    "file": item.name,
                    "column": column,
                    "types": ", ".join(f"{t} ({n})" for t, n in sorted(types.items())),
                    "count": max(types.values()),
                }
            )
    if fmt == "table":
        app.console.table("Personal data found", ["file", "column", "types", "count"], rows)
