//! What every environment command sets up: config, state store, and (only
//! when a command needs it) the AWS context.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use drctl_aws::AwsContext;
use drctl_blueprint::{Blueprint, Config, EnvSettings, Role};
use drctl_core::journal::Journal;
use drctl_core::lock::StateLock;
use drctl_core::recovery::recover;
use drctl_core::store::StateStore;
use drctl_core::{DesiredGraph, State};
use tokio::sync::OnceCell;

use crate::cli::Global;

pub struct Session {
    pub env: String,
    pub settings: EnvSettings,
    pub store: StateStore,
    pub plans_dir: PathBuf,
    endpoint: Option<String>,
    aws: OnceCell<AwsContext>,
    /// Set when stdout carries a JSON document: progress notes go to stderr.
    notes_to_stderr: std::cell::Cell<bool>,
}

impl Session {
    /// Loads and validates drctl.toml; fails before any API call.
    pub fn open(global: &Global, env: &str) -> Result<Self> {
        let config = Config::load(&global.config)?;
        let settings = config.env(env)?.clone();
        Ok(Self {
            env: env.to_owned(),
            settings,
            store: StateStore::new(&global.state_dir, env),
            plans_dir: global.plans_dir.clone(),
            endpoint: global.endpoint.clone(),
            aws: OnceCell::new(),
            notes_to_stderr: std::cell::Cell::new(false),
        })
    }

    /// Keeps stdout for a machine-readable document.
    pub fn notes_to_stderr(&self) {
        self.notes_to_stderr.set(true);
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
        Ok(match self.store.load()? {
            Some(s) => (s, true),
            None => (State::new(&self.env), false),
        })
    }

    /// Writes `state` (serial bumped) as the environment's new state.
    pub fn save_state(&self, state: &mut State) -> Result<()> {
        Ok(self.store.save(state)?)
    }

    pub fn lock(&self, operation: &str) -> Result<StateLock> {
        Ok(StateLock::acquire(self.store.dir(), &self.env, operation)?)
    }

    pub async fn aws(&self) -> &AwsContext {
        self.aws
            .get_or_init(|| AwsContext::load(self.endpoint.as_deref()))
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
            .context("cannot resolve the AWS account; check credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID) and --endpoint")?;
        if let Some(recorded) = &state.account_id
            && *recorded != actual
        {
            bail!(
                "the credentials belong to AWS account {actual}, but state {} records account {recorded}; use credentials for {recorded}",
                self.store.path().display()
            );
        }
        state.account_id = Some(actual.clone());
        Ok(actual)
    }

    /// Resolves the intents an interrupted run left open (the caller holds
    /// the lock): adopts what was created, drops what was deleted, saves
    /// state and removes the journal.
    pub async fn recover(&self, state: &mut State) -> Result<()> {
        let dir = self.store.dir();
        let intents = Journal::open_intents(dir, &self.env)?;
        if !intents.is_empty() {
            self.note(&format!(
                "Recovering {} operation(s) an interrupted run left unfinished...",
                intents.len()
            ));
            let providers = drctl_aws::providers(self.aws().await);
            let report = recover(state, &intents, &providers).await?;
            for a in &report.adopted {
                self.note(&format!(
                    "  {a}: created by the interrupted run; now recorded in state"
                ));
            }
            for a in &report.not_created {
                self.note(&format!("  {a}: its create never took effect"));
            }
            for a in &report.deleted {
                self.note(&format!(
                    "  {a}: deleted by the interrupted run; removed from state"
                ));
            }
            if !report.adopted.is_empty() || !report.deleted.is_empty() {
                self.save_state(state)?;
            }
        }
        Journal::remove(dir, &self.env)?;
        Ok(())
    }

    /// Whether the journal holds intents of an interrupted run.
    pub fn has_open_intents(&self) -> Result<bool> {
        Ok(!Journal::open_intents(self.store.dir(), &self.env)?.is_empty())
    }

    /// The environment's desired graph, checked against the providers,
    /// with the active role `state` records (a failover's).
    pub fn desired(&self, account_id: &str, state: &State) -> Result<DesiredGraph> {
        let active = self.active_role(state)?;
        desired_graph(&self.env, &self.settings, account_id, active)
    }

    /// The role serving traffic as state records it (primary by default).
    pub fn active_role(&self, state: &State) -> Result<Role> {
        match state.active_role.as_deref() {
            None => Ok(Role::Primary),
            Some(name) => Role::parse(name).ok_or_else(|| {
                anyhow!(
                    "state {} records the active role `{name}`, which is neither `primary` nor `secondary`; set `active_role` to one of them",
                    self.store.path().display()
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
    active: Role,
) -> Result<DesiredGraph> {
    let blueprint = Blueprint {
        env,
        settings,
        account_id,
        active,
    };
    let graph = DesiredGraph::new(blueprint.resources())
        .map_err(|e| anyhow!("blueprint of `{env}`: {e}"))?;
    graph
        .check_schemas(&drctl_aws::schemas())
        .map_err(|e| anyhow!("blueprint of `{env}`: {e}"))?;
    Ok(graph)
}
