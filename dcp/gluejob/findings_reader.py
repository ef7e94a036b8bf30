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


def load_findings(s3: Any, bucket: str, prefix: str, *, raw_bucket: str, raw_prefix: str) -> LoadedFindings:
    """Every sensitive-data finding under ``s3://bucket/prefix`` about ``s3://raw_bucket/raw_prefix``."""
    loaded = LoadedFindings()
    for key, _size in list_objects(s3, bucket, prefix):
        loaded.objects += 1
        for finding in read_findings(read_object(s3, bucket, key), f"s3://{bucket}/{key}"):
            if _about(finding, raw_bucket, raw_prefix):
                loaded.findings.append(finding)
            else:
                loaded.ignored += 1
    return loaded


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
