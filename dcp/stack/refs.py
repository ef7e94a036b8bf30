"""Look-ups of IDs one resource needs from another (key ARN, VPC, subnets), cached once found.

Names are known without AWS (StackNames); IDs AWS assigns (a KMS key ID, a subnet ID) are looked
up here. A look-up of something not created yet returns None and is not cached, so the same
Refs serves the planner (before `up`) and the executor (after the dependency was created).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from dcp.aws.errors import absent_on
from dcp.aws.session import AwsContext
from dcp.names import StackNames

#: Stands for an ID that does not exist yet: it differs from any current value.
PENDING = "<pending>"


class Refs:
    """Shared by every resource of one stack; thread-safe."""

    def __init__(self, ctx: AwsContext, names: StackNames) -> None:
        self.ctx = ctx
        self.names = names
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _cached(self, key: str, lookup: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = lookup()
        if value is not None:
            with self._lock:
                self._cache[key] = value
        return value

    def forget(self, key: str) -> None:
        """Drop a cached ID (its resource was deleted or replaced)."""
        with self._lock:
            self._cache.pop(key, None)

    # ---- identity
    @property
    def account_id(self) -> str:
        return self.names.account_id

    def caller_arn(self) -> str:
        """The operator's principal in IAM form (an assumed-role session becomes its role)."""

        def lookup() -> str:
            arn = str(self.ctx.client("sts").get_caller_identity()["Arn"])
            principal = iam_principal(arn)
            if ":role/" in principal:
                # A role's ARN includes its path (SSO roles live under /aws-reserved/...), which the
                # session ARN drops; KMS and Lake Formation need the real one.
                name = principal.rsplit("/", 1)[1]
                role = absent_on("NoSuchEntity", "AccessDenied", "AccessDeniedException")(
                    lambda: self.ctx.client("iam").get_role(RoleName=name)["Role"]
                )
                if role is not None:
                    principal = str(role["Arn"])
            return principal

        return str(self._cached("caller", lookup))

    # ---- RDS
    def parameter_family(self, engine: str, version: str) -> str:
        """The DB parameter group family of `engine` at `version`, or at RDS's default version
        when `version` is empty (DescribeDBEngineVersions, DefaultOnly), e.g. mysql8.0, postgres17."""

        def lookup() -> str:
            kwargs: dict[str, Any] = {"Engine": engine}
            if version:
                kwargs["EngineVersion"] = version
            else:
                kwargs["DefaultOnly"] = True
            found = self.ctx.client("rds").describe_db_engine_versions(**kwargs).get("DBEngineVersions") or []
            if not found:
                raise LookupError(
                    f"RDS offers no {engine} {version or 'default version'} in {self.ctx.region}; "
                    "set source.version to one `aws rds describe-db-engine-versions` lists"
                )
            return str(found[0]["DBParameterGroupFamily"])

        return str(self._cached(f"family:{engine}:{version}", lookup))

    # ---- KMS
    def key_arn(self, alias: str) -> str | None:
        def lookup() -> str | None:
            meta = absent_on("NotFoundException")(
                lambda: self.ctx.client("kms").describe_key(KeyId=alias)["KeyMetadata"]
            )
            if meta is None or meta.get("KeyState") in ("PendingDeletion", "PendingReplicaDeletion"):
                return None
            return str(meta["Arn"])

        return self._cached(f"key:{alias}", lookup)

    # ---- network
    def _tagged(self, kind: str, name: str) -> list[dict[str, Any]]:
        ec2 = self.ctx.client("ec2")
        filters = self.names.ec2_filters(name)
        if kind == "vpc":
            return list(ec2.describe_vpcs(Filters=filters)["Vpcs"])
        if kind == "subnet":
            return list(ec2.describe_subnets(Filters=filters)["Subnets"])
        if kind == "sg":
            return list(ec2.describe_security_groups(Filters=filters)["SecurityGroups"])
        raise ValueError(kind)

    def vpc_id(self) -> str | None:
        def lookup() -> str | None:
            vpcs = self._tagged("vpc", self.names.vpc)
            return str(vpcs[0]["VpcId"]) if vpcs else None

        return self._cached("vpc", lookup)

    def subnet_id(self, name: str) -> str | None:
        def lookup() -> str | None:
            subnets = self._tagged("subnet", name)
            return str(subnets[0]["SubnetId"]) if subnets else None

        return self._cached(f"subnet:{name}", lookup)

    def subnet_ids(self, names: Iterable[str]) -> list[str]:
        """A subnet group's members: the subnets' IDs, sorted (PENDING for one not created yet)."""
        return sorted(self.subnet_id(name) or PENDING for name in names)

    def security_group_id(self, name: str) -> str | None:
        def lookup() -> str | None:
            groups = self._tagged("sg", name)
            return str(groups[0]["GroupId"]) if groups else None

        return self._cached(f"sg:{name}", lookup)

    def main_route_table_id(self) -> str | None:
        vpc = self.vpc_id()
        if vpc is None:
            return None

        def lookup() -> str | None:
            tables = self.ctx.client("ec2").describe_route_tables(
                Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
            )["RouteTables"]
            return str(tables[0]["RouteTableId"]) if tables else None

        return self._cached(f"rtb:{vpc}", lookup)

    def secret_arn(self, name: str) -> str | None:
        def lookup() -> str | None:
            found = absent_on("ResourceNotFoundException")(
                lambda: self.ctx.client("secretsmanager").describe_secret(SecretId=name)
            )
            if found is None or found.get("DeletedDate"):
                return None
            return str(found["ARN"])

        return self._cached(f"secret:{name}", lookup)

    def availability_zones(self) -> list[str]:
        def lookup() -> list[str]:
            zones = self.ctx.client("ec2").describe_availability_zones(
                Filters=[{"Name": "state", "Values": ["available"]}]
            )["AvailabilityZones"]
            return sorted(z["ZoneName"] for z in zones if z.get("ZoneType", "availability-zone") == "availability-zone")

        return list(self._cached("azs", lookup))

    # ---- ARNs built from names
    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.names.partition}:{service}:{self.names.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )

    def bucket_arn(self, kind: str) -> str:
        return f"arn:{self.names.partition}:s3:::{self.names.bucket(kind)}"


def iam_principal(arn: str) -> str:
    """arn:aws:sts::1:assumed-role/R/s -> arn:aws:iam::1:role/R; sts user -> iam user."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts":
        resource = parts[5]
        if resource.startswith("assumed-role/"):
            role = resource.split("/")[1]
            return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
        if resource.startswith("user/"):
            return f"arn:{parts[1]}:iam::{parts[4]}:{resource}"
        if resource.startswith("federated-user/"):
            return f"arn:{parts[1]}:iam::{parts[4]}:root"
    return arn
