"""After `down`'s planned deletes: find anything still tagged `dcp:stack=<prefix>` and delete it.

Leftovers come from older configs (a renamed custom identifier, a removed persona) or from
interrupted runs. Discovery is the Resource Groups Tagging API plus per-service listings for
what it does not cover (IAM roles, Macie custom data identifiers); nothing is deleted unless it
carries this stack's tag, so another stack whose prefix starts the same way is never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from dcp.aws.errors import absent_on, is_code, is_not_found
from dcp.aws.session import AwsContext
from dcp.names import STACK_TAG, StackNames
from dcp.stack.executor import describe_error
from dcp.stack.resources import iam as iam_mod
from dcp.stack.resources import kms as kms_mod
from dcp.stack.resources import s3 as s3_mod
from dcp.stack.resources.base import OWNER_TAG, tag_dict


@dataclass(frozen=True)
class Leftover:
    arn: str
    service: str
    kind: str
    name: str

    @property
    def rank(self) -> int:
        """Deletion wave: things that use others go first."""
        order = {
            ("dms", "task"): 0,
            ("events", "rule"): 0,
            ("lambda", "function"): 0,
            ("glue", "trigger"): 0,
            ("firehose", "deliverystream"): 0,
            ("athena", "workgroup"): 0,
            ("macie2", "custom-data-identifier"): 0,
            ("glue", "job"): 1,
            ("glue", "crawler"): 1,
            ("glue", "workflow"): 1,
            ("dms", "endpoint"): 1,
            ("rds", "db"): 1,
            ("dms", "rep"): 1,
            ("ec2", "vpc-endpoint"): 1,
            ("glue", "database"): 2,
            ("rds", "subgrp"): 2,
            ("rds", "pg"): 2,
            ("dms", "subgrp"): 2,
            ("secretsmanager", "secret"): 2,
            ("ec2", "subnet"): 3,
            ("ec2", "security-group"): 3,
            ("s3", "bucket"): 3,
            ("iam", "role"): 3,
            ("ec2", "vpc"): 4,
            ("kms", "key"): 5,
        }
        return order.get((self.service, self.kind), 2)


def parse_arn(arn: str) -> Leftover:
    parts = arn.split(":", 5)
    service, resource = parts[2], parts[5]
    if service == "s3":
        return Leftover(arn, "s3", "bucket", resource)
    for sep in ("/", ":"):
        if sep in resource:
            kind, name = resource.split(sep, 1)
            return Leftover(arn, service, kind, name)
    return Leftover(arn, service, resource, resource)


def find_leftovers(ctx: AwsContext, names: StackNames) -> list[Leftover]:
    found: dict[str, Leftover] = {}
    tagging = ctx.client("resourcegroupstaggingapi")
    for page in tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": STACK_TAG, "Values": [names.prefix]}]
    ):
        for item in page.get("ResourceTagMappingList", []):
            found[item["ResourceARN"]] = parse_arn(item["ResourceARN"])
    iam = ctx.client("iam")
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if role["RoleName"].startswith(f"{names.prefix}-") or role["RoleName"] == iam_mod.DMS_VPC_ROLE:
                tags = tag_dict(
                    absent_on("NoSuchEntity")(
                        partial(lambda r: iam.list_role_tags(RoleName=r)["Tags"], role["RoleName"])
                    )
                )
                if tags.get(STACK_TAG) == names.prefix and (
                    role["RoleName"] != iam_mod.DMS_VPC_ROLE or tags.get(OWNER_TAG) == names.prefix
                ):
                    found[role["Arn"]] = Leftover(role["Arn"], "iam", "role", role["RoleName"])
    macie = ctx.client("macie2")
    listed = (
        absent_on("AccessDeniedException", "ResourceNotFoundException", "404")(
            lambda: macie.list_custom_data_identifiers(maxResults=500).get("items", [])
        )
        or []
    )
    for item in listed:
        if item.get("name", "").startswith(f"{names.prefix}-"):
            d = macie.get_custom_data_identifier(id=item["id"])
            if (d.get("tags") or {}).get(STACK_TAG) == names.prefix and not d.get("deleted"):
                found[item["arn"]] = Leftover(item["arn"], "macie2", "custom-data-identifier", item["id"])
    # KMS keys already scheduled for deletion are as deleted as KMS allows.
    out = []
    for leftover in found.values():
        if leftover.service == "kms":
            meta = absent_on("NotFoundException")(
                partial(lambda arn: ctx.client("kms").describe_key(KeyId=arn)["KeyMetadata"], leftover.arn)
            )
            if meta is None or meta["KeyState"] == "PendingDeletion":
                continue
        out.append(leftover)
    return sorted(out, key=lambda x: (x.rank, x.arn))


def _deleter(ctx: AwsContext, item: Leftover) -> Callable[[], Any] | None:
    c = ctx.client
    name = item.name
    table: dict[tuple[str, str], Callable[[], Any]] = {
        ("s3", "bucket"): lambda: (s3_mod.empty_bucket(ctx, name), c("s3").delete_bucket(Bucket=name)),
        ("kms", "key"): lambda: kms_mod.schedule_key_deletion(ctx, name),
        ("lambda", "function"): lambda: c("lambda").delete_function(FunctionName=name),
        ("glue", "database"): lambda: c("glue").delete_database(Name=name),
        ("glue", "crawler"): lambda: c("glue").delete_crawler(Name=name),
        ("glue", "job"): lambda: c("glue").delete_job(JobName=name),
        ("glue", "workflow"): lambda: c("glue").delete_workflow(Name=name),
        ("glue", "trigger"): lambda: c("glue").delete_trigger(Name=name),
        ("events", "rule"): lambda: _delete_rule(ctx, name),
        ("firehose", "deliverystream"): lambda: c("firehose").delete_delivery_stream(
            DeliveryStreamName=name, AllowForceDelete=True
        ),
        ("secretsmanager", "secret"): lambda: c("secretsmanager").delete_secret(
            SecretId=item.arn, ForceDeleteWithoutRecovery=True
        ),
        ("athena", "workgroup"): lambda: c("athena").delete_work_group(WorkGroup=name, RecursiveDeleteOption=True),
        ("iam", "role"): lambda: iam_mod.delete_role(ctx, name),
        ("macie2", "custom-data-identifier"): lambda: c("macie2").delete_custom_data_identifier(id=name),
        ("ec2", "vpc-endpoint"): lambda: c("ec2").delete_vpc_endpoints(VpcEndpointIds=[name]),
        ("ec2", "subnet"): lambda: c("ec2").delete_subnet(SubnetId=name),
        ("ec2", "security-group"): lambda: c("ec2").delete_security_group(GroupId=name),
        ("ec2", "vpc"): lambda: c("ec2").delete_vpc(VpcId=name),
        ("rds", "db"): lambda: c("rds").delete_db_instance(
            DBInstanceIdentifier=name, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
        ),
        ("rds", "subgrp"): lambda: c("rds").delete_db_subnet_group(DBSubnetGroupName=name),
        ("rds", "pg"): lambda: c("rds").delete_db_parameter_group(DBParameterGroupName=name),
        ("dms", "task"): lambda: c("dms").delete_replication_task(ReplicationTaskArn=item.arn),
        ("dms", "endpoint"): lambda: c("dms").delete_endpoint(EndpointArn=item.arn),
        ("dms", "rep"): lambda: c("dms").delete_replication_instance(ReplicationInstanceArn=item.arn),
        ("dms", "subgrp"): lambda: c("dms").delete_replication_subnet_group(ReplicationSubnetGroupIdentifier=name),
    }
    return table.get((item.service, item.kind))


def exists(ctx: AwsContext, item: Leftover) -> bool:
    """Whether a listed leftover still exists (the tagging API lags behind deletions)."""
    try:
        _probe(ctx, item)
    except Exception as exc:
        if is_not_found(exc):
            return False
        raise
    return True


def _probe(ctx: AwsContext, item: Leftover) -> None:
    """Raise a not-found error if `item` is gone: Glue's deletes succeed on missing resources."""
    glue = ctx.client("glue")
    probes: dict[str, Callable[[], Any]] = {
        "job": lambda: glue.get_job(JobName=item.name),
        "trigger": lambda: glue.get_trigger(Name=item.name),
        "crawler": lambda: glue.get_crawler(Name=item.name),
        "workflow": lambda: glue.get_workflow(Name=item.name),
        "database": lambda: glue.get_database(Name=item.name),
    }
    if item.service == "glue" and item.kind in probes:
        probes[item.kind]()


def _delete_rule(ctx: AwsContext, name: str) -> None:
    events = ctx.client("events")
    targets = events.list_targets_by_rule(Rule=name)["Targets"]
    if targets:
        events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets], Force=True)
    events.delete_rule(Name=name, Force=True)


@dataclass(frozen=True)
class SweepResult:
    item: Leftover
    deleted: bool
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "arn": self.item.arn,
            "kind": f"{self.item.service}.{self.item.kind}",
            "deleted": self.deleted,
            "error": self.error,
        }


def log_groups(names: StackNames) -> list[str]:
    """Log groups the stack's Lambdas and Firehose stream create at run time (untagged, exact names)."""
    return [
        f"/aws/lambda/{names.workflow_lambda}",
        f"/aws/lambda/{names.seed_lambda}",
        f"/aws/kinesisfirehose/{names.firehose_stream}",
    ]


def delete_log_groups(ctx: AwsContext, names: StackNames) -> list[SweepResult]:
    logs = ctx.client("logs")
    out = []
    for group in log_groups(names):
        found = logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
        if not any(g["logGroupName"] == group for g in found):
            continue
        item = Leftover(
            f"arn:{names.partition}:logs:{names.region}:{names.account_id}:log-group:{group}",
            "logs",
            "log-group",
            group,
        )
        try:
            logs.delete_log_group(logGroupName=group)
            out.append(SweepResult(item, True))
        except Exception as exc:
            if not is_code(exc, "ResourceNotFoundException"):
                out.append(SweepResult(item, False, describe_error(exc)))
    return out


def sweep(ctx: AwsContext, names: StackNames) -> list[SweepResult]:
    """Delete every leftover, in waves; a failure is reported, not raised (the rest still goes).

    The tagging API can list a resource for a while after it was deleted; one that turns out
    to be gone already is not reported.
    """
    results = []
    for item in find_leftovers(ctx, names):
        delete = _deleter(ctx, item)
        if delete is None:
            results.append(SweepResult(item, False, "dcp does not know how to delete this kind"))
            continue
        try:
            _probe(ctx, item)
            delete()
        except Exception as exc:
            if not is_not_found(exc):
                results.append(SweepResult(item, False, describe_error(exc)))
            continue
        results.append(SweepResult(item, True))
    return results + delete_log_groups(ctx, names)
