"""IAM policy evaluation (pure): does a policy document allow an action on a resource for a principal?

Implements the part of AWS's evaluation logic the sandbox needs: Effect Allow/Deny with
explicit Deny winning, Action/NotAction and Resource/NotResource with `*`/`?` wildcards
(actions case-insensitive), Principal/NotPrincipal for resource policies (`*`, ARNs, account
IDs, `arn:aws:iam::ACCT:root` meaning *the account*), and the condition operators
String(Not)Equals/Like, Arn(Not)Equals/Like, Bool, Null with `...IfExists` and the
`ForAnyValue:`/`ForAllValues:` set prefixes.

KMS key access (:func:`kms_key_access`) follows AWS's rule: a key policy statement naming the
principal allows by itself; one naming the account root only *delegates* to IAM, so the
caller's identity policies must allow as well; an explicit Deny anywhere wins.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any


class Decision(Enum):
    ALLOW = "allow"
    DENY = "deny"  # an explicit Deny statement matched
    NO_MATCH = "no-match"  # implicit deny


@dataclass(frozen=True)
class AccessRequest:
    """One authorisation question."""

    action: str  # "kms:Decrypt"
    resource: str  # an ARN, or "*"
    principal_arns: tuple[str, ...] = ()  # every ARN the caller is known by (role and session ARN)
    account: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)  # condition keys -> str | list[str]


Document = Mapping[str, Any] | str


def parse_document(document: Document | None) -> dict[str, Any]:
    if document is None:
        return {}
    if isinstance(document, str):
        try:
            parsed = json.loads(document)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return dict(document)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@lru_cache(maxsize=4096)
def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    return bool(_wildcard(pattern, case_sensitive).match(value))


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(wildcard_match(p, action, case_sensitive=False) for p in _as_list(statement["NotAction"]))
    return any(wildcard_match(p, action, case_sensitive=False) for p in _as_list(statement.get("Action")))


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(wildcard_match(p, resource) for p in _as_list(statement["NotResource"]))
    if "Resource" not in statement:
        return True  # resource policies may omit it: the resource is the one they are attached to
    return any(wildcard_match(p, resource) for p in _as_list(statement["Resource"]))


def _principal_values(principal: Any) -> list[str]:
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        values: list[str] = []
        for kind, entries in principal.items():
            if kind in ("AWS", "CanonicalUser"):
                values.extend(str(e) for e in _as_list(entries))
        return values
    return [str(p) for p in _as_list(principal)]


def is_account_principal(value: str) -> bool:
    return bool(re.fullmatch(r"\d{12}", value) or re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:root", value))


def _account_of(value: str) -> str:
    return value if value.isdigit() else value.split(":")[4]


def principal_matches(value: str, request: AccessRequest, *, include_account: bool = True) -> bool:
    if value == "*":
        return True
    if is_account_principal(value):
        return include_account and _account_of(value) == request.account
    return any(wildcard_match(value, arn) for arn in request.principal_arns)


def _principal_in(statement: Mapping[str, Any], request: AccessRequest, include_account: bool) -> bool:
    if "NotPrincipal" in statement:
        return not any(principal_matches(v, request) for v in _principal_values(statement["NotPrincipal"]))
    return any(
        principal_matches(v, request, include_account=include_account)
        for v in _principal_values(statement.get("Principal"))
    )


# ---- conditions
def _cond_values(request: AccessRequest, key: str) -> list[str] | None:
    for candidate, value in request.context.items():
        if candidate.lower() == key.lower():
            return [str(v) for v in _as_list(value)]
    return None


def _compare(op: str, actual: str, expected: str) -> bool:
    if op in ("StringEquals", "ArnEquals"):
        return actual == expected
    if op == "StringEqualsIgnoreCase":
        return actual.lower() == expected.lower()
    if op in ("StringLike", "ArnLike"):
        return wildcard_match(expected, actual)
    if op == "Bool":
        return actual.lower() == expected.lower()
    raise ValueError(op)


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
}


def _condition_holds(operator: str, key: str, expected: Any, request: AccessRequest) -> bool:
    set_op = None
    if ":" in operator:
        set_op, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    actual = _cond_values(request, key)
    expected_values = [str(v) for v in _as_list(expected)]
    if operator == "Null":
        is_null = actual is None
        return any((v.lower() == "true") == is_null for v in expected_values)
    if actual is None:
        if if_exists or set_op == "ForAllValues":
            return True
        return operator in _NEGATED
    negated = operator in _NEGATED
    base = _NEGATED.get(operator, operator)
    try:
        matches = [any(_compare(base, a, e) for e in expected_values) for a in actual]
    except ValueError:
        return False  # an operator we do not know never grants
    result = all(matches) if set_op == "ForAllValues" else any(matches)
    return not result if negated else result


def conditions_hold(statement: Mapping[str, Any], request: AccessRequest) -> bool:
    condition = statement.get("Condition") or {}
    if not isinstance(condition, Mapping):
        return False
    for operator, pairs in condition.items():
        if not isinstance(pairs, Mapping):
            return False
        for key, expected in pairs.items():
            if not _condition_holds(str(operator), str(key), expected, request):
                return False
    return True


# ---- evaluation
def statements(document: Document | None) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(parse_document(document).get("Statement")) if isinstance(s, Mapping)]


def evaluate(
    documents: Iterable[Document | None],
    request: AccessRequest,
    *,
    resource_policy: bool = False,
    include_account: bool = True,
) -> Decision:
    """The decision of `documents` taken together (any Deny wins, else any Allow, else no match).

    `resource_policy` makes Principal/NotPrincipal part of the match; `include_account` lets an
    account principal (`ACCT`, `arn:aws:iam::ACCT:root`) match any caller of that account.
    """
    allowed = False
    for document in documents:
        for statement in statements(document):
            if resource_policy and not _principal_in(statement, request, include_account):
                continue
            if not (_action_matches(statement, request.action) and _resource_matches(statement, request.resource)):
                continue
            if not conditions_hold(statement, request):
                continue
            if str(statement.get("Effect", "")).lower() == "deny":
                return Decision.DENY
            if str(statement.get("Effect", "")).lower() == "allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.NO_MATCH


def _delegates_to_account(document: Document | None, request: AccessRequest) -> bool:
    """Whether an Allow statement for this action names the caller's account (root) as principal."""
    for statement in statements(document):
        if str(statement.get("Effect", "")).lower() != "allow":
            continue
        if not any(
            is_account_principal(v) and _account_of(v) == request.account
            for v in _principal_values(statement.get("Principal"))
        ):
            continue
        if (
            _action_matches(statement, request.action)
            and _resource_matches(statement, request.resource)
            and conditions_hold(statement, request)
        ):
            return True
    return False


def kms_key_access(
    key_policy: Document | None,
    identity_policies: Sequence[Document],
    request: AccessRequest,
    *,
    is_root: bool = False,
    granted: bool = False,
) -> Decision:
    """Whether the caller may perform `request.action` on a KMS key.

    `is_root`: the caller is the account root (has every IAM permission). `granted`: a KMS grant
    on the key gives the caller this operation (grants only add permissions).
    """
    if evaluate([key_policy], request, resource_policy=True) is Decision.DENY:
        return Decision.DENY
    if evaluate(identity_policies, request) is Decision.DENY:
        return Decision.DENY
    if evaluate([key_policy], request, resource_policy=True, include_account=False) is Decision.ALLOW:
        return Decision.ALLOW
    delegated = _delegates_to_account(key_policy, request)
    if delegated and (is_root or evaluate(identity_policies, request) is Decision.ALLOW):
        return Decision.ALLOW
    if granted:
        return Decision.ALLOW
    return Decision.NO_MATCH
