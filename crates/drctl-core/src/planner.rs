//! Deciding what to do: a pure function of (desired graph, state, schemas).
//! No I/O here; the executor does the work.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::toposort;
use petgraph::graph::DiGraph;

use crate::address::{Address, Reference};
use crate::graph::DesiredGraph;
use crate::plan::{Action, AfterValue, AttributeChange, ResourceChange};
use crate::provider::SchemaSource;
use crate::state::State;
use crate::value::Value;

/// Plans the changes that turn `state` into `desired`. Addresses in state
/// but no longer desired are deleted. `desired` must have passed
/// `DesiredGraph::check_schemas` against the same `schemas`.
pub fn plan_apply(
    desired: &DesiredGraph,
    state: &State,
    schemas: &dyn SchemaSource,
) -> Vec<ResourceChange> {
    plan_apply_replacing(desired, state, schemas, &BTreeSet::new())
}

/// As [`plan_apply`], with the existing resources in `replace` replaced
/// whether or not their inputs changed (`apply --replace`, as Terraform's
/// `-replace`): a resource broken in a way its inputs do not show.
pub fn plan_apply_replacing(
    desired: &DesiredGraph,
    state: &State,
    schemas: &dyn SchemaSource,
    replace: &BTreeSet<Address>,
) -> Vec<ResourceChange> {
    let mut actions: BTreeMap<Address, Action> = BTreeMap::new();
    let mut changes = Vec::with_capacity(desired.len());

    for address in topological_order(desired) {
        let spec = desired.get(&address).expect("address from the graph");
        let schema = schemas.schema(spec.kind());
        let lookup = |r: &Reference| -> Option<serde_json::Value> {
            match actions.get(&r.address) {
                Some(Action::Create | Action::Replace) => None,
                // An in-place update may change these outputs.
                Some(Action::Update)
                    if schemas
                        .schema(r.address.kind())
                        .is_some_and(|s| s.volatile_outputs.contains(&r.output.as_str())) =>
                {
                    None
                }
                _ => state
                    .resources
                    .get(&r.address)?
                    .outputs
                    .get(&r.output)
                    .cloned(),
            }
        };
        let (action, attributes) = match state.resources.get(&address) {
            None => {
                let attributes = spec
                    .inputs
                    .iter()
                    .map(|(name, v)| AttributeChange {
                        name: name.clone(),
                        before: None,
                        after: after_value(v, &lookup),
                        forces_replacement: false,
                    })
                    .collect();
                (Action::Create, attributes)
            }
            Some(prior) => {
                let mut attributes = Vec::new();
                if prior.region != spec.region {
                    attributes.push(AttributeChange {
                        name: "region".into(),
                        before: Some(prior.region.clone().into()),
                        after: AfterValue::Known(spec.region.clone().into()),
                        forces_replacement: true,
                    });
                }
                let names: BTreeSet<&String> =
                    spec.inputs.keys().chain(prior.inputs.keys()).collect();
                for name in names {
                    let before = prior.inputs.get(name);
                    let desired = spec.inputs.get(name);
                    let after = desired.map(|v| v.resolve(&lookup).ok());
                    let differs = match &after {
                        None => true,
                        Some(None) => true,
                        Some(Some(v)) => Some(v) != before,
                    };
                    if !differs {
                        continue;
                    }
                    attributes.push(AttributeChange {
                        name: name.clone(),
                        before: before.cloned(),
                        after: match desired {
                            None => AfterValue::Removed,
                            Some(v) => after_value(v, &lookup),
                        },
                        forces_replacement: schema.is_some_and(|s| s.forces_replacement(name)),
                    });
                }
                let action = if replace.contains(&address)
                    || attributes.iter().any(|a| a.forces_replacement)
                {
                    Action::Replace
                } else if attributes.is_empty() {
                    Action::NoOp
                } else {
                    Action::Update
                };
                (action, attributes)
            }
        };
        actions.insert(address.clone(), action);
        changes.push(ResourceChange {
            address: address.clone(),
            region: spec.region.clone(),
            action,
            inputs: spec.inputs.clone(),
            depends_on: spec.dependencies(),
            attributes,
            data_loss: action == Action::Replace && schema.is_some_and(|s| s.holds_data),
            leaves: match (action, state.resources.get(&address)) {
                (Action::Replace, Some(prior)) => leaves(prior, schemas),
                _ => BTreeMap::new(),
            },
        });
    }

    for (address, prior) in &state.resources {
        if desired.get(address).is_none() {
            changes.push(delete_change(address, prior, schemas));
        }
    }
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    changes
}

/// Plans the deletion of everything in state.
pub fn plan_destroy(state: &State, schemas: &dyn SchemaSource) -> Vec<ResourceChange> {
    state
        .resources
        .iter()
        .map(|(address, prior)| delete_change(address, prior, schemas))
        .collect()
}

fn delete_change(
    address: &Address,
    prior: &crate::state::ResourceState,
    schemas: &dyn SchemaSource,
) -> ResourceChange {
    ResourceChange {
        address: address.clone(),
        region: prior.region.clone(),
        action: Action::Delete,
        inputs: BTreeMap::new(),
        depends_on: prior.dependencies.clone(),
        attributes: prior
            .inputs
            .iter()
            .map(|(name, v)| AttributeChange {
                name: name.clone(),
                before: Some(v.clone()),
                after: AfterValue::Removed,
                forces_replacement: false,
            })
            .collect(),
        data_loss: schemas.schema(&prior.kind).is_some_and(|s| s.holds_data),
        leaves: leaves(prior, schemas),
    }
}

/// The `kept_on_delete` outputs of `prior` that name something (an empty
/// value leaves nothing behind).
fn leaves(
    prior: &crate::state::ResourceState,
    schemas: &dyn SchemaSource,
) -> BTreeMap<String, serde_json::Value> {
    let Some(schema) = schemas.schema(&prior.kind) else {
        return BTreeMap::new();
    };
    schema
        .kept_on_delete
        .iter()
        .filter_map(|name| {
            let v = prior.outputs.get(*name)?;
            let named = match v {
                serde_json::Value::Null => false,
                serde_json::Value::String(s) => !s.is_empty(),
                _ => true,
            };
            named.then(|| ((*name).to_owned(), v.clone()))
        })
        .collect()
}

/// What `v` will be after apply as far as it is known now: a map with
/// unknown members keeps its known ones.
fn after_value(
    v: &Value,
    lookup: &dyn Fn(&crate::address::Reference) -> Option<serde_json::Value>,
) -> AfterValue {
    match (v.resolve(lookup), v) {
        (Ok(known), _) => AfterValue::Known(known),
        (Err(_), Value::Map(members)) => AfterValue::Partial(
            members
                .iter()
                .map(|(k, m)| (k.clone(), after_value(m, lookup)))
                .collect(),
        ),
        (Err(_), _) => AfterValue::KnownAfterApply,
    }
}

/// Dependencies before dependents; ties broken by address for stable output.
pub(crate) fn topological_order(desired: &DesiredGraph) -> Vec<Address> {
    let mut g = DiGraph::<Address, ()>::new();
    let index: BTreeMap<Address, _> = desired
        .resources()
        .map(|s| (s.address.clone(), g.add_node(s.address.clone())))
        .collect();
    for s in desired.resources() {
        for d in s.dependencies() {
            g.add_edge(index[&d], index[&s.address], ());
        }
    }
    toposort(&g, None)
        .expect("DesiredGraph is acyclic")
        .into_iter()
        .map(|n| g[n].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{KindSchema, Schemas};
    use crate::resource::ResourceSpec;
    use crate::state::ResourceState;
    use crate::value::Attributes;
    use serde_json::json;

    static NET: KindSchema = KindSchema {
        kind: "t.net",
        force_new: &["cidr"],
        outputs: &["id"],
        volatile_outputs: &[],
        holds_data: true,
        kept_on_delete: &["snapshot"],
        latency: crate::provider::Latency::calls(1, 1, 1),
    };
    static DEPLOY: KindSchema = KindSchema {
        kind: "t.deploy",
        force_new: &[],
        outputs: &["id", "version"],
        volatile_outputs: &["version"],
        holds_data: false,
        kept_on_delete: &[],
        latency: crate::provider::Latency::calls(1, 1, 1),
    };
    static SUB: KindSchema = KindSchema {
        kind: "t.sub",
        force_new: &["net_id", "cidr"],
        outputs: &["id"],
        volatile_outputs: &[],
        holds_data: false,
        kept_on_delete: &[],
        latency: crate::provider::Latency::calls(1, 1, 1),
    };

    fn schemas() -> Schemas {
        Schemas::from_list(&[&NET, &SUB, &DEPLOY])
    }

    fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn desired() -> DesiredGraph {
        DesiredGraph::new(vec![
            ResourceSpec::new(addr("p/t.net/main"), "r1")
                .input("cidr", "10.0.0.0/16")
                .input("name", "main"),
            ResourceSpec::new(addr("p/t.sub/a"), "r1")
                .input("net_id", addr("p/t.net/main").output("id"))
                .input("cidr", "10.0.1.0/24"),
        ])
        .unwrap()
    }

    fn applied(state: &mut State, a: &str, kind: &str, inputs: serde_json::Value, deps: &[&str]) {
        let inputs: Attributes = serde_json::from_value(inputs).unwrap();
        state.resources.insert(
            addr(a),
            ResourceState {
                kind: kind.into(),
                region: "r1".into(),
                id: format!("{a}-id"),
                inputs,
                outputs: Attributes::from([("id".to_string(), json!(format!("{a}-id")))]),
                dependencies: deps.iter().map(|d| addr(d)).collect(),
            },
        );
    }

    fn in_sync_state() -> State {
        let mut s = State::new("dev");
        applied(
            &mut s,
            "p/t.net/main",
            "t.net",
            json!({"cidr": "10.0.0.0/16", "name": "main"}),
            &[],
        );
        applied(
            &mut s,
            "p/t.sub/a",
            "t.sub",
            json!({"cidr": "10.0.1.0/24", "net_id": "p/t.net/main-id"}),
            &["p/t.net/main"],
        );
        s
    }

    fn action_of(changes: &[ResourceChange], a: &str) -> Action {
        changes
            .iter()
            .find(|c| c.address == addr(a))
            .unwrap()
            .action
    }

    #[test]
    fn fresh_state_creates_everything_with_unknowns() {
        let changes = plan_apply(&desired(), &State::new("dev"), &schemas());
        assert_eq!(action_of(&changes, "p/t.net/main"), Action::Create);
        let sub = changes
            .iter()
            .find(|c| c.address == addr("p/t.sub/a"))
            .unwrap();
        assert_eq!(sub.action, Action::Create);
        let net_id = sub.attributes.iter().find(|a| a.name == "net_id").unwrap();
        assert_eq!(net_id.after, AfterValue::KnownAfterApply);
        assert_eq!(sub.depends_on, BTreeSet::from([addr("p/t.net/main")]));
    }

    #[test]
    fn in_sync_state_is_all_no_op() {
        let changes = plan_apply(&desired(), &in_sync_state(), &schemas());
        assert!(
            changes.iter().all(|c| c.action == Action::NoOp),
            "{changes:#?}"
        );
    }

    #[test]
    fn changed_plain_attribute_is_an_update_with_its_diff() {
        let mut state = in_sync_state();
        state
            .resources
            .get_mut(&addr("p/t.net/main"))
            .unwrap()
            .inputs
            .insert("name".into(), json!("old"));
        let changes = plan_apply(&desired(), &state, &schemas());
        let net = changes
            .iter()
            .find(|c| c.address == addr("p/t.net/main"))
            .unwrap();
        assert_eq!(net.action, Action::Update);
        assert_eq!(
            net.attributes,
            vec![AttributeChange {
                name: "name".into(),
                before: Some(json!("old")),
                after: AfterValue::Known(json!("main")),
                forces_replacement: false
            }]
        );
        assert_eq!(action_of(&changes, "p/t.sub/a"), Action::NoOp);
    }

    #[test]
    fn map_with_an_unknown_member_keeps_its_known_members() {
        let desired = DesiredGraph::new(vec![
            ResourceSpec::new(addr("p/t.net/main"), "r1").input("cidr", "10.0.0.0/16"),
            ResourceSpec::new(addr("p/t.sub/a"), "r1").input(
                "tags",
                Value::Map(BTreeMap::from([
                    ("team".to_string(), Value::str("payments")),
                    ("net".to_string(), addr("p/t.net/main").output("id").into()),
                ])),
            ),
        ])
        .unwrap();
        let changes = plan_apply(&desired, &State::new("dev"), &schemas());
        let sub = changes
            .iter()
            .find(|c| c.address == addr("p/t.sub/a"))
            .unwrap();
        assert_eq!(
            sub.attributes[0].after,
            AfterValue::Partial(BTreeMap::from([
                ("net".to_string(), AfterValue::KnownAfterApply),
                ("team".to_string(), AfterValue::Known(json!("payments"))),
            ]))
        );
        // The plan document keeps the shape through its codec.
        let plan = crate::plan::Plan::new(
            crate::PlanOperation::Apply,
            &State::new("dev"),
            false,
            changes,
        );
        assert_eq!(
            crate::plan::decode(&crate::plan::encode(&plan)).unwrap(),
            plan
        );
    }

    #[test]
    fn force_new_change_replaces_and_cascades_through_unknown_references() {
        let mut state = in_sync_state();
        state
            .resources
            .get_mut(&addr("p/t.net/main"))
            .unwrap()
            .inputs
            .insert("cidr".into(), json!("10.9.0.0/16"));
        let changes = plan_apply(&desired(), &state, &schemas());
        let net = changes
            .iter()
            .find(|c| c.address == addr("p/t.net/main"))
            .unwrap();
        assert_eq!(net.action, Action::Replace);
        assert_eq!(net.replace_reasons().collect::<Vec<_>>(), vec!["cidr"]);
        // The network holds data (in this test's schema): marked.
        assert!(net.data_loss);
        // The subnet's net_id becomes unknown, and net_id forces replacement.
        let sub = changes
            .iter()
            .find(|c| c.address == addr("p/t.sub/a"))
            .unwrap();
        assert_eq!(sub.action, Action::Replace);
        assert_eq!(sub.attributes[0].after, AfterValue::KnownAfterApply);
    }

    #[test]
    fn references_to_volatile_outputs_of_an_update_are_unknown() {
        let deploy = addr("p/t.deploy/d");
        let graph = |trigger: &str| {
            DesiredGraph::new(vec![
                ResourceSpec::new(deploy.clone(), "r1").input("trigger", trigger),
                ResourceSpec::new(addr("p/t.net/stage"), "r1")
                    .input("cidr", "10.0.0.0/16")
                    .input("deployment", deploy.output("version"))
                    .input("api", deploy.output("id")),
            ])
            .unwrap()
        };
        let mut state = State::new("dev");
        applied(
            &mut state,
            "p/t.deploy/d",
            "t.deploy",
            json!({"trigger": "a"}),
            &[],
        );
        state
            .resources
            .get_mut(&deploy)
            .unwrap()
            .outputs
            .insert("version".into(), json!("v1"));
        applied(
            &mut state,
            "p/t.net/stage",
            "t.net",
            json!({"cidr": "10.0.0.0/16", "deployment": "v1", "api": "p/t.deploy/d-id"}),
            &["p/t.deploy/d"],
        );
        assert!(
            plan_apply(&graph("a"), &state, &schemas())
                .iter()
                .all(|c| c.action == Action::NoOp)
        );
        let changes = plan_apply(&graph("b"), &state, &schemas());
        assert_eq!(action_of(&changes, "p/t.deploy/d"), Action::Update);
        let stage = changes
            .iter()
            .find(|c| c.address == addr("p/t.net/stage"))
            .unwrap();
        assert_eq!(stage.action, Action::Update);
        // Only the volatile output is unknown; the stable id is not.
        assert_eq!(stage.attributes.len(), 1);
        assert_eq!(stage.attributes[0].name, "deployment");
        assert_eq!(stage.attributes[0].after, AfterValue::KnownAfterApply);
    }

    #[test]
    fn undesired_addresses_are_deleted() {
        let mut state = in_sync_state();
        applied(
            &mut state,
            "p/t.sub/old",
            "t.sub",
            json!({"cidr": "10.0.9.0/24"}),
            &["p/t.net/main"],
        );
        let changes = plan_apply(&desired(), &state, &schemas());
        let old = changes
            .iter()
            .find(|c| c.address == addr("p/t.sub/old"))
            .unwrap();
        assert_eq!(old.action, Action::Delete);
        assert_eq!(old.depends_on, BTreeSet::from([addr("p/t.net/main")]));
        let plan = crate::plan::Plan::new(crate::plan::PlanOperation::Apply, &state, true, changes);
        assert_eq!(
            plan.summary().to_string(),
            "Plan: 0 to add, 0 to change, 1 to destroy."
        );
    }

    #[test]
    fn destroy_plans_every_address() {
        let changes = plan_destroy(&in_sync_state(), &schemas());
        assert_eq!(changes.len(), 2);
        let marked: Vec<bool> = changes.iter().map(|c| c.data_loss).collect();
        assert_eq!(marked, vec![true, false]);
        assert!(changes.iter().all(|c| c.action == Action::Delete));
    }

    #[test]
    fn deletes_and_replacements_show_what_they_leave_behind() {
        let mut state = in_sync_state();
        let net = state.resources.get_mut(&addr("p/t.net/main")).unwrap();
        net.outputs
            .insert("snapshot".into(), json!("main-final-20261202"));
        let destroy = plan_destroy(&state, &schemas());
        let leaves = |changes: &[ResourceChange], a: &str| {
            changes
                .iter()
                .find(|c| c.address == addr(a))
                .unwrap()
                .leaves
                .clone()
        };
        let expected = BTreeMap::from([("snapshot".to_string(), json!("main-final-20261202"))]);
        assert_eq!(leaves(&destroy, "p/t.net/main"), expected);
        assert!(leaves(&destroy, "p/t.sub/a").is_empty());

        // A replacement deletes too.
        let moved = DesiredGraph::new(vec![
            ResourceSpec::new(addr("p/t.net/main"), "r1")
                .input("cidr", "10.9.0.0/16")
                .input("name", "main"),
        ])
        .unwrap();
        let replaced = plan_apply(&moved, &state, &schemas());
        assert_eq!(
            replaced
                .iter()
                .find(|c| c.address == addr("p/t.net/main"))
                .unwrap()
                .action,
            Action::Replace
        );
        assert_eq!(leaves(&replaced, "p/t.net/main"), expected);

        // An empty value (nothing to keep, e.g. skipped) shows nothing.
        let net = state.resources.get_mut(&addr("p/t.net/main")).unwrap();
        net.outputs.insert("snapshot".into(), json!(""));
        assert!(leaves(&plan_destroy(&state, &schemas()), "p/t.net/main").is_empty());
    }

    #[test]
    fn plan_round_trips_and_detects_staleness() {
        let state = in_sync_state();
        let plan = crate::plan::Plan::new(
            crate::plan::PlanOperation::Apply,
            &state,
            true,
            plan_apply(&desired(), &state, &schemas()),
        );
        let back = crate::plan::decode(&crate::plan::encode(&plan)).unwrap();
        assert_eq!(back, plan);
        assert_eq!(plan.staleness(&state, true), None);
        let mut moved = state.clone();
        moved.serial += 1;
        assert!(plan.staleness(&moved, true).unwrap().contains("serial"));
        let other = State::new("dev");
        assert!(plan.staleness(&other, true).unwrap().contains("lineage"));
        assert!(plan.staleness(&state, false).is_some());
    }
}
