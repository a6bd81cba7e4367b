//! Engine benchmarks (no AWS): planning a large graph, and the cost of
//! saving state after one finished resource. `cargo bench -p drctl-core`;
//! results in docs/performance.md.

use criterion::{Criterion, criterion_group, criterion_main};
use drctl_core::planner::plan_apply;
use drctl_core::store::StateStore;
use drctl_core::synthetic;
use drctl_core::{DesiredGraph, State};

fn plan(c: &mut Criterion) {
    let schemas = synthetic::schemas();
    for n in [1_000, 10_000] {
        let in_sync = synthetic::in_sync_state(n);
        c.bench_function(&format!("plan {n} resources, state in sync"), |b| {
            b.iter(|| {
                let graph = DesiredGraph::new(synthetic::desired(n)).unwrap();
                plan_apply(&graph, &in_sync, &schemas)
            })
        });
        let empty = State::new("bench");
        c.bench_function(&format!("plan {n} resources, empty state"), |b| {
            b.iter(|| {
                let graph = DesiredGraph::new(synthetic::desired(n)).unwrap();
                plan_apply(&graph, &empty, &schemas)
            })
        });
    }
}

fn persist(c: &mut Criterion) {
    for n in [1_000, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path(), "bench");
        let mut state = synthetic::in_sync_state(n);
        store.save(&mut state).unwrap();
        let address = state.resources.keys().nth(n / 2).unwrap().clone();
        // What the executor does after each finished resource: amortised,
        // since the log is folded into the snapshot once it outgrows it.
        c.bench_function(
            &format!("record one finished resource, {n} resources"),
            |b| {
                b.iter(|| {
                    store
                        .record(&mut state, std::slice::from_ref(&address))
                        .unwrap()
                })
            },
        );
        c.bench_function(&format!("rewrite the whole snapshot, {n} resources"), |b| {
            b.iter(|| store.save(&mut state).unwrap())
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = plan, persist
}
criterion_main!(benches);
