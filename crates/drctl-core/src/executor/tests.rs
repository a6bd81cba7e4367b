use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::graph::DesiredGraph;
use crate::journal::NoJournal;
use crate::planner::{plan_apply, plan_destroy};
use crate::resource::ResourceSpec;
use crate::testing::MemoryProvider;

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

#[derive(Default)]
struct CountingSink {
    saves: usize,
    serials: Vec<u64>,
    /// Every address recorded, in the order recorded.
    saved: Vec<Address>,
}

impl StateSink for CountingSink {
    fn persist(&mut self, state: &mut State, changed: &[Address]) -> Result<(), StoreError> {
        state.serial += 1;
        self.saves += 1;
        self.serials.push(state.serial);
        self.saved.extend_from_slice(changed);
        Ok(())
    }
    fn finish(&mut self, _state: &mut State) -> Result<(), StoreError> {
        Ok(())
    }
}

fn providers(p: &Arc<MemoryProvider>) -> Providers {
    let mut ps = Providers::new();
    ps.register(p.clone());
    ps
}

/// root -> a -> a2, root -> b; c independent.
fn desired() -> DesiredGraph {
    let root = addr("p/mem.thing/root");
    let a = addr("p/mem.thing/a");
    DesiredGraph::new(vec![
        ResourceSpec::new(root.clone(), "r1").input("size", 1),
        ResourceSpec::new(a.clone(), "r1").input("parent", root.output("id")),
        ResourceSpec::new(addr("p/mem.thing/a2"), "r1").input("parent", a.output("id")),
        ResourceSpec::new(addr("p/mem.thing/b"), "r1").input("parent", root.output("id")),
        ResourceSpec::new(addr("p/mem.thing/c"), "r1").input("size", 3),
    ])
    .unwrap()
}

async fn apply(
    p: &Arc<MemoryProvider>,
    state: &mut State,
    parallelism: usize,
) -> (Report, CountingSink) {
    let changes = plan_apply(&desired(), state, &providers(p));
    let mut sink = CountingSink::default();
    let report = Executor::new(providers(p), "dev", parallelism)
        .run(&changes, state, &mut sink, &mut NoJournal, &|_: &Event| {})
        .await
        .unwrap();
    (report, sink)
}

/// Runs `changes` at the default parallelism, with no journal and state
/// saved in memory.
async fn run(p: &Arc<MemoryProvider>, changes: &[ResourceChange], state: &mut State) -> Report {
    Executor::new(providers(p), "dev", 64)
        .run(
            changes,
            state,
            &mut CountingSink::default(),
            &mut NoJournal,
            &|_: &Event| {},
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn apply_creates_in_order_resolves_references_and_saves_each_step() {
    let p = Arc::new(MemoryProvider::default());
    let mut state = State::new("dev");
    let (report, sink) = apply(&p, &mut state, 64).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.created.len(), 5);
    let mut saved = sink.saved.clone();
    saved.sort();
    let mut created = report.created.clone();
    created.sort();
    assert_eq!(saved, created, "every finished resource is saved, once");
    assert!(
        sink.saves <= 5,
        "operations that finish together share a save"
    );
    let root_id = state.resources[&addr("p/mem.thing/root")].id.clone();
    assert_eq!(
        state.resources[&addr("p/mem.thing/a")].inputs["parent"],
        json!(root_id)
    );
    let calls = p.calls.lock().unwrap().clone();
    let pos = |s: &str| calls.iter().position(|c| c == s).unwrap();
    assert!(pos("create p/mem.thing/root") < pos("create p/mem.thing/a"));
    assert!(pos("create p/mem.thing/a") < pos("create p/mem.thing/a2"));

    // A second plan is all no-op.
    let again = plan_apply(&desired(), &state, &providers(&p));
    assert!(again.iter().all(|c| c.action == crate::plan::Action::NoOp));
}

#[tokio::test]
async fn failure_fails_only_dependents_and_state_keeps_successes() {
    let p = Arc::new(MemoryProvider::default());
    p.fail_names.lock().unwrap().insert("a".into());
    let mut state = State::new("dev");
    let (report, _) = apply(&p, &mut state, 64).await;
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, addr("p/mem.thing/a"));
    assert!(report.failed[0].1.contains("injected failure"));
    assert_eq!(report.skipped, vec![addr("p/mem.thing/a2")]);
    let mut created = report.created.clone();
    created.sort();
    assert_eq!(
        created,
        vec![
            addr("p/mem.thing/b"),
            addr("p/mem.thing/c"),
            addr("p/mem.thing/root")
        ]
    );
    assert_eq!(state.resources.len(), 3);
    assert!(!report.is_success());
    assert!(report.summary().contains("1 failed, 1 skipped"));

    // Once the cause is gone the next apply finishes the rest.
    p.fail_names.lock().unwrap().clear();
    let (report, _) = apply(&p, &mut state, 64).await;
    assert!(report.is_success());
    assert_eq!(report.created.len(), 2);
}

#[tokio::test]
async fn parallelism_bound_is_respected_and_the_graph_bounds_otherwise() {
    let wide: Vec<ResourceSpec> = (0..12)
        .map(|i| ResourceSpec::new(addr(&format!("p/mem.thing/n{i}")), "r1").input("size", i))
        .collect();
    for (limit, expected_peak) in [(3, 3), (64, 12)] {
        let p = Arc::new(MemoryProvider::with_delay(Duration::from_millis(30)));
        let graph = DesiredGraph::new(wide.clone()).unwrap();
        let mut state = State::new("dev");
        let changes = plan_apply(&graph, &state, &providers(&p));
        let report = Executor::new(providers(&p), "dev", limit)
            .run(
                &changes,
                &mut state,
                &mut CountingSink::default(),
                &mut NoJournal,
                &|_: &Event| {},
            )
            .await
            .unwrap();
        assert!(report.is_success());
        assert_eq!(
            p.peak_in_flight.load(Ordering::SeqCst),
            expected_peak,
            "limit {limit}"
        );
    }
}

#[tokio::test]
async fn destroy_runs_in_reverse_dependency_order() {
    let p = Arc::new(MemoryProvider::default());
    let mut state = State::new("dev");
    apply(&p, &mut state, 64).await;
    p.calls.lock().unwrap().clear();
    let changes = plan_destroy(&state, &providers(&p));
    let report = run(&p, &changes, &mut state).await;
    assert_eq!(report.deleted.len(), 5);
    assert!(state.resources.is_empty());
    assert!(p.objects.lock().unwrap().is_empty());
    let calls = p.calls.lock().unwrap().clone();
    let pos = |s: &str| calls.iter().position(|c| c == s).unwrap();
    assert!(pos("delete p/mem.thing/a2") < pos("delete p/mem.thing/a"));
    assert!(pos("delete p/mem.thing/a") < pos("delete p/mem.thing/root"));
    assert!(pos("delete p/mem.thing/b") < pos("delete p/mem.thing/root"));
}

#[tokio::test]
async fn replace_deletes_then_creates_and_updates_in_place() {
    let p = Arc::new(MemoryProvider::default());
    let mut state = State::new("dev");
    apply(&p, &mut state, 64).await;
    // Drift the applied inputs: `fixed` forces replacement, `size` does not.
    state
        .resources
        .get_mut(&addr("p/mem.thing/c"))
        .unwrap()
        .inputs
        .insert("fixed".into(), json!(true));
    state
        .resources
        .get_mut(&addr("p/mem.thing/root"))
        .unwrap()
        .inputs
        .insert("size".into(), json!(9));
    p.calls.lock().unwrap().clear();
    let (report, _) = apply(&p, &mut state, 64).await;
    assert_eq!(report.replaced, vec![addr("p/mem.thing/c")]);
    assert_eq!(report.updated, vec![addr("p/mem.thing/root")]);
    let calls = p.calls.lock().unwrap().clone();
    let pos = |s: &str| calls.iter().position(|c| c == s).unwrap();
    assert!(pos("delete p/mem.thing/c") < pos("create p/mem.thing/c"));
    assert_eq!(
        p.objects.lock().unwrap().len(),
        5,
        "no duplicate left behind"
    );
}

/// Observers get each operation's status with its start, and see there what
/// the provider reported it waits for.
#[tokio::test]
async fn what_an_operation_waits_for_reaches_the_observer() {
    let p = Arc::new(MemoryProvider::default());
    let mut state = State::new("dev");
    let changes = plan_apply(&desired(), &state, &providers(&p));
    let statuses = std::sync::Mutex::new(Vec::new());
    let observer = |e: &Event| {
        if let Event::Started {
            address, status, ..
        } = e
        {
            statuses
                .lock()
                .unwrap()
                .push((address.clone(), status.clone()));
        }
    };
    Executor::new(providers(&p), "dev", 64)
        .run(
            &changes,
            &mut state,
            &mut CountingSink::default(),
            &mut NoJournal,
            &observer,
        )
        .await
        .unwrap();
    let statuses = statuses.into_inner().unwrap();
    assert_eq!(statuses.len(), 5);
    for (address, status) in statuses {
        assert_eq!(
            status.get(),
            Some(format!("create {address}: waiting")),
            "{address}"
        );
    }
}

#[tokio::test]
async fn a_stopped_run_finishes_what_runs_and_starts_nothing_more() {
    let p = Arc::new(MemoryProvider::with_delay(Duration::from_millis(50)));
    let mut state = State::new("dev");
    let changes = plan_apply(&desired(), &state, &providers(&p));
    let executor = Executor::new(providers(&p), "dev", 64);
    let stop = executor.stop_flag();
    // Stop as soon as the first operation starts: root and c, ready
    // together, were started together (their intents in one write); a and
    // b, ready once root is done, are not started.
    let observer = move |e: &Event| {
        if matches!(e, Event::Started { .. }) {
            stop.store(true, Ordering::SeqCst);
        }
    };
    let report = executor
        .run(
            &changes,
            &mut state,
            &mut CountingSink::default(),
            &mut NoJournal,
            &observer,
        )
        .await
        .unwrap();
    assert_eq!(report.created.len(), 2, "{report:?}");
    assert_eq!(state.resources.len(), 2, "what ran is saved");
    assert_eq!(report.not_started.len(), 3);
    assert!(!report.is_success());
    assert!(report.summary().ends_with("3 not started (stopped)"));
}

#[tokio::test]
async fn an_unconfirmed_create_is_sent_again_with_its_token_and_then_forgotten() {
    let p = Arc::new(MemoryProvider::default());
    let mut state = State::new("dev");
    // An interrupted run sent c's create (inputs as the plan resolves
    // them) and a's with other inputs; recovery found neither.
    let unconfirmed = |inputs: Attributes, token: &str| crate::state::UnconfirmedCreate {
        region: "r1".into(),
        inputs,
        dependencies: Default::default(),
        token: token.into(),
        missed_since_unix: 0,
    };
    let c_inputs = Attributes::from([("size".to_string(), json!(3))]);
    state
        .unconfirmed_creates
        .insert(addr("p/mem.thing/c"), unconfirmed(c_inputs, "carried-c"));
    let a_inputs = Attributes::from([("parent".to_string(), json!("elsewhere"))]);
    state
        .unconfirmed_creates
        .insert(addr("p/mem.thing/a"), unconfirmed(a_inputs, "carried-a"));
    let (report, _) = apply(&p, &mut state, 64).await;
    assert!(report.is_success(), "{report:?}");
    let tokens = p.create_tokens.lock().unwrap().clone();
    assert_eq!(tokens["p/mem.thing/c"].as_deref(), Some("carried-c"));
    // Other inputs: a new token (sent again, the old one would be refused
    // as a mismatch, or answer with the wrong resource).
    let a_token = tokens["p/mem.thing/a"].clone().unwrap();
    assert_ne!(a_token, "carried-a");
    assert_eq!(a_token.len(), 32);
    assert!(
        state.unconfirmed_creates.is_empty(),
        "created: no longer in doubt"
    );
}

/// Records in `state` a create of `address` that an interrupted run sent
/// with `sent`, which recovery missed with two seconds of its settle wait
/// left.
fn in_doubt(state: &mut State, address: &str, sent: &Attributes, token: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    state.unconfirmed_creates.insert(
        addr(address),
        crate::state::UnconfirmedCreate {
            region: "r1".into(),
            inputs: sent.clone(),
            dependencies: Default::default(),
            token: token.into(),
            missed_since_unix: now + 2 - crate::state::UNCONFIRMED_CREATE_SETTLE_SECS,
        },
    );
}

/// A create that takes no token, sent by a killed run, may reach AWS after
/// the next run's recovery looked for it: the create in doubt waits until
/// it must have landed and adopts what it made instead of making another.
#[tokio::test]
async fn a_create_in_doubt_that_lands_late_is_adopted_not_made_twice() {
    let p = Arc::new(MemoryProvider::default());
    let mut state = State::new("dev");
    let c_inputs = Attributes::from([("size".to_string(), json!(3))]);
    in_doubt(&mut state, "p/mem.thing/c", &c_inputs, "carried-c");
    let late = Arc::clone(&p);
    let landed = c_inputs.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        late.objects
            .lock()
            .unwrap()
            .insert("landed-late".into(), landed);
    });
    let (report, _) = apply(&p, &mut state, 64).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(state.resources[&addr("p/mem.thing/c")].id, "landed-late");
    let calls = p.calls.lock().unwrap().clone();
    assert!(
        !calls.contains(&"create p/mem.thing/c".to_string()),
        "{calls:?}"
    );
    let copies = p
        .objects
        .lock()
        .unwrap()
        .values()
        .filter(|o| **o == c_inputs)
        .count();
    assert_eq!(copies, 1);
    assert!(state.unconfirmed_creates.is_empty());
}

/// A sink whose first save finds the lease lost (another run took the
/// lock while the first operation ran).
struct LosingSink(Arc<crate::lease::tests::Switch>);

impl StateSink for LosingSink {
    fn persist(&mut self, state: &mut State, _changed: &[Address]) -> Result<(), StoreError> {
        state.serial += 1;
        self.0.0.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn finish(&mut self, _state: &mut State) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A run whose lease is lost starts no further operation (updates
/// included, which a journal check alone would not stop), and says why.
#[tokio::test]
async fn a_run_that_lost_its_lease_starts_nothing_more() {
    let p = Arc::new(MemoryProvider::default());
    let mut state = State::new("dev");
    let (report, _) = apply(&p, &mut state, 64).await;
    assert!(report.is_success(), "{report:?}");
    // Every resource gains an input: five updates, independent of order.
    let retagged = DesiredGraph::new(
        desired()
            .resources()
            .map(|s| s.clone().input("owner", "team-b"))
            .collect(),
    )
    .unwrap();
    let changes = plan_apply(&retagged, &state, &providers(&p));
    assert_eq!(
        changes
            .iter()
            .filter(|c| c.action == crate::plan::Action::Update)
            .count(),
        5
    );
    p.calls.lock().unwrap().clear();

    let lease = Arc::new(crate::lease::tests::Switch(AtomicBool::new(false)));
    let guard = crate::lease::Guard::new();
    let _installed = guard.install(lease.clone());
    let err = Executor::new(providers(&p), "dev", 1)
        .with_lease_guard(guard.clone())
        .run(
            &changes,
            &mut state,
            &mut LosingSink(lease.clone()),
            &mut NoJournal,
            &|_: &Event| {},
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::LeaseLost(_)), "{err}");
    let text = err.to_string();
    assert!(text.starts_with("stopped: lease lost."), "{text}");
    assert!(text.contains("taken over by a test"), "{text}");
    let calls = p.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "only the update started before: {calls:?}");
    assert!(calls[0].starts_with("update "), "{calls:?}");

    // Lost before the run: nothing starts at all.
    p.calls.lock().unwrap().clear();
    let err = Executor::new(providers(&p), "dev", 64)
        .with_lease_guard(guard)
        .run(
            &changes,
            &mut state,
            &mut CountingSink::default(),
            &mut NoJournal,
            &|_: &Event| {},
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::LeaseLost(_)), "{err}");
    assert!(p.calls.lock().unwrap().is_empty());
}

/// A create in doubt whose inputs changed since the killed run sent it
/// (drctl.toml edited in between) still waits for that request to land and
/// adopts what it made, brought to the new inputs, instead of making a
/// second resource beside the late one (an orphan: the address would be in
/// state already when a later recovery found it).
#[tokio::test]
async fn a_create_in_doubt_with_changed_inputs_adopts_what_the_killed_run_made() {
    let p = Arc::new(MemoryProvider::default());
    let mut state = State::new("dev");
    let sent = Attributes::from([("size".to_string(), json!(1))]);
    in_doubt(&mut state, "p/mem.thing/c", &sent, "carried-c");
    let late = Arc::clone(&p);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        late.objects
            .lock()
            .unwrap()
            .insert("landed-late".into(), sent);
    });
    // desired() asks c with size 3.
    let (report, _) = apply(&p, &mut state, 64).await;
    assert!(report.is_success(), "{report:?}");
    let c = &state.resources[&addr("p/mem.thing/c")];
    assert_eq!(c.id, "landed-late");
    assert_eq!(c.inputs["size"], json!(3));
    let calls = p.calls.lock().unwrap().clone();
    assert!(
        !calls.contains(&"create p/mem.thing/c".to_string()),
        "{calls:?}"
    );
    assert_eq!(p.objects.lock().unwrap()["landed-late"]["size"], json!(3));
    assert_eq!(p.objects.lock().unwrap().len(), 5, "no second c");
    assert!(state.unconfirmed_creates.is_empty());
}

/// A create in doubt whose lookup finds, by its name, a resource that
/// differs from what the create sends in an input that forces replacement
/// (not what this create made: one made by hand, or by an older
/// configuration's request): what an update can change is brought to what
/// is asked, and state records the found value of the other, so the next
/// plan replaces the resource instead of taking it for what was asked.
#[tokio::test]
async fn a_create_in_doubt_found_with_another_replacing_input_is_recorded_as_found() {
    let p = Arc::new(MemoryProvider::default());
    *p.find_by.lock().unwrap() = Some("key".into());
    let address = addr("p/mem.thing/c");
    let desired = DesiredGraph::new(vec![
        ResourceSpec::new(address.clone(), "r1")
            .input("key", "c")
            .input("fixed", "new")
            .input("size", 3),
    ])
    .unwrap();
    let mut state = State::new("dev");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sent = Attributes::from([
        ("key".to_string(), json!("c")),
        ("fixed".to_string(), json!("new")),
        ("size".to_string(), json!(3)),
    ]);
    let found = Attributes::from([
        ("key".to_string(), json!("c")),
        ("fixed".to_string(), json!("old")),
        ("size".to_string(), json!(1)),
    ]);
    state.unconfirmed_creates.insert(
        address.clone(),
        crate::state::UnconfirmedCreate {
            region: "r1".into(),
            inputs: sent.clone(),
            dependencies: Default::default(),
            token: String::new(),
            // Two seconds of the wait left, then the create looks again.
            missed_since_unix: now + 2 - crate::state::UNCONFIRMED_CREATE_SETTLE_SECS,
        },
    );
    p.objects
        .lock()
        .unwrap()
        .insert("landed-late".into(), found);
    let changes = plan_apply(&desired, &state, &providers(&p));
    let report = run(&p, &changes, &mut state).await;
    assert!(report.is_success(), "{report:?}");
    let recorded = &state.resources[&address];
    assert_eq!(recorded.id, "landed-late", "adopted, not made twice");
    assert_eq!(recorded.inputs["size"], json!(3), "updated in place");
    assert_eq!(recorded.inputs["fixed"], json!("old"), "as found");
    assert_eq!(p.objects.lock().unwrap()["landed-late"]["size"], json!(3));
    let next = plan_apply(&desired, &state, &providers(&p));
    assert_eq!(
        next.iter().find(|c| c.address == address).unwrap().action,
        crate::plan::Action::Replace,
        "the next plan replaces it for `fixed`"
    );
}

/// A journal that counts its writes and keeps every batch's size.
#[derive(Default)]
struct BatchJournal {
    next_id: u64,
    recorded: Vec<usize>,
    cleared: Vec<usize>,
}

impl IntentLog for BatchJournal {
    fn record(&mut self, intents: &mut [Intent]) -> Result<(), JournalError> {
        for intent in intents.iter_mut() {
            self.next_id += 1;
            intent.id = self.next_id;
        }
        self.recorded.push(intents.len());
        Ok(())
    }
    fn clear(&mut self, ids: &[u64]) -> Result<(), JournalError> {
        self.cleared.push(ids.len());
        Ok(())
    }
}

/// A sink whose every save takes `pause` (a remote backend's write).
struct SlowSink {
    pause: Duration,
    saves: Vec<Vec<Address>>,
}

impl StateSink for SlowSink {
    fn persist(&mut self, state: &mut State, changed: &[Address]) -> Result<(), StoreError> {
        std::thread::sleep(self.pause);
        state.serial += 1;
        self.saves.push(changed.to_vec());
        Ok(())
    }
    fn finish(&mut self, _state: &mut State) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Operations that become ready together have their intents written in
/// one journal write; those that finish while a save is under way are
/// saved by the next save together, and their intents cleared together:
/// a backend whose writes take a round trip costs one a wave, not one an
/// operation, and the run is not held back by its writes one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_starts_together_is_journalled_together_and_what_finishes_together_is_saved_together()
{
    let names: Vec<String> = (0..20).map(|i| format!("p/mem.thing/n{i:02}")).collect();
    let desired = DesiredGraph::new(
        names
            .iter()
            .map(|n| ResourceSpec::new(addr(n), "r1").input("size", 1))
            .collect(),
    )
    .unwrap();
    let p = Arc::new(MemoryProvider::with_delay(Duration::from_millis(10)));
    let mut state = State::new("dev");
    let changes = plan_apply(&desired, &state, &providers(&p));
    let mut sink = SlowSink {
        pause: Duration::from_millis(300),
        saves: Vec::new(),
    };
    let mut journal = BatchJournal::default();
    let report = Executor::new(providers(&p), "dev", 64)
        .run(
            &changes,
            &mut state,
            &mut sink,
            &mut journal,
            &|_: &Event| {},
        )
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(journal.recorded, vec![20], "one write for the 20 intents");
    // The first finished is saved at once; the others finish (10 ms each)
    // while that save takes its 300 ms, and are saved by the next.
    assert!(sink.saves.len() <= 2, "{:?}", sink.saves);
    let mut saved: Vec<String> = sink.saves.concat().iter().map(|a| a.to_string()).collect();
    saved.sort();
    assert_eq!(saved, names, "each once");
    assert_eq!(journal.cleared.len(), sink.saves.len(), "one clear a save");
    assert_eq!(journal.cleared.iter().sum::<usize>(), 20);
}
