"""EC2 VPC endpoints: deletion as AWS does it, where moto 5.2.5 is lenient.

- DeleteVpcEndpoints is asynchronous: the endpoint is `deleting`, then
  `deleted` (EC2 API Reference, VpcEndpoint `State`; AWS PrivateLink Guide,
  "VPC endpoint states"). moto marks it `deleted` at once. Here the first
  DescribeVpcEndpoints that shows it after the delete shows `deleting`, and
  the next one `deleted`.
- DeleteVpcEndpoints of an endpoint already `deleting` or `deleted` changes
  nothing (the call is answered as for any endpoint it cannot delete: an
  `Unsuccessful` item, here InvalidVpcEndpoint.NotFound for one `deleted`).
  moto deletes the gateway endpoint's routes a second time, which fails the
  whole call with InvalidRoute.NotFound: a resend after a lost answer
  failed.
- DeleteVpc while an endpoint of the VPC is not `deleted` is
  DependencyViolation (EC2 API Reference, DeleteVpc: "You must ... delete
  all ... VPC endpoints ... before you can delete the VPC"). moto deletes
  the VPC.
"""

import threading

_LOCK = threading.Lock()
# endpoint id -> shown as `deleting` once (True) or not yet (False)
_DELETING: dict[str, bool] = {}


def apply() -> None:
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models import EC2Backend
    from moto.ec2.responses.vpcs import VPCs

    delete_vpc_endpoints = EC2Backend.delete_vpc_endpoints
    describe_vpc_endpoints = EC2Backend.describe_vpc_endpoints
    delete_vpc = EC2Backend.delete_vpc

    def ec2_delete_vpc_endpoints(self, vpce_ids=None):
        with _LOCK:
            for vpce_id in vpce_ids or []:
                endpoint = self.vpc_end_points.get(vpce_id)
                if endpoint is None or endpoint.state in ("deleting", "deleted"):
                    continue
                delete_vpc_endpoints(self, [vpce_id])
                endpoint.state = "deleting"
                _DELETING[vpce_id] = False

    def ec2_describe_vpc_endpoints(self, vpc_end_point_ids, filters=None):
        found = describe_vpc_endpoints(self, vpc_end_point_ids, filters)
        with _LOCK:
            for endpoint in found:
                shown = _DELETING.get(endpoint.id)
                if shown is None:
                    continue
                if shown:
                    endpoint.state = "deleted"
                    del _DELETING[endpoint.id]
                else:
                    _DELETING[endpoint.id] = True
        return found

    def ec2_delete_vpc(self, vpc_id):
        live = [
            e.id
            for e in self.vpc_end_points.values()
            if e.vpc_id == vpc_id and e.state != "deleted"
        ]
        if live:
            raise DependencyViolationError(
                f"The vpc '{vpc_id}' has dependencies and cannot be deleted."
            )
        return delete_vpc(self, vpc_id)

    EC2Backend.delete_vpc_endpoints = ec2_delete_vpc_endpoints
    EC2Backend.describe_vpc_endpoints = ec2_describe_vpc_endpoints
    EC2Backend.delete_vpc = ec2_delete_vpc

    # The response for ids it could not delete: an `Unsuccessful` item each.
    original_response = VPCs.delete_vpc_endpoints

    def delete_vpc_endpoints_response(self):
        ids = self._get_param("VpcEndpointIds", [])
        gone = [i for i in ids if (e := self.ec2_backend.vpc_end_points.get(i)) is None or e.state == "deleted"]
        result = original_response(self)
        if not gone:
            return result
        from moto.core.responses import ActionResult

        return ActionResult(
            {
                "Unsuccessful": [
                    {
                        "ResourceId": i,
                        "Error": {
                            "Code": "InvalidVpcEndpoint.NotFound",
                            "Message": f"The VpcEndpoint Id '{i}' does not exist",
                        },
                    }
                    for i in gone
                ]
            }
        )

    VPCs.delete_vpc_endpoints = delete_vpc_endpoints_response
