"""Records a validated payment as a transaction in the global DynamoDB table.

Invoked by API Gateway (Lambda proxy integration); answers 201 with the new
transaction id. The table is a global table, so the record written in
either region is replicated to the other.
"""

import json
import os
import time
import uuid
from decimal import Decimal

import boto3

ENVIRONMENT_SUFFIX = os.environ.get("ENVIRONMENT_SUFFIX", "")
DR_ROLE = os.environ.get("DR_ROLE", "")
TABLE_NAME = os.environ.get("TABLE_NAME", "")

_table = None


def _get_table():
    # Created once per execution environment and reused by warm invocations.
    global _table
    if _table is None:
        _table = boto3.resource("dynamodb").Table(TABLE_NAME)
    return _table


def _response(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


def handler(event, context):
    try:
        # DynamoDB rejects floats; Decimal keeps the amount exact.
        payment = json.loads((event or {}).get("body") or "{}", parse_float=Decimal)
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
