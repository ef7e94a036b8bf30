"""DMS's S3 Parquet output: Arrow types from the source columns' types, and the size-split writer.

DMS maps each source column to one of its own types (INT1..INT8, NUMERIC(p,s), REAL4/REAL8,
DATE, TIME, DATETIME, STRING/WSTRING/CLOB, BYTES/BLOB, BOOLEAN) and writes that type's
Parquet counterpart: signed integers of the same width, DECIMAL(p,s), FLOAT/DOUBLE, DATE,
TIME, TIMESTAMP, UTF-8 strings and binary. See "Data types for AWS Database Migration Service"
(https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Reference.DataTypes.html) and "Using
Amazon S3 as a target for AWS DMS" (Parquet settings: ParquetVersion, EnableStatistics,
IncludeOpForFullLoad; CDC files carry Op first). The sandbox reads the source through
SQLAlchemy, so it maps SQLAlchemy's generic types; a column whose values do not fit its mapped
type (SQLite stores anything anywhere) is written as text rather than changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import types as sat

OP_FIELD = pa.field("Op", pa.string())


def arrow_type(column_type: Any, dialect: str) -> pa.DataType:
    """The Arrow (Parquet) type DMS writes for a source column of SQLAlchemy type ``column_type``."""
    t = column_type
    if isinstance(t, sat.Boolean):
        return pa.bool_()
    if isinstance(t, sat.SmallInteger):
        return pa.int16()  # INT2
    if isinstance(t, sat.BigInteger) or (isinstance(t, sat.Integer) and dialect == "sqlite"):
        return pa.int64()  # INT8 (SQLite's INTEGER holds 64 bits)
    if isinstance(t, sat.Integer):
        return pa.int32()  # INT4
    if isinstance(t, sat.Float):
        precision = getattr(t, "precision", None)
        return pa.float32() if precision is not None and precision <= 24 else pa.float64()
    if isinstance(t, sat.Numeric):
        precision, scale = getattr(t, "precision", None), getattr(t, "scale", None)
        if precision and precision <= 38:
            return pa.decimal128(precision, scale or 0)
        return pa.string()  # NUMERIC without a declared precision: exact as text
    if isinstance(t, sat.DateTime):
        return pa.timestamp("us", tz="UTC") if getattr(t, "timezone", False) else pa.timestamp("us")
    if isinstance(t, sat.Date):
        return pa.date32()
    if isinstance(t, sat.Time):
        return pa.time64("us")
    if isinstance(t, sat._Binary):
        return pa.binary()
    return pa.string()


def typed_array(values: Sequence[Any], data_type: pa.DataType) -> pa.Array:
    """``values`` as ``data_type``; as text when they do not fit it (never a changed value)."""
    try:
        return pa.array(values, data_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        return pa.array([None if v is None else v.hex() if isinstance(v, bytes) else str(v) for v in values])


def with_op(batch: pa.RecordBatch | pa.Table, ops: pa.Array) -> pa.Table:
    """``batch`` with DMS's ``Op`` column first."""
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    return table.add_column(0, OP_FIELD, ops)


class ParquetSplitWriter:
    """Writes ``partNNNNNNNN.parquet`` files, a new one once a file passes ``max_bytes``;
    ``on_file(path, number)`` ships a full one. Row groups are the batches written."""

    def __init__(
        self,
        workdir: Path,
        max_bytes: int,
        on_file: Callable[[Path, int], None],
        *,
        version: str = "2.6",
        statistics: bool = True,
    ) -> None:
        self.workdir, self.max_bytes, self.on_file = workdir, max_bytes, on_file
        self.version, self.statistics = version, statistics
        self.number = 0
        self.path: Path | None = None
        self._writer: pq.ParquetWriter | None = None
        self._sink: Any = None
        workdir.mkdir(parents=True, exist_ok=True)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._writer is not None and table.schema != self._writer.schema:
            try:
                table = table.cast(self._writer.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                self.close_file()  # a column fell back to text: a new file with its schema
        if self._writer is None:
            self.number += 1
            self.path = self.workdir / f"part{self.number:08d}.parquet"
            self._sink = pa.OSFile(str(self.path), "wb")
            self._writer = pq.ParquetWriter(
                self._sink, table.schema, version=self.version, write_statistics=self.statistics
            )
        self._writer.write_table(table)
        if self._sink.tell() >= self.max_bytes:
            self.close_file()

    def close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            self._writer = None
            assert self.path is not None
            self.on_file(self.path, self.number)
            self.path.unlink(missing_ok=True)

    def close(self) -> int:
        """Ship the last file; the number of files written."""
        self.close_file()
        return self.number


def parquet_version(setting: Any) -> str:
    """ParquetVersion (parquet-1-0 | parquet-2-0) as pyarrow's format version."""
    return "1.0" if str(setting or "parquet-1-0").lower() == "parquet-1-0" else "2.6"
