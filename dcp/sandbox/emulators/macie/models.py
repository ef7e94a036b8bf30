"""Macie's behaviour: custom identifiers, classification jobs scanning S3 with dcp's detector, findings.

A classification job runs on a background thread: it lists the objects of the job's buckets
(`s3JobDefinition.bucketDefinitions`, or every bucket of the account for `bucketCriteria`),
keeps those its `scoping` includes and does not exclude (OBJECT_KEY STARTS_WITH/EQ,
OBJECT_EXTENSION EQ/NE, OBJECT_SIZE comparisons), classifies each CSV/TSV/JSON/JSON Lines/
Parquet object with :func:`dcp.masking.detect.classify_source` using the job's custom and
managed identifiers, stores one finding per object with sensitive data, and when the scan is
done publishes them to EventBridge, up to 10 per PutEvents (source `aws.macie`, detail-type
`Macie Finding`, detail = the finding), so rules and their Firehose targets fire. Publishing
at the end stands in for Firehose's buffering: a job's findings land in one S3 object per 10,
as a real buffered stream would usually deliver them, not one object (and one downstream
Lambda run) per finding. Status goes RUNNING -> COMPLETE (or CANCELLED when
UpdateClassificationJob cancels it; ERROR is reported in `lastRunErrorStatus`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dcp.masking.identifiers import MANAGED_SELECTORS, managed_ids_for_selector
from dcp.sandbox import moto_compat
from dcp.sandbox.emulators.macie.results import (
    RESULT_OCCURRENCES,
    ExportDestination,
    ResultContext,
    cap_finding_occurrences,
    empty_record,
    result_record,
    write_results,
)
from dcp.sandbox.registry import AccountRegionStore, AwsError

log = logging.getLogger("dcp.sandbox")

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet")


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass
class CustomDataIdentifierRecord:
    id: str
    arn: str
    name: str
    regex: str
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    ignore_words: list[str] = field(default_factory=list)
    maximum_match_distance: int = 50
    severity_levels: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime = field(default_factory=_now)
    deleted: bool = False

    def detector(self) -> Any:
        from dcp.masking.identifiers import CustomIdentifier

        return CustomIdentifier(
            name=self.name,
            regex=self.regex,
            keywords=tuple(self.keywords),
            ignore_words=tuple(self.ignore_words),
            maximum_match_distance=self.maximum_match_distance,
            arn=self.arn,
        )

    def to_full(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "createdAt": self.created_at,
            "deleted": self.deleted,
            "description": self.description,
            "id": self.id,
            "ignoreWords": self.ignore_words,
            "keywords": self.keywords,
            "maximumMatchDistance": self.maximum_match_distance,
            "name": self.name,
            "regex": self.regex,
            "severityLevels": self.severity_levels,
            "tags": self.tags,
        }

    def to_summary(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "createdAt": self.created_at,
            "description": self.description,
            "id": self.id,
            "name": self.name,
        }


@dataclass
class ClassificationJob:
    id: str
    arn: str
    name: str
    job_type: str
    s3_job_definition: dict[str, Any]
    client_token: str
    description: str = ""
    custom_data_identifier_ids: list[str] = field(default_factory=list)
    managed_data_identifier_selector: str = "RECOMMENDED"
    managed_data_identifier_ids: list[str] = field(default_factory=list)
    sampling_percentage: int = 100
    initial_run: bool = True
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime = field(default_factory=_now)
    status: str = "RUNNING"
    last_run_time: datetime | None = None
    error: str | None = None
    objects_to_process: int = 0
    objects_processed: int = 0
    # Objects Macie's service-linked role could not read or decrypt: (bucket, key, reason).
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_full(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "clientToken": self.client_token,
            "createdAt": self.created_at,
            "customDataIdentifierIds": self.custom_data_identifier_ids,
            "description": self.description,
            "initialRun": self.initial_run,
            "jobArn": self.arn,
            "jobId": self.id,
            "jobStatus": self.status,
            "jobType": self.job_type,
            "lastRunErrorStatus": {"code": "ERROR" if self.error or self.skipped else "NONE"},
            "managedDataIdentifierIds": self.managed_data_identifier_ids,
            "managedDataIdentifierSelector": self.managed_data_identifier_selector,
            "name": self.name,
            "s3JobDefinition": self.s3_job_definition,
            "samplingPercentage": self.sampling_percentage,
            "statistics": {
                "approximateNumberOfObjectsToProcess": float(self.objects_to_process),
                "numberOfRuns": 1.0,
            },
            "tags": self.tags,
        }
        if self.last_run_time is not None:
            out["lastRunTime"] = self.last_run_time
        return out

    def to_summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "createdAt": self.created_at,
            "jobId": self.id,
            "jobStatus": self.status,
            "jobType": self.job_type,
            "name": self.name,
            "lastRunErrorStatus": {"code": "ERROR" if self.error or self.skipped else "NONE"},
        }
        if self.s3_job_definition.get("bucketDefinitions"):
            out["bucketDefinitions"] = self.s3_job_definition["bucketDefinitions"]
        if self.s3_job_definition.get("bucketCriteria"):
            out["bucketCriteria"] = self.s3_job_definition["bucketCriteria"]
        return out


# ---- scoping
# CreateClassificationJob's SimpleScopeTerm (API reference, "SimpleScopeTerm"): the comparators
# each key takes, OR over several values only for OBJECT_EXTENSION and OBJECT_KEY (a single value
# otherwise), OBJECT_KEY is a key prefix, OBJECT_LAST_MODIFIED_DATE an extended ISO 8601 UTC date
# ("2023-09-24T14:31:13Z") compared with the object's last-modified time, and values are case
# sensitive. Terms in a block are ANDed; excludes take precedence over includes.
SCOPE_COMPARATORS: dict[str, tuple[str, ...]] = {
    "OBJECT_EXTENSION": ("EQ", "NE"),
    "OBJECT_KEY": ("STARTS_WITH",),
    "OBJECT_LAST_MODIFIED_DATE": ("EQ", "GT", "GTE", "LT", "LTE", "NE"),
    "OBJECT_SIZE": ("EQ", "GT", "GTE", "LT", "LTE", "NE"),
}
_ORDER = {
    "EQ": lambda a, b: a == b,
    "NE": lambda a, b: a != b,
    "GT": lambda a, b: a > b,
    "GTE": lambda a, b: a >= b,
    "LT": lambda a, b: a < b,
    "LTE": lambda a, b: a <= b,
}


def _scope_date(value: str) -> datetime:
    """An OBJECT_LAST_MODIFIED_DATE value: extended ISO 8601 in UTC, or a ValidationException."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]00:?00)", value):
        raise AwsError("ValidationException", f"{value!r} is not a date in UTC, extended ISO 8601 format")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def check_scoping(scoping: dict[str, Any] | None) -> None:
    """Refuse what the API reference does not allow, as Macie does (ValidationException)."""
    for block in ("includes", "excludes"):
        for item in ((scoping or {}).get(block) or {}).get("and") or []:
            term = item.get("simpleScopeTerm")
            if not term:
                continue
            key, comparator = term.get("key"), term.get("comparator", "EQ")
            values = term.get("values") or []
            if key not in SCOPE_COMPARATORS:
                raise AwsError("ValidationException", f"simpleScopeTerm key {key!r} is not valid")
            if comparator not in SCOPE_COMPARATORS[key]:
                raise AwsError(
                    "ValidationException",
                    f"comparator {comparator} is not valid for {key}; use {' or '.join(SCOPE_COMPARATORS[key])}",
                )
            if not values or (key in ("OBJECT_LAST_MODIFIED_DATE", "OBJECT_SIZE") and len(values) != 1):
                raise AwsError("ValidationException", f"{key} takes {'one value' if len(values) else 'values'}")
            if key == "OBJECT_LAST_MODIFIED_DATE":
                _scope_date(str(values[0]))
            elif key == "OBJECT_SIZE" and not str(values[0]).isdigit():
                raise AwsError("ValidationException", f"OBJECT_SIZE takes a number of bytes, got {values[0]!r}")


def _term_matches(term: dict[str, Any], key: str, size: int, modified: datetime) -> bool:
    comparator = term.get("comparator", "EQ")
    values = [str(v) for v in term.get("values") or []]
    what = term.get("key")
    if what == "OBJECT_KEY":
        return any(key.startswith(v) for v in values)
    if what == "OBJECT_EXTENSION":
        name = key.rsplit("/", 1)[-1]
        extension = name.rsplit(".", 1)[-1] if "." in name else ""
        return extension in values if comparator == "EQ" else extension not in values
    if what == "OBJECT_SIZE":
        return bool(_ORDER[comparator](size, int(values[0])))
    if what == "OBJECT_LAST_MODIFIED_DATE":
        return bool(_ORDER[comparator](modified, _scope_date(values[0])))
    return True  # tag terms: not evaluated, everything is in scope


def _scope_terms(block: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [item["simpleScopeTerm"] for item in (block or {}).get("and") or [] if item.get("simpleScopeTerm")]


def in_scope(scoping: dict[str, Any] | None, key: str, size: int, modified: datetime | None = None) -> bool:
    """Whether an object is in a job's scope: every include term holds and no exclude term does."""
    scoping = scoping or {}
    when = modified or _now()
    if not all(_term_matches(t, key, size, when) for t in _scope_terms(scoping.get("includes"))):
        return False
    return not any(_term_matches(t, key, size, when) for t in _scope_terms(scoping.get("excludes")))


def _object_time(key: Any) -> datetime:
    """S3's last-modified time of a moto key, in UTC at S3's precision (whole seconds, as listed)."""
    value: datetime = key.last_modified
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=0)


# ---- finding criteria
def _value_at(document: Any, path: str) -> Any:
    value = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _criterion_holds(finding: dict[str, Any], path: str, condition: dict[str, Any]) -> bool:
    value = _value_at(finding, path)
    text = str(value).lower() if isinstance(value, bool) else None if value is None else str(value)
    if condition.get("eq") and text not in [str(v) for v in condition["eq"]]:
        return False
    if condition.get("eqExactMatch") and text not in [str(v) for v in condition["eqExactMatch"]]:
        return False
    if condition.get("neq") and text in [str(v) for v in condition["neq"]]:
        return False
    for op, test in (
        ("gt", lambda a, b: a > b),
        ("gte", lambda a, b: a >= b),
        ("lt", lambda a, b: a < b),
        ("lte", lambda a, b: a <= b),
    ):
        if condition.get(op) is None:
            continue
        number = _as_number(value)
        if number is None or not test(number, float(condition[op])):
            return False
    return True


def _as_number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:  # timestamps compare as epoch milliseconds, as Macie's API takes them
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000
        except ValueError:
            return None
    return None


def finding_matches(finding: dict[str, Any], criteria: dict[str, Any] | None) -> bool:
    criterion = (criteria or {}).get("criterion") or {}
    if "archived" not in criterion and finding.get("archived"):
        return False
    return all(_criterion_holds(finding, path, cond or {}) for path, cond in criterion.items())


# ---- text test (TestCustomDataIdentifier)
def count_matches(
    regex: str,
    text: str,
    keywords: Iterable[str] = (),
    ignore_words: Iterable[str] = (),
    maximum_match_distance: int = 50,
) -> int:
    """Matches of a custom identifier in free text, with Macie's keyword and ignore-word rules."""
    from dcp.masking.identifiers import CustomIdentifier

    identifier = CustomIdentifier(
        name="test",
        regex=regex,
        keywords=tuple(keywords),
        ignore_words=tuple(ignore_words),
        maximum_match_distance=maximum_match_distance,
    )
    matches = [m for m in identifier.compiled.finditer(text) if m.group(0)]
    matches = [m for m in matches if not any(w in m.group(0) for w in identifier.ignore_words)]
    if identifier.keywords:
        words = "|".join(re.escape(k) for k in sorted(identifier.keywords, key=len, reverse=True))
        ends = [k.end() for k in re.finditer(f"(?:{words})", text, re.IGNORECASE)]
        matches = [
            m
            for m in matches
            if any(end <= m.start() + 1 and m.end() - end <= identifier.maximum_match_distance for end in ends)
        ]
    return len(matches)


# ---- the per account/region state
class MacieModel:
    """One account's Macie in one region."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self.lock = threading.RLock()
        self.custom_identifiers: dict[str, CustomDataIdentifierRecord] = {}
        self.jobs: dict[str, ClassificationJob] = {}
        self.findings: dict[str, dict[str, Any]] = {}
        #: PutClassificationExportConfiguration's destination for discovery results
        self.export: ExportDestination | None = None

    def tags_of(self, arn: str) -> dict[str, str]:
        """The (mutable) tags of the custom data identifier or classification job `arn`."""
        with self.lock:
            for identifier in self.custom_identifiers.values():
                if identifier.arn == arn and not identifier.deleted:
                    return identifier.tags
            for job in self.jobs.values():
                if job.arn == arn:
                    return job.tags
        raise AwsError("ResourceNotFoundException", f"resource {arn} not found")

    # custom data identifiers
    def create_custom_data_identifier(self, params: dict[str, Any]) -> CustomDataIdentifierRecord:
        name = params["name"]
        try:
            re.compile(params["regex"])
        except re.error as exc:
            raise AwsError("ValidationException", f"The regular expression is not valid: {exc}") from exc
        distance = int(params.get("maximumMatchDistance") or 50)
        if not 1 <= distance <= 300:
            raise AwsError("ValidationException", "maximumMatchDistance must be between 1 and 300")
        with self.lock:
            if any(c.name == name and not c.deleted for c in self.custom_identifiers.values()):
                raise AwsError("ConflictException", f"A custom data identifier named {name} already exists")
            identifier_id = str(uuid.uuid4())
            record = CustomDataIdentifierRecord(
                id=identifier_id,
                arn=f"arn:aws:macie2:{self.region}:{self.account_id}:custom-data-identifier/{identifier_id}",
                name=name,
                regex=params["regex"],
                description=params.get("description") or "",
                keywords=list(params.get("keywords") or []),
                ignore_words=list(params.get("ignoreWords") or []),
                maximum_match_distance=distance,
                severity_levels=list(params.get("severityLevels") or []),
                tags=dict(params.get("tags") or {}),
            )
            self.custom_identifiers[identifier_id] = record
            return record

    def get_custom_data_identifier(self, identifier_id: str) -> CustomDataIdentifierRecord:
        record = self.custom_identifiers.get(identifier_id)
        if record is None:
            raise AwsError("ResourceNotFoundException", f"custom data identifier {identifier_id} not found")
        return record

    def delete_custom_data_identifier(self, identifier_id: str) -> None:
        record = self.get_custom_data_identifier(identifier_id)
        if record.deleted:
            raise AwsError("ResourceNotFoundException", f"custom data identifier {identifier_id} not found")
        record.deleted = True  # Macie soft-deletes: jobs that use it keep working

    # classification jobs
    def create_job(self, params: dict[str, Any]) -> ClassificationJob:
        with self.lock:
            token = params["clientToken"]
            for job in self.jobs.values():
                if job.client_token == token:
                    return job  # idempotent retry
            for identifier_id in params.get("customDataIdentifierIds") or []:
                record = self.custom_identifiers.get(identifier_id)
                if record is None or record.deleted:
                    raise AwsError("ValidationException", f"custom data identifier {identifier_id} does not exist")
            selector = params.get("managedDataIdentifierSelector") or "RECOMMENDED"
            if selector not in MANAGED_SELECTORS:
                raise AwsError(
                    "ValidationException",
                    f"managedDataIdentifierSelector must be one of {', '.join(MANAGED_SELECTORS)}",
                )
            if params.get("jobType") not in ("ONE_TIME", "SCHEDULED"):
                raise AwsError("ValidationException", "jobType must be ONE_TIME or SCHEDULED")
            definition = params["s3JobDefinition"]
            if not definition.get("bucketDefinitions") and not definition.get("bucketCriteria"):
                raise AwsError("ValidationException", "s3JobDefinition needs bucketDefinitions or bucketCriteria")
            check_scoping(definition.get("scoping"))
            job_id = uuid.uuid4().hex
            job = ClassificationJob(
                id=job_id,
                arn=f"arn:aws:macie2:{self.region}:{self.account_id}:classification-job/{job_id}",
                name=params["name"],
                job_type=params["jobType"],
                s3_job_definition=definition,
                client_token=token,
                description=params.get("description") or "",
                custom_data_identifier_ids=list(params.get("customDataIdentifierIds") or []),
                managed_data_identifier_selector=selector,
                managed_data_identifier_ids=list(params.get("managedDataIdentifierIds") or []),
                sampling_percentage=int(params.get("samplingPercentage") or 100),
                initial_run=bool(params.get("initialRun", True)),
                tags=dict(params.get("tags") or {}),
            )
            self.jobs[job_id] = job
        thread = threading.Thread(target=self._run_job, args=(job,), name=f"macie-job-{job_id}", daemon=True)
        thread.start()
        return job

    def get_job(self, job_id: str) -> ClassificationJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise AwsError("ResourceNotFoundException", f"classification job {job_id} not found")
        return job

    def update_job(self, job_id: str, status: str) -> None:
        job = self.get_job(job_id)
        with self.lock:
            if status == "CANCELLED":
                if job.status in ("COMPLETE", "CANCELLED"):
                    raise AwsError("ValidationException", f"the job is {job.status} and cannot be cancelled")
                job.cancel.set()
                job.status = "CANCELLED"
            elif status in ("RUNNING", "USER_PAUSED"):
                if job.status in ("COMPLETE", "CANCELLED"):
                    raise AwsError("ValidationException", f"the job is {job.status}")
            else:
                raise AwsError("ValidationException", f"jobStatus {status} is not a valid update")

    def _objects(self, job: ClassificationJob) -> list[tuple[str, str, int]]:
        s3_backends = moto_compat.backends("s3")
        s3 = s3_backends[self.account_id]["aws"]
        definition = job.s3_job_definition
        buckets: list[str] = []
        for bucket_definition in definition.get("bucketDefinitions") or []:
            buckets.extend(bucket_definition.get("buckets") or [])
        if definition.get("bucketCriteria"):
            buckets.extend(name for name in list(s3.buckets) if name not in buckets)
        objects = []
        for name in buckets:
            bucket = s3.buckets.get(name)
            if bucket is None:
                continue
            for key_name, key in list(bucket.keys.items()):
                key_obj = key[-1] if isinstance(key, list) else key
                if key_name.endswith("/") or not key_name.lower().endswith(SUPPORTED_SUFFIXES):
                    continue
                size = int(getattr(key_obj, "size", 0))
                if in_scope(definition.get("scoping"), key_name, size, _object_time(key_obj)):
                    objects.append((name, key_name, size))
        return sorted(objects)

    def _run_job(self, job: ClassificationJob) -> None:
        s3_backends = moto_compat.backends("s3")
        from dcp.masking.detect import classify_source
        from dcp.sandbox.gates import macie_may_read

        try:
            objects = self._objects(job)
            job.objects_to_process = len(objects)
            job.last_run_time = _now()
            custom = [
                self.custom_identifiers[i].detector()
                for i in job.custom_data_identifier_ids
                if i in self.custom_identifiers
            ]
            managed = managed_ids_for_selector(job.managed_data_identifier_selector, job.managed_data_identifier_ids)
            s3 = s3_backends[self.account_id]["aws"]
            produced: list[dict[str, Any]] = []
            export = self.export
            results_key = export.object_key(self.account_id, self.region, job.id) if export else None
            location = f"s3://{export.bucket}/{results_key}" if export else None
            context = ResultContext(self.account_id, self.region, job.id, job.arn, location) if location else None
            records: list[dict[str, Any]] = []
            for bucket, key, size in objects:
                if job.cancel.is_set():
                    break
                denied = macie_may_read(self.account_id, self.region, bucket, key)
                if denied is not None:
                    # Macie skips what its role cannot read or decrypt and reports the run's error.
                    log.warning("sandbox: Macie job %s skipped s3://%s/%s: %s", job.id, bucket, key, denied)
                    job.skipped.append((bucket, key, denied))
                    job.objects_processed += 1
                    continue
                try:
                    s3_object = s3.get_object(bucket, key)
                    if s3_object is None:
                        continue
                    body = s3_object.value
                    finding = classify_source(
                        body,
                        key=key,
                        bucket=bucket,
                        custom_identifiers=custom,
                        managed_identifier_ids=managed,
                        account_id=self.account_id,
                        region=self.region,
                        max_occurrences=RESULT_OCCURRENCES,
                    )
                except Exception as exc:
                    log.warning(
                        "sandbox: Macie job %s could not classify s3://%s/%s: %s",
                        job.id,
                        bucket,
                        key,
                        type(exc).__name__,
                    )
                    if context:
                        records.append(empty_record(bucket, key, size, context, "SKIPPED", "UNABLE_TO_PARSE"))
                    continue
                finally:
                    job.objects_processed += 1
                if context:
                    records.append(
                        result_record(finding, context)
                        if finding is not None
                        else empty_record(bucket, key, size, context)
                    )
                if finding is not None:
                    finding_json = cap_finding_occurrences(finding.to_json())
                    produced.append(self._record_finding(job, finding_json, location))
            if export and results_key and records:
                write_results(export, self.account_id, self.region, results_key, records)
            # Published together at the end, as Firehose's buffering would deliver them together.
            self._publish(produced)
            with self.lock:
                if job.status == "RUNNING":
                    job.status = "COMPLETE"
        except Exception as exc:
            log.exception("sandbox: Macie job %s failed", job.id)
            job.error = type(exc).__name__
            with self.lock:
                if job.status == "RUNNING":
                    job.status = "COMPLETE"
        finally:
            job.done.set()

    def _record_finding(self, job: ClassificationJob, finding: dict[str, Any], location: str | None) -> dict[str, Any]:
        details = finding.setdefault("classificationDetails", {})
        details["jobId"] = job.id
        details["jobArn"] = job.arn
        details["detailedResultsLocation"] = location
        now = _iso(_now())
        finding["createdAt"] = finding["updatedAt"] = now
        with self.lock:
            self.findings[finding["id"]] = finding
        return finding

    def _publish(self, findings: list[dict[str, Any]]) -> None:
        """Findings to EventBridge, up to 10 per PutEvents (one Firehose object per batch)."""
        from dcp.sandbox.emulators.events.models import MAX_ENTRIES, publish_events

        for start in range(0, len(findings), MAX_ENTRIES):
            entries = [
                {
                    "Source": "aws.macie",
                    "DetailType": "Macie Finding",
                    "Detail": json.dumps(f),
                    "Resources": [],
                }
                for f in findings[start : start + MAX_ENTRIES]
            ]
            publish_events(self.account_id, self.region, entries)

    # findings
    def list_findings(
        self, criteria: dict[str, Any] | None, sort: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        with self.lock:
            found = [f for f in self.findings.values() if finding_matches(f, criteria)]
        if sort and sort.get("attributeName"):
            attribute = sort["attributeName"]
            found.sort(key=lambda f: str(_value_at(f, attribute)), reverse=sort.get("orderBy") == "DESC")
        return found


macie_models: AccountRegionStore[MacieModel] = AccountRegionStore(MacieModel)
