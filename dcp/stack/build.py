"""The stack as data: every resource `up` creates, its physical name and its dependencies."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

from dcp.aws.session import AwsContext
from dcp.config import Persona, Settings
from dcp.errors import UsageError
from dcp.gluejob.args import custom_identifiers_to_json, policy_to_json
from dcp.gluejob.package import build_glue_library
from dcp.lambdas import package
from dcp.names import BUCKET_KINDS, StackNames
from dcp.stack import policies
from dcp.stack.refs import PENDING, Refs
from dcp.stack.resources import (
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
    rds,
    s3,
    secrets,
)
from dcp.stack.resources import network as network_
from dcp.stack.resources.base import Resource

ROOT = Path(__file__).resolve().parents[2]
GLUE_SCRIPT = ROOT / "glue_jobs" / "mask_pii.py"


class StackError(UsageError):
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
        # the job crawls these only when the catalog may not match its output (dcp.gluejob.crawl)
        "--output_crawlers": f"{names.crawler('masked')},{names.crawler('encrypted')}",
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
    """The stack, section by section as data flows (README's diagram); each section's resources
    in the order its fields are declared. The order is the plan's display order."""
    store = storage(names, refs)
    access = keys_and_iam(names, refs, store)
    net = network(names, refs)
    db = source_database(names, refs, net, access)
    sections: list[Section] = [store, access, net, db, replication(names, refs, net, store, access, db)]
    sections.append(findings_path(names, refs, store, access))
    code = functions(names, refs, store, access, net)
    sections += [code, glue_section(names, refs, store, access, code), lake(names, refs, store, access)]
    return [resource for section in sections for resource in section.resources()]


class Section:
    """A dataclass of resources (single, list or dict fields) that later sections refer to."""

    def resources(self) -> list[Resource]:
        out: list[Resource] = []
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Resource):
                out.append(value)
            else:
                out.extend(value.values() if isinstance(value, dict) else value)
        return out


# ---------------------------------------------------------------- storage: the bucket key and buckets


@dataclass
class Storage(Section):
    bucket_key: kms.Key
    logs: s3.Bucket
    buckets: dict[str, s3.Bucket]

    def bucket(self, kind: str) -> s3.Bucket:
        return self.logs if kind == "logs" else self.buckets[kind]


def storage(names: StackNames, refs: Refs) -> Storage:
    key = kms.Key(
        "bucket-key",
        names.bucket_key_alias,
        refs,
        description=f"dcp {names.prefix}: S3 bucket key",
        policy=lambda: policies.bucket_key_policy(names),
    )
    logs = s3.Bucket("logs", refs)
    buckets = {kind: s3.Bucket(kind, refs, [logs, key]) for kind in BUCKET_KINDS if kind != "logs"}
    return Storage(key, logs, buckets)


# ---------------------------------------------------------------- keys, secrets and IAM


@dataclass
class Access(Section):
    roles: dict[str, iam.Role]
    personas: dict[str, iam.Role]
    data_key: kms.Key
    data_key_grants: list[iam.RolePolicy]
    db_secret: secrets.Secret
    token_secret: secrets.Secret


def _bucket_key_arn(names: StackNames, refs: Refs) -> str:
    return refs.key_arn(names.bucket_key_alias) or PENDING


def service_roles(names: StackNames, refs: Refs, store: Storage) -> dict[str, iam.Role]:
    """The services' roles (policies naming the bucket key wait for it: its ARN is in them)."""

    def bucket_key() -> str:
        return _bucket_key_arn(names, refs)

    def role(
        kind: str,
        service: str,
        policy: Callable[[], policies.Doc] | None = None,
        managed: Sequence[str] = (),
        *,
        source_arn: str | None = None,
        conditional: bool = True,
    ) -> tuple[str, iam.Role]:
        def trust() -> policies.Doc:
            if conditional:
                return policies.trust(service, names, source_arn=source_arn)
            return policies.service_trust(service)

        return kind, iam.Role(
            f"role-{kind}",
            names.role(kind),
            refs,
            trust=trust,
            policy=policy,
            managed=managed,
            depends_on=[store.bucket_key],
        )

    events_rule_arn = refs.arn("events", f"rule/{names.findings_rule}")
    seed_managed = ["service-role/AWSLambdaVPCAccessExecutionRole"]
    roles = dict(
        [
            role("glue", "glue.amazonaws.com", lambda: policies.glue_policy(names, bucket_key())),
            role("firehose", "firehose.amazonaws.com", lambda: policies.firehose_policy(names, bucket_key())),
            role("events", "events.amazonaws.com", lambda: policies.events_policy(names), source_arn=events_rule_arn),
            role("lambda-workflow", "lambda.amazonaws.com", lambda: policies.workflow_lambda_policy(names)),
            role("lambda-seed", "lambda.amazonaws.com", lambda: policies.seed_lambda_policy(names), seed_managed),
            role(
                "lf-location",
                "lakeformation.amazonaws.com",
                lambda: policies.lf_location_policy(names, bucket_key()),
                conditional=False,
            ),
            # DMS assumes its S3 role without source context, so its trust has no conditions.
            role("dms-s3", "dms.amazonaws.com", lambda: policies.dms_s3_policy(names, bucket_key()), conditional=False),
        ]
    )
    roles["dms-vpc"] = iam.Role(
        "role-dms-vpc",
        iam.DMS_VPC_ROLE,
        refs,
        trust=lambda: policies.service_trust("dms.amazonaws.com"),
        managed=["service-role/AmazonDMSVPCManagementRole"],
        shared=True,
        description="DMS manages its network interfaces (shared by every DMS user of the account)",
    )
    return roles


def persona_roles(names: StackNames, refs: Refs, store: Storage) -> dict[str, iam.Role]:
    def persona_policy(p: Persona) -> Callable[[], policies.Doc]:
        # Personas that may see the encrypted copy (or decrypt it) may read its objects too.
        ciphertext = p.decrypt or any("encrypted" in g.expression.get("zone", ()) for g in p.grants)
        return lambda: policies.persona_policy(names, _bucket_key_arn(names, refs), p.name, reads_ciphertext=ciphertext)

    return {
        p.name: iam.Role(
            f"persona-{p.name}",
            names.persona_role(p.name),
            refs,
            trust=lambda: policies.account_trust(names),
            policy=persona_policy(p),
            description=p.description or f"dcp persona {p.name}",
            depends_on=[store.bucket_key],
        )
        for p in names.settings.lakeformation.personas.values()
    }


def keys_and_iam(names: StackNames, refs: Refs, store: Storage) -> Access:
    """Roles, then the data key (its policy names the roles), then their IAM grants on it; secrets."""
    roles = service_roles(names, refs, store)
    personas = persona_roles(names, refs, store)
    decrypters = [p.name for p in names.settings.lakeformation.personas.values() if p.decrypt]
    data_key = kms.Key(
        "data-key",
        names.data_key_alias,
        refs,
        description=f"dcp {names.prefix}: data key of the encrypted copy",
        policy=lambda: policies.data_key_policy(
            names,
            admin=refs.caller_arn(),
            decrypters=[names.persona_role_arn(d) for d in decrypters],
            generators=[names.role_arn("glue")],
            reusers=[names.role_arn("glue")],
        ),
        depends_on=[roles["glue"], *(personas[d] for d in decrypters)],
    )

    def grant(role: iam.Role, actions: list[str]) -> iam.RolePolicy:
        return iam.RolePolicy(
            f"{role.logical}-data-key",
            role.physical,
            "dcp-data-key",
            refs,
            policy=lambda: policies.data_key_grant(refs.key_arn(names.data_key_alias) or PENDING, actions),
            depends_on=[role, data_key],
        )

    grants = [grant(roles["glue"], ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"])]
    grants += [grant(personas[d], ["kms:Decrypt", "kms:DescribeKey"]) for d in decrypters]
    src = names.settings.source
    db_secret = secrets.Secret(
        "secret-db",
        names.db_secret,
        refs,
        description="dcp source database credentials",
        initial=lambda c: secrets.db_secret_value(
            c, engine=src.engine, username=src.username, dbname=src.db_name, port=rds.PORTS[src.engine]
        ),
    )
    token_secret = secrets.Secret(
        "secret-token", names.token_secret, refs, description="dcp token masking key", initial=secrets.token_key_value
    )
    return Access(roles, personas, data_key, grants, db_secret, token_secret)


# ---------------------------------------------------------------- network


@dataclass
class Network(Section):
    vpc: network_.Vpc
    subnets: list[network_.Subnet]
    groups: dict[str, network_.SecurityGroup]
    endpoints: list[network_.Endpoint]

    @property
    def subnet_names(self) -> list[str]:
        return [sn.physical for sn in self.subnets]


def network(names: StackNames, refs: Refs) -> Network:
    vpc = network_.Vpc(refs)
    subnets = [network_.Subnet(i, refs, vpc) for i in (0, 1)]
    sg = {k: f"{names.prefix}-{k}" for k in ("db", "dms", "seed", "endpoints")}
    port = rds.PORTS[names.settings.source.engine]
    dms_sg = network_.SecurityGroup(
        "sg-dms", sg["dms"], refs, description="dcp DMS replication instance", depends_on=[vpc]
    )
    seed_sg = network_.SecurityGroup("sg-seed", sg["seed"], refs, description="dcp seed Lambda", depends_on=[vpc])
    db_sg = network_.SecurityGroup(
        "sg-db",
        sg["db"],
        refs,
        description="dcp source database: DMS and seed only",
        ingress=lambda: [(port, sg["dms"]), (port, sg["seed"])],
        depends_on=[vpc, dms_sg, seed_sg],
    )
    endpoints_sg = network_.SecurityGroup(
        "sg-endpoints",
        sg["endpoints"],
        refs,
        description="dcp VPC interface endpoints",
        ingress=lambda: [(443, sg["seed"])],
        depends_on=[vpc, seed_sg],
    )
    endpoints = [
        network_.Endpoint("s3", refs, depends_on=[vpc]),
        network_.Endpoint(
            "secretsmanager",
            refs,
            interface=True,
            subnets=[sn.physical for sn in subnets],
            security_group=sg["endpoints"],
            depends_on=[vpc, *subnets, endpoints_sg],
        ),
    ]
    groups = {"dms": dms_sg, "seed": seed_sg, "db": db_sg, "endpoints": endpoints_sg}
    return Network(vpc, subnets, groups, endpoints)


# ---------------------------------------------------------------- source database


@dataclass
class SourceDatabase(Section):
    subnet_group: rds.SubnetGroup
    parameter_group: rds.ParameterGroup
    instance: rds.Instance
    secret_endpoint: secrets.SecretEndpoint


def source_database(names: StackNames, refs: Refs, net: Network, access: Access) -> SourceDatabase:
    subnet_group = rds.SubnetGroup(refs, net.subnet_names, net.subnets)
    parameter_group = rds.ParameterGroup(refs)
    instance = rds.Instance(
        refs,
        security_group=net.groups["db"].physical,
        depends_on=[subnet_group, parameter_group, net.groups["db"], access.db_secret],
    )
    endpoint = secrets.SecretEndpoint(
        refs, secret=names.db_secret, endpoint=instance.endpoint, depends_on=[instance, access.db_secret]
    )
    return SourceDatabase(subnet_group, parameter_group, instance, endpoint)


# ---------------------------------------------------------------- replication: DMS to the raw bucket


@dataclass
class Replication(Section):
    subnet_group: dms.SubnetGroup
    instance: dms.ReplicationInstance
    source: dms.Endpoint
    target: dms.Endpoint
    task: dms.ReplicationTask


def replication(
    names: StackNames, refs: Refs, net: Network, store: Storage, access: Access, db: SourceDatabase
) -> Replication:
    subnet_group = dms.SubnetGroup(refs, net.subnet_names, [*net.subnets, access.roles["dms-vpc"]])
    instance = dms.ReplicationInstance(
        refs, security_group=net.groups["dms"].physical, depends_on=[subnet_group, net.groups["dms"]]
    )
    source = dms.Endpoint("source", refs, [db.secret_endpoint])
    target = dms.Endpoint("target", refs, [store.bucket("raw"), access.roles["dms-s3"], store.bucket_key])
    task = dms.ReplicationTask(refs, [instance, source, target])
    return Replication(subnet_group, instance, source, target, task)


# ---------------------------------------------------------------- findings path: Macie -> EventBridge -> Firehose


@dataclass
class FindingsPath(Section):
    session: macie.Session
    export: macie.ClassificationExport
    identifiers: list[macie.CustomDataIdentifier]
    stream: firehose.FindingsStream
    rule: events.FindingsRule


def findings_path(names: StackNames, refs: Refs, store: Storage, access: Access) -> FindingsPath:
    session = macie.Session(refs, [store.bucket("findings")])
    export = macie.ClassificationExport(refs, [session, store.bucket("findings"), store.bucket_key])
    identifiers = [macie.CustomDataIdentifier(ci, refs, [session]) for ci in names.settings.macie.custom_identifiers]
    stream = firehose.FindingsStream(refs, [store.bucket("findings"), access.roles["firehose"], store.bucket_key])
    rule = events.FindingsRule(refs, [stream, access.roles["events"]])
    return FindingsPath(session, export, identifiers, stream, rule)


# ---------------------------------------------------------------- code: assets and the Lambdas


@dataclass
class Functions(Section):
    assets: dict[str, s3.Object]
    start_workflow: lambda_.Function
    seed: lambda_.Function
    permission: lambda_.Permission
    notification: s3.LambdaNotification


def functions(names: StackNames, refs: Refs, store: Storage, access: Access, net: Network) -> Functions:
    """The Glue job's code, the Lambdas, and the findings bucket notifying the one starting the workflow."""
    bodies: list[tuple[str, str, Callable[[], bytes]]] = [
        ("asset-glue-script", names.GLUE_SCRIPT_KEY, glue_script),
        ("asset-glue-library", names.GLUE_LIBRARY_KEY, glue_library),
        ("asset-lambda-workflow", names.LAMBDA_WORKFLOW_KEY, package.workflow_zip),
        ("asset-lambda-seed", names.LAMBDA_SEED_KEY, package.seed_zip),
    ]
    assets = {
        logical: s3.Object(logical, "assets", key, body, refs, [store.bucket("assets")])
        for logical, key, body in bodies
    }
    start = lambda_.Function(
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
        depends_on=[assets["asset-lambda-workflow"], access.roles["lambda-workflow"]],
    )
    seed = lambda_.Function(
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
            "SubnetIds": [refs.subnet_id(n) or PENDING for n in net.subnet_names],
            "SecurityGroupIds": [refs.security_group_id(net.groups["seed"].physical) or PENDING],
        },
        timeout=120,
        memory=512,
        depends_on=[
            assets["asset-lambda-seed"],
            access.roles["lambda-seed"],
            *net.subnets,
            net.groups["seed"],
            access.db_secret,
        ],
    )
    permission = lambda_.Permission(
        "permission-start-workflow",
        names.workflow_lambda,
        refs,
        statement_id="s3-findings",
        principal="s3.amazonaws.com",
        source_arn=refs.bucket_arn("findings"),
        depends_on=[start, store.bucket("findings")],
    )
    notification = s3.LambdaNotification(
        "findings", names.FINDINGS_PREFIX, names.workflow_lambda, refs, [permission, store.bucket("findings")]
    )
    return Functions(assets, start, seed, permission, notification)


# ---------------------------------------------------------------- Glue: catalog, crawlers, the job, the workflow


@dataclass
class GlueWorkflow(Section):
    databases: dict[str, glue.Database]
    crawlers: dict[str, glue.Crawler]
    job: glue.Job
    workflow: glue.Workflow
    triggers: list[Resource]


def glue_section(names: StackNames, refs: Refs, store: Storage, access: Access, code: Functions) -> GlueWorkflow:
    g, src = names.settings.glue, names.settings.source
    zones = {
        # zone: (database, crawled path, bucket)
        "raw": (g.raw_database, f"s3://{names.raw_bucket}/{src.db_name}/", "raw"),
        "findings": (g.findings_database, f"s3://{names.findings_bucket}/{names.FINDINGS_PREFIX}", "findings"),
        "masked": (g.masked_database, f"s3://{names.curated_bucket}/masked/", "curated"),
        "encrypted": (g.encrypted_database, f"s3://{names.curated_bucket}/encrypted/", "curated"),
    }
    dbs = {
        kind: glue.Database(kind, db, refs, description=f"dcp {names.prefix}: {kind} zone")
        for kind, (db, _, _) in zones.items()
    }
    role = access.roles["glue"]
    crawlers = {
        kind: glue.Crawler(kind, refs, database=db, path=path, depends_on=[role, dbs[kind], store.bucket(bucket)])
        for kind, (db, path, bucket) in zones.items()
    }
    job = glue.Job(
        refs,
        script=f"s3://{names.assets_bucket}/{names.GLUE_SCRIPT_KEY}",
        extra_py_files=f"s3://{names.assets_bucket}/{names.GLUE_LIBRARY_KEY}",
        arguments=glue_job_arguments(names),
        depends_on=[
            role,
            code.assets["asset-glue-script"],
            code.assets["asset-glue-library"],
            dbs["masked"],
            dbs["encrypted"],
            crawlers["masked"],
            crawlers["encrypted"],
        ],
    )
    workflow = glue.Workflow(refs)
    return GlueWorkflow(dbs, crawlers, job, workflow, workflow_triggers(names, refs, workflow, crawlers, job))


def workflow_triggers(
    names: StackNames, refs: Refs, workflow: glue.Workflow, crawlers: dict[str, glue.Crawler], job: glue.Job
) -> list[Resource]:
    """One trigger: the job and the raw and findings crawlers at once.

    The job does not read the raw or findings catalog (it lists and reads both buckets itself:
    dcp/gluejob/rawdata.py, findings_reader.py), so it does not wait for their crawls: on AWS a
    crawl takes a minute or more, which each scan spent before the job could start. The masked
    and encrypted zones are crawled by the job itself, and only when the catalog may not match
    what it wrote (dcp/gluejob/crawl.py): a CDC round applied in place changes no schema. The
    triggers older stacks had (`after-crawl`: crawlers SUCCEEDED -> job; `after-job`: job
    SUCCEEDED -> output crawlers) are deleted, or they would start the job and crawls again.
    """
    return [
        glue.Trigger(
            "start",
            refs,
            actions=[
                {"CrawlerName": names.crawler("raw")},
                {"CrawlerName": names.crawler("findings")},
                {"JobName": names.glue_job},
            ],
            depends_on=[workflow, crawlers["raw"], crawlers["findings"], job],
        ),
        glue.RetiredTrigger("after-crawl", refs, depends_on=[workflow]),
        glue.RetiredTrigger("after-job", refs, depends_on=[workflow]),
    ]


# ---------------------------------------------------------------- lake: Lake Formation and Athena


@dataclass
class Lake(Section):
    admins: lakeformation.Admins
    locations: list[Resource]
    tags: list[lakeformation.LfTag]
    workgroups: list[athena.WorkGroup]


def lake(names: StackNames, refs: Refs, store: Storage, access: Access) -> Lake:
    s = names.settings
    admin_roles = [access.personas[p.name] for p in s.lakeformation.personas.values() if p.admin]
    admins = lakeformation.Admins(refs, [r.logical for r in admin_roles], admin_roles)
    # Both zones are registered through the stack's location role (which may use the bucket key);
    # the Glue role may create the crawled tables in them.
    locations: list[Resource] = []
    for zone in ("raw", "curated"):
        location = lakeformation.Location(
            zone, "lf-location", refs, [store.bucket(zone), admins, access.roles["lf-location"]]
        )
        access_grant = lakeformation.DataLocationAccess("glue", zone, refs, [location, access.roles["glue"], admins])
        locations += [location, access_grant]
    tags = [lakeformation.LfTag(key, values, refs, [admins]) for key, values in s.lakeformation.tags.items()]
    workgroups = [
        athena.WorkGroup(refs, p.name, [store.bucket("athena-results"), store.bucket_key])
        for p in s.lakeformation.personas.values()
    ]
    return Lake(admins, locations, tags, workgroups)
