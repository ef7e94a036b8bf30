"""Which raw objects the next Macie job classifies: everything, or only what is new or changed.

Why a ONE_TIME job scoped on ``OBJECT_LAST_MODIFIED_DATE``, not a SCHEDULED job: a scheduled job
does analyse only objects created or changed since its previous run (CreateClassificationJob,
``initialRun``), but it runs on its own daily/weekly/monthly schedule, cannot be started on
demand after a replication round, and its identifiers cannot be changed (a new job is needed
anyway when they change). `dcp scan` runs right after each DMS round, so it starts a ONE_TIME job
whose ``s3JobDefinition.scoping.includes`` holds one ``simpleScopeTerm``
``OBJECT_LAST_MODIFIED_DATE GTE <watermark>`` (API reference, SimpleScopeTerm: "the date and time
(in UTC and extended ISO 8601 format) when an object was created or last changed").

The watermark is kept by Macie itself, not by dcp: it is the ``createdAt`` of the newest of this
stack's jobs that completed without errors (ListClassificationJobs, DescribeClassificationJob)
less ``macie.scan_overlap_seconds``, floored to the second (S3 lists last-modified times in whole
seconds). Nothing is missed: an object is either older than the watermark, so a successful job
that started after it was written saw it, or it is in scope. The overlap covers what could
otherwise slip through: S3's last-modified time is when the upload *started*, so an object still
uploading when a job listed the bucket carries a time before the job's start; and S3's and
Macie's clocks may differ a little. Both times come from AWS, never from this machine's clock.
So that the overlap does not classify the last round's files twice, `dcp scan` starts a job only
when the newest raw object is older than the overlap (it waits the rest out, by this machine's
clock; a skewed local clock can only cause an object to be classified twice, never missed).

A job carries the fingerprint of its identifier configuration as a tag (``dcp:identifiers``):
when the configuration differs from the last successful job's, the scan is full again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dcp.aws.session import AwsContext
from dcp.config import MacieSettings
from dcp.names import StackNames

#: the job tag holding the fingerprint of its identifier configuration
IDENTIFIERS_TAG = "dcp:identifiers"
#: the job tag saying what it classified: "full" or the watermark it was scoped from
SCOPE_TAG = "dcp:scope"
_GIB = 1024**3


def scope_time(value: datetime) -> str:
    """A time as OBJECT_LAST_MODIFIED_DATE takes it: UTC, extended ISO 8601, whole seconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def identifier_fingerprint(
    macie: MacieSettings, managed_ids: Sequence[str], custom_definitions: Sequence[dict[str, Any]] | None = None
) -> str:
    """A short hash of what decides what Macie finds: the managed selection and IDs, each custom identifier."""
    customs = custom_definitions
    if customs is None:
        customs = [
            {
                "name": c.name,
                "regex": c.regex,
                "keywords": sorted(c.keywords),
                "ignore_words": sorted(c.ignore_words),
                "maximum_match_distance": c.maximum_match_distance,
            }
            for c in macie.custom_identifiers
        ]
    document = {
        "selection": macie.managed_identifier_selection,
        "managed": sorted(managed_ids),
        "custom": sorted(customs, key=lambda c: str(c.get("name"))),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RawObject:
    key: str
    size: int
    modified: datetime


@dataclass
class ScanScope:
    """What the next job classifies and why."""

    full: bool
    reason: str
    fingerprint: str
    since: datetime | None = None  # OBJECT_LAST_MODIFIED_DATE GTE this, when not full
    objects: list[RawObject] = field(default_factory=list)  # in scope now
    newest: datetime | None = None  # the newest raw object's last-modified time (S3's clock)

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.objects)

    def estimated_cost(self, price_per_gb: float) -> float:
        """Macie bills sensitive data discovery per GB analysed (pricing counts 1 GB as 2^30 bytes)."""
        return self.bytes / _GIB * price_per_gb

    def scoping(self) -> dict[str, Any] | None:
        if self.full or self.since is None:
            return None
        term = {"comparator": "GTE", "key": "OBJECT_LAST_MODIFIED_DATE", "values": [scope_time(self.since)]}
        return {"includes": {"and": [{"simpleScopeTerm": term}]}}

    def tags(self) -> dict[str, str]:
        return {IDENTIFIERS_TAG: self.fingerprint, SCOPE_TAG: "full" if self.full else scope_time(self.since or _0)}


_0 = datetime.fromtimestamp(0, UTC)


def raw_objects(aws: AwsContext, bucket: str) -> list[RawObject]:
    """Every object of the raw bucket with S3's last-modified time (ListObjectsV2)."""
    out: list[RawObject] = []
    for page in aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents") or []:
            if not item["Key"].endswith("/"):
                modified = item["LastModified"]
                modified = modified.replace(tzinfo=UTC) if modified.tzinfo is None else modified
                out.append(RawObject(item["Key"], int(item.get("Size") or 0), modified))
    return out


def last_successful_job(aws: AwsContext, names: StackNames) -> dict[str, Any] | None:
    """The newest of this stack's jobs over the raw bucket that completed without errors, described."""
    macie = aws.client("macie2")
    kwargs: dict[str, Any] = {
        "filterCriteria": {"includes": [{"comparator": "EQ", "key": "jobStatus", "values": ["COMPLETE"]}]},
        "sortCriteria": {"attributeName": "createdAt", "orderBy": "DESC"},
        "maxResults": 50,
    }
    while True:
        page = macie.list_classification_jobs(**kwargs)
        for item in page.get("items") or []:
            if not str(item.get("name", "")).startswith(f"{names.prefix}-scan-"):
                continue
            if (item.get("lastRunErrorStatus") or {}).get("code") == "ERROR":
                continue  # it skipped objects: its window is not covered
            buckets = {b for d in item.get("bucketDefinitions") or [] for b in d.get("buckets") or []}
            if names.raw_bucket in buckets:
                return dict(macie.describe_classification_job(jobId=item["jobId"]))
        if not page.get("nextToken"):
            return None
        kwargs["nextToken"] = page["nextToken"]


def plan_scope(aws: AwsContext, names: StackNames, fingerprint: str, *, full: bool, overlap_seconds: int) -> ScanScope:
    """Full (asked for, first scan, or identifiers changed) or incremental from Macie's watermark."""
    objects = raw_objects(aws, names.raw_bucket)
    newest = max((o.modified for o in objects), default=None)
    if full:
        return ScanScope(True, "full scan (--full): classifying every raw object", fingerprint, None, objects, newest)
    previous = last_successful_job(aws, names)
    if previous is None:
        reason = "full scan: no earlier scan of this stack completed without errors"
        return ScanScope(True, reason, fingerprint, None, objects, newest)
    name = previous.get("name", previous.get("jobId"))
    before = (previous.get("tags") or {}).get(IDENTIFIERS_TAG)
    if before != fingerprint:
        reason = (
            f"full scan: the identifier configuration changed since job {name} "
            f"(fingerprint {before or 'none'} -> {fingerprint}), so every object is classified again"
        )
        return ScanScope(True, reason, fingerprint, None, objects, newest)
    created = previous["createdAt"]
    created = created.replace(tzinfo=UTC) if created.tzinfo is None else created
    since = (created - timedelta(seconds=overlap_seconds)).replace(microsecond=0)
    changed = [o for o in objects if o.modified >= since]
    reason = f"incremental scan: objects new or changed since {scope_time(since)} (job {name} less the overlap)"
    return ScanScope(False, reason, fingerprint, since, changed, newest)


def settle(scope: ScanScope, overlap_seconds: int, *, sleep: Any = time.sleep) -> float:
    """Wait until the newest raw object is older than the overlap (plus S3's one-second precision),
    so the next incremental job's watermark lies after it; returns the seconds waited."""
    if scope.newest is None:
        return 0.0
    ready = scope.newest + timedelta(seconds=overlap_seconds + 1.5)
    wait = (ready - datetime.now(UTC)).total_seconds()
    if wait > 0:
        sleep(wait)
        return wait
    return 0.0
