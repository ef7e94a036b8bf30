"""IAM: service and persona roles with one inline least-privilege policy each (plus AWS managed ones)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from dcp.aws.errors import absent_on, ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.stack.refs import Refs
from dcp.stack.resources.base import OWNER_TAG, Resource, canonical, policy_doc, tag_dict, tag_list, tags_match

INLINE_POLICY = "dcp"
#: The role DMS itself needs (fixed name, account-wide) to manage its VPC network interfaces.
DMS_VPC_ROLE = "dms-vpc-role"


class Role(Resource):
    kind = "iam.role"

    def __init__(
        self,
        logical: str,
        name: str,
        refs: Refs,
        *,
        trust: Callable[[], dict[str, Any]],
        policy: Callable[[], dict[str, Any]] | None = None,
        managed: Sequence[str] = (),
        description: str = "",
        shared: bool = False,
        depends_on: Sequence[Resource] = (),
    ) -> None:
        super().__init__(logical, name, refs, depends_on)
        self._trust = trust
        self._policy = policy
        self.managed = tuple(managed)
        self.description = description
        # A shared role (dms-vpc-role) may predate the stack: adopt it, and delete it on `down`
        # only if this stack created it (remembered with the dcp:created-by tag).
        self.shared = shared

    def managed_arns(self) -> list[str]:
        return sorted(f"arn:{self.names.partition}:iam::aws:policy/{m}" for m in self.managed)

    def desired(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trust": canonical(self._trust()),
            "policy": canonical(self._policy()) if self._policy else None,
            "managed": self.managed_arns(),
        }
        if not self.shared:
            out["tags"] = self.tags
        return out

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        iam = ctx.client("iam")
        role = absent_on("NoSuchEntity")(lambda: iam.get_role(RoleName=self.physical)["Role"])
        if role is None:
            return None
        inline = absent_on("NoSuchEntity")(
            lambda: iam.get_role_policy(RoleName=self.physical, PolicyName=INLINE_POLICY)["PolicyDocument"]
        )
        attached = iam.list_attached_role_policies(RoleName=self.physical)["AttachedPolicies"]
        tags = tag_dict(iam.list_role_tags(RoleName=self.physical)["Tags"])
        out: dict[str, Any] = {
            "trust": canonical(policy_doc(role["AssumeRolePolicyDocument"])),
            "policy": canonical(policy_doc(inline)) if inline is not None else None,
            "managed": sorted(p["PolicyArn"] for p in attached),
            "tags": tags_match(self.tags, tags),
            "_arn": role["Arn"],
            "_all_tags": tags,
        }
        if self.shared:
            out["_owned"] = tags.get(OWNER_TAG) == self.names.prefix
        return out

    def create(self, ctx: AwsContext) -> None:
        iam = ctx.client("iam")
        tags = {**self.tags, OWNER_TAG: self.names.prefix} if self.shared else self.tags
        try:
            iam.create_role(
                RoleName=self.physical,
                AssumeRolePolicyDocument=json.dumps(self._trust()),
                Description=self.description or f"dcp stack {self.names.prefix}",
                Tags=tag_list(tags),
            )
        except Exception as exc:
            if not is_code(exc, "EntityAlreadyExists"):
                raise
        current = self.read(ctx) or {}
        self.update(ctx, current, [k for k, v in self.desired().items() if current.get(k) != v])

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        iam = ctx.client("iam")
        if "trust" in changed:
            iam.update_assume_role_policy(RoleName=self.physical, PolicyDocument=json.dumps(self._trust()))
        if "policy" in changed:
            if self._policy:
                iam.put_role_policy(
                    RoleName=self.physical, PolicyName=INLINE_POLICY, PolicyDocument=json.dumps(self._policy())
                )
            else:
                ignore_codes(
                    lambda: iam.delete_role_policy(RoleName=self.physical, PolicyName=INLINE_POLICY), "NoSuchEntity"
                )
        if "managed" in changed:
            have = set(current.get("managed") or [])
            want = set(self.managed_arns())
            for arn in sorted(want - have):
                iam.attach_role_policy(RoleName=self.physical, PolicyArn=arn)
            for arn in sorted(have - want):
                iam.detach_role_policy(RoleName=self.physical, PolicyArn=arn)
        if "tags" in changed:
            iam.tag_role(RoleName=self.physical, Tags=tag_list(self.tags))

    def delete(self, ctx: AwsContext) -> None:
        delete_role(ctx, self.physical)


def delete_role(ctx: AwsContext, name: str) -> None:
    """Detach and delete every policy, then the role; absent is fine."""
    iam = ctx.client("iam")
    gone = ("NoSuchEntity",)
    names = absent_on(*gone)(lambda: iam.list_role_policies(RoleName=name)["PolicyNames"]) or []
    for policy in names:
        ignore_codes(partial(iam.delete_role_policy, RoleName=name, PolicyName=policy), *gone)
    attached = absent_on(*gone)(lambda: iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]) or []
    for policy in attached:
        ignore_codes(partial(iam.detach_role_policy, RoleName=name, PolicyArn=policy["PolicyArn"]), *gone)
    profiles = absent_on(*gone)(lambda: iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]) or []
    for profile in profiles:
        ignore_codes(
            partial(
                iam.remove_role_from_instance_profile,
                InstanceProfileName=profile["InstanceProfileName"],
                RoleName=name,
            ),
            *gone,
        )
    ignore_codes(lambda: iam.delete_role(RoleName=name), *gone)


class RolePolicy(Resource):
    """An extra inline policy on a stack role, for permissions on something created after the role."""

    kind = "iam.role-policy"

    def __init__(
        self,
        logical: str,
        role: str,
        policy_name: str,
        refs: Refs,
        *,
        policy: Callable[[], dict[str, Any]],
        depends_on: Sequence[Resource],
    ) -> None:
        super().__init__(logical, f"{role}/{policy_name}", refs, depends_on)
        self.role = role
        self.policy_name = policy_name
        self._policy = policy

    def desired(self) -> dict[str, Any]:
        return {"policy": canonical(self._policy())}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        doc = absent_on("NoSuchEntity")(
            lambda: ctx.client("iam").get_role_policy(RoleName=self.role, PolicyName=self.policy_name)["PolicyDocument"]
        )
        if doc is None:
            return None
        return {"policy": canonical(policy_doc(doc))}

    def create(self, ctx: AwsContext) -> None:
        ctx.client("iam").put_role_policy(
            RoleName=self.role, PolicyName=self.policy_name, PolicyDocument=json.dumps(self._policy())
        )

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        self.create(ctx)

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("iam").delete_role_policy(RoleName=self.role, PolicyName=self.policy_name),
            "NoSuchEntity",
        )
