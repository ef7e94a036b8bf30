"""Lake Formation data locations: who reads a table's S3 location, and who may create tables in it.

An integrated service (Athena, Glue) reads a table whose location is *registered* with Lake
Formation through the registering role's credentials, once Lake Formation permissions allow
the caller; the caller then needs no S3 permission, but the registering role needs the
objects and their KMS key. A table in an *unregistered* location is read with the caller's own
IAM rights (https://docs.aws.amazon.com/lake-formation/latest/dg/register-data-lake.html,
https://docs.aws.amazon.com/lake-formation/latest/dg/access-control-underlying-data.html).
Registering with the service-linked role gives it S3 access to the location, but no right to a
customer managed key (https://docs.aws.amazon.com/lake-formation/latest/dg/service-linked-roles.html).

Creating a table (a crawler, a job, CreateTable) whose location is registered needs the
DATA_LOCATION_ACCESS permission on that location, unless the principal is a data lake admin.

The Athena emulator calls :func:`can_read_location`; the Glue emulator :func:`may_create_table_at`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dcp.sandbox.emulators.glue import s3io
from dcp.sandbox.gates import AccessDenied, Check, authorize, role_principal, s3_list_check, s3_read_checks
from dcp.sandbox.identity import Principal

LF_SERVICE_ROLE = "AWSServiceRoleForLakeFormationDataAccess"


@dataclass(frozen=True)
class Registration:
    """A registered location: the S3 ARN and the role Lake Formation reads it as."""

    resource_arn: str
    role_arn: str
    service_linked: bool


def lf_service_role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/aws-service-role/lakeformation.amazonaws.com/{LF_SERVICE_ROLE}"


def _s3_arn(s3_uri: str) -> str:
    bucket, key = s3io.parse_s3_uri(s3_uri)
    return f"arn:aws:s3:::{bucket}/{key}".rstrip("/")


def _under(resource_arn: str, arn: str) -> bool:
    root = resource_arn.rstrip("/")
    return arn == root or arn.startswith(root + "/")


def registrations(account_id: str, region: str) -> list[Registration]:
    from dcp.sandbox.emulators.lakeformation.models import lf_backend

    out = []
    for resource in list(lf_backend(account_id, region).resources.values()):
        role = str(resource.role_arn or "")
        service_linked = not role or role.endswith(f"/{LF_SERVICE_ROLE}")
        out.append(Registration(str(resource.arn), role or lf_service_role_arn(account_id), service_linked))
    return out


def registration_of(account_id: str, region: str, s3_uri: str) -> Registration | None:
    """The registration covering `s3_uri` (the most specific one), or None."""
    try:
        arn = _s3_arn(s3_uri)
    except ValueError:
        return None  # not an S3 location
    matches = [r for r in registrations(account_id, region) if _under(r.resource_arn, arn)]
    return max(matches, key=lambda r: len(r.resource_arn), default=None)


def _service_role_policy(account_id: str, region: str) -> str:
    """What Lake Formation puts on its service-linked role: S3 on every location registered with it."""
    resources: list[str] = []
    for r in registrations(account_id, region):
        if r.service_linked:
            resources += [r.resource_arn, f"{r.resource_arn}/*"]
    statement = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]}
    return json.dumps({"Version": "2012-10-17", "Statement": [{**statement, "Resource": resources or ["none"]}]})


def _read_checks(account_id: str, region: str, s3_uri: str) -> list[Check]:
    bucket, prefix = s3io.parse_s3_uri(s3_uri)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    checks = [s3_list_check(account_id, region, bucket, prefix)]
    try:
        objects = s3io.list_objects(account_id, bucket, prefix)
    except s3io.S3Missing:
        return checks
    for obj in objects:
        checks += s3_read_checks(account_id, region, bucket, obj.key)
    return checks


def reader_of(principal: Principal, s3_uri: str, account_id: str, region: str) -> tuple[Principal, list[str] | None]:
    """Who reads `s3_uri` for `principal`: the registering role, or the caller itself (and, for
    the service-linked role, the identity policy Lake Formation gives it)."""
    registration = registration_of(account_id, region, s3_uri)
    if registration is None:
        return principal, None
    role = role_principal(registration.role_arn, "AWSLF-00-AT")
    return role, ([_service_role_policy(account_id, region)] if registration.service_linked else None)


def can_read_location(principal: Principal, s3_uri: str, account_id: str, region: str) -> str | None:
    """None if the objects under `s3_uri` can be read for `principal`, else AWS's denial message.

    Lake Formation's own permissions (which tables and columns) are checked separately.
    """
    reader, identity = reader_of(principal, s3_uri, account_id, region)
    try:
        authorize(reader, _read_checks(account_id, region, s3_uri), code="AccessDenied", identity=identity)
    except AccessDenied as exc:
        return exc.message
    return None


def may_create_table_at(principal: Principal, s3_uri: str, account_id: str, region: str) -> str | None:
    """None if `principal` may create a table at `s3_uri` (DATA_LOCATION_ACCESS where registered)."""
    from dcp.sandbox.emulators.lakeformation.models import read_state

    registration = registration_of(account_id, region, s3_uri)
    if registration is None or principal.is_root:
        return None
    state = read_state(account_id, region)
    names = {principal.arn, principal.role_arn or principal.arn}
    if names & state.admins:
        return None
    from dcp.sandbox.emulators.lakeformation.models import lf_backend

    catalog = lf_backend(account_id, region).grants.get(account_id)
    for permission in list(catalog.permissions) if catalog is not None else []:
        who = str((permission.principal or {}).get("DataLakePrincipalIdentifier", ""))
        location = (permission.resource or {}).get("DataLocation") or {}
        if who not in names or "DATA_LOCATION_ACCESS" not in (permission.permissions or []):
            continue
        if _under(str(location.get("ResourceArn", "")), _s3_arn(s3_uri)):
            return None
    return (
        f"Insufficient Lake Formation permission(s): {principal.role_arn or principal.arn} has no "
        f"DATA_LOCATION_ACCESS on {registration.resource_arn}"
    )
