"""The sandbox's RDS instances report RDS's endpoint (a hostname, the engine's port, a current
version); the seed Lambda and DMS resolve that name through the sandbox's own name table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dcp.lambdas import package
from dcp.lambdas.dburl import resolve_host
from tests.sandbox.test_dataplane_dms import Replication, mapping, unique
from tests.sandbox_fixture import REGION, SandboxServer

AWS = str(Path(sys.executable).with_name("aws"))
HOSTNAME = re.compile(rf"^(?P<id>[a-z0-9-]+)\.(?P<token>[a-z0-9]{{12}})\.{REGION}\.rds\.amazonaws\.com$")


def create_instance(sb: SandboxServer, engine: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    instance = unique("src").replace("_", "-")
    sb.client("rds").create_db_instance(
        DBInstanceIdentifier=instance,
        DBInstanceClass="db.t3.micro",
        Engine=engine,
        AllocatedStorage=20,
        MasterUsername="dcpadmin",
        MasterUserPassword="not-a-real-pass-1",
        DBName="dataset",
        **extra,
    )
    described = sb.client("rds").describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]
    return instance, described


def aws_cli(sb: SandboxServer, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": sb.url,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_PAGER": "",
    }
    # AWS CLI v1 sends `aws rds` in us-east-1 to rds.amazonaws.com unless --endpoint-url is given
    # (awscli/customizations/overridesslcommonname.py): AWS_ENDPOINT_URL alone is not enough.
    command = [AWS, *args, "--endpoint-url", sb.url, "--output", "json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_describe_db_instances_reports_rds_endpoint_port_and_default_version(sandbox_server: SandboxServer) -> None:
    sb = sandbox_server
    rds = sb.client("rds")
    tokens = set()
    for engine, port in (("mysql", 3306), ("postgres", 5432)):
        instance, described = create_instance(sb, engine)
        try:
            endpoint = described["Endpoint"]
            match = HOSTNAME.match(endpoint["Address"])
            assert match and match["id"] == instance, endpoint
            tokens.add(match["token"])
            assert endpoint["Port"] == port
            default = rds.describe_db_engine_versions(Engine=engine, DefaultOnly=True)["DBEngineVersions"]
            assert described["EngineVersion"] == default[0]["EngineVersion"] != "5.6.21"
            assert re.fullmatch(r"(8\.[04]|1[5-7])\.\d+", described["EngineVersion"])
            # the AWS CLI sees the same
            cli = aws_cli(sb, "rds", "describe-db-instances", "--db-instance-identifier", instance)["DBInstances"][0]
            assert cli["Endpoint"]["Address"] == endpoint["Address"] and cli["Endpoint"]["Port"] == port
            assert cli["EngineVersion"] == described["EngineVersion"]
        finally:
            rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
    assert len(tokens) == 1  # one token per account and region, as on AWS
    # a named Port and EngineVersion are kept
    instance, described = create_instance(sb, "mysql", Port=3307, EngineVersion="8.0.40")
    rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
    assert described["Endpoint"]["Port"] == 3307 and described["EngineVersion"] == "8.0.40"


def _seed_function(sb: SandboxServer, secret: dict[str, Any]) -> str:
    """The seed Lambda, as `dcp up` deploys it, reading `secret`."""
    secret_arn = sb.client("secretsmanager").create_secret(Name=unique("db"), SecretString=json.dumps(secret))["ARN"]
    role = sb.create_role(
        "seed-endpoint-test",
        service="lambda.amazonaws.com",
        policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
        },
    )
    name = unique("seed").replace("_", "-")
    sb.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="seed.handler",
        Code={"ZipFile": package.seed_zip()},
        Environment={"Variables": {"DB_SECRET_ARN": secret_arn}},
        Timeout=60,
    )
    return name


def _invoke(sb: SandboxServer, function: str, event: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    response = sb.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
    return not response.get("FunctionError"), json.loads(response["Payload"].read())


def test_seed_lambda_and_dms_resolve_the_endpoint_name(sandbox_server: SandboxServer) -> None:
    sb = sandbox_server
    instance, described = create_instance(sb, "mysql")
    endpoint = described["Endpoint"]
    secret = {
        "engine": "mysql",
        "host": endpoint["Address"],
        "port": endpoint["Port"],
        "username": "dcpadmin",
        "password": "not-a-real-pass-1",
        "dbname": "dataset",
    }
    function = _seed_function(sb, secret)
    columns = ["id", "name"]
    for event in (
        {"mode": "create", "table": "customer", "columns": columns},
        {"mode": "insert", "table": "customer", "columns": columns, "rows": [[1, "Ann"], [2, "Bob"]]},
    ):
        ok, body = _invoke(sb, function, event)
        assert ok, body
    assert _invoke(sb, function, {"mode": "count", "table": "customer"})[1]["count"] == 2
    # the name table says where the data is: the instance's own SQLite file
    table = json.loads((sb.state_dir / "rds" / "endpoints.json").read_text())
    assert table[endpoint["Address"]]["host"] == str(sb.state_dir.resolve() / "rds" / f"{instance}.sqlite")
    assert resolve_host(secret, table)["host"].endswith(f"/rds/{instance}.sqlite")
    # DMS reads it through the same endpoint name (ServerName/Port, as `dcp up` creates the endpoint)
    source = {
        "EngineName": "mysql",
        "ServerName": endpoint["Address"],
        "Port": endpoint["Port"],
        "Username": "dcpadmin",
        "Password": "not-a-real-pass-1",
        "DatabaseName": "dataset",
    }
    rep = Replication(sb, source, unique("raw").replace("_", "-"), mapping("dataset"), migration_type="full-load")
    rep.run("start-replication")
    assert rep.stats()["customer"]["FullLoadRows"] == 2
    sb.client("rds").delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
    # the deleted instance's name no longer resolves, and says so
    ok, body = _invoke(sb, function, {"mode": "count", "table": "customer"})
    assert not ok and f"the sandbox has no DB instance with the endpoint {endpoint['Address']}" in body["errorMessage"]
    assert endpoint["Address"] not in json.loads((sb.state_dir / "rds" / "endpoints.json").read_text())


def test_dms_source_on_an_unknown_rds_name_fails_clearly(sandbox_server: SandboxServer) -> None:
    sb = sandbox_server
    _, described = create_instance(sb, "mysql")
    token = HOSTNAME.match(described["Endpoint"]["Address"])
    assert token
    unknown = f"no-such-db.{token['token']}.{REGION}.rds.amazonaws.com"
    source = {
        "EngineName": "mysql",
        "ServerName": unknown,
        "Port": 3306,
        "Username": "dcpadmin",
        "Password": "not-a-real-pass-1",
        "DatabaseName": "dataset",
    }
    rep = Replication(sb, source, unique("raw").replace("_", "-"), mapping("dataset"), migration_type="full-load")
    with pytest.raises(AssertionError, match=f"the sandbox has no DB instance with the endpoint {re.escape(unknown)}"):
        rep.run("start-replication")


def test_resolve_host_outside_the_sandbox_keeps_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """On AWS (no name table) the secret is used as it is: the hostname is real DNS."""
    monkeypatch.delenv("DCP_SANDBOX_RDS_ENDPOINTS", raising=False)
    secret = {"engine": "mysql", "host": "db.abcdefghijkl.us-east-1.rds.amazonaws.com", "port": 3306}
    assert resolve_host(secret) == secret
