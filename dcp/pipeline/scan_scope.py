"""Which raw objects the next Macie job classifies: everything, or only what is new or changed.

Why a ONE_TIME job scoped on ``OBJECT_LAST_MODIFIED_DATE``, not a SCHEDULED job: a scheduled job
does analyse only objects created or changed since its previous run (CreateClassificationJob,
``initialRun``), but it runs on its own daily/weekly/monthly schedule, cannot be started on
demand after a replication round, and its identifiers cannot be changed (a new job is needed
anyway when they change). `dcp scan` runs right after each DMS round, so it starts a ONE_TIME job
whose ``s3JobDefinition.scoping.includes`` holds one ``simpleScopeTerm``
``OBJECT_LAST_MODIFIED_DATE GTE <watermark>`` (API reference, SimpleScopeTerm: "the date and time
(in UTC and extended ISO 8601 format) when an object was created or last changed").

The jobs partition the objects by last-modified time, so no object is classified twice and
none is missed, with no wait for the overlap. Each job is scoped ``[since, until)``: ``until`` is
the second after the newest object that dcp listed before creating the job (``LT until``; a full
job has only that bound), and dcp creates the job only once its clock has passed ``until``, so any
object written later carries ``until`` or later and falls to the next job, whose ``since`` is the
previous good job's ``until`` (``GTE``; both bounds are on the same S3 time, so the ranges meet
without overlap). Both bounds come from S3's own clock (the objects' times), kept on the job as
tags (``dcp:until``, ``dcp:tail``), i.e. by Macie itself.

What could otherwise slip through is an upload still in flight when the job listed the bucket: S3's
last-modified time is when the upload *started*, so it may carry a time before ``until`` and yet
not have been there to classify. ``macie.scan_overlap_seconds`` bounds how long an upload may take
(and the clock skew). So dcp lists the bucket again after its clock passed ``until`` and tags the job
with a digest of the objects of its "tail", ``[until - 2 x overlap, until)``: anything older was
complete before that listing, and so before Macie's own listing. The next scan (not before ``until
+ overlap``, when every upload of the tail has ended) recomputes the digest: if the tail now holds
anything else (a late upload, or one Macie listed but dcp did not), the next job starts from the
tail instead (those objects are classified twice, none is missed). A job without these tags (made
by an older dcp) gives the old watermark: its ``createdAt`` less the overlap.

A job carries the fingerprint of its identifier configuration as a tag (``dcp:identifiers``):
when the configuration differs from the last successful job's, the scan is full again.
"""

from __future__ import annotations

import dataclasses
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
#: the job tag holding its upper bound (objects last modified before it)
UNTIL_TAG = "dcp:until"
#: the job tag holding the digest of the objects in its tail, [until - 2 x overlap, until)
TAIL_TAG = "dcp:tail"
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
    until: datetime | None = None  # OBJECT_LAST_MODIFIED_DATE LT this: the second after `newest`
    tail: str = ""  # digest of the objects in [until - 2 x overlap, until) listed after `until`

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.objects)

    def estimated_cost(self, price_per_gb: float) -> float:
        """Macie bills sensitive data discovery per GB analysed (pricing counts 1 GB as 2^30 bytes)."""
        return self.bytes / _GIB * price_per_gb

    def scoping(self) -> dict[str, Any] | None:
        bounds = [("LT", self.until)]
        if not self.full:
            bounds.insert(0, ("GTE", self.since))
        terms = [
            {"simpleScopeTerm": {"comparator": op, "key": "OBJECT_LAST_MODIFIED_DATE", "values": [scope_time(at)]}}
            for op, at in bounds
            if at is not None
        ]
        return {"includes": {"and": terms}} if terms else None

    def tags(self) -> dict[str, str]:
        out = {IDENTIFIERS_TAG: self.fingerprint, SCOPE_TAG: "full" if self.full else scope_time(self.since or _0)}
        if self.until is not None:
            out |= {UNTIL_TAG: scope_time(self.until), TAIL_TAG: self.tail}
        return out


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


def plan_scope(
    aws: AwsContext, names: StackNames, fingerprint: str, *, full: bool, overlap_seconds: int, sleep: Any = time.sleep
) -> ScanScope:
    """Full (asked for, first scan, or identifiers changed) or incremental from Macie's watermark."""
    previous = None if full else last_successful_job(aws, names)
    tags = (previous or {}).get("tags") or {}
    until_before = _parse_time(tags.get(UNTIL_TAG))
    if until_before is not None:  # every upload of its tail has ended (see the module docstring)
        _wait_until(until_before + timedelta(seconds=overlap_seconds + 0.5), sleep)
    objects = raw_objects(aws, names.raw_bucket)
    newest = max((o.modified for o in objects), default=None)
    until = _next_second(newest)
    if full:
        reason = "full scan (--full): classifying every raw object"
        return ScanScope(True, reason, fingerprint, None, _before(objects, until), newest, until)
    if previous is None:
        reason = "full scan: no earlier scan of this stack completed without errors"
        return ScanScope(True, reason, fingerprint, None, _before(objects, until), newest, until)
    name = previous.get("name", previous.get("jobId"))
    before = tags.get(IDENTIFIERS_TAG)
    if before != fingerprint:
        reason = (
            f"full scan: the identifier configuration changed since job {name} "
            f"(fingerprint {before or 'none'} -> {fingerprint}), so every object is classified again"
        )
        return ScanScope(True, reason, fingerprint, None, _before(objects, until), newest, until)
    since, why = _since(previous, tags, objects, overlap_seconds)
    changed = _before([o for o in objects if o.modified >= since], until)
    reason = f"incremental scan: objects new or changed since {scope_time(since)} ({why} of job {name})"
    return ScanScope(False, reason, fingerprint, since, changed, newest, until)


def _since(
    previous: dict[str, Any], tags: dict[str, str], objects: Sequence[RawObject], overlap_seconds: int
) -> tuple[datetime, str]:
    """Where the next job starts: the previous job's `until`, or its tail when the tail changed."""
    until = _parse_time(tags.get(UNTIL_TAG))
    if until is None:  # a job of an older dcp: its creation time less the overlap
        created = previous["createdAt"]
        created = created.replace(tzinfo=UTC) if created.tzinfo is None else created
        since = (created - timedelta(seconds=overlap_seconds)).replace(microsecond=0)
        return since, "the creation time less the overlap"
    lower = _parse_time(tags.get(SCOPE_TAG))
    start = tail_start(until, overlap_seconds, lower)
    if tail_digest(objects, start, until) == tags.get(TAIL_TAG):
        return until, "the upper bound"
    return start, "the tail (it changed after the job listed it)"


def tail_start(until: datetime, overlap_seconds: int, since: datetime | None) -> datetime:
    start = until - timedelta(seconds=2 * overlap_seconds)
    return max(start, since) if since is not None else start


def tail_digest(objects: Sequence[RawObject], start: datetime, until: datetime) -> str:
    """A short hash of the objects last modified in [start, until): key, time and size."""
    rows = sorted(f"{o.key}\t{scope_time(o.modified)}\t{o.size}" for o in objects if start <= o.modified < until)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def with_tail(scope: ScanScope, objects: Sequence[RawObject], overlap_seconds: int) -> ScanScope:
    """The scope with the digest of its tail, from a listing taken once the clock passed `until`."""
    if scope.until is None:
        return scope
    start = tail_start(scope.until, overlap_seconds, None if scope.full else scope.since)
    return dataclasses.replace(scope, tail=tail_digest(objects, start, scope.until))


def _before(objects: Sequence[RawObject], until: datetime | None) -> list[RawObject]:
    return [o for o in objects if until is None or o.modified < until]


def _next_second(at: datetime | None) -> datetime | None:
    return None if at is None else at.replace(microsecond=0) + timedelta(seconds=1)


def _parse_time(text: str | None) -> datetime | None:
    if not text or text == "full":
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _wait_until(at: datetime, sleep: Any) -> float:
    wait = (at - datetime.now(UTC)).total_seconds()
    if wait > 0:
        sleep(wait)
        return wait
    return 0.0


def settle(scope: ScanScope, *, sleep: Any = time.sleep) -> float:
    """Wait until this machine's clock has passed the scope's `until` (plus half a second for skew
    with S3's clock), so any object written from now on falls to the next job; returns the seconds
    waited (at most about 1.5 s after the newest object)."""
    if scope.until is None:
        return 0.0
    return _wait_until(scope.until + timedelta(seconds=0.5), sleep)
