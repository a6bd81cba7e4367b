"""GET /health of the payment API (crates/drctl-blueprint/lambda/
transaction-processing/index.py), called as API Gateway's Lambda proxy
integration calls it, against the emulator: a listening socket stands in
for the Aurora reader endpoint, the emulator's DynamoDB for the session
table. What Route 53's health check of the primary calls (compute.rs,
global.rs): 200 only when the database and the table answer."""

import contextlib
import io
import itertools
import json
import socket
import time
import unittest

import boto3
import emulator

REGION = "us-east-2"
# GET /health as API Gateway's proxy integration passes it (the fields the
# handler reads, and a few it must not need).
HEALTH_EVENT = {
    "resource": "/health",
    "path": "/health",
    "httpMethod": "GET",
    "headers": {
        "Host": "api-us-east-1.payment.example.com",
        "User-Agent": "Amazon-Route53-Health-Check-Service",
    },
    "queryStringParameters": None,
    "body": None,
    "isBase64Encoded": False,
}
# Each test has a table of its own.
TABLES = itertools.count(1)


def listening():
    """A database port: the kernel completes connections from the backlog."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


def closed_port():
    """A port nothing listens on: connections are refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def accepted(server):
    """How many connections `server` has had since the last call."""
    server.setblocking(False)
    count = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


class Clock:
    """Stands in for the handler's `time` module: monotonic time moves only
    when a test moves it."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def time(self):
        return time.time()


class Operations:
    """The AWS operations called through boto3's default session (the
    handler's clients are made from it)."""

    def __init__(self):
        self.seen = []
        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-parameter-build", self._record)

    def _record(self, model, params, **_):
        self.seen.append((model.name, dict(params)))

    def names(self):
        return [name for name, _ in self.seen]


class HealthEndpoint(unittest.TestCase):
    def setUp(self):
        emulator.start()
        self.table = f"SessionTable-health{next(TABLES)}"
        self.database = listening()
        self.addCleanup(self.database.close)

    def create_table(self):
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=self.table,
            AttributeDefinitions=[{"AttributeName": "sessionId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "sessionId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def function(self, db_port=None, bounded=False, writer="writer.invalid"):
        """The handler with the environment the blueprint sets (compute.rs).
        Its checks' bound is raised unless `bounded`: the emulator, in this
        process, now and then takes a second over a read DynamoDB answers in
        milliseconds."""
        module = emulator.load_handler(
            "transaction-processing",
            {
                "ENVIRONMENT_SUFFIX": "hdl",
                "DR_ROLE": "primary",
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "TABLE_NAME": self.table,
                "DB_HOST": "127.0.0.1",
                "DB_WRITER_HOST": writer,
                "DB_PORT": str(db_port or self.database.getsockname()[1]),
            },
        )
        if not bounded:
            module.HEALTH_TIMEOUT_SECONDS = 10.0
        return module

    def call(self, module):
        """(status, body, what it logged) of GET /health."""
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            answer = module.handler(dict(HEALTH_EVENT), None)
        return answer["statusCode"], json.loads(answer["body"]), answer, log.getvalue()

    def assert_no_details(self, answer):
        """Which check failed, and nothing of why: no host, port, table
        name, exception or trace in what the caller sees."""
        text = json.dumps(answer)
        for secret in (
            "127.0.0.1",
            str(self.database.getsockname()[1]),
            self.table,
            "Error",
            "Exception",
            "Traceback",
        ):
            self.assertNotIn(secret, text)

    def test_200_when_the_database_accepts_and_the_table_answers(self):
        self.create_table()
        module = self.function()
        operations = Operations()
        status, body, answer, log = self.call(module)
        self.assertEqual(status, 200, answer)
        self.assertEqual(body["status"], "ok")
        self.assertEqual(body["checks"], {"database": "ok", "table": "ok"})
        self.assertEqual((body["drRole"], body["region"]), ("primary", REGION))
        self.assertEqual(answer["headers"]["Cache-Control"], "no-store")
        self.assertEqual(accepted(self.database), 1)
        # One read of the table, and nothing written.
        self.assertEqual(operations.names(), ["GetItem"])
        self.assertEqual(operations.seen[0][1]["TableName"], self.table)
        self.assertEqual(log, "")

    def test_503_when_the_database_refuses_connections(self):
        self.create_table()
        status, body, answer, log = self.call(self.function(db_port=closed_port()))
        self.assertEqual(status, 503, answer)
        self.assertEqual(body["status"], "unavailable")
        self.assertEqual(body["checks"], {"database": "failed", "table": "ok"}, log)
        self.assert_no_details(answer)
        # The reason is in the function's log.
        self.assertIn("ConnectionRefusedError", json.loads(log)["failures"]["database"])

    def test_503_when_the_table_is_missing(self):
        status, body, answer, log = self.call(self.function())
        self.assertEqual(status, 503, answer)
        self.assertEqual(body["checks"], {"database": "ok", "table": "failed"})
        self.assert_no_details(answer)
        self.assertIn("ResourceNotFoundException", json.loads(log)["failures"]["table"])

    def test_a_database_that_never_answers_fails_within_the_bound(self):
        # A listener whose backlog is full: the kernel drops further
        # connection attempts, as from a host that is gone.
        hung = socket.socket()
        hung.bind(("127.0.0.1", 0))
        hung.listen(0)
        self.addCleanup(hung.close)
        port = hung.getsockname()[1]
        held = socket.create_connection(("127.0.0.1", port))
        self.addCleanup(held.close)
        self.create_table()
        module = self.function(db_port=port, bounded=True)
        started = time.monotonic()
        status, body, answer, log = self.call(module)
        elapsed = time.monotonic() - started
        self.assertEqual(status, 503, answer)
        self.assertEqual(body["checks"]["database"], "failed")
        self.assertIn("timed out", json.loads(log)["failures"]["database"])
        # Bounded: both checks' bounds, and some room for this process (the
        # emulator runs in it) and for making the client.
        self.assertLess(elapsed, 2 * module.HEALTH_TIMEOUT_SECONDS + 1.0)

    def test_503_naming_both_when_neither_answers(self):
        status, body, answer, _ = self.call(self.function(db_port=closed_port()))
        self.assertEqual(status, 503, answer)
        self.assertEqual(body["checks"], {"database": "failed", "table": "failed"})

    def test_a_result_is_reused_for_the_cache_seconds_then_checked_again(self):
        self.create_table()
        module = self.function()
        clock = module.time = Clock()
        window = module.HEALTH_CACHE_SECONDS
        self.assertEqual(window, 5.0)
        operations = Operations()
        for _ in range(50):
            status, _, _, _ = self.call(module)
            self.assertEqual(status, 200)
            clock.now += (window - 0.1) / 50
        # Fifty calls within the window: one connection, one read.
        self.assertEqual(accepted(self.database), 1)
        self.assertEqual(operations.names(), ["GetItem"])
        # Past it, the next call checks again, once.
        clock.now += 0.2
        for _ in range(10):
            self.assertEqual(self.call(module)[0], 200)
        self.assertEqual(accepted(self.database), 1)
        self.assertEqual(operations.names(), ["GetItem", "GetItem"])

    def test_a_failure_is_reused_too_and_recovery_seen_after_the_window(self):
        # A failing dependency is not hammered either: the failure is kept
        # for the window like a success.
        module = self.function()
        clock = module.time = Clock()
        operations = Operations()
        self.assertEqual(self.call(module)[0], 503)
        self.create_table()
        for _ in range(20):
            self.assertEqual(self.call(module)[0], 503)
        self.assertEqual(operations.names().count("GetItem"), 1)
        self.assertEqual(accepted(self.database), 1)
        clock.now += module.HEALTH_CACHE_SECONDS
        self.assertEqual(self.call(module)[0], 200)

    def test_the_checks_fit_route_53s_two_seconds(self):
        # An HTTPS health checker wants a status within two seconds of
        # connecting (Route 53 Developer Guide, "How Amazon Route 53
        # determines whether a health check is healthy"): the database
        # connect and the table read (connect + read timeouts) together.
        module = self.function(bounded=True)
        self.assertLess(2 * module.HEALTH_TIMEOUT_SECONDS, 2.0)
        # The default window: a few connections a minute per environment.
        self.assertLessEqual(module.HEALTH_CACHE_SECONDS, 10)

    def test_health_reads_the_regions_reader_never_the_global_writer(self):
        # The global writer endpoint (here a name that never resolves)
        # points at the other region after a failover, or at a region
        # that is down: a region's health never depends on it.
        self.create_table()
        status, body, answer, _ = self.call(self.function())
        self.assertEqual(status, 200, answer)
        self.assertEqual(body["checks"]["database"], "ok")
        self.assertEqual(accepted(self.database), 1)

    def test_writes_go_to_the_global_writer_endpoint_reads_to_the_regions_reader(self):
        writer = "payment-global-hdl.global-abc123.global.rds.amazonaws.com"
        module = self.function(writer=writer)
        port = self.database.getsockname()[1]
        self.assertEqual(module.database_address(write=True), (writer, port))
        self.assertEqual(module.database_address(), ("127.0.0.1", port))
        # No writer endpoint reported (an empty output): no address, not
        # the reader's in its place.
        module = self.function(writer="")
        with self.assertRaises(ValueError):
            module.database_address(write=True)

    def test_a_payment_is_not_taken_for_a_health_check(self):
        self.create_table()
        module = self.function()
        answer = module.handler(
            {
                "resource": "/transaction",
                "path": "/transaction",
                "httpMethod": "POST",
                "body": json.dumps({"sessionId": "s-h", "amount": 1, "currency": "USD"}),
            },
            None,
        )
        self.assertEqual(answer["statusCode"], 201, answer)
        # No health check ran.
        self.assertEqual(accepted(self.database), 0)


if __name__ == "__main__":
    unittest.main()
