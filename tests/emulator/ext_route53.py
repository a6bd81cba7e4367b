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

Record changes propagate (Route 53 API Reference, GetChange: "PENDING
indicates that the changes in this request have not propagated to all
Amazon Route 53 DNS servers managing the hosted zone. This is the initial
status of all change batch requests. INSYNC indicates that the changes
have propagated"; ChangeResourceRecordSets, "Change Propagation to Route 53
DNS Servers"). moto answers INSYNC at once, always with the same change id. Here each
ChangeResourceRecordSets answers a change id of its own with Status
PENDING, and GetChange of it answers PENDING the first time, INSYNC after
(other ids, CreateHostedZone's among them, as moto answers). As on AWS,
ListResourceRecordSets already shows the change (API Reference,
ListResourceRecordSets, "Resource record sets that are PENDING").

Public DNS, which ACM's DNS validation reads (`public_dns_holds`, used by
ext_acm.py):

- Each new public hosted zone gets name servers of its own unless it is
  created with a reusable delegation set (Route 53 API Reference,
  CreateHostedZone: "If you want to use the same name servers for multiple
  public hosted zones, you can optionally associate a reusable delegation
  set"; Developer Guide, "Deleting a public hosted zone": a zone created
  again must have its new name servers given to the registrar). moto gives
  every zone the same four; here the n-th zone gets
  `ns-<k>.awsdns-<m>.com/.net/.org/.co.uk`, four names no other zone of the
  server has.
- A record is in public DNS only in a zone public DNS reaches: a zone named
  after a domain whose registrar lists the zone's name servers, or one whose
  name a reachable parent zone delegates with an NS record listing only the
  zone's name servers; a query for a name goes down from the registered
  domain through the first delegation on the way (Route 53 Developer Guide,
  "Making Amazon Route 53 the DNS service for an existing domain";
  "Creating a subdomain that uses Amazon Route 53 as the DNS service without
  migrating the parent domain"; CreateHostedZone: "If your domain is
  registered with a registrar other than Route 53, you must update the name
  servers with your registrar"). Private zones are never reached. A
  registrar is not an AWS API of the account: a test declares a domain
  registered, with its registrar listing the name servers of the public
  zones of that name, by `POST /moto-api/drctl/registered-domains` with the
  domain as the body (`DELETE` with the same body undoes it, `GET` lists
  them, one a line).
"""

import itertools
import threading

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



# Public DNS.

REGISTERED_PATH = "{0}/moto-api/drctl/registered-domains$"
_registered: set[str] = set()
_registered_lock = threading.Lock()
_zone_numbers = itertools.count(1)


def _bare(name: str) -> str:
    return name.rstrip(".").lower()


def name_servers(number: int) -> list[str]:
    """The four name servers of the `number`-th public zone: unique to it
    for the first 32768 zones, in the form AWS gives them."""
    k, m = number % 512, (number // 512) % 64
    return [
        f"ns-{k}.awsdns-{m:02}.com",
        f"ns-{512 + k}.awsdns-{m:02}.net",
        f"ns-{1024 + k}.awsdns-{m:02}.org",
        f"ns-{1536 + k}.awsdns-{m:02}.co.uk",
    ]


def registered_domains(request, full_url, headers):
    """The test's registrar: POST registers the body's domain, DELETE
    removes it, GET lists them."""
    body = request.get_data(as_text=True) or next(iter(request.form.keys()), "")
    domain = _bare(body.strip())
    with _registered_lock:
        if request.method == "POST" and domain:
            _registered.add(domain)
        elif request.method == "DELETE" and domain:
            _registered.discard(domain)
        elif request.method != "GET":
            return 400, {}, "POST or DELETE a domain name, or GET the list"
        listed = "\n".join(sorted(_registered))
    return 200, {"Content-Type": "text/plain"}, listed


def _public_zones(backend, name: str) -> list:
    return [z for z in backend.zones.values() if not z.private_zone and _bare(z.name) == name]


def _servers(zone) -> set[str]:
    delegation = getattr(zone, "delegation_set", None)
    return {_bare(n) for n in (delegation.name_servers if delegation else [])}


def _rrset(zone, name: str, rtype: str):
    for rrset in zone.rrsets:
        if rrset.type == rtype and _bare(rrset.name) == name and not rrset.set_identifier:
            return rrset
    return None


def _values(rrset) -> set[str]:
    return {
        _bare(r.get("Value", "") if isinstance(r, dict) else r) for r in (rrset.records or [])
    }


def _serving(backend, zone, name: str, depth: int = 0) -> list:
    """The zones under `zone` (itself included) that answer for `name`:
    the first delegation below the zone's apex on the way down to `name`
    hands the query to the zones whose name servers it lists."""
    apex = _bare(zone.name)
    below = name[: -len(apex)].rstrip(".") if name != apex else ""
    labels = below.split(".") if below else []
    for k in range(1, len(labels) + 1):
        cut = ".".join(labels[-k:] + [apex])
        ns = _rrset(zone, cut, "NS")
        if ns is None:
            continue
        listed = _values(ns)
        children = [z for z in _public_zones(backend, cut) if listed and listed <= _servers(z)]
        if depth > 16:
            return []
        return [s for child in children for s in _serving(backend, child, name, depth + 1)]
    return [zone]


def reachable_zones(account_id: str, name: str) -> list:
    """The public hosted zones of the account a public DNS query for `name`
    reaches: from the longest registered domain holding `name` down."""
    from moto.route53.models import route53_backends

    name = _bare(name)
    labels = name.split(".")
    with _registered_lock:
        registered = set(_registered)
    apex = next(
        (".".join(labels[i:]) for i in range(len(labels)) if ".".join(labels[i:]) in registered),
        None,
    )
    if apex is None:
        return []
    backend = route53_backends[account_id]["aws"]
    return [s for zone in _public_zones(backend, apex) for s in _serving(backend, zone, name)]


def public_dns_holds(account_id: str, name: str, rtype: str, value: str) -> bool:
    """Whether public DNS answers a query for `name` of type `rtype` with
    `value` (the account's Route 53 zones being all the DNS there is)."""
    name = _bare(name)
    for zone in reachable_zones(account_id, name):
        rrset = _rrset(zone, name, rtype)
        if rrset is not None and _bare(value) in _values(rrset):
            return True
    return False


def _public_dns() -> None:
    from moto.moto_api._internal import urls
    from moto.route53.models import Route53Backend

    urls.url_paths[REGISTERED_PATH] = registered_domains

    original = Route53Backend.create_hosted_zone

    def create_hosted_zone(self, name, private_zone, *args, **kwargs):
        zone = original(self, name, private_zone, *args, **kwargs)
        shared = kwargs.get("delegation_set_id") or (args[4] if len(args) > 4 else None)
        if private_zone or shared or zone.delegation_set is None:
            return zone
        servers = name_servers(next(_zone_numbers))
        zone.delegation_set.name_servers = servers
        apex = _bare(zone.name)
        for rrset in zone.rrsets:
            if _bare(rrset.name) != apex:
                continue
            if rrset.type == "NS":
                rrset.records = list(servers)
            elif rrset.type == "SOA" and rrset.records:
                soa = rrset.records[0]
                text = soa.get("Value", "") if isinstance(soa, dict) else soa
                rest = text.split(" ", 1)[1] if " " in text else ""
                rrset.records = [f"{servers[0]}. {rest}"]
        return zone

    Route53Backend.create_hosted_zone = create_hosted_zone

# Record changes: PENDING, then INSYNC.

# change id -> [GetChange answers still PENDING, SubmittedAt]
_changes: dict[str, list] = {}
_changes_lock = threading.Lock()
_CHANGE_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _record_changes() -> None:
    import random

    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.route53.responses import Route53

    original_change = Route53.change_resource_record_sets
    original_get = Route53.get_change

    def change_resource_record_sets(self):
        original_change(self)
        change_id = "C" + "".join(random.choices(_CHANGE_ID_CHARS, k=13))
        submitted = utcnow()
        with _changes_lock:
            _changes[change_id] = [1, submitted]
        return ActionResult(
            {"ChangeInfo": {"Id": f"/change/{change_id}", "Status": "PENDING", "SubmittedAt": submitted}}
        )

    def get_change(self):
        change_id = (self._get_param("Id") or "").rsplit("/", 1)[-1]
        with _changes_lock:
            change = _changes.get(change_id)
            if change is None:
                return original_get(self)
            pending, submitted = change
            change[0] = max(pending - 1, 0)
        return ActionResult(
            {
                "ChangeInfo": {
                    "Id": f"/change/{change_id}",
                    "Status": "PENDING" if pending else "INSYNC",
                    "SubmittedAt": submitted,
                }
            }
        )

    Route53.change_resource_record_sets = change_resource_record_sets
    Route53.get_change = get_change


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
    _public_dns()
    _record_changes()
