//! What every environment command sets up: config, state store, and (only
//! when a command needs it) the AWS context.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use drctl_aws::AwsContext;
use drctl_blueprint::backend::{BackendSettings, BucketAt, ResolvedBackend};
use drctl_blueprint::{Blueprint, Config, EnvSettings, Role, Zones, parse_s3_url};
use drctl_core::backend::{Backend, HeldLock, LocalBackend};
use drctl_core::recovery::recover_reachable;
use drctl_core::{DesiredGraph, Providers, State};
use drctl_state_s3::{LeaseSettings, ReplicatedBackend, S3Backend, S3Location};
use tokio::sync::OnceCell;

use crate::cli::Global;

pub struct Session {
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
    endpoint: Option<String>,
    aws: Arc<OnceCell<AwsContext>>,
    /// The provider registry, built once per run over `aws`.
    providers: OnceCell<Providers>,
    /// Set when stdout carries a JSON document: progress notes go to stderr.
    notes_to_stderr: std::cell::Cell<bool>,
}

/// The lease of S3 locks: `DRCTL_LOCK_LEASE_SECONDS` (default 60) and the
/// host the lock names, `DRCTL_HOST` (default: the hostname).
fn lease_settings() -> Result<LeaseSettings> {
    let mut lease = LeaseSettings::on_this_host();
    if let Some(text) = std::env::var_os("DRCTL_LOCK_LEASE_SECONDS") {
        let text = text.to_string_lossy();
        lease.duration = match text.trim().parse::<u64>() {
            Ok(secs @ 2..=3600) => std::time::Duration::from_secs(secs),
            _ => bail!(
                "DRCTL_LOCK_LEASE_SECONDS: `{text}` is not a lease drctl can use; set a whole number of seconds from 2 to 3600 (default {}), or unset it",
                LeaseSettings::DEFAULT.as_secs()
            ),
        };
    }
    if let Some(host) = std::env::var_os("DRCTL_HOST") {
        let host = host.to_string_lossy().trim().to_owned();
        if host.is_empty() {
            bail!(
                "DRCTL_HOST is set but empty; set it to a name unique to this machine, or unset it to use the hostname"
            );
        }
        lease.host = host;
    }
    Ok(lease)
}

/// The shared backend as the flags and `[backend]` give it: a flag
/// overrides its key of the file; without a URL, state stays local.
fn backend_settings(
    global: &Global,
    file: Option<&BackendSettings>,
) -> Result<Option<BackendSettings>> {
    for (flag, region) in [
        ("--backend-region", &global.backend_region),
        ("--backend-replica-region", &global.backend_replica_region),
    ] {
        if let Some(region) = region
            && !drctl_blueprint::config::KNOWN_REGIONS.contains(&region.as_str())
        {
            bail!("{flag}: unknown AWS region `{region}`; use the bucket's region, e.g. us-east-2");
        }
    }
    let url = match &global.backend {
        Some(text) => Some(parse_s3_url(text).map_err(|m| anyhow!("--backend: {m}"))?),
        None => file.map(|b| b.url.clone()),
    };
    let replica_url = match &global.backend_replica {
        Some(text) => Some(parse_s3_url(text).map_err(|m| anyhow!("--backend-replica: {m}"))?),
        // A --backend elsewhere than the file's has no replica of the file's.
        None if global.backend.is_none() => file.and_then(|b| b.replica_url.clone()),
        None => None,
    };
    let Some(url) = url else {
        if replica_url.is_some() {
            bail!(
                "--backend-replica needs a backend: pass --backend s3://BUCKET/PREFIX or set `[backend] url` in drctl.toml"
            );
        }
        return Ok(None);
    };
    if replica_url.as_ref() == Some(&url) {
        bail!(
            "the backend's replica is the backend itself ({url}); a replica must be another bucket, in the environment's other region"
        );
    }
    let from_file = global.backend.is_none();
    Ok(Some(BackendSettings {
        url,
        region: global
            .backend_region
            .clone()
            .or_else(|| file.filter(|_| from_file).and_then(|b| b.region.clone())),
        replica_url,
        replica_region: global.backend_replica_region.clone().or_else(|| {
            file.filter(|_| from_file && global.backend_replica.is_none())
                .and_then(|b| b.replica_region.clone())
        }),
    }))
}

impl Session {
    /// Loads and validates drctl.toml; fails before any API call.
    pub fn open(global: &Global, env: &str) -> Result<Self> {
        let config = Config::load(&global.config)?;
        let settings = config.env(env)?.clone();
        let aws = Arc::new(OnceCell::new());
        let shared = backend_settings(global, config.backend.as_ref())?
            .map(|b| {
                b.resolve([&settings.primary_region, &settings.secondary_region])
                    .map_err(|m| {
                        anyhow!(
                            "{}: `[backend]` (or --backend-replica-region) for `{env}`: {m}",
                            global.config.display()
                        )
                    })
            })
            .transpose()?;
        let s3 = |at: &BucketAt| -> Result<S3Backend> {
            Ok(S3Backend::new(
                Arc::clone(&aws),
                global.endpoint.clone(),
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
            None => (Arc::new(LocalBackend::new(&global.state_dir, env)), true),
        };
        Ok(Self {
            env: env.to_owned(),
            settings,
            backend,
            shared,
            replicated,
            unreachable: Vec::new(),
            is_local,
            state_dir: global.state_dir.clone(),
            plans_dir: global.plans_dir.clone(),
            endpoint: global.endpoint.clone(),
            aws,
            providers: OnceCell::new(),
            notes_to_stderr: std::cell::Cell::new(false),
        })
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

    /// Keeps stdout for a machine-readable document.
    pub fn notes_to_stderr(&self) {
        self.notes_to_stderr.set(true);
    }

    /// Runs `work`, noting every heartbeat while it runs for how long and
    /// what `status` last reported it waits for.
    pub async fn with_heartbeat<T>(
        &self,
        label: &str,
        status: &drctl_core::waiting::Status,
        work: impl Future<Output = T>,
    ) -> T {
        use drctl_view::heartbeat::HEARTBEAT;
        let started = std::time::Instant::now();
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                () = tokio::time::sleep(HEARTBEAT) => {
                    let mut line = format!(
                        "{label}: still running [{} elapsed]",
                        drctl_view::duration(started.elapsed())
                    );
                    if let Some(s) = status.get() {
                        line.push_str(": ");
                        line.push_str(&s);
                    }
                    self.note(&line);
                }
            }
        }
    }

    /// A progress note for the operator (recovery, drift).
    pub fn note(&self, line: &str) {
        if self.notes_to_stderr.get() {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    /// The stored state (or a new one) and whether a state file existed.
    pub fn load_state(&self) -> Result<(State, bool)> {
        Ok(match self.backend.load()? {
            Some(s) => (s, true),
            None => (State::new(&self.env), false),
        })
    }

    /// Writes `state` (serial bumped) as the environment's new state.
    pub fn save_state(&self, state: &mut State) -> Result<()> {
        Ok(self.backend.save(state)?)
    }

    /// Takes the environment's lock; released when the guard is dropped.
    pub fn lock(&self, operation: &str) -> Result<Box<dyn HeldLock>> {
        Ok(self.backend.lock(operation)?)
    }

    /// Whether a state document exists in the backend.
    pub fn state_exists(&self) -> Result<bool> {
        Ok(self.backend.exists()?)
    }

    pub async fn aws(&self) -> &AwsContext {
        self.aws
            .get_or_init(|| AwsContext::load(self.endpoint.as_deref()))
            .await
    }

    /// The run's provider registry (one per run, over [`Self::aws`]).
    pub async fn providers(&self) -> &Providers {
        let aws = self.aws().await;
        self.providers
            .get_or_init(|| async { drctl_aws::providers(aws) })
            .await
    }

    /// Makes sure `state.account_id` is known. With `verify`, asks STS even
    /// if state has it, and refuses credentials for another account.
    pub async fn resolve_account(&self, state: &mut State, verify: bool) -> Result<String> {
        if let (Some(id), false) = (&state.account_id, verify) {
            return Ok(id.clone());
        }
        let actual = self
            .aws()
            .await
            .account_id()
            .await
            .context("cannot resolve the AWS account")?;
        if let Some(recorded) = &state.account_id
            && *recorded != actual
        {
            bail!(
                "the credentials belong to AWS account {actual}, but state {} records account {recorded}; use credentials for {recorded}",
                self.backend.location()
            );
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
    pub async fn resolve_zones(&self, state: &mut State) -> Result<()> {
        for region in self.regions() {
            if state.availability_zones.contains_key(region) {
                continue;
            }
            let offered = self
                .aws()
                .await
                .availability_zones(region)
                .await
                .context("cannot look up the Availability Zones")?;
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
    pub fn zones(&self, state: &State) -> Result<[Zones; 2]> {
        let of = |region: &str| match state.availability_zones.get(region) {
            None => Ok(Zones::placeholder(region)),
            Some(names) => Zones::new(region, names).map_err(|e| {
                anyhow!(
                    "state {} records the Availability Zones of {region} as {names:?}: {e}",
                    self.backend.location()
                )
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
    pub async fn recover(&self, state: &mut State) -> Result<()> {
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
    pub fn has_open_intents(&self) -> Result<bool> {
        Ok(!self.backend.open_intents()?.is_empty())
    }

    /// The environment's desired graph, checked against the providers,
    /// with the weights state's posture gives them and the Availability
    /// Zones `state` records (`Session::zones`).
    pub fn desired(&self, account_id: &str, state: &State) -> Result<DesiredGraph> {
        desired_graph(
            &self.env,
            &self.settings,
            account_id,
            self.zones(state)?,
            self.weighted_role(state)?,
        )
    }

    /// The role whose record carries the weight: the active one, except
    /// while the primary is fenced off, when the weights stay as they were
    /// (primary) and the fence moves the traffic: a plan then proposes no
    /// change that would move it back, or anywhere (`State::fenced`).
    pub fn weighted_role(&self, state: &State) -> Result<Role> {
        Ok(if state.fenced {
            Role::Primary
        } else {
            self.active_role(state)?
        })
    }

    /// The role serving traffic as state records it (primary by default).
    pub fn active_role(&self, state: &State) -> Result<Role> {
        match state.active_role.as_deref() {
            None => Ok(Role::Primary),
            Some(name) => Role::parse(name).ok_or_else(|| {
                anyhow!(
                    "state {} records the active role `{name}`, which is neither `primary` nor `secondary`; set `active_role` to one of them",
                    self.backend.location()
                )
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

pub fn desired_graph(
    env: &str,
    settings: &EnvSettings,
    account_id: &str,
    zones: [Zones; 2],
    weighted: Role,
) -> Result<DesiredGraph> {
    let blueprint = Blueprint {
        env,
        settings,
        account_id,
        weighted,
        zones,
    };
    let graph = DesiredGraph::new(blueprint.resources())
        .map_err(|e| anyhow!("blueprint of `{env}`: {e}"))?;
    graph
        .check_schemas(&drctl_aws::schemas())
        .map_err(|e| anyhow!("blueprint of `{env}`: {e}"))?;
    Ok(graph)
}
