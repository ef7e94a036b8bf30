"""Real clients (AWS CLI, PyAthena, awswrangler) against a sandbox with a deployed, seeded, scanned, granted stack.

One stack per test module (`lake`), built with `dcp` as a user builds it (tests/e2e's harness).
`Persona` holds what a client needs to act as one of the stack's personas: its assumed-role
credentials, and an environment for subprocesses such as `aws`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import Dcp, sandbox_factory  # noqa: F401

REGION = "us-east-1"
ROWS = 60


@dataclass(frozen=True)
class Persona:
    name: str
    url: str
    credentials: dict[str, str]
    #: the Athena workgroup this persona queries in: its own (the stack makes one per persona)
    workgroup: str = ""

    def session(self) -> boto3.Session:
        return boto3.Session(region_name=REGION, **self.credentials)

    def env(self) -> dict[str, str]:
        """The environment the AWS CLI (or any SDK) reads these credentials and this endpoint from."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            {
                "AWS_ACCESS_KEY_ID": self.credentials["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": self.credentials["aws_secret_access_key"],
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": self.url,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_PAGER": "",
            }
        )
        if self.credentials.get("aws_session_token"):
            env["AWS_SESSION_TOKEN"] = self.credentials["aws_session_token"]
        return env


@pytest.fixture(scope="module")
def lake(sandbox_factory: Any) -> Dcp:  # noqa: F811
    dcp: Dcp = sandbox_factory("clients")
    dcp("up")
    dcp("seed", "--rows", str(ROWS), "--seed", "11")
    dcp("scan", "--wait")
    dcp("grant", "--all")
    return dcp


def persona(lake: Dcp, name: str) -> Persona:
    """`name`'s assumed-role credentials (the admin for "admin")."""
    from dcp.sandbox.control import sandbox_credentials

    admin = sandbox_credentials()
    keys = {"aws_access_key_id": admin["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": admin["AWS_SECRET_ACCESS_KEY"]}
    if name == "admin":  # the account root may use any workgroup: lf-admin's
        return Persona(name, lake.url, keys, lake.names().persona_workgroup("lf-admin"))
    sts = boto3.client("sts", region_name=REGION, endpoint_url=lake.url, **keys)
    creds = sts.assume_role(RoleArn=lake.names().persona_role_arn(name), RoleSessionName=f"clients-{name}")[
        "Credentials"
    ]
    return Persona(
        name,
        lake.url,
        {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        },
        lake.names().persona_workgroup(name),
    )
