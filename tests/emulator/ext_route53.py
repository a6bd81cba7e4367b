"""Route 53: CALCULATED and CLOUDWATCH_METRIC health checks as AWS keeps them.

What AWS does (Route 53 API Reference: CreateHealthCheck, UpdateHealthCheck,
HealthCheckConfig, AlarmIdentifier, HealthCheck) and moto 5.2.5 does not:

- CreateHealthCheck and UpdateHealthCheck keep a CLOUDWATCH_METRIC check's
  AlarmIdentifier (Region, Name) and InsufficientDataHealthStatus, and
  GetHealthCheck / ListHealthChecks return them in HealthCheckConfig, with
  CloudWatchAlarmConfiguration: the alarm's settings (metric, statistic,
  period, threshold, ...), which Route 53 copies when the check is created
  or its AlarmIdentifier updated (Developer Guide, "Creating, updating, and
  deleting health checks": a changed alarm needs an updated health check).
  moto drops all three.
- UpdateHealthCheck changes only the elements it is given; ResetElements
  resets ChildHealthChecks, Regions, FullyQualifiedDomainName and
  ResourcePath. moto empties ChildHealthChecks and Regions whenever the
  request omits them (an update of HealthThreshold alone orphans every
  child) and ignores ResetElements.
- HealthCheckVersion starts at 1 and each update adds 1; an update naming
  another version than the current one fails with
  HealthCheckVersionMismatch. moto stays at 1 and checks nothing.
- Refused with InvalidInput, the error CreateHealthCheck and
  UpdateHealthCheck answer for a request they cannot carry out (moto
  accepts each):
  - a CALCULATED check without HealthThreshold ("Invalid parameter :
    Calculated health checks must have a health threshold specified.", AWS's
    answer as reported in hashicorp/terraform-provider-aws#44004);
  - a CALCULATED check naming a child health check that does not exist
    (ChildHealthChecks are "each health check that you want to associate";
    AWS's wording of this refusal is not documented, the code is the one
    the operations list for invalid input);
  - a CLOUDWATCH_METRIC check without AlarmIdentifier, and one whose alarm
    does not exist in AlarmIdentifier's region (HealthCheck requires
    CloudWatchAlarmConfiguration, copied from the alarm: no alarm, no
    check; inferred, AWS's wording not documented);
  - an AlarmIdentifier on a check of another type ("Invalid parameter :
    Basic health checks must not have an metric region specified.", AWS's
    answer as reported in aws/aws-cli#3188);
  - Port on a CALCULATED or CLOUDWATCH_METRIC check (HealthCheckConfig:
    "Don't specify a value for Port when you specify a value for Type of
    CLOUDWATCH_METRIC or CALCULATED"), and RequestInterval,
    FailureThreshold or MeasureLatency on one (refused by AWS as reported
    in hashicorp/terraform-provider-aws#20455 and #5905).
"""

CHECK_TYPES_WITHOUT_ENDPOINT = ("CALCULATED", "CLOUDWATCH_METRIC")
ENDPOINT_ONLY = ("Port", "RequestInterval", "FailureThreshold", "MeasureLatency")


def _alarm(account_id: str, region: str, name: str):
    from moto.cloudwatch.models import cloudwatch_backends

    try:
        backend = cloudwatch_backends[account_id][region]
    except KeyError:
        return None
    return backend.alarms.get(name)


def alarm_configuration(alarm: dict) -> dict | None:
    """CloudWatchAlarmConfiguration of a single-metric alarm, given as
    DescribeAlarms shows it (MetricAlarm)."""
    if not alarm.get("MetricName") or alarm.get("Metrics"):
        return None
    config = {
        "EvaluationPeriods": int(alarm["EvaluationPeriods"]),
        "Threshold": float(alarm["Threshold"]),
        "ComparisonOperator": alarm["ComparisonOperator"],
        "Period": int(alarm["Period"]),
        "MetricName": alarm["MetricName"],
        "Namespace": alarm["Namespace"],
        "Statistic": alarm.get("Statistic") or alarm.get("ExtendedStatistic"),
    }
    if alarm.get("Dimensions"):
        config["Dimensions"] = [
            {"Name": d["Name"], "Value": d["Value"]} for d in alarm["Dimensions"]
        ]
    return config


def _moto_alarm(alarm) -> dict:
    """moto's Alarm as a MetricAlarm document."""
    return {
        "MetricName": alarm.metric_name,
        "Metrics": alarm.metric_data_queries,
        "EvaluationPeriods": alarm.evaluation_periods,
        "Threshold": alarm.threshold,
        "ComparisonOperator": alarm.comparison_operator,
        "Period": alarm.period,
        "Namespace": alarm.namespace,
        "Statistic": alarm.statistic,
        "ExtendedStatistic": alarm.extended_statistic,
        "Dimensions": [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
    }


def refusal(health_checks, alarm_exists, ty: str, config: dict, check_id=None) -> str | None:
    """What AWS answers (InvalidInput) to a create (`config` is its
    HealthCheckConfig) or an update (the request's elements, `check_id` the
    check's id) it refuses; None if it takes it. `health_checks` holds the
    account's checks by id, `alarm_exists(region, name)` says whether a
    CloudWatch alarm exists. Shared with localstack_extensions.py."""
    alarm = config.get("AlarmIdentifier")
    if ty in CHECK_TYPES_WITHOUT_ENDPOINT:
        for key in ENDPOINT_ONLY:
            if config.get(key) is not None:
                return f"Invalid parameter : {key} is not supported for {ty} health checks."
    if ty == "CALCULATED":
        if check_id is None and config.get("HealthThreshold") is None:
            return "Invalid parameter : Calculated health checks must have a health threshold specified."
        for child in config.get("ChildHealthChecks") or []:
            if child not in health_checks or child == check_id:
                return f"Invalid parameter : The child health check {child} does not exist."
    if ty == "CLOUDWATCH_METRIC":
        if check_id is None and not alarm:
            return "Invalid parameter : CloudWatch metric health checks must have an alarm identifier specified."
        if alarm and not alarm_exists(alarm.get("Region"), alarm.get("Name")):
            return (
                f"Invalid parameter : The CloudWatch alarm {alarm.get('Name')} does not exist "
                f"in {alarm.get('Region')}."
            )
    elif alarm:
        return "Invalid parameter : Basic health checks must not have an metric region specified."
    return None


def _check(backend, account_id: str, ty: str, config: dict, check_id=None) -> None:
    from moto.route53.exceptions import InvalidInput

    message = refusal(
        backend.health_checks,
        lambda region, name: _alarm(account_id, region, name) is not None,
        ty,
        config,
        check_id,
    )
    if message:
        raise InvalidInput(message)


def keep_alarm(check, alarm: dict | None, insufficient: str | None, found: dict | None) -> None:
    """Records a CLOUDWATCH_METRIC check's alarm, the configuration copied
    from `found` (the alarm as DescribeAlarms shows it), and its
    InsufficientDataHealthStatus. Shared with localstack_extensions.py."""
    if alarm:
        check._drctl_alarm = {"Region": alarm["Region"], "Name": alarm["Name"]}
        check._drctl_alarm_configuration = alarm_configuration(found) if found else None
    if insufficient:
        check._drctl_insufficient = insufficient


def _keep_alarm(check, account_id: str, alarm: dict | None, insufficient: str | None) -> None:
    found = _alarm(account_id, alarm["Region"], alarm["Name"]) if alarm else None
    keep_alarm(check, alarm, insufficient, _moto_alarm(found) if found else None)


def apply() -> None:
    from moto.route53.exceptions import Route53ClientError
    from moto.route53.models import HealthCheck, Route53Backend
    from moto.route53.responses import Route53

    original_config = HealthCheck.health_check_config

    def health_check_config(self) -> dict:
        config = original_config.fget(self)
        if getattr(self, "_drctl_alarm", None):
            config["AlarmIdentifier"] = dict(self._drctl_alarm)
        if getattr(self, "_drctl_insufficient", None):
            config["InsufficientDataHealthStatus"] = self._drctl_insufficient
        return config

    HealthCheck.health_check_config = property(health_check_config)
    HealthCheck.cloud_watch_alarm_configuration = property(
        lambda self: getattr(self, "_drctl_alarm_configuration", None)
    )

    original_create = Route53.create_health_check

    def create_health_check(self):
        config = self._get_param("HealthCheckConfig") or {}
        _check(self.backend, self.current_account, config.get("Type"), config)
        result = original_create(self)
        reference = self._get_param("CallerReference")
        for check in self.backend.health_checks.values():
            if check.caller_reference == reference:
                _keep_alarm(
                    check,
                    self.current_account,
                    config.get("AlarmIdentifier"),
                    config.get("InsufficientDataHealthStatus"),
                )
        return result

    original_update_response = Route53.update_health_check

    def update_health_check(self):
        check_id = self._get_param("HealthCheckId")
        check = self.backend.health_checks.get(check_id)
        if check is not None:
            request = {
                key: self._get_param(key)
                for key in ("AlarmIdentifier", "ChildHealthChecks", "Port")
            }
            _check(self.backend, self.current_account, check.type_, request, check_id)
            version = self._get_param("HealthCheckVersion")
            if version is not None and int(version) != check.health_check_version:
                raise Route53ClientError(
                    "HealthCheckVersionMismatch",
                    "The value of HealthCheckVersion in the request doesn't match the value of "
                    "HealthCheckVersion in the health check.",
                )
            check._drctl_reset = self._get_param("ResetElements") or []
        result = original_update_response(self)
        if check is not None:
            _keep_alarm(
                check,
                self.current_account,
                self._get_param("AlarmIdentifier"),
                self._get_param("InsufficientDataHealthStatus"),
            )
        return result

    original_update = Route53Backend.update_health_check

    def backend_update_health_check(self, health_check_id, health_check_args):
        check = self.health_checks.get(health_check_id)
        if check is None:
            return original_update(self, health_check_id, health_check_args)
        reset = getattr(check, "_drctl_reset", [])
        check._drctl_reset = []
        args = dict(health_check_args)
        # An element the request omits stays as it is (moto's response
        # passes an omitted list as [], which its backend applies).
        for key in ("children", "regions"):
            if not args.get(key):
                args[key] = None
        check = original_update(self, health_check_id, args)
        for element, attribute in (
            ("ChildHealthChecks", "children"),
            ("Regions", "regions"),
            ("FullyQualifiedDomainName", "fqdn"),
            ("ResourcePath", "resource_path"),
        ):
            if element in reset:
                setattr(check, attribute, None)
        check.health_check_version += 1
        return check

    Route53.create_health_check = create_health_check
    Route53.update_health_check = update_health_check
    Route53Backend.update_health_check = backend_update_health_check
