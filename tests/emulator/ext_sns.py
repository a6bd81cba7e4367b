"""SNS: e-mail subscriptions wait for their recipient's confirmation.

What AWS does (Amazon SNS Developer Guide, "Email notifications" and
"Subscribing an endpoint to an Amazon SNS topic"; SNS API Reference,
Subscribe, ListSubscriptionsByTopic, GetSubscriptionAttributes,
Unsubscribe, ConfirmSubscription) and moto 5.2.5 does not (it confirms
every subscription at once):

- Subscribe with protocol `email` or `email-json` creates a subscription
  pending confirmation: SNS mails a link with a token, and the
  subscription is confirmed when it is followed (ConfirmSubscription with
  that token). Subscribe answers SubscriptionArn "pending confirmation"
  unless ReturnSubscriptionArn is true, when it answers the ARN.
- GetSubscriptionAttributes of a pending subscription answers
  PendingConfirmation "true" and ConfirmationWasAuthenticated "false".
- ListSubscriptionsByTopic and ListSubscriptions show a pending
  subscription with SubscriptionArn "PendingConfirmation".
- Unsubscribe of a pending subscription fails with InvalidParameter
  ("Invalid parameter: SubscriptionArn Reason: Cannot unsubscribe a
  subscription that is pending confirmation"); AWS deletes a subscription
  left unconfirmed for three days (not emulated).

The emulator mails nothing, so its confirmation token is the
subscription's ARN: ConfirmSubscription(TopicArn, Token=<subscription
ARN>) confirms it, any other token is refused with InvalidParameter
("Invalid parameter: Token"), as AWS refuses an unknown one.
"""

PENDING_PROTOCOLS = ("email", "email-json")


def apply() -> None:
    from moto.core.responses import ActionResult
    from moto.sns.exceptions import SNSInvalidParameter, SNSNotFoundError
    from moto.sns.models import SNSBackend, Subscription
    from moto.sns.responses import SNSResponse

    def pending(sub: Subscription) -> bool:
        return sub.attributes.get("PendingConfirmation") == "true"

    original_subscribe = SNSBackend.subscribe

    def subscribe(self, topic_arn: str, endpoint: str, protocol: str) -> Subscription:
        existed = self._find_subscription(topic_arn, endpoint, protocol)
        sub = original_subscribe(self, topic_arn, endpoint, protocol)
        if existed is None and protocol in PENDING_PROTOCOLS:
            sub.attributes["PendingConfirmation"] = "true"
            sub.attributes["ConfirmationWasAuthenticated"] = "false"
        return sub

    original_subscribe_response = SNSResponse.subscribe

    def subscribe_response(self):
        result = original_subscribe_response(self)
        sub = self.backend._find_subscription(
            self._get_param("TopicArn"),
            self._get_param("Endpoint"),
            self._get_param("Protocol"),
        )
        wants_arn = str(self._get_param("ReturnSubscriptionArn")).lower() == "true"
        if sub is not None and pending(sub) and not wants_arn:
            return ActionResult({"SubscriptionArn": "pending confirmation"})
        return result

    # The listings read `subscription_arn` before `arn` (moto's serializer
    # tries the member's snake_case name first).
    Subscription.subscription_arn = property(
        lambda self: "PendingConfirmation" if pending(self) else self.arn
    )

    original_unsubscribe = SNSBackend.unsubscribe

    def unsubscribe(self, subscription_arn: str) -> None:
        sub = self.subscriptions.get(subscription_arn)
        if sub is not None and pending(sub):
            raise SNSInvalidParameter(
                "Invalid parameter: SubscriptionArn Reason: Cannot unsubscribe a "
                "subscription that is pending confirmation"
            )
        original_unsubscribe(self, subscription_arn)

    def confirm_subscription(self):
        topic_arn = self._get_param("TopicArn")
        if topic_arn not in self.backend.topics:
            raise SNSNotFoundError("Topic does not exist")
        sub = self.backend.subscriptions.get(self._get_param("Token"))
        if sub is None or sub.topic.arn != topic_arn:
            raise SNSInvalidParameter("Invalid parameter: Token")
        # ConfirmSubscription of a confirmed subscription answers its ARN.
        sub.attributes["PendingConfirmation"] = "false"
        sub.attributes["ConfirmationWasAuthenticated"] = "true"
        return ActionResult({"SubscriptionArn": sub.arn})

    SNSBackend.subscribe = subscribe
    SNSResponse.subscribe = subscribe_response
    SNSBackend.unsubscribe = unsubscribe
    SNSResponse.confirm_subscription = confirm_subscription
