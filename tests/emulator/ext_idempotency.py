"""Idempotency tokens, honoured as AWS documents them; moto 5.2.5 ignores them.

- EC2 ClientToken (CreateNatGateway, CreateRouteTable, CreateVpcEndpoint):
  "If you repeat a request with the same client token and the same
  parameters, the request returns the same result as the original; with
  other parameters it fails with IdempotentParameterMismatch" (Amazon EC2
  API Reference, "Ensuring idempotency in Amazon EC2 API requests").
  moto creates a second resource.
- Route 53 CallerReference, CreateHostedZone: a reference already used by a
  hosted zone fails with HostedZoneAlreadyExists (Route 53 API Reference,
  CreateHostedZone, Errors). moto creates a second zone.
- Route 53 CallerReference, CreateHealthCheck: the same reference and
  settings as an existing health check return that health check; the same
  reference with other settings fails with HealthCheckAlreadyExists (Route 53
  API Reference, CreateHealthCheck, CallerReference). moto creates another.

drctl's tests lose responses after the emulator has acted (the fault
proxy's `lose_create_responses`), so a resend with the same token must find
what the first call made, as on AWS.
"""


def _ec2_client_tokens() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.responses.nat_gateways import NatGateways
    from moto.ec2.responses.route_tables import RouteTables
    from moto.ec2.responses.vpcs import VPCs

    # (account, region, action, token) -> (parameters, first result)
    seen: dict = {}

    def idempotent(cls, name: str) -> None:
        original = getattr(cls, name)

        def method(self):
            token = self._get_param("ClientToken")
            if not token:
                return original(self)
            params = sorted(
                (k, tuple(v) if isinstance(v, list) else v)
                for k, v in self.querystring.items()
                if k not in ("ClientToken", "Action", "Version")
            )
            key = (self.current_account, self.region, name, token)
            if key in seen:
                first, result = seen[key]
                if first != params:
                    raise EC2ClientError(
                        "IdempotentParameterMismatch",
                        f"Client token {token} was used with other parameters.",
                    )
                return result
            result = original(self)
            seen[key] = (params, result)
            return result

        setattr(cls, name, method)

    idempotent(NatGateways, "create_nat_gateway")
    idempotent(RouteTables, "create_route_table")
    idempotent(VPCs, "create_vpc_endpoint")


def _route53_caller_references() -> None:
    from moto.route53.exceptions import Route53ClientError
    from moto.route53.models import Route53Backend

    create_zone = Route53Backend.create_hosted_zone

    def create_hosted_zone(self, name, private_zone, caller_reference=None, *args, **kwargs):
        if caller_reference and any(
            z.caller_reference == caller_reference for z in self.zones.values()
        ):
            raise Route53ClientError(
                "HostedZoneAlreadyExists",
                f"A hosted zone has already been created with the specified caller reference {caller_reference}.",
            )
        return create_zone(self, name, private_zone, caller_reference, *args, **kwargs)

    create_check = Route53Backend.create_health_check

    def create_health_check(self, caller_reference, health_check_args):
        for check in self.health_checks.values():
            if check.caller_reference != caller_reference:
                continue
            if getattr(check, "_drctl_args", None) == health_check_args:
                return check
            raise Route53ClientError(
                "HealthCheckAlreadyExists",
                f"A health check with caller reference {caller_reference} already exists with other settings.",
            )
        check = create_check(self, caller_reference, health_check_args)
        check._drctl_args = health_check_args
        return check

    Route53Backend.create_hosted_zone = create_hosted_zone
    Route53Backend.create_health_check = create_health_check


def apply() -> None:
    _ec2_client_tokens()
    _route53_caller_references()
