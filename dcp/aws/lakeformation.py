"""Lake Formation: data lake administrators, the registered curated location, LF-tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dcp.aws.resource import Resource, absent_on, ignore_codes, is_code, retry_while
from dcp.aws.session import AwsContext

GONE = ("EntityNotFoundException",)


class Admins(Resource):
    """The caller and the admin personas are data lake administrators (others are kept)."""

    kind = "lakeformation.admins"

    def __init__(self, refs: Any, admin_roles: Sequence[str], depends_on: Sequence[str]) -> None:
        super().__init__("lf-admins", "data-lake-settings", refs, depends_on)
        self.admin_roles = tuple(admin_roles)

    def wanted(self) -> list[str]:
        return sorted({self.refs.caller_arn(), *(self.names.role_arn(r) for r in self.admin_roles)})

    def desired(self) -> dict[str, Any]:
        return {"admins": self.wanted()}

    def _settings(self, ctx: AwsContext) -> dict[str, Any]:
        return dict(ctx.client("lakeformation").get_data_lake_settings()["DataLakeSettings"])

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        have = {a["DataLakePrincipalIdentifier"] for a in self._settings(ctx).get("DataLakeAdmins", [])}
        ours = {self.names.role_arn(r) for r in self.admin_roles}
        if not (ours & have if ours else set(self.wanted()) & have):
            return None  # the operator alone is no trace of a stack that has admin roles
        return {"admins": sorted(have & set(self.wanted())), "_state": f"{len(have)} admins"}

    def _put(self, ctx: AwsContext, admins: set[str]) -> None:
        settings = self._settings(ctx)
        settings["DataLakeAdmins"] = [{"DataLakePrincipalIdentifier": a} for a in sorted(admins)]
        # A role created moments ago is rejected as an invalid principal until IAM propagates.
        retry_while(
            lambda: ctx.client("lakeformation").put_data_lake_settings(DataLakeSettings=settings),
            lambda e: is_code(e, "InvalidInputException"),
        )

    def create(self, ctx: AwsContext) -> None:
        have = {a["DataLakePrincipalIdentifier"] for a in self._settings(ctx).get("DataLakeAdmins", [])}
        self._put(ctx, have | set(self.wanted()))

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        self.create(ctx)

    def delete(self, ctx: AwsContext) -> None:
        """Removes the stack's admin roles; the operator stays an administrator (no lock-out)."""
        have = {a["DataLakePrincipalIdentifier"] for a in self._settings(ctx).get("DataLakeAdmins", [])}
        ours = {self.names.role_arn(r) for r in self.admin_roles}
        if have & ours:
            self._put(ctx, have - ours)


class Location(Resource):
    """The curated bucket registered with Lake Formation (through its service-linked role)."""

    kind = "lakeformation.location"

    def __init__(self, bucket_kind: str, refs: Any, depends_on: Sequence[str]) -> None:
        super().__init__(f"lf-location-{bucket_kind}", refs.names.bucket(bucket_kind), refs, depends_on)
        self.arn = refs.bucket_arn(bucket_kind)

    def desired(self) -> dict[str, Any]:
        return {"registered": True}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        info = absent_on(*GONE)(
            lambda: ctx.client("lakeformation").describe_resource(ResourceArn=self.arn)["ResourceInfo"]
        )
        if info is None:
            return None
        return {"registered": True, "_arn": self.arn, "_state": info.get("RoleArn", "registered")}

    def create(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("lakeformation").register_resource(ResourceArn=self.arn, UseServiceLinkedRole=True),
            "AlreadyExistsException",
        )

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(lambda: ctx.client("lakeformation").deregister_resource(ResourceArn=self.arn), *GONE)


class LfTag(Resource):
    kind = "lakeformation.lf-tag"

    def __init__(self, key: str, values: Sequence[str], refs: Any, depends_on: Sequence[str]) -> None:
        super().__init__(f"lf-tag-{key}", key, refs, depends_on)
        self.values = sorted(values)

    def desired(self) -> dict[str, Any]:
        return {"values": self.values}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        # ListLFTags rather than GetLFTag: moto 5.2.5 fails (KeyError) on GetLFTag of a missing key.
        for page in ctx.client("lakeformation").get_paginator("list_lf_tags").paginate(ResourceShareType="ALL"):
            for tag in page.get("LFTags", []):
                if tag["TagKey"] == self.physical:
                    return {"values": sorted(tag.get("TagValues", []))}
        return None

    def create(self, ctx: AwsContext) -> None:
        try:
            ctx.client("lakeformation").create_lf_tag(TagKey=self.physical, TagValues=self.values)
        except Exception as exc:
            if not is_code(exc, "AlreadyExistsException"):
                raise
            current = self.read(ctx) or {"values": []}
            self.update(ctx, current, ["values"])

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        have = set(current.get("values") or [])
        add = sorted(set(self.values) - have)
        remove = sorted(have - set(self.values))
        kwargs: dict[str, Any] = {"TagKey": self.physical}
        if add:
            kwargs["TagValuesToAdd"] = add
        if remove:
            kwargs["TagValuesToDelete"] = remove
        if add or remove:
            ctx.client("lakeformation").update_lf_tag(**kwargs)

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(lambda: ctx.client("lakeformation").delete_lf_tag(TagKey=self.physical), *GONE)
