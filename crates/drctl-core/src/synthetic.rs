//! Synthetic resource graphs for benchmarks: `n` resources of one kind in
//! chains of 10, each resource referencing its predecessor, the way a
//! blueprint's subnets hang off a VPC.

use crate::address::Address;
use crate::provider::{KindSchema, Schemas};
use crate::resource::ResourceSpec;
use crate::state::{ResourceState, State};
use crate::value::Attributes;

pub static SYNTHETIC: KindSchema = KindSchema {
    kind: "synthetic.thing",
    force_new: &["parent"],
    outputs: &["id"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: crate::provider::Latency::calls(1, 1, 1),
};

pub fn schemas() -> Schemas {
    Schemas::from_list(&[&SYNTHETIC])
}

fn address(i: usize) -> Address {
    Address::new("primary", "synthetic.thing", &format!("r{i}")).expect("valid")
}

/// `n` desired resources.
pub fn desired(n: usize) -> Vec<ResourceSpec> {
    (0..n)
        .map(|i| {
            let spec = ResourceSpec::new(address(i), "us-east-1")
                .input("name", format!("thing-{i}"))
                .input("size", i as i64)
                .input(
                    "tags",
                    serde_json::json!({"Name": format!("thing-{i}"), "DR-Role": "primary"}),
                );
            if i % 10 == 0 {
                spec
            } else {
                spec.input("parent", address(i - 1).output("id"))
            }
        })
        .collect()
}

/// A state in which every resource of `desired(n)` exists as desired.
pub fn in_sync_state(n: usize) -> State {
    let mut state = State::new("bench");
    for i in 0..n {
        let mut inputs: Attributes = [
            ("name".to_string(), format!("thing-{i}").into()),
            ("size".to_string(), (i as i64).into()),
            (
                "tags".to_string(),
                serde_json::json!({"Name": format!("thing-{i}"), "DR-Role": "primary"}),
            ),
        ]
        .into();
        if i % 10 != 0 {
            inputs.insert("parent".into(), format!("id-{}", i - 1).into());
        }
        state.resources.insert(
            address(i),
            ResourceState {
                kind: "synthetic.thing".into(),
                region: "us-east-1".into(),
                id: format!("id-{i}"),
                inputs,
                outputs: [("id".to_string(), format!("id-{i}").into())].into(),
                dependencies: if i % 10 == 0 {
                    Default::default()
                } else {
                    [address(i - 1)].into()
                },
            },
        );
    }
    state
}
