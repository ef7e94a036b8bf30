"""Who is calling: a request's access key resolved to its principal through moto's IAM and STS.

Keys issued by STS AssumeRole map to the assumed role, IAM users' keys to the user, and any
other key (the sandbox admin's `testing`) to the root of the default account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from dcp.sandbox import moto_compat

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
ADMIN_ACCESS_KEY = "testing"

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")

PrincipalKind = Literal["root", "user", "assumed-role"]


@dataclass(frozen=True)
class Principal:
    """The identity behind an access key."""

    arn: str
    account: str
    kind: PrincipalKind
    access_key: str = ""
    role_name: str | None = None
    role_arn: str | None = None  # the IAM role's ARN (not the assumed-role session ARN)
    user_name: str | None = None
    session_name: str | None = None

    @property
    def is_root(self) -> bool:
        return self.kind == "root"


@dataclass(frozen=True)
class Credential:
    """What a SigV4 Authorization header says: access key, region and signing service."""

    access_key: str
    region: str
    service: str


def parse_authorization(header: str | None) -> Credential | None:
    """The credential scope of a SigV4 `Authorization` header, or None if unsigned/malformed."""
    if not header:
        return None
    match = _CREDENTIAL.search(header)
    if match is None:
        return None
    return Credential(access_key=match.group(1), region=match.group(2), service=match.group(3))


def root_principal(account_id: str = DEFAULT_ACCOUNT_ID, access_key: str = "") -> Principal:
    return Principal(arn=f"arn:aws:iam::{account_id}:root", account=account_id, kind="root", access_key=access_key)


def role_principal(role_arn: str, session_name: str) -> Principal:
    """The principal of a session of the role `role_arn` (an assumed role, or a service using it)."""
    parts = role_arn.split(":")
    account = parts[4] if len(parts) > 4 else ""
    name = role_arn.split(":role/", 1)[-1].rsplit("/", 1)[-1]
    partition = parts[1] if len(parts) > 1 else "aws"
    return Principal(
        arn=f"arn:{partition}:sts::{account}:assumed-role/{name}/{session_name}",
        account=account,
        kind="assumed-role",
        role_name=name,
        role_arn=role_arn,
        session_name=session_name,
    )


def resolve_principal(access_key: str) -> Principal:
    """The principal `access_key` belongs to, per moto's STS (assumed roles) and IAM (users)."""
    if not access_key or access_key == ADMIN_ACCESS_KEY:
        return root_principal(access_key=access_key)
    iam_backends = moto_compat.backends("iam")
    sts_backends = moto_compat.backends("sts")
    for _account_id, by_partition in list(sts_backends.items()):
        for partition in list(by_partition.keys()):
            backend = by_partition[partition]
            assumed = backend.get_assumed_role_from_access_key(access_key)
            if assumed is not None:
                return replace(role_principal(assumed.role_arn, assumed.session_name), access_key=access_key)
    for account_id, iam_by_partition in list(iam_backends.items()):
        for partition in list(iam_by_partition.keys()):
            iam = iam_by_partition[partition]
            key = iam.access_keys.get(access_key)
            if key is None:
                continue
            user_name = getattr(key, "user_name", None)
            if user_name:
                return Principal(
                    arn=f"arn:{partition}:iam::{account_id}:user/{user_name}",
                    account=account_id,
                    kind="user",
                    access_key=access_key,
                    user_name=user_name,
                )
    return root_principal(access_key=access_key)


def identity_policies(principal: Principal) -> list[str]:
    """The IAM policy documents (inline + attached, and the user's groups') of `principal`.

    Empty for the root and for principals moto does not know (a role that was deleted).
    """
    iam_backends = moto_compat.backends("iam")
    if principal.kind == "root":
        return []
    iam = iam_backends[principal.account]["aws"]
    holders: list[object] = []
    try:
        if principal.kind == "assumed-role" and principal.role_name:
            holders.append(iam.get_role(principal.role_name))
        elif principal.kind == "user" and principal.user_name:
            holders.append(iam.get_user(principal.user_name))
            holders.extend(iam.get_groups_for_user(principal.user_name))
    except Exception:  # moto raises its NoSuchEntity: nothing to grant
        return []
    documents: list[str] = []
    for holder in holders:
        documents.extend(str(doc) for doc in getattr(holder, "policies", {}).values())
        for managed in getattr(holder, "managed_policies", {}).values():
            for version in managed.versions:
                if version.is_default:
                    documents.append(str(version.document))
    return documents


def principal_arns(principal: Principal) -> tuple[str, ...]:
    """Every ARN a policy may name the principal by (role ARN and session ARN for assumed roles)."""
    arns = [principal.arn]
    if principal.role_arn:
        arns.append(principal.role_arn)
    return tuple(arns)
