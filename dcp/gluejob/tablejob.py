"""One table's work in one run, and the masking step both engines share.

A :class:`TableJob` is plain, picklable data (no clients, no keys): Spark ships it to executors
inside the task closure. Keys travel separately (:class:`JobSecrets`, broadcast by Spark).
:func:`mask_parts` is the step both engines run on a stream of current rows: it calls
``dcp.masking.apply.mask_batch`` on every batch and writes the part files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from dcp.gluejob.keys import TableKey
from dcp.gluejob.output import ENCRYPTED, MASKED, OutputTarget, PartWriter, WrittenPart
from dcp.gluejob.rawdata import RawTable
from dcp.masking.apply import META_ENCRYPTED_COLUMNS, mask_batch
from dcp.masking.apply import output_schemas as runner_output_schemas
from dcp.masking.plan import TablePlan
from dcp.masking.policy import Action

META_MASKING = b"dcp:masking"


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
        return TableJob(self.raw, schema, self.plan, self.target, self.primary_key, self.batch_size)

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


def mask_parts(
    batches: Iterable[pa.RecordBatch],
    job: TableJob,
    secrets: JobSecrets,
    s3: Any,
    part: int,
    tmp_dir: Path,
) -> list[WrittenPart]:
    """Mask (or copy, for unflagged tables) every batch and write part ``part`` of the output."""
    writer = PartWriter(s3, job.target, part, job.metadata(secrets), tmp_dir)
    if job.flagged:
        assert job.plan is not None
        if secrets.table_key is None:
            raise ValueError(f"table {job.name!r} is flagged but no data key was created for it")
        crypto = secrets.table_key.crypto()
        for batch in batches:
            result = mask_batch(batch, job.plan, crypto, secrets.token_key)
            writer.write(MASKED, result.masked)
            writer.write(ENCRYPTED, result.encrypted)
    else:
        for batch in batches:
            writer.write(MASKED, batch)
    return writer.close()


def output_schemas(job: TableJob) -> dict[str, pa.Schema]:
    """The schema of each output kind of ``job``."""
    if not job.flagged or job.plan is None:
        return {MASKED: job.schema}
    masked, encrypted = runner_output_schemas(job.schema, job.plan)
    return {MASKED: masked, ENCRYPTED: encrypted}
