//! Resources created once per environment: the Aurora global cluster, the
//! DynamoDB global table, cross-region S3 replication, DNS with health
//! checked weighted records, and the failover automation.

use drctl_core::{Address, ResourceSpec, Value};
use serde_json::json;

use crate::compute::{Compute, STAGE};
use crate::data::Data;
use crate::values::{concat, map, policy, r as reference, set, trust};
use crate::{Blueprint, ENGINE, Role, lambda_code};

pub(crate) const SCOPE: &str = "global";

pub(crate) fn address(kind: &str, name: &str) -> Address {
    Address::new(SCOPE, kind, name).expect("blueprint addresses are valid")
}

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
        add(
            ResourceSpec::new(address("rds.global_cluster", "payment"), home)
                .input("global_cluster_identifier", global_id.clone())
                .input("engine", ENGINE)
                .input("engine_version", bp.settings.engine_version.clone())
                .input("storage_encrypted", true)
                .input("deletion_protection", false),
        );

        let table_name = format!("SessionTable-{env}");
        add(
            ResourceSpec::new(address("dynamodb.table", "session"), home)
                .input("table_name", table_name.clone())
                .input("hash_key", "sessionId")
                .input("hash_key_type", "S")
                .input("billing_mode", "PAY_PER_REQUEST")
                .input("point_in_time_recovery", true)
                .input("stream_view_type", "NEW_AND_OLD_IMAGES")
                .input("replica_regions", json!([secondary.region]))
                .input("tags", tags(&table_name)),
        );
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
            .input("assume_role_policy", trust("s3.amazonaws.com"))
            .input(
                "inline_policies",
                map([(
                    "replication",
                    policy(vec![
                        (
                            vec!["s3:GetReplicationConfiguration", "s3:ListBucket"],
                            Value::List(vec![source_arn()]),
                        ),
                        (
                            vec![
                                "s3:GetObjectVersionForReplication",
                                "s3:GetObjectVersionAcl",
                                "s3:GetObjectVersionTagging",
                            ],
                            Value::List(vec![concat([source_arn(), "/*".into()])]),
                        ),
                        (
                            vec![
                                "s3:ReplicateObject",
                                "s3:ReplicateDelete",
                                "s3:ReplicateTags",
                            ],
                            Value::List(vec![concat([dest_arn(), "/*".into()])]),
                        ),
                    ]),
                )]),
            )
            .input("managed_policy_arns", json!([]))
            .input("tags", tags(&role_name)),
    );
    add(
        ResourceSpec::new(address("s3.bucket_replication", "data"), home)
            .input("bucket", primary.data.bucket.output("bucket"))
            .input("role_arn", replication_role.output("arn"))
            .input("rule_id", "to-secondary")
            .input("destination_bucket_arn", dest_arn())
            .input("replication_time_minutes", 15)
            .input("delete_marker_replication", true),
    );

    // DNS: `api.<domain>` weighted between the regions' APIs; the primary
    // carries the traffic while its health check passes.
    let zone = add(
        ResourceSpec::new(address("route53.hosted_zone", "payment"), home)
            .input("name", bp.settings.domain.clone())
            .input("comment", format!("Payment DR {env}"))
            .input("tags", tags(&bp.settings.domain)),
    );
    let record_name = format!("api.{}", bp.settings.domain);
    let domains = custom_domains(bp, regions, &zone, &record_name, &mut add);
    let health = add(
        ResourceSpec::new(address("route53.health_check", "primary-api"), home)
            .input("fqdn", primary.compute.api.output("regional_domain_name"))
            .input("port", 443)
            .input("type", "HTTPS")
            .input("resource_path", format!("/{STAGE}/health"))
            .input("request_interval", 30)
            .input("failure_threshold", 3)
            .input("tags", tags(&format!("payment-{env}-primary-api"))),
    );
    // The active role's region takes all the traffic; a failover records
    // the other role as active, so a later apply keeps the weights it set.
    let weight = |role: Role| if role == bp.active { 100 } else { 0 };
    for ((role, regional), domain) in [(Role::Primary, primary), (Role::Secondary, secondary)]
        .into_iter()
        .zip(&domains)
    {
        let (weight, role) = (weight(role), role.as_str());
        let mut spec = ResourceSpec::new(address("route53.record", &format!("api-{role}")), home)
            .input("zone_id", zone.output("zone_id"))
            .input("name", record_name.clone())
            .input("type", "A")
            .input("set_identifier", format!("{role}-{}", regional.region))
            .input("weight", weight)
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
        if role == "primary" {
            spec = spec.input("health_check_id", health.output("health_check_id"));
        }
        // Callers reach the stage only once the domain maps to it.
        add(spec.after(&domain.mapping));
    }

    // Failover automation, in the primary region: a function that shifts
    // the weights and switches the global cluster over, run by a state
    // machine DetectOutage -> TriggerFailover -> PromoteSecondary.
    // The failover function promotes the secondary Aurora cluster; its
    // state machine invokes it. Neither exists without the databases.
    let (Some(primary_cluster), Some(secondary_cluster)) =
        (&primary.data.cluster, &secondary.data.cluster)
    else {
        return;
    };
    let failover_role_name = format!("payment-{env}-failover");
    let global_cluster_arn = format!("arn:aws:rds::{}:global-cluster:{global_id}", bp.account_id);
    let failover_role = add(ResourceSpec::new(address("iam.role", "failover"), home)
        .input("name", failover_role_name.clone())
        .input("description", format!("Failover function of {env}"))
        .input("assume_role_policy", trust("lambda.amazonaws.com"))
        .input(
            "inline_policies",
            map([(
                "failover",
                policy(vec![
                    (
                        vec![
                            "route53:ChangeResourceRecordSets",
                            "route53:ListResourceRecordSets",
                        ],
                        Value::List(vec![concat([
                            "arn:aws:route53:::hostedzone/".into(),
                            reference(zone.output("zone_id")),
                        ])]),
                    ),
                    (
                        vec!["route53:GetChange"],
                        Value::Json(json!(["arn:aws:route53:::change/*"])),
                    ),
                    (
                        vec![
                            "rds:SwitchoverGlobalCluster",
                            "rds:FailoverGlobalCluster",
                            "rds:DescribeGlobalClusters",
                        ],
                        set([
                            global_cluster_arn.clone().into(),
                            reference(primary_cluster.output("arn")),
                            reference(secondary_cluster.output("arn")),
                        ]),
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
        ResourceSpec::new(address("lambda.function", "failover"), home)
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
                    ("DR_ROLE", "primary".into()),
                    ("HOSTED_ZONE_ID", reference(zone.output("zone_id"))),
                    ("RECORD_NAME", record_name.clone().into()),
                    (
                        "PRIMARY_SET_ID",
                        format!("primary-{}", primary.region).into(),
                    ),
                    (
                        "SECONDARY_SET_ID",
                        format!("secondary-{}", secondary.region).into(),
                    ),
                    ("GLOBAL_CLUSTER_ID", global_id.clone().into()),
                    (
                        "SECONDARY_CLUSTER_ARN",
                        reference(secondary_cluster.output("arn")),
                    ),
                ]),
            )
            .input("subnet_ids", json!([]))
            .input("security_group_ids", json!([]))
            .input("code_zip_base64", code.zip_base64)
            .input("code_sha256", code.sha256_base64)
            .input("tags", tags(&function_name)),
    );

    let sfn_role_name = format!("payment-{env}-failover-sfn");
    let sfn_role = add(ResourceSpec::new(address("iam.role", "failover-sfn"), home)
        .input("name", sfn_role_name.clone())
        .input("description", format!("Failover state machine of {env}"))
        .input("assume_role_policy", trust("states.amazonaws.com"))
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
    let task = |comment: &str, step: &str, next: Option<&str>| {
        let mut state = map([
            ("Type", "Task".into()),
            ("Comment", comment.into()),
            ("Resource", reference(failover.output("arn"))),
            (
                "Parameters",
                Value::Json(json!({"step": step, "input.$": "$"})),
            ),
            ("ResultPath", Value::Json(json!(format!("$.{step}")))),
        ]);
        if let Value::Map(m) = &mut state {
            match next {
                Some(n) => m.insert("Next".into(), n.into()),
                None => m.insert("End".into(), true.into()),
            };
        }
        state
    };
    let definition = map([
        ("Comment", format!("Payment DR failover of {env}").into()),
        ("StartAt", "DetectOutage".into()),
        ("TimeoutSeconds", 300.into()),
        (
            "States",
            map([
                (
                    "DetectOutage",
                    task(
                        "Confirm the primary region is unhealthy",
                        "detect",
                        Some("TriggerFailover"),
                    ),
                ),
                (
                    "TriggerFailover",
                    task(
                        "Shift Route 53 weights to the secondary",
                        "trigger",
                        Some("PromoteSecondary"),
                    ),
                ),
                (
                    "PromoteSecondary",
                    task("Promote the secondary Aurora cluster", "promote", None),
                ),
            ]),
        ),
    ]);
    let machine_name = format!("payment-failover-{env}");
    add(
        ResourceSpec::new(address("sfn.state_machine", "failover"), home)
            .input("name", machine_name.clone())
            .input("definition", definition)
            .input("role_arn", sfn_role.output("arn"))
            .input("type", "STANDARD")
            .input("tags", tags(&machine_name)),
    );
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
    record_name: &str,
    add: &mut impl FnMut(ResourceSpec) -> Address,
) -> [CustomDomain; 2] {
    let env = bp.env;
    let in_role = |role: Role, kind: &str, name: &str| {
        Address::new(role.as_str(), kind, name).expect("blueprint addresses are valid")
    };
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
        ));
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
