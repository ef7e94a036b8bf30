"""DMS output in the raw bucket: which tables and files there are, their schema, their rows.

DMS writes ``<schema>/<table>/LOAD00000001.csv`` (the full load, several LOAD files for a big
table) and, with ongoing replication, change files beside them named by timestamp
(``20240101-120000123.csv``) whose first column ``Op`` is I, U or D. CSV files carry a header
row (the S3 endpoint's ``addColumnName=true``, which dcp's replication task sets); Parquet
files (``dataFormat=parquet``) are read too, gzip-compressed CSV (``.csv.gz``) as well.

Every file is opened with the masking engine's own reader (``dcp.masking.readers``) and
conformed by :func:`read_raw_file`, in both engines, so the Arrow and Spark runs and the local
runner see identical input batches. CSV cells stay text exactly as written (no type inference:
``0123`` stays ``0123``, and an empty field is an empty string). Parquet columns keep types
that survive the trip through Spark unchanged (int64, float64, bool, date32, and structs and
lists of those); other types become text. Each row leaves :func:`read_raw_file` tagged with
its operation, the index of its file in change order and its row number in the file: the
sequence CDC merges by.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dcp.gluejob.aws_calls import list_objects
from dcp.masking.readers import open_batches

OP_COLUMN = "Op"  # DMS's change-operation column
SEQ_OP = "__dcp_op"
SEQ_FILE = "__dcp_file"
SEQ_ROW = "__dcp_row"
SEQUENCE_FIELDS = (
    pa.field(SEQ_OP, pa.string()),
    pa.field(SEQ_FILE, pa.int32()),
    pa.field(SEQ_ROW, pa.int64()),
)

_SUFFIXES = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet"}
_SCHEMA_SAMPLE_BYTES = 1 << 20


class RawFileError(ValueError):
    """A raw file cannot be parsed; the message names the file, never its content."""


class SchemaMismatch(ValueError):
    """A Parquet value does not fit the column type of the table's first file (never quoted)."""


@dataclass(frozen=True)
class RawFile:
    key: str
    size: int
    fmt: str  # csv | parquet
    full_load: bool


@dataclass(frozen=True)
class RawTable:
    """One table folder: its files with the full load first, then the changes in name order."""

    name: str
    bucket: str
    prefix: str
    files: tuple[RawFile, ...]

    @property
    def has_changes(self) -> bool:
        return any(not f.full_load for f in self.files)


def file_format(key: str) -> str | None:
    lowered = key.lower()
    for suffix, fmt in _SUFFIXES.items():
        if lowered.endswith(suffix):
            return fmt
    return None


def is_full_load(key: str) -> bool:
    return posixpath.basename(key).upper().startswith("LOAD")


def change_order(files: Sequence[RawFile]) -> tuple[RawFile, ...]:
    """Full-load files first, then change files; each group by key (DMS names by time)."""
    return tuple(sorted(files, key=lambda f: (not f.full_load, f.key)))


def discover_tables(s3: Any, bucket: str, prefix: str, only: Sequence[str] = ()) -> list[RawTable]:
    """Every ``<prefix><table>/...`` folder holding data files (CSV or Parquet), by table name."""
    by_table: dict[str, list[RawFile]] = {}
    for key, size in list_objects(s3, bucket, prefix):
        rest = key[len(prefix) :]
        table, _, inner = rest.partition("/")
        fmt = file_format(key)
        if not table or not inner or fmt is None:
            continue
        if only and table not in only:
            continue
        by_table.setdefault(table, []).append(RawFile(key, size, fmt, is_full_load(key)))
    return [RawTable(name, bucket, f"{prefix}{name}/", change_order(files)) for name, files in sorted(by_table.items())]


# ---- schema -----------------------------------------------------------------------------------


def _portable(data_type: pa.DataType) -> pa.DataType:
    """The type a column keeps: one Arrow and Spark both carry exactly, else text."""
    if pa.types.is_integer(data_type):
        return pa.int64()
    if pa.types.is_floating(data_type):
        return pa.float64()
    if pa.types.is_boolean(data_type):
        return pa.bool_()
    if pa.types.is_date(data_type):
        return pa.date32()
    if pa.types.is_struct(data_type):  # nested Parquet: members are masked in place
        return pa.struct([pa.field(f.name, _portable(f.type)) for f in data_type])
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return pa.list_(_portable(data_type.value_type))
    return pa.string()


def portable_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` without DMS's Op column and with every type made portable."""
    return pa.schema([pa.field(f.name, _portable(f.type)) for f in schema if f.name != OP_COLUMN])


def schema_of(source: Path | bytes, fmt: str) -> pa.Schema:
    """The table schema of one raw file (CSV: its header, every column text)."""
    reader = open_batches(source, fmt=fmt, key=f"x.{fmt}")
    return portable_schema(reader.schema)


def sample_schema(s3: Any, table: RawTable, tmp_dir: Path) -> pa.Schema:
    """``table``'s schema from its first file: a ranged read of plain CSV, else a download."""
    first = table.files[0]
    if first.fmt == "csv" and not first.key.lower().endswith(".gz"):
        response = s3.get_object(Bucket=table.bucket, Key=first.key, Range=f"bytes=0-{_SCHEMA_SAMPLE_BYTES - 1}")
        sample = bytes(response["Body"].read())
        if first.size > len(sample):  # drop the partial last line
            sample = sample[: sample.rfind(b"\n") + 1] or sample
        try:
            return schema_of(sample, "csv")
        except pa.ArrowInvalid:
            pass  # e.g. a quoted value with a newline cut in half: read the whole file
    local = tmp_dir / f"schema-{posixpath.basename(first.key)}"
    s3.download_file(table.bucket, first.key, str(local))
    try:
        return schema_of(local, first.fmt)
    finally:
        local.unlink(missing_ok=True)


# ---- rows -------------------------------------------------------------------------------------


def sequenced_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` plus the operation/file/row columns every parsed batch carries."""
    return pa.schema([*schema, *SEQUENCE_FIELDS])


def read_raw_file(
    path: Path,
    fmt: str,
    schema: pa.Schema,
    file_index: int,
    *,
    columns: Sequence[str] | None = None,
    source: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """Batches of one raw file in ``schema`` (or only ``columns`` of it), plus op/file/row columns.

    Rows of a full-load file without an ``Op`` column are inserts. A file that does not parse
    raises :class:`RawFileError`, a value that does not fit its column's type
    :class:`SchemaMismatch`; both name ``source`` (the S3 key) but never the content.
    """
    name = source or path.name
    wanted = pa.schema([schema.field(name) for name in columns]) if columns is not None else schema
    row = 0
    try:
        for batch in _batches(path, fmt, wanted):
            yield _sequenced(batch, wanted, file_index, row)
            row += batch.num_rows
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        # pyarrow quotes the offending row or value; the message must not carry it (PII)
        if "cast" in str(exc).lower() or "conver" in str(exc).lower():
            raise SchemaMismatch(
                f"a value in raw file {name} does not fit its column's type in the table's first file"
            ) from None
        reason = str(exc).split(":", 1)[0]
        raise RawFileError(f"raw file {name} is not valid {fmt}: {reason}") from None


def _batches(path: Path, fmt: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    for batch in open_batches(path, fmt=fmt, batch_size=65_536):
        yield _conform(batch, schema)


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Columns of ``schema`` in its order and types (missing ones null), plus Op when present."""
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, field.type))
            continue
        column = batch.column(index)
        arrays.append(column if column.type == field.type else pc.cast(column, field.type))
    names = list(schema.names)
    op_index = batch.schema.get_field_index(OP_COLUMN)
    if op_index >= 0:
        arrays.insert(0, pc.cast(batch.column(op_index), pa.string()))
        names.insert(0, OP_COLUMN)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _sequenced(batch: pa.RecordBatch, schema: pa.Schema, file_index: int, first_row: int) -> pa.RecordBatch:
    n = batch.num_rows
    op_index = batch.schema.get_field_index(OP_COLUMN)
    if op_index >= 0:
        ops = pc.utf8_upper(pc.utf8_trim_whitespace(pc.cast(batch.column(op_index), pa.string())))
        ops = pc.fill_null(ops, "I")
    else:
        ops = pa.repeat(pa.scalar("I", pa.string()), n)
    arrays = [batch.column(batch.schema.get_field_index(name)) for name in schema.names]
    arrays += [
        ops,
        pa.repeat(pa.scalar(file_index, pa.int32()), n),
        pa.arange(first_row, first_row + n),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=sequenced_schema(schema))
