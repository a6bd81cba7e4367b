"""Records a validated payment as a transaction in the global DynamoDB table,
and answers the region's health check.

Invoked by API Gateway (Lambda proxy integration):

- POST /transaction answers 201 with the new transaction id. The table is a
  global table, so the record written in either region is replicated to
  the other.
- GET /health answers whether this function can reach what a payment
  needs: the database (a TCP connection to the region's Aurora reader
  endpoint, DB_HOST and DB_PORT: it answers whichever role the region's
  cluster has, and never depends on the other region) and the session
  table (a GetItem of a fixed key, the
  cheapest read the role allows). 200 when both answer, else 503 naming
  which one did not; never a credential or a stack trace (the details go to
  the function's log). Each check is bounded by HEALTH_TIMEOUT_SECONDS, so
  an answer comes within Route 53's two seconds (Route 53 Developer Guide,
  "How Amazon Route 53 determines whether a health check is healthy").
  Route 53's health checkers call it from many places at once, so a result
  is kept for HEALTH_CACHE_SECONDS in the warm execution environment: one
  environment opens at most one database connection and reads the table at
  most once per that many seconds, whatever the rate of calls.

Where the Aurora global database is (`database_address`): a connection
that writes, or reads what must include a write just made (read after
write), goes to the global writer endpoint DB_WRITER_HOST, which Aurora
points at the writer instance of whichever region writes, across a
switchover or failover; a read goes to this region's reader endpoint
DB_HOST. Both are DNS names whose answers change: connect anew (a pool
validates or recycles its connections) rather than keep an address.
"""

import json
import os
import socket
import time
import uuid
from decimal import Decimal

import boto3
from botocore.config import Config

ENVIRONMENT_SUFFIX = os.environ.get("ENVIRONMENT_SUFFIX", "")
DR_ROLE = os.environ.get("DR_ROLE", "")
TABLE_NAME = os.environ.get("TABLE_NAME", "")

# Each check's bound: the two together fit the two seconds Route 53's health
# checkers wait for an answer.
HEALTH_TIMEOUT_SECONDS = 0.8
# How long a health result is reused by the same execution environment.
HEALTH_CACHE_SECONDS = 5.0
# The session table's key the health check reads (whatever it holds is
# ignored): an absent key costs the minimum read, half a read request unit
# (eventually consistent).
HEALTH_KEY = {"sessionId": {"S": "drctl-health-check"}}

_table = None
_health_client = None
# (monotonic time it expires, the answer) of the last health check.
_health = None


def _get_table():
    # Created once per execution environment and reused by warm invocations.
    global _table
    if _table is None:
        _table = boto3.resource("dynamodb").Table(TABLE_NAME)
    return _table


def _response(status, body, headers=None):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
    }


def database_address(write=False):
    """(host, port) of the Aurora endpoint for a connection that writes
    (`write`: also one that reads what it wrote), else for one that reads:
    the global writer endpoint, which follows the writer to the other
    region on a switchover or failover, or this region's reader endpoint.
    KeyError or ValueError when the environment does not name it."""
    if write:
        host = os.environ["DB_WRITER_HOST"]
    else:
        host = os.environ["DB_HOST"]
    if not host:
        raise ValueError("no database endpoint for " + ("writes" if write else "reads"))
    return host, int(os.environ["DB_PORT"])


def _check_database():
    """None when the database accepts a TCP connection, else what failed."""
    try:
        address = database_address(write=False)
        with socket.create_connection(address, timeout=HEALTH_TIMEOUT_SECONDS):
            pass
    except (KeyError, ValueError, OSError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def _check_table():
    """None when the session table answers a read, else what failed."""
    global _health_client
    try:
        if _health_client is None:
            # Its own client: bounded, and never retried, unlike the
            # payments' (a health answer must come in time, not late).
            _health_client = boto3.client(
                "dynamodb",
                config=Config(
                    connect_timeout=HEALTH_TIMEOUT_SECONDS / 2,
                    read_timeout=HEALTH_TIMEOUT_SECONDS / 2,
                    retries={"total_max_attempts": 1},
                ),
            )
        _health_client.get_item(TableName=TABLE_NAME, Key=HEALTH_KEY)
    except Exception as e:  # noqa: BLE001 - any failure is an unhealthy answer
        return f"{type(e).__name__}: {e}"
    return None


def health():
    """The answer to GET /health, reused for HEALTH_CACHE_SECONDS."""
    global _health
    now = time.monotonic()
    if _health is not None and now < _health[0]:
        return _health[1]
    failures = {"database": _check_database(), "table": _check_table()}
    checks = {name: "failed" if seen else "ok" for name, seen in failures.items()}
    healthy = all(seen is None for seen in failures.values())
    if not healthy:
        # The details for the operator, in the function's log only.
        print(json.dumps({"health": "unavailable", "failures": failures}))
    answer = _response(
        200 if healthy else 503,
        {
            "status": "ok" if healthy else "unavailable",
            "checks": checks,
            "drRole": DR_ROLE,
            "region": os.environ.get("AWS_REGION", ""),
        },
        {"Cache-Control": "no-store"},
    )
    _health = (now + HEALTH_CACHE_SECONDS, answer)
    return answer


def handler(event, context):
    event = event or {}
    if event.get("httpMethod") == "GET" and event.get("resource") == "/health":
        return health()
    try:
        # DynamoDB rejects floats; Decimal keeps the amount exact.
        payment = json.loads(event.get("body") or "{}", parse_float=Decimal)
    except json.JSONDecodeError:
        return _response(400, {"error": "body is not JSON"})
    if not isinstance(payment, dict):
        return _response(400, {"error": "body must be an object"})
    session_id = payment.get("sessionId") or str(uuid.uuid4())
    transaction_id = str(uuid.uuid4())
    item = {
        "sessionId": session_id,
        "transactionId": transaction_id,
        "amount": payment.get("amount", Decimal(0)),
        "currency": payment.get("currency", ""),
        "status": "RECORDED",
        "createdAt": int(time.time()),
        "region": os.environ.get("AWS_REGION", ""),
        "drRole": DR_ROLE,
        "environment": ENVIRONMENT_SUFFIX,
    }
    _get_table().put_item(Item=item)
    return _response(
        201,
        {"sessionId": session_id, "transactionId": transaction_id, "status": "RECORDED"},
    )
