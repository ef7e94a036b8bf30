"""Athena's result format: column types as ResultSetMetadata reports them, values as Athena writes them.

Pure (pyarrow only). The same strings fill GetQueryResults' `VarCharValue` and the CSV result
object, as on Athena: arrays `[1, 2]`, maps `{a=1}`, rows `{x=1, y=a}`, varbinary as
space-separated hex `ab cd`, timestamps `2024-01-02 03:04:05.000`, booleans `true`; NULL is an
absent VarCharValue and an empty CSV field (every other field is quoted).
See https://docs.aws.amazon.com/athena/latest/ug/querying-athena-tables.html (query results and
output files) and https://docs.aws.amazon.com/athena/latest/ug/data-types.html.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class ColumnType:
    """One ColumnInfo: Athena's type name with its precision and scale."""

    name: str
    type: str
    precision: int = 0
    scale: int = 0

    def column_info(self) -> dict[str, Any]:
        return {
            "CatalogName": "hive",
            "SchemaName": "",
            "TableName": "",
            "Name": self.name,
            "Label": self.name,
            "Type": self.type,
            "Precision": self.precision,
            "Scale": self.scale,
            "Nullable": "UNKNOWN",
            "CaseSensitive": self.type in ("varchar", "char"),
        }


_SIMPLE = [
    (pa.types.is_boolean, "boolean", 0),
    (pa.types.is_int8, "tinyint", 3),
    (pa.types.is_int16, "smallint", 5),
    (pa.types.is_int32, "integer", 10),
    (pa.types.is_int64, "bigint", 19),
    (pa.types.is_uint8, "smallint", 5),
    (pa.types.is_uint16, "integer", 10),
    (pa.types.is_uint32, "bigint", 19),
    (pa.types.is_uint64, "bigint", 19),
    (pa.types.is_float32, "real", 17),
    (pa.types.is_float64, "double", 17),
    (pa.types.is_date, "date", 0),
    (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t), "varbinary", 1073741824),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "varchar", 2147483647),
    (pa.types.is_list, "array", 0),
    (pa.types.is_large_list, "array", 0),
    (pa.types.is_map, "map", 0),
    (pa.types.is_struct, "row", 0),
]


def column_type(name: str, arrow: pa.DataType) -> ColumnType:
    """ColumnInfo of an Arrow result column, named as Athena names Trino's types."""
    if pa.types.is_decimal(arrow):
        return ColumnType(name, "decimal", arrow.precision, arrow.scale)
    if pa.types.is_timestamp(arrow):
        return ColumnType(name, "timestamp with time zone" if arrow.tz else "timestamp", 3, 0)
    if pa.types.is_time(arrow):
        return ColumnType(name, "time", 3, 0)
    for test, athena, precision in _SIMPLE:
        if test(arrow):
            return ColumnType(name, athena, precision, 0)
    return ColumnType(name, "varchar", 2147483647, 0)


def hive_type(arrow: pa.DataType) -> str:
    """The Glue (Hive) column type for an Arrow type, as a CTAS table's columns are declared."""
    if pa.types.is_decimal(arrow):
        return f"decimal({arrow.precision},{arrow.scale})"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return f"array<{hive_type(arrow.value_type)}>"
    if pa.types.is_map(arrow):
        return f"map<{hive_type(arrow.key_type)},{hive_type(arrow.item_type)}>"
    if pa.types.is_struct(arrow):
        return "struct<" + ",".join(f"{f.name}:{hive_type(f.type)}" for f in arrow) + ">"
    athena = column_type("", arrow).type
    return {"varchar": "string", "integer": "int", "real": "float", "varbinary": "binary"}.get(athena, athena)


def _timestamp(value: dt.datetime) -> str:
    text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if value.tzinfo is not None:
        zone = value.tzname() or "UTC"
        text += " " + ("UTC" if zone in ("UTC", "Etc/UTC", "+00:00") else zone)
    return text


def athena_text(value: Any, nested: bool = False) -> str:
    """One value as Athena writes it (`nested`: inside an array/map/row, where NULL is `null`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[str(value)]
        return repr(value) if abs(value) < 1e7 or value == 0 else f"{value:E}".replace("E+", "E")
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return _timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, bytes):
        return " ".join(f"{b:02x}" for b in value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={athena_text(v, True)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):  # pyarrow's map as pairs
            return "{" + ", ".join(f"{athena_text(k, True)}={athena_text(v, True)}" for k, v in value) + "}"
        return "[" + ", ".join(athena_text(v, True) for v in value) + "]"
    return str(value)


def column_strings(column: pa.ChunkedArray | pa.Array) -> list[str | None]:
    """A result column as Athena's strings (None for NULL), vectorised for the plain types."""
    t = column.type
    if (
        pa.types.is_integer(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_boolean(t)
        or pa.types.is_date(t)
        or pa.types.is_decimal(t)
    ):
        return list(pc.cast(column, pa.string()).to_pylist())
    if pa.types.is_map(t):
        return [None if v is None else athena_text(dict(v)) if v else "{}" for v in column.to_pylist()]
    return [None if v is None else athena_text(v) for v in column.to_pylist()]


def rows(table: pa.Table) -> Iterator[list[str | None]]:
    """The table's rows as Athena's strings."""
    columns = [column_strings(table.column(i)) for i in range(table.num_columns)]
    yield from (list(row) for row in zip(*columns, strict=True))


def csv_line(values: Iterable[str | None]) -> str:
    """One CSV line as Athena writes it: every value quoted, NULL as an empty unquoted field."""
    return ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values) + "\n"
