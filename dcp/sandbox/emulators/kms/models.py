"""Who may use a KMS key: the key policy, the caller's IAM policies and the key's grants.

moto keeps the keys and does the cryptography; this module only decides, with
:func:`dcp.sandbox.policy_eval.kms_key_access`, whether the caller may.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dcp.sandbox import moto_compat
from dcp.sandbox.identity import Principal, identity_policies, principal_arns
from dcp.sandbox.policy_eval import AccessRequest, Decision, kms_key_access

# moto's ciphertext blobs start with the 36-character key id of the key that made them.
_KEY_ID_LEN = 36


@dataclass(frozen=True)
class KeyRef:
    """A key moto knows: its id, ARN, policy and grants."""

    key_id: str
    arn: str
    policy: str | None
    grants: tuple[Any, ...]


def find_key(account_id: str, region: str, key_id: str) -> KeyRef | None:
    """The key behind an id, ARN, alias name or alias ARN, or None (moto then answers NotFound)."""
    kms_backends = moto_compat.backends("kms")
    backend = kms_backends[account_id][region]
    try:
        resolved = backend.any_id_to_key_id(key_id)
        key = backend.keys[resolved]
    except Exception:  # moto's NotFound / KeyError: let moto produce the AWS error
        return None
    return KeyRef(key_id=key.id, arn=key.arn, policy=key.policy, grants=tuple(key.grants.values()))


def key_id_of_ciphertext(blob: bytes) -> str | None:
    if not isinstance(blob, bytes | bytearray) or len(blob) < _KEY_ID_LEN:
        return None
    try:
        return bytes(blob[:_KEY_ID_LEN]).decode("ascii")
    except UnicodeDecodeError:
        return None


def _granted(key: KeyRef, arns: tuple[str, ...], operation: str, context: Mapping[str, str]) -> bool:
    for grant in key.grants:
        if grant.grantee_principal not in arns or operation not in (grant.operations or []):
            continue
        constraints = grant.constraints or {}
        subset = constraints.get("EncryptionContextSubset")
        equals = constraints.get("EncryptionContextEquals")
        if subset and any(context.get(k) != v for k, v in subset.items()):
            continue
        if equals and dict(context) != dict(equals):
            continue
        return True
    return False


def key_decision(
    principal: Principal,
    key: KeyRef,
    operation: str,
    conditions: Mapping[str, Any],
    identity: Sequence[str] | None = None,
) -> Decision:
    """The key policy's (and IAM's, where it delegates, and the grants') decision on kms:`operation`.

    `conditions` holds the request's condition keys (`kms:EncryptionContext:<k>` among them).
    """
    prefix = "kms:EncryptionContext:"
    context = {k[len(prefix) :]: str(v) for k, v in conditions.items() if k.startswith(prefix)}
    full: dict[str, Any] = {
        "kms:EncryptionContextKeys": sorted(context),
        "kms:CallerAccount": principal.account,
        "aws:PrincipalArn": principal.role_arn or principal.arn,
        **conditions,
    }
    arns = principal_arns(principal)
    request = AccessRequest(
        action=f"kms:{operation}",
        resource=key.arn,
        principal_arns=arns,
        account=principal.account,
        context=full,
    )
    return kms_key_access(
        key.policy,
        identity_policies(principal) if identity is None else identity,
        request,
        is_root=principal.is_root,
        granted=_granted(key, arns, operation, context),
    )
