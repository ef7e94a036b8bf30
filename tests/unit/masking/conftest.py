"""Fixtures for the masking engine: real KMS behaviour from moto, counted per operation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws


class CountingKms:
    """A boto3 KMS client (moto in-process) that counts the calls made through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: Counter[str] = Counter()

    def generate_data_key(self, **kwargs: Any) -> Any:
        self.calls["GenerateDataKey"] += 1
        return self.client.generate_data_key(**kwargs)

    def decrypt(self, **kwargs: Any) -> Any:
        self.calls["Decrypt"] += 1
        return self.client.decrypt(**kwargs)

    def encrypt(self, **kwargs: Any) -> Any:
        self.calls["Encrypt"] += 1
        return self.client.encrypt(**kwargs)


class DeniedDecryptKms(CountingKms):
    """What a principal without kms:Decrypt sees: KMS answers AccessDeniedException."""

    def decrypt(self, **kwargs: Any) -> Any:
        self.calls["Decrypt"] += 1
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not authorized to perform kms:Decrypt"}},
            "Decrypt",
        )


@pytest.fixture
def kms_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("kms", region_name="us-east-1")


@pytest.fixture
def kms_key(kms_client: Any) -> str:
    return str(kms_client.create_key(Description="dcp test key")["KeyMetadata"]["Arn"])


@pytest.fixture
def kms(kms_client: Any) -> CountingKms:
    return CountingKms(kms_client)


@pytest.fixture
def denied_kms(kms_client: Any) -> DeniedDecryptKms:
    return DeniedDecryptKms(kms_client)
