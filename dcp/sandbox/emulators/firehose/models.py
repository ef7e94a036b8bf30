"""Firehose delivery to S3, as the service documents it (moto keeps the stream definitions).

* Object key: `<evaluated prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>`. No prefix: the
  default `yyyy/MM/dd/HH/`. A custom prefix's `!{timestamp:<Java pattern>}` and
  `!{firehose:random-string}` expressions are evaluated; a prefix without a timestamp
  expression gets `yyyy/MM/dd/HH/` appended (Firehose's semantic rule), so objects never
  collide.
* Records are concatenated as they are, unless the stream's ProcessingConfiguration has an
  enabled `AppendDelimiterToRecord` processor, which adds a newline after each record.
  `CompressionFormat: GZIP` gzips the object (and adds `.gz`).
* Buffering: each PutRecord/PutRecordBatch call (and each EventBridge PutEvents batch for a
  stream) becomes one S3 object at once; BufferingHints are ignored, so output is immediate.
"""

from __future__ import annotations

import gzip
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dcp.sandbox import moto_compat
from dcp.sandbox.registry import AwsError

_EXPRESSION = re.compile(r"!\{(\w+):([^}]*)\}")
# Java DateTimeFormatter letters used in Firehose prefixes -> strftime.
_JAVA_TO_STRFTIME = [
    ("yyyy", "%Y"),
    ("YYYY", "%Y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("yy", "%y"),
]


@dataclass(frozen=True)
class S3Destination:
    """What delivery needs from a stream's (Extended)S3 destination."""

    bucket: str
    prefix: str
    append_newline: bool
    gzip: bool
    role_arn: str = ""


def _java_time(pattern: str, when: datetime) -> str:
    out = []
    index = 0
    while index < len(pattern):
        if pattern[index] == "'":  # quoted literal, e.g. yyyy'-'MM
            end = pattern.find("'", index + 1)
            end = len(pattern) if end == -1 else end
            out.append(pattern[index + 1 : end])
            index = end + 1
            continue
        for java, fmt in _JAVA_TO_STRFTIME:
            if pattern.startswith(java, index):
                out.append(when.strftime(fmt))
                index += len(java)
                break
        else:
            out.append(pattern[index])
            index += 1
    return "".join(out)


def evaluate_prefix(prefix: str, when: datetime) -> str:
    """The key prefix Firehose writes under at `when` (UTC)."""
    if not prefix:
        return when.strftime("%Y/%m/%d/%H/")
    has_timestamp = False

    def replace(match: re.Match[str]) -> str:
        nonlocal has_timestamp
        namespace, value = match.group(1), match.group(2)
        if namespace == "timestamp":
            has_timestamp = True
            return _java_time(value, when)
        if namespace == "firehose" and value == "random-string":
            return uuid.uuid4().hex[:11]
        return ""  # partitionKeyFrom*: dynamic partitioning is not emulated

    evaluated = _EXPRESSION.sub(replace, prefix)
    if not has_timestamp:
        evaluated += when.strftime("%Y/%m/%d/%H/")
    return evaluated


def _stream(account_id: str, region: str, name: str) -> Any:
    firehose_backends = moto_compat.backends("firehose")
    stream = firehose_backends[account_id][region].delivery_streams.get(name)
    if stream is None:
        raise AwsError("ResourceNotFoundException", f"Firehose {name} under account {account_id} not found.", 400)
    return stream


def s3_destination(stream: Any) -> S3Destination | None:
    for destination in stream.destinations:
        config = destination.get("ExtendedS3") or destination.get("S3")
        if not config:
            continue
        processors = config.get("ProcessingConfiguration") or {}
        enabled = str(processors.get("Enabled", "true")).lower() != "false"
        append = enabled and any(p.get("Type") == "AppendDelimiterToRecord" for p in processors.get("Processors") or [])
        return S3Destination(
            bucket=str(config["BucketARN"]).split(":")[-1],
            prefix=str(config.get("Prefix") or ""),
            append_newline=append,
            gzip=str(config.get("CompressionFormat") or "").upper() == "GZIP",
            role_arn=str(config.get("RoleARN") or ""),
        )
    return None


def deliver_records(account_id: str, region: str, stream_name: str, records: list[bytes]) -> list[str]:
    """Write `records` as one object to the stream's S3 destination; the record ids."""
    s3_backends = moto_compat.backends("s3")
    stream = _stream(account_id, region, stream_name)
    record_ids = [uuid.uuid4().hex for _ in records]
    destination = s3_destination(stream)
    if destination is None or not records:
        return record_ids  # other destinations are accepted and dropped, as moto does
    now = datetime.now(UTC)
    data = b"".join(r + b"\n" if destination.append_newline else r for r in records)
    key = (
        f"{evaluate_prefix(destination.prefix, now)}{stream_name}-{stream.version_id}-"
        f"{now.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid.uuid4()}"
    )
    if destination.gzip:
        data = gzip.compress(data)
        key += ".gz"
    from dcp.sandbox.gates import AccessDenied, role_may, s3_write_checks

    try:
        # Firehose writes as its delivery role; a denial fails the delivery, as on AWS.
        role_may(destination.role_arn, s3_write_checks(account_id, region, destination.bucket, key), "Firehose")
    except AccessDenied as exc:
        raise AwsError(
            "ServiceUnavailableException", f"delivery to s3://{destination.bucket} failed: {exc.message}", 500
        ) from None
    try:
        s3_backends[account_id]["aws"].put_object(destination.bucket, key, data)
    except Exception as exc:
        raise AwsError(
            "ServiceUnavailableException",
            f"delivery to s3://{destination.bucket} failed: {type(exc).__name__}",
            500,
        ) from exc
    return record_ids
