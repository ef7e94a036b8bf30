"""Fixtures of the mask-PII job tests: moto's server (one per session) and a fresh lake per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.gluejob.gluejob_lake import CREDENTIALS, Lake, moto_server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def lake(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Lake:
    """A lake on the server; the job's own boto3 clients find it through the environment."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return Lake.create(moto_endpoint)
