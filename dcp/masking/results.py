"""Macie's detailed sensitive data discovery results: every occurrence, one record per object.

A finding lists at most 15 occurrences per type (:data:`~dcp.masking.findings.MAX_OCCURRENCES`);
when its counts say there are more, their columns are read from the discovery results Macie
stores in the bucket of its classification export configuration. Format (Macie user guide,
"Storing and retaining sensitive data discovery results",
https://docs.aws.amazon.com/macie/latest/user/discovery-results-repository-s3.html): gzip-compressed
JSON Lines files under ``s3://<bucket>/<prefix>/AWSLogs/<account>/Macie/<region>/<job-id>/``,
one record per analysed S3 object, holding the finding's structure (``resourcesAffected.s3Object``,
``classificationDetails.result.sensitiveData`` and ``customDataIdentifiers``) with up to 1,000
occurrences per type (https://docs.aws.amazon.com/macie/latest/user/findings-locate-sd-schema.html).

Pure parsing: the job reads the objects from S3 and hands their bytes here.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from dcp.masking.findings import Finding, UnreadableFindings, _finding_from_json, _reason, _Skip

RESULTS_SUFFIX = ".jsonl.gz"


def read_discovery_results(data: bytes, source: str) -> list[Finding]:
    """The records of one results file as findings (same model, same tables); fail closed on bad input."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            raise UnreadableFindings(f"{source}: not a readable gzip file of discovery results") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableFindings(f"{source}: discovery results are not UTF-8 JSON Lines") from None
    records: list[Finding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UnreadableFindings(f"{source}: line {number} is not JSON ({exc.msg})") from None
        if isinstance(record, dict) and "type" not in record:
            # a discovery result carries no finding type; every record is about an S3 object
            record = {**record, "type": "SensitiveData:S3Object/Multiple"}
        try:
            records.append(_finding_from_json(record))
        except _Skip:
            continue
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UnreadableFindings(f"{source}: line {number} is not a discovery result: {_reason(exc)}") from None
    return records
