"""Publishes a payment notification.

Invoked by API Gateway (Lambda proxy integration) or directly; the payload
is logged as one JSON line (CloudWatch Logs) and, when `TOPIC_ARN` is set,
published to that SNS topic. Answers 202: delivery is asynchronous.
"""

import json
import os
import time

import boto3

ENVIRONMENT_SUFFIX = os.environ.get("ENVIRONMENT_SUFFIX", "")
DR_ROLE = os.environ.get("DR_ROLE", "")
TOPIC_ARN = os.environ.get("TOPIC_ARN", "")


def _payload(event):
    body = (event or {}).get("body")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except json.JSONDecodeError:
            return {"message": body}
    return event or {}


def handler(event, context):
    notification = {
        "type": "payment-notification",
        "environment": ENVIRONMENT_SUFFIX,
        "drRole": DR_ROLE,
        "region": os.environ.get("AWS_REGION", ""),
        "timestamp": int(time.time()),
        "payload": _payload(event),
    }
    print(json.dumps(notification, default=str))
    message_id = None
    if TOPIC_ARN:
        result = boto3.client("sns").publish(
            TopicArn=TOPIC_ARN,
            Subject=f"Payment notification ({ENVIRONMENT_SUFFIX})",
            Message=json.dumps(notification, default=str),
        )
        message_id = result.get("MessageId")
    return {
        "statusCode": 202,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"accepted": True, "messageId": message_id}),
    }
