"""Classify local files or s3:// objects with dcp's Macie-compatible detector (no stack needed).

`dcp classify` prints what this finds; `dcp mask` classifies the tables no findings file covers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcp.config import Settings
from dcp.errors import UsageError, about
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


def expand_inputs(paths: tuple[str, ...], s3_client: Callable[[], Any]) -> Iterator[Input]:
    """Local files (folders recursively) and s3:// objects or prefixes, in a stable order.

    `s3_client` is called only for an s3:// path (local files need no AWS)."""
    for raw in paths:
        if raw.startswith("s3://"):
            yield from _s3_inputs(s3_client(), raw)
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _supported(p.name))
            if not files:
                raise UsageError(f"{raw}: no CSV, TSV, JSON or Parquet files in this folder")
            for file in files:
                yield Input(str(file), file.relative_to(path).as_posix(), None, str(file))
        elif path.is_file():
            # A DMS file (LOAD00000001.csv, 20261127-101500123.csv) is named by its folder.
            dms_file = re.match(r"^(LOAD\d+|\d{8}-\d+)\.", path.name) is not None
            key = f"{path.parent.name}/{path.name}" if dms_file else path.name
            yield Input(str(path), key, None, str(path))
        else:
            raise UsageError(f"{raw}: no such file or folder")


def _s3_inputs(s3: Any, url: str) -> Iterator[Input]:
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise UsageError(f"{url}: an s3:// URL needs a bucket")
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
        if _supported(obj["Key"])
    ]
    if not keys:
        raise UsageError(f"{url}: no CSV, TSV, JSON or Parquet objects under this prefix")
    for key in sorted(keys):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        yield Input(f"s3://{bucket}/{key}", key, bucket, body)


def classify_inputs(
    settings: Settings, inputs: Iterator[Input], sample: int | None
) -> Iterator[tuple[Input, Finding | None]]:
    macie = settings.macie
    managed = managed_ids_for_selector(macie.managed_identifier_selection, settings.macie_managed_ids(extensions=True))
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


def finding_rows(item: Input, finding: Finding | None) -> list[dict[str, Any]]:
    """`dcp classify`'s table rows for one file: per column, the types found and their counts."""
    if finding is None:
        return [{"file": item.name, "column": "", "types": "(nothing found)", "count": 0}]
    by_column: dict[str, dict[str, int]] = {}
    for detection in finding.detections:
        for column in detection.columns:
            by_column.setdefault(column, {})[detection.type] = detection.column_counts.get(column, 0)
    return [
        {
            "file": item.name,
            "column": column,
            "types": ", ".join(f"{t} ({n})" for t, n in sorted(types.items())),
            "count": max(types.values()),
        }
        for column, types in by_column.items()
    ]
