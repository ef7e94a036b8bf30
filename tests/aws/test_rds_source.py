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
