"""The mask job's output crawl (dcp.gluejob.crawl) against the sandbox's Glue: a crawl it starts
is waited for and must succeed; one already running is waited out and started again."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from dcp.gluejob.crawl import CrawlFailed, crawl_reason, run_crawlers
from dcp.gluejob.job import TableReport
from tests.sandbox_fixture import SERVICE_POLICY, SandboxServer

pytestmark = pytest.mark.slow


def _crawler(sb: SandboxServer, bucket: str, role: str) -> str:
    glue, name = sb.client("glue"), f"out-{secrets.token_hex(4)}"
    glue.create_database(DatabaseInput={"Name": name.replace("-", "_")})
    glue.create_crawler(
        Name=name,
        Role=role,
        DatabaseName=name.replace("-", "_"),
        Targets={"S3Targets": [{"Path": f"s3://{bucket}/masked/"}]},
    )
    return name


def test_the_started_crawls_are_waited_for_and_catalog_the_output(sandbox_server: SandboxServer) -> None:
    sb = sandbox_server
    s3, glue = sb.client("s3"), sb.client("glue")
    bucket = f"curated-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="masked/customer/part-00000.csv", Body=b"id,name\n1,****\n")
    role = sb.create_role(f"glue-{secrets.token_hex(4)}", service="glue.amazonaws.com", policy=SERVICE_POLICY)
    first, second = _crawler(sb, bucket, role), _crawler(sb, bucket, role)
    glue.start_crawler(Name=second)  # running before the job's crawl: waited out, then started again
    earlier = datetime.now(UTC)

    run_crawlers(glue, [first, second])

    for name in (first, second):
        crawler = glue.get_crawler(Name=name)["Crawler"]
        assert crawler["State"] == "READY" and crawler["LastCrawl"]["Status"] == "SUCCEEDED"
        assert [t["Name"] for t in glue.get_tables(DatabaseName=name.replace("-", "_"))["TableList"]] == ["customer"]
    # the last crawl of `second` is the job's: it started after the earlier one (RUNNING >= 1 s) ended
    assert glue.get_crawler(Name=second)["Crawler"]["LastCrawl"]["StartTime"] >= earlier + timedelta(seconds=0.9)


def test_a_crawl_that_fails_fails_the_job(sandbox_server: SandboxServer) -> None:
    sb = sandbox_server
    s3, glue = sb.client("s3"), sb.client("glue")
    bucket = f"curated-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="masked/customer/part-00000.csv", Body=b"id,name\n1,****\n")
    # a role that may not read the bucket: the crawl fails AccessDenied
    role = sb.create_role(
        f"glue-{secrets.token_hex(4)}",
        service="glue.amazonaws.com",
        policy={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "glue:*", "Resource": "*"}]},
    )
    with pytest.raises(CrawlFailed, match="FAILED"):
        run_crawlers(glue, [_crawler(sb, bucket, role)])


def _table(mode: str, missing: list[str] | None = None) -> TableReport:
    return TableReport("t", {}, 0, 0, 0, 0, 0.0, mode=mode, catalog_missing=missing or [])


def test_only_a_rebuilt_table_or_a_missing_catalog_table_needs_a_crawl() -> None:
    assert crawl_reason([_table("incremental"), _table("unchanged")]) is None
    assert "rebuilt" in str(crawl_reason([_table("incremental"), _table("full")]))
    assert "db.t" in str(crawl_reason([_table("incremental", ["db.t"])]))
