"""Corrections to moto 5.2.5 behaviour the stack depends on (AWS semantics, not our code).

moto's in-process backends are not thread-safe: `up` and `down` run steps on several threads,
and moto iterating its IAM roles while another thread creates one raises "dictionary changed
size during iteration" (AWS serves concurrent calls). `one_request_at_a_time` serialises moto's
handling of each request; the calls themselves, and the engine's threads, stay concurrent.

moto evaluates bucket policies without request context: a statement's condition on a key the
request does not provide counts as matched, so the stack's TLS-only statement
(Deny s3:* when aws:SecureTransport is false) denies every object call. AWS treats a missing
key as not matching (and aws:SecureTransport is always present: true over HTTPS). This patch
makes a conditional statement inapplicable when moto has no context values to evaluate it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.botocore_stubber import BotocoreStubber
from moto.iam.access_control import IAMPolicyStatement, PermissionResult

#: Held while moto (or the Macie emulator, see aws_account) serves one request; reentrant, as a
#: backend may call another through botocore on the same thread.
BACKENDS_LOCK = threading.RLock()


@contextmanager
def one_request_at_a_time() -> Iterator[None]:
    original = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        if getattr(request, "dcp_answered", False):  # an emulator answered it (aws_account)
            return None
        with BACKENDS_LOCK:
            return original(self, request)

    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]


@contextmanager
def conditional_bucket_policies() -> Iterator[None]:
    original = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(
        self: IAMPolicyStatement,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> Any:
        if self._statement.get("Condition") and not incoming_condition_values:
            return PermissionResult.NEUTRAL
        return original(self, action, resource, principal, incoming_condition_values)

    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]
    try:
        yield
    finally:
        IAMPolicyStatement.is_action_permitted = original  # type: ignore[method-assign]


#: The AWS managed policies the stack attaches (moto loads all ~1,300 on every reset otherwise).
MANAGED_POLICIES = ("AWSLambdaVPCAccessExecutionRole", "AmazonDMSVPCManagementRole")


@contextmanager
def few_managed_policies() -> Iterator[None]:
    """Load only the AWS managed policies the stack uses into moto's IAM (same documents)."""
    import json
    import os

    import moto.iam.models as iam_models

    original = iam_models.aws_managed_policies_data
    every = json.loads(original)
    iam_models.aws_managed_policies_data = json.dumps({k: every[k] for k in MANAGED_POLICIES})
    saved = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    try:
        yield
    finally:
        iam_models.aws_managed_policies_data = original
        if saved is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = saved
