"""Fails the payment stack over to the secondary region, one step per call.

Invoked by the Step Functions failover state machine, which runs in the
secondary region (the one that survives an outage of the primary) and
passes `{"step": <name>, "input": <the execution's state>}`. The steps, in
the order `drctl failover` takes them (database first, then traffic):

- `check`: the secondary cluster is a member of the global cluster and,
  for a planned switchover, the global cluster and the secondary are
  `available`. Refuses otherwise.
- `promote`: makes the secondary cluster the writer: SwitchoverGlobalCluster
  (planned), called in the region of the primary (writer) cluster, or
  FailoverGlobalCluster with AllowDataLoss (`"unplanned": true` at the top
  level of the execution input), called in the secondary's region: the
  regions the Aurora User Guide's procedures call them in ("Using
  switchover or failover in Amazon Aurora Global Database"). A secondary
  already writer, or a switch to it already in progress, is success; a
  switch to another cluster in progress refuses (AWS refuses a second one).
- `wait_writer`: whether the secondary is the writer and the switch is over;
  the state machine waits and asks again, a bounded number of times.
- `shift_traffic`: planned, the Route 53 weights: primary 0, secondary 100,
  each record set otherwise as Route 53 holds it. Unplanned, the fence
  instead: 1 published to the fence metric in the secondary region, whose
  alarm fails the primary record's health check, so Route 53's health
  checkers answer with the secondary's record; the weights stay.
- `verify`: the secondary is the writer and, planned, the weights are as
  wanted and the weight change has reached every Route 53 server (INSYNC);
  unplanned, the fence alarm is in ALARM.

Every AWS call goes to the secondary region (RDS, CloudWatch) but, planned
only, SwitchoverGlobalCluster (in the primary's region, which a switchover
needs healthy anyway) and Route 53: an unplanned execution makes none to
the primary's region and none to Route 53's API, whose control plane is in
us-east-1.
`Transient` errors are retried by the state machine; `Refused` and every
other error end the execution through its Catch.
"""

import datetime
import os

import boto3
import botocore.exceptions

ENVIRONMENT_SUFFIX = os.environ.get("ENVIRONMENT_SUFFIX", "")
DR_ROLE = os.environ.get("DR_ROLE", "")

# AWS answers these when it is busy or a request raced another; a later
# attempt may succeed (AWS SDKs' retry guide, "transient errors").
TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "PriorRequestNotComplete",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
}

# FailoverState.Status while a switchover or failover runs (RDS API
# reference, FailoverState); the global cluster's own Status is then
# `switching-over` or `failing-over`.
IN_PROGRESS = {"pending", "switching-over", "failing-over"}


class Transient(Exception):
    """A step that may succeed when tried again (the state machine retries)."""


class Refused(Exception):
    """A step whose precondition does not hold: retrying will not help."""


def settings():
    """What the blueprint sets in the function's environment."""
    env = os.environ
    return {
        "region": env["SECONDARY_REGION"],
        "global_cluster": env["GLOBAL_CLUSTER_ID"],
        "cluster_id": env["SECONDARY_CLUSTER_ID"],
        "cluster_arn": env["SECONDARY_CLUSTER_ARN"],
        "zone_id": env["HOSTED_ZONE_ID"],
        "record_name": env["RECORD_NAME"],
        "record_type": env.get("RECORD_TYPE", "A"),
        "primary_set": env["PRIMARY_SET_ID"],
        "secondary_set": env["SECONDARY_SET_ID"],
        # The fence (docs/operations.md, "failover --unplanned"): a metric
        # only drctl and this function publish, and its alarm, both in the
        # secondary region; the metric's one dimension has the
        # environment's name as its value, as the alarm's has.
        "fence_namespace": env["FENCE_NAMESPACE"],
        "fence_metric": env["FENCE_METRIC"],
        "fence_dimension": env["FENCE_DIMENSION"],
        "fence_alarm": env["FENCE_ALARM"],
        "environment": env["ENVIRONMENT_SUFFIX"],
    }


def _rds(s, region=None):
    """RDS in the secondary region, or in `region`."""
    return boto3.client("rds", region_name=region or s["region"])


def _route53():
    return boto3.client("route53")


def _cloudwatch(s):
    return boto3.client("cloudwatch", region_name=s["region"])


def _global_cluster(s):
    found = _rds(s).describe_global_clusters(GlobalClusterIdentifier=s["global_cluster"])
    for g in found.get("GlobalClusters", []):
        if g.get("GlobalClusterIdentifier") == s["global_cluster"]:
            return g
    raise Refused(f"global cluster {s['global_cluster']} does not exist")


def _member(g, arn):
    members = g.get("GlobalClusterMembers", [])
    return next((m for m in members if m.get("DBClusterArn") == arn), None)


def _switching_to(g):
    """The ARN a switch in progress promotes, or None."""
    f = g.get("FailoverState") or {}
    if f.get("Status") in IN_PROGRESS:
        return f.get("ToDbClusterArn")
    return None


def _writer_region(g):
    """The region of the global cluster's writer (primary) cluster, from its
    ARN (arn:aws:rds:REGION:ACCOUNT:cluster:ID), or None."""
    writer = next((m for m in g.get("GlobalClusterMembers", []) if m.get("IsWriter")), None)
    parts = ((writer or {}).get("DBClusterArn") or "").split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def check(s, unplanned):
    g = _global_cluster(s)
    member = _member(g, s["cluster_arn"])
    if member is None:
        raise Refused(
            f"{s['cluster_arn']} is not a member of global cluster "
            f"{s['global_cluster']}: nothing to promote"
        )
    if _switching_to(g) == s["cluster_arn"]:
        return {"writer": False, "switching": True, "globalStatus": g.get("Status")}
    # Already the writer, unless a switch away from it is in progress.
    if member.get("IsWriter") and not g.get("FailoverState"):
        return {"writer": True, "globalStatus": g.get("Status")}
    problems = []
    if g.get("Status") != "available":
        problems.append(f"global cluster {s['global_cluster']} is {g.get('Status')}")
    clusters = _rds(s).describe_db_clusters(DBClusterIdentifier=s["cluster_id"])["DBClusters"]
    status = clusters[0].get("Status") if clusters else "missing"
    if status != "available":
        problems.append(f"secondary cluster {s['cluster_id']} is {status}")
    # An unplanned failover is for a primary that is not healthy: the
    # failover itself is what AWS checks then.
    if problems and not unplanned:
        raise Refused(
            "not ready for a planned switchover: "
            + "; ".join(problems)
            + '; start the execution with {"unplanned": true} if the primary region is down'
        )
    return {
        "writer": False,
        "switching": False,
        "globalStatus": g.get("Status"),
        "clusterStatus": status,
        "problems": problems,
    }


def promote(s, unplanned):
    g = _global_cluster(s)
    member = _member(g, s["cluster_arn"])
    if _switching_to(g) == s["cluster_arn"]:
        return {"operation": "none", "reason": "a switch to it is in progress"}
    busy = g.get("FailoverState")
    if member is not None and member.get("IsWriter") and not busy:
        return {"operation": "none", "reason": "already the writer"}
    if busy:
        # Another switch (to another cluster, or being cancelled): AWS
        # refuses a second one until it ends (InvalidGlobalClusterStateFault).
        raise Refused(
            f"a switchover or failover of {s['global_cluster']} to "
            f"{busy.get('ToDbClusterArn')} is {busy.get('Status')}: run again once it has ended"
        )
    # TargetDbClusterIdentifier is the member's ARN. A failover is called in
    # the target's region, which answers when the writer's does not; a
    # switchover in the primary's, as the Aurora User Guide's procedure does.
    if unplanned:
        rds = _rds(s)
    else:
        region = _writer_region(g)
        if region is None:
            raise Refused(
                f"global cluster {s['global_cluster']} has no writer to switch over from; "
                'start the execution with {"unplanned": true} if the primary region is down'
            )
        rds = _rds(s, region)
    try:
        if unplanned:
            rds.failover_global_cluster(
                GlobalClusterIdentifier=s["global_cluster"],
                TargetDbClusterIdentifier=s["cluster_arn"],
                AllowDataLoss=True,
            )
            return {"operation": "failover"}
        rds.switchover_global_cluster(
            GlobalClusterIdentifier=s["global_cluster"],
            TargetDbClusterIdentifier=s["cluster_arn"],
        )
        return {"operation": "switchover"}
    except botocore.exceptions.ClientError as e:
        # A retry after a lost response, or a concurrent execution, finds
        # the switch it asked for begun or done: that is success.
        g = _global_cluster(s)
        member = _member(g, s["cluster_arn"])
        if (member is not None and member.get("IsWriter")) or _switching_to(g) == s["cluster_arn"]:
            return {"operation": "none", "reason": e.response["Error"].get("Code", "")}
        raise


def wait_writer(s, previous):
    g = _global_cluster(s)
    member = _member(g, s["cluster_arn"])
    ready = (
        member is not None
        and bool(member.get("IsWriter"))
        and not g.get("FailoverState")
        and g.get("Status") == "available"
    )
    return {
        "ready": ready,
        "attempts": int((previous or {}).get("attempts", 0)) + 1,
        "globalStatus": g.get("Status"),
    }


def _record_sets(route53, s):
    """The two weighted record sets, primary's first, as Route 53 holds them."""
    wanted = s["record_name"].rstrip(".").lower()
    ids = [s["primary_set"], s["secondary_set"]]
    found = [None, None]
    kwargs = {
        "HostedZoneId": s["zone_id"],
        "StartRecordName": s["record_name"],
        "StartRecordType": s["record_type"],
    }
    while True:
        page = route53.list_resource_record_sets(**kwargs)
        for r in page["ResourceRecordSets"]:
            # Listed in order from the start name and type: the first other
            # name or type ends the search.
            if r["Name"].rstrip(".").lower() != wanted or r["Type"] != s["record_type"]:
                return found
            if r.get("SetIdentifier") in ids:
                found[ids.index(r["SetIdentifier"])] = r
        if not page.get("IsTruncated"):
            return found
        kwargs["StartRecordName"] = page["NextRecordName"]
        kwargs["StartRecordType"] = page["NextRecordType"]
        if page.get("NextRecordIdentifier"):
            kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]


# The fence alarm's state while the primary is fenced off.
FENCED = "ALARM"


def fence(s):
    """Fences the primary off: 1 to the fence metric, in the secondary
    region. A data-plane call of that region's CloudWatch; publishing again
    is harmless (the alarm takes the period's Maximum)."""
    _cloudwatch(s).put_metric_data(
        Namespace=s["fence_namespace"],
        MetricData=[
            {
                "MetricName": s["fence_metric"],
                "Dimensions": [{"Name": s["fence_dimension"], "Value": s["environment"]}],
                "Timestamp": datetime.datetime.now(datetime.timezone.utc),
                "Value": 1.0,
            }
        ],
    )
    return {"fenced": True, "alarm": s["fence_alarm"]}


def _fence_state(s):
    found = _cloudwatch(s).describe_alarms(AlarmNames=[s["fence_alarm"]])
    for a in found.get("MetricAlarms", []):
        if a.get("AlarmName") == s["fence_alarm"]:
            return a.get("StateValue")
    raise Refused(f"the fence alarm {s['fence_alarm']} does not exist in {s['region']}")


WANTED_WEIGHTS = (0, 100)


def shift_traffic(s, unplanned):
    if unplanned:
        return fence(s)
    route53 = _route53()
    changes = []
    set_ids = (s["primary_set"], s["secondary_set"])
    for r, weight, set_id in zip(_record_sets(route53, s), WANTED_WEIGHTS, set_ids):
        if r is None:
            raise Refused(
                f"no record set {s['record_name']} {s['record_type']} with set "
                f"identifier {set_id} in zone {s['zone_id']}"
            )
        if r.get("Weight") == weight:
            continue
        updated = dict(r)
        updated["Weight"] = weight
        changes.append({"Action": "UPSERT", "ResourceRecordSet": updated})
    if not changes:
        return {"changeId": None}
    change = route53.change_resource_record_sets(
        HostedZoneId=s["zone_id"],
        ChangeBatch={"Comment": "drctl: shift traffic between regions", "Changes": changes},
    )
    return {"changeId": change["ChangeInfo"]["Id"]}


def verify(s, state, unplanned):
    problems = []
    g = _global_cluster(s)
    member = _member(g, s["cluster_arn"])
    if member is None or not member.get("IsWriter"):
        problems.append(f"{s['cluster_arn']} is not the writer of {s['global_cluster']}")
    if unplanned:
        if problems:
            raise Refused("; ".join(problems))
        alarm = _fence_state(s)
        if alarm != FENCED:
            # CloudWatch evaluates a one-minute alarm each minute; Route 53's
            # health checkers follow it. The state machine asks again.
            raise Transient(f"the fence alarm {s['fence_alarm']} is {alarm}, not yet {FENCED}")
        return {"verified": True, "fence": alarm}
    weights = [r.get("Weight") if r else None for r in _record_sets(_route53(), s)]
    if weights != list(WANTED_WEIGHTS):
        problems.append(f"weights of {s['record_name']} are {weights}, not {list(WANTED_WEIGHTS)}")
    if problems:
        raise Refused("; ".join(problems))
    change_id = ((state or {}).get("shift_traffic") or {}).get("changeId")
    if change_id:
        status = _route53().get_change(Id=change_id)["ChangeInfo"]["Status"]
        if status != "INSYNC":
            # Route 53 propagates a change to all its servers within
            # minutes; the state machine asks again.
            raise Transient(f"Route 53 change {change_id} is {status}")
    return {"verified": True}


# The steps the state machine may ask for, in the order it asks.
STEPS = {
    "check": lambda s, state, unplanned: check(s, unplanned),
    "promote": lambda s, state, unplanned: promote(s, unplanned),
    "wait_writer": lambda s, state, unplanned: wait_writer(s, state.get("wait_writer")),
    "shift_traffic": lambda s, state, unplanned: shift_traffic(s, unplanned),
    "verify": lambda s, state, unplanned: verify(s, state, unplanned),
}


def handler(event, context):
    event = event or {}
    step = event.get("step")
    if step not in STEPS:
        raise Refused(f"unknown step {step!r}; steps: {', '.join(STEPS)}")
    # The execution's state: its input (where `unplanned` is, at the top
    # level) plus the results the earlier steps stored beside it.
    state = event.get("input") or {}
    unplanned = state.get("unplanned") is True
    try:
        result = STEPS[step](settings(), state, unplanned)
    except botocore.exceptions.ClientError as e:
        if e.response.get("Error", {}).get("Code") in TRANSIENT_CODES:
            raise Transient(str(e)) from e
        raise
    except (botocore.exceptions.ConnectionError, botocore.exceptions.ReadTimeoutError) as e:
        raise Transient(str(e)) from e
    result.update(
        {
            "step": step,
            "unplanned": unplanned,
            "environment": ENVIRONMENT_SUFFIX,
            "invokedBy": DR_ROLE,
        }
    )
    return result
