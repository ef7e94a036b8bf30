"""The stack as data: every resource `up` creates, its physical name and its dependencies."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from dcp.aws import (
    athena,
    dms,
    events,
    firehose,
    glue,
    iam,
    kms,
    lakeformation,
    lambda_,
    macie,
    network,
    policies,
    rds,
    s3,
    secrets,
)
from dcp.aws.refs import PENDING, Refs
from dcp.aws.resource import Resource
from dcp.aws.session import AwsContext
from dcp.config import Persona, Settings
from dcp.gluejob.args import custom_identifiers_to_json, policy_to_json
from dcp.gluejob.package import build_glue_library
from dcp.lambdas import package
from dcp.stack.names import BUCKET_KINDS, StackNames

ROOT = Path(__file__).resolve().parents[2]
GLUE_SCRIPT = ROOT / "glue_jobs" / "mask_pii.py"


class StackError(Exception):
    """The stack cannot be built from this source tree or settings (a usage problem)."""


@dataclass
class Stack:
    names: StackNames
    refs: Refs
    resources: list[Resource]

    def resource(self, logical: str) -> Resource:
        return next(r for r in self.resources if r.logical == logical)


def glue_script() -> bytes:
    try:
        return GLUE_SCRIPT.read_bytes()
    except FileNotFoundError:
        raise StackError(f"the Glue job script {GLUE_SCRIPT} is missing; dcp must run from its source tree") from None


@lru_cache(maxsize=1)
def glue_library() -> bytes:
    """dcp.masking + dcp.gluejob as Glue's --extra-py-files zip (reproducible bytes)."""
    with tempfile.TemporaryDirectory(prefix="dcp-glue-") as tmp:
        return build_glue_library(Path(tmp) / "dcp_masking.zip").read_bytes()


def glue_job_arguments(names: StackNames) -> dict[str, str]:
    """The job's default arguments, as glue_jobs/mask_pii.py (dcp.gluejob.args) reads them."""
    settings = names.settings
    return {
        "--raw_bucket": names.raw_bucket,
        "--raw_prefix": f"{settings.source.db_name}/",
        "--findings_bucket": names.findings_bucket,
        "--findings_prefix": names.FINDINGS_PREFIX,
        # every occurrence, where a finding lists 15 (macie.ClassificationExport writes them)
        "--discovery_results": f"s3://{names.findings_bucket}/{names.DISCOVERY_RESULTS_PREFIX}",
        "--curated_bucket": names.curated_bucket,
        "--data_key_id": names.data_key_alias,
        "--token_secret_id": names.token_secret,
        "--tables": ",".join(settings.source.tables),
        "--masked_database": names.masked_database,
        "--encrypted_database": names.encrypted_database,
        "--policy": policy_to_json(settings.masking.to_policy(names.custom_identifier_types())),
        # the job's fail-closed detector must know the custom types the findings report
        "--custom_identifiers": custom_identifiers_to_json(
            [replace(c, name=names.custom_identifier(c.name)) for c in settings.macie.custom_identifiers]
        ),
    }


def build_stack(settings: Settings, ctx: AwsContext) -> Stack:
    names = StackNames.of(settings, ctx.account_id, ctx.region)
    refs = Refs(ctx, names)
    return Stack(names, refs, stack_resources(names, refs))


def stack_resources(names: StackNames, refs: Refs) -> list[Resource]:
    s = names.settings
    out: list[Resource] = []
    add = out.append

    # ---- KMS bucket key and buckets
    add(
        kms.Key(
            "bucket-key",
            names.bucket_key_alias,
            refs,
            description=f"dcp {names.prefix}: S3 bucket key",
            policy=lambda: policies.bucket_key_policy(names),
        )
    )
    add(s3.Bucket("logs", refs))
    for kind in BUCKET_KINDS:
        if kind != "logs":
            add(s3.Bucket(kind, refs, ["bucket-logs", "bucket-key"]))

    # ---- IAM roles (policies naming the bucket key wait for it: its ARN is in them)
    def bucket_key() -> str:
        return refs.key_arn(names.bucket_key_alias) or PENDING

    def role(
        kind: str,
        service: str,
        policy: Callable[[], policies.Doc] | None = None,
        managed: Sequence[str] = (),
        *,
        source_arn: str | None = None,
        conditional: bool = True,
    ) -> None:
        def trust() -> policies.Doc:
            if conditional:
                return policies.trust(service, names, source_arn=source_arn)
            return policies.service_trust(service)

        add(
            iam.Role(
                f"role-{kind}",
                names.role(kind),
                refs,
                trust=trust,
                policy=policy,
                managed=managed,
                depends_on=["bucket-key"],
            )
        )

    role("glue", "glue.amazonaws.com", lambda: policies.glue_policy(names, bucket_key()))
    role("firehose", "firehose.amazonaws.com", lambda: policies.firehose_policy(names, bucket_key()))
    role(
        "events",
        "events.amazonaws.com",
        lambda: policies.events_policy(names),
        source_arn=refs.arn("events", f"rule/{names.findings_rule}"),
    )
    role("lambda-workflow", "lambda.amazonaws.com", lambda: policies.workflow_lambda_policy(names))
    role(
        "lambda-seed",
        "lambda.amazonaws.com",
        lambda: policies.seed_lambda_policy(names),
        ["service-role/AWSLambdaVPCAccessExecutionRole"],
    )
    role(
        "lf-location",
        "lakeformation.amazonaws.com",
        lambda: policies.lf_location_policy(names, bucket_key()),
        conditional=False,
    )
    # DMS assumes its S3 role without source context, so its trust has no conditions.
    role("dms-s3", "dms.amazonaws.com", lambda: policies.dms_s3_policy(names, bucket_key()), conditional=False)
    add(
        iam.Role(
            "role-dms-vpc",
            iam.DMS_VPC_ROLE,
            refs,
            trust=lambda: policies.service_trust("dms.amazonaws.com"),
            managed=["service-role/AmazonDMSVPCManagementRole"],
            shared=True,
            description="DMS manages its network interfaces (shared by every DMS user of the account)",
        )
    )
    personas = s.lakeformation.personas

    def persona_policy(p: Persona) -> Callable[[], policies.Doc]:
        # Personas that may see the encrypted copy (or decrypt it) may read its objects too.
        ciphertext = p.decrypt or any("encrypted" in g.expression.get("zone", ()) for g in p.grants)
        return lambda: policies.persona_policy(names, bucket_key(), p.name, reads_ciphertext=ciphertext)

    for p in personas.values():
        add(
            iam.Role(
                f"persona-{p.name}",
                names.persona_role(p.name),
                refs,
                trust=lambda: policies.account_trust(names),
                policy=persona_policy(p),
                description=p.description or f"dcp persona {p.name}",
                depends_on=["bucket-key"],
            )
        )

    # ---- the data key: its policy names the roles, so it comes after them; their IAM grants after it
    decrypters = [p.name for p in personas.values() if p.decrypt]
    add(
        kms.Key(
            "data-key",
            names.data_key_alias,
            refs,
            description=f"dcp {names.prefix}: data key of the encrypted copy",
            policy=lambda: policies.data_key_policy(
                names,
                admin=refs.caller_arn(),
                decrypters=[names.persona_role_arn(d) for d in decrypters],
                generators=[names.role_arn("glue")],
            ),
            depends_on=["role-glue", *(f"persona-{d}" for d in decrypters)],
        )
    )

    def data_key() -> str:
        return refs.key_arn(names.data_key_alias) or PENDING

    add(
        iam.RolePolicy(
            "role-glue-data-key",
            names.role("glue"),
            "dcp-data-key",
            refs,
            policy=lambda: policies.data_key_grant(data_key(), ["kms:GenerateDataKey", "kms:DescribeKey"]),
            depends_on=["role-glue", "data-key"],
        )
    )
    for d in decrypters:
        add(
            iam.RolePolicy(
                f"persona-{d}-data-key",
                names.persona_role(d),
                "dcp-data-key",
                refs,
                policy=lambda: policies.data_key_grant(data_key(), ["kms:Decrypt", "kms:DescribeKey"]),
                depends_on=[f"persona-{d}", "data-key"],
            )
        )

    # ---- secrets
    src = s.source
    add(
        secrets.Secret(
            "secret-db",
            names.db_secret,
            refs,
            description="dcp source database credentials",
            initial=lambda c: secrets.db_secret_value(
                c, engine=src.engine, username=src.username, dbname=src.db_name, port=rds.PORTS[src.engine]
            ),
        )
    )
    add(
        secrets.Secret(
            "secret-token",
            names.token_secret,
            refs,
            description="dcp token masking key",
            initial=secrets.token_key_value,
        )
    )

    # ---- network
    add(network.Vpc(refs))
    subnets = [network.Subnet(i, refs) for i in (0, 1)]
    out.extend(subnets)
    subnet_names = [sn.physical for sn in subnets]
    subnet_logicals = [sn.logical for sn in subnets]
    sg = {k: f"{names.prefix}-{k}" for k in ("db", "dms", "seed", "endpoints")}
    port = rds.PORTS[src.engine]
    add(network.SecurityGroup("sg-dms", sg["dms"], refs, description="dcp DMS replication instance"))
    add(network.SecurityGroup("sg-seed", sg["seed"], refs, description="dcp seed Lambda"))
    add(
        network.SecurityGroup(
            "sg-db",
            sg["db"],
            refs,
            description="dcp source database: DMS and seed only",
            ingress=lambda: [(port, sg["dms"]), (port, sg["seed"])],
            depends_on=["vpc", "sg-dms", "sg-seed"],
        )
    )
    add(
        network.SecurityGroup(
            "sg-endpoints",
            sg["endpoints"],
            refs,
            description="dcp VPC interface endpoints",
            ingress=lambda: [(443, sg["seed"])],
            depends_on=["vpc", "sg-seed"],
        )
    )
    add(network.Endpoint("s3", refs, depends_on=["vpc"]))
    add(
        network.Endpoint(
            "secretsmanager",
            refs,
            interface=True,
            subnets=subnet_names,
            security_group=sg["endpoints"],
            depends_on=["vpc", *subnet_logicals, "sg-endpoints"],
        )
    )

    # ---- source database
    add(rds.SubnetGroup(refs, subnet_names, subnet_logicals))
    add(rds.ParameterGroup(refs))
    instance = rds.Instance(
        refs, security_group=sg["db"], depends_on=["db-subnet-group", "db-parameter-group", "sg-db", "secret-db"]
    )
    add(instance)
    add(
        secrets.SecretEndpoint(
            refs, secret=names.db_secret, endpoint=instance.endpoint, depends_on=["db-instance", "secret-db"]
        )
    )

    # ---- DMS
    add(dms.SubnetGroup(refs, subnet_names, [*subnet_logicals, "role-dms-vpc"]))
    add(dms.ReplicationInstance(refs, security_group=sg["dms"], depends_on=["dms-subnet-group", "sg-dms"]))
    add(dms.Endpoint("source", refs, ["db-secret-endpoint"]))
    add(dms.Endpoint("target", refs, ["bucket-raw", "role-dms-s3", "bucket-key"]))
    add(dms.ReplicationTask(refs, ["dms-instance", "dms-source-endpoint", "dms-target-endpoint"]))

    # ---- Macie
    add(macie.Session(refs, ["bucket-findings"]))
    add(macie.ClassificationExport(refs, ["macie-session", "bucket-findings", "bucket-key"]))
    for ci in s.macie.custom_identifiers:
        add(macie.CustomDataIdentifier(ci, refs, ["macie-session"]))

    # ---- findings: EventBridge -> Firehose -> findings bucket
    add(firehose.FindingsStream(refs, ["bucket-findings", "role-firehose", "bucket-key"]))
    add(events.FindingsRule(refs, ["findings-stream", "role-events"]))

    # ---- assets and Lambdas
    assets: list[tuple[str, str, object]] = [
        ("asset-glue-script", names.GLUE_SCRIPT_KEY, glue_script),
        ("asset-glue-library", names.GLUE_LIBRARY_KEY, glue_library),
        ("asset-lambda-workflow", names.LAMBDA_WORKFLOW_KEY, package.workflow_zip),
        ("asset-lambda-seed", names.LAMBDA_SEED_KEY, package.seed_zip),
    ]
    for logical, key, body in assets:
        add(s3.Object(logical, "assets", key, body, refs, ["bucket-assets"]))  # type: ignore[arg-type]
    add(
        lambda_.Function(
            "fn-start-workflow",
            names.workflow_lambda,
            refs,
            handler="start_workflow.handler",
            role="lambda-workflow",
            code_key=names.LAMBDA_WORKFLOW_KEY,
            code_sha256=lambda: package.code_sha256(package.workflow_zip()),
            environment=lambda: {"WORKFLOW_NAME": names.workflow},
            # It may wait for a busy workflow run to finish (start_workflow.py); Lambda's maximum.
            timeout=900,
            depends_on=["asset-lambda-workflow", "role-lambda-workflow"],
        )
    )
    add(
        lambda_.Function(
            "fn-seed",
            names.seed_lambda,
            refs,
            handler="seed.handler",
            role="lambda-seed",
            code_key=names.LAMBDA_SEED_KEY,
            code_sha256=lambda: package.code_sha256(package.seed_zip()),
            # Secrets Manager accepts the name wherever it takes the ARN.
            environment=lambda: {"DB_SECRET_ARN": names.db_secret},
            vpc=lambda: {
                "SubnetIds": [refs.subnet_id(n) or "<pending>" for n in subnet_names],
                "SecurityGroupIds": [refs.security_group_id(sg["seed"]) or "<pending>"],
            },
            timeout=120,
            memory=512,
            depends_on=["asset-lambda-seed", "role-lambda-seed", *subnet_logicals, "sg-seed", "secret-db"],
        )
    )
    add(
        lambda_.Permission(
            "permission-start-workflow",
            names.workflow_lambda,
            refs,
            statement_id="s3-findings",
            principal="s3.amazonaws.com",
            source_arn=refs.bucket_arn("findings"),
            depends_on=["fn-start-workflow", "bucket-findings"],
        )
    )
    add(
        s3.LambdaNotification(
            "findings",
            names.FINDINGS_PREFIX,
            names.workflow_lambda,
            refs,
            ["permission-start-workflow", "bucket-findings"],
        )
    )

    # ---- Glue
    g = s.glue
    dbs = {
        "raw": g.raw_database,
        "findings": g.findings_database,
        "masked": g.masked_database,
        "encrypted": g.encrypted_database,
    }
    for kind, db in dbs.items():
        add(glue.Database(kind, db, refs, description=f"dcp {names.prefix}: {kind} zone"))
    paths = {
        "raw": f"s3://{names.raw_bucket}/{src.db_name}/",
        "findings": f"s3://{names.findings_bucket}/{names.FINDINGS_PREFIX}",
        "masked": f"s3://{names.curated_bucket}/masked/",
        "encrypted": f"s3://{names.curated_bucket}/encrypted/",
    }
    bucket_of = {
        "raw": "bucket-raw",
        "findings": "bucket-findings",
        "masked": "bucket-curated",
        "encrypted": "bucket-curated",
    }
    for kind, path in paths.items():
        add(
            glue.Crawler(
                kind, refs, database=dbs[kind], path=path, depends_on=["role-glue", f"glue-db-{kind}", bucket_of[kind]]
            )
        )
    add(
        glue.Job(
            refs,
            script=f"s3://{names.assets_bucket}/{names.GLUE_SCRIPT_KEY}",
            extra_py_files=f"s3://{names.assets_bucket}/{names.GLUE_LIBRARY_KEY}",
            arguments=glue_job_arguments(names),
            depends_on=["role-glue", "asset-glue-script", "asset-glue-library", "glue-db-masked", "glue-db-encrypted"],
        )
    )
    add(glue.Workflow(refs))
    add(
        glue.Trigger(
            "start",
            refs,
            actions=[{"CrawlerName": names.crawler("raw")}, {"CrawlerName": names.crawler("findings")}],
            depends_on=["glue-workflow", "crawler-raw", "crawler-findings"],
        )
    )
    add(
        glue.Trigger(
            "after-crawl",
            refs,
            actions=[{"JobName": names.glue_job}],
            conditions=[
                {"CrawlerName": names.crawler("raw"), "CrawlState": "SUCCEEDED"},
                {"CrawlerName": names.crawler("findings"), "CrawlState": "SUCCEEDED"},
            ],
            depends_on=["glue-workflow", "crawler-raw", "crawler-findings", "glue-job"],
        )
    )
    add(
        glue.Trigger(
            "after-job",
            refs,
            actions=[{"CrawlerName": names.crawler("masked")}, {"CrawlerName": names.crawler("encrypted")}],
            conditions=[{"JobName": names.glue_job, "State": "SUCCEEDED"}],
            depends_on=["glue-workflow", "glue-job", "crawler-masked", "crawler-encrypted"],
        )
    )

    # ---- Lake Formation and Athena
    admin_personas = [p.name for p in personas.values() if p.admin]
    add(lakeformation.Admins(refs, [f"persona-{a}" for a in admin_personas], [f"persona-{a}" for a in admin_personas]))
    # Both zones are registered through the stack's location role (which may use the bucket key);
    # the Glue role may create the crawled tables in them.
    for zone in ("raw", "curated"):
        add(lakeformation.Location(zone, "lf-location", refs, [f"bucket-{zone}", "lf-admins", "role-lf-location"]))
        add(lakeformation.DataLocationAccess("glue", zone, refs, [f"lf-location-{zone}", "role-glue", "lf-admins"]))
    for key, values in s.lakeformation.tags.items():
        add(lakeformation.LfTag(key, values, refs, ["lf-admins"]))
    for p in personas.values():
        add(athena.WorkGroup(refs, p.name, ["bucket-athena-results", "bucket-key"]))
    return out
