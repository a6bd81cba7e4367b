"""EC2 rules AWS enforces and moto 5.2.5 does not, for the calls drctl's
EC2 providers make (docs/aws-conformance.md, the EC2 rows).

- ModifyVpcAttribute changes one attribute per request: DNS support and
  DNS hostnames together are InvalidParameterCombination ("Fields for
  multiple attribute types specified: enableDnsSupport,
  enableDnsHostnames", as quoted in aws/aws-sdk-go#415); DNS hostnames can
  be enabled only while DNS support is (EC2 API Reference,
  ModifyVpcAttribute: "You cannot modify the DNS resolution and DNS
  hostnames attributes in the same request ... You can only enable DNS
  hostnames if you've enabled DNS support"). The second answer's code and
  wording are the extension's; AWS documents the rule, not the message.
  moto sets both, in any order.
- Eventual consistency (EC2 Developer Guide, "Eventual consistency in the
  Amazon EC2 API": a resource just created may be unknown for a while to
  the next call, answered `*.NotFound`). Modelled narrowly, for the calls
  drctl makes right after a create: the first ModifyVpcAttribute,
  ModifySubnetAttribute, AttachInternetGateway or Authorize/Revoke
  SecurityGroupIngress/Egress naming a new VPC, subnet, internet gateway
  or security group (as the resource it changes) answers its
  `*.NotFound` once. Any other call naming the new id first (a describe,
  another create that uses it) settles it: nothing else is delayed.
- CreateNatGateway is asynchronous (EC2 API Reference, NatGateway
  `State`, `FailureCode`, `FailureMessage`): `pending` until a
  DescribeNatGateways has shown it so, then `available`, or `failed` with
  FailureCode `Gateway.NotAttached` ("Network vpc-... has no Internet
  gateway attached", the NatGateway page's example) for a public gateway
  in a VPC without an attached internet gateway. A failed gateway stays
  listed; here it holds no address (the extension's simplification).
  moto makes every gateway `available` at once.
- DeleteNatGateway: `deleting` until a DescribeNatGateways has shown it
  so, then `deleted` (NatGateway `State`); deleting a NAT gateway
  disassociates its Elastic IP without releasing it (Amazon VPC User
  Guide, "Delete a NAT gateway"), here once it is `deleted`. A delete of
  a gateway `deleting` or `deleted` changes nothing. moto marks it
  `deleted` at once and never disassociates the address.
- ReleaseAddress of an associated address is InvalidIPAddress.InUse (EC2
  API Reference, ReleaseAddress: "you must disassociate the Elastic IP
  address before you can release it"; "Error codes for the Amazon EC2
  API": InvalidIPAddress.InUse). moto disassociates and releases.
- DetachInternetGateway while the VPC has an associated Elastic IP (a NAT
  gateway's, say) is DependencyViolation ("Network vpc-... has some
  mapped public address(es). Please unmap those public address(es) before
  detaching the gateway."; EC2 API Reference, DetachInternetGateway: "The
  VPC must not contain any running instances with Elastic IP addresses or
  public IPv4 addresses"). moto detaches (its own TODO says so).
- AssociateRouteTable of a subnet that already has an association is
  Resource.AlreadyAssociated (EC2 API Reference, AssociateRouteTable;
  ReplaceRouteTableAssociation changes a subnet's table). moto returns the
  existing association's id, even one with another table.
"""

import threading

_LOCK = threading.Lock()

# New ids no call has named yet, and the error a first guarded call
# naming one answers.
_UNSEEN: dict[str, tuple[str, str]] = {}

# Action -> the parameter naming the resource it changes.
_GUARDED = {
    "ModifyVpcAttribute": "VpcId",
    "ModifySubnetAttribute": "SubnetId",
    "AttachInternetGateway": "InternetGatewayId",
    "AuthorizeSecurityGroupIngress": "GroupId",
    "AuthorizeSecurityGroupEgress": "GroupId",
    "RevokeSecurityGroupIngress": "GroupId",
    "RevokeSecurityGroupEgress": "GroupId",
}


def _new(resource_id: str, code: str, message: str) -> None:
    with _LOCK:
        _UNSEEN[resource_id] = (code, message)


def _eventual_consistency() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import EC2Backend
    from moto.ec2.responses import EC2Response

    for name, code, message in [
        ("create_vpc", "InvalidVpcID.NotFound", "The vpc ID '{}' does not exist"),
        ("create_subnet", "InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist"),
        (
            "create_internet_gateway",
            "InvalidInternetGatewayID.NotFound",
            "The internetGateway ID '{}' does not exist",
        ),
        (
            "create_security_group",
            "InvalidGroup.NotFound",
            "The security group '{}' does not exist",
        ),
    ]:
        original = getattr(EC2Backend, name)

        def create(self, *args, _original=original, _code=code, _message=message, **kwargs):
            made = _original(self, *args, **kwargs)
            _new(made.id, _code, _message.format(made.id))
            return made

        setattr(EC2Backend, name, create)

    call_action = EC2Response.call_action

    def first_use_of(response) -> tuple[str, str] | None:
        """The error this call answers, if it is the first to name a new id
        and one of the guarded calls; otherwise settles every new id it
        names."""
        query = getattr(response, "querystring", None) or {}
        action = (query.get("Action") or [None])[0]
        with _LOCK:
            if not _UNSEEN:
                return None
            param = _GUARDED.get(action)
            if param:
                target = (query.get(param) or [None])[0]
                return _UNSEEN.pop(target, None)
            for values in query.values():
                for value in values if isinstance(values, list) else [values]:
                    if isinstance(value, str):
                        _UNSEEN.pop(value, None)
        return None

    def ec2_call_action(self):
        unknown = first_use_of(self)
        if unknown is None:
            return call_action(self)
        code, message = unknown
        action = self.querystring["Action"][0]
        method = _method_name(action)

        def refuse(_self):
            raise EC2ClientError(code, message)

        # call_action turns an EC2ClientError raised by the action into
        # AWS's error response: this request's action raises it.
        self.__dict__[method] = refuse.__get__(self)
        try:
            return call_action(self)
        finally:
            self.__dict__.pop(method, None)

    EC2Response.call_action = ec2_call_action


def _method_name(action: str) -> str:
    from moto.core.utils import camelcase_to_underscores

    return camelcase_to_underscores(action)


def _modify_vpc_attribute() -> None:
    from moto.ec2.exceptions import EC2ClientError, InvalidParameterCombination
    from moto.ec2.responses.vpcs import VPCs

    original = VPCs.modify_vpc_attribute

    def modify_vpc_attribute(self):
        given = [
            a
            for a in ("EnableDnsSupport", "EnableDnsHostnames", "EnableNetworkAddressUsageMetrics")
            if self._get_param(f"{a}.Value") is not None
        ]
        if len(given) > 1:
            raise InvalidParameterCombination(
                "Fields for multiple attribute types specified: "
                + ", ".join(a[0].lower() + a[1:] for a in given)
            )
        enabling = str(self._get_param("EnableDnsHostnames.Value")).lower() == "true"
        if given == ["EnableDnsHostnames"] and enabling:
            vpc = self.ec2_backend.get_vpc(self._get_param("VpcId"))
            if str(vpc.enable_dns_support).lower() != "true":
                raise EC2ClientError(
                    "InvalidParameterValue",
                    "DNS hostnames can be enabled only for a VPC with DNS support enabled",
                )
        return original(self)

    VPCs.modify_vpc_attribute = modify_vpc_attribute


def _nat_gateways() -> None:
    from moto.ec2.models import EC2Backend

    create = EC2Backend.create_nat_gateway
    describe = EC2Backend.describe_nat_gateways
    delete = EC2Backend.delete_nat_gateway

    def release(backend, nat) -> None:
        held = {a.get("associationId") for a in nat.address_set} - {None}
        for eip in backend.addresses:
            if eip.association_id in held:
                backend.disassociate_address(association_id=eip.association_id)

    def ec2_create_nat_gateway(
        self, subnet_id, allocation_id, tags=None, connectivity_type="public"
    ):
        nat = create(self, subnet_id, allocation_id, tags, connectivity_type)
        attached = any(
            igw.vpc is not None and igw.vpc.id == nat.vpc_id
            for igw in self.internet_gateways.values()
        )
        nat.state = "pending"
        if (connectivity_type or "public") == "public" and not attached:
            nat._drctl_next = ("failed", False)
        else:
            nat._drctl_next = ("available", False)
        return nat

    def ec2_describe_nat_gateways(self, filters, nat_gateway_ids):
        found = describe(self, filters, nat_gateway_ids)
        for nat in found:
            due = getattr(nat, "_drctl_next", None)
            if due is None:
                continue
            to, shown = due
            if not shown:
                nat._drctl_next = (to, True)
                continue
            nat._drctl_next = None
            nat.state = to
            if to == "failed":
                nat.failure_code = "Gateway.NotAttached"
                nat.failure_message = f"Network {nat.vpc_id} has no Internet gateway attached"
                release(self, nat)
            elif to == "deleted":
                release(self, nat)
        return found

    def ec2_delete_nat_gateway(self, nat_gateway_id):
        nat = self.nat_gateways.get(nat_gateway_id)
        if nat is None:
            return delete(self, nat_gateway_id)
        if nat.state in ("deleting", "deleted"):
            return nat
        if nat.state == "failed":
            nat.state = "deleted"
            nat._drctl_next = None
            return nat
        nat.state = "deleting"
        nat._drctl_next = ("deleted", False)
        return nat

    EC2Backend.create_nat_gateway = ec2_create_nat_gateway
    EC2Backend.describe_nat_gateways = ec2_describe_nat_gateways
    EC2Backend.delete_nat_gateway = ec2_delete_nat_gateway


def _addresses_and_gateways() -> None:
    from moto.ec2.exceptions import DependencyViolationError, EC2ClientError
    from moto.ec2.models import EC2Backend

    release_address = EC2Backend.release_address
    detach_internet_gateway = EC2Backend.detach_internet_gateway

    def ec2_release_address(self, address=None, allocation_id=None):
        if address:
            found = self.address_by_ip([address], fail_if_not_found=False)
        else:
            found = self.address_by_allocation([allocation_id])
        for eip in found:
            if eip.association_id or eip.eni is not None or eip.instance is not None:
                raise EC2ClientError(
                    "InvalidIPAddress.InUse",
                    f"Address {eip.allocation_id or eip.public_ip} is in use.",
                )
        return release_address(self, address=address, allocation_id=allocation_id)

    def ec2_detach_internet_gateway(self, internet_gateway_id, vpc_id):
        mapped = any(
            eip.eni is not None
            and getattr(getattr(eip.eni, "subnet", None), "vpc_id", None) == vpc_id
            for eip in self.addresses
        )
        igw = self.internet_gateways.get(internet_gateway_id)
        if mapped and igw is not None and igw.vpc is not None and igw.vpc.id == vpc_id:
            raise DependencyViolationError(
                f"Network {vpc_id} has some mapped public address(es). "
                "Please unmap those public address(es) before detaching the gateway."
            )
        return detach_internet_gateway(self, internet_gateway_id, vpc_id)

    EC2Backend.release_address = ec2_release_address
    EC2Backend.detach_internet_gateway = ec2_detach_internet_gateway


def _route_table_associations() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import EC2Backend

    associate = EC2Backend.associate_route_table

    def ec2_associate_route_table(self, route_table_id, gateway_id=None, subnet_id=None):
        if subnet_id:
            for table in self.route_tables.values():
                if subnet_id in table._associations.values():
                    raise EC2ClientError(
                        "Resource.AlreadyAssociated",
                        f"the specified association for route table {route_table_id} "
                        "conflicts with an existing association",
                    )
        return associate(self, route_table_id, gateway_id=gateway_id, subnet_id=subnet_id)

    EC2Backend.associate_route_table = ec2_associate_route_table


def apply() -> None:
    _eventual_consistency()
    _modify_vpc_attribute()
    _nat_gateways()
    _addresses_and_gateways()
    _route_table_associations()
