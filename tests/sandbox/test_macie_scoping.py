"""Classification job scoping as the API reference documents SimpleScopeTerm: keys, comparators, dates."""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox_fixture import SandboxServer, wait_for

CSV = b"id,note\n1,nothing to see\n"


@pytest.fixture(scope="module")
def bucket(sandbox_server: SandboxServer) -> tuple[str, str]:
    """Two objects one S3 second apart; returns the bucket and the second object's last-modified time."""
    s3 = sandbox_server.client("s3")
    s3.create_bucket(Bucket=(name := f"scope-{uuid.uuid4().hex[:8]}"))
    s3.put_object(Bucket=name, Key="data/old/a.csv", Body=CSV)
    time.sleep(1.2)
    s3.put_object(Bucket=name, Key="data/new/b.CSV", Body=CSV + b"2,x\n")
    newer = s3.head_object(Bucket=name, Key="data/new/b.CSV")["LastModified"].astimezone(UTC)
    with contextlib.suppress(ClientError):  # another test enabled it already
        sandbox_server.client("macie2").enable_macie()
    return name, newer.strftime("%Y-%m-%dT%H:%M:%SZ")


def _job(server: SandboxServer, bucket: str, includes: list[dict[str, Any]], excludes: Any = ()) -> dict[str, Any]:
    macie = server.client("macie2")
    scoping: dict[str, Any] = {"includes": {"and": [{"simpleScopeTerm": t} for t in includes]}}
    if excludes:
        scoping["excludes"] = {"and": [{"simpleScopeTerm": t} for t in excludes]}
    job_id = macie.create_classification_job(
        clientToken=uuid.uuid4().hex,
        jobType="ONE_TIME",
        name=f"scope-{uuid.uuid4().hex[:6]}",
        managedDataIdentifierSelector="ALL",
        s3JobDefinition={"bucketDefinitions": [{"accountId": "123456789012", "buckets": [bucket]}], "scoping": scoping},
    )["jobId"]
    wait_for(lambda: macie.describe_classification_job(jobId=job_id)["jobStatus"] == "COMPLETE", what="the job")
    return dict(macie.describe_classification_job(jobId=job_id))


def _count(job: dict[str, Any]) -> int:
    return int(job["statistics"]["approximateNumberOfObjectsToProcess"])


@pytest.mark.parametrize(
    ("comparator", "expected"), [("GTE", 1), ("GT", 0), ("EQ", 1), ("NE", 1), ("LT", 1), ("LTE", 2)]
)
def test_last_modified_date_compares_with_s3s_time(
    sandbox_server: SandboxServer, bucket: tuple[str, str], comparator: str, expected: int
) -> None:
    name, newer = bucket
    term = {"comparator": comparator, "key": "OBJECT_LAST_MODIFIED_DATE", "values": [newer]}
    assert _count(_job(sandbox_server, name, [term])) == expected


def test_a_date_before_every_object_keeps_all_and_excludes_take_precedence(
    sandbox_server: SandboxServer, bucket: tuple[str, str]
) -> None:
    name, _ = bucket
    since = {"comparator": "GT", "key": "OBJECT_LAST_MODIFIED_DATE", "values": ["2020-01-01T00:00:00Z"]}
    assert _count(_job(sandbox_server, name, [since])) == 2
    prefix = {"comparator": "STARTS_WITH", "key": "OBJECT_KEY", "values": ["data/old/"]}
    assert _count(_job(sandbox_server, name, [since], [prefix])) == 1
    # extensions are case sensitive, as every scope value is
    lower = {"comparator": "EQ", "key": "OBJECT_EXTENSION", "values": ["csv"]}
    assert _count(_job(sandbox_server, name, [lower])) == 1


@pytest.mark.parametrize(
    "term",
    [
        {"comparator": "EQ", "key": "OBJECT_KEY", "values": ["data/old/a.csv"]},  # OBJECT_KEY takes STARTS_WITH
        {"comparator": "GT", "key": "OBJECT_EXTENSION", "values": ["csv"]},
        {"comparator": "STARTS_WITH", "key": "OBJECT_LAST_MODIFIED_DATE", "values": ["2024-01-01T00:00:00Z"]},
        {"comparator": "GT", "key": "OBJECT_LAST_MODIFIED_DATE", "values": ["2024-01-01 00:00:00"]},
        {
            "comparator": "GT",
            "key": "OBJECT_LAST_MODIFIED_DATE",
            "values": ["2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"],
        },
        {"comparator": "GT", "key": "OBJECT_SIZE", "values": ["ten"]},
        {"comparator": "EQ", "key": "OBJECT_NAME", "values": ["x"]},
    ],
)
def test_a_term_the_reference_does_not_allow_is_a_validation_exception(
    sandbox_server: SandboxServer, bucket: tuple[str, str], term: dict[str, Any]
) -> None:
    macie = sandbox_server.client("macie2")
    with pytest.raises(ClientError) as caught:
        macie.create_classification_job(
            clientToken=uuid.uuid4().hex,
            jobType="ONE_TIME",
            name="bad-scope",
            s3JobDefinition={
                "bucketDefinitions": [{"accountId": "123456789012", "buckets": [bucket[0]]}],
                "scoping": {"includes": {"and": [{"simpleScopeTerm": term}]}},
            },
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_the_date_is_utc_iso_8601() -> None:
    from dcp.pipeline.scan_scope import scope_time

    assert scope_time(datetime(2023, 9, 24, 14, 31, 13, 999000, tzinfo=UTC)) == "2023-09-24T14:31:13Z"
