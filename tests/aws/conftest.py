"""Fixtures: a moto account in-process with an AwsContext whose calls are counted (see aws_account.py).

Tests import helpers from tests.aws.aws_account, never from this file.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dcp.config import Settings, default_settings
from tests.aws.aws_account import REGION, CallLog, Env, make_context, moto_account


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto_account():
        log = CallLog()
        yield Env(make_context(log), log)


@pytest.fixture
def settings() -> Settings:
    return default_settings()
