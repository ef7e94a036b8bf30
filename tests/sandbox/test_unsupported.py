"""An operation the sandbox does not serve answers an AWS-shaped 400 at once, never an HTML page or a 500."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.sandbox_fixture import ADMIN, REGION, SandboxServer

pytestmark = pytest.mark.slow

DCP = str(Path(sys.executable).with_name("dcp"))


def _client(server: SandboxServer, service: str) -> object:
    config = Config(retries={"mode": "standard", "max_attempts": 5})
    return boto3.client(service, region_name=REGION, endpoint_url=server.url, config=config, **ADMIN)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("service", "call", "operation"),
    [
        (
            "glue",
            lambda c: c.get_table_optimizer(CatalogId="1", DatabaseName="d", TableName="t", Type="compaction"),
            "GetTableOptimizer",
        ),
        ("athena", lambda c: c.list_engine_versions(), "ListEngineVersions"),
        ("lakeformation", lambda c: c.list_transactions(), "ListTransactions"),
        (
            "macie2",
            lambda c: c.list_resource_profile_detections(resourceArn="arn:aws:s3:::b"),
            "ListResourceProfileDetections",
        ),
    ],
)
def test_unsupported_operations_answer_a_400_botocore_does_not_retry(
    sandbox_server: SandboxServer, service: str, call: object, operation: str
) -> None:
    client = _client(sandbox_server, service)
    started = time.monotonic()
    with pytest.raises(ClientError) as caught:
        call(client)  # type: ignore[operator]
    error = caught.value.response
    assert error["Error"]["Code"] == "UnsupportedOperation"
    assert f"{service}:{operation}" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["RetryAttempts"] == 0
    assert time.monotonic() - started < 5


def test_sandbox_status_lists_the_unsupported_operations(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "DCP_LOCAL", "DCP_CONFIG")}
    done = subprocess.run(
        [DCP, "sandbox", "status", "--unsupported", "--output", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)["unsupported_operations"]
    assert "GetTableOptimizer" in listed["glue"]
    assert "ListEngineVersions" in listed["athena"]
    # what dcp itself calls is served
    assert "GetTables" not in listed["glue"]
    assert "CreateClassificationJob" not in listed["macie2"]
    assert "StartQueryExecution" not in listed["athena"]
