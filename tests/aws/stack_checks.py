"""What the tests compare: the stack's observable end state, and lists of everything left behind."""

from __future__ import annotations

from typing import Any

from dcp.aws.session import AwsContext
from dcp.config import parse_settings
from dcp.names import StackNames
from dcp.stack.build import Stack
from dcp.stack.planner import diff, read_stack
from dcp.stack.sweeper import exists, find_leftovers


def snapshot(stack: Stack, ctx: AwsContext) -> dict[str, Any]:
    """Per resource: exists and matches its spec (a retired one: is gone); plus how many tagged
    things of each kind exist (an orphan from an interrupted create would show up as an extra one)."""
    current = read_stack(stack.resources, ctx)
    state: dict[str, Any] = {}
    for r in stack.resources:
        now = current[r.logical]
        if r.retired:
            state[r.logical] = [] if now is None else "still exists"
        else:
            state[r.logical] = "absent" if now is None else diff(r.desired(), now or {})
    inventory: dict[str, int] = {}
    for item in find_leftovers(ctx, stack.names):
        key = f"{item.service}.{item.kind}"
        inventory[key] = inventory.get(key, 0) + 1
    return {"resources": state, "inventory": dict(sorted(inventory.items()))}


def remaining(ctx: AwsContext, prefix: str) -> list[str]:
    """Everything in the account that carries the prefix or the stack tag, service by service."""
    out: list[str] = []
    c = ctx.client

    def named(items: list[str], what: str) -> None:
        out.extend(f"{what}:{n}" for n in items if n.startswith(prefix))

    named([b["Name"] for b in c("s3").list_buckets().get("Buckets", [])], "s3")
    named([r["RoleName"] for r in c("iam").list_roles()["Roles"]], "iam")
    named([f["FunctionName"] for f in c("lambda").list_functions()["Functions"]], "lambda")
    named(c("glue").list_crawlers()["CrawlerNames"], "crawler")
    named(c("glue").list_jobs()["JobNames"], "job")
    named(c("glue").list_triggers()["TriggerNames"], "trigger")
    named(c("glue").list_workflows()["Workflows"], "workflow")
    out.extend(f"glue-db:{d['Name']}" for d in c("glue").get_databases()["DatabaseList"])
    named([a["AliasName"].removeprefix("alias/") for a in c("kms").list_aliases()["Aliases"]], "kms-alias")
    for key in c("kms").list_keys()["Keys"]:
        meta = c("kms").describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta["KeyState"] != "PendingDeletion" and meta.get("KeyManager") == "CUSTOMER":
            out.append(f"kms-key:{key['KeyId']}")
    named([s["Name"] for s in c("secretsmanager").list_secrets()["SecretList"]], "secret")
    for vpc in c("ec2").describe_vpcs()["Vpcs"]:
        tags = {t["Key"]: t["Value"] for t in vpc.get("Tags", [])}
        if tags.get("dcp:stack") == prefix:
            out.append(f"vpc:{vpc['VpcId']}")
    for sg in c("ec2").describe_security_groups()["SecurityGroups"]:
        if sg["GroupName"].startswith(prefix):
            out.append(f"sg:{sg['GroupName']}")
    named([d["DBInstanceIdentifier"] for d in c("rds").describe_db_instances()["DBInstances"]], "rds")
    named(
        [g["DBSubnetGroupName"] for g in c("rds").describe_db_subnet_groups()["DBSubnetGroups"]],
        "rds-subnets",
    )
    named(
        [g["DBParameterGroupName"] for g in c("rds").describe_db_parameter_groups()["DBParameterGroups"]],
        "rds-params",
    )
    named([e["EndpointIdentifier"] for e in c("dms").describe_endpoints()["Endpoints"]], "dms-endpoint")
    named(
        [r["ReplicationInstanceIdentifier"] for r in c("dms").describe_replication_instances()["ReplicationInstances"]],
        "dms-instance",
    )
    named(
        [t["ReplicationTaskIdentifier"] for t in c("dms").describe_replication_tasks()["ReplicationTasks"]],
        "dms-task",
    )
    named(
        [
            g["ReplicationSubnetGroupIdentifier"]
            for g in c("dms").describe_replication_subnet_groups()["ReplicationSubnetGroups"]
        ],
        "dms-subnets",
    )
    named(c("firehose").list_delivery_streams()["DeliveryStreamNames"], "firehose")
    named([r["Name"] for r in c("events").list_rules()["Rules"]], "rule")
    named([w["Name"] for w in c("athena").list_work_groups()["WorkGroups"]], "workgroup")
    out.extend(f"lf-tag:{t['TagKey']}" for t in c("lakeformation").list_lf_tags().get("LFTags", []))
    # Anything still tagged with the stack (moto's tagging API lists deleted Glue resources for a
    # while, as AWS's can: `exists` checks).
    names = StackNames.of(parse_settings(f"project: {{prefix: {prefix}}}"), ctx.account_id, ctx.region)
    out.extend(f"tagged:{i.arn}" for i in find_leftovers(ctx, names) if exists(ctx, i))
    return sorted(set(out))


def custom_identifiers(ctx: AwsContext) -> dict[str, str]:
    """Macie custom data identifiers by name -> regex, through the macie2 API."""
    macie = ctx.client("macie2")
    return {
        item["name"]: macie.get_custom_data_identifier(id=item["id"])["regex"]
        for item in macie.list_custom_data_identifiers().get("items", [])
    }
