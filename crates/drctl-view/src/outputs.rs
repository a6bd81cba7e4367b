//! `drctl output`: the values an operator or a script needs from an
//! environment, read from state outputs of the resources the blueprint
//! names for them.

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

/// One named output's source: (name, the resource's address, its state
/// output).
pub type OutputSource = (&'static str, Address, &'static str);

/// The outputs of `sources` that `state` has a value for (a resource not
/// yet created has none).
pub fn outputs(state: &State, sources: &[OutputSource]) -> BTreeMap<&'static str, NamedOutput> {
    sources
        .iter()
        .filter_map(|(name, address, output)| {
            let resource = state.resources.get(address)?;
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
        let sources = [
            (
                "primary_api_url",
                "primary/apigateway.stage/prod".parse().unwrap(),
                "invoke_url",
            ),
            (
                "session_table",
                "global/dynamodb.table/session".parse().unwrap(),
                "table_name",
            ),
        ];
        let out = outputs(&state, &sources);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out["primary_api_url"],
            NamedOutput {
                value: "https://abc.execute-api.us-east-1.amazonaws.com/prod".into(),
                region: "us-east-1".into(),
                address: "primary/apigateway.stage/prod".into(),
            }
        );
    }
}
