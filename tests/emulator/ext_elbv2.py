"""Elastic Load Balancing v2: the idempotent creates AWS documents, which
moto 5.2.5 does not honour.

- CreateLoadBalancer: "This operation is idempotent, which means that it
  completes at most one time. If you attempt to create multiple load
  balancers with the same settings, each call succeeds." A name taken by a
  load balancer of other settings is DuplicateLoadBalancerName (ELB API
  Reference, CreateLoadBalancer). moto gives every call a new ARN: a
  second load balancer of the same name.
- CreateTargetGroup: "If you attempt to create multiple target groups with
  the same settings, each call succeeds." (ELB API Reference,
  CreateTargetGroup); other settings under a taken name are
  DuplicateTargetGroupName. moto refuses any taken name.
- CreateListener: "If you attempt to create multiple listeners with the
  same settings, each call succeeds." (ELB API Reference, CreateListener);
  a port already listened on with other settings is DuplicateListener.
  moto creates a second listener on the same port.

drctl sends these creates again after a lost answer (the fault proxy's
`lose_create_responses` loses them after moto acted), relying on AWS's
idempotency: on moto they would make duplicates or fail.

- A load balancer's network interfaces hold its subnets and security
  groups (DeleteSubnet, DeleteSecurityGroup: DependencyViolation, EC2 API
  Reference), and outlive it: they are deleted some minutes after the
  load balancer (ELB User Guide, "Delete an Application Load Balancer";
  Terraform's subnet and security group deletes retry DependencyViolation
  for it). moto makes no interfaces: the subnets and groups go at once.
  Here the load balancer holds them while it exists and for
  DRCTL_EMU_ELB_ENI_LINGER_SECONDS (default 2 s) after DeleteLoadBalancer.
"""


def _load_balancers() -> None:
    from moto.elbv2.exceptions import DuplicateLoadBalancerName
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
        wanted_subnets = sorted(
            list(subnet_ids or []) + [m["SubnetId"] for m in subnet_mappings or []]
        )
        for lb in self.load_balancers.values():
            if lb.name != name:
                continue
            same = (
                sorted(s.id for s in lb.subnets) == wanted_subnets
                and sorted(lb.security_groups or []) == sorted(security_groups or [])
                and (lb.scheme or "internet-facing") == (scheme or "internet-facing")
                and lb.type == (loadbalancer_type or "application")
                and lb.ip_address_type == (ip_address_type or "ipv4")
            )
            if same:
                return lb
            raise DuplicateLoadBalancerName()
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


def _target_groups() -> None:
    from moto.elbv2.exceptions import DuplicateTargetGroupName
    from moto.elbv2.models import ELBv2Backend

    create = ELBv2Backend.create_target_group

    def create_target_group(self, name, **kwargs):
        for tg in self.target_groups.values():
            if tg.name != name:
                continue
            same = (
                tg.protocol == kwargs.get("protocol")
                and str(tg.port) == str(kwargs.get("port"))
                and tg.vpc_id == kwargs.get("vpc_id")
                and tg.target_type == (kwargs.get("target_type") or "instance")
                and tg.health_check_path == kwargs.get("healthcheck_path")
            )
            if same:
                return tg
            raise DuplicateTargetGroupName()
        return create(self, name, **kwargs)

    ELBv2Backend.create_target_group = create_target_group


def _listeners() -> None:
    from moto.elbv2.exceptions import DuplicateListenerError
    from moto.elbv2.models import ELBv2Backend

    create = ELBv2Backend.create_listener

    def create_listener(self, load_balancer_arn, protocol, port, *args, **kwargs):
        balancer = self.load_balancers.get(load_balancer_arn)
        actions = kwargs.get("actions", args[2] if len(args) > 2 else [])
        wanted = sorted(
            arn for a in actions for arn in self._get_target_group_arns_from(action_data=a)
        )
        for listener in (balancer.listeners.values() if balancer else []):
            if str(listener.port) != str(port):
                continue
            current = sorted(
                arn
                for a in listener.default_actions
                for arn in self._get_target_group_arns_from(action_data=a.data)
            )
            if listener.protocol == (protocol or "").upper() and current == wanted:
                return listener
            raise DuplicateListenerError()
        return create(self, load_balancer_arn, protocol, port, *args, **kwargs)

    ELBv2Backend.create_listener = create_listener


def apply() -> None:
    _load_balancers()
    _target_groups()
    _listeners()
    _interfaces_linger()


def _interfaces_linger() -> None:
    """Subnets and security groups held by live and just-deleted load
    balancers."""
    import os
    import threading
    import time

    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models import EC2Backend
    from moto.elbv2.models import ELBv2Backend, elbv2_backends

    lock = threading.Lock()
    # (account, region, arn) -> (subnet ids, group ids, until) of deleted ones
    deleted: dict = {}

    def linger() -> float:
        return float(os.environ.get("DRCTL_EMU_ELB_ENI_LINGER_SECONDS", "2"))

    def held(account, region, subnet_id=None, group_id=None) -> bool:
        now = time.time()
        holders = []
        for lb in list(elbv2_backends[account][region].load_balancers.values()):
            holders.append(({s.id for s in lb.subnets}, set(lb.security_groups or [])))
        with lock:
            for key, (subnets, groups, until) in list(deleted.items()):
                if until <= now:
                    del deleted[key]
                elif key[0] == account and key[1] == region:
                    holders.append((subnets, groups))
        return any(
            (subnet_id is not None and subnet_id in subnets)
            or (group_id is not None and group_id in groups)
            for subnets, groups in holders
        )

    delete_load_balancer = ELBv2Backend.delete_load_balancer

    def delete_load_balancer_lingering(self, arn):
        lb = self.load_balancers.get(arn)
        if lb is not None:
            with lock:
                deleted[(self.account_id, self.region_name, arn)] = (
                    {s.id for s in lb.subnets},
                    set(lb.security_groups or []),
                    time.time() + linger(),
                )
        return delete_load_balancer(self, arn)

    ELBv2Backend.delete_load_balancer = delete_load_balancer_lingering

    delete_subnet = EC2Backend.delete_subnet
    delete_security_group = EC2Backend.delete_security_group

    def ec2_delete_subnet(self, subnet_id):
        if held(self.account_id, self.region_name, subnet_id=subnet_id):
            raise DependencyViolationError(
                f"The subnet '{subnet_id}' has dependencies and cannot be deleted."
            )
        return delete_subnet(self, subnet_id)

    def ec2_delete_security_group(self, name=None, group_id=None):
        if group_id and held(self.account_id, self.region_name, group_id=group_id):
            raise DependencyViolationError(f"resource {group_id} has a dependent object")
        return delete_security_group(self, name=name, group_id=group_id)

    EC2Backend.delete_subnet = ec2_delete_subnet
    EC2Backend.delete_security_group = ec2_delete_security_group
