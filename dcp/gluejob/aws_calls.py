"""The few S3/KMS/Glue client calls the job makes, with boto3 (the job cannot use dcp.aws on Glue).

Clients honour the standard credential chain and ``AWS_ENDPOINT_URL``, which is how the
sandbox's Glue emulator and the tests point the job (driver and Spark executors) at a local
endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10}, user_agent_extra="dcp-gluejob")


def aws_client(service: str, region: str | None = None) -> Any:
    """A boto3 client with adaptive retries; endpoint and credentials from the environment."""
    return boto3.session.Session().client(service, region_name=region, config=_CONFIG)


def list_objects(s3: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    """(key, size) of every object under ``prefix``, in key order."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents") or []:
            yield item["Key"], int(item.get("Size") or 0)


def read_object(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def download(s3: Any, bucket: str, key: str, dest: Path) -> Path:
    s3.download_file(bucket, key, str(dest))
    return dest


def upload(s3: Any, source: Path, bucket: str, key: str) -> None:
    s3.upload_file(str(source), bucket, key)


def delete_objects(s3: Any, bucket: str, keys: Iterable[str]) -> int:
    """Delete ``keys`` in batches of 1000; returns how many were deleted."""
    pending = sorted(set(keys))
    for start in range(0, len(pending), 1000):
        chunk = pending[start : start + 1000]
        response = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True})
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise RuntimeError(
                f"could not delete {len(errors)} object(s) in s3://{bucket}, e.g. {first.get('Key')}: "
                f"{first.get('Code')} {first.get('Message')}"
            )
    return len(pending)
