"""Fixes to LocalStack 4.4.0 (host mode) for drctl's tests, like extensions.py
for moto: each one small, faithful to the AWS API reference it cites, and
listed in docs/resources.md ("LocalStack deviations"). drctl itself has no
emulator-only branch; where LocalStack answers unlike AWS in a way drctl's
tests see, it is corrected here.

Run as LocalStack's entry point (launch_localstack.py does):
    python localstack_extensions.py   ==   python -m localstack.runtime.main
with the fixes applied to the provider classes before any is instantiated.
"""

import functools


def patch_cloudwatch() -> None:
    from localstack.aws.api.cloudwatch import DashboardNotFoundError
    from localstack.services.cloudwatch.provider_v2 import CloudwatchProvider

    # PutMetricAlarm: "Tags: A list of key-value pairs to associate with the
    # alarm. [...] If you are using this operation to update an existing
    # alarm, any tags you specify in this parameter are ignored."
    # (CloudWatch API Reference, PutMetricAlarm). LocalStack 4.4.0 ignores
    # them on creation too; tag a new alarm with them.
    put_metric_alarm = CloudwatchProvider.put_metric_alarm

    @functools.wraps(put_metric_alarm)
    def put_metric_alarm_with_tags(self, context, request):
        store = self.get_store(context.account_id, context.region)
        name = request.get("AlarmName")
        existed = any(a.alarm.get("AlarmName") == name for a in store.alarms.values())
        result = put_metric_alarm(self, context, request)
        if not existed and request.get("Tags"):
            for arn, alarm in store.alarms.items():
                if alarm.alarm.get("AlarmName") == name:
                    store.TAGS.tag_resource(arn, request["Tags"])
        return result

    CloudwatchProvider.put_metric_alarm = put_metric_alarm_with_tags

    # DeleteAlarms deletes the alarms, tags included: an alarm created again
    # under the same name starts with the tags its PutMetricAlarm gives
    # (CloudWatch API Reference, DeleteAlarms). LocalStack 4.4.0 keeps the
    # deleted alarm's tags and shows them on the new one.
    delete_alarms = CloudwatchProvider.delete_alarms

    @functools.wraps(delete_alarms)
    def delete_alarms_and_tags(self, context, alarm_names, **kwargs):
        store = self.get_store(context.account_id, context.region)
        arns = [
            arn for arn, a in store.alarms.items() if a.alarm.get("AlarmName") in alarm_names
        ]
        delete_alarms(self, context, alarm_names, **kwargs)
        for arn in arns:
            store.TAGS.del_resource(arn)

    CloudwatchProvider.delete_alarms = delete_alarms_and_tags

    # GetDashboard of a missing dashboard: AWS answers DashboardNotFoundError
    # (code ResourceNotFound, HTTP 404; CloudWatch API Reference,
    # GetDashboard, "Errors"). LocalStack 4.4.0 answers InvalidParameterValue
    # (400), which no client can tell from a malformed request.
    get_dashboard = CloudwatchProvider.get_dashboard

    @functools.wraps(get_dashboard)
    def get_dashboard_not_found(self, context, dashboard_name, **kwargs):
        store = self.get_store(context.account_id, context.region)
        if dashboard_name not in store.dashboards:
            raise DashboardNotFoundError(f"Dashboard {dashboard_name} does not exist.")
        return get_dashboard(self, context, dashboard_name, **kwargs)

    CloudwatchProvider.get_dashboard = get_dashboard_not_found


def patch_apigateway() -> None:
    import re

    from localstack.services.apigateway.helpers import get_moto_rest_api
    from localstack.services.apigateway.legacy.provider import ApigatewayProvider

    # TagResource / UntagResource on the ARN of a REST API or a stage change
    # the tags that GetRestApi(s) and GetStage(s) return (API Gateway API
    # Reference, TagResource; RestApi.tags, Stage.tags). LocalStack 4.4.0
    # keeps the tags given at creation in one place and those of TagResource
    # in another, so reads never show a tag change. Apply the change to the
    # REST API or stage itself as well.
    tagged_arn = re.compile(
        r"^arn:aws[\w-]*:apigateway:[\w-]+::/restapis/([^/]+)(?:/stages/([^/]+))?$"
    )
    tag_resource = ApigatewayProvider.tag_resource
    untag_resource = ApigatewayProvider.untag_resource

    def tagged(context, resource_arn):
        m = tagged_arn.match(resource_arn)
        if not m:
            return None
        api = get_moto_rest_api(context, m.group(1))
        return api.stages.get(m.group(2)) if m.group(2) else api

    @functools.wraps(tag_resource)
    def tag_rest_api(self, context, resource_arn, tags, **kwargs):
        tag_resource(self, context, resource_arn, tags, **kwargs)
        if (target := tagged(context, resource_arn)) is not None:
            target.tags = {**(target.tags or {}), **tags}

    @functools.wraps(untag_resource)
    def untag_rest_api(self, context, resource_arn, tag_keys, **kwargs):
        untag_resource(self, context, resource_arn, tag_keys, **kwargs)
        if (target := tagged(context, resource_arn)) is not None:
            target.tags = {k: v for k, v in (target.tags or {}).items() if k not in tag_keys}

    ApigatewayProvider.tag_resource = tag_rest_api
    ApigatewayProvider.untag_resource = untag_rest_api

    # CreateDomainName's tags are the domain name's: GetDomainName returns
    # them (API Gateway API Reference, CreateDomainName `tags`, DomainName
    # `tags`). LocalStack 4.4.0 drops them.
    create_domain_name = ApigatewayProvider.create_domain_name

    @functools.wraps(create_domain_name)
    def create_domain_name_with_tags(self, context, domain_name, *args, **kwargs):
        domain = create_domain_name(self, context, domain_name, *args, **kwargs)
        if kwargs.get("tags"):
            domain["tags"] = dict(kwargs["tags"])
        return domain

    ApigatewayProvider.create_domain_name = create_domain_name_with_tags


def patch_sns() -> None:
    from localstack.aws.api.sns import ConfirmSubscriptionResponse, InvalidParameterException
    from localstack.services.sns.provider import SnsProvider

    # E-mail subscriptions wait for their recipient's confirmation (Amazon
    # SNS Developer Guide, "Email notifications"; SNS API Reference). As in
    # ext_sns.py for moto: Subscribe answers "pending confirmation" unless
    # ReturnSubscriptionArn is true; the listings show a pending
    # subscription's SubscriptionArn as "PendingConfirmation"; Unsubscribe
    # of a pending subscription fails with InvalidParameter. LocalStack
    # 4.4.0 keeps an e-mail subscription pending, but answers its ARN, lists
    # it with its ARN and unsubscribes it. Its confirmation token is mailed
    # nowhere, so, as in ext_sns.py, the subscription's ARN is accepted as
    # the token.
    def stored(self, context, arn):
        return self.get_store(context.account_id, context.region).subscriptions.get(arn)

    def is_pending(sub) -> bool:
        return bool(sub) and sub.get("PendingConfirmation") == "true"

    subscribe = SnsProvider.subscribe

    @functools.wraps(subscribe)
    def subscribe_pending(self, context, topic_arn, protocol, endpoint=None, attributes=None,
                          return_subscription_arn=None, **kwargs):
        result = subscribe(self, context, topic_arn, protocol, endpoint, attributes,
                           return_subscription_arn, **kwargs)
        arn = result.get("SubscriptionArn")
        if not return_subscription_arn and is_pending(stored(self, context, arn)):
            result["SubscriptionArn"] = "pending confirmation"
        return result

    def listed_pending(listing):
        @functools.wraps(listing)
        def listing_pending(self, context, *args, **kwargs):
            result = listing(self, context, *args, **kwargs)
            for sub in result.get("Subscriptions", []):
                if is_pending(stored(self, context, sub.get("SubscriptionArn"))):
                    sub["SubscriptionArn"] = "PendingConfirmation"
            return result

        return listing_pending

    unsubscribe = SnsProvider.unsubscribe

    @functools.wraps(unsubscribe)
    def unsubscribe_confirmed(self, context, subscription_arn, **kwargs):
        if is_pending(stored(self, context, subscription_arn)):
            raise InvalidParameterException(
                "Invalid parameter: SubscriptionArn Reason: Cannot unsubscribe a "
                "subscription that is pending confirmation"
            )
        return unsubscribe(self, context, subscription_arn, **kwargs)

    confirm_subscription = SnsProvider.confirm_subscription

    @functools.wraps(confirm_subscription)
    def confirm_by_arn(self, context, topic_arn, token, authenticate_on_unsubscribe=None,
                       **kwargs):
        sub = stored(self, context, token)
        if sub and sub.get("TopicArn") == topic_arn:
            sub["PendingConfirmation"] = "false"
            sub["ConfirmationWasAuthenticated"] = "true"
            return ConfirmSubscriptionResponse(SubscriptionArn=token)
        return confirm_subscription(self, context, topic_arn, token,
                                    authenticate_on_unsubscribe, **kwargs)

    SnsProvider.subscribe = subscribe_pending
    SnsProvider.list_subscriptions = listed_pending(SnsProvider.list_subscriptions)
    SnsProvider.list_subscriptions_by_topic = listed_pending(
        SnsProvider.list_subscriptions_by_topic
    )
    SnsProvider.unsubscribe = unsubscribe_confirmed
    SnsProvider.confirm_subscription = confirm_by_arn


# LocalStack imports moto's service models lazily, on a service's first
# request. Concurrent first requests import modules that import each other
# (EC2's models import IAM's), and Python's import lock then fails one of
# them: "deadlock detected by _ModuleLock('moto.iam.models')", answered as
# InternalError (seen once in the lane, on a burst of first requests).
# Importing them here, in one thread before the server starts, removes the
# race; it changes nothing a client can observe.
PRELOADED_MODELS = (
    "moto.iam.models",
    "moto.ec2.models",
    "moto.s3.models",
    "moto.ssm.models",
    "moto.sts.models",
    "moto.sns.models",
    "moto.route53.models",
    "moto.apigateway.models",
    "moto.stepfunctions.models",
    "moto.cloudwatch.models",
)


def preload_models() -> None:
    import importlib

    for module in PRELOADED_MODELS:
        importlib.import_module(module)


def apply() -> None:
    patch_cloudwatch()
    patch_apigateway()
    patch_sns()
    preload_models()


if __name__ == "__main__":
    apply()
    from localstack.runtime.main import main

    main()
