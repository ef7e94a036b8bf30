"""Macie2 operations (rest-json) served by :mod:`dcp.sandbox.emulators.macie.models`.

EnableMacie/GetMacieSession/DisableMacie stay with moto; UpdateMacieSession (which moto lacks)
changes moto's session.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from dcp.sandbox import moto_compat
from dcp.sandbox.emulators.macie.models import MacieModel, count_matches, macie_models
from dcp.sandbox.emulators.macie.results import ExportDestination, check_destination, managed_identifier_summaries
from dcp.sandbox.registry import AwsError, Call, emulates

MAX_PAGE = 1000


def _model(call: Call) -> MacieModel:
    return macie_models[(call.account_id, call.region)]


def _page(items: list[Any], params: dict[str, Any], default: int = 100) -> tuple[list[Any], str | None]:
    start = int(params.get("nextToken") or 0) if str(params.get("nextToken") or "0").isdigit() else 0
    size = min(int(params.get("maxResults") or default), MAX_PAGE)
    chunk = items[start : start + size]
    return chunk, (str(start + size) if start + size < len(items) else None)


def _with_token(out: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token:
        out["nextToken"] = token
    return out


# ---- custom data identifiers
@emulates("macie2", "CreateCustomDataIdentifier")
def create_custom_data_identifier(call: Call) -> dict[str, Any]:
    return {"customDataIdentifierId": _model(call).create_custom_data_identifier(call.params).id}


@emulates("macie2", "GetCustomDataIdentifier")
def get_custom_data_identifier(call: Call) -> dict[str, Any]:
    return _model(call).get_custom_data_identifier(call.params["id"]).to_full()


@emulates("macie2", "ListCustomDataIdentifiers")
def list_custom_data_identifiers(call: Call) -> dict[str, Any]:
    items = [c.to_summary() for c in _model(call).custom_identifiers.values() if not c.deleted]
    page, token = _page(items, call.params)
    return _with_token({"items": page}, token)


@emulates("macie2", "BatchGetCustomDataIdentifiers")
def batch_get_custom_data_identifiers(call: Call) -> dict[str, Any]:
    model = _model(call)
    found, missing = [], []
    for identifier_id in call.params.get("ids") or []:
        record = model.custom_identifiers.get(identifier_id)
        if record is None:
            missing.append(identifier_id)
        else:
            found.append({**record.to_summary(), "deleted": record.deleted})
    return {"customDataIdentifiers": found, "notFoundIdentifierIds": missing}


@emulates("macie2", "DeleteCustomDataIdentifier")
def delete_custom_data_identifier(call: Call) -> dict[str, Any]:
    _model(call).delete_custom_data_identifier(call.params["id"])
    return {}


@emulates("macie2", "TestCustomDataIdentifier")
def test_custom_data_identifier(call: Call) -> dict[str, Any]:
    params = call.params
    try:
        count = count_matches(
            params["regex"],
            params["sampleText"],
            params.get("keywords") or (),
            params.get("ignoreWords") or (),
            int(params.get("maximumMatchDistance") or 50),
        )
    except ValueError as exc:
        raise AwsError("ValidationException", str(exc)) from exc
    return {"matchCount": count}


# ---- classification jobs
@emulates("macie2", "CreateClassificationJob")
def create_classification_job(call: Call) -> dict[str, Any]:
    job = _model(call).create_job(call.params)
    return {"jobArn": job.arn, "jobId": job.id}


@emulates("macie2", "DescribeClassificationJob")
def describe_classification_job(call: Call) -> dict[str, Any]:
    return _model(call).get_job(call.params["jobId"]).to_full()


def _job_matches(summary: dict[str, Any], criteria: dict[str, Any] | None) -> bool:
    field_of = {"jobType": "jobType", "jobStatus": "jobStatus", "name": "name"}

    def holds(term: dict[str, Any]) -> bool:
        value = summary.get(field_of.get(term.get("key", ""), ""))
        values = [str(v) for v in term.get("values") or []]
        if term.get("key") not in field_of:
            return True
        if term.get("comparator", "EQ") == "NE":
            return str(value) not in values
        if term.get("comparator") == "CONTAINS":
            return any(v in str(value) for v in values)
        return str(value) in values

    criteria = criteria or {}
    return all(holds(t) for t in criteria.get("includes") or []) and not any(
        holds(t) for t in criteria.get("excludes") or []
    )


@emulates("macie2", "ListClassificationJobs")
def list_classification_jobs(call: Call) -> dict[str, Any]:
    summaries = [j.to_summary() for j in _model(call).jobs.values()]
    summaries = [s for s in summaries if _job_matches(s, call.params.get("filterCriteria"))]
    sort = call.params.get("sortCriteria") or {}
    if sort.get("attributeName"):
        summaries.sort(key=lambda s: str(s.get(sort["attributeName"])), reverse=sort.get("orderBy") == "DESC")
    page, token = _page(summaries, call.params)
    return _with_token({"items": page}, token)


@emulates("macie2", "UpdateClassificationJob")
def update_classification_job(call: Call) -> dict[str, Any]:
    _model(call).update_job(call.params["jobId"], call.params["jobStatus"])
    return {}


# ---- findings
@emulates("macie2", "ListFindings")
def list_findings(call: Call) -> dict[str, Any]:
    found = _model(call).list_findings(call.params.get("findingCriteria"), call.params.get("sortCriteria"))
    page, token = _page([f["id"] for f in found], call.params, default=50)
    return _with_token({"findingIds": page}, token)


@emulates("macie2", "GetFindings")
def get_findings(call: Call) -> dict[str, Any]:
    model = _model(call)
    ids = call.params.get("findingIds") or []
    if len(ids) > 50:
        raise AwsError("ValidationException", "findingIds can hold at most 50 IDs")
    with model.lock:
        findings = [model.findings[i] for i in ids if i in model.findings]
    sort = call.params.get("sortCriteria") or {}
    if sort.get("attributeName"):
        from dcp.sandbox.emulators.macie.models import _value_at

        findings.sort(key=lambda f: str(_value_at(f, sort["attributeName"])), reverse=sort.get("orderBy") == "DESC")
    return {"findings": findings}


@emulates("macie2", "GetFindingStatistics")
def get_finding_statistics(call: Call) -> dict[str, Any]:
    from dcp.sandbox.emulators.macie.models import _value_at

    group_by = call.params["groupBy"]
    found = _model(call).list_findings(call.params.get("findingCriteria"))
    counts = Counter(str(_value_at(f, group_by)) for f in found)
    groups: list[dict[str, Any]] = [{"count": count, "groupKey": key} for key, count in counts.items()]
    sort = call.params.get("sortCriteria") or {}
    attribute = sort.get("attributeName") or "count"
    groups.sort(
        key=lambda g: str(g[attribute]) if attribute == "groupKey" else int(g["count"]),
        reverse=not sort or sort.get("orderBy") == "DESC",
    )
    if call.params.get("size"):
        groups = groups[: int(call.params["size"])]
    return {"countsByGroup": groups}


# ---- tags and the session
@emulates("macie2", "TagResource")
def tag_resource(call: Call) -> dict[str, Any]:
    _model(call).tags_of(call.params["resourceArn"]).update(call.params.get("tags") or {})
    return {}


@emulates("macie2", "ListTagsForResource")
def list_tags_for_resource(call: Call) -> dict[str, Any]:
    return {"tags": dict(_model(call).tags_of(call.params["resourceArn"]))}


@emulates("macie2", "UpdateMacieSession")
def update_macie_session(call: Call) -> dict[str, Any]:
    macie2_backends = moto_compat.backends("macie2")
    session = macie2_backends[call.account_id][call.region].macie_session
    if not session:
        raise AwsError("AccessDeniedException", "Macie is not enabled for this account")
    for member in ("status", "findingPublishingFrequency"):
        if call.params.get(member):
            session[member] = call.params[member]
    session["updatedAt"] = moto_compat.utcnow()
    return {}


# ---- discovery results, identifiers, usage and account settings
@emulates("macie2", "PutClassificationExportConfiguration")
def put_classification_export_configuration(call: Call) -> dict[str, Any]:
    destination = ExportDestination.from_params(call.params.get("configuration") or {})
    check_destination(destination, call.account_id, call.region)
    _model(call).export = destination
    return {"configuration": destination.to_json()}


@emulates("macie2", "GetClassificationExportConfiguration")
def get_classification_export_configuration(call: Call) -> dict[str, Any]:
    export = _model(call).export
    return {"configuration": export.to_json()} if export else {}


@emulates("macie2", "ListManagedDataIdentifiers")
def list_managed_data_identifiers(call: Call) -> dict[str, Any]:
    # The API takes only nextToken and returns everything in one page when it fits.
    page, token = _page(managed_identifier_summaries(), {"nextToken": call.params.get("nextToken")}, default=MAX_PAGE)
    return _with_token({"items": page}, token)


_USAGE_TYPES = ("DATA_INVENTORY_EVALUATION", "SENSITIVE_DATA_DISCOVERY", "AUTOMATED_SENSITIVE_DATA_DISCOVERY")


@emulates("macie2", "GetUsageTotals")
def get_usage_totals(call: Call) -> dict[str, Any]:
    # The sandbox bills nothing: every metric Macie reports is there, at zero.
    return {
        "timeRange": call.params.get("timeRange") or "PAST_30_DAYS",
        "usageTotals": [{"currency": "USD", "estimatedCost": "0", "type": t} for t in _USAGE_TYPES],
    }


@emulates("macie2", "GetUsageStatistics")
def get_usage_statistics(call: Call) -> dict[str, Any]:
    usage = [{"currency": "USD", "estimatedCost": "0", "type": t} for t in _USAGE_TYPES]
    return {
        "records": [{"accountId": call.account_id, "usage": usage}],
        "timeRange": call.params.get("timeRange") or "PAST_30_DAYS",
    }


@emulates("macie2", "ListFindingsFilters")
def list_findings_filters(call: Call) -> dict[str, Any]:
    return {"findingsFilterListItems": []}


@emulates("macie2", "ListAllowLists")
def list_allow_lists(call: Call) -> dict[str, Any]:
    return {"allowLists": []}


@emulates("macie2", "GetFindingsPublicationConfiguration")
def get_findings_publication_configuration(call: Call) -> dict[str, Any]:
    return {"securityHubConfiguration": {"publishClassificationFindings": False, "publishPolicyFindings": True}}


@emulates("macie2", "GetRevealConfiguration")
def get_reveal_configuration(call: Call) -> dict[str, Any]:
    return {"configuration": {"status": "DISABLED"}}


@emulates("macie2", "GetAutomatedDiscoveryConfiguration")
def get_automated_discovery_configuration(call: Call) -> dict[str, Any]:
    return {"status": "DISABLED"}


def _bucket_metadata(call: Call) -> list[dict[str, Any]]:
    s3_backends = moto_compat.backends("s3")
    buckets = []
    for name, bucket in sorted(s3_backends[call.account_id]["aws"].buckets.items()):
        keys = [k[-1] if isinstance(k, list) else k for k in bucket.keys.values()]
        size = sum(int(getattr(k, "size", 0)) for k in keys)
        buckets.append(
            {
                "accountId": call.account_id,
                "bucketArn": f"arn:aws:s3:::{name}",
                "bucketCreatedAt": bucket.creation_date,
                "bucketName": name,
                "classifiableObjectCount": len(keys),
                "classifiableSizeInBytes": size,
                "objectCount": len(keys),
                "region": bucket.region_name,
                "sizeInBytes": size,
            }
        )
    return buckets


@emulates("macie2", "DescribeBuckets")
def describe_buckets(call: Call) -> dict[str, Any]:
    page, token = _page(_bucket_metadata(call), call.params, default=50)
    return _with_token({"buckets": page}, token)


@emulates("macie2", "GetBucketStatistics")
def get_bucket_statistics(call: Call) -> dict[str, Any]:
    buckets = _bucket_metadata(call)
    return {
        "bucketCount": len(buckets),
        "objectCount": sum(b["objectCount"] for b in buckets),
        "sizeInBytes": sum(b["sizeInBytes"] for b in buckets),
        "classifiableObjectCount": sum(b["classifiableObjectCount"] for b in buckets),
        "classifiableSizeInBytes": sum(b["classifiableSizeInBytes"] for b in buckets),
    }
