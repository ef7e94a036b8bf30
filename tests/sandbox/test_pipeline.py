"""The event chain a PII scan drives, through a real sandbox server and plain boto3 clients.

Macie job over a bucket with the sample PII tables and a decoy -> findings (right cells, custom
identifier) -> EventBridge rule -> Firehose -> findings bucket -> S3 notification -> Lambda,
whose handler writes a marker object with its own boto3 (proving env, role and endpoint).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import pyarrow.csv as pacsv
import pytest

from dcp.masking.findings import Finding
from dcp.masking.sample_data import generate_table
from tests.sandbox_fixture import SERVICE_POLICY, SandboxServer, wait_for

pytestmark = pytest.mark.slow

ROWS = 40
HANDLER = """
import json, os, urllib.parse
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    who = boto3.client("sts").get_caller_identity()["Arn"]
    for record in event["Records"]:
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        s3.put_object(Bucket=os.environ["MARKER_BUCKET"], Key="seen/" + key,
                      Body=json.dumps({"caller": who, "stage": os.environ["STAGE"],
                                       "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
                                       "event": record["eventName"], "source": record["eventSource"],
                                       "bucket": record["s3"]["bucket"]["name"]}))
    return {"handled": len(event["Records"])}
"""


def csv_bytes(table: str) -> bytes:
    buffer = io.BytesIO()
    pacsv.write_csv(generate_table(table, ROWS, seed=7), buffer)
    return buffer.getvalue()


def lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("marker.py", HANDLER)
    return buffer.getvalue()


def keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def test_macie_findings_flow_to_firehose_and_trigger_lambda(sandbox_server: SandboxServer) -> None:
    sb = sandbox_server
    s3, macie, events, firehose, lam = (sb.client(s) for s in ("s3", "macie2", "events", "firehose", "lambda"))
    raw, findings_bucket, markers = "pipe-raw", "pipe-findings", "pipe-markers"
    for bucket in (raw, findings_bucket, markers):
        s3.create_bucket(Bucket=bucket)
    for table in ("customer", "bank", "card", "orders"):
        s3.put_object(Bucket=raw, Key=f"sales/{table}/LOAD00000001.csv", Body=csv_bytes(table))
    s3.put_object(Bucket=raw, Key="outside/bank.csv", Body=csv_bytes("bank"))  # out of the job's scope

    # EventBridge rule -> Firehose -> findings bucket (newline-delimited records)
    firehose_role = sb.create_role("pipe-firehose", "firehose.amazonaws.com", policy=SERVICE_POLICY)
    stream_arn = firehose.create_delivery_stream(
        DeliveryStreamName="pipe-findings",
        ExtendedS3DestinationConfiguration={
            "RoleARN": firehose_role,
            "BucketARN": f"arn:aws:s3:::{findings_bucket}",
            "Prefix": "findings/",
            "ProcessingConfiguration": {
                "Enabled": True,
                "Processors": [{"Type": "AppendDelimiterToRecord", "Parameters": []}],
            },
        },
    )["DeliveryStreamARN"]
    events.put_rule(
        Name="pipe-macie",
        EventPattern=json.dumps({"source": ["aws.macie"], "detail-type": ["Macie Finding"]}),
    )
    events.put_targets(Rule="pipe-macie", Targets=[{"Id": "firehose", "Arn": stream_arn, "RoleArn": firehose_role}])

    # findings bucket -> Lambda (zip written here; it calls S3 and STS with its own credentials)
    lambda_role = sb.create_role("pipe-lambda", "lambda.amazonaws.com", policy=SERVICE_POLICY)
    function_arn = lam.create_function(
        FunctionName="pipe-marker",
        Runtime="python3.11",
        Role=lambda_role,
        Handler="marker.handler",
        Code={"ZipFile": lambda_zip()},
        Environment={"Variables": {"MARKER_BUCKET": markers, "STAGE": "test"}},
    )["FunctionArn"]
    lam.add_permission(
        FunctionName="pipe-marker",
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{findings_bucket}",
    )
    s3.put_bucket_notification_configuration(
        Bucket=findings_bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": function_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "findings/"}]}},
                }
            ]
        },
    )

    # the Macie job
    macie.enable_macie()
    custom_id = macie.create_custom_data_identifier(name="account_number", regex=r"XYZ-\d+")["customDataIdentifierId"]
    job_id = macie.create_classification_job(
        clientToken="pipe-1",
        jobType="ONE_TIME",
        name="pipe-scan",
        customDataIdentifierIds=[custom_id],
        # Macie's default, RECOMMENDED, has no name or e-mail identifier: customer would go unflagged.
        managedDataIdentifierSelector="ALL",
        s3JobDefinition={
            "bucketDefinitions": [{"accountId": "123456789012", "buckets": [raw]}],
            "scoping": {
                "includes": {
                    "and": [
                        {
                            "simpleScopeTerm": {
                                "comparator": "STARTS_WITH",
                                "key": "OBJECT_KEY",
                                "values": ["sales/"],
                            }
                        }
                    ]
                }
            },
        },
    )["jobId"]
    wait_for(lambda: macie.describe_classification_job(jobId=job_id)["jobStatus"] == "COMPLETE", what="the job")
    job = macie.describe_classification_job(jobId=job_id)
    assert job["statistics"]["approximateNumberOfObjectsToProcess"] == 4
    assert job["customDataIdentifierIds"] == [custom_id]

    ids = macie.list_findings(findingCriteria={"criterion": {"classificationDetails.jobId": {"eq": [job_id]}}})[
        "findingIds"
    ]
    found = {f["resourcesAffected"]["s3Object"]["key"]: f for f in macie.get_findings(findingIds=ids)["findings"]}
    assert set(found) == {f"sales/{t}/LOAD00000001.csv" for t in ("customer", "bank", "card")}  # no decoy

    def detections(finding: dict[str, Any]) -> dict[str, dict[str, Any]]:
        result = finding["classificationDetails"]["result"]
        managed = {d["type"]: d for s in result["sensitiveData"] for d in s["detections"]}
        custom = {d["name"]: d for d in result["customDataIdentifiers"]["detections"]}
        return {**managed, **custom}

    bank = detections(found["sales/bank/LOAD00000001.csv"])
    assert bank["account_number"]["count"] == ROWS
    assert bank["account_number"]["arn"].endswith(f"custom-data-identifier/{custom_id}")
    assert {c["columnName"] for c in bank["account_number"]["occurrences"]["cells"]} == {"account_number"}
    assert bank["INTERNATIONAL_BANK_ACCOUNT_NUMBER"]["occurrences"]["cells"][0] == {
        "row": 2,
        "column": 3,
        "columnName": "iban",
    } | {
        k: v
        for k, v in bank["INTERNATIONAL_BANK_ACCOUNT_NUMBER"]["occurrences"]["cells"][0].items()
        if k == "cellReference"
    }
    card = detections(found["sales/card/LOAD00000001.csv"])
    assert {c["columnName"] for c in card["CREDIT_CARD_NUMBER"]["occurrences"]["cells"]} == {"card_number"}
    customer = detections(found["sales/customer/LOAD00000001.csv"])
    assert {c["columnName"] for c in customer["EMAIL_ADDRESS"]["occurrences"]["cells"]} == {"mail"}
    assert "account_number" not in customer
    assert found["sales/card/LOAD00000001.csv"]["classificationDetails"]["jobId"] == job_id

    # each finding arrived through EventBridge + Firehose as an object in the findings bucket
    def delivered() -> list[Finding] | None:
        parsed: list[Finding] = []
        for key in keys(s3, findings_bucket, "findings/"):
            body = s3.get_object(Bucket=findings_bucket, Key=key)["Body"].read()
            assert body.endswith(b"\n")  # AppendDelimiterToRecord
            parsed.extend(Finding.from_json(body).findings)
        return parsed if len(parsed) >= 3 else None

    arrived = wait_for(delivered, what="findings in the Firehose destination")
    assert {f.key for f in arrived} == set(found)
    assert all(k.startswith("findings/20") for k in keys(s3, findings_bucket))  # prefix + yyyy/MM/dd/HH/

    # ... and every findings object triggered the Lambda, which ran as its role against the sandbox
    objects = keys(s3, findings_bucket, "findings/")
    wait_for(lambda: len(keys(s3, markers, "seen/")) >= len(objects), what="the Lambda's marker objects")
    for key in objects:
        marker = json.loads(s3.get_object(Bucket=markers, Key=f"seen/{key}")["Body"].read())
        assert marker["caller"].startswith("arn:aws:sts::123456789012:assumed-role/pipe-lambda/")
        assert marker["stage"] == "test"
        assert marker["endpoint"] == sb.url
        assert (marker["event"], marker["source"], marker["bucket"]) == (
            "ObjectCreated:Put",
            "aws:s3",
            findings_bucket,
        )


def test_s3_notification_needs_the_lambda_permission(sandbox_server: SandboxServer) -> None:
    sb = sandbox_server
    s3, lam = sb.client("s3"), sb.client("lambda")
    s3.create_bucket(Bucket="noperm-src")
    s3.create_bucket(Bucket="noperm-markers")
    role = sb.create_role("noperm-lambda", "lambda.amazonaws.com", policy=SERVICE_POLICY)
    arn = lam.create_function(
        FunctionName="noperm",
        Runtime="python3.11",
        Role=role,
        Handler="marker.handler",
        Code={"ZipFile": lambda_zip()},
        Environment={"Variables": {"MARKER_BUCKET": "noperm-markers", "STAGE": "x"}},
    )["FunctionArn"]
    s3.put_bucket_notification_configuration(
        Bucket="noperm-src",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    s3.put_object(Bucket="noperm-src", Key="a.json", Body=b"{}")
    # Invoke works (caller is the admin), proving the function itself runs...
    result = lam.invoke(
        FunctionName="noperm",
        Payload=json.dumps(
            {
                "Records": [
                    {
                        "eventName": "ObjectCreated:Put",
                        "eventSource": "aws:s3",
                        "s3": {"bucket": {"name": "noperm-src"}, "object": {"key": "direct.json"}},
                    }
                ]
            }
        ),
    )
    assert result["StatusCode"] == 200 and json.loads(result["Payload"].read()) == {"handled": 1}
    time.sleep(1.0)
    # ...but S3 had no permission to invoke it: only the direct invocation left a marker.
    assert keys(s3, "noperm-markers") == ["seen/direct.json"]


def test_lambda_invoke_reports_handler_errors_and_async_invocations(sandbox_server: SandboxServer) -> None:
    sb = sandbox_server
    lam, s3 = sb.client("lambda"), sb.client("s3")
    s3.create_bucket(Bucket="invoke-markers")
    role = sb.create_role("invoke-lambda", "lambda.amazonaws.com", policy=SERVICE_POLICY)
    lam.create_function(
        FunctionName="invoke-fn",
        Runtime="python3.11",
        Role=role,
        Handler="marker.handler",
        Code={"ZipFile": lambda_zip()},
        Environment={"Variables": {"MARKER_BUCKET": "invoke-markers", "STAGE": "async"}},
    )
    failed = lam.invoke(FunctionName="invoke-fn", Payload=b'{"no": "records"}')
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "KeyError"
    queued = lam.invoke(
        FunctionName="invoke-fn",
        InvocationType="Event",
        Payload=json.dumps(
            {
                "Records": [
                    {
                        "eventName": "ObjectCreated:Put",
                        "eventSource": "aws:s3",
                        "s3": {"bucket": {"name": "b"}, "object": {"key": "async.json"}},
                    }
                ]
            }
        ),
    )
    assert queued["StatusCode"] == 202
    wait_for(lambda: keys(s3, "invoke-markers"), what="the async invocation")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as missing:
        lam.invoke(FunctionName="no-such-fn")
    assert "no-such-fn" in str(missing.value)
