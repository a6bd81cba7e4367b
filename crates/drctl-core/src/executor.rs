//! Doing the work: walks the operation graph concurrently, calls providers,
//! and records every finished operation in state at once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::task::JoinSet;

use crate::address::Address;
use crate::journal::{Intent, IntentLog, IntentOp, JournalError, new_token};
use crate::lease::Guard;
use crate::lock::LeaseLost;
use crate::operations::{OpKind, OperationGraph};
use crate::plan::ResourceChange;
use crate::provider::{Applied, OpContext, ProviderError, Providers};
use crate::queue::ReadyQueue;
use crate::state::{ResourceState, State, UNCONFIRMED_CREATE_SETTLE_SECS};
use crate::store::{StateStore, StoreError};
use crate::value::Attributes;
use crate::waiting::{self, Status};

pub const DEFAULT_PARALLELISM: usize = 64;

/// Where the executor saves state: after operations finish (the resources
/// at `changed` were recorded or removed; those that finished together are
/// saved together), and once at the end.
pub trait StateSink {
    fn persist(&mut self, state: &mut State, changed: &[Address]) -> Result<(), StoreError>;
    fn finish(&mut self, state: &mut State) -> Result<(), StoreError>;
}

impl StateSink for StateStore {
    fn persist(&mut self, state: &mut State, changed: &[Address]) -> Result<(), StoreError> {
        self.record(state, changed)
    }
    fn finish(&mut self, state: &mut State) -> Result<(), StoreError> {
        self.compact(state)
    }
}

/// Runs blocking file work (fsync) off the async workers where the runtime
/// allows it.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Progress notifications, e.g. for the CLI's live output.
#[derive(Clone, Debug)]
pub enum Event {
    Started {
        address: Address,
        kind: OpKind,
        /// What the operation reports it waits for while it runs
        /// ([`crate::waiting`]).
        status: Status,
    },
    Finished {
        address: Address,
        kind: OpKind,
        elapsed: Duration,
        error: Option<String>,
    },
    Skipped {
        address: Address,
        because: Address,
    },
}

pub trait Observer: Send + Sync {
    fn event(&self, event: &Event);
}

impl<F: Fn(&Event) + Send + Sync> Observer for F {
    fn event(&self, event: &Event) {
        self(event)
    }
}

/// What a run did, by address.
#[derive(Debug, Default)]
pub struct Report {
    pub created: Vec<Address>,
    pub updated: Vec<Address>,
    pub replaced: Vec<Address>,
    pub deleted: Vec<Address>,
    pub failed: Vec<(Address, String)>,
    pub skipped: Vec<Address>,
    /// Operations never started because the run was stopped (interrupt).
    pub not_started: Vec<Address>,
    pub elapsed: Duration,
}

impl Report {
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && self.not_started.is_empty()
    }

    pub fn summary(&self) -> String {
        format!(
            "{} created, {} updated, {} replaced, {} deleted, {} failed, {} skipped",
            self.created.len(),
            self.updated.len(),
            self.replaced.len(),
            self.deleted.len(),
            self.failed.len(),
            self.skipped.len()
        ) + &if self.not_started.is_empty() {
            String::new()
        } else {
            format!(", {} not started (stopped)", self.not_started.len())
        }
    }
}

#[derive(Debug, Error)]
pub enum ExecError {
    #[error("no provider implements kind `{kind}` (needed by `{address}`)")]
    MissingProvider { address: Address, kind: String },
    #[error(
        "{0}; every operation finished before this was reported, so re-running will pick up from the last saved state"
    )]
    Persist(#[source] StoreError),
    #[error(
        "{0}; no operation was started without its intent recorded, so re-running will recover"
    )]
    Journal(#[source] JournalError),
    /// The lock was lost (taken over, force-unlocked, or its lease not
    /// renewed in time): no operation was started after that.
    #[error("stopped: lease lost. {0}")]
    LeaseLost(#[source] LeaseLost),
}

pub struct Executor {
    providers: Providers,
    env: String,
    parallelism: usize,
    stop: Arc<AtomicBool>,
    /// Asked before each operation starts: a run that lost its lock starts
    /// nothing more.
    lease: Guard,
}

enum Outcome {
    /// With the inputs to record when they are not those asked (a
    /// resource found rather than made, which differs in an input that
    /// forces replacement).
    Created(Applied, Option<Attributes>),
    Updated(Attributes),
    Deleted,
}

struct Finished {
    op: usize,
    inputs: Attributes,
    result: Result<Outcome, ProviderError>,
    elapsed: Duration,
}

impl Executor {
    pub fn new(providers: Providers, env: &str, parallelism: usize) -> Self {
        Self {
            providers,
            env: env.to_owned(),
            parallelism: parallelism.max(1),
            stop: Arc::default(),
            lease: Guard::process().clone(),
        }
    }

    /// Checks `guard` instead of the process's before each operation.
    pub fn with_lease_guard(mut self, guard: Guard) -> Self {
        self.lease = guard;
        self
    }

    /// Setting this flag stops the run from starting new operations; those
    /// in flight finish and are saved (Ctrl-C).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Applies `changes` to `state`. Every create, update and delete is
    /// recorded in `log` before its call; state is saved through `sink`
    /// after each finished operation (those that finish together in one
    /// save), and only then is the intent cleared.
    /// A failed operation's intent stays open: the call may have done
    /// something, and the next run's recovery looks. Provider failures are in the
    /// report; only failing to save state or the journal is an `Err`.
    pub async fn run(
        &self,
        changes: &[ResourceChange],
        state: &mut State,
        sink: &mut dyn StateSink,
        log: &mut dyn IntentLog,
        observer: &dyn Observer,
    ) -> Result<Report, ExecError> {
        for c in changes {
            if self.providers.get(c.address.kind()).is_none() {
                return Err(ExecError::MissingProvider {
                    address: c.address.clone(),
                    kind: c.address.kind().to_owned(),
                });
            }
        }
        let started = Instant::now();
        let graph = OperationGraph::build(changes, state);
        let mut queue = ReadyQueue::new(&graph.waits_on);
        let mut running: JoinSet<Finished> = JoinSet::new();
        let mut report = Report::default();
        let mut fatal: Option<ExecError> = None;
        let mut intents: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
        let mut failed_addresses = BTreeSet::new();

        loop {
            // Everything ready is started together, up to the parallelism,
            // with its intents recorded in one journal write before any of
            // them is called: a remote journal overlaps the round trips of
            // a wave instead of paying one an operation in turn.
            let mut starting = Vec::new();
            while fatal.is_none()
                && !self.stop.load(Ordering::SeqCst)
                && running.len() + starting.len() < self.parallelism
            {
                let Some(op) = queue.pop() else { break };
                // A popped operation not started stays unsettled, so the
                // report lists it as not started.
                if let Err(lost) = self.lease.check() {
                    fatal = Some(ExecError::LeaseLost(lost));
                    break;
                }
                let operation = &graph.operations[op];
                let change = &changes[operation.change];
                match self.start(op, operation.kind, change, state) {
                    Ok(Some((job, intent, status))) => starting.push((op, job, intent, status)),
                    // Nothing left to do (e.g. an update that resolved to no change).
                    Ok(None) => queue.succeeded(op),
                    Err(message) => {
                        report.failed.push((change.address.clone(), message));
                        failed_addresses.insert(change.address.clone());
                        self.skip(
                            &mut queue,
                            op,
                            &graph,
                            changes,
                            &mut report,
                            &failed_addresses,
                            observer,
                        );
                    }
                }
            }
            // A lost lease or a failed journal write starts none of them.
            if fatal.is_none() && !starting.is_empty() {
                let (mut recording, owners): (Vec<Intent>, Vec<usize>) = starting
                    .iter_mut()
                    .filter_map(|(op, _, intent, _)| intent.take().map(|i| (i, *op)))
                    .unzip();
                match log.record(&mut recording) {
                    Ok(()) => {
                        for (intent, op) in recording.iter().zip(owners) {
                            intents.insert(op, intent.id);
                        }
                        for (op, job, _, status) in starting {
                            let operation = &graph.operations[op];
                            observer.event(&Event::Started {
                                address: changes[operation.change].address.clone(),
                                kind: operation.kind,
                                status,
                            });
                            running.spawn(job);
                        }
                    }
                    Err(e) => fatal = Some(ExecError::Journal(e)),
                }
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            // With it, whatever else has finished meanwhile: their outcomes
            // are saved in one state write (a remote backend's writes would
            // otherwise hold back each next one in turn).
            let mut finished = vec![joined];
            while let Some(joined) = running.try_join_next() {
                finished.push(joined);
            }
            // The operations whose outcome is now in state, to be saved.
            let mut recorded = Vec::new();
            for joined in finished {
                let done = match joined {
                    Ok(done) => done,
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                };
                let operation = &graph.operations[done.op];
                let change = &changes[operation.change];
                let address = change.address.clone();
                observer.event(&Event::Finished {
                    address: address.clone(),
                    kind: operation.kind,
                    elapsed: done.elapsed,
                    error: done.result.as_ref().err().map(ToString::to_string),
                });
                match done.result {
                    Err(e) => {
                        report.failed.push((address.clone(), e.to_string()));
                        failed_addresses.insert(address);
                        self.skip(
                            &mut queue,
                            done.op,
                            &graph,
                            changes,
                            &mut report,
                            &failed_addresses,
                            observer,
                        );
                        continue;
                    }
                    Ok(Outcome::Created(applied, found_inputs)) => {
                        state.unconfirmed_creates.remove(&address);
                        state.resources.insert(
                            address.clone(),
                            ResourceState {
                                kind: address.kind().to_owned(),
                                region: change.region.clone(),
                                id: applied.id,
                                inputs: found_inputs.unwrap_or(done.inputs),
                                outputs: applied.outputs,
                                dependencies: change.depends_on.clone(),
                            },
                        );
                        if operation.replacing {
                            report.replaced.push(address);
                        } else {
                            report.created.push(address);
                        }
                    }
                    Ok(Outcome::Updated(outputs)) => {
                        if let Some(r) = state.resources.get_mut(&address) {
                            r.inputs = done.inputs;
                            r.outputs = outputs;
                            r.dependencies = change.depends_on.clone();
                        }
                        report.updated.push(address);
                    }
                    Ok(Outcome::Deleted) => {
                        state.resources.remove(&address);
                        if !operation.replacing {
                            report.deleted.push(address);
                        }
                    }
                }
                recorded.push(done.op);
            }
            if recorded.is_empty() {
                continue;
            }
            let addresses: Vec<Address> = recorded
                .iter()
                .map(|&op| changes[graph.operations[op].change].address.clone())
                .collect();
            match blocking(|| sink.persist(state, &addresses)) {
                Ok(()) => {
                    let mut settled = Vec::new();
                    for op in recorded {
                        queue.succeeded(op);
                        settled.extend(intents.remove(&op));
                    }
                    if let Err(e) = log.clear(&settled) {
                        fatal = Some(ExecError::Journal(e));
                    }
                }
                // Stop starting work; let what runs finish and keep trying
                // to save it.
                Err(e) => fatal = Some(ExecError::Persist(e)),
            }
        }
        if fatal.is_none()
            && let Err(e) = blocking(|| sink.finish(state))
        {
            fatal = Some(ExecError::Persist(e));
        }
        let mut not_started: Vec<Address> = queue
            .unsettled()
            .into_iter()
            .map(|op| changes[graph.operations[op].change].address.clone())
            .collect();
        not_started.dedup();
        report.not_started = not_started;
        report.elapsed = started.elapsed();
        match fatal {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn skip(
        &self,
        queue: &mut ReadyQueue,
        op: usize,
        graph: &OperationGraph,
        changes: &[ResourceChange],
        report: &mut Report,
        failed: &BTreeSet<Address>,
        observer: &dyn Observer,
    ) {
        let because = changes[graph.operations[op].change].address.clone();
        let mut skipped: BTreeSet<Address> = BTreeSet::new();
        for s in queue.failed(op) {
            let address = &changes[graph.operations[s].change].address;
            if !failed.contains(address) && skipped.insert(address.clone()) {
                observer.event(&Event::Skipped {
                    address: address.clone(),
                    because: because.clone(),
                });
            }
        }
        report.skipped.extend(skipped);
    }

    /// Prepares the provider call for one operation: resolves references
    /// against the current state. `Ok(None)`: nothing to call.
    fn start(
        &self,
        op: usize,
        kind: OpKind,
        change: &ResourceChange,
        state: &State,
    ) -> Result<
        Option<(
            impl Future<Output = Finished> + Send + 'static,
            Option<Intent>,
            Status,
        )>,
        String,
    > {
        let provider = Arc::clone(
            self.providers
                .get(change.address.kind())
                .expect("checked before the run"),
        );
        let prior = state.resources.get(&change.address).cloned();
        let inputs: Attributes = match kind {
            OpKind::Delete => Attributes::new(),
            OpKind::Create | OpKind::Update => {
                let lookup = |r: &crate::address::Reference| {
                    state
                        .resources
                        .get(&r.address)?
                        .outputs
                        .get(&r.output)
                        .cloned()
                };
                let mut resolved = Attributes::new();
                for (name, value) in &change.inputs {
                    let v = value.resolve(&lookup).map_err(|_| {
                        let refs: Vec<String> = value.references().iter().map(|r| r.to_string()).collect();
                        format!("input `{name}` references {} which has no value after its dependencies ran", refs.join(", "))
                    })?;
                    resolved.insert(name.clone(), v);
                }
                resolved
            }
        };
        // A create an interrupted run sent for this address, whose outcome
        // is unknown.
        let unconfirmed = state
            .unconfirmed_creates
            .get(&change.address)
            .filter(|u| kind == OpKind::Create && u.region == change.region);
        // With the same inputs it is sent again with its token: if AWS did
        // act on it, it answers with what that call made.
        let in_doubt = unconfirmed.filter(|u| u.inputs == inputs);
        let token = (kind == OpKind::Create).then(|| match in_doubt {
            Some(u) => u.token.clone(),
            None => new_token(&self.env, &change.address),
        });
        // Not every create takes a token, and one whose inputs changed since
        // (drctl.toml edited) is another request: until the killed run's
        // request must have landed, look for what it made, by the inputs it
        // sent, before sending this one.
        let settle = unconfirmed.map(|u| (settle_left(u.missed_since_unix), u.inputs.clone()));
        let ctx = OpContext {
            env: self.env.clone(),
            address: change.address.clone(),
            region: change.region.clone(),
            token: token.clone(),
        };
        match (kind, &prior) {
            (OpKind::Update, Some(p)) if p.inputs == inputs => return Ok(None),
            (OpKind::Update, None) => {
                return Err(
                    "planned as an update, but it is no longer in state; plan again".into(),
                );
            }
            (OpKind::Delete, None) => return Ok(None),
            _ => {}
        }
        let intent = match kind {
            // An update may do part of its work before the process dies:
            // recovery reads the resource back (`recovery`).
            OpKind::Update => Some(Intent {
                id: 0,
                op: IntentOp::Update,
                address: change.address.clone(),
                region: change.region.clone(),
                inputs: inputs.clone(),
                resource_id: prior.as_ref().map(|p| p.id.clone()),
                dependencies: change.depends_on.clone(),
                token: String::new(),
            }),
            OpKind::Create => Some(Intent {
                id: 0,
                op: IntentOp::Create,
                address: change.address.clone(),
                region: change.region.clone(),
                inputs: inputs.clone(),
                resource_id: None,
                dependencies: change.depends_on.clone(),
                token: token.clone().unwrap_or_default(),
            }),
            OpKind::Delete => Some(Intent {
                id: 0,
                op: IntentOp::Delete,
                address: change.address.clone(),
                region: change.region.clone(),
                inputs: Attributes::new(),
                resource_id: prior.as_ref().map(|p| p.id.clone()),
                dependencies: Default::default(),
                token: String::new(),
            }),
        };
        let status = Status::default();
        let reports = status.clone();
        let job = async move {
            let started = Instant::now();
            let call = async {
                match kind {
                    OpKind::Create => {
                        if let Some((wait, sent)) = settle.filter(|(w, _)| !w.is_zero()) {
                            tokio::time::sleep(wait).await;
                            if let Some((found, recorded)) =
                                look_again(&*provider, &ctx, &sent, &inputs).await?
                            {
                                let recorded = (recorded != inputs).then_some(recorded);
                                return Ok(Outcome::Created(found, recorded));
                            }
                        }
                        provider
                            .create(&ctx, &inputs)
                            .await
                            .map(|applied| Outcome::Created(applied, None))
                    }
                    OpKind::Update => {
                        let p = prior.expect("checked above");
                        provider
                            .update(&ctx, &p.id, &p.inputs, &inputs)
                            .await
                            .map(Outcome::Updated)
                    }
                    OpKind::Delete => {
                        let p = prior.expect("checked above");
                        provider
                            .delete(&ctx, &p.id, &p.inputs, &p.outputs)
                            .await
                            .map(|()| Outcome::Deleted)
                    }
                }
            };
            let result = waiting::scope(reports, call).await;
            Finished {
                op,
                inputs,
                result,
                elapsed: started.elapsed(),
            }
        };
        Ok(Some((job, intent, status)))
    }
}

/// What is left of [`UNCONFIRMED_CREATE_SETTLE_SECS`] since recovery
/// first missed a create.
fn settle_left(missed_since_unix: u64) -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let settled_at = missed_since_unix.saturating_add(UNCONFIRMED_CREATE_SETTLE_SECS);
    Duration::from_secs(settled_at.saturating_sub(now))
}

/// The resource a create in doubt made after all (looked up by the inputs
/// the killed run `sent`), brought to what this create asks (the killed
/// run may have died part way through its create: a rule made, its targets
/// not yet put; or drctl.toml changed since), as a create's result, with the
/// inputs state is to record. An update changes only what it can: an input
/// that forces replacement keeps the value found (the lookup, by name,
/// found a resource this create did not make: one made by hand, say), and
/// state records that value, so the next plan replaces the resource
/// instead of taking it for what was asked. An update that fails leaves the create's intent open,
/// so the next run's recovery adopts what was found.
async fn look_again(
    provider: &dyn crate::provider::Provider,
    ctx: &OpContext,
    sent: &Attributes,
    inputs: &Attributes,
) -> Result<Option<(Applied, Attributes)>, ProviderError> {
    let Some(id) = provider.find(ctx, sent).await? else {
        return Ok(None);
    };
    let Some(observed) = provider.read(ctx, &id, sent).await? else {
        return Ok(None);
    };
    let schema = provider.schema();
    let mut reachable = inputs.clone();
    // An input a read does not give back (write-only) is taken as sent.
    for name in schema.force_new {
        if let Some(found) = observed.inputs.get(*name) {
            reachable.insert((*name).to_owned(), found.clone());
        }
    }
    let outputs = if observed.inputs == reachable {
        observed.outputs
    } else {
        provider
            .update(ctx, &id, &observed.inputs, &reachable)
            .await?
    };
    Ok(Some((Applied { id, outputs }, reachable)))
}

#[cfg(test)]
mod tests;
