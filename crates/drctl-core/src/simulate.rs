//! Modelled runs: the real operation graph and executor with providers that
//! only take time, on a virtual clock, so hours of modelled work run in
//! milliseconds and every figure is exact and repeatable. Knows nothing
//! about AWS: the durations per kind come from the caller.
//!
//! The clock advances only when the runtime has nothing left to run (its
//! `on_thread_park` hook) and the executor's future has not been woken: at
//! that moment every operation in flight is asleep on the clock and the
//! executor has started all it could, so jumping to the earliest wake-up is
//! what a real clock would show.
//! (tokio's own paused clock needs its `test-util` feature, which would
//! change tokio's features for the whole workspace and recompile every
//! crate above it.)

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::address::Address;
use crate::executor::{Event, ExecError, Executor, Report, StateSink};
use crate::journal::NoJournal;
use crate::operations::{OpKind, OperationGraph};
use crate::plan::ResourceChange;
use crate::provider::{
    Applied, KindSchema, ListScope, Observed, OpContext, Provider, ProviderError, Providers,
};
use crate::state::State;
use crate::store::StoreError;
use crate::value::Attributes;

/// Virtual time shared by the sleeping providers and the observer.
#[derive(Clone, Default)]
pub struct VirtualClock(Arc<Mutex<ClockInner>>);

#[derive(Default)]
struct ClockInner {
    now: Duration,
    /// The future run by `block_on` was woken and not yet polled: it may
    /// start operations, so time must not pass yet.
    main_woken: Arc<AtomicBool>,
    next_seq: u64,
    /// (wake-up time, registration order): earliest first, ties in order.
    sleepers: BinaryHeap<Reverse<(Duration, u64)>>,
    wakers: BTreeMap<u64, oneshot::Sender<()>>,
}

impl VirtualClock {
    pub fn now(&self) -> Duration {
        self.0.lock().unwrap().now
    }

    /// Resolves once the clock has reached now + `d`.
    pub async fn sleep(&self, d: Duration) {
        let rx = {
            let mut c = self.0.lock().unwrap();
            let seq = c.next_seq;
            c.next_seq += 1;
            let at = c.now + d;
            c.sleepers.push(Reverse((at, seq)));
            let (tx, rx) = oneshot::channel();
            c.wakers.insert(seq, tx);
            rx
        };
        // The sender lives in the clock until the wake-up time.
        let _ = rx.await;
    }

    /// Jumps to the earliest wake-up and wakes every sleeper due then.
    /// False when nobody sleeps.
    pub fn advance(&self) -> bool {
        let mut c = self.0.lock().unwrap();
        let Some(&Reverse((at, _))) = c.sleepers.peek() else {
            return false;
        };
        c.now = at;
        while let Some(&Reverse((t, seq))) = c.sleepers.peek() {
            if t != at {
                break;
            }
            c.sleepers.pop();
            if let Some(tx) = c.wakers.remove(&seq) {
                let _ = tx.send(());
            }
        }
        true
    }

    /// Runs `future` (and the tasks it spawns) on a single-threaded
    /// runtime that advances this clock whenever it would otherwise wait.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let clock = self.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .on_thread_park(move || {
                let woken = Arc::clone(&clock.0.lock().unwrap().main_woken);
                if !woken.load(Ordering::SeqCst) {
                    clock.advance();
                }
            })
            .build()
            .expect("a current-thread runtime builds");
        let woken = Arc::clone(&self.0.lock().unwrap().main_woken);
        runtime.block_on(Watched {
            inner: Box::pin(future),
            woken,
        })
    }
}

/// A future whose wake-ups are recorded in `woken` until it is polled.
struct Watched<F: Future> {
    inner: Pin<Box<F>>,
    woken: Arc<AtomicBool>,
}

struct FlagWaker {
    inner: Waker,
    woken: Arc<AtomicBool>,
}

impl Wake for FlagWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

impl<F: Future> Future for Watched<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.woken.store(false, Ordering::SeqCst);
        let waker = Waker::from(Arc::new(FlagWaker {
            inner: cx.waker().clone(),
            woken: Arc::clone(&self.woken),
        }));
        self.inner.as_mut().poll(&mut Context::from_waker(&waker))
    }
}

/// How long each operation of one kind takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpDurations {
    pub create: Duration,
    pub update: Duration,
    pub delete: Duration,
}

impl OpDurations {
    pub fn of(&self, kind: OpKind) -> Duration {
        match kind {
            OpKind::Create => self.create,
            OpKind::Update => self.update,
            OpKind::Delete => self.delete,
        }
    }
}

/// How long the operation on the resource at an address takes when it
/// starts at the given virtual time.
pub type DurationModel = Arc<dyn Fn(&Address, OpKind, Duration) -> Duration + Send + Sync>;

/// A provider that only takes the modelled time. Its outputs are
/// placeholders (`<address>.<output>`), enough for references to resolve.
pub struct TimedProvider {
    schema: &'static KindSchema,
    durations: DurationModel,
    clock: VirtualClock,
}

impl TimedProvider {
    pub fn new(schema: &'static KindSchema, durations: DurationModel, clock: VirtualClock) -> Self {
        Self {
            schema,
            durations,
            clock,
        }
    }

    fn outputs(&self, ctx: &OpContext) -> Attributes {
        self.schema
            .outputs
            .iter()
            .map(|o| ((*o).to_owned(), format!("{}.{o}", ctx.address).into()))
            .collect()
    }
}

#[async_trait]
impl Provider for TimedProvider {
    fn schema(&self) -> &KindSchema {
        self.schema
    }

    async fn create(
        &self,
        ctx: &OpContext,
        _inputs: &Attributes,
    ) -> Result<Applied, ProviderError> {
        self.clock
            .sleep((self.durations)(
                &ctx.address,
                OpKind::Create,
                self.clock.now(),
            ))
            .await;
        Ok(Applied {
            id: ctx.address.to_string(),
            outputs: self.outputs(ctx),
        })
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        _id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(None)
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _id: &str,
        _prior: &Attributes,
        _inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        self.clock
            .sleep((self.durations)(
                &ctx.address,
                OpKind::Update,
                self.clock.now(),
            ))
            .await;
        Ok(self.outputs(ctx))
    }

    async fn find(
        &self,
        _ctx: &OpContext,
        _inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        _id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        self.clock
            .sleep((self.durations)(
                &ctx.address,
                OpKind::Delete,
                self.clock.now(),
            ))
            .await;
        Ok(())
    }

    /// It keeps nothing: only time passes.
    async fn list(&self, _scope: &ListScope) -> Result<Vec<String>, ProviderError> {
        Ok(Vec::new())
    }
}

/// The longest chain through a DAG (`waits_on[j]`: what `j` waits for),
/// each job weighted by `weight[j]`: its length and its jobs, first to
/// last. No schedule finishes sooner. Ties go to the lower index.
pub fn critical_path(waits_on: &[Vec<usize>], weight: &[Duration]) -> (Duration, Vec<usize>) {
    let n = waits_on.len();
    let mut dependents = vec![Vec::new(); n];
    let mut remaining: Vec<usize> = waits_on.iter().map(Vec::len).collect();
    for (j, deps) in waits_on.iter().enumerate() {
        for &d in deps {
            dependents[d].push(j);
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&j| remaining[j] == 0).collect();
    let mut finish = vec![Duration::ZERO; n];
    let mut via: Vec<Option<usize>> = vec![None; n];
    while let Some(j) = ready.pop() {
        let mut start = Duration::ZERO;
        for &d in &waits_on[j] {
            if finish[d] > start || (finish[d] == start && via[j].is_some_and(|v| d < v)) {
                start = finish[d];
                via[j] = Some(d);
            }
        }
        finish[j] = start + weight[j];
        for &k in &dependents[j] {
            remaining[k] -= 1;
            if remaining[k] == 0 {
                ready.push(k);
            }
        }
    }
    let Some(last) = (0..n).rev().max_by_key(|&j| finish[j]) else {
        return (Duration::ZERO, Vec::new());
    };
    let mut chain = vec![last];
    while let Some(prev) = via[*chain.last().expect("non-empty")] {
        chain.push(prev);
    }
    chain.reverse();
    (finish[last], chain)
}

/// One operation of a modelled run, in virtual time from the run's start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    pub address: Address,
    pub kind: OpKind,
    pub start: Duration,
    pub end: Duration,
}

impl Timing {
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }
}

/// What a modelled run took.
#[derive(Debug)]
pub struct Simulation {
    /// State after the run.
    pub state: State,
    pub report: Report,
    /// Virtual time from the first start to the last finish.
    pub wall: Duration,
    /// Every operation, in the order it started.
    pub timings: Vec<Timing>,
    /// The critical path of the run's operation graph, weighted by the
    /// durations the operations took: the bound no parallelism beats.
    pub critical: Duration,
    pub chain: Vec<Timing>,
}

/// Discards state (the run's state is returned, not saved).
struct Discard;

impl StateSink for Discard {
    fn persist(&mut self, _state: &mut State, _changed: &[Address]) -> Result<(), StoreError> {
        Ok(())
    }
    fn finish(&mut self, _state: &mut State) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Runs `changes` against `state` through the real executor at
/// `parallelism`, on `clock` (whose providers must be the ones in
/// `providers`), and measures it in virtual time.
pub fn simulate(
    providers: Providers,
    clock: &VirtualClock,
    changes: &[ResourceChange],
    state: State,
    parallelism: usize,
) -> Result<Simulation, ExecError> {
    let graph = OperationGraph::build(changes, &state);
    let env = state.env.clone();
    let events: Arc<Mutex<Vec<Timing>>> = Arc::default();
    let origin = clock.now();
    let observer = |e: &Event| {
        let now = clock.now() - origin;
        let mut timings = events.lock().unwrap();
        match e {
            Event::Started { address, kind, .. } => timings.push(Timing {
                address: address.clone(),
                kind: *kind,
                start: now,
                end: now,
            }),
            Event::Finished { address, kind, .. } => {
                if let Some(t) = timings
                    .iter_mut()
                    .rev()
                    .find(|t| &t.address == address && t.kind == *kind)
                {
                    t.end = now;
                }
            }
            Event::Skipped { .. } => {}
        }
    };
    let mut state = state;
    let executor = Executor::new(providers, &env, parallelism);
    let report = clock.block_on(executor.run(
        changes,
        &mut state,
        &mut Discard,
        &mut NoJournal,
        &observer,
    ))?;
    let timings = std::mem::take(&mut *events.lock().unwrap());
    let by_op: BTreeMap<(&Address, OpKind), &Timing> =
        timings.iter().map(|t| ((&t.address, t.kind), t)).collect();
    let weights: Vec<Duration> = graph
        .operations
        .iter()
        .map(|op| {
            by_op
                .get(&(&changes[op.change].address, op.kind))
                .map_or(Duration::ZERO, |t| t.duration())
        })
        .collect();
    let (critical, chain) = critical_path(&graph.waits_on, &weights);
    let chain = chain
        .into_iter()
        .filter_map(|i| {
            let op = &graph.operations[i];
            by_op
                .get(&(&changes[op.change].address, op.kind))
                .map(|t| (*t).clone())
        })
        .collect();
    let wall = timings.iter().map(|t| t.end).max().unwrap_or_default();
    Ok(Simulation {
        state,
        report,
        wall,
        timings,
        critical,
        chain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::DesiredGraph;
    use crate::planner::{plan_apply, plan_destroy};
    use crate::resource::ResourceSpec;
    use crate::testing::THING;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn critical_path_takes_the_longest_chain() {
        // 0 -> 1 -> 3 and 0 -> 2 -> 3: 2 is the long branch.
        let waits = vec![vec![], vec![0], vec![0], vec![1, 2]];
        let (len, chain) = critical_path(&waits, &[secs(1), secs(5), secs(30), secs(2)]);
        assert_eq!(len, secs(33));
        assert_eq!(chain, vec![0, 2, 3]);
    }

    #[test]
    fn critical_path_of_independent_jobs_is_the_longest_one() {
        let waits = vec![vec![], vec![], vec![]];
        let (len, chain) = critical_path(&waits, &[secs(4), secs(9), secs(9)]);
        assert_eq!((len, chain), (secs(9), vec![1]));
        assert_eq!(critical_path(&[], &[]), (Duration::ZERO, vec![]));
    }

    #[test]
    fn clock_wakes_sleepers_in_time_order() {
        let clock = VirtualClock::default();
        let order: Arc<Mutex<Vec<(u64, Duration)>>> = Arc::default();
        clock.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for (id, s) in [(1, 300), (2, 100), (3, 200), (4, 100)] {
                let (clock, order) = (clock.clone(), Arc::clone(&order));
                set.spawn(async move {
                    clock.sleep(secs(s)).await;
                    order.lock().unwrap().push((id, clock.now()));
                });
            }
            while set.join_next().await.is_some() {}
        });
        assert_eq!(
            *order.lock().unwrap(),
            vec![
                (2, secs(100)),
                (4, secs(100)),
                (3, secs(200)),
                (1, secs(300))
            ]
        );
        assert_eq!(clock.now(), secs(300));
    }

    fn spec(name: &str, parent: Option<&str>) -> ResourceSpec {
        let address: Address = format!("r/mem.thing/{name}").parse().unwrap();
        let spec = ResourceSpec::new(address, "r").input("n", name);
        match parent {
            Some(p) => {
                let parent: Address = format!("r/mem.thing/{p}").parse().unwrap();
                spec.input("parent", parent.output("id"))
            }
            None => spec,
        }
    }

    /// a -> b, a -> c, c -> d; create 10 min, delete 1 min each.
    fn small_graph() -> (Providers, VirtualClock, Vec<ResourceChange>) {
        let clock = VirtualClock::default();
        let mut providers = Providers::new();
        providers.register(Arc::new(TimedProvider::new(
            &THING,
            Arc::new(|_: &Address, kind: OpKind, _now: Duration| {
                OpDurations {
                    create: secs(600),
                    update: secs(30),
                    delete: secs(60),
                }
                .of(kind)
            }),
            clock.clone(),
        )));
        let graph = DesiredGraph::new(vec![
            spec("a", None),
            spec("b", Some("a")),
            spec("c", Some("a")),
            spec("d", Some("c")),
        ])
        .unwrap();
        let changes = plan_apply(&graph, &State::new("dev"), &providers);
        (providers, clock, changes)
    }

    #[test]
    fn simulated_apply_and_destroy_take_the_modelled_time() {
        let (providers, clock, changes) = small_graph();
        let applied = simulate(providers.clone(), &clock, &changes, State::new("dev"), 64).unwrap();
        assert!(applied.report.is_success());
        assert_eq!(applied.report.created.len(), 4);
        assert_eq!(applied.wall, secs(1800));
        assert_eq!(applied.critical, secs(1800));
        let chain: Vec<String> = applied
            .chain
            .iter()
            .map(|t| t.address.to_string())
            .collect();
        assert_eq!(chain, ["r/mem.thing/a", "r/mem.thing/c", "r/mem.thing/d"]);
        let b = applied
            .timings
            .iter()
            .find(|t| t.address.name() == "b")
            .unwrap();
        assert_eq!((b.start, b.end), (secs(600), secs(1200)));

        // One at a time: the sum of the operations.
        let (providers1, clock1, changes1) = small_graph();
        let serial = simulate(providers1, &clock1, &changes1, State::new("dev"), 1).unwrap();
        assert_eq!(serial.wall, secs(2400));
        assert_eq!(serial.critical, secs(1800));

        let destroy = plan_destroy(&applied.state, &providers);
        let destroyed = simulate(providers, &clock, &destroy, applied.state, 64).unwrap();
        assert_eq!(destroyed.report.deleted.len(), 4);
        assert!(destroyed.state.resources.is_empty());
        // d, then c with b, then a.
        assert_eq!(destroyed.wall, secs(180));
        assert_eq!(destroyed.critical, secs(180));
    }
}
