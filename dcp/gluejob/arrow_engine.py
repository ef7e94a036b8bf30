"""The local engine: one process, pyarrow only, streaming (memory bounded by batch size).

What the sandbox's Glue emulator runs, and the reference the Spark engine must equal. Files
are downloaded to a temp directory one table at a time; with change files the merge takes two
passes (keys first, then rows; see :mod:`dcp.gluejob.cdc`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from dcp.gluejob.aws_calls import download
from dcp.gluejob.cdc import keep_current, latest_rows, surviving_sequences
from dcp.gluejob.incremental import Part
from dcp.gluejob.output import WrittenPart
from dcp.gluejob.rawdata import SEQ_FILE, SEQ_OP, SEQ_ROW, RawFile, read_raw_file, sequenced_schema
from dcp.gluejob.tablejob import JobSecrets, TableJob, mask_buckets, rebatch, rewrite_buckets


def run_table_arrow(s3: Any, job: TableJob, secrets: JobSecrets) -> list[WrittenPart]:
    """Mask one table with pyarrow and write its output as one part per key-hash bucket."""
    with tempfile.TemporaryDirectory(prefix="dcp-mask-") as tmp:
        tmp_dir = Path(tmp)
        paths = _download(s3, job, job.raw.files, tmp_dir)
        return mask_buckets(current_batches(job, paths), job, secrets, s3, tmp_dir)


def apply_arrow(
    s3: Any, job: TableJob, secrets: JobSecrets, new_files: list[RawFile], old_parts: list[Part]
) -> list[WrittenPart]:
    """Apply ``new_files`` (unapplied change files) to the buckets of the keys they touch.

    Only those files are read; memory holds their rows (a CDC round), never the table.
    """
    with tempfile.TemporaryDirectory(prefix="dcp-apply-") as tmp:
        tmp_dir = Path(tmp)
        paths = _download(s3, job, new_files, tmp_dir)
        batches = [
            batch
            for index, (raw_file, path) in enumerate(zip(new_files, paths, strict=True))
            for batch in read_raw_file(path, raw_file.fmt, job.schema, index, source=raw_file.key)
        ]
        changes = latest_rows(pa.Table.from_batches(batches, schema=sequenced_schema(job.schema)), job.key_column)
        return rewrite_buckets(changes, old_parts, job, secrets, s3, tmp_dir)


def _download(s3: Any, job: TableJob, files: Sequence[RawFile], tmp_dir: Path) -> list[Path]:
    return [
        download(s3, job.raw.bucket, raw_file.key, tmp_dir / f"raw-{index:05d}") for index, raw_file in enumerate(files)
    ]


def current_batches(job: TableJob, paths: list[Path]) -> Iterator[pa.RecordBatch]:
    """The table's current rows (changes applied), in ``job.schema``, ``job.batch_size`` at a time."""
    survivors = None
    if job.raw.has_changes:
        key = job.key_column
        key_batches = [
            batch
            for index, (raw_file, path) in enumerate(zip(job.raw.files, paths, strict=True))
            for batch in read_raw_file(path, raw_file.fmt, job.schema, index, columns=[key], source=raw_file.key)
        ]
        keys = pa.Table.from_batches(key_batches, schema=sequenced_schema(pa.schema([job.schema.field(key)])))
        survivors = surviving_sequences(keys.select([key, SEQ_OP, SEQ_FILE, SEQ_ROW]), key)
    names = job.schema.names
    for index, (raw_file, path) in enumerate(zip(job.raw.files, paths, strict=True)):
        for batch in read_raw_file(path, raw_file.fmt, job.schema, index, source=raw_file.key):
            current = keep_current(batch, survivors) if survivors is not None else batch
            yield from rebatch(current.select(names), job.batch_size)
