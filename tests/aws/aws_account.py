"""A moto account in-process for the deploy tests and bench/deploy.py, and contexts that count calls.

moto (`mock_aws`) with the corrections in moto_fixes, and macie2 served by the sandbox's real
Macie emulator: moto 5.2.5 lacks Macie custom data identifiers, which the stack creates.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ClientError
from botocore.handlers import BUILTIN_HANDLERS
from moto import mock_aws

import dcp.sandbox.emulators.glue
import dcp.sandbox.emulators.macie
import dcp.sandbox.emulators.rds  # noqa: F401  (DescribeDBEngineVersions)
from dcp.aws.session import AwsContext
from dcp.config import Settings, parse_settings
from dcp.sandbox.dispatcher import Dispatcher
from dcp.sandbox.inprocess import call_wsgi
from dcp.sandbox.registry import SandboxConfig, reset_emulator_state
from tests.aws.moto_fixes import BACKENDS_LOCK, conditional_bucket_policies, few_managed_policies, one_request_at_a_time


class MacieRoute:
    """A botocore `before-send` handler sending macie2 requests to the sandbox's dispatcher.

    While a dispatcher is set, every macie2 request goes through it in-process: the Macie
    emulator serves the operations it registers, moto's server app the rest (EnableMacie...),
    both on moto's process-global backends, so on the same account as mock_aws. Every other
    service stays with mock_aws.
    """

    def __init__(self) -> None:
        self.dispatcher: Dispatcher | None = None

    def __call__(self, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse | None:
        dispatcher = self.dispatcher
        if dispatcher is None:
            return None
        with BACKENDS_LOCK:
            return call_wsgi(dispatcher, request)


#: Ahead of moto's own before-send handler (also a builtin), so it is asked first, in every
#: botocore session created from now on (including the ones AwsContext.assume makes).
macie_route = MacieRoute()
BUILTIN_HANDLERS.insert(0, ("before-send.macie2", macie_route))


def rds_engine_versions_route(request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse | None:
    """moto 5.2.5 lacks DescribeDBEngineVersions; the sandbox's RDS emulator answers it."""
    body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
    if b"Action=DescribeDBEngineVersions" not in body:
        return None
    response = macie_route(request, **kwargs)
    request.dcp_answered = True  # type: ignore[attr-defined]  # botocore still asks moto's stubber
    return response


BUILTIN_HANDLERS.insert(0, ("before-send.rds", rds_engine_versions_route))


def glue_update_job_route(request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse | None:
    """moto 5.2.5 lacks UpdateJob; the sandbox's Glue emulator answers it on moto's job."""
    if request.headers.get("X-Amz-Target") not in ("AWSGlue.UpdateJob", b"AWSGlue.UpdateJob"):
        return None
    response = macie_route(request, **kwargs)
    request.dcp_answered = True  # type: ignore[attr-defined]  # botocore still asks moto's stubber
    return response


BUILTIN_HANDLERS.insert(0, ("before-send.glue", glue_update_job_route))


@contextmanager
def macie_emulator() -> Iterator[None]:
    """macie2 served by the sandbox's Macie emulator for the block; its state forgotten after."""
    with tempfile.TemporaryDirectory(prefix="dcp-aws-tests-") as state_dir:
        config = SandboxConfig(state_dir=Path(state_dir), source_url=None, endpoint_url=None)
        macie_route.dispatcher = Dispatcher(config)
        try:
            yield
        finally:
            macie_route.dispatcher = None
            reset_emulator_state()


@contextmanager
def moto_account() -> Iterator[None]:
    """moto in-process, with the corrections in moto_fixes, and the sandbox's Macie emulator."""
    with mock_aws(), conditional_bucket_policies(), few_managed_policies(), one_request_at_a_time(), macie_emulator():
        yield


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

    def new_context(self) -> AwsContext:
        """A fresh context (new clients) on the same moto state, counted by the same log."""
        return make_context(self.log)


def make_context(log: CallLog) -> AwsContext:
    ctx = AwsContext.create(region=REGION)
    ctx.session.events.register("before-call", log.before_call)
    return ctx


def settings_with(yaml_text: str) -> Settings:
    return parse_settings(yaml_text, "test-config.yaml")
