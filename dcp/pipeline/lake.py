"""Reading the lake's objects directly from S3: Parquet tables, Parquet footers, DMS CSV files."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dcp.aws.session import AwsContext


def list_keys(aws: AwsContext, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Objects under `prefix` (Key, Size, LastModified), ignoring folder markers and Spark's _ files."""
    s3 = aws.client("s3")
    out: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"].rsplit("/", 1)[-1]
            if not name or name.startswith(("_", ".")) or obj["Key"].endswith("$folder$"):
                continue
            out.append(obj)
    return sorted(out, key=lambda o: o["Key"])


def newest_object_time(aws: AwsContext, bucket: str, prefix: str) -> Any:
    """LastModified of the newest object under `prefix` (None when there is none)."""
    return max((o["LastModified"] for o in list_keys(aws, bucket, prefix)), default=None)


def get_bytes(aws: AwsContext, bucket: str, key: str) -> bytes:
    return bytes(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def parquet_objects(aws: AwsContext, bucket: str, prefix: str) -> Iterator[tuple[str, pa.Table]]:
    """(key, table) for every Parquet object under `prefix`.

    Read from an Arrow buffer, not a Python file object: Arrow's I/O threads would call back into
    Python for a file object, and a CLI exiting while one is parked on the GIL aborts with
    "terminate called without an active exception" (seen on `dcp reveal`)."""
    for obj in list_keys(aws, bucket, prefix):
        if obj["Key"].endswith((".parquet", ".snappy.parquet", ".parq")) or obj["Size"] > 0:
            data = get_bytes(aws, bucket, obj["Key"])
            if data[:4] == b"PAR1":
                yield obj["Key"], pq.read_table(pa.BufferReader(data))


def read_parquet_prefix(aws: AwsContext, bucket: str, prefix: str) -> pa.Table | None:
    """Every Parquet object under `prefix` as one table (schema metadata of the first), or None."""
    tables = [t for _, t in parquet_objects(aws, bucket, prefix)]
    if not tables:
        return None
    metadata = tables[0].schema.metadata
    combined = pa.concat_tables([t.replace_schema_metadata(None) for t in tables], promote_options="default")
    return combined.replace_schema_metadata(metadata)


def parquet_row_count(aws: AwsContext, bucket: str, key: str, size: int) -> int:
    """Rows of one Parquet object from its footer only (two ranged GETs, not the whole object)."""
    s3 = aws.client("s3")
    if size < 12:
        return 0
    tail = s3.get_object(Bucket=bucket, Key=key, Range="bytes=-8")["Body"].read()
    if tail[4:] != b"PAR1":
        return 0
    length = struct.unpack("<I", tail[:4])[0]
    footer = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{length + 8}")["Body"].read()
    return int(pq.read_metadata(pa.BufferReader(b"PAR1" + footer)).num_rows)


def prefix_row_count(aws: AwsContext, bucket: str, prefix: str) -> int | None:
    """Rows in the Parquet objects under `prefix`, or None when there are none."""
    objects = [o for o in list_keys(aws, bucket, prefix) if o["Size"] >= 12]
    if not objects:
        return None
    return sum(parquet_row_count(aws, bucket, o["Key"], o["Size"]) for o in objects)


def _first_columns(data: bytes, count: int) -> list[list[str]]:
    """The first `count` fields of every CSV line, as strings (pyarrow's CSV reader, no Python loop)."""
    import pyarrow.csv as pacsv

    if not data.strip():
        return [[] for _ in range(count)]
    table = pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(autogenerate_column_names=True),
        convert_options=pacsv.ConvertOptions(
            include_columns=[f"f{i}" for i in range(count)],
            column_types={f"f{i}": pa.string() for i in range(count)},
            strings_can_be_null=False,
        ),
    )
    return [table.column(f"f{i}").to_pylist() for i in range(count)]


def raw_current_ids(aws: AwsContext, bucket: str, prefix: str) -> set[str]:
    """Primary keys (first column) the raw zone holds for one table after applying DMS's CDC files.

    Parquet files (the stack's DataFormat) carry Op and the key column by name. CSV full-load
    files (LOAD*.csv) list rows, with an Op column (always I) when the endpoint sets
    IncludeOpForFullLoad; change files (<timestamp>.csv, applied in name order) start with Op
    (I/U/D) and then the row. A header line, when DMS writes one, says which it is and is skipped.
    """
    objects = list_keys(aws, bucket, prefix)
    loads = [o for o in objects if o["Key"].rsplit("/", 1)[-1].startswith("LOAD")]
    changes = [o for o in objects if o not in loads]
    ids: set[str] = set()
    for obj in [*loads, *changes]:
        if obj["Key"].endswith(".parquet"):  # DataFormat parquet: Op (when present) and the key by name
            ops, keys = _parquet_ops_and_keys(get_bytes(aws, bucket, obj["Key"]))
        else:
            ops, keys = _csv_ops_and_keys(get_bytes(aws, bucket, obj["Key"]), obj in loads)
        for op, key in zip(ops, keys, strict=True):
            if op == "D":
                ids.discard(key)
            else:
                ids.add(key)
    return ids


def _parquet_ops_and_keys(data: bytes) -> tuple[list[str], list[str]]:
    table = pq.read_table(pa.BufferReader(data))
    names = [n for n in table.column_names if n != "Op"]
    keys = [str(v) for v in table.column(names[0]).to_pylist()]
    ops = table.column("Op").to_pylist() if "Op" in table.column_names else ["I"] * len(keys)
    return ops, keys


def _csv_ops_and_keys(data: bytes, load: bool) -> tuple[list[str], list[str]]:
    first, second = _first_columns(data, 2)
    if first and first[0] == "Op":
        ops, keys = first[1:], second[1:]
    elif first and first[0].lower() == "id":
        ops, keys = ["I"] * (len(first) - 1), first[1:]
    elif load and not all(v in ("I", "U", "D") for v in first):
        ops, keys = ["I"] * len(first), first
    else:
        ops, keys = first, second
    return ops, keys
