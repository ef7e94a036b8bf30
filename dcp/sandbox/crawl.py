"""Glue crawler schema inference: data files under an S3 target -> catalog table definitions.

Pure: it reads local copies of the objects (the Glue emulator mirrors them from moto's S3) and
returns what Glue's crawler would write: one table per folder directly under the target path
(files right at the target path make a table named after it), classification csv / json /
parquet, columns in Glue types, `key=value` sub-folders as partitions (other sub-folders as
`partition_0`, `partition_1`, ... as Glue names them), and the StorageDescriptor Glue's
built-in classifiers produce. Types come from pyarrow's inference over a sample of each file
(Parquet: the file's own schema), except that a CSV column with a leading-zero value stays a
string (see :func:`_leading_zero_columns`).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

SAMPLE_BYTES = 1 << 20  # what the crawler reads of a CSV/JSON file to infer its schema
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
LAZY_SIMPLE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
}
_HEADER_CELL = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .$-]{0,127}$")
_PARTITION_DIR = re.compile(r"^([^=/]+)=([^/]*)$")


class CrawlError(Exception):
    """A file the crawler cannot read; the crawl fails with this message."""


def file_format(key: str) -> str | None:
    """csv | json | parquet from the key's suffix; None for files Glue would not classify."""
    name = key.rsplit("/", 1)[-1]
    if name.startswith(("_", ".")) or name.endswith(("$folder$", ".metadata")):
        return None
    return FORMATS.get(Path(name).suffix.lower())


def glue_type(t: pa.DataType) -> str:
    """The Glue (Hive) type name of an Arrow type."""
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t) or pa.types.is_uint8(t):
        return "tinyint"
    if pa.types.is_int16(t) or pa.types.is_uint16(t):
        return "smallint"
    if pa.types.is_int32(t):
        return "int"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{glue_type(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{glue_type(f.type)}" for f in t) + ">"
    return "string"


def _widen(a: str, b: str) -> str:
    if a == b:
        return a
    numeric = ("tinyint", "smallint", "int", "bigint", "float", "double")
    if a in numeric and b in numeric:
        return numeric[max(numeric.index(a), numeric.index(b))]
    if {a, b} == {"date", "timestamp"}:
        return "timestamp"
    return "string"


@dataclass(frozen=True)
class FileSchema:
    """What one file says: columns (name, Glue type) and, for CSV, how it is written."""

    fmt: str
    columns: tuple[tuple[str, str], ...]
    delimiter: str = ","
    header: bool = False
    quoted: bool = False


def _sample(path: Path) -> bytes:
    with path.open("rb") as f:
        data = f.read(SAMPLE_BYTES)
        if len(data) == SAMPLE_BYTES and b"\n" in data:
            data = data[: data.rindex(b"\n") + 1]
    return data


def _looks_like_header(cells: Sequence[str]) -> bool:
    return bool(cells) and all(_HEADER_CELL.match(c) for c in cells) and len({c.lower() for c in cells}) == len(cells)


def infer_file(path: Path, fmt: str, *, delimiter: str | None = None) -> FileSchema:
    """The schema of one local data file (a sample of it for CSV and JSON)."""
    try:
        if fmt == "parquet":
            schema = pq.read_schema(path)
            return FileSchema("parquet", tuple((f.name.lower(), glue_type(f.type)) for f in schema))
        data = _sample(path)
        if fmt == "json":
            table = pajson.read_json(pa.BufferReader(data))
            return FileSchema("json", tuple((f.name.lower(), glue_type(f.type)) for f in table.schema))
        sep = delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
        first = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
        header_cells = next(csv.reader([first], delimiter=sep), [])
        header = _looks_like_header(header_cells)
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(autogenerate_column_names=not header, skip_rows=0),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
        names = [c.lower() for c in table.column_names] if header else [f"col{i}" for i in range(table.num_columns)]
        zeros = _leading_zero_columns(data, sep, header, table)
        return FileSchema(
            "csv",
            tuple(
                (n, "string" if f.name in zeros else glue_type(f.type))
                for n, f in zip(names, table.schema, strict=True)
            ),
            delimiter=sep,
            header=header,
            quoted=b'"' in data,
        )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError, json.JSONDecodeError, StopIteration) as exc:
        raise CrawlError(f"cannot classify {path.name}: {str(exc).splitlines()[0]}") from None


def _leading_zero_columns(data: bytes, sep: str, header: bool, typed: pa.Table) -> set[str]:
    """Columns inferred numeric where some value has a leading zero (`060414234710`, `093`): a
    number type would drop it, so the crawler keeps them strings. CSV carries no source types;
    this is the one guess dcp overrides (the stack's DMS writes typed Parquet instead)."""
    numeric = [f.name for f in typed.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]
    if not numeric:
        return set()
    text = pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(autogenerate_column_names=not header),
        parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            include_columns=numeric, column_types={n: pa.string() for n in numeric}, strings_can_be_null=True
        ),
    )
    return {n for n in numeric if pc.any(pc.match_substring_regex(text.column(n), r"^[+-]?0[0-9]")).as_py()}


@dataclass(frozen=True)
class DataFile:
    """An object under the crawler's target: key relative to the target path, local copy, size."""

    relative_key: str
    path: Path
    size: int


@dataclass
class CrawledTable:
    """One catalog table as the crawler defines it."""

    name: str
    location: str
    classification: str
    columns: list[tuple[str, str]]
    partition_keys: list[str] = field(default_factory=list)
    partitions: dict[tuple[str, ...], str] = field(default_factory=dict)
    delimiter: str = ","
    header: bool = False
    quoted: bool = False
    object_count: int = 0
    size: int = 0

    def storage_descriptor(self, location: str | None = None) -> dict[str, Any]:
        sd: dict[str, Any] = {
            "Columns": [{"Name": n, "Type": t} for n, t in self.columns],
            "Location": location or self.location,
            "Compressed": False,
            "NumberOfBuckets": -1,
            "BucketColumns": [],
            "SortColumns": [],
            "StoredAsSubDirectories": False,
            "Parameters": self.parameters(),
        }
        if self.classification == "parquet":
            sd.update(
                InputFormat=PARQUET_INPUT,
                OutputFormat=PARQUET_OUTPUT,
                SerdeInfo={
                    "SerializationLibrary": PARQUET_SERDE,
                    "Parameters": {"serialization.format": "1"},
                },
            )
        elif self.classification == "json":
            sd.update(
                InputFormat=TEXT_INPUT,
                OutputFormat=TEXT_OUTPUT,
                SerdeInfo={
                    "SerializationLibrary": JSON_SERDE,
                    "Parameters": {"paths": ",".join(n for n, _ in self.columns)},
                },
            )
        elif self.quoted:
            sd.update(
                InputFormat=TEXT_INPUT,
                OutputFormat=TEXT_OUTPUT,
                SerdeInfo={
                    "SerializationLibrary": OPEN_CSV,
                    "Parameters": {"separatorChar": self.delimiter, "quoteChar": '"', "escapeChar": "\\"},
                },
            )
        else:
            sd.update(
                InputFormat=TEXT_INPUT,
                OutputFormat=TEXT_OUTPUT,
                SerdeInfo={
                    "SerializationLibrary": LAZY_SIMPLE,
                    "Parameters": {"field.delim": self.delimiter},
                },
            )
        return sd

    def parameters(self) -> dict[str, str]:
        params = {
            "classification": self.classification,
            "compressionType": "none",
            "typeOfData": "file",
            "objectCount": str(self.object_count),
            "sizeKey": str(self.size),
            "CrawlerSchemaSerializerVersion": "1.0",
            "CrawlerSchemaDeserializerVersion": "1.0",
        }
        if self.classification == "csv":
            params.update(
                delimiter=self.delimiter,
                areColumnsQuoted=str(self.quoted).lower(),
                columnsOrdered="true",
            )
            if self.header:
                params["skip.header.line.count"] = "1"
        return params

    def table_input(self, table_prefix: str = "", crawler: str = "") -> dict[str, Any]:
        """Glue's TableInput for CreateTable / UpdateTable."""
        params = self.parameters()
        if crawler:
            params["UPDATED_BY_CRAWLER"] = crawler
        return {
            "Name": table_name(table_prefix + self.name),
            "Owner": "owner",
            "Retention": 0,
            "StorageDescriptor": self.storage_descriptor(),
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in self.partition_keys],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": params,
        }

    def partition_inputs(self) -> list[dict[str, Any]]:
        return [
            {"Values": list(values), "StorageDescriptor": self.storage_descriptor(location)}
            for values, location in sorted(self.partitions.items())
        ]


def table_name(name: str) -> str:
    """Glue's table name rules: lower case, anything but letters, digits and _ becomes _."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts]) + "/"


def crawl(target: str, files: Iterable[DataFile]) -> list[CrawledTable]:
    """Tables under `target` (s3://bucket/prefix) from its data files, sorted by name.

    A table's columns are the union of its files' columns, in the order of its largest file.
    """
    target = target.rstrip("/")
    tables: dict[str, CrawledTable] = {}
    order: dict[str, list[str]] = {}
    # The largest file of a table sets its column order (a DMS LOAD file before its change files).
    for f in sorted(files, key=lambda f: (-f.size, f.relative_key)):
        fmt = file_format(f.relative_key)
        if fmt is None or f.size == 0:
            continue
        parts = f.relative_key.strip("/").split("/")
        if len(parts) == 1:
            name, location, dirs = target.rsplit("/", 1)[-1], target + "/", []
        else:
            name, location, dirs = parts[0], _join(target, parts[0]), parts[1:-1]
        schema = infer_file(f.path, fmt)
        t = tables.get(name)
        if t is None:
            t = tables[name] = CrawledTable(
                name=name,
                location=location,
                classification=fmt,
                columns=[],
                delimiter=schema.delimiter,
                header=schema.header,
            )
            order[name] = []
        elif t.classification != fmt:
            raise CrawlError(f"table {name!r} mixes {t.classification} and {fmt} files; Glue would split it")
        _merge(t, schema, order[name])
        t.object_count += 1
        t.size += f.size
        if dirs:
            keys, values = _partition(dirs)
            if not t.partition_keys:
                t.partition_keys = keys
            t.partitions[tuple(values)] = _join(location.rstrip("/"), *dirs)
    for t in tables.values():
        partition_names = set(t.partition_keys)
        t.columns = [(n, ty) for n, ty in t.columns if n not in partition_names]
    return [tables[n] for n in sorted(tables)]


def _merge(t: CrawledTable, schema: FileSchema, order: list[str]) -> None:
    types = dict(t.columns)
    for name, typ in schema.columns:
        if name in types:
            types[name] = _widen(types[name], typ)
        else:
            types[name] = typ
            order.append(name)
    t.columns = [(n, types[n]) for n in order]
    t.quoted = t.quoted or schema.quoted
    t.header = t.header or schema.header


def _partition(dirs: Sequence[str]) -> tuple[list[str], list[str]]:
    keys, values = [], []
    for i, d in enumerate(dirs):
        m = _PARTITION_DIR.match(d)
        keys.append(m.group(1).lower() if m else f"partition_{i}")
        values.append(m.group(2) if m else d)
    return keys, values


def schema_changed(existing: Mapping[str, Any], new_input: Mapping[str, Any]) -> bool:
    """Whether a crawl changes a table's definition (columns, partition keys, format)."""

    def shape(t: Mapping[str, Any]) -> tuple[Any, ...]:
        sd = t.get("StorageDescriptor") or {}
        return (
            [(c.get("Name"), c.get("Type")) for c in sd.get("Columns", [])],
            [(c.get("Name"), c.get("Type")) for c in t.get("PartitionKeys", [])],
            sd.get("Location"),
            (sd.get("SerdeInfo") or {}).get("SerializationLibrary"),
            (t.get("Parameters") or {}).get("classification"),
        )

    return shape(existing) != shape(new_input)
