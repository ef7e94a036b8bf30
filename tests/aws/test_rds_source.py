"""The source database's parameter group: its family follows the engine version RDS will run."""

from __future__ import annotations

import pytest

from dcp.stack.build import build_stack
from tests.aws.aws_account import Env, settings_with


@pytest.mark.parametrize(
    ("source", "family"),
    [
        # No version: RDS's default (the sandbox's default PostgreSQL is 17), not a fixed postgres16.
        ("source: {engine: postgres}", "postgres17"),
        ("source: {engine: postgres, version: '16.4'}", "postgres16"),
        ("source: {engine: mysql, version: '8.4.3'}", "mysql8.4"),
    ],
)
def test_parameter_group_family_comes_from_describe_db_engine_versions(aws_env: Env, source: str, family: str) -> None:
    settings = settings_with(source)
    group = build_stack(settings, aws_env.ctx).resource("db-parameter-group")
    assert group.desired()["family"] == family
    group.create(aws_env.ctx)
    found = aws_env.ctx.client("rds").describe_db_parameter_groups(DBParameterGroupName=group.physical)
    assert found["DBParameterGroups"][0]["DBParameterGroupFamily"] == family


def test_mysql_parameter_group_logs_rows_for_cdc(aws_env: Env) -> None:
    group = build_stack(settings_with("source: {engine: mysql}"), aws_env.ctx).resource("db-parameter-group")
    assert group.desired()["parameters"]["binlog_format"] == "ROW"
    group.create(aws_env.ctx)
    params = {
        p["ParameterName"]: p.get("ParameterValue")
        for p in aws_env.ctx.client("rds").describe_db_parameters(DBParameterGroupName=group.physical, Source="user")[
            "Parameters"
        ]
    }
    assert params["binlog_format"] == "ROW"


def test_a_failed_instance_says_where_the_reason_is(aws_env: Env) -> None:
    """An instance that ends in status failed (the waiter's terminal state) is reported with the
    instance, the status and where RDS gives the reason (its events), not as a bare WaiterError."""
    from moto.rds.models import rds_backends

    from dcp.errors import Failure
    from dcp.stack.resources import rds

    instance = build_stack(settings_with("source: {engine: mysql}"), aws_env.ctx).resource("db-instance")
    assert isinstance(instance, rds.Instance)
    client = aws_env.ctx.client("rds")
    client.create_db_instance(
        DBInstanceIdentifier=instance.physical,
        DBInstanceClass="db.t3.micro",
        Engine="mysql",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-real-pass-1",
    )
    rds_backends[aws_env.ctx.account_id][aws_env.ctx.region].databases[instance.physical].status = "failed"
    with pytest.raises(Failure) as caught:
        instance.wait(aws_env.ctx)
    message = str(caught.value)
    assert instance.physical in message and "'failed'" in message
    assert f"describe-events --source-type db-instance --source-identifier {instance.physical}" in message
