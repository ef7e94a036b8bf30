"""IAM policy documents of the stack: trust policies, least-privilege role policies, key policies.

Pure functions of StackNames (and a few ARNs); every document here is checked by parliament in
tests/aws/test_policies.py. No statement grants `*` actions, and `*` resources appear only for
actions that support no resource-level permission (lakeformation:GetDataAccess).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dcp.names import StackNames

VERSION = "2012-10-17"

Doc = dict[str, Any]


def _doc(*statements: Doc) -> Doc:
    return {"Version": VERSION, "Statement": list(statements)}


def _allow(sid: str, actions: list[str], resources: list[str] | str, condition: Doc | None = None) -> Doc:
    st: Doc = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        st["Condition"] = condition
    return st


def trust(service: str, names: StackNames, *, source_arn: str | None = None) -> Doc:
    """A role `service` may assume; confused-deputy guarded by the account (and source ARN)."""
    condition: Doc = {"StringEquals": {"aws:SourceAccount": names.account_id}}
    if source_arn:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    return _doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": condition,
        }
    )


def service_trust(service: str) -> Doc:
    """Trust without conditions, for services whose role assumption carries no source context."""
    return _doc({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def account_trust(names: StackNames) -> Doc:
    """Persona roles: principals of this account with sts:AssumeRole permission may assume them."""
    return _doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{names.partition}:iam::{names.account_id}:root"},
            "Action": "sts:AssumeRole",
        }
    )


# --------------------------------------------------------------------------- ARNs


def bucket_arn(names: StackNames, kind: str) -> str:
    return f"arn:{names.partition}:s3:::{names.bucket(kind)}"


def _arn(names: StackNames, service: str, resource: str) -> str:
    return f"arn:{names.partition}:{service}:{names.region}:{names.account_id}:{resource}"


def secret_arn_pattern(names: StackNames, secret: str) -> str:
    # Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
    return _arn(names, "secretsmanager", f"secret:{secret}-??????")


#: Reading the Data Catalog's databases and tables, and their partitions.
CATALOG_READ = ["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables"]
PARTITION_READ = ["glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition"]


def _stack_databases(names: StackNames) -> list[str]:
    """The stack's Glue databases: raw, findings, masked, encrypted."""
    return [names.raw_database, names.findings_database, names.masked_database, names.encrypted_database]


def glue_catalog(names: StackNames, databases: list[str]) -> list[str]:
    out = [_arn(names, "glue", "catalog")]
    for db in databases:
        out += [_arn(names, "glue", f"database/{db}"), _arn(names, "glue", f"table/{db}/*")]
    return out


def _logs(names: StackNames, group_prefix: str) -> Doc:
    return _allow(
        "Logs",
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        [
            _arn(names, "logs", f"log-group:{group_prefix}*"),
            _arn(names, "logs", f"log-group:{group_prefix}*:log-stream:*"),
        ],
    )


def _bucket_key(key_arn: str, actions: list[str]) -> Doc:
    return _allow("BucketKey", actions, [key_arn])


# --------------------------------------------------------------------------- role policies


def glue_policy(names: StackNames, bucket_key: str) -> Doc:
    """Crawlers and the masking job: read raw/findings/assets, write curated, use the catalog.

    The data key is granted separately (data_key_grant), once the key exists.
    """
    raw, findings, curated, assets = (bucket_arn(names, k) for k in ("raw", "findings", "curated", "assets"))
    dbs = _stack_databases(names)
    return _doc(
        _allow("ListBuckets", ["s3:ListBucket", "s3:GetBucketLocation"], [raw, findings, curated, assets]),
        _allow("ReadInputs", ["s3:GetObject"], [f"{raw}/*", f"{findings}/*", f"{assets}/glue/*"]),
        _allow("WriteCurated", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [f"{curated}/*"]),
        _allow(
            "Catalog",
            [
                *CATALOG_READ,
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:DeleteTable",
                *PARTITION_READ,
                "glue:CreatePartition",
                "glue:BatchCreatePartition",
                "glue:UpdatePartition",
                "glue:BatchUpdatePartition",
            ],
            glue_catalog(names, dbs),
        ),
        _allow("TokenKey", ["secretsmanager:GetSecretValue"], [secret_arn_pattern(names, names.token_secret)]),
        # the job crawls the output zones when their catalog may not match (dcp/gluejob/crawl.py)
        _allow(
            "CrawlOutputs",
            ["glue:StartCrawler", "glue:GetCrawler"],
            [_arn(names, "glue", f"crawler/{names.crawler(zone)}") for zone in ("masked", "encrypted")],
        ),
        _bucket_key(bucket_key, ["kms:Decrypt", "kms:GenerateDataKey"]),
        _allow("LakeFormation", ["lakeformation:GetDataAccess"], "*"),
        _logs(names, "/aws-glue/"),
    )


def firehose_policy(names: StackNames, bucket_key: str) -> Doc:
    findings = bucket_arn(names, "findings")
    return _doc(
        _allow(
            "DeliverFindings",
            ["s3:PutObject", "s3:AbortMultipartUpload"],
            [f"{findings}/findings/*", f"{findings}/errors/*"],
        ),
        _allow(
            "FindingsBucket", ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"], [findings]
        ),
        _bucket_key(bucket_key, ["kms:GenerateDataKey", "kms:Decrypt"]),
        _logs(names, f"/aws/kinesisfirehose/{names.firehose_stream}"),
    )


def events_policy(names: StackNames) -> Doc:
    return _doc(
        _allow(
            "PutFindings",
            ["firehose:PutRecord", "firehose:PutRecordBatch"],
            [_arn(names, "firehose", f"deliverystream/{names.firehose_stream}")],
        )
    )


def workflow_lambda_policy(names: StackNames) -> Doc:
    return _doc(
        # GetWorkflowRuns: while a run is busy, the handler waits for one that covers its findings.
        _allow(
            "StartWorkflow",
            ["glue:StartWorkflowRun", "glue:GetWorkflowRuns"],
            [_arn(names, "glue", f"workflow/{names.workflow}")],
        ),
        _logs(names, f"/aws/lambda/{names.workflow_lambda}"),
    )


def seed_lambda_policy(names: StackNames) -> Doc:
    # Network-interface permissions for a Lambda in a VPC come from the managed
    # AWSLambdaVPCAccessExecutionRole policy attached beside this one.
    return _doc(
        _allow("DbSecret", ["secretsmanager:GetSecretValue"], [secret_arn_pattern(names, names.db_secret)]),
        _logs(names, f"/aws/lambda/{names.seed_lambda}"),
    )


def lf_location_policy(names: StackNames, bucket_key: str) -> Doc:
    """Lake Formation reads the registered raw and curated zones as this role, for the personas
    its permissions allow; it needs the objects and the bucket key, nothing else."""
    raw, curated = bucket_arn(names, "raw"), bucket_arn(names, "curated")
    return _doc(
        _allow("ListZones", ["s3:ListBucket"], [raw, curated]),
        _allow("ReadZones", ["s3:GetObject"], [f"{raw}/*", f"{curated}/*"]),
        _bucket_key(bucket_key, ["kms:Decrypt"]),
    )


def dms_s3_policy(names: StackNames, bucket_key: str) -> Doc:
    raw = bucket_arn(names, "raw")
    return _doc(
        # DMS's S3 target prerequisites; its multipart SSE-KMS uploads also need kms:Decrypt.
        _allow("WriteRaw", ["s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging"], [f"{raw}/*"]),
        _allow("ListRaw", ["s3:ListBucket"], [raw]),
        _bucket_key(bucket_key, ["kms:GenerateDataKey", "kms:Decrypt"]),
    )


def persona_policy(names: StackNames, bucket_key: str, persona: str, *, reads_ciphertext: bool = False) -> Doc:
    """Query through Athena in the persona's own workgroup; data access is then Lake Formation's call.

    Athena and S3 rights stop at the persona's workgroup and results folder: a query execution
    belongs to its workgroup, so GetQueryResults on another persona's query ID is denied, and
    so is reading its result files.

    `reads_ciphertext`: the persona may read the encrypted copy's objects (which only a data key
    it may use can decrypt), so `dcp reveal` can fetch them with the persona's own rights.
    """
    results = bucket_arn(names, "athena-results")
    folder = names.persona_results_prefix(persona)
    dbs = _stack_databases(names)
    statements = [
        _allow(
            "Athena",
            [
                "athena:StartQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:StopQueryExecution",
                "athena:GetWorkGroup",
            ],
            [_arn(names, "athena", f"workgroup/{names.persona_workgroup(persona)}")],
        ),
        # Athena's catalog API (what PyAthena's SQLAlchemy dialect and awswrangler list tables with);
        # Lake Formation still decides which databases, tables and columns it shows.
        _allow(
            "AthenaCatalog",
            [
                "athena:ListDataCatalogs",
                "athena:GetDataCatalog",
                "athena:ListDatabases",
                "athena:GetDatabase",
                "athena:ListTableMetadata",
                "athena:GetTableMetadata",
            ],
            [_arn(names, "athena", "datacatalog/AwsDataCatalog")],
        ),
        _allow("ResultsBucket", ["s3:GetBucketLocation"], [results]),
        _allow("ListResults", ["s3:ListBucket"], [results], {"StringLike": {"s3:prefix": [f"{folder}*"]}}),
        _allow("Results", ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], [f"{results}/{folder}*"]),
        _allow(
            "Catalog",
            [*CATALOG_READ, *PARTITION_READ],
            glue_catalog(names, dbs),
        ),
        _allow("LakeFormation", ["lakeformation:GetDataAccess"], "*"),
        _bucket_key(bucket_key, ["kms:GenerateDataKey", "kms:Decrypt"]),
    ]
    if reads_ciphertext:
        curated = bucket_arn(names, "curated")
        encrypted = "encrypted/"  # StackNames.encrypted_prefix(table) is under it
        statements += [
            _allow("ListCiphertext", ["s3:ListBucket"], [curated], {"StringLike": {"s3:prefix": [f"{encrypted}*"]}}),
            _allow("ReadCiphertext", ["s3:GetObject"], [f"{curated}/{encrypted}*"]),
        ]
    return _doc(*statements)


def data_key_grant(data_key: str, actions: list[str]) -> Doc:
    """The IAM side of a data-key permission (the key policy names the same principal)."""
    return _doc(_allow("DataKey", actions, [data_key]))


# --------------------------------------------------------------------------- key policies

KEY_ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]


def macie_source_condition(names: StackNames) -> dict[str, Any]:
    """Only this account's Macie, writing discovery results (User Guide, "Storing and retaining
    sensitive data discovery results": the bucket and key policy statements)."""
    macie = f"arn:{names.partition}:macie2:{names.region}:{names.account_id}"
    return {
        "StringEquals": {"aws:SourceAccount": names.account_id},
        "ArnLike": {"aws:SourceArn": [f"{macie}:export-configuration:*", f"{macie}:classification-job/*"]},
    }


def macie_role_arn(names: StackNames) -> str:
    """Macie's service-linked role, created when Macie is enabled."""
    return (
        f"arn:{names.partition}:iam::{names.account_id}:role/aws-service-role/macie.amazonaws.com/"
        "AWSServiceRoleForAmazonMacie"
    )


def bucket_key_policy(names: StackNames) -> Doc:
    """The account controls the bucket key through IAM policies (the default key policy), and
    Macie's service-linked role may decrypt: its managed policy has no KMS permission, so
    without this statement Macie skips every object the bucket key encrypts
    (https://docs.aws.amazon.com/macie/latest/user/discovery-supported-encryption-types.html).

    The role is named by condition, not as Principal: KMS rejects a policy naming a role that
    does not exist yet, and the role appears only once Macie is enabled, after this key.
    """
    return _doc(
        {
            "Sid": "EnableIamPolicies",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{names.partition}:iam::{names.account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            # Macie encrypts its discovery results with this key (macie.ClassificationExport)
            "Sid": "MacieDiscoveryResults",
            "Effect": "Allow",
            "Principal": {"Service": "macie.amazonaws.com"},
            "Action": ["kms:GenerateDataKey", "kms:Encrypt"],
            "Resource": "*",
            "Condition": macie_source_condition(names),
        },
        {
            "Sid": "MacieDecrypt",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:CallerAccount": names.account_id},
                "ArnEquals": {"aws:PrincipalArn": macie_role_arn(names)},
            },
        },
    )


def _key_statement(
    sid: str, principals: Sequence[str] | str, actions: list[str] | str, condition: Doc | None = None
) -> dict[str, Any]:
    """A key policy statement for IAM principals (a key policy's Resource is always "*")."""
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": principals if isinstance(principals, str) else sorted(set(principals))},
        "Action": actions,
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    return statement


def data_key_policy(
    names: StackNames, *, admin: str, decrypters: list[str], generators: list[str], reusers: Sequence[str] = ()
) -> Doc:
    """Only the decrypting personas may decrypt; the Glue role and the operator may make data keys.

    `reusers` (the Glue job's role) may also unwrap a table's data key, and only a table's: the
    Decrypt must carry the `dcp:table` encryption context every table key is wrapped with. An
    incremental run rewrites the touched buckets of the encrypted copy with the key its untouched
    parts use (one data key per table); that role reads the raw plaintext anyway, so this shows
    it nothing new. Without it every CDC round would rebuild each flagged table under a new key.

    The account root may administer the key (so it can never become unmanageable) but has no
    cryptographic permission, so no IAM policy can grant anyone else kms:Decrypt on it. The
    operator (`admin`, the identity that ran `dcp up`) may GenerateDataKey, so `dcp mask` with
    the default key works for them, but not Decrypt: reading the encrypted copy is the
    ML-training role's alone (`dcp reveal`). An operator who is the account root is the account
    principal here, which delegates GenerateDataKey to IAM policies (never Decrypt).
    """
    root = f"arn:{names.partition}:iam::{names.account_id}:root"
    statements = [_key_statement("KeyAdministration", root, KEY_ADMIN_ACTIONS)]
    if decrypters:
        statements.append(_key_statement("Decrypt", decrypters, ["kms:Decrypt", "kms:DescribeKey"]))
    if reusers:
        # https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-encryption-context
        only_table_keys = {"StringLike": {"kms:EncryptionContext:dcp:table": "?*"}}
        statements.append(_key_statement("JobReusesTableKeys", reusers, "kms:Decrypt", only_table_keys))
    statements.append(_key_statement("Encrypt", [admin, *generators], ["kms:GenerateDataKey", "kms:DescribeKey"]))
    return _doc(*statements)
