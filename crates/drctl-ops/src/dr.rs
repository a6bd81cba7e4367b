//! The DR switches as far as they orchestrate: state, lock, recovery and
//! the account around `drctl_dr`'s status, steps and runner. Deciding
//! whether a switch may start and asking the operator are the caller's.

use drctl_core::State;
use drctl_core::backend::HeldLock;
use drctl_dr::checks::{self, Check};
use drctl_dr::status::{self, Status};
use drctl_dr::switch::{self, Observed, Prepared, Step, StepTiming, Switch};
use drctl_dr::{Role, Targets};

use crate::error::OpsError;
use crate::workspace::Workspace;

/// The DR port of the workspace's platform.
async fn cloud(ws: &Workspace) -> Result<&dyn drctl_dr::Cloud, OpsError> {
    ws.platform().dr().await.map_err(OpsError::NoDrCloud)
}

/// The state of an applied environment and its targets; fails (before any
/// API call) when there is no state or it lacks the DR resources.
pub fn load_targets(ws: &Workspace) -> Result<(State, Targets), OpsError> {
    let (state, exists) = ws.load_state()?;
    if !exists || state.resources.is_empty() {
        return Err(OpsError::NotApplied {
            env: ws.env.clone(),
            location: ws.backend.location(),
        });
    }
    let targets = Targets::from_state(&state).map_err(|missing| OpsError::NotFullyApplied {
        env: ws.env.clone(),
        location: ws.backend.location(),
        missing,
    })?;
    Ok((state, targets))
}

/// Reads the status, with the checks of a switch to `to`.
pub async fn read_status(
    ws: &Workspace,
    state: &State,
    t: &Targets,
    to: Role,
) -> Result<Status, OpsError> {
    let ctx = status::Context {
        env: &ws.env,
        active: ws.active_role(state)?,
        to,
        max_replication_lag_seconds: ws.settings.max_replication_lag_seconds,
    };
    Ok(status::read(cloud(ws).await?, t, &ctx).await)
}

/// `status`: the environment's DR status (that of a switch away from the
/// active role), or why it has none, and the control plane's warnings.
pub async fn status(ws: &Workspace) -> Result<(Status, Vec<String>), OpsError> {
    let (state, _) = ws.load_state()?;
    let active = ws.active_role(&state)?;
    let status = match Targets::from_state(&state) {
        Ok(targets) => read_status(ws, &state, &targets, active.other()).await?,
        Err(missing) => Status::not_applied(
            &ws.env,
            active,
            if state.resources.is_empty() {
                format!(
                    "`{}` is not applied (no resources in state); run `drctl apply --env {}`",
                    ws.env, ws.env
                )
            } else {
                format!(
                    "`{}` is not fully applied (state lacks {}); run `drctl apply --env {}`",
                    ws.env,
                    crate::error::joined(&missing),
                    ws.env
                )
            },
        ),
    };
    let warnings = ws.control_plane_warnings(&state, true);
    Ok((status, warnings))
}

/// Takes the lock and loads state for an operation that switches roles;
/// with `verify_account`, asks STS whether the credentials are for the
/// account state records.
pub async fn lock_and_load(
    ws: &Workspace,
    operation: &str,
    verify_account: bool,
) -> Result<(Box<dyn HeldLock>, State, Targets), OpsError> {
    // Checked before locking, so that an environment without state gets
    // no lock file.
    load_targets(ws)?;
    let lock = ws.lock(operation)?;
    // Loaded again under the lock: another run may have just written it.
    let (mut state, targets) = load_targets(ws)?;
    ws.recover(&mut state).await?;
    ws.resolve_account(&mut state, verify_account).await?;
    Ok((lock, state, targets))
}

/// Where a switch stands before it runs.
pub enum Begun {
    /// Already done (noted): state now records it in full.
    Done,
    /// The steps left to run.
    Ready(Prepared),
}

/// Observes AWS and decides the steps of `sw` (the caller holds the lock).
pub async fn begin_switch(
    ws: &Workspace,
    state: &mut State,
    t: &Targets,
    sw: &Switch,
) -> Result<Begun, OpsError> {
    let target = t.cluster(sw.to);
    let recorded_done = ws.active_role(state)? == sw.to;
    let prepared = switch::prepare(cloud(ws).await?, t, sw, recorded_done).await?;
    if !prepared.is_done() {
        return Ok(Begun::Ready(prepared));
    }
    ws.note(&format!(
        "Nothing to do: the {} cluster {} ({}) is the writer, state records {} as active and it takes all traffic.",
        sw.to.as_str(),
        target.id,
        target.region,
        sw.to.as_str()
    ));
    // A run killed after Route 53 took the change but before state
    // recorded it leaves the records' weights behind in state.
    let writer = state_writer(ws);
    match sw.traffic {
        switch::TrafficMove::Weights => switch::record_weights_in_state(&writer, state, sw.to)?,
        switch::TrafficMove::Fence => switch::record_fence(&writer, state, true)?,
    }
    Ok(Begun::Done)
}

fn state_writer(ws: &Workspace) -> switch::StateWriter<'_> {
    switch::StateWriter {
        backend: ws.backend.as_ref(),
        env: &ws.env,
    }
}

/// Runs the `prepared` steps of `sw`, recording each in state.
pub async fn run_switch(
    ws: &Workspace,
    state: &mut State,
    t: &Targets,
    sw: &Switch,
    prepared: &Prepared,
    observer: &dyn switch::Observer,
) -> Result<Vec<StepTiming>, OpsError> {
    let writer = state_writer(ws);
    Ok(switch::run(cloud(ws).await?, &writer, state, t, sw, prepared, observer).await?)
}

/// One switch of a `--plan`: its checks (the first switch's only) and
/// steps.
pub struct SwitchPlan {
    pub switch: Switch,
    pub region: String,
    pub checks: Option<Vec<Check>>,
    pub steps: Vec<Step>,
}

/// `--plan`: the checks measured now and the steps each switch would run;
/// reads only (no lock, no state write). Also the recovery-time settings
/// of a failover, and the names of the checks that would refuse it.
pub async fn plan_switches(
    ws: &Workspace,
    switches: &[Switch],
    skip: &[String],
) -> Result<
    (
        Vec<SwitchPlan>,
        Option<drctl_dr::rto::Settings>,
        Vec<&'static str>,
    ),
    OpsError,
> {
    let (state, t) = load_targets(ws)?;
    let active = ws.active_role(&state)?;
    let cloud = cloud(ws).await?;
    let mut planned = Vec::new();
    let mut refused: Vec<&'static str> = Vec::new();
    for (n, sw) in switches.iter().enumerate() {
        let (seen, recorded_done, checks) = if n == 0 {
            let seen = switch::observe(cloud, &t, sw).await?;
            let status = read_status(ws, &state, &t, sw.to).await?;
            refused.extend(
                checks::refusals(&status.checks, sw.planned(), skip)
                    .iter()
                    .map(|c| c.name),
            );
            (seen, active == sw.to, Some(status.checks))
        } else {
            // A drill's failback starts where its failover ended.
            (Observed::after(&switches[n - 1]), false, None)
        };
        planned.push(SwitchPlan {
            switch: *sw,
            region: t.cluster(sw.to).region.clone(),
            checks,
            steps: switch::steps(&t, sw, &seen, recorded_done),
        });
    }
    // `failover --plan`, planned or not: what an unplanned one takes.
    let rto = match switches {
        [sw] if sw.phase == "failover" => Some(drctl_dr::rto::Settings::applied(&state)),
        _ => None,
    };
    Ok((planned, rto, refused))
}

/// Refuses a drill of what looks like production.
pub fn check_drill_allowed(ws: &Workspace) -> Result<(), OpsError> {
    if drctl_dr::drill::looks_like_production(&ws.env, ws.settings.production) {
        return Err(OpsError::DrillInProduction {
            env: ws.env.clone(),
        });
    }
    Ok(())
}
