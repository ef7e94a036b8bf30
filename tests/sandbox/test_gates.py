"""The sandbox's access gates, tried with plain boto3 as AWS would answer them.

Every request from a non-root identity passes one evaluator: identity policies, bucket and
secret policies, KMS key policies (every operation on a key) and SSE-KMS decryption on reads.
The roles here carry the stack's real persona policies (dcp.stack.policies) where that matters.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox_fixture import SandboxServer

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"
VERSION = "2012-10-17"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": VERSION, "Statement": list(statements)}


def _allow(actions: list[str] | str, resources: list[str] | str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def denied(call: Any, code: str = "AccessDenied") -> str:
    with pytest.raises(ClientError) as exc:
        call()
    error = exc.value.response["Error"]
    assert error["Code"] == code, error
    return str(error.get("Message", ""))


@pytest.fixture(scope="module")
def world(sandbox_server: SandboxServer) -> dict[str, Any]:
    """A bucket with an SSE-KMS default key, a plain bucket, a secret and a data key."""
    sb = sandbox_server
    tag = secrets.token_hex(4)
    kms = sb.client("kms")
    bucket_key = kms.create_key(Description="bucket key")["KeyMetadata"]["Arn"]  # default policy: root delegates
    s3 = sb.client("s3")
    enc, plain = f"gate-enc-{tag}", f"gate-plain-{tag}"
    for name in (enc, plain):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_encryption(
        Bucket=enc,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": bucket_key}}]
        },
    )
    s3.put_object(Bucket=enc, Key="dataset/card/LOAD00000001.csv", Body=b"number\n4111111111111111\n")
    s3.put_object(Bucket=plain, Key="public/a.txt", Body=b"hello")
    secret = sb.client("secretsmanager").create_secret(Name=f"gate-token-{tag}", SecretString="s3cr3t")["ARN"]
    return {"tag": tag, "enc": enc, "plain": plain, "bucket_key": bucket_key, "secret": secret}


def test_identity_policy_decides_s3_object_access(sandbox_server: SandboxServer, world: dict[str, Any]) -> None:
    sb, plain = sandbox_server, world["plain"]
    reader = sb.create_role(
        f"gate-reader-{world['tag']}", policy=_doc(_allow("s3:GetObject", f"arn:aws:s3:::{plain}/public/*"))
    )
    nobody = sb.create_role(f"gate-nobody-{world['tag']}")
    s3 = sb.client("s3", sb.assume(reader))
    assert s3.get_object(Bucket=plain, Key="public/a.txt")["Body"].read() == b"hello"
    message = denied(lambda: s3.put_object(Bucket=plain, Key="public/b.txt", Body=b"x"))
    assert f"assumed-role/gate-reader-{world['tag']}/test is not authorized to perform: s3:PutObject" in message
    assert f"arn:aws:s3:::{plain}/public/b.txt" in message
    denied(lambda: s3.list_objects_v2(Bucket=plain))
    denied(lambda: s3.head_object(Bucket=plain, Key="other.txt"), "403")  # HEAD answers have no body
    outsider = sb.client("s3", sb.assume(nobody))
    denied(lambda: outsider.get_object(Bucket=plain, Key="public/a.txt"))
    denied(lambda: outsider.list_buckets())
    # The account root is not restricted.
    assert sb.client("s3").get_object(Bucket=plain, Key="public/a.txt")["Body"].read() == b"hello"


def test_bucket_policy_alone_allows_and_its_deny_beats_an_identity_allow(
    sandbox_server: SandboxServer, world: dict[str, Any]
) -> None:
    sb, tag = sandbox_server, world["tag"]
    bucket = f"gate-bp-{tag}"
    s3 = sb.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    friend = sb.create_role(f"gate-friend-{tag}")
    foe = sb.create_role(f"gate-foe-{tag}", policy=_doc(_allow("s3:*", "*")))
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            _doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": friend},
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                },
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": foe},
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                },
            )
        ),
    )
    assert sb.client("s3", sb.assume(friend)).get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    denied(lambda: sb.client("s3", sb.assume(foe)).get_object(Bucket=bucket, Key="k"))
    # An account-root principal in a bucket policy delegates to IAM; it allows no one by itself.
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            _doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "s3:*",
                    "Resource": "*",
                }
            )
        ),
    )
    denied(lambda: sb.client("s3", sb.assume(friend)).get_object(Bucket=bucket, Key="k"))


def test_sse_kms_objects_need_kms_decrypt_to_read_and_generate_data_key_to_write(
    sandbox_server: SandboxServer, world: dict[str, Any]
) -> None:
    sb, tag, enc, key = sandbox_server, world["tag"], world["enc"], world["bucket_key"]
    s3_only = sb.create_role(
        f"gate-s3only-{tag}", policy=_doc(_allow(["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::{enc}/*"))
    )
    with_key = sb.create_role(
        f"gate-withkey-{tag}",
        policy=_doc(
            _allow(["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::{enc}/*"),
            _allow(["kms:Decrypt", "kms:GenerateDataKey"], key),
        ),
    )
    obj = {"Bucket": enc, "Key": "dataset/card/LOAD00000001.csv"}
    plain_s3 = sb.client("s3", sb.assume(s3_only))
    message = denied(lambda: plain_s3.get_object(**obj))
    assert "kms:Decrypt" in message and key in message
    denied(lambda: plain_s3.put_object(Bucket=enc, Key="new.csv", Body=b"x"))
    keyed = sb.client("s3", sb.assume(with_key))
    assert keyed.get_object(**obj)["Body"].read().startswith(b"number")
    keyed.put_object(Bucket=enc, Key="new.csv", Body=b"x")


def test_key_policy_decides_every_kms_operation(sandbox_server: SandboxServer, world: dict[str, Any]) -> None:
    """A data-scientist may Decrypt (the key policy names it) but not grant itself or rewrite the policy."""
    sb, tag = sandbox_server, world["tag"]
    # As the stack gives it: IAM allows Decrypt on the key (dcp.stack.policies.data_key_grant).
    scientist = sb.create_role(f"gate-scientist-{tag}", policy=_doc(_allow("kms:Decrypt", "*")))
    other = sb.create_role(f"gate-other-{tag}", policy=_doc(_allow("kms:*", "*")))
    root = f"arn:aws:iam::{ACCOUNT}:root"
    policy = _doc(
        {
            "Sid": "Admin",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": ["kms:Describe*", "kms:Put*", "kms:Create*", "kms:Get*", "kms:List*", "kms:ScheduleKeyDeletion"],
            "Resource": "*",
        },
        {
            "Sid": "Use",
            "Effect": "Allow",
            "Principal": {"AWS": scientist},
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": "*",
        },
    )
    kms = sb.client("kms")
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    blob = sb.client("kms").encrypt  # the root has no Encrypt in this key policy
    denied(lambda: blob(KeyId=key, Plaintext=b"x"), "AccessDeniedException")
    policy["Statement"].append(
        {"Sid": "RootEncrypt", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:Encrypt", "Resource": "*"}
    )
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    ciphertext = kms.encrypt(KeyId=key, Plaintext=b"secret")["CiphertextBlob"]

    as_scientist = sb.client("kms", sb.assume(scientist))
    assert as_scientist.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"secret"
    as_scientist.describe_key(KeyId=key)
    for attempt in (
        lambda: as_scientist.create_grant(KeyId=key, GranteePrincipal=other, Operations=["Decrypt"]),
        lambda: as_scientist.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy)),
        lambda: as_scientist.schedule_key_deletion(KeyId=key, PendingWindowInDays=7),
        lambda: as_scientist.re_encrypt(CiphertextBlob=ciphertext, DestinationKeyId=key),
        lambda: as_scientist.get_key_policy(KeyId=key, PolicyName="default"),
        lambda: as_scientist.generate_data_key(KeyId=key, KeySpec="AES_256"),
        lambda: as_scientist.disable_key(KeyId=key),
    ):
        message = denied(attempt, "AccessDeniedException")
        assert f"assumed-role/gate-scientist-{tag}/" in message and key in message
    # IAM's kms:* does not help where the key policy does not delegate to the account.
    as_other = sb.client("kms", sb.assume(other))
    denied(lambda: as_other.decrypt(CiphertextBlob=ciphertext), "AccessDeniedException")
    # A grant (made by the admin) is honoured.
    kms.create_grant(KeyId=key, GranteePrincipal=other, Operations=["Decrypt"])
    assert as_other.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"secret"


def test_persona_cannot_read_secrets_escalate_assume_or_grant_itself(
    sandbox_server: SandboxServer, world: dict[str, Any]
) -> None:
    """The stack's analyst policy (dcp.stack.policies.persona_policy) against every escape route."""
    from dcp.config import load_settings
    from dcp.names import StackNames
    from dcp.stack.policies import persona_policy

    sb, tag = sandbox_server, world["tag"]
    names = StackNames.of(load_settings(None), ACCOUNT, "us-east-1")
    analyst_name, training_name = f"gate-analyst-{tag}", f"gate-training-{tag}"
    analyst = sb.create_role(analyst_name, policy=persona_policy(names, world["bucket_key"], "analyst"))
    training = sb.create_role(training_name)
    creds = sb.assume(analyst)

    denied(
        lambda: sb.client("secretsmanager", creds).get_secret_value(SecretId=world["secret"]), "AccessDeniedException"
    )
    message = denied(
        lambda: sb.client("iam", creds).put_role_policy(
            RoleName=analyst_name, PolicyName="all", PolicyDocument=json.dumps(_doc(_allow("*", "*")))
        )
    )
    assert f"iam:PutRolePolicy on resource: {analyst}" in message
    denied(lambda: sb.client("sts", creds).assume_role(RoleArn=training, RoleSessionName="xx"))
    denied(
        lambda: sb.client("lakeformation", creds).grant_permissions(
            Principal={"DataLakePrincipalIdentifier": analyst},
            Resource={"Database": {"Name": "dataset"}},
            Permissions=["ALL"],
        ),
        "AccessDeniedException",
    )
    denied(lambda: sb.client("s3", creds).get_object(Bucket=world["enc"], Key="dataset/card/LOAD00000001.csv"))
    assert sb.client("sts", creds).get_caller_identity()["Arn"].endswith(f"assumed-role/{analyst_name}/test")


def test_assume_role_needs_the_trust_policy_as_well(sandbox_server: SandboxServer, world: dict[str, Any]) -> None:
    sb, tag = sandbox_server, world["tag"]
    caller = sb.create_role(f"gate-caller-{tag}", policy=_doc(_allow("sts:AssumeRole", "*")))
    service_role = sb.create_role(f"gate-glue-{tag}", service="glue.amazonaws.com")
    open_role = sb.create_role(f"gate-open-{tag}")
    sts = sb.client("sts", sb.assume(caller))
    denied(lambda: sts.assume_role(RoleArn=service_role, RoleSessionName="xx"))
    assert sts.assume_role(RoleArn=open_role, RoleSessionName="xx")["AssumedRoleUser"]["Arn"].endswith("/xx")


def test_secret_resource_policy_allows_a_role_without_identity_policy(
    sandbox_server: SandboxServer, world: dict[str, Any]
) -> None:
    sb, tag = sandbox_server, world["tag"]
    reader = sb.create_role(f"gate-secret-reader-{tag}")
    sm = sb.client("secretsmanager")
    sm.put_resource_policy(
        SecretId=world["secret"],
        ResourcePolicy=json.dumps(
            _doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": reader},
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": "*",
                }
            )
        ),
    )
    value = sb.client("secretsmanager", sb.assume(reader)).get_secret_value(SecretId=world["secret"])
    assert value["SecretString"] == "s3cr3t"


def test_anonymous_requests_are_refused(sandbox_server: SandboxServer, world: dict[str, Any]) -> None:
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    anonymous = boto3.client(
        "s3", region_name="us-east-1", endpoint_url=sandbox_server.url, config=Config(signature_version=UNSIGNED)
    )
    denied(lambda: anonymous.get_object(Bucket=world["plain"], Key="public/a.txt"))


def test_lake_formation_grants_need_an_administrator_whatever_iam_allows(
    sandbox_server: SandboxServer, world: dict[str, Any]
) -> None:
    sb, tag = sandbox_server, world["tag"]
    database = f"gate_db_{tag}"
    sb.client("glue").create_database(DatabaseInput={"Name": database})
    role = sb.create_role(f"gate-lfuser-{tag}", policy=_doc(_allow("lakeformation:*", "*")))
    request = {
        "Principal": {"DataLakePrincipalIdentifier": role},
        "Resource": {"Database": {"Name": database}},
        "Permissions": ["DESCRIBE"],
    }
    lf = sb.client("lakeformation", sb.assume(role))
    message = denied(lambda: lf.grant_permissions(**request), "AccessDeniedException")
    assert "not a data lake administrator" in message
    admin = sb.client("lakeformation")
    settings = admin.get_data_lake_settings()["DataLakeSettings"]
    settings["DataLakeAdmins"] = [*settings.get("DataLakeAdmins", []), {"DataLakePrincipalIdentifier": role}]
    admin.put_data_lake_settings(DataLakeSettings=settings)
    lf.grant_permissions(**request)
    settings["DataLakeAdmins"] = [a for a in settings["DataLakeAdmins"] if a["DataLakePrincipalIdentifier"] != role]
    admin.put_data_lake_settings(DataLakeSettings=settings)
