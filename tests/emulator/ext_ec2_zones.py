"""Availability Zones as AWS enforces them for the calls that name them.

- CreateSubnet takes an Availability Zone of the request's region that the
  region offers the account: any other is InvalidParameterValue, "Value
  (us-west-1c) for parameter availabilityZone is invalid. Subnets can
  currently only be created in the following availability zones:
  us-west-1a, us-west-1b." (EC2 API Reference, CreateSubnet,
  `AvailabilityZone`; the answer as AWS words it is quoted in
  hashicorp/terraform#3434 and awslabs/ecs-refarch-continuous-deployment#12:
  zone names and how many a region offers differ by account). moto 5.2.5
  accepts the name of a zone of any region (`us-east-1a` in us-west-1),
  refusing only names no region has. The zones offered are those moto's
  DescribeAvailabilityZones lists for the region.
- CreateLoadBalancer of an application load balancer takes subnets in at
  least two Availability Zones and at most one subnet per zone (ELB API
  Reference, CreateLoadBalancer, `Subnets`: "You can specify only one
  subnet per Availability Zone ... [Application Load Balancers] You must
  specify subnets from at least two Availability Zones"); AWS answers
  ValidationError "At least two subnets in two different Availability Zones
  must be specified" and InvalidConfigurationRequest "A load balancer cannot
  be attached to multiple subnets in the same Availability Zone". moto
  checks both in SetSubnets but neither in CreateLoadBalancer.

Not emulated: RDS CreateDBSubnetGroup's rule that the subnets cover at least
two zones (DBSubnetGroupDoesNotCoverEnoughAZs); drctl's blueprint gives the
group one subnet in each of two or three zones (docs/aws-conformance.md).
"""


def _subnets() -> None:
    from moto.ec2.exceptions import InvalidAvailabilityZoneError
    from moto.ec2.models import EC2Backend

    # On EC2Backend itself, wrapping whatever it resolves now: another
    # extension (ext_ec2_rules.py) may have set its own create_subnet there,
    # which would hide a patch of the SubnetBackend mixin.
    create = EC2Backend.create_subnet

    def create_subnet(
        self, vpc_id, cidr_block, ipv6_cidr_block=None, availability_zone=None, availability_zone_id=None, **kwargs
    ):
        offered = self.describe_availability_zones()
        names = [z.name for z in offered]
        if availability_zone:
            unknown = availability_zone not in names
        else:
            unknown = bool(availability_zone_id) and availability_zone_id not in [z.zone_id for z in offered]
        if unknown:
            raise InvalidAvailabilityZoneError(availability_zone or availability_zone_id, ", ".join(names))
        return create(self, vpc_id, cidr_block, ipv6_cidr_block, availability_zone, availability_zone_id, **kwargs)

    EC2Backend.create_subnet = create_subnet


def _load_balancers() -> None:
    from moto.elbv2.exceptions import InvalidConfigurationRequest, ValidationError
    from moto.elbv2.models import ELBv2Backend

    create = ELBv2Backend.create_load_balancer

    def create_load_balancer(
        self,
        name,
        security_groups,
        subnet_ids,
        subnet_mappings=None,
        scheme="internet-facing",
        loadbalancer_type=None,
        ip_address_type="ipv4",
        tags=None,
    ):
        if (loadbalancer_type or "application") == "application":
            zones = []
            for subnet_id in list(subnet_ids or []) + [m["SubnetId"] for m in subnet_mappings or []]:
                try:
                    zones.append(self.ec2_backend.get_subnet(subnet_id).availability_zone)
                except Exception:
                    pass  # moto's own create answers SubnetNotFound
            if len(set(zones)) != len(zones):
                raise InvalidConfigurationRequest(
                    "A load balancer cannot be attached to multiple subnets in the same Availability Zone"
                )
            if len(set(zones)) < 2:
                raise ValidationError("At least two subnets in two different Availability Zones must be specified")
        return create(
            self,
            name,
            security_groups,
            subnet_ids,
            subnet_mappings,
            scheme,
            loadbalancer_type,
            ip_address_type,
            tags,
        )

    ELBv2Backend.create_load_balancer = create_load_balancer


def apply() -> None:
    _subnets()
    _load_balancers()
