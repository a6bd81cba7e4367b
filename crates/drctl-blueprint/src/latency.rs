//! How long each kind's create, update and delete take on real AWS, waits
//! included: the model behind `latency_model` and `drctl graph
//! --critical-path`. Figures are typical durations, not limits; each row
//! says what it rests on, and docs/performance.md cites the sources. "TF"
//! is the Terraform AWS provider's default timeout for the same resource,
//! an upper bound, never the figure itself. Where sources disagree the
//! median is taken.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use drctl_core::Address;
use drctl_core::operations::OpKind;
use drctl_core::simulate::OpDurations;

/// One kind's modelled durations, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindLatency {
    pub kind: &'static str,
    pub create: u32,
    pub update: u32,
    pub delete: u32,
    /// What the figures rest on (short form; docs/performance.md has the
    /// sources in full).
    pub basis: &'static str,
}

impl KindLatency {
    pub fn durations(&self) -> OpDurations {
        OpDurations {
            create: Duration::from_secs(self.create.into()),
            update: Duration::from_secs(self.update.into()),
            delete: Duration::from_secs(self.delete.into()),
        }
    }
}

const fn row(
    kind: &'static str,
    create: u32,
    update: u32,
    delete: u32,
    basis: &'static str,
) -> KindLatency {
    KindLatency {
        kind,
        create,
        update,
        delete,
        basis,
    }
}

/// API calls only: one to a few control-plane calls of well under a second
/// each (the emulator benchmark's per-call latency, rounded up).
const CALLS: &str = "API calls only, no wait";

/// Every kind drctl manages (and the AWS Backup kinds due to land), sorted.
pub static TABLE: &[KindLatency] = &[
    row(
        "acm.certificate",
        10,
        2,
        5,
        "validation record shown some seconds after the request (ACM User Guide, DNS validation)",
    ),
    row(
        "acm.certificate_validation",
        240,
        0,
        0,
        "DNS validation: minutes once the CNAME resolves (estimate; TF 75 min)",
    ),
    row("apigateway.base_path_mapping", 1, 1, 1, CALLS),
    row("apigateway.deployment", 2, 2, 1, CALLS),
    row(
        "apigateway.domain_name",
        10,
        5,
        5,
        "regional domain: no CloudFront distribution to wait for",
    ),
    row("apigateway.method", 2, 2, 1, "four Put* calls"),
    row("apigateway.resource", 1, 1, 1, CALLS),
    row(
        "apigateway.rest_api",
        1,
        1,
        2,
        "DeleteRestApi limited to one per 30 s per account",
    ),
    row("apigateway.stage", 2, 2, 1, CALLS),
    row("backup.plan", 1, 1, 1, CALLS),
    row("backup.selection", 1, 1, 1, CALLS),
    row("backup.vault", 2, 1, 2, CALLS),
    row("cloudwatch.alarm", 1, 1, 1, CALLS),
    row("cloudwatch.dashboard", 1, 1, 1, CALLS),
    row(
        "dynamodb.table",
        300,
        60,
        300,
        "table ACTIVE in seconds; a replica of an empty table takes a few minutes (CloudFormation AWS::DynamoDB::GlobalTable docs)",
    ),
    row("ec2.eip", 1, 1, 1, CALLS),
    row(
        "ec2.internet_gateway",
        2,
        2,
        2,
        "create + attach; detach + delete",
    ),
    row(
        "ec2.nat_gateway",
        120,
        1,
        60,
        "available after 1.5-3 min in published logs (TF create 10 min, delete 30 min)",
    ),
    row("ec2.route", 1, 1, 1, CALLS),
    row("ec2.route_table", 1, 1, 1, CALLS),
    row("ec2.route_table_association", 1, 1, 1, CALLS),
    row(
        "ec2.security_group",
        2,
        2,
        2,
        "the functions' group: see FUNCTION_ENI_RELEASE",
    ),
    row(
        "ec2.subnet",
        1,
        1,
        1,
        "the functions' subnets: see FUNCTION_ENI_RELEASE",
    ),
    row("ec2.vpc", 2, 1, 2, CALLS),
    row(
        "ec2.vpc_endpoint",
        10,
        5,
        10,
        "gateway endpoint (TF 10 min)",
    ),
    row(
        "ec2.vpc_peering_connection",
        10,
        1,
        10,
        "pending-acceptance in seconds",
    ),
    row(
        "ec2.vpc_peering_connection_accepter",
        15,
        1,
        0,
        "active in seconds; no call on delete",
    ),
    row("ecs.cluster", 3, 2, 5, CALLS),
    row(
        "ecs.service",
        240,
        240,
        180,
        "steady state: Fargate tasks pulled, started and healthy behind the target group; delete drains (TF 20 min)",
    ),
    row("ecs.task_definition", 1, 1, 1, CALLS),
    row("elbv2.listener", 1, 1, 1, CALLS),
    row(
        "elbv2.load_balancer",
        180,
        2,
        30,
        "active after 2-4 min (TF 10 min)",
    ),
    row("elbv2.target_group", 1, 1, 1, CALLS),
    row("events.rule", 1, 1, 1, CALLS),
    row(
        "iam.role",
        3,
        2,
        2,
        "create + inline policies; propagation is retried by the consumer",
    ),
    row("kms.alias", 1, 1, 1, CALLS),
    row("kms.key", 2, 1, 1, "delete only schedules the deletion"),
    row(
        "lambda.function",
        90,
        30,
        2,
        "VPC function: Pending while Lambda makes its Hyperplane ENIs (estimate); update until LastUpdateStatus Successful",
    ),
    row("lambda.permission", 1, 1, 1, CALLS),
    row(
        "rds.cluster",
        300,
        120,
        180,
        "Aurora cluster available in 2-8 min in published logs (TF 120 min); delete 1-5 min",
    ),
    row("rds.db_subnet_group", 1, 1, 1, CALLS),
    row(
        "rds.global_cluster",
        30,
        60,
        60,
        "an empty global cluster: seconds to a minute",
    ),
    row(
        "rds.instance",
        600,
        600,
        600,
        "Aurora instance available in 8-15 min in published logs (TF 90 min); delete 5-12 min",
    ),
    row("route53.health_check", 1, 1, 1, CALLS),
    row(
        "route53.hosted_zone",
        2,
        1,
        2,
        "CreateHostedZone's change is not waited for",
    ),
    row(
        "route53.record",
        60,
        60,
        60,
        "change INSYNC: Route 53 propagates to its servers within 60 s (Route 53 guide)",
    ),
    row(
        "s3.bucket",
        3,
        2,
        3,
        "create + five Put* calls; empty + delete",
    ),
    row("s3.bucket_replication", 1, 1, 1, CALLS),
    row(
        "secretsmanager.secret",
        3,
        2,
        2,
        "replica made by the same call",
    ),
    row(
        "sfn.state_machine",
        2,
        2,
        30,
        "delete waits until it is gone",
    ),
    row("sns.subscription", 1, 1, 1, CALLS),
    row("sns.topic", 1, 1, 1, CALLS),
    row("ssm.parameter", 1, 1, 1, CALLS),
];

/// After a VPC function is deleted its Hyperplane network interfaces stay
/// for a while (reported from 20 to 45 min; Terraform's security group
/// delete timeout is 15 min for this reason), and deleting the security
/// group and subnets they sit in fails with DependencyViolation until they
/// are gone (seconds after the function's delete).
pub const FUNCTION_ENI_RELEASE: u32 = 1800;

/// The functions' security group and subnets (compute.rs, monitor.rs).
fn holds_function_enis(address: &Address) -> bool {
    match address.kind() {
        "ec2.security_group" => address.name() == "lambda",
        "ec2.subnet" => address.name().starts_with("private-"),
        _ => false,
    }
}

/// The model as a run asks it: the kind's figure, except that deleting
/// the functions' security group or subnets lasts until the interfaces
/// of the functions deleted before it in that region are gone.
#[derive(Default)]
pub struct Model {
    /// Scope (region role) -> when its deleted functions' interfaces go.
    interfaces_gone: Mutex<BTreeMap<String, Duration>>,
}

impl Model {
    /// How long `op` on `address` takes when it starts at `now`; `None`
    /// for a kind without figures.
    pub fn duration(&self, address: &Address, op: OpKind, now: Duration) -> Option<Duration> {
        let d = of(address.kind())?.durations().of(op);
        if op != OpKind::Delete {
            return Some(d);
        }
        let mut gone = self.interfaces_gone.lock().unwrap();
        if address.kind() == "lambda.function" {
            let at = now + d + Duration::from_secs(FUNCTION_ENI_RELEASE.into());
            let entry = gone.entry(address.scope().to_owned()).or_default();
            *entry = (*entry).max(at);
        } else if holds_function_enis(address)
            && let Some(at) = gone.get(address.scope())
        {
            return Some(d.max(at.saturating_sub(now)));
        }
        Some(d)
    }
}

/// The modelled figures of `kind`.
pub fn of(kind: &str) -> Option<&'static KindLatency> {
    TABLE
        .binary_search_by(|r| r.kind.cmp(kind))
        .ok()
        .map(|i| &TABLE[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(TABLE.windows(2).all(|w| w[0].kind < w[1].kind));
        assert_eq!(of("rds.instance").unwrap().create, 600);
        assert!(of("rds.nothing").is_none());
        let model = Model::default();
        let at = |s: u64| Duration::from_secs(s);
        let sg = |name: &str| -> Address {
            format!("primary/ec2.security_group/{name}")
                .parse()
                .unwrap()
        };
        let function: Address = "primary/lambda.function/validation".parse().unwrap();
        // No function deleted: the group goes at once.
        assert_eq!(
            model.duration(&sg("lambda"), OpKind::Delete, at(0)),
            Some(at(2))
        );
        assert_eq!(
            model.duration(&function, OpKind::Delete, at(100)),
            Some(at(2))
        );
        // Its interfaces go 20 min after the function's delete finished.
        assert_eq!(
            model.duration(&sg("lambda"), OpKind::Delete, at(200)),
            Some(at(102 + 1800 - 200))
        );
        assert_eq!(
            model.duration(&sg("lambda"), OpKind::Delete, at(5000)),
            Some(at(2))
        );
        assert_eq!(
            model.duration(&sg("db"), OpKind::Delete, at(200)),
            Some(at(2))
        );
        assert_eq!(
            model.duration(&sg("lambda"), OpKind::Create, at(200)),
            Some(at(2))
        );
    }
}
