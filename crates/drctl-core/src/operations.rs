//! Turns a plan into provider operations and the order between them. Pure:
//! no I/O, so the ordering rules are unit-tested on their own.
//!
//! Rules:
//! - create/update of A waits for the create/update of every desired
//!   dependency of A that changes;
//! - delete of A waits for the delete of everything in state that depends
//!   on A (dependents go first), and for the update of any remaining
//!   dependent (it must stop using A first);
//! - a replace is delete-then-create: deterministic names forbid two copies.

use std::collections::{BTreeMap, BTreeSet};

use crate::address::Address;
use crate::plan::{Action, ResourceChange};
use crate::state::State;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    Create,
    Update,
    Delete,
}

/// One provider call-to-be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub kind: OpKind,
    /// Index into the plan's changes.
    pub change: usize,
    /// Part of a replacement (delete-then-create of one address).
    pub replacing: bool,
}

#[derive(Debug)]
pub struct OperationGraph {
    pub operations: Vec<Operation>,
    /// `waits_on[i]`: operations that must succeed before operation `i`.
    pub waits_on: Vec<Vec<usize>>,
}

impl OperationGraph {
    pub fn build(changes: &[ResourceChange], state: &State) -> Self {
        let mut operations = Vec::new();
        let mut by_key: BTreeMap<(&Address, OpKind), usize> = BTreeMap::new();
        let mut push =
            |operations: &mut Vec<Operation>, change: usize, kind: OpKind, replacing: bool| {
                operations.push(Operation {
                    kind,
                    change,
                    replacing,
                });
                by_key.insert((&changes[change].address, kind), operations.len() - 1);
            };
        for (i, c) in changes.iter().enumerate() {
            match c.action {
                Action::NoOp => {}
                Action::Create => push(&mut operations, i, OpKind::Create, false),
                Action::Update => push(&mut operations, i, OpKind::Update, false),
                Action::Delete => push(&mut operations, i, OpKind::Delete, false),
                Action::Replace => {
                    push(&mut operations, i, OpKind::Delete, true);
                    push(&mut operations, i, OpKind::Create, true);
                }
            }
        }

        // Who depends on whom according to state (for deletes).
        let mut state_dependents: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
        for (a, r) in &state.resources {
            for d in &r.dependencies {
                state_dependents.entry(d).or_default().push(a);
            }
        }

        let mut waits_on = vec![BTreeSet::new(); operations.len()];
        for (op_index, op) in operations.iter().enumerate() {
            let change = &changes[op.change];
            let address = &change.address;
            match op.kind {
                OpKind::Create | OpKind::Update => {
                    for dep in &change.depends_on {
                        for kind in [OpKind::Create, OpKind::Update] {
                            if let Some(&d) = by_key.get(&(dep, kind)) {
                                waits_on[op_index].insert(d);
                            }
                        }
                    }
                    if op.kind == OpKind::Create && op.replacing {
                        waits_on[op_index].insert(by_key[&(address, OpKind::Delete)]);
                    }
                }
                OpKind::Delete => {
                    for dependent in state_dependents.get(address).into_iter().flatten() {
                        if let Some(&d) = by_key.get(&(*dependent, OpKind::Delete)) {
                            waits_on[op_index].insert(d);
                        }
                        // A dependent updated in place must let go of A
                        // first; not for a replacement, whose new copy the
                        // update is waiting for.
                        if !op.replacing
                            && let Some(&d) = by_key.get(&(*dependent, OpKind::Update))
                        {
                            waits_on[op_index].insert(d);
                        }
                    }
                }
            }
        }
        Self {
            operations,
            waits_on: waits_on
                .into_iter()
                .map(|s| s.into_iter().collect())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ResourceChange;
    use crate::state::ResourceState;
    use std::collections::BTreeMap;

    fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn change(a: &str, action: Action, deps: &[&str]) -> ResourceChange {
        ResourceChange {
            address: addr(a),
            region: "r".into(),
            action,
            inputs: BTreeMap::new(),
            depends_on: deps.iter().map(|d| addr(d)).collect(),
            attributes: vec![],
            data_loss: false,
            leaves: BTreeMap::new(),
        }
    }

    fn in_state(state: &mut State, a: &str, deps: &[&str]) {
        state.resources.insert(
            addr(a),
            ResourceState {
                kind: addr(a).kind().into(),
                region: "r".into(),
                id: a.into(),
                inputs: Default::default(),
                outputs: Default::default(),
                dependencies: deps.iter().map(|d| addr(d)).collect(),
            },
        );
    }

    fn find(g: &OperationGraph, changes: &[ResourceChange], a: &str, kind: OpKind) -> usize {
        g.operations
            .iter()
            .position(|o| changes[o.change].address == addr(a) && o.kind == kind)
            .unwrap()
    }

    #[test]
    fn destroy_runs_dependents_first() {
        let mut state = State::new("dev");
        in_state(&mut state, "p/t.net/n", &[]);
        in_state(&mut state, "p/t.sub/s", &["p/t.net/n"]);
        let changes = vec![
            change("p/t.net/n", Action::Delete, &[]),
            change("p/t.sub/s", Action::Delete, &["p/t.net/n"]),
        ];
        let g = OperationGraph::build(&changes, &state);
        let net = find(&g, &changes, "p/t.net/n", OpKind::Delete);
        let sub = find(&g, &changes, "p/t.sub/s", OpKind::Delete);
        assert_eq!(g.waits_on[net], vec![sub]);
        assert!(g.waits_on[sub].is_empty());
    }

    #[test]
    fn replace_is_delete_then_create_and_orders_dependents() {
        let mut state = State::new("dev");
        in_state(&mut state, "p/t.net/n", &[]);
        in_state(&mut state, "p/t.sub/s", &["p/t.net/n"]);
        let changes = vec![
            change("p/t.net/n", Action::Replace, &[]),
            change("p/t.sub/s", Action::Replace, &["p/t.net/n"]),
        ];
        let g = OperationGraph::build(&changes, &state);
        let net_del = find(&g, &changes, "p/t.net/n", OpKind::Delete);
        let net_new = find(&g, &changes, "p/t.net/n", OpKind::Create);
        let sub_del = find(&g, &changes, "p/t.sub/s", OpKind::Delete);
        let sub_new = find(&g, &changes, "p/t.sub/s", OpKind::Create);
        assert_eq!(g.waits_on[net_del], vec![sub_del]);
        assert_eq!(g.waits_on[net_new], vec![net_del]);
        assert_eq!(
            g.waits_on[sub_new],
            vec![net_new, sub_del]
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn delete_waits_for_dependent_update() {
        let mut state = State::new("dev");
        in_state(&mut state, "p/t.sg/old", &[]);
        in_state(&mut state, "p/t.sg/user", &["p/t.sg/old"]);
        let changes = vec![
            change("p/t.sg/old", Action::Delete, &[]),
            change("p/t.sg/user", Action::Update, &[]),
        ];
        let g = OperationGraph::build(&changes, &state);
        let del = find(&g, &changes, "p/t.sg/old", OpKind::Delete);
        let upd = find(&g, &changes, "p/t.sg/user", OpKind::Update);
        assert_eq!(g.waits_on[del], vec![upd]);
    }

    #[test]
    fn no_ops_produce_no_operations() {
        let state = State::new("dev");
        let changes = vec![
            change("p/t.net/n", Action::NoOp, &[]),
            change("p/t.sub/s", Action::Create, &["p/t.net/n"]),
        ];
        let g = OperationGraph::build(&changes, &state);
        assert_eq!(g.operations.len(), 1);
        assert!(g.waits_on[0].is_empty());
    }
}
