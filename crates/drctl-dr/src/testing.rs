//! A fake of the [`Cloud`] port and of the state backend, for the tests of
//! status, checks and the switch: what the cloud holds is plain data the
//! test sets, and every call that changes something (and every state
//! save) is appended to one shared log, in order, with its region.
//!
//! The fake behaves as AWS does where a switch depends on it: once a move
//! of the writer was asked for, waiting for it makes the target the
//! writer; publishing the fence metric puts the fence alarm in ALARM (1)
//! or OK (0); setting the weights changes what the next read returns.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use drctl_blueprint::Role;
use drctl_core::backend::{Backend, HeldLock};
use drctl_core::journal::{Intent, IntentLog, JournalError};
use drctl_core::lock::{LockError, LockInfo};
use drctl_core::store::StoreError;
use drctl_core::{Address, ProviderError, State};

use crate::cloud::{
    Cloud, CompletedJob, GlobalDatabase, GlobalMember, ReplicationRule, TableState, WriterChange,
};
use crate::targets::{Targets, tests::applied};

/// What was done, in order ("region: what").
pub type Log = Arc<Mutex<Vec<String>>>;

/// The regions of the fake environment: the primary's and the secondary's
/// clusters, the fence alarm in the secondary region.
pub const PRIMARY_REGION: &str = "us-east-1";
pub const SECONDARY_REGION: &str = "us-east-2";

/// The applied environment's targets, the primary cluster in
/// [`PRIMARY_REGION`], the secondary in [`SECONDARY_REGION`].
pub fn targets() -> Targets {
    let mut t = Targets::from_state(&applied()).unwrap();
    for c in &mut t.clusters {
        c.region = match c.role {
            Role::Primary => PRIMARY_REGION.into(),
            Role::Secondary => SECONDARY_REGION.into(),
        };
    }
    t
}

/// What the fake cloud holds.
#[derive(Clone, Debug)]
pub struct World {
    /// By set identifier.
    pub weights: BTreeMap<String, i64>,
    pub global: Option<GlobalDatabase>,
    /// By cluster id.
    pub clusters: BTreeMap<String, String>,
    pub table: Option<TableState>,
    pub rules: Option<Vec<ReplicationRule>>,
    pub versioning: Option<String>,
    pub lag_seconds: Option<f64>,
    /// By (region, alarm name).
    pub alarms: BTreeMap<(String, String), String>,
    /// The writer asked for and not yet waited for.
    pub moving_to: Option<String>,
}

impl World {
    /// An environment ready to fail over: the primary writes and takes all
    /// traffic, the fence is down, everything replicates with 1 s of lag.
    pub fn healthy(t: &Targets) -> World {
        let mut weights = BTreeMap::new();
        weights.insert(t.records[0].set_identifier.clone(), 100);
        weights.insert(t.records[1].set_identifier.clone(), 0);
        let mut alarms = BTreeMap::new();
        alarms.insert(
            (t.fence.region.clone(), t.fence.alarm.clone()),
            "OK".to_owned(),
        );
        for (region, name) in &t.alarms {
            alarms.insert((region.clone(), name.clone()), "OK".to_owned());
        }
        World {
            weights,
            global: Some(GlobalDatabase {
                identifier: t.global_id.clone(),
                status: "available".into(),
                members: t
                    .clusters
                    .iter()
                    .map(|c| GlobalMember {
                        cluster_arn: c.arn.clone(),
                        is_writer: c.role == Role::Primary,
                    })
                    .collect(),
                failover: None,
            }),
            clusters: t
                .clusters
                .iter()
                .map(|c| (c.id.clone(), "available".to_owned()))
                .collect(),
            table: Some(TableState {
                status: "ACTIVE".into(),
                replicas: vec![(SECONDARY_REGION.into(), "ACTIVE".into())],
            }),
            rules: Some(vec![ReplicationRule {
                id: t.replication_rule.clone(),
                status: "Enabled".into(),
                destination_bucket_arn: format!("arn:aws:s3:::{}", t.destination_bucket),
            }]),
            versioning: Some("Enabled".into()),
            lag_seconds: Some(1.0),
            alarms,
            moving_to: None,
        }
    }

    /// Makes the cluster `arn` the global database's writer.
    pub fn set_writer(&mut self, arn: &str) {
        if let Some(g) = &mut self.global {
            for m in &mut g.members {
                m.is_writer = m.cluster_arn == arn;
            }
        }
    }
}

/// The fake cloud: a [`World`], the log, and the one operation that fails.
pub struct FakeCloud {
    pub world: Mutex<World>,
    pub log: Log,
    /// The name of the [`Cloud`] method that fails (every call of it).
    pub failing: Mutex<Option<&'static str>>,
    /// Every region called, reads included (`route53` for Route 53's API).
    pub called: Mutex<Vec<String>>,
    /// A region (`route53` for Route 53's API) whose every call answers
    /// after this long, as one that is down answers after its retries.
    pub slow: Mutex<Option<(String, std::time::Duration)>>,
    /// Calls to the slow region under way now, and the most at once.
    pub slow_in_flight: std::sync::atomic::AtomicUsize,
    pub slow_peak: std::sync::atomic::AtomicUsize,
}

impl FakeCloud {
    pub fn new(world: World, log: Log) -> FakeCloud {
        FakeCloud {
            world: Mutex::new(world),
            log,
            failing: Mutex::new(None),
            called: Mutex::new(Vec::new()),
            slow: Mutex::new(None),
            slow_in_flight: Default::default(),
            slow_peak: Default::default(),
        }
    }

    /// Makes every call of `method` fail from now on (`None`: none).
    pub fn fail(&self, method: Option<&'static str>) {
        *self.failing.lock().unwrap() = method;
    }

    /// Whether any call, read or write, went to `region`.
    pub fn called(&self, region: &str) -> bool {
        self.called.lock().unwrap().iter().any(|r| r == region)
    }

    /// Fails when `method` is the failing one; logs a change. A call to
    /// the slow region answers late.
    async fn call(
        &self,
        method: &'static str,
        region: &str,
        what: Option<String>,
    ) -> Result<(), ProviderError> {
        self.called.lock().unwrap().push(region.to_owned());
        let delay = self
            .slow
            .lock()
            .unwrap()
            .as_ref()
            .filter(|(slow, _)| slow == region)
            .map(|(_, delay)| *delay);
        if let Some(delay) = delay {
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.slow_in_flight.fetch_add(1, SeqCst) + 1;
            self.slow_peak.fetch_max(now, SeqCst);
            tokio::time::sleep(delay).await;
            self.slow_in_flight.fetch_sub(1, SeqCst);
        }
        if *self.failing.lock().unwrap() == Some(method) {
            self.log
                .lock()
                .unwrap()
                .push(format!("{region}: {method} failed"));
            return Err(ProviderError::new(method, "injected failure").with_code("Injected"));
        }
        if let Some(what) = what {
            self.log.lock().unwrap().push(format!("{region}: {what}"));
        }
        Ok(())
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }
}

#[async_trait]
impl Cloud for FakeCloud {
    async fn record_weights(
        &self,
        _zone: &str,
        _name: &str,
        _ty: &str,
        set_identifiers: &[&str],
    ) -> Result<Vec<Option<i64>>, ProviderError> {
        self.call("record_weights", "route53", None).await?;
        let w = self.world();
        Ok(set_identifiers
            .iter()
            .map(|id| w.weights.get(*id).copied())
            .collect())
    }

    async fn set_record_weights(
        &self,
        _zone: &str,
        _name: &str,
        _ty: &str,
        weights: &[(&str, i64)],
    ) -> Result<bool, ProviderError> {
        let text: Vec<String> = weights.iter().map(|(id, w)| format!("{id}={w}")).collect();
        self.call(
            "set_record_weights",
            "route53",
            Some(format!("set weights {}", text.join(" "))),
        )
        .await?;
        let mut w = self.world();
        for (id, weight) in weights {
            w.weights.insert((*id).to_owned(), *weight);
        }
        Ok(true)
    }

    async fn global_database(
        &self,
        region: &str,
        _id: &str,
    ) -> Result<Option<GlobalDatabase>, ProviderError> {
        self.call("global_database", region, None).await?;
        Ok(self.world().global.clone())
    }

    async fn cluster_status(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Option<String>, ProviderError> {
        self.call("cluster_status", region, None).await?;
        Ok(self.world().clusters.get(id).cloned())
    }

    async fn move_writer(
        &self,
        region: &str,
        _id: &str,
        target_arn: &str,
        how: WriterChange,
    ) -> Result<(), ProviderError> {
        self.call(
            "move_writer",
            region,
            Some(format!("move writer to {target_arn} ({how:?})")),
        )
        .await?;
        self.world().moving_to = Some(target_arn.to_owned());
        Ok(())
    }

    async fn wait_for_writer(
        &self,
        region: &str,
        _id: &str,
        target_arn: &str,
    ) -> Result<(), ProviderError> {
        self.call(
            "wait_for_writer",
            region,
            Some(format!("wait for writer {target_arn}")),
        )
        .await?;
        let mut w = self.world();
        // As AWS: the writer moves only where it was asked to.
        if w.moving_to.as_deref() != Some(target_arn) {
            return Err(ProviderError::new(
                "wait_for_writer",
                format!("no move of the writer to {target_arn} was asked for"),
            ));
        }
        w.moving_to = None;
        w.set_writer(target_arn);
        Ok(())
    }

    async fn session_table(
        &self,
        region: &str,
        _name: &str,
    ) -> Result<Option<TableState>, ProviderError> {
        self.call("session_table", region, None).await?;
        Ok(self.world().table.clone())
    }

    async fn replication_rules(
        &self,
        region: &str,
        _bucket: &str,
    ) -> Result<Option<Vec<ReplicationRule>>, ProviderError> {
        self.call("replication_rules", region, None).await?;
        Ok(self.world().rules.clone())
    }

    async fn bucket_versioning(
        &self,
        region: &str,
        _bucket: &str,
    ) -> Result<Option<String>, ProviderError> {
        self.call("bucket_versioning", region, None).await?;
        Ok(self.world().versioning.clone())
    }

    async fn replication_lag_seconds(
        &self,
        region: &str,
        _cluster_id: &str,
    ) -> Result<Option<f64>, ProviderError> {
        self.call("replication_lag_seconds", region, None).await?;
        Ok(self.world().lag_seconds)
    }

    async fn alarm_states(
        &self,
        region: &str,
        names: &[String],
    ) -> Result<Vec<(String, String)>, ProviderError> {
        self.call("alarm_states", region, None).await?;
        let w = self.world();
        Ok(names
            .iter()
            .filter_map(|n| {
                w.alarms
                    .get(&(region.to_owned(), n.clone()))
                    .map(|s| (n.clone(), s.clone()))
            })
            .collect())
    }

    async fn publish_metric(
        &self,
        region: &str,
        _namespace: &str,
        metric: &str,
        _dimension: (&str, &str),
        value: f64,
    ) -> Result<(), ProviderError> {
        self.call(
            "publish_metric",
            region,
            Some(format!("publish {metric} = {value}")),
        )
        .await?;
        // The fence alarm follows its metric (CloudWatch's evaluation).
        let t = targets();
        self.world().alarms.insert(
            (t.fence.region.clone(), t.fence.alarm.clone()),
            if value >= 1.0 { "ALARM" } else { "OK" }.to_owned(),
        );
        Ok(())
    }

    async fn completed_backups(
        &self,
        region: &str,
        _vault: &str,
    ) -> Result<Vec<CompletedJob>, ProviderError> {
        self.call("completed_backups", region, None).await?;
        Ok(Vec::new())
    }

    async fn completed_copies(
        &self,
        region: &str,
        _destination_arn: &str,
    ) -> Result<Vec<CompletedJob>, ProviderError> {
        self.call("completed_copies", region, None).await?;
        Ok(Vec::new())
    }
}

/// A backend that only saves, logging the active role and the fence each
/// save records; a switch calls nothing else of it.
pub struct FakeBackend {
    pub log: Log,
    pub saved: Mutex<Option<State>>,
}

impl FakeBackend {
    pub fn new(log: Log) -> FakeBackend {
        FakeBackend {
            log,
            saved: Mutex::new(None),
        }
    }
}

impl Backend for FakeBackend {
    fn location(&self) -> String {
        "fake".into()
    }
    fn load(&self) -> Result<Option<State>, StoreError> {
        Ok(self.saved.lock().unwrap().clone())
    }
    fn exists(&self) -> Result<bool, StoreError> {
        Ok(self.saved.lock().unwrap().is_some())
    }
    fn save(&self, state: &mut State) -> Result<(), StoreError> {
        self.log.lock().unwrap().push(format!(
            "state: save active {}, fenced {}",
            state.active_role.as_deref().unwrap_or("none"),
            state.fenced
        ));
        *self.saved.lock().unwrap() = Some(state.clone());
        Ok(())
    }
    fn record(&self, _state: &mut State, _changed: &[Address]) -> Result<(), StoreError> {
        unreachable!("a switch saves state whole")
    }
    fn compact(&self, _state: &mut State) -> Result<(), StoreError> {
        unreachable!("a switch saves state whole")
    }
    fn lock(&self, _operation: &str) -> Result<Box<dyn HeldLock>, LockError> {
        unreachable!("the caller of a switch holds the lock")
    }
    fn force_unlock(&self) -> Result<Option<LockInfo>, LockError> {
        unreachable!()
    }
    fn open_intents(&self) -> Result<Vec<Intent>, JournalError> {
        Ok(Vec::new())
    }
    fn begin(&self) -> Box<dyn IntentLog + Send> {
        unreachable!("a switch writes no journal")
    }
    fn remove_journal(&self) -> Result<(), JournalError> {
        Ok(())
    }
    fn retain_journal(&self, _open: &[Intent]) -> Result<(), JournalError> {
        Ok(())
    }
}
