"""A real sandbox server on a free loopback port, for tests that talk to it over HTTP.

Import it from a conftest (`from tests.sandbox_fixture import sandbox_server  # noqa: F401`) to get
the session-scoped `sandbox_server` fixture.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from dcp.pipeline.waiting import Deadline, poll
from dcp.sandbox import control

REGION = "us-east-1"
#: A broad role policy for tests about data movement rather than about the gates.
SERVICE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:*", "glue:*", "kms:*", "firehose:*", "athena:*", "lakeformation:GetDataAccess", "logs:*"],
            "Resource": "*",
        }
    ],
}
ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class SandboxServer:
    """A running sandbox: its URL, pid and state folder, and boto3 clients pointed at it."""

    url: str
    pid: int
    state_dir: Path

    def client(self, service: str, credentials: dict[str, Any] | None = None) -> Any:
        """A plain boto3 client; `credentials` is an STS `Credentials` dict (else the admin)."""
        keys: dict[str, Any] = dict(ADMIN)
        if credentials is not None:
            keys = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials.get("SessionToken"),
            }
        return boto3.client(service, region_name=REGION, endpoint_url=self.url, **keys)  # type: ignore[call-overload]

    def assume(self, role_arn: str, session: str = "test") -> dict[str, Any]:
        creds: dict[str, Any] = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
        return creds

    def create_role(self, name: str, service: str | None = None, policy: dict[str, Any] | None = None) -> str:
        """A role trusting the account (or `service`), with `policy` as its inline policy if given.

        An existing role of that name is kept (its policy replaced).
        """
        principal = {"Service": service} if service else {"AWS": "arn:aws:iam::123456789012:root"}
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
        iam = self.client("iam")
        try:
            arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        if policy is not None:
            self.client("iam").put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
        return arn


def source_url(state_dir: Path, secret: dict[str, Any]) -> str:
    """What the seed Lambda connects to for an RDS-style secret: its endpoint name resolved through
    the sandbox's name table (`<state_dir>/rds/endpoints.json`), as $DCP_SANDBOX_RDS_ENDPOINTS does."""
    from dcp.lambdas.dburl import resolve_host, sqlalchemy_url

    table = json.loads((state_dir / "rds" / "endpoints.json").read_text(encoding="utf-8"))
    return sqlalchemy_url(resolve_host(secret, table))


def wait_for(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy (returned), failing after `timeout` seconds."""
    return poll(check, bool, Deadline(what, timeout), interval=0.1, max_interval=0.5)


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    state_dir = tmp_path_factory.mktemp("sandbox") / ".dcp"
    started = control.start(state_dir)
    assert started.url and started.pid
    try:
        yield SandboxServer(url=started.url, pid=started.pid, state_dir=state_dir)
    finally:
        with contextlib.suppress(control.SandboxError):
            control.stop(state_dir)
