"""Lambda: a VPC function's network interfaces, which moto 5.2.5 never makes.

On AWS a function with a VPC configuration gets Hyperplane network
interfaces, one per subnet and security-group combination, shared by every
function of the account with the same combination (AWS Lambda Developer
Guide, "Giving Lambda functions access to resources in an Amazon VPC",
"Hyperplane ENIs"). What drctl has to respect:

- They hold their subnets and security groups: DeleteSubnet and
  DeleteSecurityGroup answer DependencyViolation while one exists (EC2 API
  Reference, DeleteSubnet: "You must terminate all running instances in the
  subnet before you can delete the subnet"; DeleteSecurityGroup: "If you
  attempt to delete a security group that is associated with an instance or
  network interface ... the operation fails with DependencyViolation").
- After the last function using one is deleted (or moved out of the VPC),
  Lambda deletes it later (reported 20 to 45 minutes; here
  DRCTL_EMU_LAMBDA_ENI_LINGER_SECONDS, default 2 s).
- Lambda deletes it with the permissions of the functions' execution role.
  If the role is gone by then, the interface stays for good, and so does
  what it holds (AWS Knowledge Center, "lambda-eni-find-delete";
  terraform-aws-modules/terraform-aws-lambda#310). Here: if the role of any
  function that used it no longer exists when it is due, it is never
  deleted.

Only the interfaces made here hold their subnets and groups: moto's own
(NAT gateways, ECS tasks) are left as moto keeps them.
"""

import os
import threading
import time
import uuid

_LOCK = threading.Lock()
# eni id -> {"account", "region", "key", "functions": set of the functions
#            using it, "roles": {function: its latest execution role} of
#            every function that used it, "due": float | None, "stuck": bool}
_ENIS: dict[str, dict] = {}


def _linger() -> float:
    return float(os.environ.get("DRCTL_EMU_LAMBDA_ENI_LINGER_SECONDS", "2"))


def _vpc(config) -> tuple[list[str], list[str]]:
    config = config or {}
    return list(config.get("SubnetIds") or []), sorted(config.get("SecurityGroupIds") or [])


def _role_exists(account: str, role_arn: str) -> bool:
    from moto.iam.models import iam_backends

    name = role_arn.rsplit("/", 1)[-1]
    backend = iam_backends[account]["global"]
    return any(r.name == name for r in backend.get_roles())


def _attach(account: str, region: str, function: str, role: str, config) -> None:
    """Gives `function` the interfaces of its subnets and groups, sharing
    those another function of the same combination already has."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.utils import random_private_ip

    subnets, groups = _vpc(config)
    if not subnets or not groups:
        return
    ec2 = ec2_backends[account][region]
    for subnet_id in subnets:
        key = (subnet_id, tuple(groups))
        found = next(
            (
                e
                for e in _ENIS.values()
                if e["account"] == account
                and e["region"] == region
                and e["key"] == key
                and not e["stuck"]
            ),
            None,
        )
        if found is None:
            subnet = ec2.get_subnet(subnet_id)
            eni = ec2.create_network_interface(
                subnet_id,
                random_private_ip(subnet.cidr_block),
                group_ids=groups,
                description=f"AWS Lambda VPC ENI-{function}-{uuid.uuid4()}",
            )
            eni.interface_type = "lambda"
            eni.requester_managed = True
            eni.requester_id = f"{account}:lambda"
            eni.status = "in-use"
            found = _ENIS[eni.id] = {
                "id": eni.id,
                "account": account,
                "region": region,
                "key": key,
                "functions": set(),
                "roles": {},
                "due": None,
                "stuck": False,
            }
        found["functions"].add(function)
        found["roles"][function] = role
        found["due"] = None


def _detach(account: str, region: str, function: str) -> None:
    """Takes `function` off its interfaces; one no function uses any more
    is released after the linger, by a timer, as Lambda does it: with the
    roles as they are then."""
    for eni_id, e in _ENIS.items():
        if e["account"] == account and e["region"] == region and function in e["functions"]:
            e["functions"].discard(function)
            if not e["functions"]:
                e["due"] = time.monotonic() + _linger()
                timer = threading.Timer(_linger(), _release, args=(eni_id,))
                timer.daemon = True
                timer.start()


def _release(eni_id: str) -> None:
    """Deletes the interface if it is still due, with its functions' roles;
    one whose role is gone is left for good."""
    from moto.ec2.models import ec2_backends

    with _LOCK:
        e = _ENIS.get(eni_id)
        if e is None or e["stuck"] or e["due"] is None or e["due"] > time.monotonic():
            return
        account, region = e["account"], e["region"]
        if all(_role_exists(account, role) for role in e["roles"].values()):
            ec2_backends[account][region].enis.pop(eni_id, None)
            del _ENIS[eni_id]
        else:
            e["stuck"] = True
            eni = ec2_backends[account][region].enis.get(eni_id)
            if eni is not None:
                eni.status = "available"


def _holding(account: str, region: str, subnet_id=None, group_id=None) -> list[str]:
    from moto.ec2.models import ec2_backends

    enis = ec2_backends[account][region].enis
    return [
        eni_id
        for eni_id, e in _ENIS.items()
        if eni_id in enis
        and e["account"] == account
        and e["region"] == region
        and (subnet_id is None or e["key"][0] == subnet_id)
        and (group_id is None or group_id in e["key"][1])
    ]


def apply() -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models import EC2Backend

    create_function = LambdaBackend.create_function
    delete_function = LambdaBackend.delete_function
    update_configuration = LambdaBackend.update_function_configuration

    def lambda_create_function(self, spec):
        fn = create_function(self, spec)
        with _LOCK:
            _attach(self.account_id, self.region_name, fn.function_name, fn.role, spec.get("VpcConfig"))
        return fn

    def lambda_delete_function(self, function_name, qualifier=None):
        name = self.get_function(function_name).function_name
        delete_function(self, function_name, qualifier)
        if qualifier is None:
            with _LOCK:
                _detach(self.account_id, self.region_name, name)

    def lambda_update_function_configuration(self, function_name, qualifier, body):
        result = update_configuration(self, function_name, qualifier, body)
        if "VpcConfig" in body or "Role" in body:
            fn = self.get_function(function_name)
            with _LOCK:
                _detach(self.account_id, self.region_name, fn.function_name)
                _attach(self.account_id, self.region_name, fn.function_name, fn.role, fn._vpc_config)
        return result

    LambdaBackend.create_function = lambda_create_function
    LambdaBackend.delete_function = lambda_delete_function
    LambdaBackend.update_function_configuration = lambda_update_function_configuration

    delete_subnet = EC2Backend.delete_subnet
    delete_security_group = EC2Backend.delete_security_group

    def ec2_delete_subnet(self, subnet_id):
        with _LOCK:
            held = _holding(self.account_id, self.region_name, subnet_id=subnet_id)
        if held:
            raise DependencyViolationError(
                f"The subnet '{subnet_id}' has dependencies and cannot be deleted."
            )
        return delete_subnet(self, subnet_id)

    def ec2_delete_security_group(self, name=None, group_id=None):
        if group_id:
            with _LOCK:
                held = _holding(self.account_id, self.region_name, group_id=group_id)
            if held:
                raise DependencyViolationError(
                    f"resource {group_id} has a dependent object"
                )
        return delete_security_group(self, name=name, group_id=group_id)

    EC2Backend.delete_subnet = ec2_delete_subnet
    EC2Backend.delete_security_group = ec2_delete_security_group
