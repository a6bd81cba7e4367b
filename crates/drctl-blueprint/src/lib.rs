//! The payment-DR topology: turns one environment's settings into the
//! desired resources of both regions, as one graph.

pub mod backend;
mod backup;
mod compute;
pub mod config;
mod containers;
mod data;
mod global;
mod interfaces;
pub mod lambda_code;
pub mod latency;
mod monitor;
mod network;
mod observability;
mod peering;
mod policies;
pub mod targets;
mod values;
pub mod zones;

use drctl_core::{Address, ResourceSpec};
use serde_json::json;

pub use backend::{BackendSettings, S3Url, parse_s3_url};
pub use config::{Config, ConfigError, EnvSettings};
pub use zones::{Zones, ZonesError};

/// Stand-in account id for offline commands (`validate`, `graph`) that
/// need the graph's shape but never call AWS.
pub const PLACEHOLDER_ACCOUNT: &str = "000000000000";

pub(crate) const ENGINE: &str = "aurora-postgresql";

/// The two regional halves of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    Secondary,
}

impl Role {
    pub const BOTH: [Role; 2] = [Role::Primary, Role::Secondary];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
        }
    }

    /// The role named `name` (as `as_str` spells it).
    pub fn parse(name: &str) -> Option<Role> {
        Role::BOTH.into_iter().find(|r| r.as_str() == name)
    }

    /// The other half.
    pub fn other(self) -> Role {
        match self {
            Role::Primary => Role::Secondary,
            Role::Secondary => Role::Primary,
        }
    }
}

/// What the blueprint needs to know to expand an environment.
pub struct Blueprint<'a> {
    pub env: &'a str,
    pub settings: &'a EnvSettings,
    pub account_id: &'a str,
    /// The role whose record carries the Route 53 weight: the active role
    /// (`Primary` unless a failover recorded otherwise), except while the
    /// primary is fenced off (an unplanned failover moved traffic by the
    /// fence and left the weights as they were). Only the weights follow
    /// it; the database writer is AWS's to report, not the blueprint's.
    pub weighted: Role,
    /// The Availability Zones of each role's region, primary first: those
    /// state records (looked up in AWS once), or `Zones::placeholders` for
    /// commands that never call AWS.
    pub zones: [Zones; 2],
}

/// One region's half of the stack while it is being expanded.
pub(crate) struct Region<'a> {
    pub bp: &'a Blueprint<'a>,
    pub role: Role,
    pub region: &'a str,
    pub out: &'a mut Vec<ResourceSpec>,
}

impl Region<'_> {
    pub fn address(&self, kind: &str, name: &str) -> Address {
        targets::regional(self.role, kind, name)
    }

    /// `payment-<env>-<role>-<suffix>`: the deterministic AWS-side name.
    pub fn name(&self, suffix: &str) -> String {
        format!("payment-{}-{}-{suffix}", self.bp.env, self.role.as_str())
    }

    pub fn tags(&self, name: &str) -> serde_json::Value {
        json!({ "Name": name, "DR-Role": self.role.as_str() })
    }

    pub fn add(&mut self, spec: ResourceSpec) -> Address {
        let a = spec.address.clone();
        self.out.push(spec);
        a
    }
}

impl Blueprint<'_> {
    /// Every desired resource of the environment.
    pub fn resources(&self) -> Vec<ResourceSpec> {
        let mut out = Vec::new();
        let mut halves = Vec::new();
        let mut networks = Vec::new();
        for role in Role::BOTH {
            let region = match role {
                Role::Primary => self.settings.primary_region.as_str(),
                Role::Secondary => self.settings.secondary_region.as_str(),
            };
            let mut r = Region {
                bp: self,
                role,
                region,
                out: &mut out,
            };
            let net = network::build(&mut r);
            let data = data::build(&mut r, &net);
            let compute = compute::build(&mut r, &net, &data);
            observability::build(&mut r, &data, &compute);
            monitor::build(&mut r, &net, &data, &compute);
            containers::build(&mut r, &net, &data);
            backup::build(&mut r, &data);
            networks.push(net);
            halves.push(global::Regional {
                region,
                data,
                compute,
            });
        }
        let networks: [network::Network; 2] = networks.try_into().ok().expect("two regions");
        peering::build(self, &networks, &mut out);
        let halves: [global::Regional; 2] = halves.try_into().ok().expect("two regions");
        global::build(self, &halves, &mut out);
        interfaces::roles_outlive_interfaces(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drctl_core::DesiredGraph;

    /// The `dev` environment of account 123456789012, `active` serving.
    fn dev(settings: &EnvSettings, active: Role) -> Vec<ResourceSpec> {
        Blueprint {
            env: "dev",
            settings,
            account_id: "123456789012",
            weighted: active,
            zones: Zones::placeholders(settings),
        }
        .resources()
    }

    #[test]
    fn dev_expands_to_a_valid_graph_in_both_regions() {
        let settings = EnvSettings::defaults("dev");
        let specs = dev(&settings, Role::Primary);
        let count = |scope: &str| specs.iter().filter(|s| s.address.scope() == scope).count();
        // Per region: 31 network, 3 peering (the primary's connection or
        // the secondary's accepter, and two routes to the peer VPC), 7 / 5
        // data (the primary holds the master password's secret), 19
        // compute and API (GET /health's invoke permission included), 10
        // observability, 5 health monitor (role, function, schedule rule,
        // its invoke permission, alarm), 4 custom
        // domain (certificate, validation wait, domain name, base path
        // mapping), 2 for the customer-managed key and its alias, 12
        // container tier (task execution role, cluster, task definition,
        // service, 2 security groups, load balancer, target group,
        // listener, 3 alarms), 6 AWS Backup (vault, role, plan, selection,
        // rules on failed and on completed jobs), and in the primary the
        // same 4 for its probe name; 19 global (the zone's delegation, one
        // validation record for both, one for the probe, the probe's
        // record; the primary's health
        // checks: API, fence and both, and the fence alarm).
        assert_eq!(
            (count("primary"), count("secondary"), count("global")),
            (103, 97, 19)
        );
        assert_eq!(
            specs.len(),
            count("primary") + count("secondary") + count("global"),
            "no other scope"
        );
        let graph = DesiredGraph::new(specs).unwrap();
        let bucket = graph
            .get(&"secondary/s3.bucket/data".parse().unwrap())
            .unwrap();
        assert_eq!(bucket.region, "us-east-2");
        assert_eq!(
            bucket.inputs["bucket"],
            drctl_core::Value::str("payment-data-secondary-dev-123456789012")
        );
        let flags = graph
            .get(&"primary/ssm.parameter/feature-flags".parse().unwrap())
            .unwrap();
        assert_eq!(
            flags.inputs["value"],
            drctl_core::Value::str(r#"{"new_payment_flow":false}"#)
        );
        let sub = graph
            .get(&"secondary/ec2.subnet/isolated-c".parse().unwrap())
            .unwrap();
        assert_eq!(
            sub.inputs["cidr_block"],
            drctl_core::Value::str("10.1.8.0/24")
        );
        assert_eq!(
            sub.inputs["availability_zone"],
            drctl_core::Value::str("us-east-2c")
        );
    }

    /// Lambda deletes a VPC function's interfaces with the function's role,
    /// long after the function: each security group the function uses (whose
    /// delete waits for those interfaces) is deleted before that role.
    #[test]
    fn each_vpc_functions_role_is_deleted_after_its_security_groups() {
        let settings = EnvSettings::defaults("dev");
        let specs = dev(&settings, Role::Primary);
        let by_address: std::collections::BTreeMap<_, _> =
            specs.iter().map(|s| (s.address.clone(), s)).collect();
        let mut checked = 0;
        for f in specs.iter().filter(|s| s.kind() == "lambda.function") {
            let role = f.inputs["role_arn"].references()[0].address.clone();
            for group in f.inputs["security_group_ids"].references() {
                assert!(
                    by_address[&group.address].dependencies().contains(&role),
                    "{} must be deleted before {role}",
                    group.address
                );
                checked += 1;
            }
        }
        // Per region: three payment functions and the health monitor.
        assert_eq!(checked, 8);
        DesiredGraph::new(specs).expect("no cycle");
    }

    /// Every encrypted resource uses a customer key of its own region: a
    /// replica or replication destination one of the replica's region.
    #[test]
    fn every_encrypted_resource_uses_its_regions_key() {
        use drctl_core::Value;
        let settings = EnvSettings::defaults("dev");
        let specs = dev(&settings, Role::Primary);
        let graph = DesiredGraph::new(specs.clone()).unwrap();
        let keys: Vec<Address> = Role::BOTH
            .iter()
            .map(|r| targets::customer_key(*r))
            .collect();
        // The region of the customer key `value` refers to.
        let key_region = |value: &Value| match value {
            Value::Ref(r) if keys.contains(&r.address) && r.output == "arn" => {
                graph.get(&r.address).unwrap().region.clone()
            }
            other => panic!("not a reference to a customer key's ARN: {other:?}"),
        };
        let mut encrypted = std::collections::BTreeSet::new();
        for spec in &specs {
            for (input, value) in &spec.inputs {
                match (input.as_str(), value) {
                    (
                        "kms_key_id" | "kms_key_arn" | "kms_master_key_id" | "encryption_key_arn",
                        v,
                    ) => {
                        assert_eq!(key_region(v), spec.region, "{} {input}", spec.address);
                    }
                    ("replica_kms_key_arns" | "replica_kms_key_ids", Value::Map(m)) => {
                        assert!(!m.is_empty(), "{}", spec.address);
                        for (region, v) in m {
                            assert_eq!(&key_region(v), region, "{} {input}", spec.address);
                        }
                    }
                    ("replica_kms_key_arn", v) => {
                        assert_eq!(key_region(v), settings.secondary_region, "{}", spec.address);
                    }
                    _ => continue,
                }
                encrypted.insert(spec.address.kind().to_owned());
            }
        }
        let expected = [
            "backup.vault",
            "dynamodb.table",
            "rds.cluster",
            "s3.bucket",
            "s3.bucket_replication",
            "secretsmanager.secret",
            "sns.topic",
        ];
        assert_eq!(encrypted, expected.iter().map(|k| k.to_string()).collect());
    }

    /// Each region's Aurora cluster is encrypted with its own region's
    /// customer-managed key.
    #[test]
    fn each_cluster_uses_its_regions_key() {
        let settings = EnvSettings::defaults("dev");
        let graph = DesiredGraph::new(dev(&settings, Role::Primary)).unwrap();
        for role in Role::BOTH {
            let cluster = graph.get(&targets::cluster(role)).unwrap();
            assert_eq!(
                cluster.inputs["kms_key_id"],
                drctl_core::Value::Ref(targets::customer_key(role).output("arn")),
                "{role:?}"
            );
            let key = graph.get(&targets::customer_key(role)).unwrap();
            assert_eq!(key.region, cluster.region);
        }
    }

    /// AWS adds a secondary to a global database once the primary has its
    /// writer, and refuses to delete the primary's last instance while a
    /// secondary exists: one edge, read both ways, orders both.
    #[test]
    fn the_secondary_cluster_follows_the_primary_writer_instance() {
        let settings = EnvSettings::defaults("dev");
        let graph = DesiredGraph::new(dev(&settings, Role::Primary)).unwrap();
        let secondary = "secondary/rds.cluster/payment".parse().unwrap();
        let writer: Address = "primary/rds.instance/writer".parse().unwrap();
        assert!(
            graph.dependencies(&secondary).contains(&writer),
            "{:?}",
            graph.dependencies(&secondary)
        );
    }

    /// The primary requests the peering, the secondary accepts it in its
    /// own region; each region's private and isolated tables route the
    /// other VPC's range through it once the accepter has made it active
    /// (their target is the accepter's output), and each database admits
    /// PostgreSQL from the other VPC's range.
    #[test]
    fn peering_routes_go_both_ways_after_the_accepter() {
        let mut settings = EnvSettings::defaults("dev");
        settings.primary_cidr = "10.20.0.0/16".parse().unwrap();
        settings.secondary_cidr = "10.21.0.0/20".parse().unwrap();
        let graph = DesiredGraph::new(dev(&settings, Role::Primary)).unwrap();
        let spec = |a: &str| graph.get(&a.parse().unwrap()).unwrap();
        let connection: Address = "primary/ec2.vpc_peering_connection/payment"
            .parse()
            .unwrap();
        let accepter: Address = "secondary/ec2.vpc_peering_connection_accepter/payment"
            .parse()
            .unwrap();
        let c = spec(&connection.to_string());
        assert_eq!(c.region, "us-east-1");
        assert_eq!(
            c.inputs["peer_vpc_id"],
            drctl_core::Value::Ref(
                "secondary/ec2.vpc/payment"
                    .parse::<Address>()
                    .unwrap()
                    .output("vpc_id")
            )
        );
        assert_eq!(c.inputs["peer_region"], drctl_core::Value::str("us-east-2"));
        assert_eq!(spec(&accepter.to_string()).region, "us-east-2");
        assert!(graph.dependencies(&accepter).contains(&connection));
        for (role, region, peer_cidr) in [
            ("primary", "us-east-1", "10.21.0.0/20"),
            ("secondary", "us-east-2", "10.20.0.0/16"),
        ] {
            for tier in ["private", "isolated"] {
                let route: Address = format!("{role}/ec2.route/{tier}-peer").parse().unwrap();
                let r = spec(&route.to_string());
                assert_eq!(r.region, region, "{route}");
                assert_eq!(
                    r.inputs["destination_cidr_block"],
                    drctl_core::Value::str(peer_cidr),
                    "{route}"
                );
                assert_eq!(
                    r.inputs["route_table_id"],
                    drctl_core::Value::Ref(
                        format!("{role}/ec2.route_table/{tier}")
                            .parse::<Address>()
                            .unwrap()
                            .output("route_table_id")
                    ),
                    "{route}"
                );
                assert_eq!(
                    r.inputs["vpc_peering_connection_id"],
                    drctl_core::Value::Ref(accepter.output("vpc_peering_connection_id")),
                    "{route}"
                );
                assert!(graph.dependencies(&route).contains(&accepter), "{route}");
            }
            assert!(
                graph
                    .get(&format!("{role}/ec2.route/public-peer").parse().unwrap())
                    .is_none(),
                "the public tier has no route to the peer"
            );
            let db = spec(&format!("{role}/ec2.security_group/db"));
            let drctl_core::Value::Map(ingress) = &db.inputs["ingress"] else {
                panic!("{:?}", db.inputs["ingress"]);
            };
            assert_eq!(
                ingress["postgres-from-peer-vpc"],
                drctl_core::Value::from(serde_json::json!({
                    "protocol": "tcp", "from_port": 5432, "to_port": 5432, "cidr_block": peer_cidr
                })),
                "{role}"
            );
        }
    }

    #[test]
    fn the_database_takes_its_version_snapshot_rule_and_password_from_settings() {
        let mut settings = EnvSettings::defaults("dev");
        settings.engine_version = "15.4".into();
        settings.skip_final_snapshot = true;
        let graph = DesiredGraph::new(dev(&settings, Role::Primary)).unwrap();
        let spec = |a: &str| graph.get(&a.parse().unwrap()).unwrap();
        for a in [
            "global/rds.global_cluster/payment",
            "primary/rds.cluster/payment",
            "secondary/rds.cluster/payment",
        ] {
            assert_eq!(
                spec(a).inputs["engine_version"],
                drctl_core::Value::str("15.4"),
                "{a}"
            );
        }
        for a in [
            "primary/rds.cluster/payment",
            "secondary/rds.cluster/payment",
        ] {
            assert_eq!(
                spec(a).inputs["skip_final_snapshot"],
                drctl_core::Value::from(true),
                "{a}"
            );
        }
        // The primary's password comes from the secret (its ARN only);
        // the secondary takes no credentials. RDS-managed passwords are not
        // available to a global database's clusters.
        let secret: Address = "primary/secretsmanager.secret/db-master".parse().unwrap();
        let primary = spec("primary/rds.cluster/payment");
        assert_eq!(
            primary.inputs["master_password_secret_arn"],
            drctl_core::Value::Ref(secret.output("arn"))
        );
        assert_eq!(spec(&secret.to_string()).region, "us-east-1");
        assert_eq!(
            spec(&secret.to_string()).inputs["replica_regions"],
            drctl_core::Value::from(serde_json::json!(["us-east-2"]))
        );
        let secondary = spec("secondary/rds.cluster/payment");
        for s in [primary, secondary] {
            assert!(!s.inputs.contains_key("manage_master_user_password"));
        }
        assert!(!secondary.inputs.keys().any(|k| k.starts_with("master_")));
        let defaults =
            DesiredGraph::new(dev(&EnvSettings::defaults("dev"), Role::Primary)).unwrap();
        let primary = defaults
            .get(&"primary/rds.cluster/payment".parse().unwrap())
            .unwrap();
        assert_eq!(
            primary.inputs["engine_version"],
            drctl_core::Value::str("14.9")
        );
        assert_eq!(
            primary.inputs["skip_final_snapshot"],
            drctl_core::Value::from(false)
        );
    }

    #[test]
    fn weights_follow_the_active_role() {
        let settings = EnvSettings::defaults("dev");
        let weights = |active| {
            let graph = DesiredGraph::new(dev(&settings, active)).unwrap();
            ["api-primary", "api-secondary"].map(|name| {
                let address = format!("global/route53.record/{name}").parse().unwrap();
                graph.get(&address).unwrap().inputs["weight"].clone()
            })
        };
        assert_eq!(
            weights(Role::Primary),
            [
                drctl_core::Value::from(100i64),
                drctl_core::Value::from(0i64)
            ]
        );
        assert_eq!(
            weights(Role::Secondary),
            [
                drctl_core::Value::from(0i64),
                drctl_core::Value::from(100i64)
            ]
        );
    }

    #[test]
    fn without_databases_and_functions_the_graph_has_no_rds_dynamodb_or_lambda() {
        let mut settings = EnvSettings::defaults("dev");
        settings.databases_and_functions = false;
        settings.containers.enabled = false;
        let specs = dev(&settings, Role::Primary);
        let count = |scope: &str| specs.iter().filter(|s| s.address.scope() == scope).count();
        // Without the container tier too (the services LocalStack's
        // community edition serves). Per region: 29 network (no security groups), 3 peering, 2 data
        // (bucket, topic), 2 for the key and its alias, 11 API (REST API, 4
        // resources, 4 methods, deployment, stage), 4 observability (API
        // alarm, dashboard, 2 parameters), 4 custom domain, and 4 in the
        // primary for its probe name; 13 global (S3 replication role and
        // rule, zone and its delegation, three health checks, the fence alarm, two weighted
        // records, the probe's record, two validation records).
        assert_eq!(
            (count("primary"), count("secondary"), count("global")),
            (59, 55, 13)
        );
        assert_eq!(
            specs.len(),
            count("primary") + count("secondary") + count("global"),
            "no other scope"
        );
        let left_out = [
            "rds.",
            "dynamodb.",
            "lambda.",
            "sfn.",
            "events.",
            "backup.",
            "ec2.security_group",
        ];
        for spec in &specs {
            let kind = spec.address.kind();
            assert!(
                !left_out.iter().any(|p| kind.starts_with(p)),
                "{} is left out",
                spec.address
            );
            assert!(
                !spec.address.to_string().contains("/iam.role/lambda")
                    && !spec.address.to_string().contains("failover"),
                "{} exists only for the functions",
                spec.address
            );
        }
        let graph = DesiredGraph::new(specs).unwrap();
        // The API stays whole, its payment methods answered by MOCK.
        let method = graph
            .get(&"primary/apigateway.method/validate-post".parse().unwrap())
            .unwrap();
        assert_eq!(
            method.inputs["integration"],
            drctl_core::Value::Json(
                serde_json::json!({"type": "MOCK", "request_templates": {"application/json": "{\"statusCode\": 200}"}})
            )
        );
        for address in [
            "global/route53.record/api-primary",
            "global/route53.health_check/primary-api",
            "secondary/apigateway.stage/prod",
            "primary/ssm.parameter/api-url",
            "primary/cloudwatch.alarm/api-5xx",
        ] {
            assert!(graph.get(&address.parse().unwrap()).is_some(), "{address}");
        }
    }
}
