"""The Macie stage: one classification job over the raw bucket, its findings per table and column."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from dcp.aws.session import AwsContext
from dcp.config import MacieSettings, Settings
from dcp.names import StackNames
from dcp.pipeline.errors import PipelineError
from dcp.pipeline.scan_scope import ScanScope, identifier_fingerprint, plan_scope
from dcp.pipeline.waiting import Deadline, poll

JOB_DONE = frozenset({"COMPLETE", "CANCELLED", "PAUSED", "USER_PAUSED", "IDLE"})


def custom_identifier_ids(aws: AwsContext, wanted: Sequence[str]) -> list[str]:
    """IDs of the custom data identifiers called `wanted` (ListCustomDataIdentifiers)."""
    if not wanted:
        return []
    macie = aws.client("macie2")
    by_name: dict[str, str] = {}
    kwargs: dict[str, Any] = {}
    while True:
        page = macie.list_custom_data_identifiers(**kwargs)
        for item in page.get("items", []):
            by_name[item["name"]] = item["id"]
        token = page.get("nextToken")
        if not token:
            break
        kwargs["nextToken"] = token
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise PipelineError(
            f"Macie has no custom data identifier named {', '.join(missing)}; run `dcp up` to create it"
        )
    return [by_name[n] for n in wanted]


def job_request(
    names: StackNames,
    macie: MacieSettings,
    account_id: str,
    custom_ids: Sequence[str],
    now: datetime,
    managed_ids: Sequence[str] | None = None,
    scope: ScanScope | None = None,
) -> dict[str, Any]:
    """CreateClassificationJob arguments: one ONE_TIME job over the raw bucket, scoped to what
    `scope` says changed (see :mod:`dcp.pipeline.scan_scope` for why not a SCHEDULED job)."""
    request: dict[str, Any] = {
        "clientToken": uuid.uuid4().hex,
        "jobType": "ONE_TIME",
        "name": f"{names.prefix}-scan-{now.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}",
        "description": f"dcp scan of {names.raw_bucket}",
        "s3JobDefinition": {"bucketDefinitions": [{"accountId": account_id, "buckets": [names.raw_bucket]}]},
        "managedDataIdentifierSelector": macie.managed_identifier_selection,
        "tags": {**names.tags(), **(scope.tags() if scope else {})},
    }
    scoping = scope.scoping() if scope else None
    if scoping:
        request["s3JobDefinition"]["scoping"] = scoping
    if custom_ids:
        request["customDataIdentifierIds"] = list(custom_ids)
    if macie.managed_identifier_selection in ("INCLUDE", "EXCLUDE"):
        ids = macie.managed_identifier_ids if managed_ids is None else managed_ids
        request["managedDataIdentifierIds"] = list(ids)
    return request


def offered_managed_ids(aws: AwsContext) -> set[str]:
    """The managed identifier IDs this Macie offers (ListManagedDataIdentifiers)."""
    macie2 = aws.client("macie2")
    out: set[str] = set()
    kwargs: dict[str, Any] = {}
    while True:
        page = macie2.list_managed_data_identifiers(**kwargs)
        out |= {str(i["id"]) for i in page.get("items") or []}
        if not page.get("nextToken"):
            return out
        kwargs["nextToken"] = page["nextToken"]


def job_managed_ids(aws: AwsContext, settings: Settings) -> tuple[str, ...]:
    """managedDataIdentifierIds for the job: config's, plus, for the default INCLUDE, the types
    masking.actions names that this Macie offers beyond its documented ones (the sandbox's
    EMAIL_ADDRESS / IP_ADDRESS; real Macie lists none of them, and `dcp plan` warns)."""
    ids = settings.macie_managed_ids()
    macie = settings.macie
    if macie.managed_identifier_selection != "INCLUDE" or macie.managed_identifier_ids:
        return ids
    extra = set(settings.undetectable_action_types()) & offered_managed_ids(aws)
    return tuple(sorted({*ids, *extra}))


def plan_scan(aws: AwsContext, names: StackNames, *, full: bool = False) -> ScanScope:
    """What the next job classifies: everything, or what is new or changed since the last good job."""
    managed = job_managed_ids(aws, names.settings)
    fingerprint = identifier_fingerprint(names.settings.macie, managed)
    return plan_scope(aws, names, fingerprint, full=full, overlap_seconds=names.settings.macie.scan_overlap_seconds)


def start_job(aws: AwsContext, names: StackNames, scope: ScanScope | None = None) -> str:
    macie_settings = names.settings.macie
    custom = custom_identifier_ids(aws, list(names.custom_identifier_types().values()))
    managed = job_managed_ids(aws, names.settings)
    request = job_request(names, macie_settings, aws.account_id, custom, datetime.now(UTC), managed, scope)
    return str(aws.client("macie2").create_classification_job(**request)["jobId"])


def wait_job(
    aws: AwsContext,
    job_id: str,
    deadline: Deadline,
    on_each: Callable[[Mapping[str, Any]], None] | None = None,
) -> dict[str, Any]:
    macie = aws.client("macie2")
    job = poll(
        lambda: macie.describe_classification_job(jobId=job_id),
        lambda j: j.get("jobStatus") in JOB_DONE,
        deadline,
        interval=0.5,
        max_interval=10.0,
        max_share=0.1,
        describe=lambda j: str(j.get("jobStatus")),
        on_each=on_each,
    )
    status = job.get("jobStatus")
    if status != "COMPLETE" and not (status == "IDLE" and job.get("jobType") == "ONE_TIME"):
        error = (job.get("lastRunErrorStatus") or {}).get("code", "")
        raise PipelineError(f"the Macie job {job_id} ended {status}{' (' + error + ')' if error else ''}")
    if (job.get("lastRunErrorStatus") or {}).get("code") == "ERROR":
        # Macie skips objects it cannot read or decrypt; their PII would reach no finding and stay unmasked.
        raise PipelineError(
            f"the Macie job {job_id} skipped objects it could not read or decrypt (lastRunErrorStatus ERROR): "
            "let Macie's service-linked role AWSServiceRoleForAmazonMacie use the bucket key "
            "(kms:Decrypt in its key policy) and run `dcp scan` again"
        )
    return dict(job)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def job_findings(aws: AwsContext, job_id: str) -> list[Any]:
    """The job's findings, parsed by the one finding parser (ListFindings by jobId + GetFindings)."""
    from dcp.masking.findings import Finding

    macie = aws.client("macie2")
    ids: list[str] = []
    kwargs: dict[str, Any] = {
        "findingCriteria": {"criterion": {"classificationDetails.jobId": {"eq": [job_id]}}},
        "maxResults": 50,
    }
    while True:
        page = macie.list_findings(**kwargs)
        ids.extend(page.get("findingIds", []))
        token = page.get("nextToken")
        if not token:
            break
        kwargs["nextToken"] = token
    findings: list[Any] = []
    for start in range(0, len(ids), 50):
        raw = macie.get_findings(findingIds=ids[start : start + 50]).get("findings", [])
        findings.extend(Finding.from_json(json.dumps(raw, default=_json_default)).findings)
    return findings


def findings_rows(findings: Iterable[Any]) -> list[dict[str, Any]]:
    """table, column, detected types and occurrence count — one row per flagged column."""
    merged: dict[tuple[str, str], dict[str, int]] = {}
    for finding in findings:
        for detection in finding.detections:
            columns = detection.columns or ("?",)
            for column in columns:
                types = merged.setdefault((finding.table, column), {})
                types[detection.type] = types.get(detection.type, 0) + int(detection.count)
    return [
        {
            "table": table,
            "column": column,
            "types": ", ".join(sorted(types)),
            "occurrences": sum(types.values()),
        }
        for (table, column), types in sorted(merged.items())
    ]
