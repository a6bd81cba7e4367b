//! The addresses of what DR operations act on, named once: the blueprint
//! builds these resources under them and `drctl-dr` finds them in state
//! through them, so renaming one is a single edit the compiler checks.
//! Also the fence metric (docs/operations.md, "Unplanned failover").

use drctl_core::Address;

use crate::Role;

pub(crate) const STAGE: &str = "prod";

/// The scope of the resources made once per environment.
const GLOBAL: &str = "global";

/// `global/<kind>/<name>`.
pub(crate) fn global(kind: &str, name: &str) -> Address {
    Address::new(GLOBAL, kind, name).expect("blueprint addresses are valid")
}

/// `<role>/<kind>/<name>`.
pub(crate) fn regional(role: Role, kind: &str, name: &str) -> Address {
    Address::new(role.as_str(), kind, name).expect("blueprint addresses are valid")
}

/// The weighted record of `api.<domain>` pointing at `role`'s region.
pub fn api_record(role: Role) -> Address {
    global("route53.record", &format!("api-{}", role.as_str()))
}

/// The hosted zone of the environment's domain, when drctl creates it.
pub fn hosted_zone() -> Address {
    global("route53.hosted_zone", "payment")
}

/// The hosted zone of the environment's domain when it is the user's
/// (`hosted_zone_id`): used, never deleted.
pub fn existing_zone() -> Address {
    global("route53.existing_zone", "payment")
}

/// The NS record delegating the domain to the zone drctl created, in the
/// account's parent zone of the domain (none without one).
pub fn delegation() -> Address {
    global("route53.delegation", "payment")
}

/// `role`'s API stage.
pub fn api_stage(role: Role) -> Address {
    regional(role, "apigateway.stage", STAGE)
}

/// The Aurora global database.
pub fn global_cluster() -> Address {
    global("rds.global_cluster", "payment")
}

/// `role`'s Aurora cluster identifier: deterministic, so its ARN is known
/// before the cluster exists.
pub fn cluster_identifier(env: &str, role: Role) -> String {
    format!("payment-{env}-{}", role.as_str())
}

/// `role`'s regional Aurora cluster.
pub fn cluster(role: Role) -> Address {
    regional(role, "rds.cluster", "payment")
}

/// The DynamoDB session table (a global table: replicas in both regions).
pub fn session_table() -> Address {
    global("dynamodb.table", "session")
}

/// The primary data bucket's replication to the secondary's.
pub fn s3_replication() -> Address {
    global("s3.bucket_replication", "data")
}

/// `role`'s data bucket (the secondary's is the replication destination).
pub fn data_bucket(role: Role) -> Address {
    regional(role, "s3.bucket", "data")
}

/// `role`'s customer-managed KMS key.
pub fn customer_key(role: Role) -> Address {
    regional(role, "kms.key", "payment")
}

/// `role`'s AWS Backup vault (its recovery points and the other region's
/// copies).
pub fn backup_vault(role: Role) -> Address {
    regional(role, "backup.vault", "payment")
}

/// The fence alarm: in the secondary region, in ALARM while the primary is
/// fenced off (its Route 53 health check then fails).
pub fn fence_alarm() -> Address {
    global("cloudwatch.alarm", "primary-fence")
}

/// The health check of the primary's record: the API's and the fence's.
pub fn primary_health_check() -> Address {
    global("route53.health_check", "primary")
}

/// The HTTPS health check of the primary's API (`/health`), one of
/// [`primary_health_check`]'s two children; the fence's is the other.
pub fn primary_api_health_check() -> Address {
    global("route53.health_check", "primary-api")
}

/// The values `drctl output` names: (output name, the resource's address,
/// its state output).
pub fn named_outputs() -> Vec<(&'static str, Address, &'static str)> {
    vec![
        ("primary_api_url", api_stage(Role::Primary), "invoke_url"),
        (
            "secondary_api_url",
            api_stage(Role::Secondary),
            "invoke_url",
        ),
        ("hosted_zone_id", hosted_zone(), "zone_id"),
        (
            "global_cluster_id",
            global_cluster(),
            "global_cluster_identifier",
        ),
        ("primary_bucket", data_bucket(Role::Primary), "bucket"),
        ("secondary_bucket", data_bucket(Role::Secondary), "bucket"),
        ("session_table", session_table(), "table_name"),
    ]
}

/// The fence metric's namespace. Only drctl publishes to it.
pub const FENCE_NAMESPACE: &str = "PaymentDR";
/// 1: the primary is fenced (traffic goes to the secondary); 0: it is not.
pub const FENCE_METRIC: &str = "PrimaryFenced";
/// The fence metric's one dimension; its value is the environment's name.
pub const FENCE_DIMENSION: &str = "Environment";

// What the recovery time of an unplanned failover rests on, set here once:
// the blueprint builds the fence alarm and the primary's API health check
// with them, and `drctl_dr::rto` computes the chain from them (or from
// the values state records, for an environment applied with others).

/// The fence alarm's period, in seconds: one minute, the shortest that a
/// Route 53 health check on an alarm accepts (standard-resolution metrics
/// only, Route 53 API Reference, AlarmIdentifier; periods of 10, 20 or 30 s
/// need a high-resolution metric, CloudWatch API Reference,
/// PutMetricAlarm `Period`).
pub const FENCE_PERIOD: i64 = 60;
/// The fence alarm's evaluation periods and the datapoints among them that
/// put it in ALARM: 1 of 1, the first published 1 does.
pub const FENCE_EVALUATION_PERIODS: i64 = 1;
pub const FENCE_DATAPOINTS_TO_ALARM: i64 = 1;
/// The primary API's health check: every 30 s (10 is Route 53's "fast
/// interval", fixed at creation), unhealthy after 3 failures in a row. Not
/// on the path of `drctl failover --unplanned` (the fence's check has no
/// interval); it is what moves the traffic without a decision when
/// `/health` fails (docs/operations.md, "Recovery time (RTO) of an
/// unplanned failover").
pub const PRIMARY_API_CHECK_INTERVAL: i64 = 30;
pub const PRIMARY_API_CHECK_FAILURE_THRESHOLD: i64 = 3;
