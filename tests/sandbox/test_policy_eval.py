"""Pure IAM/key-policy evaluation."""

from __future__ import annotations

import json
from collections.abc import Mapping

from dcp.sandbox.policy_eval import AccessRequest, Decision, evaluate, kms_key_access, wildcard_match

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ml"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/ml/s1"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1"


def request(
    action: str = "kms:Decrypt",
    principals: tuple[str, ...] = (ROLE, SESSION),
    context: Mapping[str, str] | None = None,
) -> AccessRequest:
    return AccessRequest(
        action=action, resource=KEY, principal_arns=principals, account=ACCOUNT, context=dict(context or {})
    )


def policy(*statements: Mapping[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ROOT = {
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def test_wildcards() -> None:
    assert wildcard_match("kms:Generate*", "kms:GenerateDataKey")
    assert wildcard_match("KMS:decrypt", "kms:Decrypt", case_sensitive=False)
    assert not wildcard_match("kms:Decrypt", "kms:DecryptX")
    assert wildcard_match("arn:aws:kms:*:*:key/?1", KEY)


def test_identity_policy_allow_deny_and_no_match() -> None:
    allow = policy({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": KEY})
    deny = policy({"Effect": "Deny", "Action": "kms:*", "Resource": "*"})
    assert evaluate([allow], request()) is Decision.ALLOW
    assert evaluate([allow, deny], request()) is Decision.DENY
    assert evaluate([allow], request("kms:Encrypt")) is Decision.NO_MATCH
    not_action = policy({"Effect": "Allow", "NotAction": "kms:Decrypt", "Resource": "*"})
    assert evaluate([not_action], request()) is Decision.NO_MATCH
    assert evaluate([not_action], request("kms:Encrypt")) is Decision.ALLOW


def test_key_policy_principal_direct_and_delegated() -> None:
    direct = policy(ROOT, {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*"})
    assert kms_key_access(direct, [], request()) is Decision.ALLOW
    other = request(principals=(f"arn:aws:iam::{ACCOUNT}:role/analyst",))
    assert kms_key_access(direct, [], other) is Decision.NO_MATCH  # root only delegates to IAM
    iam_allow = policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"})
    assert kms_key_access(direct, [iam_allow], other) is Decision.ALLOW
    no_root = policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*"})
    assert kms_key_access(no_root, [iam_allow], other) is Decision.NO_MATCH  # without delegation IAM is not enough
    assert kms_key_access(no_root, [], other, granted=True) is Decision.ALLOW
    root = request(principals=(f"arn:aws:iam::{ACCOUNT}:root",))
    assert kms_key_access(policy(ROOT), [], root, is_root=True) is Decision.ALLOW


def test_explicit_deny_beats_everything() -> None:
    key = policy(
        ROOT,
        {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*"},
    )
    assert kms_key_access(key, [], request(), granted=True) is Decision.DENY
    iam_deny = policy({"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"})
    allowing = policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:*", "Resource": "*"})
    assert kms_key_access(allowing, [iam_deny], request()) is Decision.DENY
    star = policy({"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"})
    assert kms_key_access(star, [], request()) is Decision.DENY


def test_conditions_on_encryption_context() -> None:
    key = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ROLE},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:table": "card"}},
        }
    )
    assert kms_key_access(key, [], request(context={"kms:EncryptionContext:table": "card"})) is Decision.ALLOW
    assert kms_key_access(key, [], request(context={"kms:EncryptionContext:table": "bank"})) is Decision.NO_MATCH
    assert kms_key_access(key, [], request()) is Decision.NO_MATCH
    like = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ROLE},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringLikeIfExists": {"kms:EncryptionContext:table": "c*"}},
        }
    )
    assert kms_key_access(like, [], request()) is Decision.ALLOW
    assert kms_key_access(like, [], request(context={"kms:EncryptionContext:table": "bank"})) is Decision.NO_MATCH
    unknown = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ROLE},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"NumericLessThan": {"kms:Whatever": "3"}},
        }
    )
    assert kms_key_access(unknown, [], request(context={"kms:Whatever": "1"})) is Decision.NO_MATCH


def test_malformed_documents_grant_nothing() -> None:
    assert evaluate(["not json", None, "[]"], request()) is Decision.NO_MATCH
    assert kms_key_access("{", [], request()) is Decision.NO_MATCH
