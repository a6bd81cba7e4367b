//! One region's data tier: the region's customer-managed key, the Aurora
//! cluster of the global database and its instances, the data bucket, and
//! the alarm topic.

use drctl_core::{Address, ResourceSpec, Value};
use serde_json::json;

use crate::network::Network;
use crate::values::map;
use crate::{ENGINE, Region, Role, targets};

pub(crate) struct Data {
    /// The region's customer-managed key: every encrypted resource of the
    /// region uses it.
    pub key: Address,
    /// Only with `databases_and_functions`.
    pub cluster: Option<Address>,
    pub bucket: Address,
    pub topic: Address,
}

pub(crate) fn build(r: &mut Region, net: &Network) -> Data {
    let key = customer_key(r);
    let cluster = net
        .security_groups
        .as_ref()
        .map(|sgs| database(r, net, &sgs.db, &key));
    let bucket = data_bucket_name(r.role, r.bp.env, r.bp.account_id);
    let bucket = r.add(
        ResourceSpec::new(targets::data_bucket(r.role), r.region)
            .input("bucket", bucket.clone())
            .input("versioning", true)
            .input("sse_algorithm", "aws:kms")
            .input("kms_key_id", key.output("arn"))
            .input("bucket_key_enabled", true)
            .input("block_public_access", true)
            .input("policy", bucket_policy(&bucket))
            .input(
                "lifecycle_rules",
                json!([{"id": "to-glacier", "transition_days": 90, "storage_class": "GLACIER"}]),
            )
            .input("tags", r.tags(&bucket)),
    );

    let topic_name = alarm_topic_name(r);
    let topic = r.add(
        ResourceSpec::new(r.address("sns.topic", "alarms"), r.region)
            .input("name", topic_name.clone())
            .input(
                "display_name",
                format!("Payment DR alarms ({})", r.role.as_str()),
            )
            .input("kms_master_key_id", key.output("arn"))
            .input("policy", topic_policy(r, &topic_name))
            .input("tags", r.tags(&topic_name)),
    );
    if let Some(email) = &r.bp.settings.alarm_email {
        r.add(
            ResourceSpec::new(r.address("sns.subscription", "alarm-email"), r.region)
                .input("topic_arn", topic.output("arn"))
                .input("protocol", "email")
                .input("endpoint", email.clone()),
        );
    }
    Data {
        key,
        cluster,
        bucket,
        topic,
    }
}

/// The region's alarm topic: its name, and its ARN (the key's policy
/// names it before the topic exists).
fn alarm_topic_name(r: &Region) -> String {
    format!("payment-alarms-{}-{}", r.role.as_str(), r.bp.env)
}

fn alarm_topic_arn(r: &Region) -> String {
    format!(
        "arn:aws:sns:{}:{}:{}",
        r.region,
        r.bp.account_id,
        alarm_topic_name(r)
    )
}

/// The name of a region's data bucket (global: bucket names are unique
/// across accounts, hence the account id).
pub(crate) fn data_bucket_name(role: Role, env: &str, account: &str) -> String {
    format!("payment-data-{}-{env}-{account}", role.as_str())
}

/// A bucket's policy: every request not sent over TLS is denied, whoever
/// makes it (S3 User Guide, "Security best practices for Amazon S3":
/// enforce encryption of data in transit with `aws:SecureTransport`; AWS
/// Config rule `s3-bucket-ssl-requests-only`). A Deny with
/// `Principal: "*"` grants nothing, so the public access block accepts it.
pub(crate) fn bucket_policy(bucket: &str) -> serde_json::Value {
    let arn = format!("arn:aws:s3:::{bucket}");
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyRequestsWithoutTls",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
}

/// The alarm topic's access policy: the account's principals as SNS's
/// default policy allows them, and EventBridge, which the default does
/// not allow, publishing for rules of this account (SNS Developer Guide,
/// "Amazon SNS access policies for EventBridge"; the account condition
/// against the confused deputy).
fn topic_policy(r: &Region, topic_name: &str) -> serde_json::Value {
    let account = r.bp.account_id;
    let arn = format!("arn:aws:sns:{}:{account}:{topic_name}", r.region);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountPrincipals",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                    "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                    "SNS:ListSubscriptionsByTopic", "SNS:Publish"
                ],
                "Resource": arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": account}}
            },
            {
                "Sid": "EventBridgeRulesOfTheAccount",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account}}
            }
        ]
    })
}

/// The customer key's policy. The account administers and uses the key
/// through IAM (the statement KMS's default policy has, without which no
/// IAM policy grants anything on the key, and the key cannot be managed:
/// KMS Developer Guide, "Default key policy"); Aurora, DynamoDB, S3,
/// Secrets Manager and AWS Backup use it through the calling principal's
/// IAM permissions and KMS grants. Two services publish to the region's
/// alarm topic, which the key encrypts, and get only the two calls SNS
/// makes for them (SNS Developer Guide, "Enable compatibility between
/// event sources from AWS services and encrypted topics"), for that
/// topic only (`kms:EncryptionContext:aws:sns:topicArn`, which SNS sets):
/// - CloudWatch, for alarms of this account and region (`aws:SourceAccount`,
///   `aws:SourceArn`);
/// - EventBridge, without the source keys: they are not in the request
///   context of EventBridge's delivery to an encrypted topic (as AWS's
///   Modern Data Architecture Accelerator states), so they would drop
///   every event.
fn key_policy(account: &str, region: &str, topic_arn: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "AlarmsOfTheAccountPublishToTheAlarmTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": account,
                        "kms:EncryptionContext:aws:sns:topicArn": topic_arn
                    },
                    "ArnLike": {
                        "aws:SourceArn": format!("arn:aws:cloudwatch:{region}:{account}:alarm:*")
                    }
                }
            },
            {
                "Sid": "EventBridgePublishesToTheAlarmTopic",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topic_arn}
                }
            }
        ]
    })
}

/// The region's customer-managed key, rotated yearly by KMS, and its alias
/// `alias/payment-<env>` (the same name in each region: aliases are
/// regional). Destroy keeps the key while it encrypts what destroy leaves
/// on purpose: the clusters' final snapshots (encrypted with the
/// cluster's key, which DeleteDBCluster cannot change) and the master
/// password's secret in its recovery window (needed to log in to a
/// cluster restored from them). With `skip_final_snapshot` nothing is
/// kept and its deletion is scheduled, 30 days ahead.
fn customer_key(r: &mut Region) -> Address {
    let name = r.name("key");
    let key = r.add(
        ResourceSpec::new(targets::customer_key(r.role), r.region)
            .input(
                "description",
                format!("Payment DR {} ({}) data key", r.bp.env, r.role.as_str()),
            )
            .input("enable_key_rotation", true)
            .input("deletion_window_in_days", 30)
            .input("retain_on_delete", !r.bp.settings.skip_final_snapshot)
            .input(
                "policy",
                key_policy(r.bp.account_id, r.region, &alarm_topic_arn(r)),
            )
            .input("tags", r.tags(&name)),
    );
    r.add(
        ResourceSpec::new(r.address("kms.alias", "payment"), r.region)
            .input("alias_name", format!("alias/payment-{}", r.bp.env))
            .input("target_key_id", key.output("key_id")),
    );
    key
}

/// The region's Aurora cluster (a member of the global database), its
/// instances and subnet group; returns the cluster.
fn database(r: &mut Region, net: &Network, db_sg: &Address, key: &Address) -> Address {
    let group_name = r.name("db");
    let subnet_group = r.add(
        ResourceSpec::new(r.address("rds.db_subnet_group", "payment"), r.region)
            .input("name", group_name.clone())
            .input("description", "Aurora subnets: the isolated tier")
            .input(
                "subnet_ids",
                Value::Set(
                    net.subnets[2]
                        .iter()
                        .map(|s| Value::Ref(s.output("subnet_id")))
                        .collect(),
                ),
            )
            .input("tags", r.tags(&group_name)),
    );

    let cluster_id = targets::cluster_identifier(r.bp.env, r.role);
    let mut cluster = ResourceSpec::new(targets::cluster(r.role), r.region)
        .input("cluster_identifier", cluster_id.clone())
        .input("engine", ENGINE)
        .input("engine_version", r.bp.settings.engine_version.clone())
        .input(
            "global_cluster_identifier",
            targets::global_cluster().output("global_cluster_identifier"),
        )
        .input("db_subnet_group_name", subnet_group.output("name"))
        .input(
            "vpc_security_group_ids",
            Value::Set(vec![Value::Ref(db_sg.output("security_group_id"))]),
        )
        .input("storage_encrypted", true)
        // Each region's cluster with its region's key: a secondary in
        // another region cannot use the primary's (RDS API reference,
        // CreateDBCluster `KmsKeyId`).
        .input("kms_key_id", key.output("arn"))
        .input("backup_retention_period", 7)
        .input("preferred_backup_window", "03:00-04:00")
        .input("skip_final_snapshot", r.bp.settings.skip_final_snapshot)
        .input("tags", r.tags(&cluster_id));
    cluster = match r.role {
        // Secrets Manager generates the master password into a secret of
        // the primary region; the cluster's create reads it from there and
        // drctl records only the secret's ARN. (RDS-managed passwords are
        // not available to a global database's clusters.)
        Role::Primary => {
            let secret_name = r.name("db-master");
            let secret = r.add(
                ResourceSpec::new(r.address("secretsmanager.secret", "db-master"), r.region)
                    .input("name", secret_name.clone())
                    .input(
                        "description",
                        "Master user of the payment Aurora global database",
                    )
                    .input("username", "payment_admin")
                    .input("cluster_identifier", cluster_id.clone())
                    // The application failed over to the secondary region
                    // finds the credentials there.
                    .input(
                        "replica_regions",
                        json!([r.bp.settings.secondary_region.clone()]),
                    )
                    // A replica does not inherit the secret's key: it
                    // takes its own region's.
                    .input("kms_key_id", key.output("arn"))
                    .input(
                        "replica_kms_key_ids",
                        map([(
                            r.bp.settings.secondary_region.as_str(),
                            Value::Ref(targets::customer_key(Role::Secondary).output("arn")),
                        )]),
                    )
                    .input("tags", r.tags(&secret_name)),
            );
            cluster
                .input("master_username", "payment_admin")
                .input("master_password_secret_arn", secret.output("arn"))
        }
        // Joins the global cluster as a reader once the primary has its
        // writer instance (with its own region's key, set above). Reversed
        // for destroy, the same edge deletes this
        // cluster before the primary's last instance, which AWS refuses to
        // delete while a secondary cluster exists.
        Role::Secondary => {
            cluster.after(&Address::new("primary", "rds.instance", "writer").expect("valid"))
        }
    };
    let cluster = r.add(cluster);

    let instances: &[&str] = match r.role {
        Role::Primary => &["writer", "reader"],
        Role::Secondary => &["reader"],
    };
    let mut previous: Option<Address> = None;
    for name in instances {
        let id = format!("{cluster_id}-{name}");
        let mut spec = ResourceSpec::new(r.address("rds.instance", name), r.region)
            .input("instance_identifier", id.clone())
            .input("cluster_identifier", cluster.output("cluster_identifier"))
            .input("instance_class", r.bp.settings.db_instance_class.clone())
            .input("engine", ENGINE)
            .input("publicly_accessible", false)
            .input("tags", r.tags(&id));
        // The first instance of a cluster becomes its writer.
        if let Some(p) = &previous {
            spec = spec.after(p);
        }
        previous = Some(r.add(spec));
    }

    cluster
}
