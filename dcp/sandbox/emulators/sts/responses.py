"""GetCallerIdentity for the sandbox admin: the account root, as the policy evaluator sees it.

moto answers an access key it does not know (the sandbox admin's) with ``user/moto``, while
every gate (KMS key policies, IAM, Lake Formation) treats that key as the account root. `dcp up`
writes the caller's ARN into the data key's policy, so the two must agree, or the key names a
principal that never calls. With root credentials AWS returns the account id as UserId and
``arn:aws:iam::<account>:root`` as Arn
(https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
Users and assumed roles are moto's to answer.
"""

from __future__ import annotations

from typing import Any

from dcp.sandbox.registry import FORWARD, Call, emulates


@emulates("sts", "GetCallerIdentity")
def get_caller_identity(call: Call) -> dict[str, Any]:
    principal = call.principal
    if not principal.is_root:
        return FORWARD
    return {"UserId": principal.account, "Account": principal.account, "Arn": principal.arn}
