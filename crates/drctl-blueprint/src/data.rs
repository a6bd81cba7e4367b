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
    let bucket = format!(
        "payment-data-{}-{}-{}",
        r.role.as_str(),
        r.bp.env,
        r.bp.account_id
    );
    let bucket = r.add(
        ResourceSpec::new(targets::data_bucket(r.role), r.region)
            .input("bucket", bucket.clone())
            .input("versioning", true)
            .input("sse_algorithm", "aws:kms")
            .input("kms_key_id", key.output("arn"))
            .input("bucket_key_enabled", true)
            .input("block_public_access", true)
            .input(
                "lifecycle_rules",
                json!([{"id": "to-glacier", "transition_days": 90, "storage_class": "GLACIER"}]),
            )
            .input("tags", r.tags(&bucket)),
    );

    let topic_name = format!("payment-alarms-{}-{}", r.role.as_str(), r.bp.env);
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

/// The customer key's policy: the account administers it through IAM (the
/// statement KMS's default policy has, without which IAM policies grant
/// nothing on the key), and CloudWatch alarms and EventBridge rules may
/// use it to publish to the topics it encrypts (SNS Developer Guide,
/// "Configuring AWS KMS permissions" for AWS service event sources).
/// Aurora, DynamoDB, S3, Secrets Manager and AWS Backup use it through the
/// calling principal's IAM permissions and grants.
fn key_policy(account: &str) -> serde_json::Value {
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
                "Sid": "PublishToEncryptedTopics",
                "Effect": "Allow",
                "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*"
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
            .input("policy", key_policy(r.bp.account_id))
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
