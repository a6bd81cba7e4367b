"""ECS: what AWS refuses, orders or does asynchronously that moto 5.2.5
accepts or does at once.

- CreateService `clientToken`: "Unique, case-sensitive identifier that you
  provide to ensure the idempotency of the request." (ECS API Reference,
  CreateService). A name already used by an ACTIVE or DRAINING service of
  the cluster is refused with InvalidParameterException "Creation of
  service was not idempotent." unless the token is the first call's, which
  gets that service back. moto replaces the service.
- CreateService with a load balancer: the target group must be attached to
  a load balancer (through a listener); otherwise InvalidParameterException
  "The target group with targetGroupArn ... does not have an associated
  load balancer." (ECS Developer Guide, "Troubleshooting service load
  balancers"). moto takes any target group.
- CreateService `healthCheckGracePeriodSeconds`: AWS keeps it and
  DescribeServices returns it; moto drops it.
- CreateService for awsvpc (every Fargate task definition):
  InvalidParameterException "Network Configuration must be provided when
  networkMode 'awsvpc' is specified." without one. moto takes none.
- A service starts its tasks asynchronously: after CreateService or an
  UpdateService its deployment is IN_PROGRESS with tasks pending, and it is
  steady later (the AWS CLI waiter `services-stable`). moto reports a new
  service with no task running, ever, and an updated one steady at once.
  Here the first DescribeServices after a change shows it in progress and
  the next one steady.
- DeleteService: the service is DRAINING until its tasks have stopped, then
  INACTIVE (ECS API Reference, DeleteService). moto makes it INACTIVE at
  once. Here the first DescribeServices after it shows DRAINING.
- DeleteCluster of a cluster with ACTIVE or DRAINING services:
  ClusterContainsServicesException "The Cluster cannot be deleted while
  Services are active." (ECS API Reference, DeleteCluster). moto deletes it.
- DescribeTaskDefinition of a family: "If a revision isn't specified, the
  latest ACTIVE revision is used." (ECS API Reference). moto gives the
  latest revision whatever its status.
- RegisterTaskDefinition for FARGATE: network mode awsvpc only, and the
  task's cpu and memory one of Fargate's combinations (ECS Developer Guide,
  "Amazon ECS task definition parameters for Fargate"), else
  ClientException. moto checks neither.
"""

FARGATE_SIZES = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4096 + 1, 1024)),
    1024: list(range(2048, 8192 + 1, 1024)),
    2048: list(range(4096, 16384 + 1, 1024)),
    4096: list(range(8192, 30720 + 1, 1024)),
    8192: list(range(16384, 61440 + 1, 4096)),
    16384: list(range(32768, 122880 + 1, 8192)),
}

LIVE = ("ACTIVE", "DRAINING")


def _services() -> None:
    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.elbv2.models import elbv2_backends

    create_response = EC2ContainerServiceResponse.create_service

    def create_service(self):
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        name = self._get_param("serviceName")
        token = self._get_param("clientToken")
        existing = backend.services.get(f"{cluster.name}:{name}")
        if existing is not None and existing.status in LIVE:
            if token and getattr(existing, "_drctl_token", None) == token:
                return ActionResult({"service": existing})
            raise InvalidParameterException("Creation of service was not idempotent.")
        elbv2 = elbv2_backends[backend.account_id][backend.region_name]
        for lb in self._get_param("loadBalancers") or []:
            arn = lb.get("targetGroupArn")
            if arn and not elbv2._any_listener_using(arn):
                raise InvalidParameterException(
                    f"The target group with targetGroupArn {arn} does not have an associated load balancer."
                )
        definition = self._get_param("taskDefinition")
        if definition:
            td = backend.describe_task_definition(definition)
            if td.network_mode == "awsvpc" and not self._get_param("networkConfiguration"):
                raise InvalidParameterException(
                    "Network Configuration must be provided when networkMode 'awsvpc' is specified."
                )
        result = create_response(self)
        service = backend.services[f"{cluster.name}:{name}"]
        service._drctl_token = token
        # moto keeps no grace period from CreateService (UpdateService's it
        # keeps); AWS returns it in DescribeServices.
        grace = self._get_param("healthCheckGracePeriodSeconds")
        if grace is not None:
            service.health_check_grace_period_seconds = grace
        _starting(service)
        return result

    EC2ContainerServiceResponse.create_service = create_service

    update = EC2ContainerServiceBackend.update_service

    def update_service(self, service_properties):
        cluster = service_properties.get("cluster", "default")
        name = service_properties.get("service", "").split("/")[-1]
        before = self._get_service(cluster, name)
        previous_definition = before.task_definition
        service = update(self, service_properties)
        _starting(service, replaces=previous_definition)
        return service

    EC2ContainerServiceBackend.update_service = update_service

    describe = EC2ContainerServiceBackend.describe_services

    def describe_services(self, cluster_str, service_names_or_arns):
        services, failures = describe(self, cluster_str, service_names_or_arns)
        for service in services:
            _advance(service)
        return services, failures

    EC2ContainerServiceBackend.describe_services = describe_services

    delete = EC2ContainerServiceBackend.delete_service

    def delete_service(self, cluster_name, service_name, force):
        service = delete(self, cluster_name, service_name, force)
        service.status = "DRAINING"
        service._drctl_phase = "draining"
        return service

    EC2ContainerServiceBackend.delete_service = delete_service

    delete_cluster = EC2ContainerServiceBackend.delete_cluster

    def delete_cluster_as_aws(self, cluster_str):
        cluster = self._get_cluster(cluster_str)
        if any(
            s.cluster_name == cluster.name and s.status in LIVE for s in self.services.values()
        ):
            from moto.ecs.exceptions import ECSException

            raise ECSException(
                "ClusterContainsServicesException",
                "The Cluster cannot be deleted while Services are active.",
            )
        return delete_cluster(self, cluster_str)

    EC2ContainerServiceBackend.delete_cluster = delete_cluster_as_aws


def _starting(service, replaces=None) -> None:
    """The service's tasks are starting: none running yet, as many pending
    as desired; a new task definition is a new PRIMARY deployment beside
    the one it replaces."""
    service.running_count = 0 if replaces is None else service.running_count
    service.pending_count = service.desired_count
    service._drctl_phase = "starting"
    if not service.deployments:
        return
    primary = dict(service.deployments[0])
    primary.update(
        {
            "rolloutState": "IN_PROGRESS",
            "desiredCount": service.desired_count,
            "runningCount": 0,
            "pendingCount": service.desired_count,
            "taskDefinition": service.task_definition,
            "status": "PRIMARY",
        }
    )
    deployments = [primary]
    if replaces is not None and replaces != service.task_definition:
        old = dict(service.deployments[0])
        old.update({"status": "ACTIVE", "taskDefinition": replaces})
        deployments.append(old)
    service.deployments = deployments


def _advance(service) -> None:
    """One DescribeServices later: a starting service is steady, a
    draining one INACTIVE; either is shown as it was once first."""
    phase = getattr(service, "_drctl_phase", None)
    if phase == "starting":
        service._drctl_phase = "shown-starting"
    elif phase == "shown-starting":
        service.running_count = service.desired_count
        service.pending_count = 0
        if service.deployments:
            primary = dict(service.deployments[0])
            primary.update(
                {
                    "rolloutState": "COMPLETED",
                    "runningCount": service.desired_count,
                    "pendingCount": 0,
                }
            )
            service.deployments = [primary]
        service._drctl_phase = None
    elif phase == "draining":
        service._drctl_phase = "shown-draining"
    elif phase == "shown-draining":
        service.status = "INACTIVE"
        service.running_count = 0
        service._drctl_phase = None


def _task_definitions() -> None:
    from moto.ecs.exceptions import EcsClientException, TaskDefinitionNotFoundException
    from moto.ecs.models import EC2ContainerServiceBackend

    describe = EC2ContainerServiceBackend.describe_task_definition

    def describe_task_definition(self, task_definition_str):
        name = task_definition_str.split("/")[-1]
        if ":" in name:
            return describe(self, task_definition_str)
        revisions = self.task_definitions.get(name, {})
        active = [r for r, td in revisions.items() if td.status == "ACTIVE"]
        if not active:
            raise TaskDefinitionNotFoundException()
        return revisions[max(active)]

    EC2ContainerServiceBackend.describe_task_definition = describe_task_definition

    register = EC2ContainerServiceBackend.register_task_definition

    def register_task_definition(self, family, container_definitions, *args, **kwargs):
        if "FARGATE" in (kwargs.get("requires_compatibilities") or []):
            if kwargs.get("network_mode") != "awsvpc":
                raise EcsClientException("Fargate only supports network mode 'awsvpc'.")
            cpu, memory = kwargs.get("cpu"), kwargs.get("memory")
            try:
                fits = int(memory) in FARGATE_SIZES.get(int(cpu), [])
            except (TypeError, ValueError):
                fits = False
            if not fits:
                raise EcsClientException(
                    f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. See the Amazon ECS documentation for the valid values."
                )
        return register(self, family, container_definitions, *args, **kwargs)

    EC2ContainerServiceBackend.register_task_definition = register_task_definition


def apply() -> None:
    _services()
    _task_definitions()
