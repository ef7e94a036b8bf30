"""Deliver S3 event notifications to Lambda functions.

moto already decides *which* notification configurations match an object event (event name,
prefix/suffix filter rules) for every way an object is created (PutObject, CopyObject,
CompleteMultipartUpload, ...) and builds the event record; it then calls
`moto.s3.notifications._invoke_awslambda`, which needs Docker. :func:`install` replaces that
function with :func:`deliver`: check the function's resource policy lets S3 invoke it for this
bucket (lambda AddPermission), complete the record the way S3 writes it, and invoke the
function asynchronously (`Event`) like S3 does.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from dcp.sandbox import moto_compat
from dcp.sandbox.policy_eval import AccessRequest, conditions_hold, wildcard_match
from dcp.sandbox.registry import AwsError, active_config

log = logging.getLogger("dcp.sandbox")


def s3_may_invoke(function: Any, bucket_arn: str, account_id: str) -> bool:
    """Whether the function's resource policy allows s3.amazonaws.com to invoke it for the bucket."""
    statements = list(getattr(function.policy, "statements", []) or [])
    request = AccessRequest(
        action="lambda:InvokeFunction",
        resource=function.function_arn,
        account=account_id,
        context={"AWS:SourceArn": bucket_arn, "AWS:SourceAccount": account_id},
    )
    allowed = False
    for statement in statements:
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else principal
        services = services if isinstance(services, list) else [services]
        if not any(s in ("s3.amazonaws.com", "*") for s in services):
            continue
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if not any(wildcard_match(str(a), "lambda:InvokeFunction", case_sensitive=False) for a in actions):
            continue
        if not conditions_hold(statement, request):
            continue
        if str(statement.get("Effect")).lower() == "deny":
            return False
        allowed = True
    return allowed


def complete_record(event_body: dict[str, Any], account_id: str) -> dict[str, Any]:
    """Add the fields S3 writes and moto leaves out (userIdentity, requestParameters, sequencer)."""
    for record in event_body.get("Records", []):
        record.setdefault("userIdentity", {"principalId": f"AWS:{account_id}"})
        record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
        record.setdefault("responseElements", {"x-amz-request-id": "DCPSANDBOX", "x-amz-id-2": "dcp-sandbox"})
        s3 = record.get("s3", {})
        s3.get("bucket", {}).setdefault("ownerIdentity", {"principalId": account_id})
        s3.get("object", {}).setdefault("sequencer", "0000000000000000")
    return event_body


def deliver(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    """moto's `_invoke_awslambda` replacement: permission check, then an async invocation."""
    from dcp.sandbox.emulators.lambda_.models import get_function, invoke_function

    try:
        function = get_function(account_id, region_name, fn_arn)
    except AwsError:
        log.warning("sandbox: S3 notification for missing function %s dropped", fn_arn)
        return
    records = event_body.get("Records", []) if isinstance(event_body, dict) else []
    bucket_arn = records[0]["s3"]["bucket"]["arn"] if records else ""
    if not s3_may_invoke(function, bucket_arn, account_id):
        log.warning(
            "sandbox: S3 may not invoke %s (no lambda permission for s3.amazonaws.com and %s); notification dropped",
            fn_arn,
            bucket_arn,
        )
        return
    payload = json.dumps(complete_record(event_body, account_id)).encode("utf-8")
    try:
        invoke_function(account_id, region_name, function, payload, active_config(), invocation_type="Event")
    except Exception:
        log.exception("sandbox: S3 notification to %s failed", fn_arn)


def install() -> None:
    moto_compat.install_s3_lambda_delivery(deliver)
