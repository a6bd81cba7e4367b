//! `drctl output`: the values an operator or a script needs from an
//! environment, read from state outputs of the blueprint's resources.

use std::collections::BTreeMap;

use drctl_core::{Address, State};
use serde::Serialize;

/// One named output and where it comes from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NamedOutput {
    pub value: String,
    pub region: String,
    /// The resource whose state output this is.
    pub address: String,
}

/// Output name, the resource address, and the state output read from it.
pub const OUTPUTS: &[(&str, &str, &str)] = &[
    (
        "primary_api_url",
        "primary/apigateway.stage/prod",
        "invoke_url",
    ),
    (
        "secondary_api_url",
        "secondary/apigateway.stage/prod",
        "invoke_url",
    ),
    (
        "hosted_zone_id",
        "global/route53.hosted_zone/payment",
        "zone_id",
    ),
    (
        "global_cluster_id",
        "global/rds.global_cluster/payment",
        "global_cluster_identifier",
    ),
    ("primary_bucket", "primary/s3.bucket/data", "bucket"),
    ("secondary_bucket", "secondary/s3.bucket/data", "bucket"),
    (
        "session_table",
        "global/dynamodb.table/session",
        "table_name",
    ),
];

pub fn names() -> impl Iterator<Item = &'static str> {
    OUTPUTS.iter().map(|(name, _, _)| *name)
}

/// The outputs `state` has a value for (a resource not yet created has none).
pub fn outputs(state: &State) -> BTreeMap<&'static str, NamedOutput> {
    OUTPUTS
        .iter()
        .filter_map(|(name, address, output)| {
            let address: Address = address.parse().expect("a valid address");
            let resource = state.resources.get(&address)?;
            let value = match resource.outputs.get(*output)? {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((
                *name,
                NamedOutput {
                    value,
                    region: resource.region.clone(),
                    address: address.to_string(),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use drctl_core::ResourceState;
    use serde_json::json;

    #[test]
    fn reads_the_named_outputs_that_state_has() {
        let mut state = State::new("t");
        state.resources.insert(
            "primary/apigateway.stage/prod".parse().unwrap(),
            ResourceState {
                kind: "apigateway.stage".into(),
                region: "us-east-1".into(),
                id: "abc/prod".into(),
                inputs: Default::default(),
                outputs: [(
                    "invoke_url".to_string(),
                    json!("https://abc.execute-api.us-east-1.amazonaws.com/prod"),
                )]
                .into(),
                dependencies: Default::default(),
            },
        );
        let out = outputs(&state);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out["primary_api_url"],
            NamedOutput {
                value: "https://abc.execute-api.us-east-1.amazonaws.com/prod".into(),
                region: "us-east-1".into(),
                address: "primary/apigateway.stage/prod".into(),
            }
        );
        assert!(names().any(|n| n == "session_table"));
    }
}
