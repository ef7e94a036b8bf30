"""Start the job on whatever runs it: AWS Glue (GlueContext, job bookmarks), spark-submit, python.

On Glue the run is wrapped in ``Job.init``/``Job.commit`` so Glue records it. The job reads its
input with boto3, not through DynamicFrames, so Glue job bookmarks track no input: what each
table has applied is in the job's own manifest (``dcp.gluejob.incremental`` says why), and a run
reads only the change files it lists as unapplied. ``--full_rebuild true`` rebuilds every table.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from dcp.gluejob.args import JobArgumentError, on_glue, parse_job_args
from dcp.gluejob.job import JobReport, run_job
from dcp.masking.findings import UnreadableFindings

log = logging.getLogger("dcp.gluejob")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the job, write a JSON summary on stdout.

    0 on success; 2 on bad usage or unreadable findings (nothing written); 1 when a table was not
    published because its PII could not be located (the reason is the last line on stderr, which
    is what Glue and the sandbox record as the run's error message and `dcp status` shows).
    """
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv if argv is None else argv)
    try:
        args = parse_job_args(argv)
    except JobArgumentError as exc:
        log.error("%s", exc)
        return 2
    try:
        if on_glue():
            report = _run_on_glue(args, argv)
        else:
            spark = None
            if args.engine == "spark":
                from dcp.gluejob.spark_engine import spark_session

                spark = spark_session(args.job_name)
            report = run_job(args, spark=spark)
    except UnreadableFindings as exc:
        log.error("%s: nothing written", exc)
        return 2
    sys.stdout.write(json.dumps(report.to_json(), sort_keys=True) + "\n")
    if report.not_published:
        log.error("not published (fail closed): %s", "; ".join(report.not_published.values()))
        return 1
    return 0


def _run_on_glue(args: Any, argv: list[str]) -> JobReport:
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args.job_name, getResolvedOptions(argv, ["JOB_NAME"]))
    spark = glue_context.spark_session if args.engine == "spark" else None
    report = run_job(args, spark=spark)
    job.commit()
    return report
