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
    // Aurora (issue 23, item 10). The sources in full are in
    // docs/performance.md, "Aurora figures"; TF = the Terraform AWS
    // provider's default timeouts (internal/service/rds/cluster.go:
    // 120/120/120 min; cluster_instance.go: 90/90/90; global_cluster.go:
    // 30/90/30), upper bounds only.
    //
    // rds.cluster, one row for the primary and the secondary (`drctl graph
    // --critical-path` weighs by kind).
    // - create 120 s. Range 1-3 min: the provider's acceptance test
    //   TestAccRDSCluster_basic (create, import, destroy of a cluster with
    //   no instance) took 95.5, 141.2, 166.6, 184.1, 212.9 and 225.1 s
    //   (hashicorp/terraform-provider-aws#40333, #12867, #23560, #15938,
    //   #35698, #30655), median 175 s for create and delete together. The
    //   secondary joining the global database has no published figure of
    //   its own (estimate: the same); AWS's own workshop allows 10-15 min
    //   for a secondary cluster with its instance (aws-samples/
    //   amazon-aurora-labs-for-mysql, docs/global/failback/index.md),
    //   which 2 + 8 min meets at its low end.
    // - delete 180 s. Range 1-10 min: a cluster deleted in 1 min 3 s after
    //   its instance (tungbq/aws-lab-with-terraform#100, no snapshot
    //   stated); the secondary's detach from the global cluster is
    //   reported to keep it undeletable for minutes (about 10 min in
    //   hashicorp/terraform#20929; promotion outlasting the provider's
    //   wait in hashicorp/terraform-provider-aws#39909), and drctl takes a
    //   final snapshot unless told not to: estimate.
    // - update 120 s: estimate, no published figure.
    row(
        "rds.cluster",
        120,
        120,
        180,
        "create 1-3 min (TF acceptance tests: bare cluster created and destroyed in 96-225 s); secondary joining the global database: no figure of its own (estimate: same); delete 1-10 min, detach and final snapshot included (estimate); update estimate (TF 120 min)",
    ),
    // CreateDBSubnetGroup and DeleteDBSubnetGroup return at once; neither
    // drctl nor the provider's aws_db_subnet_group waits on a status
    // (internal/service/rds/subnet_group.go).
    row(
        "rds.db_subnet_group",
        1,
        1,
        1,
        "API calls only, no wait (nor in TF's aws_db_subnet_group)",
    ),
    // - create 15 s, delete 15 s. Range: the provider's acceptance tests
    //   creating, importing and destroying an empty global cluster took
    //   18.7-31.2 s in all (TestAccRDSGlobalCluster_basic 23.6 s,
    //   _disappears 18.7 s, hashicorp/terraform-provider-aws#30045;
    //   _forceDestroy 31.2 s, #44252); CreateGlobalCluster itself returns
    //   in about 1 s (#48769, made from an existing cluster).
    // - update 60 s: estimate (a ModifyGlobalCluster; an engine upgrade
    //   takes far longer and is not modelled).
    row(
        "rds.global_cluster",
        15,
        60,
        15,
        "empty global cluster: TF acceptance tests create and destroy one in 19-31 s; update estimate (TF 30/90/30 min)",
    ),
    // - create 480 s. Range 5-12 min: "a ten-minute provisioning cycle"
    //   for a cluster and its instance (darryl-ruggles.cloud, "Aurora
    //   PostgreSQL Express Configuration", 2026), "several minutes to over
    //   ten" (shinyaz.com, 2026-03-27), 10-15 min for a secondary cluster
    //   and its instance (AWS workshop above); the provider's acceptance
    //   tests creating, importing and destroying a cluster with one
    //   instance took 637-822 s (TestAccAWSRDSClusterInstance_namePrefix,
    //   _generatedName, _kmsKey, _az, #15022, 2020) and 815-1469 s
    //   (TestAccRDSClusterInstance_identifierPrefix, _az, _kmsKey, #31112,
    //   2023).
    // - delete 480 s. Range 5-12 min: 11 min 47 s (tungbq/
    //   aws-lab-with-terraform#100), "takes 5-10 min" (go-to-k/
    //   cdk-real-drift#239).
    // - Check on the whole chain: the provider's test
    //   TestAccRDSCluster_GlobalClusterIdentifier_primarySecondaryClusters
    //   creates and destroys drctl's chain (global cluster, primary
    //   cluster and instance, secondary cluster and instance, final
    //   snapshots skipped): 2774.5 s, 46.2 min (#31112); a write-forwarding
    //   variant took 2014.8 s, 33.6 min (#17561). These figures give
    //   20.2 min for the creates and 22.2 min for the deletes: 42.5 min.
    // - update 600 s: estimate (an instance class change), no figure.
    row(
        "rds.instance",
        480,
        600,
        480,
        "create 5-12 min (blogs, AWS workshop, TF acceptance tests), delete 5-12 min (published logs): 8 min each; update estimate (TF 90 min)",
    ),
    row(
        "route53.delegation",
        60,
        60,
        60,
        "parent zone lookup, then the NS change INSYNC (Route 53 guide: within 60 s); none without a parent zone",
    ),
    row(
        "route53.existing_zone",
        1,
        1,
        0,
        "GetHostedZone; the user's zone is never deleted",
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
        assert_eq!(of("rds.instance").unwrap().create, 480);
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
