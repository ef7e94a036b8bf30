"""sandbox_in_process(): the same dispatcher and emulators without a port, reset on exit."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.exceptions import ClientError

from dcp.sandbox.inprocess import sandbox_in_process
from dcp.sandbox.registry import registered_operations

pytestmark = pytest.mark.slow


def test_emulators_answer_in_process_and_state_is_reset() -> None:
    with sandbox_in_process():
        s3 = boto3.client("s3", region_name="us-east-1")
        macie = boto3.client("macie2", region_name="us-east-1")
        s3.create_bucket(Bucket="inproc-raw")
        s3.put_object(
            Bucket="inproc-raw",
            Key="db/bank/LOAD00000001.csv",
            Body=b"id,account_number\n1,XYZ-12345\n2,XYZ-999\n",
        )
        custom = macie.create_custom_data_identifier(name="acct", regex=r"XYZ-\d+")["customDataIdentifierId"]
        assert macie.test_custom_data_identifier(regex=r"XYZ-\d+", sampleText="XYZ-1 XYZ-22 ABC-3")["matchCount"] == 2
        job = macie.create_classification_job(
            clientToken="c",
            jobType="ONE_TIME",
            name="j",
            customDataIdentifierIds=[custom],
            managedDataIdentifierSelector="NONE",
            s3JobDefinition={"bucketDefinitions": [{"accountId": "123456789012", "buckets": ["inproc-raw"]}]},
        )
        deadline = time.monotonic() + 20
        while macie.describe_classification_job(jobId=job["jobId"])["jobStatus"] != "COMPLETE":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        findings = macie.get_findings(findingIds=macie.list_findings()["findingIds"])["findings"]
        assert len(findings) == 1
        custom_detections = findings[0]["classificationDetails"]["result"]["customDataIdentifiers"]["detections"]
        assert [(d["name"], d["count"]) for d in custom_detections] == [("acct", 2)]
        assert [c["row"] for c in custom_detections[0]["occurrences"]["cells"]] == [2, 3]
    with sandbox_in_process():
        assert boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"] == []
        macie = boto3.client("macie2", region_name="us-east-1")
        assert macie.list_custom_data_identifiers()["items"] == []
        with pytest.raises(ClientError):
            macie.describe_classification_job(jobId=job["jobId"])


def test_it_cannot_nest_and_my_operations_are_registered() -> None:
    with sandbox_in_process(), pytest.raises(RuntimeError), sandbox_in_process():
        pass
    operations = set(registered_operations())
    assert {
        ("macie2", "CreateClassificationJob"),
        ("events", "PutEvents"),
        ("firehose", "PutRecordBatch"),
        ("lambda", "Invoke"),
    } <= operations


def test_after_hooks_see_the_call_and_the_status() -> None:
    from dcp.sandbox.registry import Call, after, unregister

    seen: list[tuple[str, str, str, int]] = []

    def record(call: Call, status: int) -> None:
        seen.append((call.operation, call.params.get("Bucket", ""), call.principal.kind, status))

    hook = after("s3", "CreateBucket")(record)
    try:
        with sandbox_in_process():
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket="hooked-bucket")
            with pytest.raises(ClientError):
                s3.create_bucket(Bucket="x")  # invalid name: moto answers 400, the hook still runs
    finally:
        unregister("s3", "CreateBucket", hook)
    assert seen[0] == ("CreateBucket", "hooked-bucket", "root", 200)
    assert seen[-1][3] == 400
