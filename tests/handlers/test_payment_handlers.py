"""The payment API's handlers (crates/drctl-blueprint/lambda/*/index.py),
each called as API Gateway's Lambda proxy integration calls it, against the
emulator, with the environment the blueprint sets (compute.rs)."""

import contextlib
import io
import json
import unittest
from decimal import Decimal

import boto3
import emulator

REGION = "us-east-2"


def environment(**extra):
    return {"ENVIRONMENT_SUFFIX": "hdl", "DR_ROLE": "secondary", "AWS_REGION": REGION, **extra}


class TransactionProcessing(unittest.TestCase):
    def test_a_payment_is_recorded_in_the_session_table(self):
        emulator.start()
        table = "SessionTable-hdl"
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "sessionId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "sessionId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        module = emulator.load_handler(
            "transaction-processing",
            {**environment(TABLE_NAME=table), "AWS_DEFAULT_REGION": REGION},
        )
        body = json.dumps({"sessionId": "s-1", "amount": 12.5, "currency": "EUR"})
        answer = module.handler({"body": body}, None)
        self.assertEqual(answer["statusCode"], 201, answer)
        created = json.loads(answer["body"])
        item = boto3.resource("dynamodb", region_name=REGION).Table(table).get_item(
            Key={"sessionId": "s-1"}
        )["Item"]
        self.assertEqual(item["transactionId"], created["transactionId"])
        # The amount exactly as sent (Decimal, not a float).
        self.assertEqual(item["amount"], Decimal("12.5"))
        self.assertEqual((item["region"], item["drRole"]), (REGION, "secondary"))
        self.assertEqual(module.handler({"body": "not json"}, None)["statusCode"], 400)


class Notification(unittest.TestCase):
    def test_a_notification_is_published_to_the_topic(self):
        emulator.start()
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="payment-hdl-notifications")["TopicArn"]
        queue = sqs.create_queue(QueueName="payment-hdl-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        module = emulator.load_handler(
            "notification", {**environment(TOPIC_ARN=topic), "AWS_DEFAULT_REGION": REGION}
        )
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            answer = module.handler({"body": json.dumps({"paymentId": "p-1"})}, None)
        self.assertEqual(answer["statusCode"], 202, answer)
        # One JSON line to CloudWatch Logs (the function's stdout).
        self.assertEqual(json.loads(log.getvalue())["payload"], {"paymentId": "p-1"})
        message_id = json.loads(answer["body"])["messageId"]
        self.assertTrue(message_id)
        received = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
        envelope = json.loads(received[0]["Body"])
        self.assertEqual(envelope["MessageId"], message_id)
        notification = json.loads(envelope["Message"])
        self.assertEqual(notification["payload"], {"paymentId": "p-1"})
        self.assertEqual(notification["environment"], "hdl")


class PaymentValidation(unittest.TestCase):
    # No AWS call: the emulator only stands in for the environment.
    def test_valid_and_invalid_payments(self):
        emulator.start()
        module = emulator.load_handler("payment-validation", environment())
        ok = module.handler(
            {"body": json.dumps({"amount": 10, "currency": "USD", "card_token": " tok "})}, None
        )
        self.assertEqual(ok["statusCode"], 200, ok)
        self.assertEqual(json.loads(ok["body"])["payment"]["card_token"], "tok")
        self.assertEqual(ok["headers"]["X-DR-Role"], "secondary")
        bad = module.handler({"body": json.dumps({"amount": True, "currency": "usd"})}, None)
        self.assertEqual(bad["statusCode"], 400)
        self.assertEqual(
            json.loads(bad["body"])["errors"],
            [
                "amount must be a number",
                "currency must be an ISO 4217 code such as USD",
                "card_token is required",
            ],
        )


if __name__ == "__main__":
    unittest.main()
