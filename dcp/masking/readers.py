"""Read a table file (CSV/TSV, JSON/JSON Lines, Parquet) as a stream of Arrow record batches.

Sources are local paths, bytes, Arrow tables, or already-open batch readers. CSV and TSV
cells are read as strings (no type inference), so values like ``0123`` or 18-digit account
numbers reach the detectors and the masking exactly as written. Memory is bounded by the
batch (block) size, not by the file size.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator
from typing import TypeAlias

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

FORMATS = ("csv", "tsv", "json", "jsonl", "parquet")
_SUFFIXES = {
    "csv": "csv",
    "tsv": "tsv",
    "tab": "tsv",
    "json": "json",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "parquet": "parquet",
    "pq": "parquet",
}
#: CSV/JSON block size: each block of the file becomes one record batch (``batch_size`` applies
#: to Parquet and in-memory sources; mask_table slices larger batches down to its batch size)
DEFAULT_BLOCK_BYTES = 16 << 20

Source: TypeAlias = str | os.PathLike[str] | bytes | pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch]


class UnsupportedFormat(ValueError):
    """The format of a source could not be told from its name, or is not one dcp reads."""


def format_of(key: str, fmt: str | None = None) -> str:
    """The format of an object from ``fmt`` or its key's suffix (``.csv.gz`` counts as csv)."""
    if fmt:
        fmt = fmt.lower().lstrip(".")
        if fmt not in FORMATS:
            raise UnsupportedFormat(f"unsupported format {fmt!r}; dcp reads {', '.join(FORMATS)}")
        return fmt
    name = key.lower()
    for compression in (".gz", ".bz2", ".zst"):
        name = name.removesuffix(compression)
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    if suffix not in _SUFFIXES:
        raise UnsupportedFormat(
            f"cannot tell the format of {key!r} from its suffix; pass fmt= one of {', '.join(FORMATS)}"
        )
    return _SUFFIXES[suffix]


def open_batches(
    source: Source,
    *,
    fmt: str | None = None,
    batch_size: int = 65536,
    key: str | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> pa.RecordBatchReader:
    """A record-batch reader over ``source``; ``key`` names bytes sources for format inference.

    ``block_bytes``: the CSV/TSV/JSON Lines block (record batch) size.
    """
    if isinstance(source, pa.RecordBatchReader):
        return source
    if isinstance(source, pa.Table):
        return pa.RecordBatchReader.from_batches(source.schema, source.to_batches(max_chunksize=batch_size))
    if isinstance(source, bytes | str | os.PathLike):
        name = key if key is not None else (os.fspath(source) if not isinstance(source, bytes) else "")
        kind = format_of(name, fmt)
        return _open_file(source, kind, batch_size, block_bytes)
    batches = iter(source)
    first = next(batches, None)
    if first is None:
        raise ValueError("an empty iterable of record batches has no schema; pass a pa.Table instead")
    return pa.RecordBatchReader.from_batches(first.schema, _chain(first, batches))


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _input(source: str | os.PathLike[str] | bytes) -> pa.NativeFile | str:
    if isinstance(source, bytes):
        return pa.BufferReader(source)
    return os.fspath(source)


def _open_file(
    source: str | os.PathLike[str] | bytes, kind: str, batch_size: int, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> pa.RecordBatchReader:
    if kind == "parquet":
        parquet = pq.ParquetFile(_input(source))
        return pa.RecordBatchReader.from_batches(parquet.schema_arrow, parquet.iter_batches(batch_size=batch_size))
    if kind in ("csv", "tsv"):
        delimiter = "\t" if kind == "tsv" else ","
        names = _header(source, delimiter)
        compression = _compression(source)
        stream = pa.CompressedInputStream(_open_stream(source), compression) if compression else _open_stream(source)
        return pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=block_bytes),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
                null_values=[],
            ),
        )
    stream = _open_stream(source)
    compression = _compression(source)
    if compression:
        stream = pa.CompressedInputStream(stream, compression)
    if _is_json_array(source):
        # a single JSON document holding an array of records: not streamable by Arrow
        import json

        text = stream.read().decode("utf-8")
        table = pa.Table.from_pylist(json.loads(text))
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=batch_size))
    return pajson.open_json(stream, read_options=pajson.ReadOptions(block_size=block_bytes))


def _open_stream(source: str | os.PathLike[str] | bytes) -> pa.NativeFile:
    if isinstance(source, bytes):
        return pa.BufferReader(source)
    return pa.OSFile(os.fspath(source), "rb")


def _compression(source: str | os.PathLike[str] | bytes) -> str | None:
    if isinstance(source, bytes):
        return "gzip" if source[:2] == b"\x1f\x8b" else None
    name = os.fspath(source).lower()
    return "gzip" if name.endswith(".gz") else None


def _head(source: str | os.PathLike[str] | bytes, size: int = 1 << 16) -> bytes:
    stream = _open_stream(source)
    compression = _compression(source)
    if compression:
        stream = pa.CompressedInputStream(stream, compression)
    try:
        return bytes(stream.read(size))
    finally:
        stream.close()


def _header(source: str | os.PathLike[str] | bytes, delimiter: str) -> list[str]:
    head = _head(source).decode("utf-8", errors="replace")
    row = next(csv.reader(io.StringIO(head), delimiter=delimiter), None)
    if not row:
        raise ValueError("the CSV/TSV source is empty: dcp expects a header row")
    return row


def _is_json_array(source: str | os.PathLike[str] | bytes) -> bool:
    return _head(source, 4096).lstrip()[:1] == b"["
