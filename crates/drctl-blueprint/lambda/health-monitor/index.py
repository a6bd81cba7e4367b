"""Probes one region of the payment stack and publishes whether it is healthy.

Invoked every minute by the region's EventBridge rule (`rate(1 minute)`);
the event itself is not read. Two probes, each bounded by PROBE_TIMEOUT
seconds:

- the API: an HTTPS GET of the stage's `/health` (API_URL is the stage's
  invoke URL); it passes on HTTP 200. `/health` is a Lambda proxy
  integration with the region's transaction function, which answers 200
  only when it reaches the database (a TCP connection, as below) and the
  session table (a GetItem), and 503 otherwise; a function that cannot
  answer makes API Gateway answer 5xx. So this probe passes when API
  Gateway, the transaction function, the database and the table all
  answer, as for the Route 53 health check of the primary, which calls the
  same path. The function keeps a result for a few seconds, so the probe
  may see one that old;
- the database: a TCP connection to the region's Aurora reader endpoint
  (DB_HOST, DB_PORT), from this function itself, which also gives the
  connection's latency. The reader endpoint answers whichever role the
  region's cluster has (the writer endpoint of a global database's
  secondary cluster is inactive), so the probe means the same after a
  failover. No credentials and no query: it shows the cluster accepts
  connections from the functions' subnets and security group.

One PutMetricData call, in METRIC_NAMESPACE (the only namespace the
function's role may publish to), carries `RegionHealthy` (1 when both
probes pass, else 0) and the latency of each probe that passed
(`ApiLatency`, `DatabaseConnectLatency`, milliseconds), all with the
dimensions Environment (ENVIRONMENT_SUFFIX) and Region. The region's alarm
goes off after three minutes without a 1.

A failed probe is a 0, not an error. A failed PutMetricData raises: the
invocation fails and no datapoint is published, which the alarm counts
as unhealthy too (missing data is breaching).
"""

import json
import os
import socket
import time
import urllib.error
import urllib.request

import boto3

ENVIRONMENT_SUFFIX = os.environ.get("ENVIRONMENT_SUFFIX", "")
DR_ROLE = os.environ.get("DR_ROLE", "")

HEALTH_METRIC = "RegionHealthy"


def settings():
    """What the blueprint sets in the function's environment; AWS_REGION
    is Lambda's own."""
    env = os.environ
    return {
        "api_url": env["API_URL"],
        "db_host": env["DB_HOST"],
        "db_port": int(env["DB_PORT"]),
        "namespace": env["METRIC_NAMESPACE"],
        "timeout": float(env["PROBE_TIMEOUT"]),
        "environment": env["ENVIRONMENT_SUFFIX"],
        "region": env["AWS_REGION"],
    }


def probe_api(url, timeout):
    """(passed, milliseconds or None, what was seen) of GET <url>/health."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as e:
        status = e.code
    except (urllib.error.URLError, OSError) as e:
        # Refused, timed out, name or TLS failure: no answer at all.
        return False, None, f"{type(e).__name__}: {e}"
    elapsed = (time.monotonic() - started) * 1000
    return status == 200, (elapsed if status == 200 else None), f"HTTP {status}"


def probe_database(host, port, timeout):
    """(passed, milliseconds or None, what was seen) of a TCP connection."""
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        return False, None, f"{type(e).__name__}: {e}"
    return True, (time.monotonic() - started) * 1000, "connected"


def handler(event, context):
    s = settings()
    api_passed, api_ms, api_seen = probe_api(s["api_url"], s["timeout"])
    db_passed, db_ms, db_seen = probe_database(s["db_host"], s["db_port"], s["timeout"])
    healthy = api_passed and db_passed
    dimensions = [
        {"Name": "Environment", "Value": s["environment"]},
        {"Name": "Region", "Value": s["region"]},
    ]
    value = 1.0 if healthy else 0.0
    data = [{"MetricName": HEALTH_METRIC, "Dimensions": dimensions, "Value": value}]
    for name, ms in (("ApiLatency", api_ms), ("DatabaseConnectLatency", db_ms)):
        if ms is not None:
            data.append(
                {"MetricName": name, "Dimensions": dimensions, "Value": ms, "Unit": "Milliseconds"}
            )
    boto3.client("cloudwatch", region_name=s["region"]).put_metric_data(
        Namespace=s["namespace"], MetricData=data
    )
    result = {
        "environment": ENVIRONMENT_SUFFIX,
        "drRole": DR_ROLE,
        "region": s["region"],
        "healthy": healthy,
        "api": {"passed": api_passed, "seen": api_seen},
        "database": {"passed": db_passed, "seen": db_seen},
    }
    print(json.dumps(result))
    return result
