"""VPC peering connections as AWS documents them. moto 5.2.5 (and the moto
5.1.4 of LocalStack 4.4.0, which `localstack_extensions.py` patches with
the same rules) moves a request straight to `pending-acceptance`, an accept
to `active` and a delete to `deleted`, peers overlapping VPCs, deletes any
connection, and shows the requester's tags in the accepter's region.

- A request is `initiating-request` first, then `pending-acceptance`; a
  request between VPCs with overlapping IPv4 CIDR blocks goes to `failed`
  instead (EC2 API Reference, CreateVpcPeeringConnection: "If you create a
  VPC peering connection request between VPCs with overlapping CIDR
  blocks, the VPC peering connection has a status of failed"; VPC
  Peering Guide, "VPC peering connection lifecycle"). AWS documents no
  status message for it; the one here is the extension's.
- An accepted connection is `provisioning`, then `active`; a deleted one
  `deleting`, then `deleted` (same lifecycle page; Delete a VPC peering
  connection: "the status is set to Deleting and then Deleted").
- A `failed` or `rejected` connection cannot be deleted: InvalidStateTransition
  (EC2 API Reference, DeleteVpcPeeringConnection: "You cannot delete a VPC
  peering connection that's in the failed or rejected state"; the
  Terraform AWS provider quotes the error, "attempted to transition from
  failed to deleting").
- Each side of a cross-region connection has its own tags: the
  requester's TagSpecifications tag the requester's region's side only,
  and CreateTags in the accepter's region tags the accepter's side
  (aws-cloudformation/cloudformation-coverage-roadmap#340: the peer's side
  is not tagged; Terraform's `aws_vpc_peering_connection_accepter` manages
  its own tags). moto keeps one connection object for both regions and
  shows the requester region's tags in both.

- An unknown connection id is InvalidVpcPeeringConnectionID.NotFound (EC2
  API Reference, "Error codes for the Amazon EC2 API"), DescribeVpcPeering
  Connections with that id included (the Terraform AWS provider's
  FindVPCPeeringConnectionByID expects it there); moto spells it
  `...Id.NotFound`, and its Describe leaves unknown ids out.

Not emulated: the 7-day expiry of an unaccepted request, and how long
each transient state lasts on AWS (here TRANSITION_SECONDS).
"""

import ipaddress
import time

TRANSITION_SECONDS = 0.5

# The transient state each lasting state passes through first.
_VIA = {"pending-acceptance": "initiating-request", "active": "provisioning", "deleted": "deleting"}


def _messages(pcx) -> dict:
    peer = pcx.peer_vpc.owner_id
    return {
        "initiating-request": f"Initiating Request to {peer}",
        "pending-acceptance": f"Pending Acceptance by {peer}",
        "failed": "Failed due to overlapping CIDR blocks",
        "provisioning": "Provisioning",
        "active": "Active",
        "deleting": "Deleting",
        "deleted": f"Deleted by {peer}",
    }


def _move(pcx, to: str, via: str | None = None) -> None:
    """Shows `via` now and `to` from TRANSITION_SECONDS on."""
    messages = _messages(pcx)
    shown = via or to
    pcx._status.code = shown
    pcx._status.message = messages[shown]
    pcx._drctl_next = (time.monotonic() + TRANSITION_SECONDS, to, messages[to]) if via else None


def _settle(pcx) -> None:
    due = getattr(pcx, "_drctl_next", None)
    if due and time.monotonic() >= due[0]:
        _, pcx._status.code, pcx._status.message = due
        pcx._drctl_next = None


def _ipv4_blocks(vpc) -> list:
    blocks = {vpc.cidr_block}
    blocks.update(a["cidr_block"] for a in vpc.get_cidr_block_association_set(ipv6=False))
    return [ipaddress.ip_network(b) for b in blocks if b]


def overlap(vpc, peer_vpc) -> bool:
    return any(a.overlaps(b) for a in _ipv4_blocks(vpc) for b in _ipv4_blocks(peer_vpc))


class RegionView:
    """A connection as one region's backend shows it: that region's tags."""

    def __init__(self, pcx, backend):
        self.__dict__["_pcx"] = pcx
        self.__dict__["_backend"] = backend

    def __getattr__(self, name):
        if name in ("_pcx", "_backend"):
            raise AttributeError(name)
        return getattr(self._pcx, name)

    def __setattr__(self, name, value):
        setattr(self._pcx, name, value)

    def get_tags(self):
        return self._backend.describe_tags(filters={"resource-id": [self._pcx.id]})

    @property
    def tag_set(self):
        return self.get_tags()

    @property
    def tag_list(self):
        return self.get_tags()

    def get_filter_value(self, filter_name, method_name=None):
        if filter_name.startswith("tag") and filter_name != "tag":
            tags = self.get_tags()
            if filter_name.startswith("tag:"):
                key = filter_name[len("tag:"):]
                return next((t["value"] for t in tags if t["key"] == key), None)
            if filter_name == "tag-key":
                return [t["key"] for t in tags]
            if filter_name == "tag-value":
                return [t["value"] for t in tags]
        return self._pcx.get_filter_value(filter_name, method_name)


def apply() -> None:
    from moto.ec2.exceptions import EC2ClientError, InvalidVPCPeeringConnectionIdError
    from moto.ec2.models.vpc_peering_connections import VPCPeeringConnectionBackend as Backend

    def not_found(vpc_pcx_id):
        return EC2ClientError(
            "InvalidVpcPeeringConnectionID.NotFound",
            f"The vpcPeeringConnection ID '{vpc_pcx_id}' does not exist",
        )

    create = Backend.create_vpc_peering_connection
    describe = Backend.describe_vpc_peering_connections
    get = Backend.get_vpc_peering_connection
    accept = Backend.accept_vpc_peering_connection
    delete = Backend.delete_vpc_peering_connection

    def create_vpc_peering_connection(self, vpc, peer_vpc, tags=None):
        pcx = create(self, vpc, peer_vpc, tags)
        if overlap(vpc, peer_vpc):
            _move(pcx, "failed", via="initiating-request")
        else:
            _move(pcx, "pending-acceptance", via=_VIA["pending-acceptance"])
        return pcx

    def describe_vpc_peering_connections(self, vpc_peering_ids=None):
        found = describe(self, vpc_peering_ids)
        known = {pcx.id for pcx in found}
        for wanted in vpc_peering_ids or []:
            if wanted not in known:
                raise not_found(wanted)
        for pcx in found:
            _settle(pcx)
        return [RegionView(pcx, self) for pcx in found]

    def get_vpc_peering_connection(self, vpc_pcx_id):
        try:
            pcx = get(self, vpc_pcx_id)
        except InvalidVPCPeeringConnectionIdError:
            raise not_found(vpc_pcx_id) from None
        _settle(pcx)
        return pcx

    def accept_vpc_peering_connection(self, vpc_pcx_id):
        pcx = accept(self, vpc_pcx_id)
        _move(pcx, "active", via=_VIA["active"])
        return RegionView(pcx, self)

    def delete_vpc_peering_connection(self, vpc_pcx_id):
        pcx = get_vpc_peering_connection(self, vpc_pcx_id)
        if pcx._status.code in ("deleting", "deleted"):
            return pcx
        if pcx._status.code in ("failed", "rejected"):
            raise EC2ClientError(
                "InvalidStateTransition",
                f"Invalid state transition for {vpc_pcx_id}, attempted to transition from {pcx._status.code} to deleting",
            )
        pcx = delete(self, vpc_pcx_id)
        _move(pcx, "deleted", via=_VIA["deleted"])
        return pcx

    Backend.create_vpc_peering_connection = create_vpc_peering_connection
    Backend.describe_vpc_peering_connections = describe_vpc_peering_connections
    Backend.get_vpc_peering_connection = get_vpc_peering_connection
    Backend.accept_vpc_peering_connection = accept_vpc_peering_connection
    Backend.delete_vpc_peering_connection = delete_vpc_peering_connection
