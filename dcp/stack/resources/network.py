"""Network: the VPC, two private subnets, security groups and VPC endpoints (S3 gateway, Secrets Manager).

EC2 resources have no names, so each is found by its `Name` tag together with `dcp:stack`.
The subnets have no route to the internet: DMS reaches S3 through the gateway endpoint, and the
seed Lambda reaches Secrets Manager through the interface endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dcp.aws.errors import ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.stack.refs import PENDING, Refs
from dcp.stack.resources.base import Resource, retry_while, tag_dict, tag_list, tags_match

VPC_CIDR = "10.42.0.0/16"
#: Lambda releases a deleted VPC function's network interfaces lazily (it can take many minutes):
#: until then its subnets and security groups report DependencyViolation.
ENI_RELEASE_SECONDS = 45 * 60.0
SUBNET_CIDRS = ("10.42.1.0/24", "10.42.2.0/24")


def _spec(resource_type: str, tags: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": tag_list(tags)}]


def _delete_in_use(fn: Callable[[], Any], *gone: str) -> None:
    retry_while(
        lambda: ignore_codes(fn, *gone),
        lambda e: is_code(e, "DependencyViolation"),
        deadline_seconds=ENI_RELEASE_SECONDS,
        delay=15.0,
    )


class _Ec2(Resource):
    def ec2_tags(self) -> dict[str, str]:
        return {**self.tags, "Name": self.physical}

    def tag_state(self, tags: Any) -> dict[str, str]:
        return tags_match(self.ec2_tags(), tag_dict(tags))

    def delete_known(self, resource_id: str | None, ref: str, delete: Callable[[str], Any], gone: str) -> None:
        """Delete the resource refs found (waiting out ENIs still using it), then forget its ID."""
        if resource_id:
            _delete_in_use(lambda: delete(resource_id), gone)
        self.refs.forget(ref)


class _ReplacedEc2(_Ec2):
    """An EC2 resource AWS cannot modify in place: any change but its tags recreates it."""

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        if set(changed) - {"tags"}:
            self.delete(ctx)
            self.create(ctx)
        elif "tags" in changed:
            ctx.client("ec2").create_tags(Resources=[current["_id"]], Tags=tag_list(self.ec2_tags()))


class Vpc(_Ec2):
    kind = "ec2.vpc"

    def __init__(self, refs: Refs) -> None:
        super().__init__("vpc", refs.names.vpc, refs)

    def desired(self) -> dict[str, Any]:
        return {"cidr": VPC_CIDR, "dns_support": True, "dns_hostnames": True, "tags": self.ec2_tags()}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        ec2 = ctx.client("ec2")
        vpcs = ec2.describe_vpcs(Filters=self.names.ec2_filters(self.physical))["Vpcs"]
        if not vpcs:
            return None
        v = vpcs[0]
        support = ec2.describe_vpc_attribute(VpcId=v["VpcId"], Attribute="enableDnsSupport")
        hostnames = ec2.describe_vpc_attribute(VpcId=v["VpcId"], Attribute="enableDnsHostnames")
        return {
            "cidr": v["CidrBlock"],
            "dns_support": support["EnableDnsSupport"]["Value"],
            "dns_hostnames": hostnames["EnableDnsHostnames"]["Value"],
            "tags": self.tag_state(v.get("Tags")),
            "_arn": v["VpcId"],
            "_id": v["VpcId"],
            "_state": v.get("State", ""),
        }

    def create(self, ctx: AwsContext) -> None:
        vpc_id = ctx.client("ec2").create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=_spec("vpc", self.ec2_tags()))[
            "Vpc"
        ]["VpcId"]
        ctx.client("ec2").get_waiter("vpc_available").wait(
            VpcIds=[vpc_id], WaiterConfig={"Delay": 2, "MaxAttempts": 60}
        )
        self.update(ctx, {"_id": vpc_id}, ["dns_support", "dns_hostnames"])

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        ec2 = ctx.client("ec2")
        vpc_id = current["_id"]
        if "dns_support" in changed:
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
        if "dns_hostnames" in changed:
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
        if "tags" in changed:
            ec2.create_tags(Resources=[vpc_id], Tags=tag_list(self.ec2_tags()))
        if "cidr" in changed:
            raise RuntimeError(
                f"VPC {self.physical} has CIDR {current.get('cidr')}, not {VPC_CIDR}; run `dcp down` first"
            )

    def delete(self, ctx: AwsContext) -> None:
        ec2 = ctx.client("ec2")
        self.delete_known(self.refs.vpc_id(), "vpc", lambda i: ec2.delete_vpc(VpcId=i), "InvalidVpcID.NotFound")


class Subnet(_ReplacedEc2):
    kind = "ec2.subnet"

    def __init__(self, index: int, refs: Refs, vpc: Vpc) -> None:
        super().__init__(f"subnet-{index}", f"{refs.names.prefix}-private-{index}", refs, [vpc])
        self.index = index

    def zone(self) -> str:
        zones = self.refs.availability_zones()
        return zones[self.index % len(zones)]

    def desired(self) -> dict[str, Any]:
        return {
            "vpc": self.refs.vpc_id() or PENDING,
            "cidr": SUBNET_CIDRS[self.index],
            "zone": self.zone(),
            "tags": self.ec2_tags(),
        }

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        found = ctx.client("ec2").describe_subnets(Filters=self.names.ec2_filters(self.physical))["Subnets"]
        if not found:
            return None
        s = found[0]
        return {
            "vpc": s["VpcId"],
            "cidr": s["CidrBlock"],
            "zone": s["AvailabilityZone"],
            "tags": self.tag_state(s.get("Tags")),
            "_arn": s["SubnetId"],
            "_id": s["SubnetId"],
            "_state": s.get("State", ""),
        }

    def create(self, ctx: AwsContext) -> None:
        ctx.client("ec2").create_subnet(
            VpcId=self.refs.vpc_id(),
            CidrBlock=SUBNET_CIDRS[self.index],
            AvailabilityZone=self.zone(),
            TagSpecifications=_spec("subnet", self.ec2_tags()),
        )

    def delete(self, ctx: AwsContext) -> None:
        ec2 = ctx.client("ec2")
        self.delete_known(
            self.refs.subnet_id(self.physical),
            f"subnet:{self.physical}",
            lambda i: ec2.delete_subnet(SubnetId=i),
            "InvalidSubnetID.NotFound",
        )


class SecurityGroup(_Ec2):
    """Ingress rules: (port, source security group name) pairs; egress stays the default."""

    kind = "ec2.security-group"

    def __init__(
        self,
        logical: str,
        name: str,
        refs: Refs,
        *,
        description: str,
        ingress: Callable[[], list[tuple[int, str]]] = list,
        depends_on: Sequence[Resource],
    ) -> None:
        super().__init__(logical, name, refs, depends_on)
        self.description = description
        self._ingress = ingress

    def ingress(self) -> list[dict[str, Any]]:
        out = []
        for port, source in self._ingress():
            sid = self.refs.security_group_id(source) or PENDING
            out.append({"port": port, "source": sid})
        return sorted(out, key=str)

    def desired(self) -> dict[str, Any]:
        return {"vpc": self.refs.vpc_id() or PENDING, "ingress": self.ingress(), "tags": self.ec2_tags()}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        found = ctx.client("ec2").describe_security_groups(Filters=self.names.ec2_filters(self.physical))[
            "SecurityGroups"
        ]
        if not found:
            return None
        g = found[0]
        ingress = []
        for perm in g.get("IpPermissions", []):
            for pair in perm.get("UserIdGroupPairs", []):
                ingress.append({"port": perm.get("FromPort"), "source": pair["GroupId"]})
        return {
            "vpc": g["VpcId"],
            "ingress": sorted(ingress, key=str),
            "tags": self.tag_state(g.get("Tags")),
            "_arn": g["GroupId"],
            "_id": g["GroupId"],
        }

    def _permission(self, rule: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "IpProtocol": "tcp",
            "FromPort": rule["port"],
            "ToPort": rule["port"],
            "UserIdGroupPairs": [{"GroupId": rule["source"]}],
        }

    def create(self, ctx: AwsContext) -> None:
        gid = ctx.client("ec2").create_security_group(
            GroupName=self.physical,
            Description=self.description,
            VpcId=self.refs.vpc_id(),
            TagSpecifications=_spec("security-group", self.ec2_tags()),
        )["GroupId"]
        self.update(ctx, {"_id": gid, "ingress": []}, ["ingress"])

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        ec2 = ctx.client("ec2")
        gid = current["_id"]
        if "vpc" in changed:
            raise RuntimeError(f"security group {self.physical} is in another VPC; run `dcp down` first")
        if "ingress" in changed:
            want = self.ingress()
            have = list(current.get("ingress") or [])
            add = [r for r in want if r not in have]
            remove = [r for r in have if r not in want]
            if remove:
                ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[self._permission(r) for r in remove])
            if add:
                ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[self._permission(r) for r in add])
        if "tags" in changed:
            ec2.create_tags(Resources=[gid], Tags=tag_list(self.ec2_tags()))

    def delete(self, ctx: AwsContext) -> None:
        ec2 = ctx.client("ec2")
        self.delete_known(
            self.refs.security_group_id(self.physical),
            f"sg:{self.physical}",
            lambda i: ec2.delete_security_group(GroupId=i),
            "InvalidGroup.NotFound",
        )


class Endpoint(_ReplacedEc2):
    """A VPC endpoint: the S3 gateway (on the main route table) or an interface endpoint."""

    kind = "ec2.vpc-endpoint"

    def __init__(
        self,
        service: str,
        refs: Refs,
        *,
        interface: bool = False,
        subnets: Sequence[str] = (),
        security_group: str = "",
        depends_on: Sequence[Resource],
    ) -> None:
        super().__init__(f"endpoint-{service}", f"{refs.names.prefix}-{service}", refs, depends_on)
        self.service = f"com.amazonaws.{refs.names.region}.{service}"
        self.interface = interface
        self.subnets = tuple(subnets)
        self.security_group = security_group

    def desired(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "vpc": self.refs.vpc_id() or PENDING,
            "service": self.service,
            "type": "Interface" if self.interface else "Gateway",
            "tags": self.ec2_tags(),
        }
        return out

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        found = ctx.client("ec2").describe_vpc_endpoints(Filters=self.names.ec2_filters(self.physical))["VpcEndpoints"]
        found = [e for e in found if e.get("State", "").lower() not in ("deleted", "deleting")]
        if not found:
            return None
        e = found[0]
        return {
            "vpc": e["VpcId"],
            "service": e["ServiceName"],
            "type": e.get("VpcEndpointType", "Gateway"),
            "tags": self.tag_state(e.get("Tags")),
            "_arn": e["VpcEndpointId"],
            "_id": e["VpcEndpointId"],
            "_state": e.get("State", ""),
        }

    def create(self, ctx: AwsContext) -> None:
        kwargs: dict[str, Any] = {
            "VpcId": self.refs.vpc_id(),
            "ServiceName": self.service,
            "TagSpecifications": _spec("vpc-endpoint", self.ec2_tags()),
        }
        if self.interface:
            kwargs.update(
                VpcEndpointType="Interface",
                SubnetIds=[self.refs.subnet_id(s) for s in self.subnets],
                SecurityGroupIds=[self.refs.security_group_id(self.security_group)],
                PrivateDnsEnabled=True,
            )
        else:
            kwargs.update(VpcEndpointType="Gateway", RouteTableIds=[self.refs.main_route_table_id()])
        ctx.client("ec2").create_vpc_endpoint(**kwargs)

    def delete(self, ctx: AwsContext) -> None:
        current = self.read(ctx)
        if current:
            ctx.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[current["_id"]])
