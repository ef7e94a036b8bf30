"""One run of the mask-PII job: findings -> plan -> every raw table masked, encrypted, replaced.

The driver does everything that needs AWS credentials once: it reads the token key and the
findings, lists the raw tables, infers their schemas, builds the ``MaskingPlan`` and asks KMS
for one data key per flagged table. The chosen engine then turns each table into part files.
Fail closed (``MaskingPlan.for_tables``): a table no finding matches, or with occurrences no
column is given for, is scanned by dcp's detector; a table whose reported types cannot be
located even so is not published (``JobReport.not_published``, and the run exits non-zero).
Tables without PII are copied into the masked output unchanged (so analysts see every table)
and never into the encrypted output.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from dcp.gluejob.args import JobArgs
from dcp.gluejob.arrow_engine import run_table_arrow
from dcp.gluejob.aws_calls import aws_client, download
from dcp.gluejob.catalog import as_parameters, glue_table_name, set_table_parameters
from dcp.gluejob.findings_reader import load_discovery_results, load_findings
from dcp.gluejob.keys import create_table_key, token_key_from_secret
from dcp.gluejob.output import (
    ENCRYPTED,
    MASKED,
    OutputTarget,
    WrittenPart,
    discard_run,
    replace_output,
    write_empty,
)
from dcp.gluejob.rawdata import RawTable, discover_tables, read_raw_file, sample_schema
from dcp.gluejob.tablejob import JobSecrets, TableJob, output_schemas
from dcp.masking.detect import classify_source
from dcp.masking.findings import Detection, Finding
from dcp.masking.identifiers import CustomIdentifier
from dcp.masking.plan import MaskingPlan

log = logging.getLogger("dcp.gluejob")


@dataclass
class JobClients:
    """The boto3 clients the driver uses (executors make their own S3 clients)."""

    s3: Any
    kms: Any
    secrets: Any
    glue: Any

    @classmethod
    def from_environment(cls) -> JobClients:
        return cls(aws_client("s3"), aws_client("kms"), aws_client("secretsmanager"), aws_client("glue"))


@dataclass
class TableReport:
    table: str
    flagged: dict[str, str]  # column -> action
    rows: int
    masked_parts: int
    encrypted_parts: int
    deleted_objects: int
    seconds: float
    catalog_updated: list[str] = field(default_factory=list)


@dataclass
class JobReport:
    run_id: str
    engine: str
    findings_objects: int = 0
    findings: int = 0
    warnings: list[str] = field(default_factory=list)
    tables: list[TableReport] = field(default_factory=list)
    #: table -> why it was not published (fail closed: a reported type no column was located for)
    not_published: dict[str, str] = field(default_factory=dict)
    #: table -> the columns dcp's detector located because no finding did
    located_by_detector: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def run_job(
    args: JobArgs, *, spark: Any = None, clients: JobClients | None = None, run_id: str | None = None
) -> JobReport:
    """Run the job with the Spark engine when ``spark`` (a SparkSession) is given, else Arrow."""
    clients = clients or JobClients.from_environment()
    report = JobReport(run_id=run_id or new_run_id(), engine="spark" if spark is not None else "arrow")
    token_key = args.token_key
    if token_key is None:
        assert args.token_secret_id is not None  # parse_job_args requires one of the two
        token_key = token_key_from_secret(clients.secrets, args.token_secret_id)

    # fail closed: an unreadable findings or results object raises here, before anything is written
    loaded = load_findings(
        clients.s3,
        args.findings_bucket,
        args.findings_prefix,
        raw_bucket=args.raw_bucket,
        raw_prefix=args.raw_prefix,
    )
    report.findings_objects, report.findings = loaded.objects, len(loaded.findings)
    results = (
        load_discovery_results(
            clients.s3, args.discovery_results, raw_bucket=args.raw_bucket, raw_prefix=args.raw_prefix
        )
        if args.discovery_results
        else []
    )
    log.info(
        "read %d finding(s) from %d object(s) under s3://%s/%s (%d about other data), %d discovery result(s)",
        len(loaded.findings),
        loaded.objects,
        args.findings_bucket,
        args.findings_prefix,
        loaded.ignored,
        len(results),
    )

    tables = discover_tables(clients.s3, args.raw_bucket, args.raw_prefix, args.tables)
    found = {table.name for table in tables}
    for name in args.tables:
        if name not in found:
            report.warnings.append(
                f"table {name!r}: no data files under s3://{args.raw_bucket}/{args.raw_prefix}{name}/"
            )
    with tempfile.TemporaryDirectory(prefix="dcp-schema-") as tmp:
        schemas = {table.name: sample_schema(clients.s3, table, Path(tmp)) for table in tables}
    by_name = {table.name: table for table in tables}
    plan = MaskingPlan.for_tables(
        loaded.findings,
        args.policy,
        schemas,
        lambda name: detect_table(clients.s3, by_name[name], schemas[name], args.custom_identifiers),
        results,
    )
    report.warnings.extend(plan.warnings)
    report.located_by_detector = dict(plan.detected)
    report.not_published = dict(plan.blocked)
    for warning in report.warnings:
        log.warning("%s", warning)
    for name, note in plan.detected.items():
        log.warning("table %s: %s", name, note)
    for reason in plan.blocked.values():
        log.error("%s", reason)
    tables = [table for table in tables if table.name not in plan.blocked]

    for table in tables:
        job = TableJob(
            raw=table,
            schema=schemas[table.name],
            plan=plan.tables[table.name],
            target=OutputTarget(args.curated_bucket, table.name, report.run_id),
            primary_key=args.primary_key,
            batch_size=args.batch_size,
        )
        report.tables.append(_run_table(job, args, clients, token_key, spark))
    return report


def detect_table(
    s3: Any, table: RawTable, schema: pa.Schema, custom_identifiers: Sequence[CustomIdentifier] = ()
) -> Finding | None:
    """dcp's detector over every raw file of ``table`` (as the engines parse it), as one finding.

    What the plan falls back to when no finding locates a table's PII (fail closed); the
    detections of all files are merged, so a type found in any file flags its column.
    """
    detections: list[Detection] = []
    with tempfile.TemporaryDirectory(prefix="dcp-detect-") as tmp:
        for index, raw_file in enumerate(table.files):
            path = download(s3, table.bucket, raw_file.key, Path(tmp) / f"raw-{index:05d}")
            batches = (
                batch.select(schema.names)
                for batch in read_raw_file(path, raw_file.fmt, schema, index, source=raw_file.key)
            )
            reader = pa.RecordBatchReader.from_batches(schema, batches)
            finding = classify_source(
                reader, key=raw_file.key, bucket=table.bucket, fmt="parquet", custom_identifiers=custom_identifiers
            )
            if finding is not None:
                detections.extend(finding.detections)
            path.unlink(missing_ok=True)
    if not detections:
        return None
    return Finding(bucket=table.bucket, key=table.files[0].key, table=table.name, detections=tuple(detections))


def _run_table(job: TableJob, args: JobArgs, clients: JobClients, token_key: bytes, spark: Any) -> TableReport:
    started = time.perf_counter()
    table_key = create_table_key(clients.kms, args.data_key_id, job.name)[1] if job.flagged else None
    secrets = JobSecrets(token_key=token_key, table_key=table_key)
    log.info(
        "table %s: %d file(s)%s, %s",
        job.name,
        len(job.raw.files),
        " with changes" if job.raw.has_changes else "",
        f"masking {job.plan_summary()}" if job.flagged else "no findings: copied to masked output only",
    )
    try:
        parts = _run_engine(job, secrets, clients.s3, spark)
        parts += _empty_parts(job, secrets, clients.s3, parts)
        deleted = sum(
            replace_output(clients.s3, job.target, kind, [p.key for p in parts if p.kind == kind])
            for kind in (MASKED, ENCRYPTED)  # an unflagged table keeps no encrypted copy
        )
    except BaseException:
        try:
            discard_run(clients.s3, job.target)
        except Exception as cleanup:  # the original failure matters more
            log.warning("table %s: could not delete this run's parts: %s", job.name, cleanup)
        raise
    catalog = _record_in_catalog(job, args, clients.glue, secrets)
    rows = sum(p.rows for p in parts if p.kind == MASKED)
    report = TableReport(
        table=job.name,
        flagged=job.plan_summary(),
        rows=rows,
        masked_parts=sum(p.kind == MASKED for p in parts),
        encrypted_parts=sum(p.kind == ENCRYPTED for p in parts),
        deleted_objects=deleted,
        seconds=round(time.perf_counter() - started, 3),
        catalog_updated=catalog,
    )
    log.info("table %s: %d row(s) written, %d old object(s) replaced", job.name, rows, deleted)
    return report


def _run_engine(job: TableJob, secrets: JobSecrets, s3: Any, spark: Any) -> list[WrittenPart]:
    if spark is not None:
        from dcp.gluejob.spark_engine import run_table_spark

        return run_table_spark(spark, job, secrets)
    return run_table_arrow(s3, job, secrets)


def _empty_parts(job: TableJob, secrets: JobSecrets, s3: Any, parts: list[WrittenPart]) -> list[WrittenPart]:
    """One empty file per output kind that got no rows, so its schema stays visible."""
    metadata = job.metadata(secrets)
    return [
        write_empty(s3, job.target, kind, schema, metadata[kind])
        for kind, schema in output_schemas(job).items()
        if not any(part.kind == kind for part in parts)
    ]


def _record_in_catalog(job: TableJob, args: JobArgs, glue: Any, secrets: JobSecrets) -> list[str]:
    """Store each output's metadata (the encrypted one's wrapped key) in its Glue table, if it exists."""
    updated = []
    metadata = job.metadata(secrets)
    for kind, database in ((MASKED, args.masked_database), (ENCRYPTED, args.encrypted_database)):
        if not database or kind not in metadata:
            continue
        name = glue_table_name(job.name)
        parameters = as_parameters(metadata[kind], **{"dcp:run_id": job.target.run_id})
        if set_table_parameters(glue, database, name, parameters):
            updated.append(f"{database}.{name}")
    return updated
