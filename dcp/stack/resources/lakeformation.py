"""Lake Formation: data lake administrators, the registered raw and curated locations, LF-tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dcp.aws.errors import absent_on, ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.stack.refs import Refs
from dcp.stack.resources.base import Resource, retry_while

GONE = ("EntityNotFoundException",)


class Admins(Resource):
    """The caller and the admin personas are data lake administrators (others are kept)."""

    kind = "lakeformation.admins"

    def __init__(self, refs: Refs, admin_roles: Sequence[str], depends_on: Sequence[Resource]) -> None:
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
    """A bucket registered with Lake Formation through a role of the stack that may use the bucket key.

    Not the service-linked role: it gets S3 access to the location but no right to a customer
    managed key, so Athena could not read the SSE-KMS objects
    (https://docs.aws.amazon.com/lake-formation/latest/dg/registration-role.html).
    """

    kind = "lakeformation.location"

    def __init__(self, bucket_kind: str, role_kind: str, refs: Refs, depends_on: Sequence[Resource]) -> None:
        super().__init__(f"lf-location-{bucket_kind}", refs.names.bucket(bucket_kind), refs, depends_on)
        self.arn = refs.bucket_arn(bucket_kind)
        self.role_kind = role_kind

    def desired(self) -> dict[str, Any]:
        return {"registered": True, "role": self.names.role_arn(self.role_kind)}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        info = absent_on(*GONE)(
            lambda: ctx.client("lakeformation").describe_resource(ResourceArn=self.arn)["ResourceInfo"]
        )
        if info is None:
            return None
        role = str(info.get("RoleArn") or "service-linked role")
        return {"registered": True, "role": role, "_arn": self.arn, "_state": role}

    def _register(self, ctx: AwsContext) -> None:
        lf = ctx.client("lakeformation")
        # A role created moments ago is rejected as an invalid input until IAM propagates.
        retry_while(
            lambda: ignore_codes(
                lambda: lf.register_resource(ResourceArn=self.arn, RoleArn=self.names.role_arn(self.role_kind)),
                "AlreadyExistsException",
            ),
            lambda e: is_code(e, "InvalidInputException"),
        )

    def create(self, ctx: AwsContext) -> None:
        self._register(ctx)

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        self.delete(ctx)
        self._register(ctx)

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(lambda: ctx.client("lakeformation").deregister_resource(ResourceArn=self.arn), *GONE)


class DataLocationAccess(Resource):
    """DATA_LOCATION_ACCESS for a role on a registered location: needed to create tables there."""

    kind = "lakeformation.data-location-access"

    def __init__(self, role_kind: str, bucket_kind: str, refs: Refs, depends_on: Sequence[Resource]) -> None:
        super().__init__(f"lf-data-location-{role_kind}-{bucket_kind}", f"{role_kind}@{bucket_kind}", refs, depends_on)
        self.arn = refs.bucket_arn(bucket_kind)
        self.role_kind = role_kind

    def _request(self) -> dict[str, Any]:
        return {
            "Principal": {"DataLakePrincipalIdentifier": self.names.role_arn(self.role_kind)},
            "Resource": {"DataLocation": {"ResourceArn": self.arn}},
            "Permissions": ["DATA_LOCATION_ACCESS"],
        }

    def desired(self) -> dict[str, Any]:
        return {"granted": True}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        lf = ctx.client("lakeformation")
        role = self.names.role_arn(self.role_kind)
        token: str | None = None
        while True:  # ListPermissions has no botocore paginator
            page = lf.list_permissions(ResourceType="DATA_LOCATION", **({"NextToken": token} if token else {}))
            for entry in page.get("PrincipalResourcePermissions", []):
                location = (entry.get("Resource") or {}).get("DataLocation") or {}
                if (
                    entry.get("Principal", {}).get("DataLakePrincipalIdentifier") == role
                    and location.get("ResourceArn") == self.arn
                    and "DATA_LOCATION_ACCESS" in entry.get("Permissions", [])
                ):
                    return {"granted": True}
            token = page.get("NextToken")
            if not token:
                return None

    def create(self, ctx: AwsContext) -> None:
        retry_while(
            lambda: ctx.client("lakeformation").grant_permissions(**self._request()),
            lambda e: is_code(e, "InvalidInputException"),
        )

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("lakeformation").revoke_permissions(**self._request()), *GONE, "InvalidInputException"
        )


class LfTag(Resource):
    kind = "lakeformation.lf-tag"

    def __init__(self, key: str, values: Sequence[str], refs: Refs, depends_on: Sequence[Resource]) -> None:
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
