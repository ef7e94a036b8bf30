"""S3 bucket policies evaluated like AWS does, replacing moto's `FakeBucket.get_permission`.

moto treats a statement whose Condition does not hold as a *Deny*, so the standard
"deny unless aws:SecureTransport" policy locks everyone out of the bucket. Here a statement
applies only when its principal, action, resource and conditions all match (via
:mod:`dcp.sandbox.policy_eval`), with the calling principal taken from the request being
served. The sandbox stands in for AWS's HTTPS endpoints, so `aws:SecureTransport` is "true".
"""

from __future__ import annotations

from typing import Any

from dcp.sandbox import moto_compat
from dcp.sandbox.identity import principal_arns
from dcp.sandbox.policy_eval import AccessRequest, Decision, evaluate
from dcp.sandbox.registry import current_call


def bucket_permission(bucket: Any, action: str, resource: str) -> bool | None:
    """Whether the bucket's policy allows (True) or denies (False) the call; None: it says nothing."""
    call = current_call.get()
    arns = principal_arns(call.principal) if call is not None else ()
    account = call.principal.account if call is not None else bucket.account_id
    policy = bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy
    request = AccessRequest(
        action=action,
        resource=resource,
        principal_arns=arns,
        account=account,
        context={
            "aws:SecureTransport": "true",
            "aws:PrincipalAccount": account,
            **({"aws:PrincipalArn": call.principal.role_arn or call.principal.arn} if call else {}),
        },
    )
    decision = evaluate([policy], request, resource_policy=True)
    if decision is Decision.DENY:
        return False
    if decision is Decision.ALLOW:
        return True
    return None


def install() -> None:
    moto_compat.install_bucket_permission(bucket_permission)
