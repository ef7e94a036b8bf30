"""Macie's sensitive data discovery results, the 15-occurrence finding limit, and the identifier list.

* **Discovery results.** With a ``PutClassificationExportConfiguration`` in place, a job
  writes one analysis record per S3 object it analysed (with or without sensitive data,
  and for objects it had to skip), as JSON Lines, gzip-compressed, encrypted with the
  configured KMS key, under
  ``<keyPrefix>/AWSLogs/<account>/Macie/<region>/<jobId>/<account>-<id>.jsonl.gz``
  (User Guide, "Storing and retaining sensitive data discovery results"). A record has the
  same details a finding has (``resourcesAffected``, ``classificationDetails``) and the
  location of up to 1,000 occurrences of each type (User Guide, "Locating sensitive data
  with Amazon Macie findings").
* **Findings** give location data for at most 15 occurrences in all (API reference,
  ``DefaultDetection.occurrences``: "A finding includes location data for a maximum of 15
  occurrences of sensitive data"). Macie does not document how it spreads them over
  several types; here they are dealt round-robin over the detections in the finding's
  order, so every type (up to 15) keeps at least one location, and
  ``additionalOccurrences`` says when more exist. The complete list is in the record that
  ``classificationDetails.detailedResultsLocation`` names.
"""

from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass
from typing import Any

from dcp.masking.findings import Finding
from dcp.masking.identifiers import MANAGED_IDENTIFIERS
from dcp.sandbox import moto_compat
from dcp.sandbox.registry import AwsError

#: occurrences a finding shows, all types together
FINDING_OCCURRENCES = 15
#: occurrences a discovery result records per type
RESULT_OCCURRENCES = 1000


@dataclass(frozen=True)
class ExportDestination:
    """Where a Macie account stores its discovery results (``s3Destination``)."""

    bucket: str
    key_prefix: str
    kms_key_arn: str

    @classmethod
    def from_params(cls, configuration: dict[str, Any]) -> ExportDestination:
        destination = (configuration or {}).get("s3Destination") or {}
        bucket = destination.get("bucketName")
        kms_key = destination.get("kmsKeyArn")
        if not bucket or not kms_key:
            raise AwsError(
                "ValidationException",
                "configuration.s3Destination needs bucketName and kmsKeyArn: Macie encrypts its "
                "sensitive data discovery results with a KMS key",
            )
        return cls(bucket=bucket, key_prefix=(destination.get("keyPrefix") or "").strip("/"), kms_key_arn=kms_key)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bucketName": self.bucket, "kmsKeyArn": self.kms_key_arn}
        if self.key_prefix:
            out["keyPrefix"] = self.key_prefix
        return {"s3Destination": out}

    def object_key(self, account_id: str, region: str, job_id: str) -> str:
        folder = f"AWSLogs/{account_id}/Macie/{region}/{job_id}/{account_id}-{uuid.uuid4()}.jsonl.gz"
        return f"{self.key_prefix}/{folder}" if self.key_prefix else folder


def check_destination(destination: ExportDestination, account_id: str, region: str) -> None:
    """The bucket and key must exist, as Macie validates them when the configuration is saved."""
    kms_backends = moto_compat.backends("kms")
    s3_backends = moto_compat.backends("s3")
    if destination.bucket not in s3_backends[account_id]["aws"].buckets:
        raise AwsError("ValidationException", f"the S3 bucket {destination.bucket} does not exist")
    try:
        kms_backends[account_id][region].describe_key(destination.kms_key_arn)
    except Exception as exc:
        raise AwsError("ValidationException", f"the KMS key {destination.kms_key_arn} does not exist") from exc


# ---- occurrences
def _detections_json(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The detection objects of a finding or result document, in the order the document lists them."""
    result = document["classificationDetails"]["result"]
    found = [d for item in result.get("sensitiveData") or [] for d in item.get("detections") or []]
    return found + list((result.get("customDataIdentifiers") or {}).get("detections") or [])


def _locations(occurrences: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(kind, item) for kind, items in occurrences.items() for item in items or []]


def cap_finding_occurrences(finding_json: dict[str, Any], limit: int = FINDING_OCCURRENCES) -> dict[str, Any]:
    """Keep at most `limit` occurrence locations in the whole finding, dealt round-robin over its types."""
    detections = _detections_json(finding_json)
    queues = [_locations(d.get("occurrences") or {}) for d in detections]
    kept: list[list[tuple[str, Any]]] = [[] for _ in detections]
    budget = limit
    while budget and any(queues):
        for index, queue in enumerate(queues):
            if budget and queue:
                kept[index].append(queue.pop(0))
                budget -= 1
    dropped = any(queues)
    for detection, locations in zip(detections, kept, strict=True):
        occurrences: dict[str, list[Any]] = {}
        for kind, item in locations:
            occurrences.setdefault(kind, []).append(item)
        detection["occurrences"] = occurrences
    result = finding_json["classificationDetails"]["result"]
    shown = sum(len(k) for k in kept)
    counted = sum(int(d.get("count") or 0) for d in detections)
    result["additionalOccurrences"] = bool(dropped or counted > shown)
    return finding_json


@dataclass(frozen=True)
class ResultContext:
    """Who writes a discovery result: the account, region and job, and the results object it goes to."""

    account_id: str
    region: str
    job_id: str
    job_arn: str
    location: str


def result_record(finding: Finding, context: ResultContext) -> dict[str, Any]:
    """The discovery result of an object with sensitive data: the finding's details, every occurrence."""
    record = finding.to_json()
    by_key = {(d.custom, d.type): d for d in finding.detections}
    result = record["classificationDetails"]["result"]
    for item in result.get("sensitiveData") or []:
        for detection_json in item.get("detections") or []:
            detection = by_key[(False, detection_json["type"])]
            detection_json["occurrences"] = detection.occurrences_json(RESULT_OCCURRENCES)
    for detection_json in (result.get("customDataIdentifiers") or {}).get("detections") or []:
        detection = by_key[(True, detection_json["name"])]
        detection_json["occurrences"] = detection.occurrences_json(RESULT_OCCURRENCES)
    result["additionalOccurrences"] = any(
        len(d.cells) + len(d.records) < d.count and len(d.cells) + len(d.records) >= RESULT_OCCURRENCES
        for d in finding.detections
    )
    _stamp(record, context)
    return record


def empty_record(
    bucket: str, key: str, size: int, context: ResultContext, status: str = "COMPLETE", reason: str | None = None
) -> dict[str, Any]:
    """The discovery result of an object without sensitive data, or one Macie had to skip."""
    record = Finding(
        bucket=bucket, key=key, account_id=context.account_id, region=context.region, size_classified=size
    ).to_json()
    for member in ("type", "title", "description", "severity", "count", "totalCount"):
        record.pop(member, None)
    result = record["classificationDetails"]["result"]
    result["status"] = {"code": status, "reason": reason}
    result["sizeClassified"] = size if status == "COMPLETE" else 0
    _stamp(record, context)
    return record


def _stamp(record: dict[str, Any], context: ResultContext) -> None:
    details = record["classificationDetails"]
    details["jobId"] = context.job_id
    details["jobArn"] = context.job_arn
    details["detailedResultsLocation"] = context.location


def write_results(
    destination: ExportDestination, account_id: str, region: str, key: str, records: list[dict[str, Any]]
) -> None:
    """One JSON Lines object, gzip-compressed and SSE-KMS encrypted with the configured key."""
    s3_backends = moto_compat.backends("s3")
    body = gzip.compress(b"".join(json.dumps(r, default=str).encode("utf-8") + b"\n" for r in records))
    s3_backends[account_id]["aws"].put_object(
        destination.bucket,
        key,
        body,
        encryption="aws:kms",
        kms_key_id=destination.kms_key_arn,
    )


# ---- the identifiers Macie lists
def managed_identifier_summaries() -> list[dict[str, str]]:
    """ListManagedDataIdentifiers' items: every managed identifier the sandbox's Macie runs.

    That is Macie's identifiers dcp implements plus dcp's own extensions (EMAIL_ADDRESS,
    IP_ADDRESS), which real Macie does not offer: `dcp scan` adds an offered extension that
    masking.actions names to an INCLUDE job, and `dcp plan` warns that AWS's Macie lacks it.
    """
    return sorted(
        ({"category": str(i.category), "id": i.id} for i in MANAGED_IDENTIFIERS),
        key=lambda item: item["id"],
    )
