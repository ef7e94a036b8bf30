"""RDS: the private source database (subnet group, parameter group for CDC, encrypted instance)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import WaiterError

from dcp.aws.errors import absent_on, ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.errors import Failure
from dcp.stack.refs import PENDING, Refs
from dcp.stack.resources.base import Resource, tag_dict, tag_list, tags_match
from dcp.stack.resources.secrets import read_secret_json

PORTS = {"mysql": 3306, "postgres": 5432}
WAIT = {"Delay": 30, "MaxAttempts": 80}  # 40 minutes


def _first(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if items else None


def cdc_parameters(engine: str, cdc: bool) -> dict[str, str]:
    """What DMS change data capture needs from the source engine.

    MySQL also needs binary logs kept long enough for DMS to read them: RDS purges them as soon
    as it can unless `binlog retention hours` is set, which is a stored procedure, not a
    parameter (the seed Lambda calls it; see dcp.lambdas.seed.prepare_source).
    https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Source.MySQL.html#CHAP_Source.MySQL.AmazonManaged
    """
    if not cdc:
        return {}
    if engine == "mysql":
        return {"binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_checksum": "NONE"}
    return {"rds.logical_replication": "1"}


class SubnetGroup(Resource):
    kind = "rds.subnet-group"

    def __init__(self, refs: Refs, subnets: Sequence[str], depends_on: Sequence[Resource]) -> None:
        super().__init__("db-subnet-group", refs.names.db_subnet_group, refs, depends_on)
        self.subnets = tuple(subnets)

    def subnet_ids(self) -> list[str]:
        return self.refs.subnet_ids(self.subnets)

    def desired(self) -> dict[str, Any]:
        return {"subnets": self.subnet_ids()}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        g = absent_on("DBSubnetGroupNotFoundFault")(
            lambda: _first(
                ctx.client("rds").describe_db_subnet_groups(DBSubnetGroupName=self.physical)["DBSubnetGroups"]
            )
        )
        if g is None:
            return None
        return {
            "subnets": sorted(s["SubnetIdentifier"] for s in g["Subnets"]),
            "_arn": g.get("DBSubnetGroupArn"),
            "_state": g.get("SubnetGroupStatus", ""),
        }

    def create(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("rds").create_db_subnet_group(
                DBSubnetGroupName=self.physical,
                DBSubnetGroupDescription=f"dcp stack {self.names.prefix}",
                SubnetIds=self.subnet_ids(),
                Tags=tag_list(self.tags),
            ),
            "DBSubnetGroupAlreadyExists",
        )

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        ctx.client("rds").modify_db_subnet_group(DBSubnetGroupName=self.physical, SubnetIds=self.subnet_ids())

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("rds").delete_db_subnet_group(DBSubnetGroupName=self.physical),
            "DBSubnetGroupNotFoundFault",
        )


class ParameterGroup(Resource):
    kind = "rds.parameter-group"

    def __init__(self, refs: Refs) -> None:
        super().__init__("db-parameter-group", refs.names.db_parameter_group, refs)
        self.source = refs.names.settings.source
        self.parameters = cdc_parameters(self.source.engine, refs.names.settings.dms.cdc)

    @property
    def family(self) -> str:
        """From DescribeDBEngineVersions: the instance gets RDS's default version when
        source.version is empty, and its parameter group must be of that version's family."""
        return str(self.refs.parameter_family(self.source.engine, self.source.version))

    def desired(self) -> dict[str, Any]:
        return {"family": self.family, "parameters": self.parameters}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        rds = ctx.client("rds")
        g = absent_on("DBParameterGroupNotFound")(
            lambda: _first(rds.describe_db_parameter_groups(DBParameterGroupName=self.physical)["DBParameterGroups"])
        )
        if g is None:
            return None
        params: dict[str, str] = {}
        for page in rds.get_paginator("describe_db_parameters").paginate(
            DBParameterGroupName=self.physical, Source="user"
        ):
            for p in page["Parameters"]:
                if p.get("ParameterName") in self.parameters and "ParameterValue" in p:
                    params[p["ParameterName"]] = p["ParameterValue"]
        return {"family": g["DBParameterGroupFamily"], "parameters": params, "_arn": g.get("DBParameterGroupArn")}

    def create(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("rds").create_db_parameter_group(
                DBParameterGroupName=self.physical,
                DBParameterGroupFamily=self.family,
                Description=f"dcp stack {self.names.prefix}: change data capture",
                Tags=tag_list(self.tags),
            ),
            "DBParameterGroupAlreadyExists",
        )
        self.update(ctx, {}, ["parameters"])

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        if "family" in changed:
            raise RuntimeError(
                f"parameter group {self.physical} exists for {current.get('family')}, not {self.family} "
                "(source.engine/version changed, or it is not this stack's): delete it or use another project.prefix"
            )
        if self.parameters:
            ctx.client("rds").modify_db_parameter_group(
                DBParameterGroupName=self.physical,
                Parameters=[
                    {"ParameterName": k, "ParameterValue": v, "ApplyMethod": "pending-reboot"}
                    for k, v in sorted(self.parameters.items())
                ],
            )

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("rds").delete_db_parameter_group(DBParameterGroupName=self.physical),
            "DBParameterGroupNotFound",
        )


class Instance(Resource):
    kind = "rds.instance"

    def __init__(self, refs: Refs, *, security_group: str, depends_on: Sequence[Resource]) -> None:
        super().__init__("db-instance", refs.names.db_instance, refs, depends_on)
        self.security_group = security_group

    def desired(self) -> dict[str, Any]:
        src = self.names.settings.source
        return {
            "engine": src.engine,
            "instance_class": src.instance_class,
            "storage_gb": src.allocated_storage_gb,
            "public": False,
            "encrypted": True,
            "parameter_group": self.names.db_parameter_group,
            "security_groups": [self.refs.security_group_id(self.security_group) or PENDING],
            "backup_retention": 1,
            "tags": self.tags,
        }

    def describe(self, ctx: AwsContext) -> dict[str, Any] | None:
        return absent_on("DBInstanceNotFound", "DBInstanceNotFoundFault")(
            lambda: _first(ctx.client("rds").describe_db_instances(DBInstanceIdentifier=self.physical)["DBInstances"])
        )

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        d = self.describe(ctx)
        if d is None or d.get("DBInstanceStatus") == "deleting":
            return None
        groups = d.get("DBParameterGroups") or [{}]
        return {
            "engine": d.get("Engine"),
            "instance_class": d.get("DBInstanceClass"),
            "storage_gb": d.get("AllocatedStorage"),
            "public": bool(d.get("PubliclyAccessible")),
            "encrypted": bool(d.get("StorageEncrypted")),
            "parameter_group": groups[0].get("DBParameterGroupName"),
            "security_groups": [g["VpcSecurityGroupId"] for g in d.get("VpcSecurityGroups", [])],
            "backup_retention": d.get("BackupRetentionPeriod"),
            "tags": tags_match(self.tags, tag_dict(d.get("TagList"))),
            "_arn": d.get("DBInstanceArn"),
            "_state": d.get("DBInstanceStatus", ""),
            "_endpoint": d.get("Endpoint"),
        }

    def endpoint(self, ctx: AwsContext) -> tuple[str, int] | None:
        d = self.describe(ctx)
        ep = (d or {}).get("Endpoint") or {}
        return (str(ep["Address"]), int(ep["Port"])) if ep.get("Address") else None

    def wait(self, ctx: AwsContext) -> None:
        try:
            ctx.client("rds").get_waiter("db_instance_available").wait(
                DBInstanceIdentifier=self.physical, WaiterConfig=WAIT
            )
        except WaiterError as exc:
            instances = (exc.last_response or {}).get("DBInstances") or [{}]
            status = instances[0].get("DBInstanceStatus")
            if not status:
                raise
            # The waiter's terminal states (botocore's rds waiters-2.json): deleted, deleting,
            # failed, incompatible-restore, incompatible-parameters. RDS gives the reason only
            # as an event of the instance.
            raise Failure(
                f"RDS DB instance {self.physical} stopped in status {status!r} instead of becoming available; "
                f"its events say why (aws rds describe-events --source-type db-instance "
                f"--source-identifier {self.physical}; on the sandbox, its log: dcp sandbox logs). "
                "Fix the cause, run `dcp down`, then `dcp up` again."
            ) from None

    def create(self, ctx: AwsContext) -> None:
        src = self.names.settings.source
        secret = read_secret_json(ctx, self.names.db_secret)
        kwargs: dict[str, Any] = {
            "DBInstanceIdentifier": self.physical,
            "Engine": src.engine,
            "DBInstanceClass": src.instance_class,
            "AllocatedStorage": src.allocated_storage_gb,
            "DBName": src.db_name,
            "MasterUsername": secret["username"],
            "MasterUserPassword": secret["password"],
            "DBSubnetGroupName": self.names.db_subnet_group,
            "DBParameterGroupName": self.names.db_parameter_group,
            "VpcSecurityGroupIds": [self.refs.security_group_id(self.security_group)],
            "PubliclyAccessible": False,
            "StorageEncrypted": True,  # with the account's aws/rds key
            "BackupRetentionPeriod": 1,  # binary logging (CDC) needs automated backups
            "MultiAZ": False,
            "CopyTagsToSnapshot": True,
            "Tags": tag_list(self.tags),
            "Port": PORTS[src.engine],
        }
        if src.version:
            kwargs["EngineVersion"] = src.version
        try:
            ctx.client("rds").create_db_instance(**kwargs)
        except Exception as exc:
            if not is_code(exc, "DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"):
                raise
        self.wait(ctx)

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        if {"engine", "encrypted"} & set(changed):
            raise RuntimeError(
                f"{self.physical}: {', '.join(sorted({'engine', 'encrypted'} & set(changed)))} cannot change; "
                "run `dcp down` and `dcp up` (the data is replicated again)"
            )
        want = self.desired()
        kwargs: dict[str, Any] = {"DBInstanceIdentifier": self.physical, "ApplyImmediately": True}
        if "instance_class" in changed:
            kwargs["DBInstanceClass"] = want["instance_class"]
        if "storage_gb" in changed:
            kwargs["AllocatedStorage"] = want["storage_gb"]
        if "public" in changed:
            kwargs["PubliclyAccessible"] = False
        if "parameter_group" in changed:
            kwargs["DBParameterGroupName"] = want["parameter_group"]
        if "security_groups" in changed:
            kwargs["VpcSecurityGroupIds"] = want["security_groups"]
        if "backup_retention" in changed:
            kwargs["BackupRetentionPeriod"] = 1
        rds = ctx.client("rds")
        if len(kwargs) > 2:
            rds.modify_db_instance(**kwargs)
        if "tags" in changed and current.get("_arn"):
            rds.add_tags_to_resource(ResourceName=current["_arn"], Tags=tag_list(self.tags))
        self.wait(ctx)

    def delete(self, ctx: AwsContext) -> None:
        rds = ctx.client("rds")
        d = self.describe(ctx)
        if d is None:
            return
        if d.get("DBInstanceStatus") != "deleting":
            ignore_codes(
                lambda: rds.delete_db_instance(
                    DBInstanceIdentifier=self.physical, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
                ),
                "DBInstanceNotFound",
                "DBInstanceNotFoundFault",
                "InvalidDBInstanceState",
            )
        rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier=self.physical, WaiterConfig=WAIT)
