"""EventBridge rules: what PutRule and PutTargets refuse or ignore on AWS.

- PutRule of an existing rule ignores `Tags`: "If you are updating an
  existing rule, any tags you specify in the PutRule operation are ignored.
  To update the tags of an existing rule, use TagResource and
  UntagResource." (EventBridge API Reference, PutRule). moto 5.2.5 adds
  them to the rule.
- A rate expression is `rate(value unit)` with a positive whole value,
  the unit singular for 1 and plural above: "rate(1 hours) and rate(5 hour)
  aren't valid" (EventBridge User Guide, "Rate expressions reference");
  AWS answers ValidationException "Parameter ScheduleExpression is not
  valid.". moto 5.2.5 accepts any number (none, or 0) and either unit.
- "Each rule can have up to five (5) targets associated with it at one
  time." (EventBridge API Reference, PutTargets); more is
  LimitExceededException. moto 5.2.5 takes any number.
- A rule just created is not at once seen everywhere: "changes ... might
  not immediately" take effect (EventBridge API Reference, PutRule), and
  the Terraform AWS provider waits up to 2 minutes for DescribeRule to
  find a new rule and retries PutTargets' ResourceNotFoundException as
  long (`resourceRuleCreate`). Modelled narrowly: after a PutRule that
  creates a rule, the first DescribeRule of it and the first PutTargets to
  it each answer ResourceNotFoundException once. moto 5.2.5 sees it at
  once.
"""

import re

RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
MAX_TARGETS = 5


def valid_rate(expression: str) -> bool:
    match = RATE.match(expression)
    if not match:
        return False
    value, unit = int(match.group(1)), match.group(2)
    return value >= 1 and (unit.endswith("s") == (value > 1))


def apply() -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventsBackend

    put_rule = EventsBackend.put_rule

    def put_rule_as_aws(self, name, *args, **kwargs):
        expression = kwargs.get("scheduled_expression")
        if expression and expression.startswith("rate(") and not valid_rate(expression):
            raise ValidationException("Parameter ScheduleExpression is not valid.")
        bus = self._normalize_event_bus_arn(kwargs.get("event_bus_arn"))
        existing = self.event_buses.get(bus) and self.event_buses[bus].rules.get(name)
        if existing is not None:
            kwargs["tags"] = None
        return put_rule(self, name, *args, **kwargs)

    EventsBackend.put_rule = put_rule_as_aws

    put_targets = EventsBackend.put_targets

    def put_targets_as_aws(self, name, event_bus_arn, targets):
        bus = self.event_buses.get(self._normalize_event_bus_arn(event_bus_arn))
        rule = bus.rules.get(name) if bus else None
        if rule is not None:
            ids = {t["Id"] for t in rule.targets} | {t["Id"] for t in targets}
            if len(ids) > MAX_TARGETS:
                raise JsonRESTError(
                    "LimitExceededException",
                    "The requested resource exceeds the maximum number allowed.",
                )
        return put_targets(self, name, event_bus_arn, targets)

    EventsBackend.put_targets = put_targets_as_aws
    _new_rules_propagate()


def _new_rules_propagate() -> None:
    """A new rule is missed once by DescribeRule and once by PutTargets."""
    import threading

    from moto.events.exceptions import ResourceNotFoundException
    from moto.events.models import EventsBackend

    lock = threading.Lock()
    unseen = {"describe": set(), "targets": set()}

    def key(backend, name, event_bus_arn):
        bus = backend._normalize_event_bus_arn(event_bus_arn)
        return (backend.account_id, backend.region_name, bus, name)

    def missed_once(what, backend, name, event_bus_arn):
        with lock:
            k = key(backend, name, event_bus_arn)
            if k in unseen[what]:
                unseen[what].discard(k)
                raise ResourceNotFoundException(f"Rule {name} does not exist.")

    put_rule = EventsBackend.put_rule

    def put_rule_propagating(self, name, *args, **kwargs):
        bus = self.event_buses.get(self._normalize_event_bus_arn(kwargs.get("event_bus_arn")))
        new = bus is None or name not in bus.rules
        rule = put_rule(self, name, *args, **kwargs)
        if new:
            with lock:
                k = key(self, name, kwargs.get("event_bus_arn"))
                unseen["describe"].add(k)
                unseen["targets"].add(k)
        return rule

    EventsBackend.put_rule = put_rule_propagating

    describe_rule = EventsBackend.describe_rule

    def describe_rule_propagating(self, name, event_bus_arn):
        missed_once("describe", self, name, event_bus_arn)
        return describe_rule(self, name, event_bus_arn)

    EventsBackend.describe_rule = describe_rule_propagating

    put_targets = EventsBackend.put_targets

    def put_targets_propagating(self, name, event_bus_arn, targets):
        missed_once("targets", self, name, event_bus_arn)
        return put_targets(self, name, event_bus_arn, targets)

    EventsBackend.put_targets = put_targets_propagating
