//! What every environment operation works in: the environment's settings,
//! its state backend, the schemas, the run's one provider registry and
//! its one expanded blueprint.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drctl_aws::Connection;
use drctl_blueprint::backend::{BackendSettings, BucketAt, ResolvedBackend};
use drctl_blueprint::{Blueprint, Config, EnvSettings, Role, Zones, parse_s3_url};
use drctl_core::backend::{Backend, HeldLock, LocalBackend};
use drctl_core::provider::Schemas;
use drctl_core::recovery::recover_reachable;
use drctl_core::{DesiredGraph, Providers, ResourceSpec, State};
use drctl_state_s3::{LeaseSettings, ReplicatedBackend, S3Backend, S3Location};
use tokio::sync::OnceCell;

use crate::error::OpsError;
use crate::observer::{Observer, Silent};
use crate::platform::{Aws, Platform};

/// How the blueprint becomes resources: `Blueprint::resources` but in
/// tests.
pub type Expand = dyn Fn(&Blueprint<'_>) -> Vec<ResourceSpec> + Send + Sync;

/// Where the files and the backend are, as the command line gives them.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// drctl.toml.
    pub config: PathBuf,
    pub state_dir: PathBuf,
    pub plans_dir: PathBuf,
    /// An endpoint for every AWS call (an emulator).
    pub endpoint: Option<String>,
    /// `--backend`, `--backend-region`, `--backend-replica`,
    /// `--backend-replica-region`.
    pub backend: Option<String>,
    pub backend_region: Option<String>,
    pub backend_replica: Option<String>,
    pub backend_replica_region: Option<String>,
}

/// A workspace made of given parts (tests: a fake platform and blueprint).
pub struct Parts {
    pub env: String,
    pub settings: EnvSettings,
    pub backend: Arc<dyn Backend>,
    pub platform: Arc<dyn Platform>,
    pub schemas: Schemas,
    pub expand: Arc<Expand>,
    pub plans_dir: PathBuf,
}

/// What the expanded graph was expanded from: the same inputs give the
/// same graph, so a run expands the blueprint once.
#[derive(PartialEq, Eq)]
struct Expanded {
    account: String,
    zones: [Option<Vec<String>>; 2],
    weighted: Role,
}

pub struct Workspace {
    pub env: String,
    pub settings: EnvSettings,
    /// Where state, journal and lock live (`--backend`, `[backend]`, or
    /// the local `--state-dir`).
    pub backend: Arc<dyn Backend>,
    /// The S3 buckets of a shared backend, regions resolved.
    shared: Option<ResolvedBackend>,
    /// `backend` when it is a primary bucket and its replica.
    replicated: Option<ReplicatedBackend>,
    /// Regions this run must not call (an unplanned failover's failed
    /// region): recovery leaves their intents open.
    unreachable: Vec<String>,
    /// Whether `backend` is the local folder.
    pub is_local: bool,
    pub state_dir: PathBuf,
    pub plans_dir: PathBuf,
    platform: Arc<dyn Platform>,
    schemas: Schemas,
    expand: Arc<Expand>,
    /// The provider registry, built once per run over `platform`.
    providers: OnceCell<Providers>,
    /// The run's expanded blueprint and what it was expanded from.
    desired: Mutex<Option<(Expanded, Arc<DesiredGraph>)>>,
    expansions: AtomicUsize,
    observer: Arc<dyn Observer>,
}

/// The lease of S3 locks: `DRCTL_LOCK_LEASE_SECONDS` (default 60) and the
/// host the lock names, `DRCTL_HOST` (default: the hostname).
fn lease_settings() -> Result<LeaseSettings, OpsError> {
    let mut lease = LeaseSettings::on_this_host();
    if let Some(secs) = seconds_from_env("DRCTL_LOCK_LEASE_SECONDS", 2..=3600).map_err(|text| {
        OpsError::LeaseSeconds {
            text,
            default: LeaseSettings::DEFAULT.as_secs(),
        }
    })? {
        lease.duration = secs;
    }
    if let Some(host) = std::env::var_os("DRCTL_HOST") {
        let host = host.to_string_lossy().trim().to_owned();
        if host.is_empty() {
            return Err(OpsError::EmptyHost);
        }
        lease.host = host;
    }
    Ok(lease)
}

/// How AWS is reached: `--endpoint`, and how long a request waits for
/// its answer, `DRCTL_AWS_READ_TIMEOUT_SECONDS` (default 30).
fn connection(options: &OpenOptions) -> Result<Connection, OpsError> {
    let mut connection = Connection::to(options.endpoint.clone());
    if let Some(secs) =
        seconds_from_env("DRCTL_AWS_READ_TIMEOUT_SECONDS", 1..=600).map_err(|text| {
            OpsError::ReadTimeoutSeconds {
                text,
                default: Connection::DEFAULT_READ_TIMEOUT.as_secs(),
            }
        })?
    {
        connection.read_timeout = secs;
    }
    Ok(connection)
}

/// The whole seconds in `range` that `var` holds, if set; the text it
/// holds when they are not.
fn seconds_from_env(
    var: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<Duration>, String> {
    let Some(text) = std::env::var_os(var) else {
        return Ok(None);
    };
    let text = text.to_string_lossy();
    match text.trim().parse::<u64>() {
        Ok(secs) if range.contains(&secs) => Ok(Some(Duration::from_secs(secs))),
        _ => Err(text.into_owned()),
    }
}

/// The shared backend as the flags and `[backend]` give it: a flag
/// overrides its key of the file; without a URL, state stays local.
fn backend_settings(
    options: &OpenOptions,
    file: Option<&BackendSettings>,
) -> Result<Option<BackendSettings>, OpsError> {
    for (flag, region) in [
        ("--backend-region", &options.backend_region),
        ("--backend-replica-region", &options.backend_replica_region),
    ] {
        if let Some(region) = region
            && !drctl_blueprint::config::KNOWN_REGIONS.contains(&region.as_str())
        {
            return Err(OpsError::BackendRegion {
                flag,
                region: region.clone(),
            });
        }
    }
    let url_of = |flag: &'static str, text: &str| {
        parse_s3_url(text).map_err(|message| OpsError::BackendUrl {
            flag,
            message: message.to_string(),
        })
    };
    let url = match &options.backend {
        Some(text) => Some(url_of("--backend", text)?),
        None => file.map(|b| b.url.clone()),
    };
    let replica_url = match &options.backend_replica {
        Some(text) => Some(url_of("--backend-replica", text)?),
        // A --backend elsewhere than the file's has no replica of the file's.
        None if options.backend.is_none() => file.and_then(|b| b.replica_url.clone()),
        None => None,
    };
    let Some(url) = url else {
        if replica_url.is_some() {
            return Err(OpsError::ReplicaWithoutBackend);
        }
        return Ok(None);
    };
    if replica_url.as_ref() == Some(&url) {
        return Err(OpsError::ReplicaIsBackend {
            url: url.to_string(),
        });
    }
    let from_file = options.backend.is_none();
    Ok(Some(BackendSettings {
        url,
        region: options
            .backend_region
            .clone()
            .or_else(|| file.filter(|_| from_file).and_then(|b| b.region.clone())),
        replica_url,
        replica_region: options.backend_replica_region.clone().or_else(|| {
            file.filter(|_| from_file && options.backend_replica.is_none())
                .and_then(|b| b.replica_region.clone())
        }),
    }))
}

impl Workspace {
    /// Loads and validates drctl.toml; fails before any API call.
    pub fn open(options: &OpenOptions, env: &str) -> Result<Self, OpsError> {
        let config = Config::load(&options.config)?;
        let settings = config.env(env)?.clone();
        let connection = connection(options)?;
        let aws = Aws::new(connection.clone());
        let shared = backend_settings(options, config.backend.as_ref())?
            .map(|b| {
                b.resolve([&settings.primary_region, &settings.secondary_region])
                    .map_err(|m| OpsError::BackendFor {
                        config: options.config.display().to_string(),
                        flag: " (or --backend-replica-region)",
                        env: env.to_owned(),
                        message: m.to_string(),
                    })
            })
            .transpose()?;
        let s3 = |at: &BucketAt| -> Result<S3Backend, OpsError> {
            Ok(S3Backend::new(
                Arc::clone(&aws.context),
                connection.clone(),
                S3Location {
                    bucket: at.url.bucket.clone(),
                    prefix: at.url.prefix.clone(),
                    region: at.region.clone(),
                },
                env,
            )
            .with_lease(lease_settings()?))
        };
        let mut replicated = None;
        let (backend, is_local): (Arc<dyn Backend>, bool) = match &shared {
            Some(ResolvedBackend {
                primary,
                replica: Some(replica),
            }) => {
                let both = ReplicatedBackend::new(s3(primary)?, s3(replica)?, env);
                replicated = Some(both.clone());
                (Arc::new(both), false)
            }
            Some(ResolvedBackend { primary, .. }) => (Arc::new(s3(primary)?), false),
            None => (Arc::new(LocalBackend::new(&options.state_dir, env)), true),
        };
        Ok(Self {
            env: env.to_owned(),
            settings,
            backend,
            shared,
            replicated,
            unreachable: Vec::new(),
            is_local,
            state_dir: options.state_dir.clone(),
            plans_dir: options.plans_dir.clone(),
            platform: Arc::new(aws),
            schemas: drctl_aws::schemas(),
            expand: Arc::new(|b: &Blueprint<'_>| b.resources()),
            providers: OnceCell::new(),
            desired: Mutex::new(None),
            expansions: AtomicUsize::new(0),
            observer: Arc::new(Silent),
        })
    }

    /// A workspace of the given parts, its state in `parts.backend`.
    pub fn from_parts(parts: Parts) -> Self {
        Self {
            env: parts.env,
            settings: parts.settings,
            backend: parts.backend,
            shared: None,
            replicated: None,
            unreachable: Vec::new(),
            is_local: true,
            state_dir: PathBuf::new(),
            plans_dir: parts.plans_dir,
            platform: parts.platform,
            schemas: parts.schemas,
            expand: parts.expand,
            providers: OnceCell::new(),
            desired: Mutex::new(None),
            expansions: AtomicUsize::new(0),
            observer: Arc::new(Silent),
        }
    }

    /// Where the operations report their progress (default: nowhere).
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    pub fn observer(&self) -> &dyn Observer {
        self.observer.as_ref()
    }

    /// A progress note for the operator (recovery, drift).
    pub fn note(&self, line: &str) {
        self.observer.note(line);
    }

    pub fn platform(&self) -> &dyn Platform {
        self.platform.as_ref()
    }

    /// The kinds the providers implement, for planning without a call.
    pub fn schemas(&self) -> &Schemas {
        &self.schemas
    }

    /// For an unplanned failover away from the primary region: state, journal
    /// and lock come from the replica alone (when there is one), and
    /// recovery leaves the intents in the primary region open. Returns the
    /// note for the operator, if the backend changed.
    pub fn without_primary_region(&mut self) -> Option<String> {
        self.unreachable = vec![self.settings.primary_region.clone()];
        let replicated = self.replicated.as_ref()?.replica_only();
        let note = format!(
            "State: the replica {} ({}) alone; the primary copy {} ({}) is not contacted. This run takes the replica's lock and fences the replica's state, so a run that still holds the primary's lock cannot overwrite what this failover records; the next run that reaches both copies brings the primary up to date.",
            replicated.replica().location(),
            replicated.replica().region(),
            replicated.primary().location(),
            replicated.primary().region()
        );
        self.backend = Arc::new(replicated.clone());
        self.replicated = Some(replicated);
        Some(note)
    }

    /// The replicated backend, if state has a replica.
    pub fn replicated(&self) -> Option<&ReplicatedBackend> {
        self.replicated.as_ref()
    }

    /// What an outage of the primary region would take of what a failover
    /// needs (state, its lock, the failover automation), and how to fix it;
    /// empty when nothing lives there alone.
    /// `local`: also say so of state kept on this machine (not in any
    /// region, but out of reach of anyone else).
    pub fn control_plane_warnings(&self, state: &State, local: bool) -> Vec<String> {
        let primary = &self.settings.primary_region;
        let mut out = Vec::new();
        match &self.shared {
            None if !local => {}
            None => out.push(format!(
                "state and its lock are in {} on this machine only: an unplanned failover run from anywhere else has neither. Keep them in S3 with a replica in {}: `[backend] url` and `replica_url` in drctl.toml, then `drctl state push --env {}`",
                self.backend.location(),
                self.settings.secondary_region,
                self.env
            )),
            Some(ResolvedBackend {
                primary: at,
                replica: None,
            }) => out.push(format!(
                "state, its journal and its lock live only in {} in {}{}: an outage of {} leaves an unplanned failover without them. Add a replica in the other region: `replica_url = \"s3://BUCKET/PREFIX\"` in `[backend]` of drctl.toml (a bucket in {})",
                at.url,
                at.region,
                if at.region == *primary { ", the primary region" } else { "" },
                at.region,
                if at.region == *primary { &self.settings.secondary_region } else { primary }
            )),
            Some(_) => {}
        }
        for (address, r) in &state.resources {
            if address.kind() == "sfn.state_machine" && r.region == *primary {
                out.push(format!(
                    "the failover automation {address} runs in {primary}, the primary region, which an outage takes with it; it belongs in {}",
                    self.settings.secondary_region
                ));
            }
        }
        out
    }

    /// Runs `work`, noting every heartbeat while it runs for how long and
    /// what `status` last reported it waits for.
    pub async fn with_heartbeat<T>(
        &self,
        label: &str,
        status: &drctl_core::waiting::Status,
        work: impl Future<Output = T>,
    ) -> T {
        let Some(every) = self.observer.heartbeat() else {
            return work.await;
        };
        let started = std::time::Instant::now();
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                () = tokio::time::sleep(every) => {
                    self.observer.still_running(label, started.elapsed(), status.get().as_deref());
                }
            }
        }
    }

    /// The stored state (or a new one) and whether a state file existed.
    pub fn load_state(&self) -> Result<(State, bool), OpsError> {
        Ok(match self.backend.load()? {
            Some(s) => (s, true),
            None => (State::new(&self.env), false),
        })
    }

    /// Writes `state` (serial bumped) as the environment's new state.
    pub fn save_state(&self, state: &mut State) -> Result<(), OpsError> {
        Ok(self.backend.save(state)?)
    }

    /// Takes the environment's lock; released when the guard is dropped.
    pub fn lock(&self, operation: &str) -> Result<Box<dyn HeldLock>, OpsError> {
        Ok(self.backend.lock(operation)?)
    }

    /// Whether a state document exists in the backend.
    pub fn state_exists(&self) -> Result<bool, OpsError> {
        Ok(self.backend.exists()?)
    }

    /// The run's provider registry (one per run, over the platform).
    pub async fn providers(&self) -> &Providers {
        self.providers
            .get_or_init(|| self.platform.providers())
            .await
    }

    /// Makes sure `state.account_id` is known. With `verify`, asks STS even
    /// if state has it, and refuses credentials for another account.
    pub async fn resolve_account(
        &self,
        state: &mut State,
        verify: bool,
    ) -> Result<String, OpsError> {
        if let (Some(id), false) = (&state.account_id, verify) {
            return Ok(id.clone());
        }
        let actual = self
            .platform
            .account_id()
            .await
            .map_err(OpsError::Account)?;
        if let Some(recorded) = &state.account_id
            && *recorded != actual
        {
            return Err(OpsError::AccountMismatch {
                actual,
                location: self.backend.location(),
                recorded: recorded.clone(),
            });
        }
        state.account_id = Some(actual.clone());
        Ok(actual)
    }

    /// Makes sure state records the Availability Zones of both regions: a
    /// region it records none for is looked up (EC2
    /// DescribeAvailabilityZones). Recorded zones are kept, never looked
    /// up again, so a zone AWS adds later never moves a subnet. A region
    /// offering fewer than two is refused, naming it, before anything is
    /// recorded or planned.
    pub async fn resolve_zones(&self, state: &mut State) -> Result<(), OpsError> {
        for region in self.regions() {
            if state.availability_zones.contains_key(region) {
                continue;
            }
            let offered = self
                .platform
                .availability_zones(region)
                .await
                .map_err(OpsError::Zones)?;
            Zones::new(region, &offered)?;
            state.availability_zones.insert(region.to_owned(), offered);
        }
        Ok(())
    }

    /// Whether state records the zones of both regions (so expanding the
    /// blueprint needs no lookup).
    pub fn zones_recorded(&self, state: &State) -> bool {
        self.regions()
            .iter()
            .all(|r| state.availability_zones.contains_key(*r))
    }

    /// The zones the blueprint places subnets in: those state records,
    /// and for a region it records none for yet (only commands that never
    /// call AWS expand it so) the placeholder `<region>a`, `b`, `c`.
    pub fn zones(&self, state: &State) -> Result<[Zones; 2], OpsError> {
        let of = |region: &str| match state.availability_zones.get(region) {
            None => Ok(Zones::placeholder(region)),
            Some(names) => Zones::new(region, names).map_err(|source| OpsError::RecordedZones {
                location: self.backend.location(),
                region: region.to_owned(),
                names: names.clone(),
                source: Box::new(source),
            }),
        };
        let [primary, secondary] = self.regions();
        Ok([of(primary)?, of(secondary)?])
    }

    /// The primary's and the secondary's region.
    fn regions(&self) -> [&str; 2] {
        [
            self.settings.primary_region.as_str(),
            self.settings.secondary_region.as_str(),
        ]
    }

    /// Resolves the intents an interrupted run left open (the caller holds
    /// the lock): adopts what was created, drops what was deleted, saves
    /// state and removes the journal.
    pub async fn recover(&self, state: &mut State) -> Result<(), OpsError> {
        let intents = self.backend.open_intents()?;
        let mut left_open = Vec::new();
        if !intents.is_empty() || !state.unconfirmed_creates.is_empty() {
            if !intents.is_empty() {
                self.note(&format!(
                    "Recovering {} operation(s) an interrupted run left unfinished...",
                    intents.len()
                ));
            }
            let providers = self.providers().await;
            let before = state.clone();
            // A delete finished again may wait out a resource still in use:
            // say so every heartbeat, as apply does.
            let status = drctl_core::waiting::Status::default();
            let report = self
                .with_heartbeat(
                    "Recovering",
                    &status,
                    drctl_core::waiting::scope(
                        status.clone(),
                        recover_reachable(state, &intents, providers, &self.unreachable),
                    ),
                )
                .await?;
            for i in &report.left_open {
                self.note(&format!(
                    "  {}: left open ({} is not called in this run); a later run resolves it",
                    i.address, i.region
                ));
            }
            left_open = report.left_open.clone();
            for a in &report.adopted {
                self.note(&format!(
                    "  {a}: created by the interrupted run; now recorded in state"
                ));
            }
            for a in &report.not_created {
                self.note(&format!(
                    "  {a}: its create was not found; later runs look for it again, and its next create sends the same idempotency token"
                ));
            }
            for a in &report.deleted {
                self.note(&format!(
                    "  {a}: deleted by the interrupted run; removed from state"
                ));
            }
            for a in &report.read_back {
                self.note(&format!(
                    "  {a}: updated by the interrupted run (in whole, in part or not); state now records it as read"
                ));
            }
            for a in &report.gone {
                self.note(&format!(
                    "  {a}: its interrupted update found it gone; removed from state (the plan creates it again)"
                ));
            }
            for a in &report.given_up {
                self.note(&format!(
                    "  {a}: an interrupted create still not found after an hour; no longer looked for"
                ));
            }
            if *state != before {
                self.save_state(state)?;
            }
        }
        self.backend.retain_journal(&left_open)?;
        Ok(())
    }

    /// Whether the journal holds intents of an interrupted run.
    pub fn has_open_intents(&self) -> Result<bool, OpsError> {
        Ok(!self.backend.open_intents()?.is_empty())
    }

    /// The environment's desired graph, checked against the schemas, with
    /// the weights state's posture gives them and the Availability Zones
    /// `state` records (`Workspace::zones`). Expanded once per run: asked
    /// again with the same account, zones and weights, it is the same
    /// graph.
    pub fn desired(&self, account_id: &str, state: &State) -> Result<Arc<DesiredGraph>, OpsError> {
        let zones = self.zones(state)?;
        let weighted = self.weighted_role(state)?;
        let key = Expanded {
            account: account_id.to_owned(),
            zones: self
                .regions()
                .map(|r| state.availability_zones.get(r).cloned()),
            weighted,
        };
        let mut cached = self.desired.lock().expect("desired graph lock");
        if let Some((of, graph)) = cached.as_ref()
            && *of == key
        {
            return Ok(Arc::clone(graph));
        }
        let graph = Arc::new(expand_graph(
            &Blueprint {
                env: &self.env,
                settings: &self.settings,
                account_id,
                weighted,
                zones,
            },
            self.expand.as_ref(),
            &self.schemas,
        )?);
        self.expansions.fetch_add(1, Ordering::SeqCst);
        *cached = Some((key, Arc::clone(&graph)));
        Ok(graph)
    }

    /// How many times this workspace expanded the blueprint.
    pub fn expansions(&self) -> usize {
        self.expansions.load(Ordering::SeqCst)
    }

    /// The role whose record carries the weight: the active one, except
    /// while the primary is fenced off, when the weights stay as they were
    /// (primary) and the fence moves the traffic: a plan then proposes no
    /// change that would move it back, or anywhere (`State::fenced`).
    pub fn weighted_role(&self, state: &State) -> Result<Role, OpsError> {
        Ok(if state.fenced {
            Role::Primary
        } else {
            self.active_role(state)?
        })
    }

    /// The role serving traffic as state records it (primary by default).
    pub fn active_role(&self, state: &State) -> Result<Role, OpsError> {
        match state.active_role.as_deref() {
            None => Ok(Role::Primary),
            Some(name) => Role::parse(name).ok_or_else(|| OpsError::ActiveRole {
                location: self.backend.location(),
                name: name.to_owned(),
            }),
        }
    }

    /// `--out NAME` goes into the plans folder; a path is used as given.
    pub fn plan_path(&self, given: &Path) -> PathBuf {
        if given.components().count() == 1 && !given.exists() {
            self.plans_dir.join(given)
        } else {
            given.to_owned()
        }
    }
}

/// The graph of `blueprint`, checked: well formed, every kind known to
/// `schemas`.
pub fn expand_graph(
    blueprint: &Blueprint<'_>,
    expand: &Expand,
    schemas: &Schemas,
) -> Result<DesiredGraph, OpsError> {
    let invalid = |source| OpsError::Blueprint {
        env: blueprint.env.to_owned(),
        source: Box::new(source),
    };
    let graph = DesiredGraph::new(expand(blueprint)).map_err(invalid)?;
    graph.check_schemas(schemas).map_err(invalid)?;
    Ok(graph)
}

/// Checks every environment of the drctl.toml at `config`, as `validate`
/// does, without state or a call: `each` is told of every environment
/// that expands (its graph) before the next is checked.
pub fn validate(
    config: &Path,
    each: &mut dyn FnMut(&str, &EnvSettings, &DesiredGraph),
) -> Result<(), OpsError> {
    let file = Config::load(config)?;
    if file.envs.is_empty() {
        return Err(OpsError::NoEnvironments {
            config: config.display().to_string(),
        });
    }
    for (env, settings) in &file.envs {
        let graph = expand_offline(env, settings)?;
        // A replica in the primary bucket's region is refused per env.
        if let Some(backend) = &file.backend {
            backend
                .resolve([&settings.primary_region, &settings.secondary_region])
                .map_err(|m| OpsError::BackendFor {
                    config: config.display().to_string(),
                    flag: "",
                    env: env.clone(),
                    message: m.to_string(),
                })?;
        }
        each(env, settings, &graph);
    }
    Ok(())
}

/// The graph of environment `env` with `settings`, checked, as drctl
/// expands it before any call: the placeholder account and zones, the
/// primary weighted.
pub fn expand_offline(env: &str, settings: &EnvSettings) -> Result<DesiredGraph, OpsError> {
    expand_graph(
        &Blueprint {
            env,
            settings,
            account_id: drctl_blueprint::PLACEHOLDER_ACCOUNT,
            weighted: Role::Primary,
            zones: Zones::placeholders(settings),
        },
        &|b: &Blueprint<'_>| b.resources(),
        &drctl_aws::schemas(),
    )
}
