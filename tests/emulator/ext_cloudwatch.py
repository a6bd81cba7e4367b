"""CloudWatch: an alarm's tags go with it; metric alarms evaluate their data.

- On AWS, DeleteAlarms deletes the alarms together with their tags, so an
  alarm created again under the same name starts with only the tags of its
  PutMetricAlarm call. moto 5.2.5 drops the alarm but keeps its tags under
  the ARN, and a re-created alarm reads back the old ones.

- On AWS, a metric alarm evaluates its metric every period: the statistic
  of each of the last EvaluationPeriods periods is compared with the
  threshold, and the alarm goes to ALARM when at least DatapointsToAlarm
  of them breach, to OK when fewer do; periods without data count as
  TreatMissingData says (`breaching`, `notBreaching`, or left out for
  `missing` and `ignore`), and when every period lacks data the alarm goes
  to INSUFFICIENT_DATA (`missing`), ALARM (`breaching`), OK
  (`notBreaching`) or stays as it is (`ignore`) (CloudWatch User Guide,
  "Using Amazon CloudWatch alarms": "Evaluating an alarm" and "Configuring
  how CloudWatch alarms treat missing data"). moto 5.2.5 never evaluates:
  an alarm stays in the state it was created or set in (SetAlarmState),
  whatever PutMetricData publishes.

  Here an alarm is evaluated when PutMetricData publishes its metric (same
  namespace, metric name and dimensions; the alarm's unit, if it has one),
  rather than on a timer, over the `Period * EvaluationPeriods` seconds
  before now (datapoints up to a second ahead of the server's clock
  count as now), split into its periods. Only single-metric alarms with
  a statistic of Average, Minimum, Maximum, Sum or SampleCount and a
  threshold comparison are evaluated; metric math, extended statistics
  and anomaly detection alarms stay as they are. A state change is
  recorded with a reason in AWS's words ("Threshold Crossed: ...") and its
  StateReasonData; the same state is not recorded again.

- On AWS, a metric-math alarm (PutMetricAlarm `Metrics`) takes none of
  MetricName, Namespace, Statistic, ExtendedStatistic, Dimensions, Period:
  "If you use the Metrics parameter, you cannot include the MetricName,
  Dimensions, Period, Namespace, Statistic, or ExtendedStatistic parameters
  of PutMetricAlarm in the same operation"; and of its queries exactly one
  returns data: "specify true for the one expression result to use as the
  alarm. For all other metrics and expressions in the same PutMetricAlarm
  operation, specify ReturnData as False", ReturnData being true when
  absent (CloudWatch API Reference, PutMetricAlarm `Metrics`;
  MetricDataQuery `ReturnData`). AWS answers ValidationError ("Statistic
  should not be set if list of Metrics is set.", "Exactly one element of
  the metrics list should return data.", as reported in
  aws-cloudformation/cfn-lint#766 and hashicorp/terraform-provider-aws#29894).
  moto 5.2.5 takes any mix.
"""

import json
from datetime import datetime, timedelta, timezone

OPERATORS = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
STATISTICS = ("Average", "Minimum", "Maximum", "Sum", "SampleCount")
# A datapoint stamped by the client a moment before the request reads as
# up to this far ahead of the server's clock (sub-second rounding).
CLOCK_SLACK = timedelta(seconds=1)


def _utc(ts) -> datetime:
    """A datapoint's timestamp as a naive UTC datetime (moto's own clock)."""
    if isinstance(ts, str):
        from dateutil import parser

        ts = parser.isoparse(ts)
    if isinstance(ts, (int, float)):
        ts = datetime.fromtimestamp(ts, tz=timezone.utc)
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts


def _dimension_set(dimensions) -> frozenset:
    pairs = []
    for d in dimensions or []:
        if isinstance(d, dict):
            pairs.append((d.get("Name"), d.get("Value")))
        else:
            pairs.append((d.name, d.value))
    return frozenset(pairs)


def _statistic(points, statistic: str) -> float:
    """`statistic` over a period's datapoints (single values and
    statistic sets alike)."""
    count = total = 0.0
    low, high = float("inf"), float("-inf")
    for p in points:
        if hasattr(p, "value"):
            count += 1
            total += p.value
            low, high = min(low, p.value), max(high, p.value)
        else:
            count += p.sample_count
            total += p.sum
            low, high = min(low, p.min), max(high, p.max)
    return {
        "SampleCount": count,
        "Sum": total,
        "Minimum": low,
        "Maximum": high,
        "Average": total / count if count else 0.0,
    }[statistic]


def evaluable(alarm) -> bool:
    return (
        bool(alarm.metric_name)
        and not alarm.metric_data_queries
        and alarm.statistic in STATISTICS
        and alarm.comparison_operator in OPERATORS
    )


def evaluate(backend, alarm, now: datetime) -> None:
    """Evaluates `alarm` over its metric's datapoints in `backend` (moto's
    CloudWatch backend of the alarm's region) and records a new state."""
    period = int(alarm.period)
    periods = int(alarm.evaluation_periods)
    needed = int(alarm.datapoints_to_alarm or periods)
    threshold = float(alarm.threshold)
    words, breaches = OPERATORS[alarm.comparison_operator]
    dimensions = _dimension_set(alarm.dimensions)
    start = now - timedelta(seconds=period * periods)
    points = [
        d
        for d in backend.metric_data
        if d.namespace == alarm.namespace
        and d.name == alarm.metric_name
        and _dimension_set(d.dimensions) == dimensions
        and (not alarm.unit or d.unit == alarm.unit)
        and start < _utc(d.timestamp) <= now + CLOCK_SLACK
    ]
    # Oldest period first; a datapoint in the slack counts in the last.
    values = []
    for i in range(periods):
        low = start + timedelta(seconds=period * i)
        high = low + timedelta(seconds=period)
        last = i == periods - 1
        inside = [
            p
            for p in points
            if low < _utc(p.timestamp) <= high or (last and _utc(p.timestamp) > high)
        ]
        values.append((low, _statistic(inside, alarm.statistic) if inside else None))
    missing = alarm.treat_missing_data or "missing"
    present = [(t, v) for t, v in values if v is not None]
    stamp = lambda t: t.strftime("%d/%m/%y %H:%M:%S")  # noqa: E731
    reason_data = {
        "version": "1.0",
        "queryDate": now.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "startDate": start.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "statistic": alarm.statistic,
        "period": period,
        "recentDatapoints": [v for _, v in reversed(present)],
        "threshold": threshold,
        "evaluatedDatapoints": [
            {"timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "value": v}
            for t, v in reversed(present)
        ],
    }
    if not present:
        state = {"missing": "INSUFFICIENT_DATA", "breaching": "ALARM", "notBreaching": "OK"}.get(
            missing
        )
        if state is None:  # ignore: the state stays
            return
        treated = {"missing": "Missing", "breaching": "Breaching", "notBreaching": "NonBreaching"}[
            missing
        ]
        label = "Insufficient Data" if state == "INSUFFICIENT_DATA" else "Threshold Crossed"
        plural = "s" if periods > 1 else ""
        reason = (
            f"{label}: no datapoints were received for {periods} period{plural} and "
            f"{periods} missing datapoint{'s were' if periods > 1 else ' was'} treated as [{treated}]."
        )
    else:
        flags = []
        for _, v in values:
            if v is not None:
                flags.append(breaches(v, threshold))
            elif missing == "breaching":
                flags.append(True)
            elif missing == "notBreaching":
                flags.append(False)
        breaching = sum(flags)
        state = "ALARM" if breaching >= needed else "OK"
        shown = ", ".join(f"{v} ({stamp(t)})" for t, v in reversed(present))
        if periods == 1:
            verb = "was" if state == "ALARM" else "was not"
            reason = (
                f"Threshold Crossed: 1 datapoint [{shown}] {verb} {words} the threshold ({threshold})."
            )
        else:
            counted = breaching if state == "ALARM" else len(flags) - breaching
            verb = "were" if state == "ALARM" else "were not"
            reason = (
                f"Threshold Crossed: {counted} out of the last {periods} datapoints [{shown}] "
                f"{verb} {words} the threshold ({threshold}) (minimum {needed} datapoint"
                f"{'s' if needed > 1 else ''} for "
                f"{'OK -> ALARM' if state == 'ALARM' else 'ALARM -> OK'} transition)."
            )
    if state != alarm.state_value:
        alarm.update_state(reason, json.dumps(reason_data), state)


def _evaluate_alarms(self, namespace: str, metric_data) -> None:
    """Evaluates the alarms of every metric `metric_data` published."""
    from moto.core.utils import utcnow

    published = {
        (datum["MetricName"], _dimension_set(datum.get("Dimensions"))) for datum in metric_data
    }
    now = utcnow()
    for alarm in list(self.alarms.values()):
        if not evaluable(alarm) or alarm.namespace != namespace:
            continue
        if (alarm.metric_name, _dimension_set(alarm.dimensions)) in published:
            evaluate(self, alarm, now)


def apply() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.delete_alarms

    def delete_alarms(self, alarm_names):
        for name in alarm_names:
            alarm = self.alarms.get(name)
            if alarm is not None:
                self.tagger.delete_all_tags_for_resource(alarm.alarm_arn)
        return original(self, alarm_names)

    CloudWatchBackend.delete_alarms = delete_alarms

    put_metric_data = CloudWatchBackend.put_metric_data

    def put_metric_data_and_evaluate(self, namespace, metric_data):
        put_metric_data(self, namespace, metric_data)
        _evaluate_alarms(self, namespace, metric_data)

    CloudWatchBackend.put_metric_data = put_metric_data_and_evaluate
    _metric_math_constraints()


def _returns_data(query) -> bool:
    """MetricDataQuery ReturnData: true when absent."""
    value = query.return_data
    if value is None:
        return True
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _metric_math_constraints() -> None:
    """PutMetricAlarm with `Metrics`: no single-metric parameter, exactly
    one query returning data."""
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.models import CloudWatchBackend

    put_metric_alarm = CloudWatchBackend.put_metric_alarm
    single = [
        ("MetricName", "metric_name"),
        ("Namespace", "namespace"),
        ("Statistic", "statistic"),
        ("ExtendedStatistic", "extended_statistic"),
        ("Dimensions", "dimensions"),
        ("Period", "period"),
    ]

    def put_metric_alarm_as_aws(self, *args, **kwargs):
        queries = kwargs.get("metric_data_queries")
        if queries:
            for param, key in single:
                if kwargs.get(key) not in (None, "", []):
                    raise ValidationError(f"{param} should not be set if list of Metrics is set.")
            if sum(1 for q in queries if _returns_data(q)) != 1:
                raise ValidationError("Exactly one element of the metrics list should return data.")
        return put_metric_alarm(self, *args, **kwargs)

    CloudWatchBackend.put_metric_alarm = put_metric_alarm_as_aws
