"""Physical names of every stack resource, derived from settings, account and region (no state file)."""

from __future__ import annotations

from dataclasses import dataclass

from dcp.config import Settings

#: The tag on everything the stack creates; its value is the stack's prefix (`down`'s sweeper finds by it).
STACK_TAG = "dcp:stack"

BUCKET_KINDS = ("raw", "findings", "curated", "assets", "athena-results", "logs")


@dataclass(frozen=True)
class StackNames:
    """Every name `up` creates, `down` deletes and the pipeline drivers look up."""

    prefix: str
    account_id: str
    region: str
    settings: Settings

    @classmethod
    def of(cls, settings: Settings, account_id: str, region: str) -> StackNames:
        return cls(settings.prefix, account_id, region, settings)

    # ---- tags
    @property
    def stack_tag(self) -> dict[str, str]:
        return {STACK_TAG: self.prefix}

    def tags(self) -> dict[str, str]:
        return {**self.settings.project.tags, **self.stack_tag}

    def ec2_filters(self, name: str) -> list[dict[str, object]]:
        """EC2 things have no names: the stack's are found by their `Name` tag and the stack tag."""
        return [{"Name": "tag:Name", "Values": [name]}, {"Name": f"tag:{STACK_TAG}", "Values": [self.prefix]}]

    # ---- S3
    def bucket(self, kind: str) -> str:
        if kind not in BUCKET_KINDS:
            raise ValueError(f"unknown bucket kind {kind!r}")
        return f"{self.prefix}-{kind}-{self.account_id}-{self.region}"

    @property
    def raw_bucket(self) -> str:
        return self.bucket("raw")

    @property
    def findings_bucket(self) -> str:
        return self.bucket("findings")

    @property
    def curated_bucket(self) -> str:
        return self.bucket("curated")

    @property
    def assets_bucket(self) -> str:
        return self.bucket("assets")

    @property
    def athena_results_bucket(self) -> str:
        return self.bucket("athena-results")

    @property
    def logs_bucket(self) -> str:
        return self.bucket("logs")

    # Key layout inside the buckets.
    def raw_prefix(self, table: str) -> str:
        """DMS's S3 layout: <schema>/<table>/LOAD00000001.csv, then CDC files beside them."""
        return f"{self.settings.source.db_name}/{table}/"

    FINDINGS_PREFIX = "findings/"
    DISCOVERY_RESULTS_PREFIX = "discovery-results/"  # Macie's classification export

    @staticmethod
    def masked_prefix(table: str) -> str:
        return f"masked/{table}/"

    @staticmethod
    def encrypted_prefix(table: str) -> str:
        return f"encrypted/{table}/"

    GLUE_SCRIPT_KEY = "glue/mask_pii.py"
    GLUE_LIBRARY_KEY = "glue/dcp_masking.zip"
    LAMBDA_WORKFLOW_KEY = "lambda/start_workflow.zip"
    LAMBDA_SEED_KEY = "lambda/seed.zip"

    # ---- Macie
    def custom_identifier(self, name: str) -> str:
        """The Macie name of a configured custom identifier (Macie names are account-wide)."""
        return f"{self.prefix}-{name}"

    def custom_identifier_types(self) -> dict[str, str]:
        """Config name -> the detection type Macie reports for it (its Macie name)."""
        return {c.name: self.custom_identifier(c.name) for c in self.settings.macie.custom_identifiers}

    # ---- KMS
    @property
    def data_key_alias(self) -> str:
        return self.settings.kms.data_key_alias

    @property
    def bucket_key_alias(self) -> str:
        return self.settings.kms.bucket_key_alias

    # ---- secrets, network, databases
    @property
    def db_secret(self) -> str:
        return f"{self.prefix}/source-db"

    @property
    def token_secret(self) -> str:
        """The key of the deterministic `token` masking action."""
        return f"{self.prefix}/token-key"

    @property
    def vpc(self) -> str:
        return f"{self.prefix}-vpc"

    @property
    def db_instance(self) -> str:
        return f"{self.prefix}-source"

    @property
    def db_subnet_group(self) -> str:
        return f"{self.prefix}-db-subnets"

    @property
    def db_parameter_group(self) -> str:
        return f"{self.prefix}-source-params"

    # ---- DMS
    @property
    def replication_instance(self) -> str:
        return f"{self.prefix}-replication"

    @property
    def replication_subnet_group(self) -> str:
        return f"{self.prefix}-replication-subnets"

    @property
    def source_endpoint(self) -> str:
        return f"{self.prefix}-source"

    @property
    def target_endpoint(self) -> str:
        return f"{self.prefix}-raw-s3"

    @property
    def replication_task(self) -> str:
        return f"{self.prefix}-replicate"

    # ---- events
    @property
    def findings_rule(self) -> str:
        return f"{self.prefix}-macie-findings"

    @property
    def firehose_stream(self) -> str:
        return f"{self.prefix}-findings"

    @property
    def workflow_lambda(self) -> str:
        return f"{self.prefix}-start-workflow"

    @property
    def seed_lambda(self) -> str:
        return f"{self.prefix}-seed"

    # ---- Glue
    @property
    def raw_database(self) -> str:
        return self.settings.glue.raw_database

    @property
    def findings_database(self) -> str:
        return self.settings.glue.findings_database

    @property
    def masked_database(self) -> str:
        return self.settings.glue.masked_database

    @property
    def encrypted_database(self) -> str:
        return self.settings.glue.encrypted_database

    def crawler(self, kind: str) -> str:
        """kind: raw | findings | masked | encrypted."""
        return f"{self.prefix}-{kind}-crawler"

    @property
    def glue_job(self) -> str:
        return f"{self.prefix}-mask-pii"

    @property
    def workflow(self) -> str:
        return f"{self.prefix}-workflow"

    def trigger(self, kind: str) -> str:
        """kind: start (after-crawl, after-job: retired triggers of older stacks, deleted by `up`)."""
        return f"{self.prefix}-{kind}"

    @property
    def findings_table(self) -> str:
        """The table the findings crawler creates over the findings prefix."""
        return "findings"

    # ---- IAM
    def role(self, kind: str) -> str:
        """kind: glue | firehose | events | lambda-workflow | lambda-seed | dms-s3 | <persona>."""
        return f"{self.prefix}-{kind}"

    def role_arn(self, kind: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.role(kind)}"

    def persona_role(self, persona: str) -> str:
        return self.role(f"persona-{persona}")

    def persona_role_arn(self, persona: str) -> str:
        return self.role_arn(f"persona-{persona}")

    @property
    def partition(self) -> str:
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"

    # ---- Athena
    @property
    def workgroup(self) -> str:
        """The stem of the personas' workgroups (config athena.workgroup, default <prefix>-wg)."""
        return self.settings.athena.workgroup

    def persona_workgroup(self, persona: str) -> str:
        """Each persona queries in its own workgroup, so no persona sees another's queries."""
        return f"{self.workgroup}-{persona}"

    def persona_results_prefix(self, persona: str) -> str:
        """The persona's folder of the results bucket: its workgroup's enforced output location."""
        return f"{persona}/"
