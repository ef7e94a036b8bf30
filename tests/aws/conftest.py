"""Fixtures: moto in-process (mock_aws), an AwsContext whose calls can be counted or failed."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).parent))

from macie_fake import FakeCustomIdentifiers
from moto_fixes import conditional_bucket_policies, few_managed_policies

from dcp.aws.session import AwsContext
from dcp.config import Settings, default_settings, parse_settings

REGION = "us-east-1"
READ_PREFIXES = ("Describe", "Get", "List", "Head", "BatchGet", "Search", "Lookup")


def is_mutating(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES)


@dataclass
class CallLog:
    """Every AWS operation made through the context, and an optional injected failure."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_at: int | None = None  # fail the n-th mutating call (1-based)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def mutating(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if is_mutating(c[1])]

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()

    def before_call(self, model: Any, **kwargs: Any) -> None:
        service = model.service_model.service_name
        with self.lock:
            self.calls.append((service, model.name))
            if self.fail_at is not None and is_mutating(model.name) and len(self.mutating) == self.fail_at:
                self.fail_at = None
                raise ClientError(
                    {"Error": {"Code": "InjectedFault", "Message": f"injected failure of {model.name}"}},
                    model.name,
                )


@dataclass
class Env:
    ctx: AwsContext
    log: CallLog
    macie: FakeCustomIdentifiers  # the one stub (Macie custom data identifiers; see macie_fake)

    def new_context(self) -> AwsContext:
        """A fresh context (new clients) on the same moto state, counted by the same log."""
        return make_context(self.log, self.macie)


def make_context(log: CallLog, macie: FakeCustomIdentifiers) -> AwsContext:
    ctx = AwsContext.create(region=REGION)
    ctx.session.events.register("before-call", log.before_call)
    macie.register(ctx.session.events)
    return ctx


@contextmanager
def moto_account() -> Iterator[None]:
    """moto in-process, with the corrections in moto_fixes."""
    with mock_aws(), conditional_bucket_policies(), few_managed_policies():
        yield


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
        macie = FakeCustomIdentifiers()
        yield Env(make_context(log, macie), log, macie)


@pytest.fixture
def settings() -> Settings:
    return default_settings()


def settings_with(yaml_text: str) -> Settings:
    return parse_settings(yaml_text, "test-config.yaml")
