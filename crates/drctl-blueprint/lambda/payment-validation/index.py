"""Validates a payment request before it reaches the transaction processor.

Invoked by API Gateway (Lambda proxy integration); answers 200 with the
normalised payment, or 400 with the list of problems found.
"""

import json
import os
import re

ENVIRONMENT_SUFFIX = os.environ.get("ENVIRONMENT_SUFFIX", "")
DR_ROLE = os.environ.get("DR_ROLE", "")

# ISO 4217 alphabetic codes are three upper-case letters.
CURRENCY = re.compile(r"^[A-Z]{3}$")


def _response(status, body):
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "application/json",
            "X-DR-Role": DR_ROLE,
            "X-Environment": ENVIRONMENT_SUFFIX,
        },
        "body": json.dumps(body),
    }


def validate(payment):
    """Returns the list of problems with `payment` (empty when valid)."""
    problems = []
    amount = payment.get("amount")
    # bool is an int in Python; a JSON true is not an amount.
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        problems.append("amount must be a number")
    elif amount <= 0:
        problems.append("amount must be greater than zero")
    currency = payment.get("currency")
    if not isinstance(currency, str) or not CURRENCY.match(currency):
        problems.append("currency must be an ISO 4217 code such as USD")
    token = payment.get("card_token")
    if not isinstance(token, str) or not token.strip():
        problems.append("card_token is required")
    return problems


def handler(event, context):
    raw = (event or {}).get("body") or "{}"
    try:
        payment = json.loads(raw)
    except json.JSONDecodeError:
        return _response(400, {"valid": False, "errors": ["body is not JSON"]})
    if not isinstance(payment, dict):
        return _response(400, {"valid": False, "errors": ["body must be an object"]})
    problems = validate(payment)
    if problems:
        return _response(400, {"valid": False, "errors": problems})
    return _response(
        200,
        {
            "valid": True,
            "payment": {
                "amount": payment["amount"],
                "currency": payment["currency"],
                "card_token": payment["card_token"].strip(),
            },
            "region_role": DR_ROLE,
        },
    )
