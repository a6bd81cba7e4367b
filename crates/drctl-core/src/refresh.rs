//! Reading every resource in state back from its provider, concurrently,
//! so the planner sees out-of-band changes (drift).

use futures::stream::{self, StreamExt};

use crate::address::Address;
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

/// Reads every resource of `state` with at most `parallelism` reads in
/// flight, and updates `state` in memory to what was found.
pub async fn refresh(
    state: &mut State,
    providers: &Providers,
    parallelism: usize,
) -> Result<RefreshReport, Vec<RefreshError>> {
    let env = state.env.clone();
    let reads = state.resources.iter().map(|(address, r)| {
        let provider = providers.get(&r.kind).cloned();
        let ctx = OpContext {
            env: env.clone(),
            address: address.clone(),
            region: r.region.clone(),
        };
        let (id, inputs) = (r.id.clone(), r.inputs.clone());
        async move {
            let result = match provider {
                Some(p) => p.read(&ctx, &id, &inputs).await,
                None => Err(ProviderError::new(
                    "read",
                    format!("no provider implements kind `{}`", ctx.address.kind()),
                )),
            };
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
