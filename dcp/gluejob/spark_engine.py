"""The Spark engine: the same parse, merge and masking steps as the Arrow engine, distributed.

* **Parse**: one task per raw file (``mapInArrow`` over the file list) runs the very parser the
  Arrow engine uses (:func:`dcp.gluejob.rawdata.read_raw_file`), reading the file with boto3.
  Spark's CSV reader is not used: it treats empty and null differently and infers other
  types, and the two engines must see identical batches.
* **Merge**: with change files, a window over the primary key ordered by (file, row) keeps each
  key's last row and drops it when that row is a delete. Without them, a table with at least
  as many files as cores is parsed and masked file by file in one stage (no shuffle: DMS
  splits big full loads into many files); one with fewer files is repartitioned round-robin
  first, so the costly masking still uses every core.
* **Mask and write**: ``mapInArrow`` calls ``dcp.masking.apply.mask_batch`` on every batch and
  writes each partition's masked and encrypted part with pyarrow, uploaded with boto3, so the
  encrypted part's Parquet footer carries the wrapped data key (Spark's own Parquet writer
  would drop Arrow schema metadata, and would need the S3A/EMRFS connector besides).

The data key reaches executors in a broadcast variable (:class:`JobSecrets`), never in logs.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from dcp.gluejob.aws_calls import aws_client, download
from dcp.gluejob.output import WRITTEN_SCHEMA, WrittenPart
from dcp.gluejob.rawdata import SEQ_FILE, SEQ_OP, SEQ_ROW, read_raw_file, sequenced_schema
from dcp.gluejob.tablejob import JobSecrets, TableJob, mask_parts, rebatch

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
    """Mask one table with Spark; returns the parts the executors wrote."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(job.batch_size))
    context = spark.sparkContext
    shared = context.broadcast(secrets)
    try:
        files = [(index, raw_file.key, raw_file.fmt) for index, raw_file in enumerate(job.raw.files)]
        # one file per partition, so each task parses (and maybe masks) exactly one file
        listing = spark.createDataFrame(context.parallelize(files, len(files)), _FILES_SCHEMA)
        written_schema = from_arrow_schema(WRITTEN_SCHEMA)
        if not job.raw.has_changes and len(files) >= context.defaultParallelism:
            # enough files to keep every core busy: parse and mask each file in one task, no shuffle
            written = listing.mapInArrow(functools.partial(_parse_and_mask, job, shared), written_schema)
        else:
            parsed = listing.mapInArrow(
                functools.partial(_parse_files, job), from_arrow_schema(sequenced_schema(job.schema))
            )
            if job.raw.has_changes:
                latest_first = Window.partitionBy(F.col(_quoted(job.key_column))).orderBy(
                    F.col(SEQ_FILE).desc(), F.col(SEQ_ROW).desc()
                )
                current = parsed.withColumn(_RANK, F.row_number().over(latest_first)).where(
                    (F.col(_RANK) == 1) & (F.col(SEQ_OP) != "D")
                )
            else:  # fewer files than cores: spread the rows before the costly masking
                current = parsed.repartition(max(1, context.defaultParallelism))
            current = current.select(*[F.col(_quoted(name)) for name in job.schema.names])
            written = current.mapInArrow(functools.partial(_mask_partition, job, shared), written_schema)
        rows = written.collect()
    finally:
        shared.unpersist()
    return [WrittenPart(row["kind"], row["key"], int(row["rows"])) for row in rows]


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


def _parse_and_mask(job: TableJob, shared: Any, listings: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Executor side, tables without changes: parse this task's files and mask them as one part."""
    names = job.schema.names

    def current() -> Iterator[pa.RecordBatch]:
        for batch in _parse_files(job, listings):
            yield from rebatch(batch.select(names), job.batch_size)

    yield from _mask_partition(job, shared, current())


def _mask_partition(job: TableJob, shared: Any, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Executor side: mask this partition's rows and write its part files."""
    from pyspark import TaskContext

    context = TaskContext.get()
    part = context.partitionId() if context is not None else 0
    secrets: JobSecrets = shared.value
    with tempfile.TemporaryDirectory(prefix="dcp-part-") as tmp:
        written = mask_parts(batches, job, secrets, aws_client("s3"), part, Path(tmp))
    yield pa.RecordBatch.from_pylist(
        [{"kind": w.kind, "key": w.key, "rows": w.rows} for w in written], schema=WRITTEN_SCHEMA
    )
