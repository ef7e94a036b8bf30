"""Masked and encrypted Parquet parts in the curated bucket, and replacing a table's old output.

Both engines write parts the same way: pyarrow's Parquet writer into a local temp file, then
one upload. The encrypted copy's schema metadata carries the table's wrapped data key and
algorithm (``TableCrypto.metadata()``), which Spark's own Parquet writer would drop; that is
why the Spark engine writes its parts with this module inside ``mapInArrow`` too.

A run names its parts ``part-<bucket>-<run id>.parquet`` (the key-hash bucket, see
:mod:`dcp.gluejob.incremental`). Only after every part of a table is written (and the table's
manifest names them) does :func:`replace_output` delete the table's other objects, so readers
see the old output, then old plus new for a moment, then the new one; a failed run deletes its
own parts (:func:`discard_run`) and leaves the old output alone. The part name depends only on
the bucket and run, so a retried Spark task overwrites its own earlier attempt.
"""

from __future__ import annotations

import posixpath
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dcp.gluejob.aws_calls import delete_objects, list_objects, upload

MASKED = "masked"
ENCRYPTED = "encrypted"
WRITTEN_SCHEMA = pa.schema(
    [("kind", pa.string()), ("key", pa.string()), ("rows", pa.int64()), ("bucket", pa.int32()), ("bytes", pa.int64())]
)


@dataclass(frozen=True)
class OutputTarget:
    """Where one table's output goes in one run."""

    bucket: str
    table: str
    run_id: str

    def prefix(self, kind: str) -> str:
        return f"{kind}/{self.table}/"

    def key(self, kind: str, part: int) -> str:
        return f"{self.prefix(kind)}part-{part:05d}-{self.run_id}.parquet"


@dataclass(frozen=True)
class WrittenPart:
    kind: str
    key: str
    rows: int
    bucket: int = 0  # the part number: the key-hash bucket its rows belong to
    bytes: int = 0  # the object's size

    def to_row(self) -> dict[str, object]:
        return {"kind": self.kind, "key": self.key, "rows": self.rows, "bucket": self.bucket, "bytes": self.bytes}


@dataclass
class PartWriter:
    """Writes one part of a table's masked (and encrypted) output; uploads on :meth:`close`."""

    s3: Any
    target: OutputTarget
    part: int
    metadata: Mapping[str, Mapping[bytes, bytes]]  # kind -> Parquet schema metadata
    tmp_dir: Path
    _writers: dict[str, pq.ParquetWriter] = field(default_factory=dict)
    _paths: dict[str, Path] = field(default_factory=dict)
    _rows: dict[str, int] = field(default_factory=dict)

    def write(self, kind: str, batch: pa.RecordBatch) -> None:
        writer = self._writers.get(kind)
        if writer is None:
            schema = batch.schema.with_metadata(dict(self.metadata.get(kind, {})))
            path = self.tmp_dir / f"{kind}-{self.part:05d}.parquet"
            writer = pq.ParquetWriter(path, schema, compression="snappy")
            self._writers[kind], self._paths[kind], self._rows[kind] = writer, path, 0
        if batch.schema.remove_metadata() != writer.schema.remove_metadata():
            batch = batch.cast(writer.schema.remove_metadata())
        if batch.num_rows:
            writer.write_batch(batch)
            self._rows[kind] += batch.num_rows

    def close(self) -> list[WrittenPart]:
        """Finish every file and upload it; returns what was written."""
        written = []
        for kind, writer in self._writers.items():
            writer.close()
            key = self.target.key(kind, self.part)
            size = self._paths[kind].stat().st_size
            upload(self.s3, self._paths[kind], self.target.bucket, key)
            self._paths[kind].unlink(missing_ok=True)
            written.append(WrittenPart(kind, key, self._rows[kind], self.part, size))
        self._writers.clear()
        return written


def write_empty(
    s3: Any, target: OutputTarget, kind: str, schema: pa.Schema, metadata: Mapping[bytes, bytes]
) -> WrittenPart:
    """A zero-row part, so an empty table still has a file a crawler can read the schema from."""
    with tempfile.TemporaryDirectory(prefix="dcp-empty-") as tmp:
        path = Path(tmp) / "empty.parquet"
        pq.write_table(schema.with_metadata(dict(metadata)).empty_table(), path)
        key = target.key(kind, 0)
        size = path.stat().st_size
        upload(s3, path, target.bucket, key)
    return WrittenPart(kind, key, 0, 0, size)


def replace_output(s3: Any, target: OutputTarget, kind: str, keep: Iterable[str]) -> int:
    """Delete every object under the table's ``kind`` prefix except ``keep``; returns the count."""
    kept = set(keep)
    stale = [key for key, _ in list_objects(s3, target.bucket, target.prefix(kind)) if key not in kept]
    return delete_objects(s3, target.bucket, stale)


def discard_run(s3: Any, target: OutputTarget, kinds: Iterable[str] = (MASKED, ENCRYPTED)) -> int:
    """Delete the parts this run already wrote (after a failure); old output stays."""
    mine = [
        key
        for kind in kinds
        for key, _ in list_objects(s3, target.bucket, target.prefix(kind))
        if posixpath.basename(key).endswith(f"-{target.run_id}.parquet")
    ]
    return delete_objects(s3, target.bucket, mine)
