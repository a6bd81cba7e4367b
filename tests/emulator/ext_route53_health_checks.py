"""Route 53: a health check on a CloudWatch alarm keeps its alarm.

On AWS, a CLOUDWATCH_METRIC health check holds its AlarmIdentifier
(Region, Name) and InsufficientDataHealthStatus, and GetHealthCheck /
ListHealthChecks return them (Route 53 API Reference, HealthCheckConfig).
moto 5.2.5 drops both on CreateHealthCheck and UpdateHealthCheck and
returns an endpoint's fields (port 80, interval 30) instead, so a health
check on drctl's fence alarm would read back as something else.
"""

ENDPOINT_FIELDS = (
    "IPAddress",
    "Port",
    "RequestInterval",
    "FailureThreshold",
    "MeasureLatency",
    "ResourcePath",
    "FullyQualifiedDomainName",
    "SearchString",
    "EnableSNI",
    "Inverted",
)


def apply() -> None:
    from moto.route53 import models, responses

    health_check = models.HealthCheck
    config_of = health_check.health_check_config.fget

    def health_check_config(self):
        config = config_of(self)
        if self.type_ == "CLOUDWATCH_METRIC":
            for field in ENDPOINT_FIELDS:
                config.pop(field, None)
            config["AlarmIdentifier"] = getattr(self, "alarm_identifier", None)
            config["InsufficientDataHealthStatus"] = getattr(
                self, "insufficient_data_health_status", None
            )
        return config

    health_check.health_check_config = property(health_check_config)

    def keep(hc, source):
        alarm = source.get("AlarmIdentifier")
        if alarm:
            hc.alarm_identifier = {"Region": alarm.get("Region"), "Name": alarm.get("Name")}
        status = source.get("InsufficientDataHealthStatus")
        if status:
            hc.insufficient_data_health_status = status

    create = responses.Route53.create_health_check

    def create_health_check(self):
        result = create(self)
        keep(result.result["HealthCheck"], self._get_param("HealthCheckConfig") or {})
        return result

    update = responses.Route53.update_health_check

    def update_health_check(self):
        result = update(self)
        keep(
            result.result["HealthCheck"],
            {
                "AlarmIdentifier": self._get_param("AlarmIdentifier"),
                "InsufficientDataHealthStatus": self._get_param("InsufficientDataHealthStatus"),
            },
        )
        return result

    responses.Route53.create_health_check = create_health_check
    responses.Route53.update_health_check = update_health_check
