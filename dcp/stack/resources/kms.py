"""KMS: customer managed keys found by alias, with key policy, rotation and tags."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from dcp.aws.errors import absent_on, ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.stack.refs import Refs
from dcp.stack.resources.base import Resource, canonical, retry_while, tag_dict, tag_list, tags_match

#: Tag naming the alias a key was created for: finds a key whose alias was never created.
ALIAS_TAG = "dcp:alias"
DELETION_WINDOW_DAYS = 7


class Key(Resource):
    kind = "kms.key"

    def __init__(
        self,
        logical: str,
        alias: str,
        refs: Refs,
        *,
        description: str,
        policy: Callable[[], dict[str, Any]],
        depends_on: Sequence[Resource] = (),
    ) -> None:
        super().__init__(logical, alias, refs, depends_on)
        self.alias = alias
        self.description = description
        self._policy = policy

    def desired(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "policy": canonical(self._policy()),
            "rotation": True,
            "enabled": True,
            "tags": {**self.tags, ALIAS_TAG: self.alias},
        }

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        kms = ctx.client("kms")
        meta = absent_on("NotFoundException")(lambda: kms.describe_key(KeyId=self.alias)["KeyMetadata"])
        if meta is None or meta["KeyState"] in ("PendingDeletion", "PendingReplicaDeletion"):
            return None
        return self._state(ctx, meta)

    def _state(self, ctx: AwsContext, meta: Mapping[str, Any]) -> dict[str, Any]:
        kms = ctx.client("kms")
        key_id = meta["KeyId"]
        policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        rotation = kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
        tags = tag_dict(kms.list_resource_tags(KeyId=key_id)["Tags"], "TagKey", "TagValue")
        return {
            "description": meta.get("Description", ""),
            "policy": canonical(policy),
            "rotation": bool(rotation),
            "enabled": meta["KeyState"] == "Enabled",
            "tags": tags_match(self.desired_tags(), tags),
            "_arn": meta["Arn"],
            "_key_id": key_id,
            "_state": meta["KeyState"],
        }

    def desired_tags(self) -> dict[str, str]:
        return {**self.tags, ALIAS_TAG: self.alias}

    def _orphan(self, ctx: AwsContext) -> str | None:
        """A key this stack created for the alias whose alias was never made (interrupted `up`)."""
        kms = ctx.client("kms")
        for page in kms.get_paginator("list_keys").paginate():
            for key in page["Keys"]:
                key_id = str(key["KeyId"])
                tags = absent_on("NotFoundException", "AccessDeniedException")(
                    partial(lambda k: kms.list_resource_tags(KeyId=k)["Tags"], key_id)
                )
                if tag_dict(tags, "TagKey", "TagValue").get(ALIAS_TAG) != self.alias:
                    continue
                state = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"]
                if state == "PendingDeletion":
                    continue
                return str(key["KeyId"])
        return None

    def create(self, ctx: AwsContext) -> None:
        kms = ctx.client("kms")
        key_id = self._orphan(ctx)
        if key_id is None:
            # The policy names roles created moments ago: KMS rejects principals IAM has not
            # propagated yet (MalformedPolicyDocumentException), so retry for a while.
            key_id = retry_while(
                lambda: kms.create_key(
                    Description=self.description,
                    Policy=json.dumps(self._policy()),
                    KeyUsage="ENCRYPT_DECRYPT",
                    KeySpec="SYMMETRIC_DEFAULT",
                    Tags=tag_list(self.desired_tags(), "TagKey", "TagValue"),
                )["KeyMetadata"]["KeyId"],
                lambda e: is_code(e, "MalformedPolicyDocumentException"),
            )
        ignore_codes(lambda: kms.create_alias(AliasName=self.alias, TargetKeyId=key_id), "AlreadyExistsException")
        self.refs.forget(f"key:{self.alias}")
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        current = self._state(ctx, meta)
        self.update(ctx, current, [k for k, v in self.desired().items() if current.get(k) != v])

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        kms = ctx.client("kms")
        key_id = current.get("_key_id") or self.alias
        if "policy" in changed:
            retry_while(
                lambda: kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(self._policy())),
                lambda e: is_code(e, "MalformedPolicyDocumentException"),
            )
        if "description" in changed:
            kms.update_key_description(KeyId=key_id, Description=self.description)
        if "enabled" in changed:
            kms.enable_key(KeyId=key_id)
        if "rotation" in changed:
            kms.enable_key_rotation(KeyId=key_id)
        if "tags" in changed:
            kms.tag_resource(KeyId=key_id, Tags=tag_list(self.desired_tags(), "TagKey", "TagValue"))

    def delete(self, ctx: AwsContext) -> None:
        kms = ctx.client("kms")
        meta = absent_on("NotFoundException")(lambda: kms.describe_key(KeyId=self.alias)["KeyMetadata"])
        ignore_codes(lambda: kms.delete_alias(AliasName=self.alias), "NotFoundException")
        self.refs.forget(f"key:{self.alias}")
        if meta is not None and meta["KeyState"] != "PendingDeletion":
            schedule_key_deletion(ctx, meta["KeyId"])


def schedule_key_deletion(ctx: AwsContext, key_id: str) -> None:
    ignore_codes(
        lambda: ctx.client("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=DELETION_WINDOW_DAYS),
        "NotFoundException",
        "KMSInvalidStateException",
    )
