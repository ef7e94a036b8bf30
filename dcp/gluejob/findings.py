"""Read the Macie findings Firehose delivered under the findings prefix.

Every object under the prefix is parsed with the one finding parser,
``dcp.masking.findings.Finding.from_json`` (gzip-compressed deliveries are unpacked first).
Only findings about objects under the raw bucket's DMS prefix shape the plan.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field, replace
from typing import Any

from dcp.gluejob.s3io import list_objects, read_object
from dcp.masking.findings import Finding


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
        body = read_object(s3, bucket, key)
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        loaded.objects += 1
        parse = Finding.from_json(body)
        loaded.errors.extend(f"s3://{bucket}/{key}: {error}" for error in parse.errors)
        loaded.ignored += parse.ignored
        for finding in parse.findings:
            table = finding.key[len(raw_prefix) :].split("/", 1)[0]
            if finding.bucket == raw_bucket and finding.key.startswith(raw_prefix) and table:
                # the table is the folder right under the prefix, even for dated CDC sub-folders
                loaded.findings.append(finding if finding.table == table else replace(finding, table=table))
            else:
                loaded.ignored += 1
    return loaded
