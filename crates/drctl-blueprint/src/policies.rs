//! Checks over every policy document the blueprint writes: each service
//! role trusts its service only for this account's resources where the
//! service supports it (confused deputy), each bucket refuses requests
//! without TLS, and the customer keys let services use them only for what
//! they publish. The documents themselves are built where their resources
//! are; `docs/resources.md`, "Policies", gives each one's reason and source.

#[cfg(test)]
mod tests {
    use drctl_core::{DesiredGraph, ResourceSpec};
    use serde_json::{Value as Json, json};

    use crate::{Blueprint, EnvSettings, Role, Zones};

    const ACCOUNT: &str = "123456789012";

    /// Every resource of `dev` with every optional tier on.
    fn specs() -> Vec<ResourceSpec> {
        let settings = EnvSettings::defaults("dev");
        assert!(settings.databases_and_functions && settings.containers.enabled);
        let specs = Blueprint {
            env: "dev",
            settings: &settings,
            account_id: ACCOUNT,
            weighted: Role::Primary,
            zones: Zones::placeholders(&settings),
        }
        .resources();
        DesiredGraph::new(specs.clone()).unwrap();
        specs
    }

    fn input(spec: &ResourceSpec, key: &str) -> Json {
        serde_json::to_value(&spec.inputs[key]).unwrap()
    }

    fn of_kind<'a>(specs: &'a [ResourceSpec], kind: &'a str) -> Vec<&'a ResourceSpec> {
        let found: Vec<&ResourceSpec> = specs.iter().filter(|s| s.address.kind() == kind).collect();
        assert!(!found.is_empty(), "no {kind}");
        found
    }

    /// What each service principal's trust must carry: the source ARN it
    /// must be limited to, or none where the account is the documented
    /// limit. `None` for a service that does not document the keys (its
    /// role carries no condition, `values::Source::Unconditioned`).
    fn expected_source(service: &str) -> Option<Option<&'static str>> {
        match service {
            "lambda.amazonaws.com" | "ecs-tasks.amazonaws.com" => Some(None),
            "s3.amazonaws.com" => Some(Some("arn:aws:s3:::payment-data-primary-dev-123456789012")),
            "states.amazonaws.com" => Some(Some(
                "arn:aws:states:us-east-2:123456789012:stateMachine:payment-failover-dev",
            )),
            "backup.amazonaws.com" => None,
            other => panic!(
                "{other}: a service role drctl makes must be listed here, with what AWS documents for its trust"
            ),
        }
    }

    #[test]
    fn every_service_role_trusts_its_service_only_for_this_accounts_resources() {
        let specs = specs();
        let mut services = Vec::new();
        for role in of_kind(&specs, "iam.role") {
            let doc = input(role, "assume_role_policy");
            let statements = doc["Statement"].as_array().unwrap();
            assert_eq!(statements.len(), 1, "{}: {doc:#}", role.address);
            let statement = &statements[0];
            assert_eq!(statement["Effect"], "Allow");
            assert_eq!(statement["Action"], "sts:AssumeRole");
            let service = statement["Principal"]["Service"].as_str().unwrap();
            services.push(service.to_owned());
            let condition = &statement["Condition"];
            match expected_source(service) {
                None => assert!(
                    condition.is_null(),
                    "{}: {service} documents no source keys: {doc:#}",
                    role.address
                ),
                Some(arn) => {
                    assert_eq!(
                        condition["StringEquals"],
                        json!({"aws:SourceAccount": ACCOUNT}),
                        "{}: {doc:#}",
                        role.address
                    );
                    match arn {
                        Some(arn) => assert_eq!(
                            condition["ArnLike"],
                            json!({"aws:SourceArn": arn}),
                            "{}: {doc:#}",
                            role.address
                        ),
                        None => assert!(condition.get("ArnLike").is_none()),
                    }
                }
            }
        }
        services.sort();
        services.dedup();
        assert_eq!(
            services,
            [
                "backup.amazonaws.com",
                "ecs-tasks.amazonaws.com",
                "lambda.amazonaws.com",
                "s3.amazonaws.com",
                "states.amazonaws.com"
            ]
        );
    }

    #[test]
    fn every_bucket_denies_requests_without_tls() {
        let specs = specs();
        for bucket in of_kind(&specs, "s3.bucket") {
            let name = input(bucket, "bucket");
            let arn = format!("arn:aws:s3:::{}", name.as_str().unwrap());
            let policy = input(bucket, "policy");
            let denies = policy["Statement"].as_array().unwrap().iter().any(|s| {
                s["Effect"] == "Deny"
                    && s["Principal"] == "*"
                    && s["Action"] == "s3:*"
                    && s["Resource"] == json!([arn, format!("{arn}/*")])
                    && s["Condition"] == json!({"Bool": {"aws:SecureTransport": "false"}})
            });
            assert!(denies, "{}: {policy:#}", bucket.address);
            // Nothing else: the policy grants nothing.
            assert!(
                policy["Statement"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|s| s["Effect"] == "Deny"),
                "{policy:#}"
            );
        }
    }

    #[test]
    fn keys_let_services_use_them_only_for_the_regions_alarm_topic() {
        let specs = specs();
        for key in of_kind(&specs, "kms.key") {
            let region = &key.region;
            let role = key.address.scope();
            let topic = format!("arn:aws:sns:{region}:{ACCOUNT}:payment-alarms-{role}-dev");
            let policy = input(key, "policy");
            let statements = policy["Statement"].as_array().unwrap();
            for s in statements {
                assert_eq!(s["Effect"], "Allow", "{policy:#}");
                let principal = &s["Principal"];
                if principal.get("AWS").is_some() {
                    // The account itself: administration through IAM.
                    assert_eq!(principal["AWS"], format!("arn:aws:iam::{ACCOUNT}:root"));
                    continue;
                }
                let service = principal["Service"].as_str().unwrap_or_else(|| {
                    panic!("one service per statement, each with its own conditions: {policy:#}")
                });
                assert_eq!(
                    s["Action"],
                    json!(["kms:Decrypt", "kms:GenerateDataKey*"]),
                    "{service}"
                );
                let condition = &s["Condition"];
                assert_eq!(
                    condition["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"], topic,
                    "{service}: {policy:#}"
                );
                match service {
                    "cloudwatch.amazonaws.com" => {
                        assert_eq!(condition["StringEquals"]["aws:SourceAccount"], ACCOUNT);
                        assert_eq!(
                            condition["ArnLike"]["aws:SourceArn"],
                            format!("arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:*")
                        );
                    }
                    // AWS documents no source keys for EventBridge's
                    // delivery to an encrypted topic.
                    "events.amazonaws.com" => {
                        assert!(condition.get("ArnLike").is_none());
                    }
                    other => panic!("{other} is not expected in the key policy"),
                }
            }
        }
    }

    /// The replication role uses each key only through S3 in the key's
    /// region, for that region's data bucket.
    #[test]
    fn the_replication_role_uses_the_keys_only_through_s3_for_its_buckets() {
        let specs = specs();
        let role = specs
            .iter()
            .find(|s| s.address.to_string() == "global/iam.role/s3-replication")
            .unwrap();
        let policy = &input(role, "inline_policies")["replication"];
        let kms: Vec<&Json> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Action"][0].as_str().unwrap().starts_with("kms:"))
            .collect();
        assert_eq!(kms.len(), 2, "{policy:#}");
        for (s, region, role) in [
            (kms[0], "us-east-1", "primary"),
            (kms[1], "us-east-2", "secondary"),
        ] {
            let bucket = format!("arn:aws:s3:::payment-data-{role}-dev-{ACCOUNT}");
            assert_eq!(
                s["Condition"],
                json!({
                    "StringEquals": {"kms:ViaService": format!("s3.{region}.amazonaws.com")},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket.clone(), format!("{bucket}/*")]}
                }),
                "{policy:#}"
            );
        }
    }
}
