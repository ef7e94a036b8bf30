"""Macie's detailed discovery results are wired in the stack: `dcp up` sets Macie's classification
export (findings bucket, bucket key, with the bucket and key policy statements Macie needs), the
job gets `--discovery_results`, and a table with more PII columns than a finding's 15 listed
occurrences cover is masked in every column through the results (not by the job's fallback
detector).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from typing import Any

from tests.e2e.conftest import Dcp

COLUMNS = [f"c{i:02d}" for i in range(1, 21)]  # 20 e-mail columns: one row fills a finding's 15
ROWS = 8


def _mail(row: int, column: str) -> str:
    return f"person.{row}.{column}@example.com"


def _job_reports(dcp: Dcp) -> list[dict[str, Any]]:
    """The reports the masking job printed (its stdout, kept by the sandbox's Glue)."""
    reports = []
    for log in sorted((dcp.workdir / ".dcp" / "glue" / "runs").glob("*/stdout.log")):
        for line in log.read_text().splitlines():
            if line.startswith("{"):
                reports.append(json.loads(line))
    return reports


def test_every_pii_column_is_masked_through_the_discovery_results(sandbox_factory: Any) -> None:
    dcp = sandbox_factory("results")
    dcp.config.write_text("project: {prefix: results}\nsource: {engine: mysql, tables: [wide]}\n")
    dcp("up")
    aws, names = dcp.aws(), dcp.names()

    export = aws.client("macie2").get_classification_export_configuration()["configuration"]["s3Destination"]
    assert export["bucketName"] == names.findings_bucket
    assert export["kmsKeyArn"] == aws.client("kms").describe_key(KeyId=names.bucket_key_alias)["KeyMetadata"]["Arn"]
    policy = json.loads(aws.client("s3").get_bucket_policy(Bucket=names.findings_bucket)["Policy"])
    assert any(s.get("Principal") == {"Service": "macie.amazonaws.com"} for s in policy["Statement"])
    key_policy = json.loads(aws.client("kms").get_key_policy(KeyId=export["kmsKeyArn"], PolicyName="default")["Policy"])
    assert any(s.get("Principal") == {"Service": "macie.amazonaws.com"} for s in key_policy["Statement"])
    job = aws.client("glue").get_job(JobName=names.glue_job)["Job"]
    assert job["DefaultArguments"]["--discovery_results"] == f"s3://{names.findings_bucket}/discovery-results/"

    with closing(sqlite3.connect(dcp.source_sqlite())) as db, db:
        db.execute(f"CREATE TABLE wide (id INTEGER PRIMARY KEY, {', '.join(f'{c} TEXT' for c in COLUMNS)})")
        db.executemany(
            f"INSERT INTO wide VALUES ({','.join('?' * (len(COLUMNS) + 1))})",
            [(row, *(_mail(row, c) for c in COLUMNS)) for row in range(1, ROWS + 1)],
        )
    dcp("scan", "--wait")

    results = aws.client("s3").list_objects_v2(Bucket=names.findings_bucket, Prefix="discovery-results/")
    assert results.get("KeyCount", 0) > 0, "Macie wrote no discovery results"
    from dcp.pipeline.lake import read_parquet_prefix

    masked = read_parquet_prefix(aws, names.curated_bucket, names.masked_prefix("wide"))
    assert masked is not None and masked.num_rows == ROWS
    for column in COLUMNS:
        plain = {_mail(row, column) for row in range(1, ROWS + 1)}
        assert not plain & set(masked.column(column).to_pylist()), f"{column} is not masked"
    reports = _job_reports(dcp)
    assert reports, "the job printed no report"
    last = reports[-1]
    assert "wide" not in last.get("located_by_detector", {}), last.get("located_by_detector")
    assert not last.get("not_published")
