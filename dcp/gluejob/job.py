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
from botocore.exceptions import ClientError

from dcp.gluejob.args import JobArgs
from dcp.gluejob.arrow_engine import apply_arrow, run_table_arrow
from dcp.gluejob.aws_calls import aws_client, download
from dcp.gluejob.catalog import as_parameters, glue_table_name, set_table_parameters
from dcp.gluejob.crawl import crawl_reason, run_crawlers
from dcp.gluejob.findings_reader import load_discovery_results, load_findings
from dcp.gluejob.incremental import (
    Manifest,
    Part,
    fingerprint,
    key_metadata_text,
    load_manifest,
    merged_detection,
    save_manifest,
    unapplied_files,
)
from dcp.gluejob.keys import TableKey, create_table_key, reuse_table_key, token_key_from_secret
from dcp.gluejob.output import (
    ENCRYPTED,
    MASKED,
    OutputTarget,
    WrittenPart,
    discard_run,
    replace_output,
    write_empty,
)
from dcp.gluejob.rawdata import RawFile, RawTable, discover_tables, read_raw_file, sample_schema
from dcp.gluejob.tablejob import JobSecrets, TableJob, output_schemas
from dcp.masking.crypto import KmsAccessDenied
from dcp.masking.detect import classify_source
from dcp.masking.findings import Detection, Finding
from dcp.masking.identifiers import CustomIdentifier
from dcp.masking.plan import MaskingPlan

log = logging.getLogger("dcp.gluejob")
SCHEMA_SAMPLE_BYTES = 1 << 20  # what sample_schema reads of a plain CSV file (a ranged GET)


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
    #: output tables its databases do not have yet (the output crawlers create them)
    catalog_missing: list[str] = field(default_factory=list)
    #: full (every raw file, every bucket), incremental (unapplied files, touched buckets) or unchanged
    mode: str = "full"
    raw_files_read: int = 0
    raw_bytes_read: int = 0
    output_bytes_read: int = 0  # earlier parts of the rewritten buckets
    output_bytes_written: int = 0
    buckets_rewritten: int = 0


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
    #: the output crawlers this run ran, and why (none: the catalog already matched the output)
    crawled: list[str] = field(default_factory=list)
    crawl_reason: str = ""

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
    priors = {table.name: _prior(clients.s3, args, table) for table in tables}
    raw_read = {table.name: 0 for table in tables}
    schemas = {}
    with tempfile.TemporaryDirectory(prefix="dcp-schema-") as tmp:
        for table in tables:
            prior = priors[table.name]
            if prior.incremental and prior.manifest is not None:
                schemas[table.name] = prior.manifest.schema  # the applied files' schema: no raw read
            else:
                schemas[table.name] = sample_schema(clients.s3, table, Path(tmp))
                first = table.files[0]
                raw_read[table.name] += min(first.size, SCHEMA_SAMPLE_BYTES) if first.fmt == "csv" else first.size
    by_name = {table.name: table for table in tables}

    def detector(name: str) -> Finding | None:
        table, prior = by_name[name], priors[name]
        manifest = prior.manifest
        files = prior.new_files if prior.incremental and manifest is not None and manifest.scanned else None
        found = detect_table(clients.s3, table, schemas[name], args.custom_identifiers, files=files)
        raw_read[name] += sum(f.size for f in (table.files if files is None else files))
        if files is not None and manifest is not None:
            found = merged_detection(manifest.detected, [found])
        prior.detected, prior.scanned = found, True
        return found

    plan = MaskingPlan.for_tables(loaded.findings, args.policy, schemas, detector, results)
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
            buckets=args.buckets,
        )
        table_report = _run_table(job, args, clients, token_key, spark, priors[table.name])
        table_report.raw_bytes_read += raw_read[table.name]
        report.tables.append(table_report)
    _crawl_outputs(args, clients, report)
    return report


def _crawl_outputs(args: JobArgs, clients: JobClients, report: JobReport) -> None:
    """Run the output crawlers when the catalog may not match what this run wrote (dcp.gluejob.crawl)."""
    if not args.output_crawlers:
        return
    why = crawl_reason(report.tables)
    if why is None:
        log.info("output crawlers not run: every table was updated in place and is in the catalog")
        return
    log.info("crawling %s: %s", ", ".join(args.output_crawlers), why)
    run_crawlers(clients.glue, args.output_crawlers)
    report.crawled, report.crawl_reason = list(args.output_crawlers), why


@dataclass
class Prior:
    """What earlier runs applied to a table, and what this run must still read."""

    manifest: Manifest | None
    #: the unapplied raw files, when the table can be updated in place; None: rebuild it
    new_files: list[RawFile] | None
    detected: Finding | None = None
    scanned: bool = False

    @property
    def incremental(self) -> bool:
        return self.new_files is not None


def _prior(s3: Any, args: JobArgs, table: RawTable) -> Prior:
    manifest = load_manifest(s3, args.curated_bucket, table.name)
    if args.full_rebuild:
        return Prior(manifest, None)
    return Prior(manifest, unapplied_files(manifest, table))


def detect_table(
    s3: Any,
    table: RawTable,
    schema: pa.Schema,
    custom_identifiers: Sequence[CustomIdentifier] = (),
    *,
    files: Sequence[RawFile] | None = None,
) -> Finding | None:
    """dcp's detector over every raw file of ``table`` (or ``files`` of it), as one finding.

    What the plan falls back to when no finding locates a table's PII (fail closed); the
    detections of all files are merged, so a type found in any file flags its column.
    """
    detections: list[Detection] = []
    with tempfile.TemporaryDirectory(prefix="dcp-detect-") as tmp:
        for index, raw_file in enumerate(table.files if files is None else files):
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


def _run_table(
    job: TableJob, args: JobArgs, clients: JobClients, token_key: bytes, spark: Any, prior: Prior
) -> TableReport:
    started = time.perf_counter()
    manifest, new_files = prior.manifest, prior.new_files
    why = _why_rebuild(job, args, token_key, prior)
    table_key = None
    if why is None and job.flagged and not new_files:
        assert manifest is not None  # nothing to encrypt: the recorded (wrapped) key's metadata only
        table_key = TableKey(metadata={k.encode(): v.encode() for k, v in manifest.key_metadata.items()}, plaintext=b"")
    elif why is None and job.flagged:
        assert manifest is not None
        try:
            table_key = reuse_table_key(clients.kms, manifest.key_metadata)
        except (KmsAccessDenied, ClientError, ValueError) as exc:  # e.g. a role without kms:Decrypt
            why = f"the table's data key could not be unwrapped, so the table gets a new one ({exc})"
    if why is not None:
        new_files = None
        if job.flagged:
            table_key = create_table_key(clients.kms, args.data_key_id, job.name)[1]
    secrets = JobSecrets(token_key=token_key, table_key=table_key)
    mode = "full" if new_files is None else "incremental" if new_files else "unchanged"
    log.info(
        "table %s: %s, %d file(s) to read%s, %s",
        job.name,
        mode if why is None or manifest is None else f"full rebuild ({why})",
        len(job.raw.files if new_files is None else new_files),
        " with changes" if job.raw.has_changes else "",
        f"masking {job.plan_summary()}" if job.flagged else "no findings: copied to masked output only",
    )
    if manifest is not None:  # parts of a run that crashed before its manifest: never published
        for kind in (MASKED, ENCRYPTED):
            replace_output(clients.s3, job.target, kind, manifest.part_keys())
    old_parts: list[Part] = []
    try:
        if new_files is None:
            parts = _run_engine(job, secrets, clients.s3, spark)
            parts += _empty_parts(job, secrets, clients.s3, parts)
            written = parts
        else:
            assert manifest is not None
            written = _apply_engine(job, secrets, clients.s3, spark, new_files, manifest.parts) if new_files else []
            touched = {part.bucket for part in written}
            old_parts = manifest.parts_of(touched)
            kept = [part for part in manifest.parts if part.bucket not in touched]
            parts = [WrittenPart(p.kind, p.key, p.rows, p.bucket, p.bytes) for p in kept] + written
    except BaseException:
        try:
            discard_run(clients.s3, job.target)
        except Exception as cleanup:  # the original failure matters more
            log.warning("table %s: could not delete this run's parts: %s", job.name, cleanup)
        raise
    if written:  # the commit point: readers of the manifest (the next run) see the new parts
        save_manifest(clients.s3, args.curated_bucket, _manifest(job, secrets, token_key, prior, parts))
    deleted = sum(
        replace_output(clients.s3, job.target, kind, [p.key for p in parts if p.kind == kind])
        for kind in (MASKED, ENCRYPTED)  # an unflagged table keeps no encrypted copy
    )
    catalog, missing = _record_in_catalog(job, args, clients.glue, secrets)
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
        catalog_missing=missing,
        mode=mode,
        raw_files_read=len(job.raw.files if new_files is None else new_files),
        raw_bytes_read=sum(f.size for f in (job.raw.files if new_files is None else new_files)),
        output_bytes_read=sum(p.bytes for p in old_parts),
        output_bytes_written=sum(p.bytes for p in written),
        buckets_rewritten=len({p.bucket for p in written}),
    )
    log.info(
        "table %s: %d row(s), %d part(s) written, %d old object(s) replaced", job.name, rows, len(written), deleted
    )
    return report


def _why_rebuild(job: TableJob, args: JobArgs, token_key: bytes, prior: Prior) -> str | None:
    """Why this run must rebuild the table from every raw file, or None when it may apply changes."""
    manifest = prior.manifest
    if args.full_rebuild:
        return "--full_rebuild"
    if manifest is None:
        return "no manifest of applied changes"
    if prior.new_files is None:
        return "the applied raw files changed, or a new full load arrived"
    if job.plan is not None and job.plan.flags(job.key_column):
        return f"the key column {job.key_column!r} is masked, so rows cannot be matched by key"
    if manifest.fingerprint != fingerprint(job.schema, job.plan, job.key_column, args.buckets, token_key):
        return "the masking plan, schema, policy, token key or bucket count changed"
    return None


def _manifest(job: TableJob, secrets: JobSecrets, token_key: bytes, prior: Prior, parts: list[WrittenPart]) -> Manifest:
    return Manifest(
        table=job.name,
        run_id=job.target.run_id,
        fingerprint=fingerprint(job.schema, job.plan, job.key_column, job.buckets, token_key),
        buckets=job.buckets,
        key_column=job.key_column,
        schema=job.schema,
        applied=[(f.key, f.size) for f in job.raw.files],
        parts=[Part(p.kind, p.bucket, p.key, p.rows, p.bytes) for p in parts],
        key_metadata=key_metadata_text(secrets.table_key.metadata) if secrets.table_key else {},
        detected=prior.detected,
        scanned=prior.scanned,
    )


def _run_engine(job: TableJob, secrets: JobSecrets, s3: Any, spark: Any) -> list[WrittenPart]:
    if spark is not None:
        from dcp.gluejob.spark_engine import run_table_spark

        return run_table_spark(spark, job, secrets)
    return run_table_arrow(s3, job, secrets)


def _apply_engine(
    job: TableJob, secrets: JobSecrets, s3: Any, spark: Any, new_files: list[RawFile], old_parts: list[Part]
) -> list[WrittenPart]:
    if spark is not None:
        from dcp.gluejob.spark_engine import apply_spark

        return apply_spark(spark, job, secrets, new_files, old_parts)
    return apply_arrow(s3, job, secrets, new_files, old_parts)


def _empty_parts(job: TableJob, secrets: JobSecrets, s3: Any, parts: list[WrittenPart]) -> list[WrittenPart]:
    """One empty file per output kind that got no rows, so its schema stays visible."""
    metadata = job.metadata(secrets)
    return [
        write_empty(s3, job.target, kind, schema, metadata[kind])
        for kind, schema in output_schemas(job).items()
        if not any(part.kind == kind for part in parts)
    ]


def _record_in_catalog(job: TableJob, args: JobArgs, glue: Any, secrets: JobSecrets) -> tuple[list[str], list[str]]:
    """Store each output's metadata (the encrypted one's wrapped key) in its Glue table, if it
    exists; the tables updated, and those missing."""
    updated, missing = [], []
    metadata = job.metadata(secrets)
    for kind, database in ((MASKED, args.masked_database), (ENCRYPTED, args.encrypted_database)):
        if not database or kind not in metadata:
            continue
        name = glue_table_name(job.name)
        parameters = as_parameters(metadata[kind], **{"dcp:run_id": job.target.run_id})
        if set_table_parameters(glue, database, name, parameters):
            updated.append(f"{database}.{name}")
        else:
            missing.append(f"{database}.{name}")
    return updated, missing
