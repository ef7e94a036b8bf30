"""Macie as documented: the RECOMMENDED set, 15 occurrences per finding, discovery results in S3."""

from __future__ import annotations

import contextlib
import gzip
import json
import uuid
from typing import Any

import pytest

from dcp.masking.identifiers import MANAGED_IDENTIFIERS, RECOMMENDED_MANAGED_IDENTIFIERS
from tests.sandbox_fixture import SandboxServer, wait_for

pytestmark = pytest.mark.slow

ROWS = 40
CARDS = ["4111111111111111", "5555555555554444", "378282246310005"]


def _people_csv() -> bytes:
    lines = ["id,name,card_number,date_of_birth,ssn"]
    for i in range(ROWS):
        lines.append(f"{i},Jane Doe,{CARDS[i % 3]},1980-01-{(i % 28) + 1:02d},123-45-{6789 - i:04d}")
    return ("\n".join(lines) + "\n").encode()


def _run_job(server: SandboxServer, bucket: str, selector: str, ids: list[str] | None = None) -> str:
    macie = server.client("macie2")
    params: dict[str, Any] = {
        "clientToken": uuid.uuid4().hex,
        "jobType": "ONE_TIME",
        "name": f"job-{uuid.uuid4().hex[:6]}",
        "managedDataIdentifierSelector": selector,
        "s3JobDefinition": {"bucketDefinitions": [{"accountId": "123456789012", "buckets": [bucket]}]},
    }
    if ids:
        params["managedDataIdentifierIds"] = ids
    job_id: str = macie.create_classification_job(**params)["jobId"]
    wait_for(
        lambda: macie.describe_classification_job(jobId=job_id)["jobStatus"] == "COMPLETE",
        what="the Macie job",
    )
    return job_id


def _findings_of(server: SandboxServer, job_id: str) -> list[dict[str, Any]]:
    macie = server.client("macie2")
    ids = macie.list_findings(findingCriteria={"criterion": {"classificationDetails.jobId": {"eq": [job_id]}}})[
        "findingIds"
    ]
    return list(macie.get_findings(findingIds=ids)["findings"]) if ids else []


def _types(finding: dict[str, Any]) -> set[str]:
    result = finding["classificationDetails"]["result"]
    return {d["type"] for item in result.get("sensitiveData") or [] for d in item["detections"]}


def _occurrences(detections: list[dict[str, Any]]) -> int:
    return sum(len(v) for d in detections for v in (d.get("occurrences") or {}).values() if v)


@pytest.fixture(scope="module")
def people_bucket(sandbox_server: SandboxServer) -> str:
    s3 = sandbox_server.client("s3")
    s3.create_bucket(Bucket=(bucket := f"macie-doc-{uuid.uuid4().hex[:8]}"))
    s3.put_object(Bucket=bucket, Key="dataset/people/LOAD00000001.csv", Body=_people_csv())
    macie = sandbox_server.client("macie2")
    with contextlib.suppress(macie.exceptions.ClientError):  # another test enabled it already
        macie.enable_macie()
    return bucket


def test_recommended_is_the_documented_set_not_all(sandbox_server: SandboxServer, people_bucket: str) -> None:
    recommended = _findings_of(sandbox_server, _run_job(sandbox_server, people_bucket, "RECOMMENDED"))
    everything = _findings_of(sandbox_server, _run_job(sandbox_server, people_bucket, "ALL"))

    found_recommended = set().union(*(_types(f) for f in recommended))
    found_all = set().union(*(_types(f) for f in everything))
    # Macie's recommended set has the credit card and SSN identifiers but no NAME or DATE_OF_BIRTH.
    assert {"CREDIT_CARD_NUMBER", "USA_SOCIAL_SECURITY_NUMBER"} <= found_recommended
    assert not found_recommended & {"NAME", "DATE_OF_BIRTH"}
    assert found_recommended <= RECOMMENDED_MANAGED_IDENTIFIERS
    assert {"NAME", "DATE_OF_BIRTH", "CREDIT_CARD_NUMBER"} <= found_all


def test_a_finding_locates_at_most_15_occurrences_in_all(sandbox_server: SandboxServer, people_bucket: str) -> None:
    (finding,) = _findings_of(sandbox_server, _run_job(sandbox_server, people_bucket, "ALL"))
    result = finding["classificationDetails"]["result"]
    detections = [d for item in result["sensitiveData"] for d in item["detections"]]
    assert len(detections) >= 3
    assert _occurrences(detections) == 15
    assert all(_occurrences([d]) >= 1 for d in detections)  # every type keeps a location
    assert result["additionalOccurrences"] is True
    assert sum(d["count"] for d in detections) > 15


def test_discovery_results_hold_every_occurrence_encrypted_with_the_key(
    sandbox_server: SandboxServer, people_bucket: str
) -> None:
    s3, kms, macie = (sandbox_server.client(s) for s in ("s3", "kms", "macie2"))
    results_bucket = f"macie-results-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=results_bucket)
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(macie.exceptions.ClientError, match="does not exist"):
        macie.put_classification_export_configuration(
            configuration={"s3Destination": {"bucketName": "no-such-bucket-x", "kmsKeyArn": key_arn}}
        )
    configuration = {"s3Destination": {"bucketName": results_bucket, "keyPrefix": "discovery", "kmsKeyArn": key_arn}}
    macie.put_classification_export_configuration(configuration=configuration)
    assert macie.get_classification_export_configuration()["configuration"] == configuration

    job_id = _run_job(sandbox_server, people_bucket, "ALL")
    (finding,) = _findings_of(sandbox_server, job_id)

    prefix = f"discovery/AWSLogs/123456789012/Macie/us-east-1/{job_id}/"
    listed = s3.list_objects_v2(Bucket=results_bucket, Prefix=prefix)
    (entry,) = listed["Contents"]
    assert entry["Key"].endswith(".jsonl.gz")
    location = finding["classificationDetails"]["detailedResultsLocation"]
    assert location == f"s3://{results_bucket}/{entry['Key']}"
    got = s3.get_object(Bucket=results_bucket, Key=entry["Key"])
    assert got["ServerSideEncryption"] == "aws:kms"
    assert got["SSEKMSKeyId"] == key_arn
    (record,) = [json.loads(line) for line in gzip.decompress(got["Body"].read()).splitlines()]
    assert record["resourcesAffected"]["s3Object"]["key"] == "dataset/people/LOAD00000001.csv"
    assert record["classificationDetails"]["jobId"] == job_id
    result = record["classificationDetails"]["result"]
    assert result["status"]["code"] == "COMPLETE"
    by_type = {d["type"]: d for item in result["sensitiveData"] for d in item["detections"]}
    cards = by_type["CREDIT_CARD_NUMBER"]
    rows = sorted(cell["row"] for cell in cards["occurrences"]["cells"])
    assert cards["count"] == ROWS
    assert rows == list(range(2, ROWS + 2))  # every occurrence, the header being row 1
    assert {c["columnName"] for c in cards["occurrences"]["cells"]} == {"card_number"}


def test_managed_identifiers_usage_and_account_settings_answer(sandbox_server: SandboxServer) -> None:
    macie = sandbox_server.client("macie2")
    items = macie.list_managed_data_identifiers()["items"]
    ids = {item["id"] for item in items}
    assert {"CREDIT_CARD_NUMBER", "NAME", "USA_SOCIAL_SECURITY_NUMBER"} <= ids
    # Macie's identifiers dcp implements, and dcp's extensions, which only the sandbox offers
    assert ids == {i.id for i in MANAGED_IDENTIFIERS}
    assert {"EMAIL_ADDRESS", "IP_ADDRESS"} <= ids
    assert {item["category"] for item in items} <= {"FINANCIAL_INFORMATION", "PERSONAL_INFORMATION", "CREDENTIALS"}
    totals = macie.get_usage_totals()["usageTotals"]
    assert {t["type"] for t in totals} >= {"SENSITIVE_DATA_DISCOVERY"}
    assert macie.list_findings_filters()["findingsFilterListItems"] == []
    assert macie.get_bucket_statistics()["bucketCount"] >= 1
