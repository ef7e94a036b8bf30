"""KMS in the sandbox honours the key policy, IAM policies and grants for the calling role."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from dcp.masking.crypto import META_WRAPPED_KEY, encryption_context
from tests.sandbox_fixture import SandboxServer

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"


def key_policy(*allowed_roles: str, deny: dict[str, Any] | None = None) -> str:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Root",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
    ]
    if allowed_roles:
        statements.append(
            {
                "Sid": "Use",
                "Effect": "Allow",
                "Principal": {"AWS": list(allowed_roles)},
                "Action": ["kms:Decrypt", "kms:Generate*", "kms:Encrypt"],
                "Resource": "*",
            }
        )
    if deny:
        statements.append(deny)
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def roles(sandbox_server: SandboxServer) -> dict[str, str]:
    return {name: sandbox_server.create_role(f"kms-{name}") for name in ("ml", "analyst", "auditor", "denied")}


def test_only_roles_the_key_policy_allows_can_decrypt(sandbox_server: SandboxServer, roles: dict[str, str]) -> None:
    sb = sandbox_server
    kms = sb.client("kms")
    key_id = kms.create_key(Policy=key_policy(roles["ml"]))["KeyMetadata"]["KeyId"]
    context = {"table": "card", "column": "card_number"}
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)

    ml = sb.client("kms", sb.assume(roles["ml"]))
    assert (
        ml.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=context)["Plaintext"]
        == data_key["Plaintext"]
    )
    assert ml.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)["KeyId"].endswith(key_id)

    analyst = sb.client("kms", sb.assume(roles["analyst"]))
    with pytest.raises(ClientError) as denied:
        analyst.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=context)
    assert code(denied) == "AccessDeniedException"
    assert "assumed-role/kms-analyst/" in denied.value.response["Error"]["Message"]
    assert "Plaintext" not in denied.value.response
    with pytest.raises(ClientError) as denied_generate:
        analyst.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert code(denied_generate) == "AccessDeniedException"
    with pytest.raises(ClientError) as denied_reencrypt:
        analyst.re_encrypt(
            CiphertextBlob=data_key["CiphertextBlob"],
            SourceEncryptionContext=context,
            DestinationKeyId=key_id,
        )
    assert code(denied_reencrypt) == "AccessDeniedException"


def test_iam_policy_counts_when_the_key_policy_delegates_to_the_account(
    sandbox_server: SandboxServer, roles: dict[str, str]
) -> None:
    sb = sandbox_server
    kms, iam = sb.client("kms"), sb.client("iam")
    key = kms.create_key(Policy=key_policy())["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    auditor = sb.client("kms", sb.assume(roles["auditor"]))
    with pytest.raises(ClientError):
        auditor.decrypt(CiphertextBlob=blob)
    iam.put_role_policy(
        RoleName="kms-auditor",
        PolicyName="decrypt",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key["Arn"]}],
            }
        ),
    )
    auditor = sb.client("kms", sb.assume(roles["auditor"]))
    assert auditor.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"


def test_explicit_deny_wins_and_grants_add_access(sandbox_server: SandboxServer, roles: dict[str, str]) -> None:
    sb = sandbox_server
    kms = sb.client("kms")
    deny = {"Effect": "Deny", "Principal": {"AWS": roles["denied"]}, "Action": "kms:Decrypt", "Resource": "*"}
    key_id = kms.create_key(Policy=key_policy(roles["denied"], deny=deny))["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    denied = sb.client("kms", sb.assume(roles["denied"]))
    with pytest.raises(ClientError) as error:
        denied.decrypt(CiphertextBlob=blob)
    assert code(error) == "AccessDeniedException"
    assert denied.encrypt(KeyId=key_id, Plaintext=b"y")["KeyId"].endswith(key_id)  # only Decrypt is denied

    analyst = sb.client("kms", sb.assume(roles["analyst"]))
    with pytest.raises(ClientError):
        analyst.decrypt(CiphertextBlob=blob)
    kms.create_grant(KeyId=key_id, GranteePrincipal=roles["analyst"], Operations=["Decrypt"])
    assert analyst.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_the_admin_and_unknown_keys_behave_like_aws(sandbox_server: SandboxServer) -> None:
    kms = sandbox_server.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]  # default policy: the account root
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"z")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"z"
    with pytest.raises(ClientError) as missing:
        kms.encrypt(KeyId="alias/does-not-exist", Plaintext=b"z")
    assert code(missing) == "NotFoundException"


def test_the_admins_caller_identity_is_the_principal_the_gates_evaluate(sandbox_server: SandboxServer) -> None:
    """The sandbox admin is the account root to every gate, so STS must say so too: `dcp up`
    writes this ARN into the data key's policy."""
    identity = sandbox_server.client("sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert identity["Account"] == ACCOUNT


def test_the_documented_local_mask_works_with_the_default_key_and_the_operator_cannot_decrypt(
    tmp_path: Path,
) -> None:
    """README: `dcp --local mask data/card.csv --out out/` after `dcp --local up` uses
    alias/<prefix>-data; the operator may generate the data key but never decrypt it."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from dcp.masking.sample_data import generate_table
    from dcp.sandbox import control

    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "DCP_LOCAL", "DCP_CONFIG")}
    (tmp_path / "config.yaml").write_text("project:\n  prefix: kmsdoc\n")
    pacsv.write_csv(generate_table("card", 30, seed=5), tmp_path / "card.csv")

    def dcp(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dcp", "--local", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    try:
        up = dcp("up")
        assert up.returncode == 0, up.stderr
        masked = dcp("mask", "card.csv", "--out", "out/")
        assert masked.returncode == 0, masked.stderr
        footer = pq.read_schema(tmp_path / "out" / "card.encrypted.parquet").metadata
        wrapped = footer[META_WRAPPED_KEY]
        state = json.loads((tmp_path / ".dcp" / "sandbox.json").read_text())
        kms = boto3.client(
            "kms",
            endpoint_url=state["url"],
            region_name="us-east-1",
            aws_access_key_id=control.ADMIN_ACCESS_KEY,
            aws_secret_access_key=control.ADMIN_ACCESS_KEY,
        )
        with pytest.raises(ClientError) as refused:
            kms.decrypt(CiphertextBlob=base64.b64decode(wrapped), EncryptionContext=encryption_context("card"))
        assert code(refused) == "AccessDeniedException"
    finally:
        if (tmp_path / ".dcp" / "sandbox.json").exists():
            control.stop(tmp_path / ".dcp")


def test_the_jobs_role_unwraps_only_keys_wrapped_with_a_table_context(
    sandbox_server: SandboxServer, roles: dict[str, str]
) -> None:
    """The stack's data key policy (policies.data_key_policy, `reusers`): the Glue role may Decrypt
    a table's data key (incremental runs keep one key per table), never a blob without the
    `dcp:table` encryption context, and never with an empty table name."""
    from dcp.config import default_settings
    from dcp.names import StackNames
    from dcp.stack.policies import data_key_policy

    sb = sandbox_server
    names = StackNames.of(default_settings(), ACCOUNT, "us-east-1")
    doc = data_key_policy(
        names, admin=f"arn:aws:iam::{ACCOUNT}:root", decrypters=[], generators=[], reusers=[roles["auditor"]]
    )
    key_id = sb.client("kms").create_key(Policy=json.dumps(doc))["KeyMetadata"]["KeyId"]
    admin = sb.client("kms")
    table_key = admin.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=encryption_context("card"))
    job = sb.client("kms", sb.assume(roles["auditor"]))
    assert (
        job.decrypt(CiphertextBlob=table_key["CiphertextBlob"], EncryptionContext=encryption_context("card"))[
            "Plaintext"
        ]
        == table_key["Plaintext"]
    )
    other = admin.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext={"purpose": "other"})
    for blob, context in ((other["CiphertextBlob"], {"purpose": "other"}), (other["CiphertextBlob"], None)):
        with pytest.raises(ClientError) as denied:
            job.decrypt(CiphertextBlob=blob, **({"EncryptionContext": context} if context else {}))
        assert code(denied) == "AccessDeniedException"
    empty = admin.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext={"dcp:table": ""})
    with pytest.raises(ClientError) as denied:
        job.decrypt(CiphertextBlob=empty["CiphertextBlob"], EncryptionContext={"dcp:table": ""})
    assert code(denied) == "AccessDeniedException"
