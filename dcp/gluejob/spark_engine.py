"""The Spark engine: the same parse, merge and masking steps as the Arrow engine, distributed.

* **Parse**: one task per raw file (``mapInArrow`` over the file list) runs the very parser the
  Arrow engine uses (:func:`dcp.gluejob.rawdata.read_raw_file`), reading the file with boto3.
  Spark's CSV reader is not used: it treats empty and null differently and infers other
  types, and the two engines must see identical batches.
* **Merge**: with change files, a window over the primary key ordered by (file, row) keeps each
  key's last row and drops it when that row is a delete.
* **Bucket**: the rows are shuffled by key-hash bucket (``pmod(crc32(key), buckets)``, the
  Arrow engine's :func:`dcp.gluejob.incremental.bucket_of`), so each bucket's part is written
  by one task. An incremental run parses only the unapplied change files, keeps each touched
  key's last row (deletes too) and rewrites only the touched buckets
  (:func:`dcp.gluejob.tablejob.rewrite_buckets`).
* **Mask and write**: ``mapInArrow`` calls ``dcp.masking.apply.mask_batch`` on every batch and
  writes each bucket's masked and encrypted part with pyarrow, uploaded with boto3, so the
  encrypted part's Parquet footer carries the wrapped data key (Spark's own Parquet writer
  would drop Arrow schema metadata, and would need the S3A/EMRFS connector besides).

The data key reaches executors in a broadcast variable (:class:`JobSecrets`), never in logs.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from dcp.gluejob.aws_calls import aws_client, download
from dcp.gluejob.incremental import BUCKET_COLUMN, Part, spark_bucket_column
from dcp.gluejob.output import WRITTEN_SCHEMA, WrittenPart
from dcp.gluejob.rawdata import SEQ_FILE, SEQ_OP, SEQ_ROW, RawFile, read_raw_file, sequenced_schema
from dcp.gluejob.tablejob import JobSecrets, TableJob, mask_buckets, rebatch, rewrite_buckets

_FILES_SCHEMA = "file_index INT, key STRING, fmt STRING"
_RANK = "__dcp_rank"


def spark_session(app_name: str = "dcp-mask-pii") -> Any:
    """The active SparkSession, else spark-submit's, else (plain python) a local one."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(app_name)
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        # plain python, not spark-submit (whose --master and conf must win): a local session whose
        # Python workers run this interpreter, with its packages (pyspark reads only the variable)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (
            builder.master("local[*]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "8")
        )
    return builder.getOrCreate()


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def run_table_spark(spark: Any, job: TableJob, secrets: JobSecrets) -> list[WrittenPart]:
    """Mask one table with Spark; returns the parts the executors wrote (one per bucket and kind)."""
    from pyspark.sql import functions as F

    current = _parsed(spark, job, job.raw.files)
    if job.raw.has_changes:
        current = _latest(current, job).where(F.col(SEQ_OP) != "D")
    current = current.select(*[F.col(_quoted(name)) for name in job.schema.names])
    return _write_by_bucket(spark, job, secrets, current, functools.partial(_mask_partition, job))


def apply_spark(
    spark: Any, job: TableJob, secrets: JobSecrets, new_files: list[RawFile], old_parts: list[Part]
) -> list[WrittenPart]:
    """Apply ``new_files`` to the buckets of the keys they touch (:func:`rewrite_buckets`)."""
    from pyspark.sql import functions as F

    latest = _latest(_parsed(spark, job, new_files), job)
    changes = latest.select(*[F.col(_quoted(name)) for name in sequenced_schema(job.schema).names])
    return _write_by_bucket(spark, job, secrets, changes, functools.partial(_rewrite_partition, job, old_parts))


def _parsed(spark: Any, job: TableJob, files: Sequence[RawFile]) -> Any:
    """The rows of ``files`` (sequenced), parsed on the executors, one file per task."""
    from pyspark.sql.pandas.types import from_arrow_schema

    context = spark.sparkContext
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(job.batch_size))
    listing_rows = [(index, raw_file.key, raw_file.fmt) for index, raw_file in enumerate(files)]
    listing = spark.createDataFrame(context.parallelize(listing_rows, max(1, len(listing_rows))), _FILES_SCHEMA)
    return listing.mapInArrow(functools.partial(_parse_files, job), from_arrow_schema(sequenced_schema(job.schema)))


def _latest(parsed: Any, job: TableJob) -> Any:
    """Each key's last row (by file, then row), deletes included."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    latest_first = Window.partitionBy(F.col(_quoted(job.key_column))).orderBy(
        F.col(SEQ_FILE).desc(), F.col(SEQ_ROW).desc()
    )
    return parsed.withColumn(_RANK, F.row_number().over(latest_first)).where(F.col(_RANK) == 1).drop(_RANK)


def _write_by_bucket(spark: Any, job: TableJob, secrets: JobSecrets, rows: Any, write: Any) -> list[WrittenPart]:
    """Shuffle ``rows`` by key-hash bucket (every bucket in one task) and ``write`` each partition."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    context = spark.sparkContext
    shared = context.broadcast(secrets)
    try:
        bucketed = rows.withColumn(BUCKET_COLUMN, spark_bucket_column(F.col(_quoted(job.key_column)), job.buckets))
        spread = bucketed.repartition(max(1, min(job.buckets, context.defaultParallelism)), F.col(BUCKET_COLUMN))
        written = spread.mapInArrow(functools.partial(write, shared), from_arrow_schema(WRITTEN_SCHEMA)).collect()
    finally:
        shared.unpersist()
    return [
        WrittenPart(row["kind"], row["key"], int(row["rows"]), int(row["bucket"]), int(row["bytes"])) for row in written
    ]


def _parse_files(job: TableJob, listings: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Executor side: parse each listed raw file into sequenced batches."""
    s3 = aws_client("s3")
    with tempfile.TemporaryDirectory(prefix="dcp-parse-") as tmp:
        for listing in listings:
            for entry in listing.to_pylist():
                path = download(s3, job.raw.bucket, entry["key"], Path(tmp) / f"raw-{entry['file_index']:05d}")
                try:
                    yield from read_raw_file(path, entry["fmt"], job.schema, entry["file_index"], source=entry["key"])
                finally:
                    path.unlink(missing_ok=True)


def _mask_partition(job: TableJob, shared: Any, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Executor side: mask this partition's rows into the parts of their buckets."""
    secrets: JobSecrets = shared.value
    with tempfile.TemporaryDirectory(prefix="dcp-part-") as tmp:
        written = mask_buckets(
            (b for batch in batches for b in rebatch(batch, job.batch_size)), job, secrets, aws_client("s3"), Path(tmp)
        )
    yield pa.RecordBatch.from_pylist([w.to_row() for w in written], schema=WRITTEN_SCHEMA)


def _rewrite_partition(
    job: TableJob, old_parts: list[Part], shared: Any, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """Executor side: rewrite the buckets of this partition's changed keys."""
    secrets: JobSecrets = shared.value
    rows = [batch.drop_columns([BUCKET_COLUMN]) for batch in batches]
    written: list[WrittenPart] = []
    if rows:
        changes = pa.Table.from_batches(rows).cast(sequenced_schema(job.schema))
        with tempfile.TemporaryDirectory(prefix="dcp-rewrite-") as tmp:
            written = rewrite_buckets(changes, old_parts, job, secrets, aws_client("s3"), Path(tmp))
    yield pa.RecordBatch.from_pylist([w.to_row() for w in written], schema=WRITTEN_SCHEMA)
