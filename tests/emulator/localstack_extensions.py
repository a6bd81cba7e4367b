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

# See patch_cloudwatch: how long after PutMetricData LocalStack evaluates
# the alarms of the metric.
EVALUATION_DELAY_SECONDS = 1.5


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

    # A metric alarm evaluates its metric every period (CloudWatch User
    # Guide, "Evaluating an alarm"). LocalStack 4.4.0 does so on a timer of
    # Period * EvaluationPeriods seconds after PutMetricAlarm, so a datapoint
    # shows in the alarm's state up to that long (a minute or more) after
    # it was published. As ext_cloudwatch.py does for moto, evaluate the
    # alarms of a metric when PutMetricData publishes it, with LocalStack's
    # own evaluation (the one its timer runs): a test then sees the state
    # the next evaluation gives within a couple of seconds. The evaluation
    # runs EVALUATION_DELAY_SECONDS after the request, in a thread of its
    # own: LocalStack keeps datapoints to the second and its queries end
    # before the current second, so one made at once would miss the
    # datapoint just published. The timer stays as it is.
    import threading

    from localstack.services.cloudwatch.alarm_scheduler import calculate_alarm_state

    put_metric_data = CloudwatchProvider.put_metric_data

    def dimension_set(dimensions) -> frozenset:
        return frozenset((d.get("Name"), d.get("Value")) for d in dimensions or [])

    @functools.wraps(put_metric_data)
    def put_metric_data_and_evaluate(self, context, namespace, metric_data=None, *args, **kwargs):
        result = put_metric_data(self, context, namespace, metric_data, *args, **kwargs)
        published = {
            (d.get("MetricName"), dimension_set(d.get("Dimensions"))) for d in metric_data or []
        }
        store = self.get_store(context.account_id, context.region)
        for arn, alarm in list(store.alarms.items()):
            a = alarm.alarm
            if a.get("Namespace") != namespace or a.get("Metrics"):
                continue
            if (a.get("MetricName"), dimension_set(a.get("Dimensions"))) in published:
                timer = threading.Timer(EVALUATION_DELAY_SECONDS, calculate_alarm_state, [arn])
                timer.daemon = True
                timer.start()
        return result

    CloudwatchProvider.put_metric_data = put_metric_data_and_evaluate


def patch_route53() -> None:
    from localstack.aws.api.route53 import (
        CreateHealthCheckResponse,
        GetHealthCheckResponse,
        HealthCheckVersionMismatch,
        InvalidInput,
        ListHealthChecksResponse,
        NoSuchHealthCheck,
        UpdateHealthCheckResponse,
    )
    from localstack.services.cloudwatch.models import cloudwatch_stores
    from localstack.services.moto import call_moto
    from localstack.services.route53.provider import Route53Provider
    from moto.route53.models import route53_backends

    from ext_route53 import keep_alarm, refusal

    # CALCULATED and CLOUDWATCH_METRIC health checks, as ext_route53.py for
    # moto (which says what AWS does, with its sources): LocalStack 4.4.0's
    # GetHealthCheck returns neither ChildHealthChecks nor AlarmIdentifier
    # nor InsufficientDataHealthStatus (it writes HealthCheckConfig itself,
    # from a list of endpoint settings), its moto drops the alarm settings
    # on create and update, keeps HealthCheckVersion at 1, ignores
    # ResetElements and takes what AWS refuses. Here CreateHealthCheck and
    # UpdateHealthCheck refuse what ext_route53.py refuses, run in moto as
    # before, and every health check is answered from moto's backend with
    # the settings AWS keeps.
    def backend(context):
        return route53_backends[context.account_id][context.partition]

    def found_alarm(context, region, name):
        store = cloudwatch_stores[context.account_id][region]
        for alarm in store.alarms.values():
            if alarm.alarm.get("AlarmName") == name:
                return alarm.alarm
        return None

    def check_or_refuse(context, ty, config, check_id=None):
        message = refusal(
            backend(context).health_checks,
            lambda region, name: found_alarm(context, region, name) is not None,
            ty,
            config,
            check_id,
        )
        if message:
            raise InvalidInput(message)

    def flag(value) -> bool:
        return str(value).lower() == "true"

    def document(check) -> dict:
        ty = check.type_
        config = {
            "Type": ty,
            "Inverted": flag(check.inverted),
            "Disabled": flag(check.disabled),
            "EnableSNI": flag(check.enable_sni),
        }
        if ty == "CALCULATED":
            children = check.children or []
            config["ChildHealthChecks"] = [children] if isinstance(children, str) else list(children)
            if check.health_threshold is not None:
                config["HealthThreshold"] = int(check.health_threshold)
        elif ty != "CLOUDWATCH_METRIC":
            config.update(
                Port=int(check.port),
                RequestInterval=int(check.request_interval),
                FailureThreshold=int(check.failure_threshold),
                MeasureLatency=flag(check.measure_latency),
            )
            for key, value in (
                ("IPAddress", check.ip_address),
                ("FullyQualifiedDomainName", check.fqdn),
                ("ResourcePath", check.resource_path),
                ("SearchString", check.search_string),
            ):
                if value:
                    config[key] = value
        if getattr(check, "_drctl_alarm", None):
            config["AlarmIdentifier"] = dict(check._drctl_alarm)
        if getattr(check, "_drctl_insufficient", None):
            config["InsufficientDataHealthStatus"] = check._drctl_insufficient
        if check.regions:
            regions = check.regions
            config["Regions"] = [regions] if isinstance(regions, str) else list(regions)
        doc = {
            "Id": check.id,
            "CallerReference": check.caller_reference,
            "HealthCheckConfig": config,
            "HealthCheckVersion": getattr(check, "_drctl_version", 1),
        }
        if getattr(check, "_drctl_alarm_configuration", None):
            doc["CloudWatchAlarmConfiguration"] = check._drctl_alarm_configuration
        return doc

    def checked(context, health_check_id):
        check = backend(context).health_checks.get(health_check_id)
        if check is None:
            raise NoSuchHealthCheck(f"No health check exists with the specified ID {health_check_id}")
        return check

    def create_health_check(self, context, caller_reference, health_check_config, **kwargs):
        check_or_refuse(context, health_check_config.get("Type"), health_check_config)
        response = call_moto(context)
        check = checked(context, response["HealthCheck"]["Id"])
        alarm = health_check_config.get("AlarmIdentifier")
        keep_alarm(
            check,
            alarm,
            health_check_config.get("InsufficientDataHealthStatus"),
            found_alarm(context, alarm["Region"], alarm["Name"]) if alarm else None,
        )
        return CreateHealthCheckResponse(
            HealthCheck=document(check), Location=response.get("Location")
        )

    def update_health_check(self, context, health_check_id, health_check_version=None,
                            port=None, child_health_checks=None, alarm_identifier=None,
                            insufficient_data_health_status=None, reset_elements=None,
                            **kwargs):
        check = checked(context, health_check_id)
        check_or_refuse(
            context,
            check.type_,
            {"AlarmIdentifier": alarm_identifier, "ChildHealthChecks": child_health_checks,
             "Port": port},
            health_check_id,
        )
        version = getattr(check, "_drctl_version", 1)
        if health_check_version is not None and int(health_check_version) != version:
            raise HealthCheckVersionMismatch(
                "The value of HealthCheckVersion in the request doesn't match the value of "
                "HealthCheckVersion in the health check."
            )
        call_moto(context)
        for element, attribute in (
            ("ChildHealthChecks", "children"),
            ("Regions", "regions"),
            ("FullyQualifiedDomainName", "fqdn"),
            ("ResourcePath", "resource_path"),
        ):
            if element in (reset_elements or []):
                setattr(check, attribute, None)
        check._drctl_version = version + 1
        keep_alarm(
            check,
            alarm_identifier,
            insufficient_data_health_status,
            found_alarm(context, alarm_identifier["Region"], alarm_identifier["Name"])
            if alarm_identifier
            else None,
        )
        return UpdateHealthCheckResponse(HealthCheck=document(check))

    def get_health_check(self, context, health_check_id, **kwargs):
        return GetHealthCheckResponse(HealthCheck=document(checked(context, health_check_id)))

    def list_health_checks(self, context, marker=None, max_items=None, **kwargs):
        checks = list(backend(context).health_checks.values())
        return ListHealthChecksResponse(
            HealthChecks=[document(c) for c in checks],
            Marker=marker or "",
            IsTruncated=False,
            MaxItems=str(max_items or 100),
        )

    Route53Provider.create_health_check = create_health_check
    Route53Provider.update_health_check = update_health_check
    Route53Provider.get_health_check = get_health_check
    Route53Provider.list_health_checks = list_health_checks


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


def patch_s3() -> None:
    from localstack.aws.api.s3 import InvalidRequest
    from localstack.services.s3.provider import S3Provider

    # As ext_s3.py for moto: a rule selecting SSE-KMS objects needs the
    # destination's ReplicaKmsKeyID (S3 User Guide, "Replicating objects
    # created with server-side encryption"); LocalStack 4.4.0 accepts it.
    original = S3Provider.put_bucket_replication

    def put_bucket_replication(self, context, bucket, replication_configuration, *args, **kwargs):
        for rule in replication_configuration.get("Rules") or []:
            selection = (rule.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects") or {}
            encryption = (rule.get("Destination") or {}).get("EncryptionConfiguration") or {}
            if selection.get("Status") == "Enabled" and not encryption.get("ReplicaKmsKeyID"):
                raise InvalidRequest(
                    "ReplicaKmsKeyID must be specified if SseKmsEncryptedObjects tag is present."
                )
        return original(self, context, bucket, replication_configuration, *args, **kwargs)

    S3Provider.put_bucket_replication = put_bucket_replication

    # DeleteObject with If-Match deletes only if the object's ETag matches,
    # else 412 PreconditionFailed; a missing key answers 404 NoSuchKey (S3
    # User Guide, "How to perform conditional deletes"; S3 API Reference,
    # DeleteObject). LocalStack 4.4.0 deletes whatever is there. drctl's S3
    # state backend releases its lock, and clears an intent, this way.
    from localstack.services.s3.provider import verify_object_equality_precondition_write

    delete_object = S3Provider.delete_object

    @functools.wraps(delete_object)
    def delete_object_if_match(self, context, bucket, key, *args, **kwargs):
        if_match = kwargs.get("if_match")
        if if_match and not kwargs.get("version_id"):
            _, s3_bucket = self._get_cross_account_bucket(context, bucket)
            verify_object_equality_precondition_write(s3_bucket, key, if_match)
        return delete_object(self, context, bucket, key, *args, **kwargs)

    S3Provider.delete_object = delete_object_if_match


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


def patch_apigateway_deletes() -> None:
    # DeleteIntegrationResponse / DeleteMethodResponse / DeleteRestApi /
    # DeleteResource of something missing: NotFoundException, as
    # ext_apigateway.py does for moto (with its sources). LocalStack 4.4.0's
    # legacy API Gateway provider answers them from its moto (5.1.4), which
    # fails them with an internal error; the rule patches moto's backend,
    # which both versions share.
    import ext_apigateway

    ext_apigateway._deletes_need_existing()


def patch_ec2_peering() -> None:
    # VPC peering connections, as ext_ec2_peering.py for moto (which says
    # what AWS does, with its sources): LocalStack 4.4.0 serves them from
    # its moto (5.1.4), with the same deviations: no transient states, no
    # failure for overlapping CIDR blocks, a failed connection deleted, and
    # the requester's tags shown in the accepter's region. The rules patch
    # moto's backend, which both versions share.
    import ext_ec2_peering

    ext_ec2_peering.apply()


def preload_models() -> None:
    import importlib

    for module in PRELOADED_MODELS:
        importlib.import_module(module)


def apply() -> None:
    patch_cloudwatch()
    patch_route53()
    patch_apigateway()
    patch_apigateway_deletes()
    patch_sns()
    patch_s3()
    patch_ec2_peering()
    preload_models()


if __name__ == "__main__":
    apply()
    from localstack.runtime.main import main

    main()
