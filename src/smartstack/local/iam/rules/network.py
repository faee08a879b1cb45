"""The mapping of EC2 (the network) and RDS: see :mod:`smartstack.local.iam.rules`."""

from __future__ import annotations

import re
from collections.abc import Callable

from smartstack.local.iam import iamdata
from smartstack.local.iam.evaluator import ContextValue
from smartstack.local.iam.rules.core import (
    FAMILIES,
    Call,
    Check,
    Rule,
    Unresolved,
    on,
    query_tags,
    tag_context,
)

# ================================ EC2 (the network the stacks build) =========================

_EC2_TYPES = {
    "vpc-": "vpc", "subnet-": "subnet", "sg-": "security-group", "igw-": "internet-gateway",
    "rtb-": "route-table", "nat-": "natgateway", "eipalloc-": "elastic-ip", "vpce-": "vpc-endpoint",
    "eni-": "network-interface", "i-": "instance", "acl-": "network-acl", "dopt-": "dhcp-options",
    "sgr-": "security-group-rule", "pl-": "prefix-list", "vol-": "volume", "snap-": "snapshot",
    "ami-": "image", "lt-": "launch-template", "key-": "key-pair",
    "eigw-": "egress-only-internet-gateway",
    "fl-": "vpc-flow-log", "pcx-": "vpc-peering-connection", "tgw-": "transit-gateway",
}  # fmt: skip


def ec2_arn(call: Call, resource_id: str) -> str:
    for prefix, kind in sorted(_EC2_TYPES.items(), key=lambda kv: -len(kv[0])):
        if resource_id.startswith(prefix):
            account = "" if kind in ("image", "snapshot") else None  # AWS-owned ARNs
            return call.arn("ec2", f"{kind}/{resource_id}", account=account)
    raise Unresolved(f"ec2:{call.operation}: no ARN for {resource_id}")


def _ec2_existing(call: Call, resource_id: str, **context: ContextValue) -> Check:
    vpc = call.world.ec2_vpc_of(resource_id)
    extra: dict[str, ContextValue] = dict(context)
    if vpc:
        extra["ec2:Vpc"] = call.arn("ec2", f"vpc/{vpc}")
    return Check(call.action, ec2_arn(call, resource_id), extra, lookup_policy=False,
                 tags=call.world.ec2_tags(resource_id))  # fmt: skip


def _ec2_spec_tags(call: Call) -> dict[str, str]:
    tags: dict[str, str] = {}
    for key, value in call.params.items():
        match = re.match(r"^TagSpecification\.(\d+)\.Tag\.(\d+)\.Key$", key)
        if match:
            tags[str(value)] = str(call.params.get(key[: -len("Key")] + "Value", ""))
    return tags


def _ec2_create(kind: str, parents: tuple[str, ...] = ()) -> Callable[[Call], list[Check]]:
    """A Create*: the new resource (``<kind>/*``) with the request's tags, its parents
    (the VPC, subnet, …) as they are, and ``ec2:CreateTags`` when it tags on create."""

    def build(call: Call) -> list[Check]:
        tags = _ec2_spec_tags(call)
        context: dict[str, ContextValue] = dict(tag_context(tags)) if tags else {}
        vpc = call.get("VpcId")
        if vpc:
            context["ec2:Vpc"] = call.arn("ec2", f"vpc/{vpc}")
        checks = [
            Check(call.action, call.arn("ec2", f"{kind}/*"), context, lookup_policy=False, tags={})
        ]
        for parent in parents:
            for value in call.flat_list(parent):
                checks.append(
                    _ec2_existing(call, str(value), **(tag_context(tags) if tags else {}))
                )
        if tags:
            create = {**tag_context(tags), "ec2:CreateAction": call.operation}
            checks.append(
                Check(
                    "ec2:CreateTags",
                    call.arn("ec2", f"{kind}/*"),
                    create,
                    lookup_policy=False,
                    tags={},
                )
            )
        return checks

    return build


_EC2_CREATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "CreateVpc": ("vpc", ()),
    "CreateSubnet": ("subnet", ("VpcId",)),
    "CreateSecurityGroup": ("security-group", ("VpcId",)),
    "CreateInternetGateway": ("internet-gateway", ()),
    "CreateRouteTable": ("route-table", ("VpcId",)),
    "CreateNatGateway": ("natgateway", ("SubnetId", "AllocationId")),
    "AllocateAddress": ("elastic-ip", ()),
    "CreateVpcEndpoint": ("vpc-endpoint", ("VpcId", "SubnetId", "SecurityGroupId", "RouteTableId")),
    "CreateNetworkAcl": ("network-acl", ("VpcId",)),
    "CreateEgressOnlyInternetGateway": ("egress-only-internet-gateway", ("VpcId",)),
}
for _op, (_kind, _parents) in _EC2_CREATES.items():
    on("ec2", _op, actions=(f"ec2:{_op}", "ec2:CreateTags"))(_ec2_create(_kind, _parents))


def _ec2_on(*names: str) -> Callable[[Call], list[Check]]:
    """Operations on existing resources named by these parameters (each must be allowed)."""

    def build(call: Call) -> list[Check]:
        checks = []
        for name in names:
            for value in call.flat_list(name):
                resource = str(value)
                if resource.startswith("rtbassoc-"):
                    resource = call.world.ec2_route_table_of_association(resource) or resource
                if resource.startswith("eipassoc-"):
                    resource = call.world.ec2_address(resource) or resource
                checks.append(_ec2_existing(call, resource))
        if not checks:
            raise Unresolved(f"ec2:{call.operation} without {' or '.join(names)}")
        return checks

    return build


_EC2_EXISTING: dict[str, tuple[str, ...]] = {
    "DeleteVpc": ("VpcId",), "ModifyVpcAttribute": ("VpcId",),
    "DeleteSubnet": ("SubnetId",), "ModifySubnetAttribute": ("SubnetId",),
    "AttachInternetGateway": ("InternetGatewayId", "VpcId"),
    "DetachInternetGateway": ("InternetGatewayId", "VpcId"),
    "DeleteInternetGateway": ("InternetGatewayId",),
    "DeleteRouteTable": ("RouteTableId",), "CreateRoute": ("RouteTableId",),
    "ReplaceRoute": ("RouteTableId",), "DeleteRoute": ("RouteTableId",),
    "AssociateRouteTable": ("RouteTableId", "SubnetId"),
    "DisassociateRouteTable": ("AssociationId",),
    "ReplaceRouteTableAssociation": ("AssociationId", "RouteTableId"),
    "DeleteNatGateway": ("NatGatewayId",), "ReleaseAddress": ("AllocationId",),
    "AssociateAddress": ("AllocationId",), "DisassociateAddress": ("AssociationId",),
    "DeleteSecurityGroup": ("GroupId",),
    "AuthorizeSecurityGroupIngress": ("GroupId",), "AuthorizeSecurityGroupEgress": ("GroupId",),
    "RevokeSecurityGroupIngress": ("GroupId",), "RevokeSecurityGroupEgress": ("GroupId",),
    "UpdateSecurityGroupRuleDescriptionsIngress": ("GroupId",),
    "UpdateSecurityGroupRuleDescriptionsEgress": ("GroupId",),
    "ModifySecurityGroupRules": ("GroupId",),
    "DeleteVpcEndpoints": ("VpcEndpointId",), "ModifyVpcEndpoint": ("VpcEndpointId",),
    "DeleteNetworkAcl": ("NetworkAclId",),
    "DeleteEgressOnlyInternetGateway": ("EgressOnlyInternetGatewayId",),
    "DeleteNetworkInterface": ("NetworkInterfaceId",),
}  # fmt: skip
for _op, _names in _EC2_EXISTING.items():
    on("ec2", _op)(_ec2_on(*_names))


@on("ec2", "CreateTags", "DeleteTags")
def _ec2_tags(call: Call) -> list[Check]:
    tags = query_tags(call.params, "Tag")
    keys = list(tags) or [
        str(call.params[k]) for k in call.params if re.match(r"^Tag\.\d+\.Key$", k)
    ]
    checks = []
    for resource in call.flat_list("ResourceId"):
        check = _ec2_existing(call, str(resource), **tag_context(tags, keys))
        checks.append(check)
    if not checks:
        raise Unresolved(f"ec2:{call.operation} without ResourceId")
    return checks


def _ec2_describe(service: str, operation: str) -> Rule:
    return Rule(lambda call: [Check(call.action, "*")], (f"ec2:{operation}",))


def _ec2_read(operation: str) -> bool:
    reads = operation.startswith("Describe") or operation.startswith("GetManagedPrefixList")
    return reads and iamdata.action_exists(f"ec2:{operation}")


FAMILIES.append(("ec2", _ec2_read, _ec2_describe,
                 "`Describe*` and `GetManagedPrefixList*` (those the authorization reference "
                 "lists): `ec2:<Operation>` on `*`"))  # fmt: skip


# ================================ RDS ========================================================


def _rds_arn(call: Call, kind: str, name: str) -> str:
    return name if name.startswith("arn:") else call.arn("rds", f"{kind}:{name}")


def _rds_tags(call: Call) -> dict[str, str]:
    return query_tags(call.params, "Tags")


_RDS_RESOURCES = {
    "DBInstanceIdentifier": "db", "DBSubnetGroupName": "subgrp", "DBParameterGroupName": "pg",
    "OptionGroupName": "og", "DBSnapshotIdentifier": "snapshot", "DBClusterIdentifier": "cluster",
}  # fmt: skip


def _rds(*names: str, star_if_missing: bool = False) -> Callable[[Call], list[Check]]:
    def build(call: Call) -> list[Check]:
        tags = _rds_tags(call)
        context = dict(tag_context(tags)) if tags else {}
        if call.get("Engine"):
            context["rds:DatabaseEngine"] = str(call.get("Engine"))
        if call.get("DBInstanceClass"):
            context["rds:DatabaseClass"] = str(call.get("DBInstanceClass"))
        checks = []
        for name in names:
            value = call.get(name)
            if value:
                arn = _rds_arn(call, _RDS_RESOURCES[name], str(value))
                checks.append(
                    Check(
                        call.action,
                        arn,
                        context,
                        lookup_policy=False,
                        tags=call.world.rds_tags(arn),
                    )
                )
        if not checks:
            if not star_if_missing:
                raise Unresolved(f"rds:{call.operation} without {names[0]}")
            kind = _RDS_RESOURCES[names[0]]
            checks.append(
                Check(
                    call.action, call.arn("rds", f"{kind}:*"), context, lookup_policy=False, tags={}
                )
            )
        return checks

    return build


on("rds", "CreateDBInstance", "ModifyDBInstance")(
    _rds("DBInstanceIdentifier", "DBSubnetGroupName", "DBParameterGroupName", "OptionGroupName")
)
on("rds", "DeleteDBInstance", "RebootDBInstance", "StartDBInstance", "StopDBInstance")(
    _rds("DBInstanceIdentifier")
)
on("rds", "DescribeDBInstances")(_rds("DBInstanceIdentifier", star_if_missing=True))
on("rds", "CreateDBSubnetGroup", "DeleteDBSubnetGroup", "ModifyDBSubnetGroup")(
    _rds("DBSubnetGroupName")
)
on("rds", "DescribeDBSubnetGroups")(_rds("DBSubnetGroupName", star_if_missing=True))
on("rds", "CreateDBSnapshot", "DeleteDBSnapshot")(
    _rds("DBSnapshotIdentifier", "DBInstanceIdentifier")
)
on("rds", "DescribeDBSnapshots")(
    _rds("DBSnapshotIdentifier", "DBInstanceIdentifier", star_if_missing=True)
)
on("rds", "CreateDBParameterGroup", "DeleteDBParameterGroup", "ModifyDBParameterGroup",
   "DescribeDBParameters")(_rds("DBParameterGroupName"))  # fmt: skip
on("rds", "DescribeDBParameterGroups")(_rds("DBParameterGroupName", star_if_missing=True))


@on("rds", "AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource")
def _rds_tagging(call: Call) -> list[Check]:
    arn = str(call.need("ResourceName"))
    tags = _rds_tags(call)
    keys = list(tags) if tags else [str(k) for k in call.flat_list("TagKeys")]
    return [Check(call.action, arn, tag_context(tags, keys) if keys else {}, lookup_policy=False,
                  tags=call.world.rds_tags(arn))]  # fmt: skip


@on("rds", "DescribeDBEngineVersions", "DescribeOrderableDBInstanceOptions",
    "DescribeAccountAttributes", "DescribeEvents", "DescribeCertificates")  # fmt: skip
def _rds_star(call: Call) -> list[Check]:
    return [Check(call.action, "*")]
