"""The health monitor's handler (crates/drctl-blueprint/lambda/health-monitor/
index.py), called as the region's EventBridge rule calls it, against the
emulator: a local HTTP server stands in for the stage (its `/health`), a
listening socket for the Aurora reader endpoint, and the region's alarm is
the one the blueprint makes (monitor.rs), which the emulator evaluates when
the metric is published (tests/emulator/ext_cloudwatch.py)."""

import itertools
import socket
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.awsrequest
import botocore.exceptions
import emulator

REGION = "us-east-2"
# The health metric (monitor.rs).
NAMESPACE, METRIC = "PaymentDR/Health", "RegionHealthy"
# A scheduled event as EventBridge sends it; the handler does not read it.
SCHEDULED_EVENT = {
    "version": "0",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "region": REGION,
    "resources": [
        f"arn:aws:events:{REGION}:{emulator.ACCOUNT}:rule/payment-hdl-secondary-health-monitor"
    ],
    "detail": {},
}
# Each test has an environment name of its own: the metric's dimension,
# so no test's datapoints reach another's alarm.
WORLDS = itertools.count(1)


class Stage:
    """The stage's `/health`, answering `status`; records the paths asked."""

    def __init__(self, status=200):
        self.status = status
        self.paths = []
        stage = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                stage.paths.append(self.path)
                body = b'{"status": "ok"}'
                self.send_response(stage.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/prod"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def listening():
    """A socket that accepts connections (the kernel completes them from
    its backlog) and never answers: a database port, or a hung API."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def closed_port():
    """A port nothing listens on: connections are refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Calls:
    """The handler's AWS calls (operation, region, parameters); `fail`
    answers an operation with an error instead."""

    def __init__(self):
        self.seen = []
        self.fail = {}
        boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events
        events.register("before-parameter-build", self._record)
        events.register("before-call", self._before_call)

    def _record(self, model, params, context, **_):
        self.seen.append((model.name, context["client_region"], dict(params)))

    def _before_call(self, model, **_):
        code = self.fail.get(model.name)
        if code:
            response = botocore.awsrequest.AWSResponse(None, 400, {}, None)
            return response, {"Error": {"Code": code, "Message": "injected"}}
        return None


class HealthMonitor(unittest.TestCase):
    def setUp(self):
        emulator.start()
        self.env = f"mon{next(WORLDS)}"
        self.alarm = f"payment-{self.env}-secondary-region-health"
        self.dimensions = [
            {"Name": "Environment", "Value": self.env},
            {"Name": "Region", "Value": REGION},
        ]
        # The alarm as the blueprint makes it (monitor.rs).
        boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
            AlarmName=self.alarm,
            Namespace=NAMESPACE,
            MetricName=METRIC,
            Dimensions=self.dimensions,
            Statistic="Minimum",
            Period=60,
            EvaluationPeriods=3,
            DatapointsToAlarm=3,
            Threshold=1.0,
            ComparisonOperator="LessThanThreshold",
            TreatMissingData="breaching",
        )
        self.stage = Stage()
        self.database = listening()
        self.addCleanup(self.stage.close)
        self.addCleanup(self.database.close)
        self.calls = Calls()

    def monitor(self, api_url=None, db_port=None, timeout="2"):
        """The handler with the environment the blueprint sets."""
        return emulator.load_handler(
            "health-monitor",
            {
                "ENVIRONMENT_SUFFIX": self.env,
                "DR_ROLE": "secondary",
                "AWS_REGION": REGION,
                "API_URL": api_url or self.stage.url,
                "DB_HOST": "127.0.0.1",
                "DB_PORT": str(db_port or self.database.getsockname()[1]),
                "METRIC_NAMESPACE": NAMESPACE,
                "PROBE_TIMEOUT": timeout,
            },
        )

    def published(self):
        """The one PutMetricData call: its datapoints by metric name."""
        puts = [(region, p) for name, region, p in self.calls.seen if name == "PutMetricData"]
        self.assertEqual(len(puts), 1, self.calls.seen)
        region, params = puts[0]
        self.assertEqual(region, REGION)
        self.assertEqual(params["Namespace"], NAMESPACE)
        data = {d["MetricName"]: d for d in params["MetricData"]}
        for datum in data.values():
            self.assertEqual(datum["Dimensions"], self.dimensions)
        return data

    def stored_minimum(self):
        """RegionHealthy's minimum over the last minutes, as CloudWatch has it."""
        now = datetime.now(timezone.utc)
        points = boto3.client("cloudwatch", region_name=REGION).get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName=METRIC,
            Dimensions=self.dimensions,
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=1),
            Period=300,
            Statistics=["Minimum"],
        )["Datapoints"]
        return min(p["Minimum"] for p in points)

    def alarm_state(self):
        alarms = boto3.client("cloudwatch", region_name=REGION).describe_alarms(
            AlarmNames=[self.alarm]
        )["MetricAlarms"]
        return alarms[0]["StateValue"]

    def test_a_healthy_region_publishes_1_and_both_latencies_in_one_call(self):
        result = self.monitor().handler(SCHEDULED_EVENT, None)
        self.assertTrue(result["healthy"], result)
        self.assertEqual(self.stage.paths, ["/prod/health"])
        # Its only AWS call.
        self.assertEqual([name for name, _, _ in self.calls.seen], ["PutMetricData"])
        data = self.published()
        self.assertEqual(data[METRIC]["Value"], 1.0)
        for latency in ("ApiLatency", "DatabaseConnectLatency"):
            self.assertEqual(data[latency]["Unit"], "Milliseconds")
            self.assertGreaterEqual(data[latency]["Value"], 0.0)
        self.assertEqual(self.stored_minimum(), 1.0)
        # One minute of three has a 1: not three without one.
        self.assertEqual(self.alarm_state(), "OK")

    def test_an_api_answering_an_error_makes_the_region_unhealthy_and_the_alarm_fires(self):
        self.stage.status = 503
        result = self.monitor().handler(SCHEDULED_EVENT, None)
        self.assertFalse(result["healthy"])
        self.assertEqual(result["api"], {"passed": False, "seen": "HTTP 503"})
        self.assertTrue(result["database"]["passed"])
        data = self.published()
        self.assertEqual(data[METRIC]["Value"], 0.0)
        self.assertNotIn("ApiLatency", data)
        self.assertIn("DatabaseConnectLatency", data)
        self.assertEqual(self.stored_minimum(), 0.0)
        # A 0 now and two minutes without data (breaching): three of three.
        self.assertEqual(self.alarm_state(), "ALARM")

    def test_a_database_refusing_connections_makes_the_region_unhealthy(self):
        result = self.monitor(db_port=closed_port()).handler(SCHEDULED_EVENT, None)
        self.assertFalse(result["healthy"])
        self.assertTrue(result["api"]["passed"])
        self.assertFalse(result["database"]["passed"])
        self.assertIn("ConnectionRefusedError", result["database"]["seen"])
        data = self.published()
        self.assertEqual(data[METRIC]["Value"], 0.0)
        self.assertNotIn("DatabaseConnectLatency", data)
        self.assertEqual(self.alarm_state(), "ALARM")

    def test_an_api_that_never_answers_fails_within_the_probe_timeout(self):
        hung = listening()
        self.addCleanup(hung.close)
        url = f"http://127.0.0.1:{hung.getsockname()[1]}/prod"
        started = time.monotonic()
        result = self.monitor(api_url=url, timeout="1").handler(SCHEDULED_EVENT, None)
        self.assertLess(time.monotonic() - started, 5)
        self.assertFalse(result["api"]["passed"])
        self.assertIn("timed out", result["api"]["seen"])
        self.assertEqual(self.published()[METRIC]["Value"], 0.0)

    def test_an_unreachable_api_is_unhealthy_not_an_error(self):
        url = f"http://127.0.0.1:{closed_port()}/prod"
        result = self.monitor(api_url=url).handler(SCHEDULED_EVENT, None)
        self.assertFalse(result["api"]["passed"])
        self.assertIn("Connection refused", result["api"]["seen"])
        self.assertEqual(self.published()[METRIC]["Value"], 0.0)

    def test_a_metric_that_cannot_be_published_fails_the_invocation(self):
        # No datapoint then: the alarm counts the missing minute as
        # unhealthy, so a monitor that cannot publish is not silent.
        module = self.monitor()
        self.calls.fail["PutMetricData"] = "AccessDenied"
        with self.assertRaises(botocore.exceptions.ClientError) as raised:
            module.handler(SCHEDULED_EVENT, None)
        self.assertEqual(raised.exception.response["Error"]["Code"], "AccessDenied")


if __name__ == "__main__":
    unittest.main()
