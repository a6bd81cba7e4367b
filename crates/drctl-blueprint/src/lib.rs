//! The payment-DR topology: turns one environment's settings into the
//! desired resources of both regions, as one graph.

pub mod config;
pub mod lambda_code;
mod network;

use drctl_core::{Address, ResourceSpec};
use serde_json::json;

pub use config::{Config, ConfigError, EnvSettings};

/// Stand-in account id for offline commands (`validate`, `graph`) that
/// need the graph's shape but never call AWS.
pub const PLACEHOLDER_ACCOUNT: &str = "000000000000";

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
}

/// What the blueprint needs to know to expand an environment.
pub struct Blueprint<'a> {
    pub env: &'a str,
    pub settings: &'a EnvSettings,
    pub account_id: &'a str,
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
        Address::new(self.role.as_str(), kind, name).expect("blueprint addresses are valid")
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
            data_bucket(&mut r);
            feature_flags(&mut r);
            let _ = net;
        }
        out
    }
}

/// `payment-data-<role>-<env>-<account>`: versioned, encrypted, private.
fn data_bucket(r: &mut Region) -> Address {
    let bucket = format!(
        "payment-data-{}-{}-{}",
        r.role.as_str(),
        r.bp.env,
        r.bp.account_id
    );
    let spec = ResourceSpec::new(r.address("s3.bucket", "data"), r.region)
        .input("bucket", bucket.clone())
        .input("versioning", true)
        .input("sse_algorithm", "AES256")
        .input("block_public_access", true)
        .input(
            "lifecycle_rules",
            json!([{"id": "to-glacier", "transition_days": 90, "storage_class": "GLACIER"}]),
        )
        .input("tags", r.tags(&bucket));
    r.add(spec)
}

/// `/payment/<env>/<role>/feature-flags`, JSON of the env's feature flags.
fn feature_flags(r: &mut Region) -> Address {
    let name = format!("/payment/{}/{}/feature-flags", r.bp.env, r.role.as_str());
    let value = serde_json::to_string(&r.bp.settings.feature_flags).expect("flags serialise");
    let spec = ResourceSpec::new(r.address("ssm.parameter", "feature-flags"), r.region)
        .input("name", name.clone())
        .input("type", "String")
        .input("value", value)
        .input("tags", r.tags(&name));
    r.add(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use drctl_core::DesiredGraph;

    #[test]
    fn dev_expands_to_a_valid_graph_in_both_regions() {
        let settings = EnvSettings::defaults("dev");
        let bp = Blueprint {
            env: "dev",
            settings: &settings,
            account_id: "123456789012",
        };
        let specs = bp.resources();
        assert_eq!(specs.len(), 56);
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
}
