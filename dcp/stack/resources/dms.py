"""DMS: replication subnet group, instance, source and S3 target endpoints, and the replication task.

moto implements create/describe/delete of all of these but not ModifyEndpoint or
ModifyReplicationTask; those update paths follow the botocore model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dcp.aws.errors import ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.stack.refs import PENDING, Refs
from dcp.stack.resources.base import Resource, retry_while, tag_dict, tag_list, tags_match, wait_until
from dcp.stack.resources.secrets import read_secret_json

GONE = ("ResourceNotFoundFault",)
AVAILABLE_WAIT = {"Delay": 30, "MaxAttempts": 80}
DELETE_SECONDS = 30 * 60.0


def table_mappings(schema: str, tables: Sequence[str], configured: Mapping[str, Any]) -> dict[str, Any]:
    """Config's mappings, or one selection rule per table of `schema` (exactly those tables)."""
    if configured:
        return dict(configured)
    return {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": str(i),
                "rule-name": f"include-{table}",
                "object-locator": {"schema-name": schema, "table-name": table},
                "rule-action": "include",
            }
            for i, table in enumerate(tables, start=1)
        ]
    }


def _describe(ctx: AwsContext, op: str, key: str, filter_name: str, value: str) -> dict[str, Any] | None:
    try:
        found = getattr(ctx.client("dms"), op)(Filters=[{"Name": filter_name, "Values": [value]}])[key]
    except Exception as exc:
        if is_code(exc, *GONE):
            return None
        raise
    return dict(found[0]) if found else None


def _tags(ctx: AwsContext, arn: str) -> dict[str, str]:
    return tag_dict(ctx.client("dms").list_tags_for_resource(ResourceArn=arn)["TagList"])


def _iam_not_ready(exc: Exception) -> bool:
    # DMS needs dms-vpc-role (and the S3 role) to be assumable; fresh roles take a moment.
    return is_code(exc, "AccessDeniedFault", "AccessDeniedException", "InvalidResourceStateFault") and (
        "role" in str(exc).lower()
    )


def _create_when_roles_ready(create: Callable[[], Any]) -> None:
    """Create, retrying while DMS cannot assume its fresh roles yet; one that exists already is fine."""
    ignore_codes(lambda: retry_while(create, _iam_not_ready), "ResourceAlreadyExistsFault")


class _Described(Resource):
    """A DMS resource found by `describe`; deleting it waits until `describe` no longer finds it."""

    noun = ""  # how messages name it: "DMS task"
    delete_delay = 5.0  # seconds between checks while it is deleted
    delete_tolerates: tuple[str, ...] = ()  # errors of the delete call meaning "already going"

    def describe(self, ctx: AwsContext) -> dict[str, Any] | None:
        raise NotImplementedError

    def delete_found(self, ctx: AwsContext, found: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def before_delete(self, ctx: AwsContext, found: Mapping[str, Any]) -> None:
        """What must happen before the delete call (nothing by default)."""

    def delete(self, ctx: AwsContext) -> None:
        found = self.describe(ctx)
        if found is None:
            return
        self.before_delete(ctx, found)
        ignore_codes(lambda: self.delete_found(ctx, found), *GONE, *self.delete_tolerates)
        wait_until(
            lambda: self.describe(ctx) is None,
            what=f"{self.noun} {self.physical} to be deleted",
            deadline_seconds=DELETE_SECONDS,
            delay=self.delete_delay,
        )


class SubnetGroup(Resource):
    kind = "dms.subnet-group"

    def __init__(self, refs: Refs, subnets: Sequence[str], depends_on: Sequence[Resource]) -> None:
        super().__init__("dms-subnet-group", refs.names.replication_subnet_group, refs, depends_on)
        self.subnets = tuple(subnets)

    def subnet_ids(self) -> list[str]:
        return self.refs.subnet_ids(self.subnets)

    def desired(self) -> dict[str, Any]:
        return {"exists": True}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        g = _describe(
            ctx,
            "describe_replication_subnet_groups",
            "ReplicationSubnetGroups",
            "replication-subnet-group-id",
            self.physical,
        )
        if g is None:
            return None
        return {"exists": True, "_state": g.get("SubnetGroupStatus", "")}

    def create(self, ctx: AwsContext) -> None:
        _create_when_roles_ready(
            lambda: ctx.client("dms").create_replication_subnet_group(
                ReplicationSubnetGroupIdentifier=self.physical,
                ReplicationSubnetGroupDescription=f"dcp stack {self.names.prefix}",
                SubnetIds=self.subnet_ids(),
                Tags=tag_list(self.tags),
            )
        )

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        ctx.client("dms").modify_replication_subnet_group(
            ReplicationSubnetGroupIdentifier=self.physical, SubnetIds=self.subnet_ids()
        )

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("dms").delete_replication_subnet_group(ReplicationSubnetGroupIdentifier=self.physical),
            *GONE,
        )


class ReplicationInstance(_Described):
    kind = "dms.replication-instance"
    noun = "DMS instance"
    delete_delay = 15.0
    delete_tolerates = ("InvalidResourceStateFault",)

    def __init__(self, refs: Refs, *, security_group: str, depends_on: Sequence[Resource]) -> None:
        super().__init__("dms-instance", refs.names.replication_instance, refs, depends_on)
        self.security_group = security_group

    def desired(self) -> dict[str, Any]:
        return {
            "instance_class": self.names.settings.dms.instance_class,
            "public": False,
            "subnet_group": self.names.replication_subnet_group,
            "tags": self.tags,
        }

    def describe(self, ctx: AwsContext) -> dict[str, Any] | None:
        return _describe(
            ctx, "describe_replication_instances", "ReplicationInstances", "replication-instance-id", self.physical
        )

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        d = self.describe(ctx)
        if d is None or d.get("ReplicationInstanceStatus") == "deleting":
            return None
        return {
            "instance_class": d.get("ReplicationInstanceClass"),
            "public": bool(d.get("PubliclyAccessible")),
            "subnet_group": (d.get("ReplicationSubnetGroup") or {}).get("ReplicationSubnetGroupIdentifier"),
            "tags": tags_match(self.tags, _tags(ctx, d["ReplicationInstanceArn"])),
            "_arn": d["ReplicationInstanceArn"],
            "_state": d.get("ReplicationInstanceStatus", ""),
        }

    def wait(self, ctx: AwsContext) -> None:
        ctx.client("dms").get_waiter("replication_instance_available").wait(
            Filters=[{"Name": "replication-instance-id", "Values": [self.physical]}], WaiterConfig=AVAILABLE_WAIT
        )

    def create(self, ctx: AwsContext) -> None:
        _create_when_roles_ready(
            lambda: ctx.client("dms").create_replication_instance(
                ReplicationInstanceIdentifier=self.physical,
                ReplicationInstanceClass=self.names.settings.dms.instance_class,
                AllocatedStorage=20,
                VpcSecurityGroupIds=[self.refs.security_group_id(self.security_group)],
                ReplicationSubnetGroupIdentifier=self.names.replication_subnet_group,
                MultiAZ=False,
                PubliclyAccessible=False,
                Tags=tag_list(self.tags),
            )
        )
        self.wait(ctx)

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        dms = ctx.client("dms")
        if {"public", "subnet_group"} & set(changed):
            raise RuntimeError(f"{self.physical}: network placement cannot change in place; run `dcp down` first")
        if "instance_class" in changed:
            dms.modify_replication_instance(
                ReplicationInstanceArn=current["_arn"],
                ApplyImmediately=True,
                ReplicationInstanceClass=self.names.settings.dms.instance_class,
            )
            self.wait(ctx)
        if "tags" in changed:
            dms.add_tags_to_resource(ResourceArn=current["_arn"], Tags=tag_list(self.tags))

    def delete_found(self, ctx: AwsContext, found: Mapping[str, Any]) -> None:
        ctx.client("dms").delete_replication_instance(ReplicationInstanceArn=found["ReplicationInstanceArn"])


class Endpoint(_Described):
    """The source (the RDS database, credentials from the secret) or the S3 target (the raw bucket)."""

    kind = "dms.endpoint"
    noun = "DMS endpoint"

    def __init__(self, role: str, refs: Refs, depends_on: Sequence[Resource]) -> None:
        name = refs.names.source_endpoint if role == "source" else refs.names.target_endpoint
        super().__init__(f"dms-{role}-endpoint", name, refs, depends_on)
        self.role = role

    def s3_settings(self) -> dict[str, Any]:
        return {
            "BucketName": self.names.raw_bucket,
            "ServiceAccessRoleArn": self.names.role_arn("dms-s3"),
            # Parquet, typed from the source columns as DMS maps them ("Data types for AWS
            # Database Migration Service"): the raw zone reads back every value exactly (CSV
            # left types to the crawler's guess: 060414234710 became bigint 60414234710).
            # https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Target.S3.html
            "DataFormat": "parquet",
            "ParquetVersion": "parquet-2-0",
            "EnableStatistics": True,
            # Full-load files get the Op column CDC files have (supported for .csv and .parquet),
            # so every file of a table has the same columns and the crawler's one schema reads them.
            "IncludeOpForFullLoad": True,
            # CDC files are written at most this many seconds after DMS reads a change (DMS's
            # default is 60); `dcp scan` waits for them before starting Macie (pipeline/replicate.py),
            # so it is latency in every round: 3 s hides behind replicate()'s 3 s statistics settle.
            "CdcMaxBatchInterval": 3,
            "CompressionType": "NONE",
            "EncryptionMode": "SSE_KMS",
            "ServerSideEncryptionKmsKeyId": self.refs.key_arn(self.names.bucket_key_alias) or PENDING,
        }

    def desired(self) -> dict[str, Any]:
        if self.role == "target":
            return {"type": "TARGET", "engine": "s3", "s3": self.s3_settings(), "tags": self.tags}
        src = self.names.settings.source
        return {
            "type": "SOURCE",
            "engine": src.engine,
            "database": src.db_name,
            "username": src.username,
            "tags": self.tags,
        }

    def describe(self, ctx: AwsContext) -> dict[str, Any] | None:
        return _describe(ctx, "describe_endpoints", "Endpoints", "endpoint-id", self.physical)

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        d = self.describe(ctx)
        if d is None or d.get("Status") == "deleting":
            return None
        out: dict[str, Any] = {
            "type": str(d.get("EndpointType", "")).upper(),
            "engine": d.get("EngineName"),
            "tags": tags_match(self.tags, _tags(ctx, d["EndpointArn"])),
            "_arn": d["EndpointArn"],
            "_state": d.get("Status", ""),
        }
        if self.role == "target":
            s3 = d.get("S3Settings") or {}
            out["s3"] = {k: s3.get(k) for k in self.s3_settings()}
        else:
            out["database"] = d.get("DatabaseName")
            out["username"] = d.get("Username")
        return out

    def spec(self, ctx: AwsContext) -> dict[str, Any]:
        if self.role == "target":
            return {"EndpointType": "target", "EngineName": "s3", "S3Settings": self.s3_settings()}
        src = self.names.settings.source
        secret = read_secret_json(ctx, self.names.db_secret)
        return {
            "EndpointType": "source",
            "EngineName": src.engine,
            "ServerName": secret["host"],
            "Port": int(secret["port"]),
            "DatabaseName": src.db_name,
            "Username": secret["username"],
            "Password": secret["password"],
            "SslMode": "require",
        }

    def create(self, ctx: AwsContext) -> None:
        _create_when_roles_ready(
            lambda: ctx.client("dms").create_endpoint(
                EndpointIdentifier=self.physical, Tags=tag_list(self.tags), **self.spec(ctx)
            )
        )

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        dms = ctx.client("dms")
        if set(changed) - {"tags"}:
            dms.modify_endpoint(EndpointArn=current["_arn"], **self.spec(ctx))
        if "tags" in changed:
            dms.add_tags_to_resource(ResourceArn=current["_arn"], Tags=tag_list(self.tags))

    def delete_found(self, ctx: AwsContext, found: Mapping[str, Any]) -> None:
        ctx.client("dms").delete_endpoint(EndpointArn=found["EndpointArn"])


class ReplicationTask(_Described):
    kind = "dms.replication-task"
    noun = "DMS task"
    delete_delay = 10.0

    def __init__(self, refs: Refs, depends_on: Sequence[Resource]) -> None:
        super().__init__("dms-task", refs.names.replication_task, refs, depends_on)

    def mappings(self) -> dict[str, Any]:
        s = self.names.settings
        return table_mappings(s.source.db_name, s.source.tables, s.dms.table_mappings)

    def desired(self) -> dict[str, Any]:
        return {
            "migration_type": self.names.settings.dms.migration_type,
            "table_mappings": self.mappings(),
            "tags": self.tags,
        }

    def describe(self, ctx: AwsContext) -> dict[str, Any] | None:
        return _describe(ctx, "describe_replication_tasks", "ReplicationTasks", "replication-task-id", self.physical)

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        d = self.describe(ctx)
        if d is None or d.get("Status") == "deleting":
            return None
        return {
            "migration_type": d.get("MigrationType"),
            "table_mappings": json.loads(d.get("TableMappings") or "{}"),
            "tags": tags_match(self.tags, _tags(ctx, d["ReplicationTaskArn"])),
            "_arn": d["ReplicationTaskArn"],
            "_state": d.get("Status", ""),
        }

    def _arn(self, ctx: AwsContext, op: str, key: str, name: str, value: str) -> str:
        found = _describe(ctx, op, key, name, value)
        if found is None:
            raise RuntimeError(f"{value} does not exist")
        return str(found[f"{key[:-1]}Arn"])

    def create(self, ctx: AwsContext) -> None:
        n = self.names
        try:
            ctx.client("dms").create_replication_task(
                ReplicationTaskIdentifier=self.physical,
                SourceEndpointArn=self._arn(ctx, "describe_endpoints", "Endpoints", "endpoint-id", n.source_endpoint),
                TargetEndpointArn=self._arn(ctx, "describe_endpoints", "Endpoints", "endpoint-id", n.target_endpoint),
                ReplicationInstanceArn=self._arn(
                    ctx,
                    "describe_replication_instances",
                    "ReplicationInstances",
                    "replication-instance-id",
                    n.replication_instance,
                ),
                MigrationType=n.settings.dms.migration_type,
                TableMappings=json.dumps(self.mappings()),
                Tags=tag_list(self.tags),
            )
        except Exception as exc:
            if not is_code(exc, "ResourceAlreadyExistsFault"):
                raise
        # The task becomes "ready" asynchronously; `dcp replicate` waits for that before starting it.

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        dms = ctx.client("dms")
        if {"migration_type", "table_mappings"} & set(changed):
            self._stop(ctx, current)
            dms.modify_replication_task(
                ReplicationTaskArn=current["_arn"],
                MigrationType=self.names.settings.dms.migration_type,
                TableMappings=json.dumps(self.mappings()),
            )
        if "tags" in changed:
            dms.add_tags_to_resource(ResourceArn=current["_arn"], Tags=tag_list(self.tags))

    def _stop(self, ctx: AwsContext, current: Mapping[str, Any]) -> None:
        if current.get("_state") in ("running", "starting"):
            ignore_codes(
                lambda: ctx.client("dms").stop_replication_task(ReplicationTaskArn=current["_arn"]),
                "InvalidResourceStateFault",
            )
            wait_until(
                lambda: (self.describe(ctx) or {}).get("Status") not in ("running", "starting", "stopping"),
                what=f"DMS task {self.physical} to stop",
                deadline_seconds=DELETE_SECONDS,
                delay=10,
            )

    def before_delete(self, ctx: AwsContext, found: Mapping[str, Any]) -> None:
        self._stop(ctx, {"_arn": found["ReplicationTaskArn"], "_state": found.get("Status")})

    def delete_found(self, ctx: AwsContext, found: Mapping[str, Any]) -> None:
        ctx.client("dms").delete_replication_task(ReplicationTaskArn=found["ReplicationTaskArn"])
