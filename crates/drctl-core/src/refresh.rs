//! Reading every resource in state back from its provider, concurrently,
//! so the planner sees out-of-band changes (drift).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use tokio::sync::Semaphore;

use crate::address::Address;
use crate::graph::DesiredGraph;
use crate::provider::{OpContext, ProviderError, Providers};
use crate::state::State;

/// What a refresh found.
#[derive(Debug, Default)]
pub struct RefreshReport {
    /// Resources whose inputs or outputs differed from state.
    pub drifted: Vec<Address>,
    /// Resources that no longer exist (removed from state; the plan recreates them).
    pub gone: Vec<Address>,
}

#[derive(Debug, thiserror::Error)]
#[error("refreshing `{address}` failed: {source}")]
pub struct RefreshError {
    pub address: Address,
    pub source: ProviderError,
}

/// Reads in flight at once against one service in one region. The APIs'
/// rate limits are the AWS clients' to keep (per service, region and
/// bucket, at the rates AWS publishes); this bound only keeps one
/// service's reads from taking every slot of the overall one.
pub const READS_PER_SERVICE: usize = 32;

/// Reads in flight at once overall, by default: a read waits on no other
/// (unlike a change), so the bound is the rate limits' and the
/// connections', not the graph's.
pub const DEFAULT_READ_PARALLELISM: usize = 256;

/// Reads every resource of `state` (of `only`, when given) with at most
/// `parallelism` reads in flight overall and `READS_PER_SERVICE` per
/// service and region, and updates `state` in memory to what was found.
pub async fn refresh(
    state: &mut State,
    providers: &Providers,
    parallelism: usize,
    only: Option<&BTreeSet<Address>>,
) -> Result<RefreshReport, Vec<RefreshError>> {
    let env = state.env.clone();
    let mut limits: HashMap<(String, String), Arc<Semaphore>> = HashMap::new();
    let read = |address: &Address| only.is_none_or(|only| only.contains(address));
    let reads = state
        .resources
        .iter()
        .filter(|(a, _)| read(a))
        .map(|(address, r)| {
            let service = r.kind.split('.').next().unwrap_or_default().to_owned();
            let limit = Arc::clone(
                limits
                    .entry((service, r.region.clone()))
                    .or_insert_with(|| Arc::new(Semaphore::new(READS_PER_SERVICE))),
            );
            let provider = providers.get(&r.kind).cloned();
            let ctx = OpContext {
                token: None,
                env: env.clone(),
                address: address.clone(),
                region: r.region.clone(),
            };
            let (id, inputs) = (r.id.clone(), r.inputs.clone());
            async move {
                let _permit = limit.acquire_owned().await.expect("never closed");
                let started = std::time::Instant::now();
                let result = match provider {
                    Some(p) => p.read(&ctx, &id, &inputs).await,
                    None => Err(ProviderError::new(
                        "read",
                        format!("no provider implements kind `{}`", ctx.address.kind()),
                    )),
                };
                tracing::debug!(
                    "read {} in {} ms",
                    ctx.address,
                    started.elapsed().as_millis()
                );
                (ctx.address, result)
            }
        });
    let results: Vec<_> = stream::iter(reads)
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    let mut report = RefreshReport::default();
    let mut errors = Vec::new();
    for (address, result) in results {
        match result {
            Err(source) => errors.push(RefreshError { address, source }),
            Ok(None) => {
                state.resources.remove(&address);
                report.gone.push(address);
            }
            Ok(Some(observed)) => {
                let r = state.resources.get_mut(&address).expect("read from state");
                if r.inputs != observed.inputs || r.outputs != observed.outputs {
                    r.inputs = observed.inputs;
                    r.outputs = observed.outputs;
                    report.drifted.push(address);
                }
            }
        }
    }
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.address.cmp(&b.address));
        return Err(errors);
    }
    report.drifted.sort();
    report.gone.sort();
    Ok(report)
}

/// The resources of `state` of which `desired` references an output that
/// state does not record: one a newer drctl added to their kind (e.g. a
/// global cluster's `endpoint`). [`read_outputs`] reads them, so that a
/// plan resolves those references without a full refresh.
pub fn missing_outputs(desired: &DesiredGraph, state: &State) -> Vec<Address> {
    let mut missing: Vec<Address> = desired
        .resources()
        .flat_map(|spec| spec.inputs.values().flat_map(|v| v.references()))
        .filter(|r| {
            state
                .resources
                .get(&r.address)
                .is_some_and(|recorded| !recorded.outputs.contains_key(&r.output))
        })
        .map(|r| r.address.clone())
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

/// Reads the resources `which` and records the outputs read; their inputs
/// stay as recorded (what changed outside drctl is `refresh`'s to report),
/// and one found gone is left to the next refresh.
pub async fn read_outputs(
    state: &mut State,
    providers: &Providers,
    which: &[Address],
) -> Result<(), Vec<RefreshError>> {
    let mut part = State::new(&state.env);
    for a in which {
        if let Some(r) = state.resources.get(a) {
            part.resources.insert(a.clone(), r.clone());
        }
    }
    refresh(&mut part, providers, READS_PER_SERVICE, None).await?;
    for (a, read) in part.resources {
        if let Some(r) = state.resources.get_mut(&a) {
            r.outputs = read.outputs;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use super::*;
    use crate::state::ResourceState;
    use crate::testing::MemoryProvider;
    use crate::{Attributes, Provider};

    #[tokio::test]
    async fn reads_are_bounded_per_service_and_drift_and_gone_are_reported() {
        let p = Arc::new(MemoryProvider::with_delay(Duration::from_millis(20)));
        let mut providers = Providers::new();
        providers.register(p.clone());
        let mut state = State::new("dev");
        // More reads of one service than it may have in flight.
        let n = 2 * READS_PER_SERVICE + 5;
        for i in 0..n {
            let address: Address = format!("p/mem.thing/n{i}").parse().unwrap();
            let ctx = OpContext {
                token: None,
                env: "dev".into(),
                address: address.clone(),
                region: "r1".into(),
            };
            let inputs = Attributes::from([("size".to_string(), i.into())]);
            let applied = p.create(&ctx, &inputs).await.unwrap();
            state.resources.insert(
                address,
                ResourceState {
                    kind: "mem.thing".into(),
                    region: "r1".into(),
                    id: applied.id,
                    inputs,
                    outputs: Attributes::from([("id".to_string(), format!("thing-{i}").into())]),
                    dependencies: Default::default(),
                },
            );
        }
        // Out of band: one object changed, one gone.
        p.objects.lock().unwrap().insert(
            "thing-3".into(),
            Attributes::from([("size".to_string(), 99.into())]),
        );
        p.objects.lock().unwrap().remove("thing-5");
        p.peak_in_flight.store(0, Ordering::SeqCst);
        // Only the resources asked for are read: the others' changes stay
        // unseen.
        let only: BTreeSet<Address> = ["p/mem.thing/n1".parse().unwrap()].into();
        let report = refresh(
            &mut state,
            &providers,
            DEFAULT_READ_PARALLELISM,
            Some(&only),
        )
        .await
        .unwrap();
        assert!(report.drifted.is_empty() && report.gone.is_empty());
        assert_eq!(state.resources.len(), n);
        let report = refresh(&mut state, &providers, DEFAULT_READ_PARALLELISM, None)
            .await
            .unwrap();
        assert_eq!(
            report.drifted,
            vec!["p/mem.thing/n3".parse::<Address>().unwrap()]
        );
        assert_eq!(
            report.gone,
            vec!["p/mem.thing/n5".parse::<Address>().unwrap()]
        );
        assert_eq!(state.resources.len(), n - 1);
        assert_eq!(
            state.resources[&"p/mem.thing/n3".parse::<Address>().unwrap()].inputs["size"],
            99
        );
        // The bound held, and was reached (the overall one is wider).
        assert_eq!(p.peak_in_flight.load(Ordering::SeqCst), READS_PER_SERVICE);
    }

    #[tokio::test]
    async fn an_output_state_lacks_is_read_without_touching_inputs() {
        let p = Arc::new(MemoryProvider::default());
        let mut providers = Providers::new();
        providers.register(p.clone());
        let thing: Address = "p/mem.thing/a".parse().unwrap();
        let ctx = OpContext {
            token: None,
            env: "dev".into(),
            address: thing.clone(),
            region: "r1".into(),
        };
        let inputs = Attributes::from([("size".to_string(), 1.into())]);
        let applied = p.create(&ctx, &inputs).await.unwrap();
        let mut state = State::new("dev");
        // Recorded by an older drctl: no outputs, and inputs it wrote.
        let recorded_inputs = Attributes::from([
            ("size".to_string(), 1.into()),
            ("old".to_string(), true.into()),
        ]);
        state.resources.insert(
            thing.clone(),
            ResourceState {
                kind: "mem.thing".into(),
                region: "r1".into(),
                id: applied.id.clone(),
                inputs: recorded_inputs.clone(),
                outputs: Attributes::new(),
                dependencies: Default::default(),
            },
        );
        let user = crate::ResourceSpec::new("p/mem.thing/b".parse().unwrap(), "r1").input(
            "of",
            crate::Value::Ref(crate::Reference {
                address: thing.clone(),
                output: "id".into(),
            }),
        );
        let desired = DesiredGraph::new(vec![
            crate::ResourceSpec::new(thing.clone(), "r1").input("size", 1),
            user,
        ])
        .unwrap();
        let missing = missing_outputs(&desired, &state);
        assert_eq!(missing, vec![thing.clone()]);
        read_outputs(&mut state, &providers, &missing)
            .await
            .unwrap();
        let r = &state.resources[&thing];
        assert_eq!(r.outputs["id"], serde_json::json!(applied.id));
        assert_eq!(r.inputs, recorded_inputs);
        assert!(missing_outputs(&desired, &state).is_empty());
    }
}
