"""The same deploy against the in-process sandbox (moto + dcp's emulators), the backend `--local` uses.

Here every emulator is loaded (RDS, DMS, Glue, Athena, Lake Formation, KMS policies...), where the
moto-based tests route only Macie to the sandbox's emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dcp.aws.session import AwsContext
from dcp.config import Settings
from dcp.stack import deploy
from tests.aws.aws_account import REGION, CallLog
from tests.aws.moto_fixes import few_managed_policies
from tests.aws.stack_checks import custom_identifiers, remaining

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from dcp.sandbox.inprocess import sandbox_in_process

    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with sandbox_in_process(tmp_path / "sandbox"), few_managed_policies():
        yield


def counted_context(log: CallLog) -> AwsContext:
    ctx = AwsContext.create(region=REGION)
    ctx.session.events.register("before-call", log.before_call)
    return ctx


def test_up_noop_up_and_down_against_the_sandbox(sandbox: None, settings: Settings) -> None:
    log = CallLog()
    assert deploy.up(settings, counted_context(log)).result.ok
    ctx = counted_context(log)
    assert custom_identifiers(ctx) == {"dcp-account_number": "XYZ-\\d+"}
    log.reset()
    again = deploy.up(settings, counted_context(log))
    assert again.result.ok and again.plan.changes == []
    assert log.mutating == []
    down = deploy.down(settings, counted_context(log))
    assert down.ok, (down.result.failed, down.swept)
    assert remaining(ctx, "dcp") == []
    assert custom_identifiers(ctx) == {}
