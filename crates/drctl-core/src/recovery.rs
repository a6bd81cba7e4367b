//! Resolving the open intents an interrupted run left in the journal,
//! before anything is planned: a create whose result never reached state is
//! looked up and adopted if it exists; a delete that may have happened is
//! checked, and finished if it did. Afterwards state says exactly what
//! exists, but for creates not found: AWS may still act on a request sent
//! just before the process died, so those stay in state as unconfirmed,
//! are looked for again by later runs, and the next create of the address
//! sends the same idempotency token.
//!
//! A delete is more than its call: a provider's `delete` also waits for
//! what AWS does afterwards (an ECS service DRAINING until INACTIVE, a
//! function's network interfaces released), so that what depends on it
//! can go next. A resource that reads as gone may still be on its way out,
//! so recovery runs `delete` once more (deleting something gone succeeds)
//! before it drops the resource from state. Intents of different
//! addresses are resolved at once, as the interrupted run had them in
//! flight at once; those of one address in journal order.
//!
//! An update whose outcome never reached state may have done all, some or
//! none of its work: the resource is read and state records what it is
//! (inputs and outputs as read), so the next plan shows whatever is left
//! to change; one read as gone is dropped from state, as refresh does, and
//! the next plan creates it again.
//!
//! An intent in a region that cannot be reached (an unplanned failover
//! away from a failed region) is not looked up: it is left open for a
//! later run, with the creates in doubt there ([`recover_reachable`]).

use std::collections::BTreeMap;

use futures::future::join_all;
use thiserror::Error;

use crate::address::Address;
use crate::journal::{Intent, IntentOp};
use crate::provider::{OpContext, ProviderError, Providers};
use crate::state::{ResourceState, State, UNCONFIRMED_CREATE_LIFETIME_SECS, UnconfirmedCreate};

/// What recovery did, by address.
#[derive(Debug, Default, PartialEq)]
pub struct RecoveryReport {
    /// Created by the interrupted run and now recorded in state.
    pub adopted: Vec<Address>,
    /// Not found: their create seems not to have taken effect. Kept as
    /// unconfirmed (`State::unconfirmed_creates`) when it sent a token.
    pub not_created: Vec<Address>,
    /// Deleted by the interrupted run; removed from state.
    pub deleted: Vec<Address>,
    /// Updated (in whole, in part, or not) by the interrupted run: read,
    /// and recorded in state as found.
    pub read_back: Vec<Address>,
    /// An interrupted update's resource that no longer exists: removed
    /// from state (the next plan creates it).
    pub gone: Vec<Address>,
    /// Intents whose outcome state already had.
    pub already_recorded: Vec<Address>,
    /// Creates earlier runs could not find, looked for long enough: no
    /// longer looked for.
    pub given_up: Vec<Address>,
    /// Intents in a region left unreached: still open, for a later run.
    pub left_open: Vec<Intent>,
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

/// How one intent resolved.
enum Resolution {
    Adopted(ResourceState),
    NotCreated,
    Deleted,
    AlreadyRecorded,
    /// An update's resource as read now.
    ReadBack(ResourceState),
    /// An update's resource, no longer there.
    Gone,
}

/// Resolves `intents` (in journal order) against AWS, updating `state`
/// only if every one resolves. The creates earlier recoveries could not
/// find (`State::unconfirmed_creates`) are looked for again first.
pub async fn recover(
    state: &mut State,
    intents: &[Intent],
    providers: &Providers,
) -> Result<RecoveryReport, RecoveryError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    recover_at(state, intents, providers, &[], now).await
}

/// [`recover`] without a call to the regions in `unreachable`: their
/// intents are returned as `left_open` (the journal must keep them), and
/// the creates in doubt there stay in doubt, not looked for.
pub async fn recover_reachable(
    state: &mut State,
    intents: &[Intent],
    providers: &Providers,
    unreachable: &[String],
) -> Result<RecoveryReport, RecoveryError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    recover_at(state, intents, providers, unreachable, now).await
}

/// [`recover_reachable`] at `now` (seconds since the Unix epoch).
async fn recover_at(
    state: &mut State,
    intents: &[Intent],
    providers: &Providers,
    unreachable: &[String],
    now: u64,
) -> Result<RecoveryReport, RecoveryError> {
    let mut report = RecoveryReport::default();
    let reachable = |region: &str| !unreachable.iter().any(|r| r == region);
    let (intents, left_open): (Vec<Intent>, Vec<Intent>) =
        intents.iter().cloned().partition(|i| reachable(&i.region));
    report.left_open = left_open;
    let intents = &intents[..];
    // Created since, or looked for long enough: no longer in doubt.
    let resources = &state.resources;
    let settled: Vec<Address> = state
        .unconfirmed_creates
        .iter()
        .filter(|(a, u)| {
            resources.contains_key(*a)
                || now.saturating_sub(u.missed_since_unix) >= UNCONFIRMED_CREATE_LIFETIME_SECS
        })
        .map(|(a, _)| a.clone())
        .collect();
    for a in settled {
        state.unconfirmed_creates.remove(&a);
        if !state.resources.contains_key(&a) {
            report.given_up.push(a);
        }
    }
    // The creates still in doubt, as intents, then the journal's.
    let rechecks: Vec<Intent> = state
        .unconfirmed_creates
        .iter()
        .filter(|(_, u)| reachable(&u.region))
        .map(|(address, u)| Intent {
            id: 0,
            op: IntentOp::Create,
            address: address.clone(),
            region: u.region.clone(),
            inputs: u.inputs.clone(),
            resource_id: None,
            dependencies: u.dependencies.clone(),
            token: u.token.clone(),
        })
        .collect();
    let all: Vec<(bool, &Intent)> = rechecks
        .iter()
        .map(|i| (true, i))
        .chain(intents.iter().map(|i| (false, i)))
        .collect();

    // The positions of each address's intents, in order.
    let mut by_address: BTreeMap<&Address, Vec<usize>> = BTreeMap::new();
    for (i, (_, intent)) in all.iter().enumerate() {
        by_address.entry(&intent.address).or_default().push(i);
    }
    let env = state.env.as_str();
    let resources = &state.resources;
    let all = &all;
    let resolved = join_all(by_address.into_iter().map(|(address, list)| async move {
        let mut recorded = resources.get(address).cloned();
        let mut out = Vec::new();
        for i in list {
            let r = resolve(env, all[i].1, recorded.as_ref(), providers).await;
            match &r {
                Ok(Resolution::Adopted(resource) | Resolution::ReadBack(resource)) => {
                    recorded = Some(resource.clone())
                }
                Ok(Resolution::Deleted | Resolution::Gone) => recorded = None,
                _ => {}
            }
            let failed = r.is_err();
            out.push((i, r));
            if failed {
                break;
            }
        }
        out
    }))
    .await;
    let mut resolved: Vec<_> = resolved.into_iter().flatten().collect();
    resolved.sort_by_key(|(i, _)| *i);
    // The first failure in order; state untouched.
    let resolved = resolved
        .into_iter()
        .map(|(i, r)| r.map(|r| (all[i], r)))
        .collect::<Result<Vec<_>, _>>()?;

    for ((recheck, intent), resolution) in resolved {
        let address = intent.address.clone();
        match resolution {
            Resolution::Adopted(resource) => {
                state.unconfirmed_creates.remove(&address);
                state.resources.insert(address.clone(), resource);
                report.adopted.push(address);
            }
            // Still in doubt: kept as it was.
            Resolution::NotCreated if recheck => {}
            Resolution::NotCreated => {
                if !intent.token.is_empty() {
                    state.unconfirmed_creates.insert(
                        address.clone(),
                        UnconfirmedCreate {
                            region: intent.region.clone(),
                            inputs: intent.inputs.clone(),
                            dependencies: intent.dependencies.clone(),
                            token: intent.token.clone(),
                            missed_since_unix: now,
                        },
                    );
                }
                report.not_created.push(address);
            }
            Resolution::Deleted => {
                state.resources.remove(&address);
                report.deleted.push(address);
            }
            Resolution::AlreadyRecorded => report.already_recorded.push(address),
            Resolution::ReadBack(resource) => {
                state.resources.insert(address.clone(), resource);
                report.read_back.push(address);
            }
            Resolution::Gone => {
                state.resources.remove(&address);
                report.gone.push(address);
            }
        }
    }
    Ok(report)
}

/// Resolves one intent, given what state records at its address.
async fn resolve(
    env: &str,
    intent: &Intent,
    recorded: Option<&ResourceState>,
    providers: &Providers,
) -> Result<Resolution, RecoveryError> {
    let address = &intent.address;
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
        env: env.to_owned(),
        address: address.clone(),
        region: intent.region.clone(),
        // `find` may look the create up by the token it sent.
        token: Some(intent.token.clone()).filter(|t| !t.is_empty()),
    };
    match intent.op {
        IntentOp::Create => {
            if recorded.is_some() {
                return Ok(Resolution::AlreadyRecorded);
            }
            let Some(id) = provider.find(&ctx, &intent.inputs).await.map_err(fail)? else {
                return Ok(Resolution::NotCreated);
            };
            let Some(observed) = provider
                .read(&ctx, &id, &intent.inputs)
                .await
                .map_err(fail)?
            else {
                return Ok(Resolution::NotCreated);
            };
            Ok(Resolution::Adopted(ResourceState {
                kind: address.kind().to_owned(),
                region: intent.region.clone(),
                id,
                // What exists, so the next plan repairs whatever the
                // interrupted create left undone.
                inputs: observed.inputs,
                outputs: observed.outputs,
                dependencies: intent.dependencies.clone(),
            }))
        }
        IntentOp::Delete => {
            let Some(recorded) = recorded else {
                return Ok(Resolution::AlreadyRecorded);
            };
            let exists = provider
                .read(&ctx, &recorded.id, &recorded.inputs)
                .await
                .map_err(fail)?
                .is_some();
            if exists {
                // Still there: the plan deletes it again if it should.
                return Ok(Resolution::AlreadyRecorded);
            }
            // Gone, or on its way out: finish the delete's waits.
            provider
                .delete(&ctx, &recorded.id, &recorded.inputs, &recorded.outputs)
                .await
                .map_err(fail)?;
            Ok(Resolution::Deleted)
        }
        IntentOp::Update => {
            // Not in state (a later intent of the address removed it):
            // nothing to read.
            let Some(recorded) = recorded else {
                return Ok(Resolution::AlreadyRecorded);
            };
            // Read with the inputs state recorded before the update, not
            // those it sent: a provider fills in what it cannot read back
            // (a password, say) from these, and must not take an update
            // that may not have happened for done. At worst the next plan
            // sends again what did happen.
            match provider
                .read(&ctx, &recorded.id, &recorded.inputs)
                .await
                .map_err(fail)?
            {
                Some(observed) => Ok(Resolution::ReadBack(ResourceState {
                    inputs: observed.inputs,
                    outputs: observed.outputs,
                    // What the update would have added: a delete of the
                    // resource then still waits for those too.
                    dependencies: recorded
                        .dependencies
                        .union(&intent.dependencies)
                        .cloned()
                        .collect(),
                    ..recorded.clone()
                })),
                None => Ok(Resolution::Gone),
            }
        }
    }
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

    /// A memory provider, and the providers with only it.
    fn memory() -> (Arc<MemoryProvider>, Providers) {
        let p = Arc::new(MemoryProvider::default());
        let mut providers = Providers::new();
        providers.register(p.clone());
        (p, providers)
    }

    /// What state records of a `mem.thing` with this id.
    fn recorded(id: &str, inputs: &Attributes, outputs: &Attributes) -> ResourceState {
        ResourceState {
            kind: "mem.thing".into(),
            region: "r1".into(),
            id: id.to_owned(),
            inputs: inputs.clone(),
            outputs: outputs.clone(),
            dependencies: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_create_that_happened_is_adopted_and_one_that_did_not_is_dropped() {
        let (p, providers) = memory();
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
            journal.record(std::slice::from_mut(&mut i)).unwrap();
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
        let (p, providers) = memory();
        let inputs = Attributes::from([("name".to_string(), "x".into())]);
        let applied = p.create(&ctx("p/mem.thing/x"), &inputs).await.unwrap();
        let kept = p.create(&ctx("p/mem.thing/y"), &inputs).await.unwrap();
        let mut state = State::new("dev");
        for (a, applied) in [("p/mem.thing/x", &applied), ("p/mem.thing/y", &kept)] {
            state.resources.insert(
                a.parse().unwrap(),
                recorded(&applied.id, &inputs, &applied.outputs),
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
        // x reads as gone, but its delete may still have had waits to run:
        // recovery runs it to the end; y is left to the plan.
        let calls = p.calls.lock().unwrap().clone();
        assert_eq!(
            calls
                .iter()
                .filter(|c| c.starts_with("delete p/mem.thing/"))
                .collect::<Vec<_>>(),
            vec!["delete p/mem.thing/x", "delete p/mem.thing/x"],
            "the interrupted run's delete, then recovery's: {calls:?}"
        );
    }

    #[tokio::test]
    async fn a_gone_resource_whose_delete_cannot_finish_stays_in_state() {
        let (p, providers) = memory();
        let mut state = State::new("dev");
        // Recorded, already gone from the provider.
        state.resources.insert(
            "p/mem.thing/x".parse().unwrap(),
            recorded("thing-9", &Attributes::new(), &Attributes::new()),
        );
        p.fail_deletes.lock().unwrap().insert("x".into());
        let intents = vec![intent(
            IntentOp::Delete,
            "p/mem.thing/x",
            Attributes::new(),
            Some("thing-9".into()),
        )];
        let err = recover(&mut state, &intents, &providers).await.unwrap_err();
        assert_eq!(err.address, "p/mem.thing/x".parse().unwrap());
        assert_eq!(state.resources.len(), 1, "nothing changed");
    }

    #[tokio::test]
    async fn intents_of_different_addresses_resolve_at_once_and_report_in_journal_order() {
        let p = Arc::new(MemoryProvider::with_delay(
            std::time::Duration::from_millis(20),
        ));
        let mut providers = Providers::new();
        providers.register(p.clone());
        let inputs = |n: &str| Attributes::from([("name".to_string(), n.into())]);
        let mut state = State::new("dev");
        let mut intents = Vec::new();
        for name in ["c", "a", "b"] {
            let address = format!("p/mem.thing/{name}");
            let applied = p.create(&ctx(&address), &inputs(name)).await.unwrap();
            state.resources.insert(
                address.parse().unwrap(),
                recorded(&applied.id, &inputs(name), &applied.outputs),
            );
            intents.push(intent(
                IntentOp::Delete,
                &address,
                Attributes::new(),
                Some(applied.id),
            ));
        }
        p.peak_in_flight
            .store(0, std::sync::atomic::Ordering::SeqCst);
        let report = recover(&mut state, &intents, &providers).await.unwrap();
        assert_eq!(
            report.already_recorded,
            ["c", "a", "b"]
                .map(|n| format!("p/mem.thing/{n}").parse().unwrap())
                .to_vec()
        );
        assert_eq!(
            p.peak_in_flight.load(std::sync::atomic::Ordering::SeqCst),
            3
        );
    }

    #[tokio::test]
    async fn intents_of_one_address_resolve_in_journal_order() {
        // A replacement: the old one's delete went out, then the new one's
        // create; both were left open.
        let (p, providers) = memory();
        let old = Attributes::from([("name".to_string(), "old".into())]);
        let new = Attributes::from([("name".to_string(), "new".into())]);
        let gone = p.create(&ctx("p/mem.thing/x"), &old).await.unwrap();
        p.delete(&ctx("p/mem.thing/x"), &gone.id, &old, &gone.outputs)
            .await
            .unwrap();
        let made = p.create(&ctx("p/mem.thing/x"), &new).await.unwrap();
        let mut state = State::new("dev");
        state.resources.insert(
            "p/mem.thing/x".parse().unwrap(),
            recorded(&gone.id, &old, &gone.outputs),
        );
        let intents = vec![
            intent(
                IntentOp::Delete,
                "p/mem.thing/x",
                Attributes::new(),
                Some(gone.id),
            ),
            intent(IntentOp::Create, "p/mem.thing/x", new, None),
        ];
        let report = recover(&mut state, &intents, &providers).await.unwrap();
        assert_eq!(report.deleted, vec!["p/mem.thing/x".parse().unwrap()]);
        assert_eq!(report.adopted, vec!["p/mem.thing/x".parse().unwrap()]);
        assert_eq!(
            state.resources[&"p/mem.thing/x".parse().unwrap()].id,
            made.id
        );
    }

    #[tokio::test]
    async fn a_create_not_found_stays_unconfirmed_until_it_appears_or_an_hour_passes() {
        let (p, providers) = memory();
        let late = Attributes::from([("name".to_string(), "late".into())]);
        let never = Attributes::from([("name".to_string(), "never".into())]);
        let with_token = |address: &str, inputs: &Attributes| Intent {
            token: format!("token-of-{address}"),
            ..intent(IntentOp::Create, address, inputs.clone(), None)
        };
        let intents = vec![
            with_token("p/mem.thing/late", &late),
            with_token("p/mem.thing/never", &never),
            // A journal of an older drctl: no token to send again.
            intent(IntentOp::Create, "p/mem.thing/old", late.clone(), None),
        ];
        let mut state = State::new("dev");
        let report = recover_at(&mut state, &intents, &providers, &[], 1000)
            .await
            .unwrap();
        assert_eq!(report.not_created.len(), 3);
        let unconfirmed = &state.unconfirmed_creates;
        assert_eq!(
            unconfirmed
                .keys()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["p/mem.thing/late", "p/mem.thing/never"]
        );
        let late_entry = &unconfirmed[&"p/mem.thing/late".parse().unwrap()];
        assert_eq!(late_entry.token, "token-of-p/mem.thing/late");
        assert_eq!(late_entry.inputs, late);
        assert_eq!(late_entry.missed_since_unix, 1000);

        // The request AWS was still working on lands after that lookup;
        // the next run (no journal) finds it and adopts it.
        let made = p.create(&ctx("p/mem.thing/late"), &late).await.unwrap();
        let report = recover_at(&mut state, &[], &providers, &[], 1100)
            .await
            .unwrap();
        assert_eq!(report.adopted, vec!["p/mem.thing/late".parse().unwrap()]);
        assert!(report.not_created.is_empty(), "kept quietly: {report:?}");
        assert_eq!(
            state.resources[&"p/mem.thing/late".parse().unwrap()].id,
            made.id
        );
        assert_eq!(
            state
                .unconfirmed_creates
                .keys()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["p/mem.thing/never"]
        );

        // An hour after it was first missed, it is no longer looked for.
        let finds_before = p.calls.lock().unwrap().len();
        let report = recover_at(&mut state, &[], &providers, &[], 1000 + 3600)
            .await
            .unwrap();
        assert_eq!(report.given_up, vec!["p/mem.thing/never".parse().unwrap()]);
        assert!(state.unconfirmed_creates.is_empty());
        assert_eq!(p.calls.lock().unwrap().len(), finds_before, "no call");
    }

    #[tokio::test]
    async fn intents_in_an_unreachable_region_are_left_open_without_a_call() {
        let (p, providers) = memory();
        let inputs = |n: &str| Attributes::from([("name".to_string(), n.into())]);
        let made = p
            .create(&ctx("p/mem.thing/near"), &inputs("near"))
            .await
            .unwrap();
        // Both exist: were they looked for, they would be adopted.
        p.create(&ctx("p/mem.thing/far"), &inputs("far"))
            .await
            .unwrap();
        p.create(&ctx("p/mem.thing/doubt"), &inputs("doubt"))
            .await
            .unwrap();
        let far = Intent {
            region: "r2".into(),
            token: "token-far".into(),
            ..intent(IntentOp::Create, "p/mem.thing/far", inputs("far"), None)
        };
        let near = intent(IntentOp::Create, "p/mem.thing/near", inputs("near"), None);
        let mut state = State::new("dev");
        state.unconfirmed_creates.insert(
            "p/mem.thing/doubt".parse().unwrap(),
            UnconfirmedCreate {
                region: "r2".into(),
                inputs: inputs("doubt"),
                dependencies: Default::default(),
                token: "token-doubt".into(),
                missed_since_unix: 990,
            },
        );
        let calls_before = p.calls.lock().unwrap().len();
        let report = recover_at(
            &mut state,
            &[far.clone(), near],
            &providers,
            &["r2".to_owned()],
            1000,
        )
        .await
        .unwrap();
        assert_eq!(report.left_open, vec![far]);
        assert_eq!(report.adopted, vec!["p/mem.thing/near".parse().unwrap()]);
        assert_eq!(
            state.resources[&"p/mem.thing/near".parse().unwrap()].id,
            made.id
        );
        // Only the reachable create was looked for; the one in doubt in
        // r2 is kept as it was.
        let calls: Vec<String> = p.calls.lock().unwrap()[calls_before..].to_vec();
        assert!(
            calls
                .iter()
                .all(|c| !c.contains("far") && !c.contains("doubt")),
            "{calls:?}"
        );
        assert!(
            state
                .unconfirmed_creates
                .contains_key(&"p/mem.thing/doubt".parse().unwrap())
        );
    }

    /// A sink that fails to save: the process "dies" between a provider
    /// call and state recording its outcome.
    struct LostSave;

    impl crate::executor::StateSink for LostSave {
        fn persist(
            &mut self,
            _state: &mut State,
            changed: &[Address],
        ) -> Result<(), crate::store::StoreError> {
            Err(crate::store::StoreError::Remote {
                location: changed[0].to_string(),
                reason: "lost (test)".into(),
            })
        }
        fn finish(&mut self, _state: &mut State) -> Result<(), crate::store::StoreError> {
            Ok(())
        }
    }

    /// A sink that saves (in memory).
    struct SavedSink;

    impl crate::executor::StateSink for SavedSink {
        fn persist(
            &mut self,
            state: &mut State,
            _changed: &[Address],
        ) -> Result<(), crate::store::StoreError> {
            state.serial += 1;
            Ok(())
        }
        fn finish(&mut self, _state: &mut State) -> Result<(), crate::store::StoreError> {
            Ok(())
        }
    }

    /// A `mem.thing` at `p/mem.thing/x`, created and recorded with `size`.
    async fn recorded_thing(p: &MemoryProvider, state: &mut State, size: i64) -> String {
        let inputs = Attributes::from([("size".to_string(), size.into())]);
        let applied = p.create(&ctx("p/mem.thing/x"), &inputs).await.unwrap();
        state.resources.insert(
            "p/mem.thing/x".parse().unwrap(),
            recorded(&applied.id, &inputs, &applied.outputs),
        );
        applied.id
    }

    fn desired_size(size: i64) -> crate::DesiredGraph {
        crate::DesiredGraph::new(vec![
            crate::ResourceSpec::new("p/mem.thing/x".parse().unwrap(), "r1").input("size", size),
        ])
        .unwrap()
    }

    /// An update whose outcome never reached state: the executor recorded
    /// its intent before the call, and recovery reads the resource back,
    /// so the next plan has nothing left to do.
    #[tokio::test]
    async fn an_interrupted_update_is_read_back_and_the_next_plan_is_empty() {
        let (p, providers) = memory();
        let mut state = State::new("dev");
        let id = recorded_thing(&p, &mut state, 1).await;
        let changes = crate::planner::plan_apply(&desired_size(2), &state, &providers);
        assert_eq!(changes[0].action, crate::Action::Update);

        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::begin(dir.path(), "dev");
        let mut run_state = state.clone();
        let err = crate::executor::Executor::new(providers.clone(), "dev", 4)
            .run(
                &changes,
                &mut run_state,
                &mut LostSave,
                &mut journal,
                &|_: &crate::executor::Event| {},
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("lost (test)"), "{err}");
        // The update went out; state (as saved) does not know.
        assert_eq!(p.objects.lock().unwrap()[&id]["size"], 2);
        let intents = Journal::open_intents(dir.path(), "dev").unwrap();
        assert_eq!(intents.len(), 1, "{intents:?}");
        assert_eq!(intents[0].op, IntentOp::Update);
        assert_eq!(intents[0].resource_id.as_deref(), Some(id.as_str()));
        assert_eq!(intents[0].inputs["size"], 2);

        let report = recover(&mut state, &intents, &providers).await.unwrap();
        assert_eq!(report.read_back, vec!["p/mem.thing/x".parse().unwrap()]);
        let x = &state.resources[&"p/mem.thing/x".parse().unwrap()];
        assert_eq!(x.inputs["size"], 2);
        assert_eq!(x.id, id);
        let next = crate::planner::plan_apply(&desired_size(2), &state, &providers);
        assert_eq!(next[0].action, crate::Action::NoOp, "{next:?}");
    }

    /// An update intent whose call never went out (or failed): what is
    /// read is what state had, and the next plan still updates.
    #[tokio::test]
    async fn an_update_that_did_not_happen_is_still_planned() {
        let (p, providers) = memory();
        let mut state = State::new("dev");
        let id = recorded_thing(&p, &mut state, 1).await;
        p.fail_names.lock().unwrap().insert("x".into());
        let changes = crate::planner::plan_apply(&desired_size(2), &state, &providers);
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::begin(dir.path(), "dev");
        let report = crate::executor::Executor::new(providers.clone(), "dev", 4)
            .run(
                &changes,
                &mut state,
                &mut SavedSink,
                &mut journal,
                &|_: &crate::executor::Event| {},
            )
            .await
            .unwrap();
        assert_eq!(report.failed.len(), 1);
        // A failed update may have done part of its work: its intent stays.
        let intents = Journal::open_intents(dir.path(), "dev").unwrap();
        assert_eq!(intents.len(), 1);
        assert_eq!(intents[0].op, IntentOp::Update);

        p.fail_names.lock().unwrap().clear();
        let report = recover(&mut state, &intents, &providers).await.unwrap();
        assert_eq!(report.read_back, vec!["p/mem.thing/x".parse().unwrap()]);
        assert_eq!(state.resources[&"p/mem.thing/x".parse().unwrap()].id, id);
        let next = crate::planner::plan_apply(&desired_size(2), &state, &providers);
        assert_eq!(next[0].action, crate::Action::Update);
    }

    /// An interrupted update of a resource that is gone now: state drops
    /// it, and the next plan creates it again.
    #[tokio::test]
    async fn an_interrupted_update_of_a_resource_now_gone_drops_it() {
        let (p, providers) = memory();
        let mut state = State::new("dev");
        let id = recorded_thing(&p, &mut state, 1).await;
        p.objects.lock().unwrap().remove(&id);
        let update = Intent {
            resource_id: Some(id),
            ..intent(
                IntentOp::Update,
                "p/mem.thing/x",
                Attributes::from([("size".to_string(), 2.into())]),
                None,
            )
        };
        let report = recover(&mut state, &[update], &providers).await.unwrap();
        assert_eq!(report.gone, vec!["p/mem.thing/x".parse().unwrap()]);
        assert!(state.resources.is_empty());
        let next = crate::planner::plan_apply(&desired_size(2), &state, &providers);
        assert_eq!(next[0].action, crate::Action::Create);
    }
}
