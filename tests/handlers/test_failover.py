"""The failover handler (crates/drctl-blueprint/lambda/failover/index.py),
each step called as the state machine calls it, against the emulator: a
global cluster with a writer in us-east-1 and a secondary in us-east-2, the
weighted records of `api.<domain>` in a hosted zone, and the fence alarm in
us-east-2."""

import itertools
import unittest

import boto3
import botocore.awsrequest
import botocore.exceptions
import emulator

PRIMARY_REGION, SECONDARY_REGION = "us-east-1", "us-east-2"
PRIMARY_SET, SECONDARY_SET = f"primary-{PRIMARY_REGION}", f"secondary-{SECONDARY_REGION}"
# The fence metric (drctl-blueprint's targets.rs).
FENCE_NAMESPACE, FENCE_METRIC, FENCE_DIMENSION = "PaymentDR", "PrimaryFenced", "Environment"
# The order of the state machine's tasks (global.rs, failover_definition).
STEPS = ["check", "promote", "wait_writer", "shift_traffic", "verify"]
# How often the state machine asks `wait_writer` (global.rs, WRITER_POLLS)
# and retries a `Transient` error of a task (its Retry's MaxAttempts).
WRITER_POLLS, RETRIES = 60, 6
# Each test builds its own world, under names of its own, in the one
# emulator of the process (a reset costs more than the test).
WORLDS = itertools.count(1)


class Calls:
    """Every AWS call the handler's clients make: (operation, region,
    parameters), in order. A hook on boto3's default session, which the
    handler's `boto3.client(...)` uses."""

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
            # An answer as AWS gives it when busy: boto3 raises ClientError.
            response = botocore.awsrequest.AWSResponse(None, 400, {}, None)
            return response, {"Error": {"Code": code, "Message": "Rate exceeded"}}
        return None

    def names(self):
        return [name for name, _, _ in self.seen]


class FailoverHandler(unittest.TestCase):
    def setUp(self):
        emulator.start()
        n = next(WORLDS)
        self.global_id = f"payment-global-hdl{n}"
        self.primary_id = f"payment-hdl{n}-primary"
        self.secondary_id = f"payment-hdl{n}-secondary"
        self.record = f"api.hdl{n}.example.test"
        # The environment's name is the fence metric's dimension value: one
        # per world, so that no world's fence trips another's alarm.
        self.env = f"hdl{n}"
        self.fence_alarm = f"payment-hdl{n}-primary-fence"
        self.world()
        self.module = emulator.load_handler(
            "failover",
            {
                "ENVIRONMENT_SUFFIX": self.env,
                "DR_ROLE": "secondary",
                "SECONDARY_REGION": SECONDARY_REGION,
                "GLOBAL_CLUSTER_ID": self.global_id,
                "SECONDARY_CLUSTER_ID": self.secondary_id,
                "SECONDARY_CLUSTER_ARN": self.secondary_arn,
                "HOSTED_ZONE_ID": self.zone_id,
                "RECORD_NAME": self.record,
                "RECORD_TYPE": "A",
                "PRIMARY_SET_ID": PRIMARY_SET,
                "SECONDARY_SET_ID": SECONDARY_SET,
                "FENCE_NAMESPACE": FENCE_NAMESPACE,
                "FENCE_METRIC": FENCE_METRIC,
                "FENCE_DIMENSION": FENCE_DIMENSION,
                "FENCE_ALARM": self.fence_alarm,
            },
        )
        # Created after the world, so that only the handler's calls count.
        self.calls = Calls()

    def world(self):
        primary = boto3.client("rds", region_name=PRIMARY_REGION)
        secondary = boto3.client("rds", region_name=SECONDARY_REGION)
        primary.create_global_cluster(
            GlobalClusterIdentifier=self.global_id, Engine="aurora-postgresql", EngineVersion="14.9"
        )
        self.primary_arn = primary.create_db_cluster(
            DBClusterIdentifier=self.primary_id,
            Engine="aurora-postgresql",
            EngineVersion="14.9",
            MasterUsername="payments",
            MasterUserPassword="not-a-secret-1",
            GlobalClusterIdentifier=self.global_id,
        )["DBCluster"]["DBClusterArn"]
        self.secondary_arn = secondary.create_db_cluster(
            DBClusterIdentifier=self.secondary_id,
            Engine="aurora-postgresql",
            EngineVersion="14.9",
            GlobalClusterIdentifier=self.global_id,
        )["DBCluster"]["DBClusterArn"]

        route53 = boto3.client("route53")
        self.zone_id = route53.create_hosted_zone(
            Name=self.record.removeprefix("api."), CallerReference=self.record
        )["HostedZone"]["Id"].split("/")[-1]
        self.health_check = route53.create_health_check(
            CallerReference=self.record,
            HealthCheckConfig={
                "Type": "HTTPS",
                "FullyQualifiedDomainName": "p.execute-api.us-east-1.amazonaws.com",
                "Port": 443,
                "ResourcePath": "/prod/health",
            },
        )["HealthCheck"]["Id"]

        def record(set_id, weight, host, zone, health=None):
            r = {
                "Name": self.record,
                "Type": "A",
                "SetIdentifier": set_id,
                "Weight": weight,
                "AliasTarget": {
                    "HostedZoneId": zone,
                    "DNSName": host,
                    "EvaluateTargetHealth": True,
                },
            }
            if health:
                r["HealthCheckId"] = health
            return {"Action": "CREATE", "ResourceRecordSet": r}

        # The fence alarm as the blueprint makes it (global.rs), in the
        # secondary region. The emulator evaluates it on PutMetricData
        # (tests/emulator/ext_cloudwatch_evaluation.py).
        boto3.client("cloudwatch", region_name=SECONDARY_REGION).put_metric_alarm(
            AlarmName=self.fence_alarm,
            Namespace=FENCE_NAMESPACE,
            MetricName=FENCE_METRIC,
            Dimensions=[{"Name": FENCE_DIMENSION, "Value": self.env}],
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            DatapointsToAlarm=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="ignore",
        )

        route53.change_resource_record_sets(
            HostedZoneId=self.zone_id,
            ChangeBatch={
                "Changes": [
                    record(
                        PRIMARY_SET,
                        100,
                        "p.execute-api.us-east-1.amazonaws.com",
                        "Z1UJRXOUMOOFQ8",
                        self.health_check,
                    ),
                    record(
                        SECONDARY_SET,
                        0,
                        "s.execute-api.us-east-2.amazonaws.com",
                        "ZOJJZC49E0EPZ",
                    ),
                ]
            },
        )

    # What the state machine does: each task's result stored at
    # `$.<step>` of the execution's state, which the next task receives;
    # `wait_writer` asked again until ready (the Wait/Choice loop, no wait
    # here), a `Transient` error retried. `poll=False` asks each step once.
    def run_steps(self, state, steps=STEPS, poll=True):
        for step in steps:
            for attempt in range(1 + (RETRIES if poll else 0)):
                try:
                    state[step] = self.module.handler({"step": step, "input": dict(state)}, None)
                    break
                except self.module.Transient:
                    if not poll or attempt == RETRIES:
                        raise
            while (
                poll
                and step == "wait_writer"
                and not state[step]["ready"]
                and state[step]["attempts"] < WRITER_POLLS
            ):
                state[step] = self.module.handler({"step": step, "input": dict(state)}, None)
        return state

    def writer(self):
        g = boto3.client("rds", region_name=SECONDARY_REGION).describe_global_clusters(
            GlobalClusterIdentifier=self.global_id
        )["GlobalClusters"][0]
        return next(m["DBClusterArn"] for m in g["GlobalClusterMembers"] if m["IsWriter"])

    def record_sets(self):
        sets = boto3.client("route53").list_resource_record_sets(HostedZoneId=self.zone_id)
        return {r["SetIdentifier"]: r for r in sets["ResourceRecordSets"] if "SetIdentifier" in r}

    def fence_state(self):
        alarms = boto3.client("cloudwatch", region_name=SECONDARY_REGION).describe_alarms(
            AlarmNames=[self.fence_alarm]
        )["MetricAlarms"]
        return alarms[0]["StateValue"]

    def weights(self):
        sets = self.record_sets()
        return sets[PRIMARY_SET]["Weight"], sets[SECONDARY_SET]["Weight"]

    def global_backend(self):
        from moto.rds import models

        return models.rds_backends[emulator.ACCOUNT][PRIMARY_REGION].global_clusters[self.global_id]

    def test_a_planned_failover_promotes_then_shifts_the_traffic(self):
        state = self.run_steps({"comment": "a drill"})
        self.assertEqual(self.writer(), self.secondary_arn)
        self.assertEqual(state["promote"]["operation"], "switchover")
        self.assertFalse(state["promote"]["unplanned"])
        # AWS switches over asynchronously: the state machine asked until
        # the writer had moved.
        self.assertTrue(state["wait_writer"]["ready"])
        self.assertGreater(state["wait_writer"]["attempts"], 1)
        self.assertTrue(state["verify"]["verified"])
        sets = self.record_sets()
        self.assertEqual((sets[PRIMARY_SET]["Weight"], sets[SECONDARY_SET]["Weight"]), (0, 100))
        # Only the weight changed: the alias and the health check stay.
        self.assertEqual(sets[PRIMARY_SET]["HealthCheckId"], self.health_check)
        self.assertEqual(
            sets[SECONDARY_SET]["AliasTarget"]["DNSName"].rstrip("."),
            "s.execute-api.us-east-2.amazonaws.com",
        )
        # The order of `drctl failover`: the writer moves before the traffic.
        names = self.calls.names()
        self.assertLess(
            names.index("SwitchoverGlobalCluster"), names.index("ChangeResourceRecordSets")
        )
        self.assertNotIn("FailoverGlobalCluster", names)
        # SwitchoverGlobalCluster is called in the primary's region, as the
        # Aurora User Guide's procedure does (the emulator refuses it in
        # another); every other RDS call in the secondary's (Route 53 is
        # global, signed for us-east-1).
        for name, region, _ in self.calls.seen:
            if name == "SwitchoverGlobalCluster":
                self.assertEqual(region, PRIMARY_REGION, name)
            elif name != "ChangeResourceRecordSets" and not name.startswith(("List", "GetChange")):
                self.assertEqual(region, SECONDARY_REGION, name)
        # Verified once the weight change was INSYNC: GetChange answered
        # PENDING first (Transient, retried), then INSYNC.
        self.assertEqual(names.count("GetChange"), 2)

    def test_unplanned_is_read_from_the_top_level_of_the_input(self):
        # An unhealthy secondary refuses a planned switchover...
        from moto.rds import models

        cluster = models.rds_backends[emulator.ACCOUNT][SECONDARY_REGION].clusters[
            self.secondary_id
        ]
        cluster.status = "inaccessible-encryption-credentials-recoverable"
        with self.assertRaises(self.module.Refused) as refused:
            self.module.handler({"step": "check", "input": {}}, None)
        self.assertIn("is inaccessible-encryption-credentials-recoverable", str(refused.exception))
        # ... `unplanned` anywhere but the top level of the input is not read ...
        with self.assertRaises(self.module.Refused):
            nested = {"input": {"unplanned": True}}
            self.module.handler({"step": "check", "unplanned": True, "input": nested}, None)
        # ... at the top level, the check passes and promote fails over,
        # allowing data loss, in the secondary's region.
        state = self.run_steps({"unplanned": True}, ["check", "promote", "wait_writer"])
        self.assertTrue(state["check"]["unplanned"])
        self.assertEqual(state["promote"]["operation"], "failover")
        name, region, params = next(c for c in self.calls.seen if c[0] == "FailoverGlobalCluster")
        self.assertEqual(region, SECONDARY_REGION)
        self.assertEqual(
            params,
            {
                "GlobalClusterIdentifier": self.global_id,
                "TargetDbClusterIdentifier": self.secondary_arn,
                "AllowDataLoss": True,
            },
        )
        self.assertEqual(self.writer(), self.secondary_arn)

    def test_an_unplanned_failover_fences_the_primary_off_without_route53(self):
        # Route 53's API (us-east-1) does not answer: no client of it may
        # even be made.
        def no_route53():
            raise AssertionError("the unplanned path asked Route 53's API")

        self.module._route53 = no_route53
        # (A new alarm is INSUFFICIENT_DATA on AWS, OK in moto: not ALARM.)
        self.assertNotEqual(self.fence_state(), "ALARM")
        start = len(self.calls.seen)
        state = self.run_steps({"unplanned": True})
        # The handler's calls (the test's own reads are recorded too).
        seen = self.calls.seen[start:]
        names = [name for name, _, _ in seen]
        self.assertEqual(self.writer(), self.secondary_arn)
        self.assertEqual(state["promote"]["operation"], "failover")
        self.assertEqual(state["shift_traffic"]["fenced"], True)
        self.assertEqual(state["shift_traffic"]["alarm"], self.fence_alarm)
        self.assertTrue(state["verify"]["verified"])
        self.assertEqual(state["verify"]["fence"], "ALARM")
        self.assertEqual(self.fence_state(), "ALARM")
        # The traffic moves by the health check: the weights stay.
        self.assertEqual(self.weights(), (100, 0))
        # Every call in the secondary region, none to Route 53: the fence is
        # PutMetricData, then DescribeAlarms, there.
        self.assertFalse([n for n in names if "ResourceRecordSets" in n or n == "GetChange"])
        for name, region, _ in seen:
            self.assertEqual(region, SECONDARY_REGION, name)
        self.assertLess(names.index("FailoverGlobalCluster"), names.index("PutMetricData"))
        self.assertLess(names.index("PutMetricData"), names.index("DescribeAlarms"))
        put = next(params for name, _, params in seen if name == "PutMetricData")
        self.assertEqual(put["Namespace"], FENCE_NAMESPACE)
        (datum,) = put["MetricData"]
        self.assertEqual(datum["MetricName"], FENCE_METRIC)
        self.assertEqual(datum["Dimensions"], [{"Name": FENCE_DIMENSION, "Value": self.env}])
        self.assertEqual(datum["Value"], 1.0)
        # Again: the writer is there, the fence is published again (harmless).
        before = len(self.calls.seen)
        again = self.run_steps({"unplanned": True})
        self.assertEqual(again["promote"]["operation"], "none")
        self.assertTrue(again["verify"]["verified"])
        self.assertNotIn("FailoverGlobalCluster", self.calls.names()[before:])
        self.assertEqual(self.fence_state(), "ALARM")

    def test_unplanned_verify_waits_for_the_fence_alarm(self):
        self.run_steps({"unplanned": True}, ["check", "promote", "wait_writer"])
        # Not fenced yet (on AWS: CloudWatch has not evaluated the alarm):
        # Transient, which the state machine retries.
        for _ in range(2):
            with self.assertRaises(self.module.Transient) as raised:
                self.module.handler({"step": "verify", "input": {"unplanned": True}}, None)
            self.assertIn(f"{self.fence_alarm} is {self.fence_state()}, not yet ALARM", str(raised.exception))
        state = self.run_steps({"unplanned": True}, ["shift_traffic", "verify"])
        self.assertTrue(state["verify"]["verified"])
        # A fence lifted meanwhile (drctl failback publishes 0 and CloudWatch
        # moves the alarm to OK): not fenced, Transient again.
        boto3.client("cloudwatch", region_name=SECONDARY_REGION).set_alarm_state(
            AlarmName=self.fence_alarm, StateValue="OK", StateReason="the fence is lifted"
        )
        with self.assertRaises(self.module.Transient) as raised:
            self.module.handler({"step": "verify", "input": {"unplanned": True}}, None)
        self.assertIn("is OK, not yet ALARM", str(raised.exception))
        # No Route 53 call on the way.
        self.assertFalse([n for n in self.calls.names() if "ResourceRecordSets" in n])

    def test_unplanned_verify_refuses_without_the_fence_alarm(self):
        self.run_steps({"unplanned": True}, ["check", "promote", "wait_writer", "shift_traffic"])
        boto3.client("cloudwatch", region_name=SECONDARY_REGION).delete_alarms(
            AlarmNames=[self.fence_alarm]
        )
        with self.assertRaises(self.module.Refused) as refused:
            self.module.handler({"step": "verify", "input": {"unplanned": True}}, None)
        self.assertNotIsInstance(refused.exception, self.module.Transient)
        self.assertIn(f"fence alarm {self.fence_alarm} does not exist", str(refused.exception))

    def test_a_planned_failover_does_not_fence(self):
        state = self.run_steps({})
        self.assertNotIn("fenced", state["shift_traffic"])
        self.assertEqual(self.weights(), (0, 100))
        self.assertFalse({"PutMetricData", "DescribeAlarms"} & set(self.calls.names()))
        self.assertNotEqual(self.fence_state(), "ALARM")

    def test_every_step_is_idempotent(self):
        first = self.run_steps({})
        before = len(self.calls.seen)
        second = self.run_steps({})
        # Nothing changed the second time: no switch, no record change.
        changes = {"SwitchoverGlobalCluster", "FailoverGlobalCluster", "ChangeResourceRecordSets"}
        self.assertFalse(changes & set(self.calls.names()[before:]))
        self.assertEqual(second["check"]["writer"], True)
        self.assertEqual(second["promote"]["operation"], "none")
        self.assertIsNone(second["shift_traffic"]["changeId"])
        self.assertIsNotNone(first["shift_traffic"]["changeId"])
        self.assertTrue(second["verify"]["verified"])

    def test_promote_while_a_switch_to_the_secondary_is_in_progress_is_success(self):
        g = self.global_backend()
        g.status = "switching-over"
        g.failover_state = {
            "Status": "switching-over",
            "FromDbClusterArn": self.primary_arn,
            "ToDbClusterArn": self.secondary_arn,
            "IsDataLossAllowed": False,
        }
        state = self.run_steps({}, ["check", "promote", "wait_writer"], poll=False)
        self.assertTrue(state["check"]["switching"])
        self.assertEqual(state["promote"]["operation"], "none")
        self.assertNotIn("SwitchoverGlobalCluster", self.calls.names())
        # The state machine waits and asks again, counting.
        self.assertFalse(state["wait_writer"]["ready"])
        again = self.module.handler({"step": "wait_writer", "input": state}, None)
        self.assertEqual(again["attempts"], 2)
        # AWS finishes: the next ask is ready.
        del g.failover_state
        g.status = "available"
        for m in g.members:
            m.is_writer = m.db_cluster_arn == self.secondary_arn
        state["wait_writer"] = again
        done = self.module.handler({"step": "wait_writer", "input": state}, None)
        self.assertEqual((done["ready"], done["attempts"]), (True, 3))

    def test_the_writer_moves_after_the_switch_and_a_second_promote_calls_nothing(self):
        state = self.run_steps({}, ["check", "promote"])
        self.assertEqual(state["promote"]["operation"], "switchover")
        # Promote run again (a Retry, a second execution) while AWS works
        # finds the switch to the secondary in progress: no second call.
        again = self.module.handler({"step": "promote", "input": dict(state)}, None)
        self.assertEqual(again["operation"], "none")
        self.assertEqual(again["reason"], "a switch to it is in progress")
        self.assertEqual(self.calls.names().count("SwitchoverGlobalCluster"), 1)
        # AWS reports the switch in progress, the writer not yet moved
        # (RDS API reference, FailoverState) ...
        g = boto3.client("rds", region_name=SECONDARY_REGION).describe_global_clusters(
            GlobalClusterIdentifier=self.global_id
        )["GlobalClusters"][0]
        self.assertEqual(g["Status"], "switching-over")
        self.assertEqual(
            g["FailoverState"],
            {
                "Status": "switching-over",
                "FromDbClusterArn": self.primary_arn,
                "ToDbClusterArn": self.secondary_arn,
                "IsDataLossAllowed": False,
            },
        )
        writers = [m["DBClusterArn"] for m in g["GlobalClusterMembers"] if m["IsWriter"]]
        self.assertEqual(writers, [self.primary_arn])
        # ... and refuses a second switchover meanwhile.
        with self.assertRaises(botocore.exceptions.ClientError) as refused:
            boto3.client("rds", region_name=PRIMARY_REGION).switchover_global_cluster(
                GlobalClusterIdentifier=self.global_id, TargetDbClusterIdentifier=self.secondary_arn
            )
        self.assertEqual(refused.exception.response["Error"]["Code"], "InvalidGlobalClusterStateFault")
        # Ready once AWS has moved the writer.
        state = self.run_steps(state, ["wait_writer"])
        self.assertTrue(state["wait_writer"]["ready"])
        self.assertEqual(self.writer(), self.secondary_arn)

    def test_a_switch_away_from_the_secondary_in_progress_refuses(self):
        self.run_steps({})
        self.assertEqual(self.writer(), self.secondary_arn)
        # Someone switches back to the primary (called in the writer's region).
        boto3.client("rds", region_name=SECONDARY_REGION).switchover_global_cluster(
            GlobalClusterIdentifier=self.global_id, TargetDbClusterIdentifier=self.primary_arn
        )
        before = len(self.calls.seen)
        with self.assertRaises(self.module.Refused) as refused:
            self.module.handler({"step": "check", "input": {}}, None)
        self.assertIn("is switching-over", str(refused.exception))
        with self.assertRaises(self.module.Refused) as refused:
            self.module.handler({"step": "promote", "input": {"unplanned": True}}, None)
        self.assertIn(f"to {self.primary_arn} is", str(refused.exception))
        self.assertNotIsInstance(refused.exception, self.module.Transient)
        changes = {"SwitchoverGlobalCluster", "FailoverGlobalCluster"}
        self.assertFalse(changes & set(self.calls.names()[before:]))

    def test_a_switch_found_begun_after_the_call_failed_is_success(self):
        # Another execution's switch got there first: AWS refuses this one
        # (the global cluster is no longer available), and the switch it
        # refused for is the one wanted.
        module = self.module
        original = module._switching_to
        calls = []

        def switching_to(g):
            calls.append(g)
            if len(calls) == 1:
                return None
            return self.secondary_arn

        module._switching_to = switching_to
        self.global_backend().status = "switching-over"
        try:
            result = module.handler({"step": "promote", "input": {}}, None)
        finally:
            module._switching_to = original
        self.assertEqual(result["operation"], "none")
        self.assertEqual(result["reason"], "InvalidGlobalClusterStateFault")

    def test_a_busy_aws_raises_transient_for_the_retry(self):
        self.calls.fail["DescribeGlobalClusters"] = "Throttling"
        with self.assertRaises(self.module.Transient) as raised:
            self.module.handler({"step": "check", "input": {}}, None)
        # Lambda reports the exception's class name as the error the
        # state machine's Retry matches.
        self.assertEqual(type(raised.exception).__name__, "Transient")

    def test_an_unreachable_endpoint_raises_transient(self):
        import os
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{s.getsockname()[1]}"
        saved = os.environ["AWS_ENDPOINT_URL"]
        os.environ.update({"AWS_ENDPOINT_URL": closed, "AWS_MAX_ATTEMPTS": "1"})
        try:
            with self.assertRaises(self.module.Transient):
                self.module.handler({"step": "wait_writer", "input": {}}, None)
        finally:
            os.environ["AWS_ENDPOINT_URL"] = saved
            del os.environ["AWS_MAX_ATTEMPTS"]

    def test_refusals_are_not_transient(self):
        # Not a member: nothing to promote; the Catch ends the execution.
        boto3.client("rds", region_name=SECONDARY_REGION).remove_from_global_cluster(
            GlobalClusterIdentifier=self.global_id, DbClusterIdentifier=self.secondary_arn
        )
        for step in ["check", "verify"]:
            with self.assertRaises(self.module.Refused, msg=step) as refused:
                self.module.handler({"step": step, "input": {"unplanned": True}}, None)
            self.assertNotIsInstance(refused.exception, self.module.Transient)
        self.assertIn("is not a member", str(self.module_error("check")))
        with self.assertRaises(self.module.Refused):
            self.module.handler({"step": "detect", "input": {}}, None)

    def test_verify_refuses_traffic_that_has_not_moved(self):
        self.run_steps({}, ["check", "promote", "wait_writer"])
        with self.assertRaises(self.module.Refused) as refused:
            self.module.handler({"step": "verify", "input": {}}, None)
        self.assertIn("[100, 0], not [0, 100]", str(refused.exception))

    def module_error(self, step):
        try:
            self.module.handler({"step": step, "input": {}}, None)
        except Exception as e:  # noqa: BLE001 - the error is the result
            return e
        return None


if __name__ == "__main__":
    unittest.main()
