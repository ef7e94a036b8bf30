"""Read the Macie findings Firehose delivered, and Macie's detailed discovery results, from S3.

Every object under the findings prefix is parsed with the one finding parser
(``dcp.masking.findings.read_findings``, gzip-compressed deliveries unpacked first); the
discovery results (``--discovery_results``) with ``dcp.masking.results``. Fail closed: an object
that does not parse raises :class:`~dcp.masking.findings.UnreadableFindings` and the run writes
nothing. Only findings about objects under the raw bucket's prefix shape the plan; each belongs
to the table :func:`dcp.masking.findings.table_from_key` names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dcp.gluejob.aws_calls import list_objects, read_object
from dcp.masking.findings import Finding, read_findings
from dcp.masking.results import RESULTS_SUFFIX, read_discovery_results


@dataclass
class LoadedFindings:
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    objects: int = 0
    ignored: int = 0  # well-formed findings about other buckets/prefixes or not about data
    superseded: int = 0  # findings about an older version of their object


def load_findings(s3: Any, bucket: str, prefix: str, *, raw_bucket: str, raw_prefix: str) -> LoadedFindings:
    """The sensitive-data findings under ``s3://bucket/prefix`` about ``s3://raw_bucket/raw_prefix``
    that describe each object as it is now.

    `dcp scan` classifies only new or changed objects, so the findings bucket accumulates every
    job's findings and a table's findings are the union over its objects. Per object only the
    newest job's finding counts, and none that is older than the object's current version (S3's
    last-modified time, whole seconds, later than the finding's ``createdAt``): an object rewritten
    without sensitive data gets no new finding, and its old one must not keep flagging columns.
    A finding about an object that no longer exists is kept (it can only mask more).
    """
    loaded = LoadedFindings()
    found: list[Finding] = []
    for key, _size in list_objects(s3, bucket, prefix):
        loaded.objects += 1
        for finding in read_findings(read_object(s3, bucket, key), f"s3://{bucket}/{key}"):
            if _about(finding, raw_bucket, raw_prefix):
                found.append(finding)
            else:
                loaded.ignored += 1
    modified = _last_modified(s3, raw_bucket, raw_prefix) if found else {}
    newest: dict[str, Finding] = {}
    for finding in found:
        current = newest.get(finding.key)
        if current is None or _created(finding) > _created(current):
            newest[finding.key] = finding
    for finding in found:
        when = modified.get(finding.key)
        if newest[finding.key] is not finding or (when is not None and when > _created(finding)):
            loaded.superseded += 1
        else:
            loaded.findings.append(finding)
    return loaded


def _created(finding: Finding) -> datetime:
    """When Macie created the finding; unreadable means unordered: treat it as newest (keep it)."""
    try:
        value = datetime.fromisoformat(finding.created_at.replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _last_modified(s3: Any, bucket: str, prefix: str) -> dict[str, datetime]:
    """S3's last-modified time of every raw object (ListObjectsV2)."""
    out: dict[str, datetime] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents") or []:
            value = item["LastModified"]
            out[item["Key"]] = value if value.tzinfo else value.replace(tzinfo=UTC)
    return out


def load_discovery_results(s3: Any, location: str, *, raw_bucket: str, raw_prefix: str) -> list[Finding]:
    """The discovery results under ``location`` (``s3://bucket/prefix/``) about the raw objects."""
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return [
        record
        for key, _size in list_objects(s3, bucket, prefix)
        if key.endswith(RESULTS_SUFFIX)
        for record in read_discovery_results(read_object(s3, bucket, key), f"s3://{bucket}/{key}")
        if _about(record, raw_bucket, raw_prefix)
    ]


def _about(finding: Finding, raw_bucket: str, raw_prefix: str) -> bool:
    return finding.bucket == raw_bucket and finding.key.startswith(raw_prefix)
