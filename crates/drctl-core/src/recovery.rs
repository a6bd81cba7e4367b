//! Resolving the open intents an interrupted run left in the journal,
//! before anything is planned: a create whose result never reached state is
//! looked up and adopted if it exists; a delete that may have happened is
//! checked. Afterwards state says exactly what exists.

use thiserror::Error;

use crate::address::Address;
use crate::journal::{Intent, IntentOp};
use crate::provider::{OpContext, ProviderError, Providers};
use crate::state::{ResourceState, State};

/// What recovery did, by address.
#[derive(Debug, Default, PartialEq)]
pub struct RecoveryReport {
    /// Created by the interrupted run and now recorded in state.
    pub adopted: Vec<Address>,
    /// Their create never took effect; nothing to record.
    pub not_created: Vec<Address>,
    /// Deleted by the interrupted run; removed from state.
    pub deleted: Vec<Address>,
    /// Intents whose outcome state already had.
    pub already_recorded: Vec<Address>,
}

impl RecoveryReport {
    pub fn is_empty(&self) -> bool {
        *self == RecoveryReport::default()
    }
}

#[derive(Debug, Error)]
#[error(
    "recovering `{address}` from an interrupted run failed: {source}; nothing was changed, run again once the cause is fixed"
)]
pub struct RecoveryError {
    pub address: Address,
    pub source: ProviderError,
}

/// Resolves `intents` (in journal order) against AWS, updating `state`.
pub async fn recover(
    state: &mut State,
    intents: &[Intent],
    providers: &Providers,
) -> Result<RecoveryReport, RecoveryError> {
    let mut report = RecoveryReport::default();
    for intent in intents {
        let address = intent.address.clone();
        let fail = |source| RecoveryError {
            address: address.clone(),
            source,
        };
        let provider = providers.get(address.kind()).ok_or_else(|| {
            fail(ProviderError::new(
                "recover",
                format!("no provider implements kind `{}`", address.kind()),
            ))
        })?;
        let ctx = OpContext {
            env: state.env.clone(),
            address: address.clone(),
            region: intent.region.clone(),
            // `find` may look the create up by the token it sent.
            token: Some(intent.token.clone()).filter(|t| !t.is_empty()),
        };
        match intent.op {
            IntentOp::Create => {
                if state.resources.contains_key(&address) {
                    report.already_recorded.push(address);
                    continue;
                }
                let found = provider.find(&ctx, &intent.inputs).await.map_err(fail)?;
                let observed = match &found {
                    Some(id) => provider
                        .read(&ctx, id, &intent.inputs)
                        .await
                        .map_err(fail)?,
                    None => None,
                };
                match (found, observed) {
                    (Some(id), Some(observed)) => {
                        state.resources.insert(
                            address.clone(),
                            ResourceState {
                                kind: address.kind().to_owned(),
                                region: intent.region.clone(),
                                id,
                                // What exists, so the next plan repairs
                                // whatever the interrupted create left undone.
                                inputs: observed.inputs,
                                outputs: observed.outputs,
                                dependencies: intent.dependencies.clone(),
                            },
                        );
                        report.adopted.push(address);
                    }
                    _ => report.not_created.push(address),
                }
            }
            IntentOp::Delete => {
                let Some(recorded) = state.resources.get(&address) else {
                    report.already_recorded.push(address);
                    continue;
                };
                let exists = provider
                    .read(&ctx, &recorded.id, &recorded.inputs)
                    .await
                    .map_err(fail)?
                    .is_some();
                if exists {
                    report.already_recorded.push(address);
                } else {
                    state.resources.remove(&address);
                    report.deleted.push(address);
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::journal::{IntentLog, Journal};
    use crate::testing::MemoryProvider;
    use crate::value::Attributes;
    use crate::{Provider, State};

    fn ctx(address: &str) -> OpContext {
        OpContext {
            token: None,
            env: "dev".into(),
            address: address.parse().unwrap(),
            region: "r1".into(),
        }
    }

    fn intent(
        op: IntentOp,
        address: &str,
        inputs: Attributes,
        resource_id: Option<String>,
    ) -> Intent {
        Intent {
            id: 0,
            op,
            address: address.parse().unwrap(),
            region: "r1".into(),
            inputs,
            resource_id,
            dependencies: Default::default(),
            token: String::new(),
        }
    }

    #[tokio::test]
    async fn a_create_that_happened_is_adopted_and_one_that_did_not_is_dropped() {
        let p = Arc::new(MemoryProvider::default());
        let mut providers = Providers::new();
        providers.register(p.clone());
        // The interrupted run created `made` but died before saving state.
        let made = Attributes::from([("name".to_string(), "made".into())]);
        p.create(&ctx("p/mem.thing/made"), &made).await.unwrap();
        let lost = Attributes::from([("name".to_string(), "lost".into())]);

        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::begin(dir.path(), "dev");
        for mut i in [
            intent(IntentOp::Create, "p/mem.thing/made", made.clone(), None),
            intent(IntentOp::Create, "p/mem.thing/lost", lost, None),
        ] {
            journal.record(&mut i).unwrap();
        }
        let intents = Journal::open_intents(dir.path(), "dev").unwrap();
        let mut state = State::new("dev");
        let report = recover(&mut state, &intents, &providers).await.unwrap();
        assert_eq!(report.adopted, vec!["p/mem.thing/made".parse().unwrap()]);
        assert_eq!(
            report.not_created,
            vec!["p/mem.thing/lost".parse().unwrap()]
        );
        let adopted = &state.resources[&"p/mem.thing/made".parse().unwrap()];
        assert_eq!(adopted.inputs, made);
        assert_eq!(adopted.id, "thing-0");
    }

    #[tokio::test]
    async fn a_delete_that_happened_leaves_state() {
        let p = Arc::new(MemoryProvider::default());
        let mut providers = Providers::new();
        providers.register(p.clone());
        let inputs = Attributes::from([("name".to_string(), "x".into())]);
        let applied = p.create(&ctx("p/mem.thing/x"), &inputs).await.unwrap();
        let kept = p.create(&ctx("p/mem.thing/y"), &inputs).await.unwrap();
        let mut state = State::new("dev");
        for (a, applied) in [("p/mem.thing/x", &applied), ("p/mem.thing/y", &kept)] {
            state.resources.insert(
                a.parse().unwrap(),
                ResourceState {
                    kind: "mem.thing".into(),
                    region: "r1".into(),
                    id: applied.id.clone(),
                    inputs: inputs.clone(),
                    outputs: applied.outputs.clone(),
                    dependencies: Default::default(),
                },
            );
        }
        // x was deleted before the crash; y's delete never went out.
        p.delete(
            &ctx("p/mem.thing/x"),
            &applied.id,
            &inputs,
            &applied.outputs,
        )
        .await
        .unwrap();
        let intents = vec![
            intent(
                IntentOp::Delete,
                "p/mem.thing/x",
                Attributes::new(),
                Some(applied.id.clone()),
            ),
            intent(
                IntentOp::Delete,
                "p/mem.thing/y",
                Attributes::new(),
                Some(kept.id.clone()),
            ),
        ];
        let report = recover(&mut state, &intents, &providers).await.unwrap();
        assert_eq!(report.deleted, vec!["p/mem.thing/x".parse().unwrap()]);
        assert_eq!(
            report.already_recorded,
            vec!["p/mem.thing/y".parse().unwrap()]
        );
        assert_eq!(state.resources.len(), 1);
    }
}
