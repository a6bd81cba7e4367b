"""CloudWatch: a metric alarm follows the data put to its metric.

On AWS, CloudWatch evaluates a metric alarm every period over its last
`EvaluationPeriods` periods and moves it to ALARM or OK (CloudWatch User
Guide, "Evaluating an alarm"); missing data counts per TreatMissingData
("ignore": the state holds). moto 5.2.5 never evaluates: PutMetricData
leaves every alarm in its state, so an alarm drctl's fence trips would
never fire. This evaluates, on PutMetricData, the single-metric alarms
(namespace, metric name and exactly the datum's dimensions; statistic
Average, Minimum, Maximum, Sum or SampleCount) whose metric got data, over
the datapoints of the last `Period * EvaluationPeriods` seconds, at once
rather than at the next minute. Alarms whose metric gets no data are left
alone (as "ignore" would).
"""

import datetime

COMPARE = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}

STATISTICS = {
    "Average": lambda vs: sum(vs) / len(vs),
    "Minimum": min,
    "Maximum": max,
    "Sum": sum,
    "SampleCount": len,
}


def _aware(ts):
    if isinstance(ts, str):
        ts = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=datetime.timezone.utc)
    return ts


def _dims(dimensions):
    return sorted((d.name, d.value) for d in dimensions)


def apply() -> None:
    from moto.cloudwatch.models import CloudWatchBackend, MetricDatum

    original = CloudWatchBackend.put_metric_data

    def put_metric_data(self, namespace, metric_data):
        original(self, namespace, metric_data)
        touched = {
            (m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m.get("Dimensions") or [])))
            for m in metric_data
        }
        now = datetime.datetime.now(datetime.timezone.utc)
        for alarm in list(self.alarms.values()):
            if alarm.metric_data_queries or alarm.namespace != namespace:
                continue
            key = (alarm.metric_name, tuple(_dims(alarm.dimensions)))
            if key not in touched:
                continue
            statistic = STATISTICS.get(alarm.statistic or "")
            compare = COMPARE.get(alarm.comparison_operator or "")
            if statistic is None or compare is None:
                continue
            window = datetime.timedelta(seconds=int(alarm.period) * int(alarm.evaluation_periods))
            values = [
                d.value
                for d in self.metric_data
                if isinstance(d, MetricDatum)
                and d.namespace == namespace
                and d.name == alarm.metric_name
                and _dims(d.dimensions) == list(key[1])
                and now - _aware(d.timestamp) <= window
            ]
            if not values:
                continue
            value = statistic(values)
            breaching = compare(value, float(alarm.threshold))
            state = "ALARM" if breaching else "OK"
            if alarm.state_value != state:
                reason = (
                    f"Threshold Crossed: 1 datapoint [{value}] was "
                    f"{'greater than or equal to' if breaching else 'not greater than or equal to'} "
                    f"the threshold ({alarm.threshold})."
                )
                alarm.update_state(reason, "{}", state)

    CloudWatchBackend.put_metric_data = put_metric_data
