//! Resources created once per environment: the Aurora global cluster, the
//! DynamoDB global table, cross-region S3 replication, DNS with health
//! checked weighted records, and the failover automation.

use drctl_core::{Address, ResourceSpec, Value};
use serde_json::json;

use crate::compute::Compute;
use crate::data::Data;
use crate::targets::{self, global as address};
use crate::values::{Source, concat, conditional_policy, map, policy, r as reference, set, trust};
use crate::{Blueprint, ENGINE, Role, lambda_code};

/// What the global part needs from each region, primary first.
pub(crate) struct Regional<'a> {
    pub region: &'a str,
    pub data: Data,
    pub compute: Compute,
}

pub(crate) fn build(bp: &Blueprint, regions: &[Regional; 2], out: &mut Vec<ResourceSpec>) {
    let env = bp.env;
    let home = regions[0].region;
    let [primary, secondary] = regions;
    let tags = |name: &str| json!({"Name": name, "DR-Role": "global"});
    let mut add = |spec: ResourceSpec| {
        let a = spec.address.clone();
        out.push(spec);
        a
    };

    let global_id = format!("payment-global-{env}");
    let databases = bp.settings.databases_and_functions;
    if databases {
        add(ResourceSpec::new(targets::global_cluster(), home)
            .input("global_cluster_identifier", global_id.clone())
            .input("engine", ENGINE)
            .input("engine_version", bp.settings.engine_version.clone())
            .input("storage_encrypted", true)
            .input("deletion_protection", false));

        let table_name = format!("SessionTable-{env}");
        add(ResourceSpec::new(targets::session_table(), home)
            .input("table_name", table_name.clone())
            .input("hash_key", "sessionId")
            .input("hash_key_type", "S")
            .input("billing_mode", "PAY_PER_REQUEST")
            .input("point_in_time_recovery", true)
            .input("stream_view_type", "NEW_AND_OLD_IMAGES")
            .input("replica_regions", json!([secondary.region]))
            // Each member with its own region's key: AWS needs one per
            // replica when the table has a customer key.
            .input("kms_key_arn", reference(primary.data.key.output("arn")))
            .input(
                "replica_kms_key_arns",
                map([(
                    secondary.region,
                    reference(secondary.data.key.output("arn")),
                )]),
            )
            .input("tags", tags(&table_name)));
    }

    // S3 replication: a role only S3 can assume, allowed exactly what
    // replication needs on exactly these two buckets.
    let source_arn = || reference(primary.data.bucket.output("arn"));
    let dest_arn = || reference(secondary.data.bucket.output("arn"));
    let role_name = format!("payment-{env}-s3-replication");
    let replication_role = add(
        ResourceSpec::new(address("iam.role", "s3-replication"), home)
            .input("name", role_name.clone())
            .input(
                "description",
                format!("S3 cross-region replication of {env}"),
            )
            .input(
                "assume_role_policy",
                // Replication of the primary's bucket only (S3 User Guide,
                // "Setting up permissions for live replication").
                trust(
                    "s3.amazonaws.com",
                    Source::Arn {
                        account: bp.account_id,
                        arn: format!(
                            "arn:aws:s3:::{}",
                            crate::data::data_bucket_name(Role::Primary, env, bp.account_id)
                        ),
                    },
                ),
            )
            .input(
                "inline_policies",
                map([(
                    "replication",
                    conditional_policy(vec![
                        (
                            vec!["s3:GetReplicationConfiguration", "s3:ListBucket"],
                            Value::List(vec![source_arn()]),
                            None,
                        ),
                        (
                            vec![
                                "s3:GetObjectVersionForReplication",
                                "s3:GetObjectVersionAcl",
                                "s3:GetObjectVersionTagging",
                            ],
                            Value::List(vec![concat([source_arn(), "/*".into()])]),
                            None,
                        ),
                        (
                            vec![
                                "s3:ReplicateObject",
                                "s3:ReplicateDelete",
                                "s3:ReplicateTags",
                            ],
                            Value::List(vec![concat([dest_arn(), "/*".into()])]),
                            None,
                        ),
                        // SSE-KMS objects: read with the source bucket's
                        // key, written with the destination's, each only
                        // through S3 in its region and for its bucket's
                        // objects (S3 User Guide, "Replicating encrypted
                        // objects": kms:ViaService and the encryption
                        // context, the bucket's ARN with an S3 Bucket Key,
                        // the object's without).
                        (
                            vec!["kms:Decrypt"],
                            Value::List(vec![reference(primary.data.key.output("arn"))]),
                            Some(s3_key_use(primary.region, Role::Primary, bp)),
                        ),
                        (
                            vec!["kms:Encrypt", "kms:GenerateDataKey"],
                            Value::List(vec![reference(secondary.data.key.output("arn"))]),
                            Some(s3_key_use(secondary.region, Role::Secondary, bp)),
                        ),
                    ]),
                )]),
            )
            .input("managed_policy_arns", json!([]))
            .input("tags", tags(&role_name)),
    );
    add(ResourceSpec::new(targets::s3_replication(), home)
        .input("bucket", primary.data.bucket.output("bucket"))
        .input("role_arn", replication_role.output("arn"))
        .input("rule_id", "to-secondary")
        .input("destination_bucket_arn", dest_arn())
        .input("replication_time_minutes", 15)
        .input("delete_marker_replication", true)
        .input(
            "replica_kms_key_arn",
            reference(secondary.data.key.output("arn")),
        ));

    // DNS: `api.<domain>` weighted between the regions' APIs; the primary
    // carries the traffic while its health check passes.
    let (zone, dns) = hosted_zone(bp, home, &mut add);
    let record_name = format!("api.{}", bp.settings.domain);
    let domains = custom_domains(bp, regions, &zone, &dns, &record_name, &mut add);
    let probe = primary_probe(bp, primary, &zone, &dns, &mut add);
    // What callers call: TLS with an ACM certificate to an API Gateway
    // custom domain, its base path mapping, the stage, the integrations.
    let health = add(ResourceSpec::new(targets::primary_api_health_check(), home)
        .input("fqdn", probe.name.clone())
        .input("port", 443)
        .input("type", "HTTPS")
        .input("resource_path", "/health")
        .input("request_interval", targets::PRIMARY_API_CHECK_INTERVAL)
        .input(
            "failure_threshold",
            targets::PRIMARY_API_CHECK_FAILURE_THRESHOLD,
        )
        .input("tags", tags(&format!("payment-{env}-primary-api")))
        .after(&probe.record)
        .after(&probe.mapping));
    // The fence: an alarm in the secondary region on a metric only drctl
    // publishes. `drctl failover --unplanned` publishes 1 from the
    // secondary region; the alarm goes to ALARM, the health check on it and
    // so the primary's fail, and Route 53's health checkers send the
    // primary's traffic to the secondary's record: no call to the primary
    // region or to Route 53's control plane (docs/operations.md,
    // "Unplanned failover"). "ignore": the state holds without new data.
    let fence_name = format!("payment-{env}-primary-fence");
    let secondary_topic = set([reference(secondary.data.topic.output("arn"))]);
    let fence_alarm = add(
        ResourceSpec::new(targets::fence_alarm(), secondary.region)
            .input("alarm_name", fence_name.clone())
            .input(
                "alarm_description",
                format!("The primary region of {env} is fenced off: Route 53 sends its traffic to the secondary (drctl failover --unplanned)"),
            )
            .input(
                "metric",
                json!({"namespace": targets::FENCE_NAMESPACE, "metric_name": targets::FENCE_METRIC,
                       "dimensions": {targets::FENCE_DIMENSION: env}, "statistic": "Maximum",
                       "period": targets::FENCE_PERIOD}),
            )
            .input("comparison_operator", "GreaterThanOrEqualToThreshold")
            .input("threshold", Value::Json(json!(1.0)))
            .input("evaluation_periods", targets::FENCE_EVALUATION_PERIODS)
            .input("datapoints_to_alarm", targets::FENCE_DATAPOINTS_TO_ALARM)
            .input("treat_missing_data", "ignore")
            .input("alarm_actions", secondary_topic.clone())
            .input("ok_actions", secondary_topic)
            .input("tags", tags(&fence_name)),
    );
    // LastKnownStatus: healthy until the fence is first published, then as
    // last published, however long no data comes (Route 53 API reference,
    // HealthCheckConfig.InsufficientDataHealthStatus).
    let fence_check = add(ResourceSpec::new(
        address("route53.health_check", "primary-fence"),
        home,
    )
    .input("type", "CLOUDWATCH_METRIC")
    .input("alarm_region", secondary.region)
    .input("alarm_name", fence_alarm.output("alarm_name"))
    .input("insufficient_data_health_status", "LastKnownStatus")
    .input("tags", tags(&fence_name)));
    // The primary's record is healthy while both are: its API answers and
    // it is not fenced off.
    let primary_check = add(ResourceSpec::new(targets::primary_health_check(), home)
        .input("type", "CALCULATED")
        .input(
            "child_health_check_ids",
            set([
                reference(health.output("health_check_id")),
                reference(fence_check.output("health_check_id")),
            ]),
        )
        .input("health_threshold", 2)
        .input("tags", tags(&format!("payment-{env}-primary"))));
    // The weighted role's region takes all the traffic; a failover records
    // the other role as active, so a later apply keeps the weights it set
    // (and one by the fence keeps them as they were: `State::fenced`).
    let weight = |role: Role| if role == bp.weighted { 100 } else { 0 };
    for ((role, regional), domain) in [(Role::Primary, primary), (Role::Secondary, secondary)]
        .into_iter()
        .zip(&domains)
    {
        let mut spec = ResourceSpec::new(targets::api_record(role), home)
            .input("zone_id", zone.output("zone_id"))
            .input("name", record_name.clone())
            .input("type", "A")
            .input(
                "set_identifier",
                format!("{}-{}", role.as_str(), regional.region),
            )
            .input("weight", weight(role))
            .input(
                "alias",
                map([
                    (
                        "dns_name",
                        reference(domain.name.output("regional_domain_name")),
                    ),
                    (
                        "hosted_zone_id",
                        reference(domain.name.output("regional_hosted_zone_id")),
                    ),
                    ("evaluate_target_health", true.into()),
                ]),
            );
        if role == Role::Primary {
            spec = spec.input("health_check_id", primary_check.output("health_check_id"));
        }
        // Callers reach the stage only once the domain maps to it.
        add(spec.after(&domain.mapping));
    }

    // Failover automation, in the secondary region: the region that
    // survives an outage of the primary, where the automation is needed.
    // A function that runs one step per call, run by a state machine in the
    // order of `drctl failover` (docs/operations.md, "Failover automation").
    // Neither exists without the databases. IAM is global: the roles are
    // created through the home region's endpoint like every other role.
    if primary.data.cluster.is_none() || secondary.data.cluster.is_none() {
        return;
    }
    // The clusters' identifiers and ARNs follow from their deterministic
    // names, so the role and the function need not wait for the clusters:
    // referencing them put both behind the secondary cluster, the end of
    // the longest chain of an apply (docs/performance.md).
    let cluster_id = |role: Role| targets::cluster_identifier(env, role);
    let cluster_arn = |role: Role, region: &str| {
        format!(
            "arn:aws:rds:{region}:{}:cluster:{}",
            bp.account_id,
            cluster_id(role)
        )
    };
    let primary_cluster_arn = cluster_arn(Role::Primary, primary.region);
    let secondary_cluster_arn = cluster_arn(Role::Secondary, secondary.region);
    let automation = secondary.region;
    let failover_role_name = format!("payment-{env}-failover");
    let global_cluster_arn = format!("arn:aws:rds::{}:global-cluster:{global_id}", bp.account_id);
    // Exactly the calls the handler makes. PutMetricData takes no resource
    // but "*"; the condition keeps it to the fence's namespace (CloudWatch
    // User Guide, "Using condition keys to limit access to CloudWatch
    // namespaces"). DescribeAlarms takes the alarm's ARN.
    let fence_alarm_arn = concat([
        format!(
            "arn:aws:cloudwatch:{}:{}:alarm:",
            secondary.region, bp.account_id
        )
        .into(),
        reference(fence_alarm.output("alarm_name")),
    ]);
    let failover_role = add(ResourceSpec::new(address("iam.role", "failover"), home)
        .input("name", failover_role_name.clone())
        .input("description", format!("Failover function of {env}"))
        .input(
            "assume_role_policy",
            trust("lambda.amazonaws.com", Source::Account(bp.account_id)),
        )
        .input(
            "inline_policies",
            map([(
                "failover",
                conditional_policy(vec![
                    (
                        vec![
                            "route53:ChangeResourceRecordSets",
                            "route53:ListResourceRecordSets",
                        ],
                        Value::List(vec![concat([
                            "arn:aws:route53:::hostedzone/".into(),
                            reference(zone.output("zone_id")),
                        ])]),
                        None,
                    ),
                    (
                        vec!["route53:GetChange"],
                        Value::Json(json!(["arn:aws:route53:::change/*"])),
                        None,
                    ),
                    (
                        vec![
                            "rds:SwitchoverGlobalCluster",
                            "rds:FailoverGlobalCluster",
                            "rds:DescribeGlobalClusters",
                        ],
                        set([
                            global_cluster_arn.clone().into(),
                            primary_cluster_arn.clone().into(),
                            secondary_cluster_arn.clone().into(),
                        ]),
                        None,
                    ),
                    (
                        vec!["rds:DescribeDBClusters"],
                        Value::List(vec![secondary_cluster_arn.clone().into()]),
                        None,
                    ),
                    (
                        vec!["cloudwatch:PutMetricData"],
                        Value::Json(json!(["*"])),
                        Some(json!({"StringEquals": {
                            "cloudwatch:namespace": targets::FENCE_NAMESPACE
                        }})),
                    ),
                    (
                        vec!["cloudwatch:DescribeAlarms"],
                        Value::List(vec![fence_alarm_arn]),
                        None,
                    ),
                ]),
            )]),
        )
        .input(
            "managed_policy_arns",
            json!(["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]),
        )
        .input("tags", tags(&failover_role_name)));
    let code = lambda_code::package("failover");
    let function_name = format!("payment-{env}-failover");
    let failover = add(
        ResourceSpec::new(address("lambda.function", "failover"), automation)
            .input("function_name", function_name.clone())
            .input("runtime", "python3.12")
            .input("handler", "index.handler")
            .input("role_arn", failover_role.output("arn"))
            .input("timeout", 300)
            .input("memory_size", 256)
            .input(
                "environment",
                map([
                    ("ENVIRONMENT_SUFFIX", env.into()),
                    ("DR_ROLE", "secondary".into()),
                    ("HOSTED_ZONE_ID", reference(zone.output("zone_id"))),
                    ("RECORD_NAME", record_name.clone().into()),
                    ("RECORD_TYPE", "A".into()),
                    (
                        "PRIMARY_SET_ID",
                        format!("primary-{}", primary.region).into(),
                    ),
                    (
                        "SECONDARY_SET_ID",
                        format!("secondary-{}", secondary.region).into(),
                    ),
                    ("GLOBAL_CLUSTER_ID", global_id.clone().into()),
                    ("SECONDARY_REGION", secondary.region.into()),
                    ("SECONDARY_CLUSTER_ID", cluster_id(Role::Secondary).into()),
                    (
                        "SECONDARY_CLUSTER_ARN",
                        secondary_cluster_arn.clone().into(),
                    ),
                    // The fence an unplanned failover moves the traffic by:
                    // its metric (dimension value: ENVIRONMENT_SUFFIX, the
                    // environment's name, as the alarm's) and its alarm.
                    ("FENCE_NAMESPACE", targets::FENCE_NAMESPACE.into()),
                    ("FENCE_METRIC", targets::FENCE_METRIC.into()),
                    ("FENCE_DIMENSION", targets::FENCE_DIMENSION.into()),
                    ("FENCE_ALARM", reference(fence_alarm.output("alarm_name"))),
                ]),
            )
            .input("subnet_ids", json!([]))
            .input("security_group_ids", json!([]))
            .input("code_zip_base64", code.zip_base64)
            .input("code_sha256", code.sha256_base64)
            .input("tags", tags(&function_name)),
    );

    let sfn_role_name = format!("payment-{env}-failover-sfn");
    let machine_name = format!("payment-failover-{env}");
    let sfn_role = add(ResourceSpec::new(address("iam.role", "failover-sfn"), home)
        .input("name", sfn_role_name.clone())
        .input("description", format!("Failover state machine of {env}"))
        .input(
            "assume_role_policy",
            // The failover state machine only (Step Functions Developer
            // Guide, "Creating an IAM role for your state machine":
            // confused deputy prevention).
            trust(
                "states.amazonaws.com",
                Source::Arn {
                    account: bp.account_id,
                    arn: format!(
                        "arn:aws:states:{automation}:{}:stateMachine:{machine_name}",
                        bp.account_id
                    ),
                },
            ),
        )
        .input(
            "inline_policies",
            map([(
                "invoke-failover",
                policy(vec![(
                    vec!["lambda:InvokeFunction"],
                    Value::List(vec![reference(failover.output("arn"))]),
                )]),
            )]),
        )
        .input("managed_policy_arns", json!([]))
        .input("tags", tags(&sfn_role_name)));
    add(
        ResourceSpec::new(address("sfn.state_machine", "failover"), automation)
            .input("name", machine_name.clone())
            .input(
                "definition",
                failover_definition(env, reference(failover.output("arn"))),
            )
            .input("role_arn", sfn_role.output("arn"))
            .input("type", "STANDARD")
            .input("tags", tags(&machine_name)),
    );
}

/// The condition on the replication role's use of a region's key: only
/// through S3 in that region (`kms:ViaService`), only for the objects of
/// that region's data bucket (`kms:EncryptionContext:aws:s3:arn`).
fn s3_key_use(region: &str, role: Role, bp: &Blueprint) -> serde_json::Value {
    let bucket = format!(
        "arn:aws:s3:::{}",
        crate::data::data_bucket_name(role, bp.env, bp.account_id)
    );
    json!({
        "StringEquals": {"kms:ViaService": format!("s3.{region}.amazonaws.com")},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket.clone(), format!("{bucket}/*")]}
    })
}

/// How many times the state machine asks whether the secondary is the
/// writer, [`WRITER_POLL_SECONDS`] apart: 30 minutes, as long as `drctl
/// failover` waits (a switchover typically takes minutes).
pub(crate) const WRITER_POLLS: u32 = 60;
pub(crate) const WRITER_POLL_SECONDS: u32 = 30;

/// Errors worth another attempt: Lambda's own transient failures (Step
/// Functions developer guide, "Handling errors": retry Lambda service
/// exceptions) and the handler's `Transient`.
const RETRIED: [&str; 5] = [
    "Transient",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

/// The failover state machine: Check -> Promote -> WaitForWriter (a
/// bounded Wait/Choice loop) -> ShiftTraffic -> Verify. Each task passes its
/// step and the execution's state (the input, with `unplanned` at its top
/// level, and the earlier steps' results); transient errors are retried
/// with backoff, any other ends the execution in `FailoverFailed` with the
/// error and its cause.
pub(crate) fn failover_definition(env: &str, function_arn: Value) -> Value {
    let task = |comment: &str, step: &str, next: &str| {
        map([
            ("Type", "Task".into()),
            ("Comment", comment.into()),
            ("Resource", function_arn.clone()),
            (
                "Parameters",
                Value::Json(json!({"step": step, "input.$": "$"})),
            ),
            ("ResultPath", Value::Json(json!(format!("$.{step}")))),
            (
                "Retry",
                Value::Json(json!([{
                    "ErrorEquals": RETRIED,
                    "IntervalSeconds": 5,
                    "MaxAttempts": 6,
                    "BackoffRate": 2.0,
                }])),
            ),
            (
                "Catch",
                Value::Json(json!([{
                    "ErrorEquals": ["States.ALL"],
                    "ResultPath": "$.error",
                    "Next": "FailoverFailed",
                }])),
            ),
            ("Next", next.into()),
        ])
    };
    let states = map([
        (
            "Check",
            task(
                "The secondary is a member of the global cluster (and healthy, for a planned switchover)",
                "check",
                "Promote",
            ),
        ),
        (
            "Promote",
            task(
                "Switch over (planned) or fail over (unplanned) the global cluster to the secondary",
                "promote",
                "WaitForWriter",
            ),
        ),
        (
            "WaitForWriter",
            task(
                "Is the secondary the writer, the switch over?",
                "wait_writer",
                "WriterReady",
            ),
        ),
        (
            "WriterReady",
            Value::Json(json!({
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.wait_writer.ready", "BooleanEquals": true, "Next": "ShiftTraffic"},
                    {"Variable": "$.wait_writer.attempts", "NumericGreaterThanEquals": WRITER_POLLS, "Next": "WriterTimedOut"},
                ],
                "Default": "WaitBeforeAskingAgain",
            })),
        ),
        (
            "WaitBeforeAskingAgain",
            Value::Json(json!({
                "Type": "Wait",
                "Seconds": WRITER_POLL_SECONDS,
                "Next": "WaitForWriter",
            })),
        ),
        (
            "ShiftTraffic",
            task(
                "Planned: Route 53 weights primary 0, secondary 100. Unplanned: the fence (the fence metric set to 1 in this region), no Route 53 API call",
                "shift_traffic",
                "Verify",
            ),
        ),
        (
            "Verify",
            task(
                "The secondary is the writer and takes all traffic: the weights in sync (planned) or the fence alarm in ALARM (unplanned)",
                "verify",
                "Done",
            ),
        ),
        ("Done", Value::Json(json!({"Type": "Succeed"}))),
        (
            "WriterTimedOut",
            Value::Json(json!({
                "Type": "Fail",
                "Error": "WriterTimedOut",
                "Cause": format!("the secondary cluster was not the writer after {WRITER_POLLS} checks {WRITER_POLL_SECONDS} s apart; the traffic was not moved"),
            })),
        ),
        (
            "FailoverFailed",
            Value::Json(json!({
                "Type": "Fail",
                "ErrorPath": "$.error.Error",
                "CausePath": "$.error.Cause",
            })),
        ),
    ]);
    map([
        ("Comment", format!("Payment DR failover of {env}").into()),
        ("StartAt", "Check".into()),
        // The writer wait's bound plus the retries of the other steps.
        (
            "TimeoutSeconds",
            i64::from(WRITER_POLLS * WRITER_POLL_SECONDS + 30 * 60).into(),
        ),
        ("States", states),
    ])
}

/// The hosted zone of `domain`, and what each certificate validation wait
/// says about how public DNS reaches it (their `dns` input): ACM reads the
/// validation records through public DNS, which reaches a zone only
/// through its delegation (ACM User Guide, "DNS validation").
///
/// With `hosted_zone_id`, the user's zone (`route53.existing_zone`): drctl
/// adds its records to it and never deletes it, and its delegation is the
/// user's. Otherwise a zone drctl creates, and the NS record that
/// delegates it from the account's closest parent zone
/// (`route53.delegation`), removed on destroy; without a parent zone in the
/// account it writes nothing and the registrar must list the zone's name
/// servers, which the waits (and the plan) name. A new zone has new name
/// servers, so the delegation follows each one the zone gets.
fn hosted_zone(
    bp: &Blueprint,
    home: &str,
    add: &mut impl FnMut(ResourceSpec) -> Address,
) -> (Address, Value) {
    let domain = &bp.settings.domain;
    let described = |zone: &Address, parent: Option<&Address>| {
        let mut dns = std::collections::BTreeMap::from([
            ("zone".to_owned(), Value::from(domain.clone())),
            ("zone_id".to_owned(), reference(zone.output("zone_id"))),
            (
                "name_servers".to_owned(),
                reference(zone.output("name_servers")),
            ),
        ]);
        if let Some(delegation) = parent {
            dns.insert(
                "parent_zone".to_owned(),
                reference(delegation.output("parent_zone_name")),
            );
            dns.insert(
                "parent_zone_id".to_owned(),
                reference(delegation.output("parent_zone_id")),
            );
        }
        Value::Map(dns)
    };
    if let Some(id) = &bp.settings.hosted_zone_id {
        let zone = add(ResourceSpec::new(targets::existing_zone(), home)
            .input("zone_id", id.clone())
            .input("name", domain.clone()));
        let dns = described(&zone, None);
        return (zone, dns);
    }
    let zone = add(ResourceSpec::new(targets::hosted_zone(), home)
        .input("name", domain.clone())
        .input("comment", format!("Payment DR {}", bp.env))
        .input("tags", json!({"Name": domain, "DR-Role": "global"})));
    let delegation = add(ResourceSpec::new(targets::delegation(), home)
        .input("name", domain.clone())
        .input("name_servers", zone.output("name_servers")));
    let dns = described(&zone, Some(&delegation));
    (zone, dns)
}

/// One region's custom domain for `api.<domain>`: the domain name and its
/// base path mapping.
pub(crate) struct CustomDomain {
    pub name: Address,
    pub mapping: Address,
}

/// Per region, an ACM certificate for `record_name`, validated through the
/// hosted zone, and an API Gateway regional custom domain serving the
/// region's stage under that name (primary first).
///
/// ACM asks for the same validation CNAME for a domain name in every
/// region of an account, so one record, from the primary's certificate,
/// validates both; two records UPSERTing one record set would undo each
/// other's deletes. Each region's validation wait checks that its
/// certificate asks for that record, and fails naming it if not.
fn custom_domains(
    bp: &Blueprint,
    regions: &[Regional; 2],
    zone: &Address,
    dns: &Value,
    record_name: &str,
    add: &mut impl FnMut(ResourceSpec) -> Address,
) -> [CustomDomain; 2] {
    let env = bp.env;
    let in_role = |role: Role, kind: &str, name: &str| targets::regional(role, kind, name);
    let role_tags = |role: Role, name: &str| json!({"Name": name, "DR-Role": role.as_str()});
    let certificates = [Role::Primary, Role::Secondary].map(|role| {
        let regional = &regions[role as usize];
        add(
            ResourceSpec::new(in_role(role, "acm.certificate", "api"), regional.region)
                .input("domain_name", record_name)
                .input(
                    "tags",
                    role_tags(role, &format!("payment-{env}-{}-api", role.as_str())),
                ),
        )
    });
    let validation_record = add(ResourceSpec::new(
        address("route53.record", "api-certificate-validation"),
        regions[0].region,
    )
    .input("zone_id", zone.output("zone_id"))
    .input("name", certificates[0].output("validation_record_name"))
    .input("type", certificates[0].output("validation_record_type"))
    .input("ttl", 300)
    .input(
        "records",
        Value::List(vec![reference(
            certificates[0].output("validation_record_value"),
        )]),
    ));
    [Role::Primary, Role::Secondary].map(|role| {
        let regional = &regions[role as usize];
        let certificate = &certificates[role as usize];
        let validation = add(ResourceSpec::new(
            in_role(role, "acm.certificate_validation", "api"),
            regional.region,
        )
        .input("certificate_arn", certificate.output("arn"))
        .input(
            "validation_record_fqdns",
            Value::List(vec![reference(validation_record.output("fqdn"))]),
        )
        .input("dns", dns.clone()));
        let name = add(ResourceSpec::new(
            in_role(role, "apigateway.domain_name", "api"),
            regional.region,
        )
        .input("domain_name", record_name)
        .input("certificate_arn", validation.output("certificate_arn"))
        .input("security_policy", "TLS_1_2")
        .input(
            "tags",
            role_tags(role, &format!("payment-{env}-{}-api", role.as_str())),
        ));
        let mapping = add(ResourceSpec::new(
            in_role(role, "apigateway.base_path_mapping", "api"),
            regional.region,
        )
        .input("domain_name", name.output("domain_name"))
        .input("base_path", "(none)")
        .input("rest_api_id", regional.compute.api.output("id"))
        .input("stage", regional.compute.stage.output("stage_name")));
        CustomDomain { name, mapping }
    })
}

/// The primary's probe name and what serves it.
struct Probe {
    /// `api-<primary region>.<domain>`.
    name: String,
    record: Address,
    mapping: Address,
}

/// `api-<region>.<domain>`: the primary's API under a custom domain of its
/// own (certificate validated through the zone, domain name, base path
/// mapping, alias record), for the primary's health check. Route 53 sends
/// the checked name as Host and SNI (Route 53 API Reference,
/// HealthCheckConfig `FullyQualifiedDomainName`), so checking
/// `api.<domain>` would test whichever region the weights pick, and the
/// custom domain's `d-….execute-api…` name matches no custom domain.
fn primary_probe(
    bp: &Blueprint,
    primary: &Regional,
    zone: &Address,
    dns: &Value,
    add: &mut impl FnMut(ResourceSpec) -> Address,
) -> Probe {
    let env = bp.env;
    let name = format!("api-{}.{}", primary.region, bp.settings.domain);
    let regional = |kind: &str| targets::regional(Role::Primary, kind, "api-probe");
    let tags = json!({"Name": format!("payment-{env}-primary-api-probe"), "DR-Role": "primary"});
    let certificate = add(
        ResourceSpec::new(regional("acm.certificate"), primary.region)
            .input("domain_name", name.clone())
            .input("tags", tags.clone()),
    );
    let validation_record = add(ResourceSpec::new(
        address("route53.record", "api-probe-certificate-validation"),
        primary.region,
    )
    .input("zone_id", zone.output("zone_id"))
    .input("name", certificate.output("validation_record_name"))
    .input("type", certificate.output("validation_record_type"))
    .input("ttl", 300)
    .input(
        "records",
        Value::List(vec![reference(
            certificate.output("validation_record_value"),
        )]),
    ));
    let validation = add(
        ResourceSpec::new(regional("acm.certificate_validation"), primary.region)
            .input("certificate_arn", certificate.output("arn"))
            .input(
                "validation_record_fqdns",
                Value::List(vec![reference(validation_record.output("fqdn"))]),
            )
            .input("dns", dns.clone()),
    );
    let domain = add(
        ResourceSpec::new(regional("apigateway.domain_name"), primary.region)
            .input("domain_name", name.clone())
            .input("certificate_arn", validation.output("certificate_arn"))
            .input("security_policy", "TLS_1_2")
            .input("tags", tags),
    );
    let mapping = add(
        ResourceSpec::new(regional("apigateway.base_path_mapping"), primary.region)
            .input("domain_name", domain.output("domain_name"))
            .input("base_path", "(none)")
            .input("rest_api_id", primary.compute.api.output("id"))
            .input("stage", primary.compute.stage.output("stage_name")),
    );
    let record = add(
        ResourceSpec::new(address("route53.record", "api-probe"), primary.region)
            .input("zone_id", zone.output("zone_id"))
            .input("name", name.clone())
            .input("type", "A")
            .input(
                "alias",
                map([
                    ("dns_name", reference(domain.output("regional_domain_name"))),
                    (
                        "hosted_zone_id",
                        reference(domain.output("regional_hosted_zone_id")),
                    ),
                    ("evaluate_target_health", false.into()),
                ]),
            ),
    );
    Probe {
        name,
        record,
        mapping,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use drctl_core::DesiredGraph;
    use serde_json::Value as Json;

    use crate::targets::FENCE_NAMESPACE;
    use crate::{Blueprint, EnvSettings, Role};

    /// The handler the failover function runs, as embedded in its package.
    const HANDLER: &str = include_str!("../lambda/failover/index.py");

    /// The steps the handler dispatches, in its `STEPS` table's order.
    fn handler_steps() -> Vec<String> {
        let table = HANDLER
            .split_once("\nSTEPS = {\n")
            .expect("index.py has a STEPS table")
            .1;
        let table = table.split_once("\n}\n").expect("STEPS ends").0;
        table
            .lines()
            .map(|l| {
                let name = l.trim().strip_prefix('"').expect("one step a line");
                name.split_once('"').expect("quoted step").0.to_owned()
            })
            .collect()
    }

    fn dev_graph() -> DesiredGraph {
        let settings = EnvSettings::defaults("dev");
        let specs = Blueprint {
            env: "dev",
            settings: &settings,
            account_id: "123456789012",
            weighted: Role::Primary,
            zones: crate::Zones::placeholders(&settings),
        }
        .resources();
        DesiredGraph::new(specs).unwrap()
    }

    /// The graph of `dev` with these settings.
    fn graph_of(settings: &EnvSettings) -> DesiredGraph {
        let specs = Blueprint {
            env: "dev",
            settings,
            account_id: "123456789012",
            weighted: Role::Primary,
            zones: crate::Zones::placeholders(settings),
        }
        .resources();
        DesiredGraph::new(specs).unwrap()
    }

    /// The certificate validation waits (both regions' and the probe's).
    const VALIDATIONS: [&str; 3] = [
        "primary/acm.certificate_validation/api",
        "secondary/acm.certificate_validation/api",
        "primary/acm.certificate_validation/api-probe",
    ];

    /// drctl creates the zone and delegates it from the account's parent
    /// zone (the delegation follows the zone's name servers); each
    /// validation wait comes after the delegation and can say how public
    /// DNS reaches the zone.
    #[test]
    fn a_zone_drctl_creates_is_delegated_before_the_certificates_are_waited_for() {
        let graph = dev_graph();
        let zone = crate::targets::hosted_zone();
        let delegation = crate::targets::delegation();
        let spec = graph.get(&delegation).expect("the delegation");
        assert_eq!(spec.region, "us-east-1");
        assert_eq!(
            spec_json(&graph, &delegation.to_string(), "name"),
            "payment-dev.example.com"
        );
        assert_eq!(
            spec_json(&graph, &delegation.to_string(), "name_servers"),
            serde_json::json!({"$ref": "global/route53.hosted_zone/payment.name_servers"})
        );
        assert!(graph.dependencies(&delegation).contains(&zone));
        assert!(graph.get(&crate::targets::existing_zone()).is_none());
        for address in VALIDATIONS {
            assert_eq!(
                spec_json(&graph, address, "dns"),
                serde_json::json!({
                    "zone": "payment-dev.example.com",
                    "zone_id": {"$ref": "global/route53.hosted_zone/payment.zone_id"},
                    "name_servers": {"$ref": "global/route53.hosted_zone/payment.name_servers"},
                    "parent_zone": {"$ref": "global/route53.delegation/payment.parent_zone_name"},
                    "parent_zone_id": {"$ref": "global/route53.delegation/payment.parent_zone_id"},
                }),
                "{address}"
            );
            let a = address.parse().unwrap();
            assert!(graph.dependencies(&a).contains(&delegation), "{address}");
        }
    }

    /// With `hosted_zone_id` the user's zone takes the created one's place
    /// everywhere: no zone to create, no delegation to write.
    #[test]
    fn hosted_zone_id_uses_the_users_zone_instead_of_creating_one() {
        let mut settings = EnvSettings::defaults("dev");
        settings.hosted_zone_id = Some("Z0123456789ABCDEFGHIJ".into());
        let graph = graph_of(&settings);
        let existing = crate::targets::existing_zone();
        assert!(graph.get(&crate::targets::hosted_zone()).is_none());
        assert!(graph.get(&crate::targets::delegation()).is_none());
        assert_eq!(
            spec_json(&graph, &existing.to_string(), "zone_id"),
            "Z0123456789ABCDEFGHIJ"
        );
        assert_eq!(
            spec_json(&graph, &existing.to_string(), "name"),
            "payment-dev.example.com"
        );
        let zone_id = serde_json::json!({"$ref": "global/route53.existing_zone/payment.zone_id"});
        let mut records = 0;
        for spec in graph.resources().filter(|s| s.kind() == "route53.record") {
            assert_eq!(
                spec_json(&graph, &spec.address.to_string(), "zone_id"),
                zone_id,
                "{}",
                spec.address
            );
            records += 1;
        }
        assert_eq!(records, 5);
        for address in VALIDATIONS {
            let dns = spec_json(&graph, address, "dns");
            assert_eq!(dns["zone_id"], zone_id, "{address}");
            assert!(dns.get("parent_zone").is_none(), "{address}");
        }
        // The same graph but for those two.
        assert_eq!(graph.len() + 1, dev_graph().len());
    }

    fn spec_json(graph: &DesiredGraph, address: &str, input: &str) -> Json {
        serde_json::to_value(&graph.get(&address.parse().unwrap()).unwrap().inputs[input]).unwrap()
    }

    /// The tasks' steps from StartAt to the end, following each task's
    /// Next and, at a Choice, the way on when the writer is ready.
    fn task_steps(definition: &Json) -> Vec<String> {
        let states = definition["States"].as_object().unwrap();
        let mut at = definition["StartAt"].as_str().unwrap().to_owned();
        let mut steps = Vec::new();
        for _ in 0..states.len() {
            let state = &states[&at];
            let next = match state["Type"].as_str().unwrap() {
                "Task" => {
                    steps.push(state["Parameters"]["step"].as_str().unwrap().to_owned());
                    state["Next"].as_str()
                }
                "Choice" => state["Choices"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["BooleanEquals"] == Json::Bool(true))
                    .and_then(|c| c["Next"].as_str()),
                _ => None,
            };
            match next {
                Some(n) => at = n.to_owned(),
                None => return steps,
            }
        }
        panic!("the way from StartAt loops: {steps:?}");
    }

    #[test]
    fn the_state_machine_runs_the_handlers_steps_in_drctl_failovers_order() {
        let graph = dev_graph();
        let definition = spec_json(&graph, "global/sfn.state_machine/failover", "definition");
        let handler = handler_steps();
        assert_eq!(
            handler,
            ["check", "promote", "wait_writer", "shift_traffic", "verify"]
        );
        // Every step the handler knows, once, in its order: the database
        // before the traffic, as `drctl failover`.
        assert_eq!(task_steps(&definition), handler);

        let states = definition["States"].as_object().unwrap();
        for (name, state) in states {
            if state["Type"] != "Task" {
                continue;
            }
            let params = &state["Parameters"];
            let step = params["step"].as_str().unwrap();
            assert!(handler.iter().any(|s| s == step), "{name}: step {step}");
            // The whole state: `unplanned` at the top level of the input,
            // the earlier steps' results beside it.
            assert_eq!(params["input.$"], "$", "{name}");
            assert_eq!(state["ResultPath"], format!("$.{step}"), "{name}");
            let retry = state["Retry"].as_array().unwrap();
            assert!(!retry.is_empty(), "{name} has no Retry");
            for r in retry {
                assert!(r["BackoffRate"].as_f64().unwrap() > 1.0, "{name}");
                assert!(r["MaxAttempts"].as_u64().unwrap() > 1, "{name}");
                for error in r["ErrorEquals"].as_array().unwrap() {
                    let error = error.as_str().unwrap();
                    // Lambda's own errors, or an exception the handler raises.
                    assert!(
                        error.starts_with("Lambda.")
                            || HANDLER.contains(&format!("\nclass {error}(Exception)")),
                        "{name}: {error} is neither Lambda's nor the handler's"
                    );
                    assert_ne!(error, "States.ALL", "{name}: retries everything");
                }
            }
            let catch = state["Catch"].as_array().unwrap();
            assert_eq!(catch[0]["ErrorEquals"], serde_json::json!(["States.ALL"]));
            let to = &states[catch[0]["Next"].as_str().unwrap()];
            assert_eq!(to["Type"], "Fail", "{name}");
            assert_eq!(to["CausePath"], "$.error.Cause");
        }
        // Every Next names a state.
        for (name, state) in states {
            let mut nexts: Vec<&str> = state["Next"].as_str().into_iter().collect();
            if let Some(choices) = state["Choices"].as_array() {
                nexts.extend(choices.iter().filter_map(|c| c["Next"].as_str()));
                nexts.extend(state["Default"].as_str());
            }
            for n in nexts {
                assert!(states.contains_key(n), "{name} -> {n}");
            }
        }
    }

    #[test]
    fn the_wait_for_the_writer_is_bounded() {
        let graph = dev_graph();
        let definition = spec_json(&graph, "global/sfn.state_machine/failover", "definition");
        let states = definition["States"].as_object().unwrap();
        let choice = &states["WriterReady"];
        assert_eq!(states["WaitForWriter"]["Next"], "WriterReady");
        let bound = choice["Choices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["Variable"] == "$.wait_writer.attempts")
            .expect("a bound on the attempts");
        let polls = bound["NumericGreaterThanEquals"].as_u64().unwrap();
        assert!((1..=120).contains(&polls), "{polls}");
        assert_eq!(states[bound["Next"].as_str().unwrap()]["Type"], "Fail");
        // The handler counts the attempts it is given back.
        assert!(HANDLER.contains(r#""attempts": int((previous or {}).get("attempts", 0)) + 1"#));
        let wait = &states[choice["Default"].as_str().unwrap()];
        assert_eq!(wait["Type"], "Wait");
        assert_eq!(wait["Next"], "WaitForWriter");
        let seconds = wait["Seconds"].as_u64().unwrap();
        // And the execution as a whole ends: after the loop, with room for
        // the other steps' retries.
        let timeout = definition["TimeoutSeconds"].as_u64().unwrap();
        assert!(timeout > polls * seconds, "{timeout}");
    }

    /// The automation runs where a primary outage leaves it running.
    #[test]
    fn the_automation_runs_in_the_secondary_region() {
        let graph = dev_graph();
        for address in [
            "global/sfn.state_machine/failover",
            "global/lambda.function/failover",
        ] {
            let spec = graph.get(&address.parse().unwrap()).unwrap();
            assert_eq!(spec.region, "us-east-2", "{address}");
        }
        let env = spec_json(&graph, "global/lambda.function/failover", "environment");
        assert_eq!(env["SECONDARY_REGION"], "us-east-2");
        // Every variable the handler reads is set.
        let settings = HANDLER
            .split_once("def settings():")
            .unwrap()
            .1
            .split_once("\n\n\n")
            .unwrap()
            .0;
        for part in settings.split("env[\"").skip(1) {
            let name = part.split_once('"').unwrap().0;
            assert!(env.get(name).is_some(), "{name} is not set");
        }
    }

    /// The failover role allows exactly the calls the handler makes.
    #[test]
    fn the_failover_role_allows_exactly_the_handlers_calls() {
        let graph = dev_graph();
        let policies = spec_json(&graph, "global/iam.role/failover", "inline_policies");
        let allowed: BTreeSet<String> = policies["failover"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().clone())
            .map(|a| a.as_str().unwrap().to_ascii_lowercase())
            .collect();
        // boto3 method names: `describe_db_clusters` is DescribeDBClusters
        // (IAM action names are case-insensitive).
        let mut called = BTreeSet::new();
        for (service, prefixes) in [
            ("rds", ["rds(s).", "rds."]),
            ("route53", ["route53().", "route53."]),
            ("cloudwatch", ["cloudwatch(s).", "cloudwatch."]),
        ] {
            for prefix in prefixes {
                for (at, _) in HANDLER.match_indices(prefix) {
                    let before = HANDLER[..at].chars().next_back().unwrap();
                    if before.is_ascii_alphanumeric() || before == '"' {
                        continue;
                    }
                    let rest = &HANDLER[at + prefix.len()..];
                    let method: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !method.is_empty() && rest[method.len()..].starts_with('(') {
                        called.insert(format!("{service}:{}", method.replace('_', "")));
                    }
                }
            }
        }
        assert_eq!(called.len(), 9, "{called:?}");
        assert_eq!(called, allowed);

        // The fence's calls: PutMetricData on "*" (it has no resource) but
        // only in the fence's namespace; DescribeAlarms on the fence alarm,
        // in the secondary region.
        let statement = |action: &str| {
            policies["failover"]["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["Action"].as_array().unwrap().iter().any(|a| a == action))
                .unwrap_or_else(|| panic!("no statement allows {action}"))
                .clone()
        };
        let put = statement("cloudwatch:PutMetricData");
        assert_eq!(
            put["Action"],
            serde_json::json!(["cloudwatch:PutMetricData"])
        );
        assert_eq!(put["Resource"], serde_json::json!(["*"]));
        assert_eq!(
            put["Condition"],
            serde_json::json!({"StringEquals": {"cloudwatch:namespace": FENCE_NAMESPACE}})
        );
        let describe = statement("cloudwatch:DescribeAlarms");
        assert_eq!(
            describe["Resource"],
            serde_json::json!([{"$concat": [
                "arn:aws:cloudwatch:us-east-2:123456789012:alarm:",
                {"$ref": "global/cloudwatch.alarm/primary-fence.alarm_name"},
            ]}])
        );
        // No other statement has a condition.
        let conditioned = policies["failover"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s.get("Condition").is_some())
            .count();
        assert_eq!(conditioned, 1);
    }

    /// The function fences with the metric the fence alarm watches, and
    /// waits on that alarm.
    #[test]
    fn the_failover_function_fences_by_the_fence_alarms_metric() {
        let graph = dev_graph();
        let env = spec_json(&graph, "global/lambda.function/failover", "environment");
        let alarm = "global/cloudwatch.alarm/primary-fence";
        let metric = spec_json(&graph, alarm, "metric");
        assert_eq!(env["FENCE_NAMESPACE"], metric["namespace"]);
        assert_eq!(env["FENCE_METRIC"], metric["metric_name"]);
        // The handler's one dimension: FENCE_DIMENSION = ENVIRONMENT_SUFFIX.
        let dimension = env["FENCE_DIMENSION"].as_str().unwrap();
        assert_eq!(
            metric["dimensions"],
            serde_json::json!({dimension: env["ENVIRONMENT_SUFFIX"]})
        );
        assert_eq!(
            env["FENCE_ALARM"],
            serde_json::json!({"$ref": format!("{alarm}.alarm_name")})
        );
        // The alarm is where the function runs and publishes.
        let spec = graph.get(&alarm.parse().unwrap()).unwrap();
        assert_eq!(spec.region, env["SECONDARY_REGION"]);
        assert!(HANDLER.contains(
            r#""Dimensions": [{"Name": s["fence_dimension"], "Value": s["environment"]}]"#
        ));
        assert!(HANDLER.contains(r#""environment": env["ENVIRONMENT_SUFFIX"]"#));
    }

    /// The settings the recovery time rests on are the exported ones
    /// (`drctl_dr::rto` computes from them): a standard-resolution alarm
    /// (Route 53 refuses high-resolution ones) and the API check's interval
    /// and threshold; the fence's check has neither.
    #[test]
    fn the_fence_and_the_api_check_use_the_exported_timings() {
        use crate::targets;
        let graph = dev_graph();
        let alarm = targets::fence_alarm().to_string();
        let metric = spec_json(&graph, &alarm, "metric");
        assert_eq!(metric["period"], targets::FENCE_PERIOD);
        // Standard resolution: whole minutes.
        const { assert!(targets::FENCE_PERIOD >= 60 && targets::FENCE_PERIOD % 60 == 0) };
        assert_eq!(
            spec_json(&graph, &alarm, "evaluation_periods"),
            targets::FENCE_EVALUATION_PERIODS
        );
        assert_eq!(
            spec_json(&graph, &alarm, "datapoints_to_alarm"),
            targets::FENCE_DATAPOINTS_TO_ALARM
        );
        let api = targets::primary_api_health_check().to_string();
        assert_eq!(
            spec_json(&graph, &api, "request_interval"),
            targets::PRIMARY_API_CHECK_INTERVAL
        );
        assert_eq!(
            spec_json(&graph, &api, "failure_threshold"),
            targets::PRIMARY_API_CHECK_FAILURE_THRESHOLD
        );
        let fence_check = graph
            .get(&"global/route53.health_check/primary-fence".parse().unwrap())
            .unwrap();
        assert!(!fence_check.inputs.contains_key("request_interval"));
        let primary = spec_json(
            &graph,
            &targets::primary_health_check().to_string(),
            "child_health_check_ids",
        );
        assert!(primary.to_string().contains(&api), "{primary}");
    }
}
