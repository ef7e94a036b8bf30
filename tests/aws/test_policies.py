"""Every policy the stack creates passes parliament and grants no `*` action on `*`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from parliament import analyze_policy_string

from dcp.config import Settings
from dcp.stack import deploy
from dcp.stack.build import build_stack
from dcp.stack.resources.base import policy_doc
from tests.aws.aws_account import Env

BLOCKING = ("MEDIUM", "HIGH", "CRITICAL")


def findings(doc: dict[str, Any], *, trust: bool = False) -> list[str]:
    analyzed = analyze_policy_string(json.dumps(doc), ignore_private_auditors=True)
    out = []
    for f in analyzed.findings:
        # A trust policy has no Resource by definition; parliament reads every policy as an
        # identity policy and reports that as MALFORMED.
        if trust and f.issue == "MALFORMED" and "Resource" in str(f.detail):
            continue
        if f.severity in BLOCKING:
            out.append(f"{f.severity} {f.issue} {f.detail}")
    return out


def star_on_star(doc: dict[str, Any]) -> bool:
    for st in doc["Statement"]:
        actions = st.get("Action", [])
        resources = st.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if st["Effect"] == "Allow" and "*" in resources and any(a in ("*", "*:*") for a in actions):
            return True
    return False


@pytest.mark.slow
def test_every_stack_policy_passes_parliament(aws_env: Env, settings: Settings) -> None:
    assert deploy.up(settings, aws_env.ctx).result.ok
    names = build_stack(settings, aws_env.ctx).names
    iam = aws_env.ctx.client("iam")
    checked: dict[str, list[str]] = {}
    roles = [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(f"{names.prefix}-")]
    assert len(roles) >= 6 + len(settings.lakeformation.personas)
    for role in roles:
        name = role["RoleName"]
        trust = policy_doc(role["AssumeRolePolicyDocument"])
        checked[f"{name} trust"] = findings(trust, trust=True)
        for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            doc = policy_doc(iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
            checked[f"{name} {policy_name}"] = findings(doc)
            assert not star_on_star(doc), f"{name} {policy_name} grants * on *"
    kms = aws_env.ctx.client("kms")
    for alias in (names.data_key_alias, names.bucket_key_alias):
        key = kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
        doc = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
        checked[f"key policy {alias}"] = findings(doc)
    s3 = aws_env.ctx.client("s3")
    for kind in ("raw", "logs"):
        doc = json.loads(s3.get_bucket_policy(Bucket=names.bucket(kind))["Policy"])
        checked[f"bucket policy {kind}"] = findings(doc)
    assert len(checked) > 20
    assert {k: v for k, v in checked.items() if v} == {}


@pytest.mark.slow
def test_only_ml_training_may_decrypt_with_the_data_key(aws_env: Env, settings: Settings) -> None:
    assert deploy.up(settings, aws_env.ctx).result.ok
    names = build_stack(settings, aws_env.ctx).names
    kms = aws_env.ctx.client("kms")
    key = kms.describe_key(KeyId=names.data_key_alias)["KeyMetadata"]["KeyId"]
    doc = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    can_decrypt: set[str] = set()
    unwraps_table_keys: set[str] = set()
    for st in doc["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if any(a in ("kms:Decrypt", "kms:*") for a in actions):
            principals = st["Principal"]["AWS"]
            found = set(principals if isinstance(principals, list) else [principals])
            if st.get("Condition"):
                # the Glue job unwraps a table's key (incremental runs), only with the table context
                assert st["Condition"] == {"StringLike": {"kms:EncryptionContext:dcp:table": "?*"}}
                unwraps_table_keys |= found
            else:
                can_decrypt |= found
    # The operator encrypts (dcp mask, the job's data keys) but never unwraps a data key.
    assert can_decrypt == {names.persona_role_arn("ml-training")}
    assert unwraps_table_keys == {names.role_arn("glue")}
    iam = aws_env.ctx.client("iam")
    for persona in ("analyst", "data-scientist"):
        policies = iam.list_role_policies(RoleName=names.persona_role(persona))["PolicyNames"]
        text = json.dumps(
            [
                iam.get_role_policy(RoleName=names.persona_role(persona), PolicyName=p)["PolicyDocument"]
                for p in policies
            ]
        )
        assert key not in text


def test_an_assumed_role_operator_is_named_by_its_role_arn_with_path(aws_env: Env, settings: Settings) -> None:
    from dcp.names import StackNames
    from dcp.stack.refs import Refs, iam_principal

    assert iam_principal("arn:aws:sts::111122223333:assumed-role/Admin/me") == "arn:aws:iam::111122223333:role/Admin"
    assert iam_principal("arn:aws:sts::111122223333:user/bob") == "arn:aws:iam::111122223333:user/bob"
    iam = aws_env.ctx.client("iam")
    role = iam.create_role(
        RoleName="AWSReservedSSO_Admin_0123",
        Path="/aws-reserved/sso.amazonaws.com/",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
            }
        ),
    )["Role"]
    operator = aws_env.ctx.assume(role["Arn"])
    names = StackNames.of(settings, operator.account_id, operator.region)
    assert Refs(operator, names).caller_arn() == role["Arn"]


def test_each_persona_reaches_only_its_own_workgroup_and_results_folder(settings: Settings) -> None:
    """No persona's policy names another persona's workgroup or result files (issue: shared results)."""
    from dcp.names import StackNames
    from dcp.stack.policies import persona_policy

    names = StackNames.of(settings, "123456789012", "us-east-1")
    results = f"arn:aws:s3:::{names.athena_results_bucket}"
    for persona in settings.lakeformation.personas:
        doc = persona_policy(names, "arn:aws:kms:us-east-1:123456789012:key/k", persona)
        by_sid = {s["Sid"]: s for s in doc["Statement"]}
        assert by_sid["Athena"]["Resource"] == [f"arn:aws:athena:us-east-1:123456789012:workgroup/dcp-wg-{persona}"]
        assert by_sid["Results"]["Resource"] == [f"{results}/{persona}/*"]
        assert by_sid["ListResults"]["Condition"] == {"StringLike": {"s3:prefix": [f"{persona}/*"]}}
        everything = json.dumps(doc)
        assert f"{results}/*" not in everything
        for other in settings.lakeformation.personas:
            if other != persona:
                assert f"dcp-wg-{other}" not in everything and f"/{other}/" not in everything
