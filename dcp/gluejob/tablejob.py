"""One table's work in one run, and the masking step both engines share.

A :class:`TableJob` is plain, picklable data (no clients, no keys): Spark ships it to executors
inside the task closure. Keys travel separately (:class:`JobSecrets`, broadcast by Spark).
:func:`mask_buckets` is the step both engines run on a stream of current rows: it calls
``dcp.masking.apply.mask_batch`` on every batch and writes one part per key-hash bucket;
:func:`rewrite_buckets` is the incremental step, rewriting only the buckets of changed keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dcp.gluejob.aws_calls import download
from dcp.gluejob.incremental import BUCKET_COLUMN, DEFAULT_BUCKETS, Part, bucket_of
from dcp.gluejob.keys import TableKey
from dcp.gluejob.output import ENCRYPTED, MASKED, OutputTarget, PartWriter, WrittenPart
from dcp.gluejob.rawdata import SEQ_OP, RawTable
from dcp.masking.apply import META_ENCRYPTED_COLUMNS, mask_batch
from dcp.masking.apply import output_schemas as runner_output_schemas
from dcp.masking.plan import TablePlan
from dcp.masking.policy import Action

META_MASKING = b"dcp:masking"
_S3_THREADS = 8


@dataclass(frozen=True)
class JobSecrets:
    """The keys a table's masking needs: the token key and, for flagged tables, the data key."""

    token_key: bytes = field(repr=False)
    table_key: TableKey | None = None

    def __repr__(self) -> str:
        return f"JobSecrets(table_key={self.table_key!r})"


@dataclass(frozen=True)
class TableJob:
    raw: RawTable
    schema: pa.Schema
    plan: TablePlan | None
    target: OutputTarget
    primary_key: str = "id"
    batch_size: int = 10_000
    buckets: int = DEFAULT_BUCKETS

    @property
    def name(self) -> str:
        return self.raw.name

    @property
    def flagged(self) -> bool:
        """True when findings flag at least one column: masked and encrypted output, else a copy."""
        return self.plan is not None and bool(self.plan.columns)

    @property
    def key_column(self) -> str:
        """The primary key CDC merges by: ``primary_key`` if the table has it, else its first column."""
        return self.primary_key if self.primary_key in self.schema.names else self.schema.names[0]

    def with_schema(self, schema: pa.Schema) -> TableJob:
        return replace(self, schema=schema)

    def plan_summary(self) -> dict[str, str]:
        """Flagged column -> action (no data, safe to log and to store as metadata)."""
        if self.plan is None:
            return {}
        return {column: str(rule.action) for column, rule in sorted(self.plan.columns.items())}

    def metadata(self, secrets: JobSecrets) -> dict[str, dict[bytes, bytes]]:
        """Parquet schema metadata per output kind, as ``dcp.masking.apply.mask_table`` writes it.

        The encrypted copy carries the wrapped key and lists every flagged column as encrypted;
        the masked copy carries the key only when a column's action is ``encrypt``. So
        ``reveal_table`` reads this job's files like the local runner's.
        """
        common = {
            b"dcp:table": self.name.encode(),
            META_MASKING: json.dumps(self.plan_summary(), sort_keys=True).encode(),
        }
        if not self.flagged or self.plan is None:
            return {MASKED: common}
        if secrets.table_key is None:
            raise ValueError(f"table {self.name!r} is flagged but no data key was created for it")
        key_meta = secrets.table_key.metadata
        flagged = [name for name in self.schema.names if self.plan.rule(name) is not None]
        encrypt_action = [name for name in flagged if self.plan.columns[name].action is Action.ENCRYPT]

        def with_key(columns: list[str]) -> dict[bytes, bytes]:
            if not columns:
                return dict(common)
            return {**common, **key_meta, META_ENCRYPTED_COLUMNS: json.dumps(columns).encode()}

        return {MASKED: with_key(encrypt_action), ENCRYPTED: with_key(flagged)}


def rebatch(batch: pa.RecordBatch, size: int) -> Iterator[pa.RecordBatch]:
    """``batch`` in slices of at most ``size`` rows (zero-copy)."""
    for start in range(0, batch.num_rows, size):
        yield batch.slice(start, size)


class BucketWriters:
    """One :class:`PartWriter` per key-hash bucket: the masking step of both engines.

    Rows are masked batch by batch (``dcp.masking.apply.mask_batch``) and each masked and
    encrypted row goes to the part of its bucket, computed from the raw key (or taken from a
    ``BUCKET_COLUMN`` the Spark engine partitioned by).
    """

    def __init__(self, job: TableJob, secrets: JobSecrets, s3: Any, tmp_dir: Path) -> None:
        self.job, self.secrets, self.s3, self.tmp_dir = job, secrets, s3, tmp_dir
        self.metadata = job.metadata(secrets)
        self.crypto = None
        if job.flagged:
            if secrets.table_key is None:
                raise ValueError(f"table {job.name!r} is flagged but no data key was created for it")
            self.crypto = secrets.table_key.crypto()
        self.writers: dict[int, PartWriter] = {}

    def writer(self, bucket: int) -> PartWriter:
        if bucket not in self.writers:
            self.writers[bucket] = PartWriter(self.s3, self.job.target, bucket, self.metadata, self.tmp_dir)
        return self.writers[bucket]

    def write(self, batch: pa.RecordBatch) -> None:
        """Mask ``batch`` (the table's columns, maybe plus ``BUCKET_COLUMN``) into its buckets' parts."""
        job = self.job
        if BUCKET_COLUMN in batch.schema.names:
            assigned = batch.column(BUCKET_COLUMN)
            batch = batch.select(job.schema.names)
        else:
            assigned = bucket_of(batch.column(job.key_column), job.buckets)
        outputs: dict[str, pa.RecordBatch] = {MASKED: batch}
        if job.flagged:
            assert job.plan is not None
            result = mask_batch(batch, job.plan, self.crypto, self.secrets.token_key)
            outputs = {MASKED: result.masked, ENCRYPTED: result.encrypted}
        for bucket in pc.unique(assigned).to_pylist():
            rows = pc.equal(assigned, bucket)
            for kind, masked in outputs.items():
                self.writer(int(bucket)).write(kind, masked.filter(rows))

    def write_kept(self, bucket: int, kind: str, rows: pa.RecordBatch) -> None:
        """Rows of an earlier part kept as they are (already masked with this table's keys)."""
        self.writer(bucket).write(kind, rows)

    def close(self) -> list[WrittenPart]:
        """Finish and upload every part (concurrently: a run may write many small parts)."""
        with ThreadPoolExecutor(max_workers=_S3_THREADS) as pool:
            return [part for parts in pool.map(PartWriter.close, self.writers.values()) for part in parts]


def mask_buckets(
    batches: Iterable[pa.RecordBatch], job: TableJob, secrets: JobSecrets, s3: Any, tmp_dir: Path
) -> list[WrittenPart]:
    """Mask (or copy, for unflagged tables) every batch into one part per bucket it has rows in."""
    writers = BucketWriters(job, secrets, s3, tmp_dir)
    for batch in batches:
        writers.write(batch)
    return writers.close()


def rewrite_buckets(
    changes: pa.Table, old_parts: Sequence[Part], job: TableJob, secrets: JobSecrets, s3: Any, tmp_dir: Path
) -> list[WrittenPart]:
    """Rewrite the buckets of the keys in ``changes``: their old rows but the changed keys, plus
    the changed keys' current rows (masked now), as one new part per bucket and kind.

    ``changes`` holds the last row of every key the unapplied change files touch (its
    ``SEQ_OP`` says whether that is a delete); ``old_parts`` are the parts of those buckets.
    """
    key = job.key_column
    buckets = bucket_of(changes.column(key), job.buckets)
    touched = {int(b) for b in pc.unique(buckets).to_pylist()}
    kinds = output_schemas(job)
    writers = BucketWriters(job, secrets, s3, tmp_dir)
    wanted = [part for part in old_parts if part.bucket in touched and part.kind in kinds]
    with ThreadPoolExecutor(max_workers=_S3_THREADS) as pool:  # many small parts: overlap the GETs
        paths = list(
            pool.map(lambda p: download(s3, job.target.bucket, p.key, tmp_dir / f"old-{p.kind}-{p.bucket}"), wanted)
        )
    for bucket in sorted(touched):
        for kind, schema in kinds.items():  # an empty part still, when every row of the bucket is gone
            writers.write_kept(bucket, kind, _empty_batch(schema))
    for part, path in zip(wanted, paths, strict=True):
        old = pq.read_table(path)
        path.unlink(missing_ok=True)
        kept = old.filter(pc.invert(pc.is_in(old.column(key), value_set=changes.column(key))))
        for batch in kept.to_batches(max_chunksize=job.batch_size):
            writers.write_kept(part.bucket, part.kind, batch)
    alive = changes.filter(pc.not_equal(changes.column(SEQ_OP), "D")).select(job.schema.names)
    for batch in alive.to_batches(max_chunksize=job.batch_size):
        writers.write(batch)
    return writers.close()


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=schema)


def output_schemas(job: TableJob) -> dict[str, pa.Schema]:
    """The schema of each output kind of ``job``."""
    if not job.flagged or job.plan is None:
        return {MASKED: job.schema}
    masked, encrypted = runner_output_schemas(job.schema, job.plan)
    return {MASKED: masked, ENCRYPTED: encrypted}
