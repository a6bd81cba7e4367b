//! Doing it: apply (a fresh plan or a saved one, re-planned and refused
//! on any difference), destroy, and the run of a plan's changes.

use std::path::Path;

use drctl_core::State;
use drctl_core::backend::{BackendSink, HeldLock};
use drctl_core::executor::{self, Executor, Report};
use drctl_core::plan::{Plan, PlanOperation};
use drctl_core::planner::plan_destroy;

use crate::error::OpsError;
use crate::plan::{PlanRequest, Selected, plan, read_saved_plan, recheck_saved_plan};
use crate::workspace::Workspace;

/// How to apply.
#[derive(Clone, Copy, Debug)]
pub struct ApplyRequest<'a> {
    /// Refresh before planning (a fresh plan only).
    pub refresh: bool,
    pub parallelism: usize,
    /// A saved plan to apply instead of a fresh one.
    pub plan_file: Option<&'a Path>,
    /// `--allow-data-loss`: checked here against a saved plan's marks
    /// made now; a fresh plan's are checked by [`guard_data_loss`] once
    /// the operator has seen it.
    pub allow_data_loss: bool,
}

/// A plan ready to run, the state it runs on, and the lock it holds.
pub struct Ready {
    pub plan: Plan,
    pub state: State,
    pub lock: Box<dyn HeldLock>,
}

/// Takes the lock and makes the plan apply runs: a fresh one (the
/// account verified), or the saved one, checked (not trusted) against the
/// plan drctl makes now.
pub async fn prepare_apply(
    ws: &Workspace,
    request: &ApplyRequest<'_>,
    selected: &Selected,
) -> Result<Ready, OpsError> {
    let lock = ws.lock("apply")?;
    let (plan, state) = match request.plan_file {
        None => {
            let request = PlanRequest {
                refresh: request.refresh,
                verify_account: true,
                parallelism: request.parallelism,
                locked: true,
            };
            plan(ws, &request, selected).await?
        }
        Some(file) => {
            let (path, plan) = read_saved_plan(ws, file)?;
            let (mut state, exists) = ws.load_state()?;
            // Adopting what an interrupted run left changes state, and so
            // makes the plan stale: it was made without those resources.
            ws.recover(&mut state).await?;
            if let Some(why) = plan.staleness(&state, exists) {
                return Err(OpsError::StalePlan {
                    path,
                    why,
                    env: ws.env.clone(),
                });
            }
            // The plan's subnets are in the zones it was made with: state
            // records those the plan looked up (it holds the others).
            for (region, zones) in &plan.availability_zones {
                state
                    .availability_zones
                    .entry(region.clone())
                    .or_insert_with(|| zones.clone());
            }
            // Before any call: the file is checked, not trusted, and data
            // loss it was not allowed is refused on the marks made now.
            let plan = recheck_saved_plan(ws, &plan, &mut state, exists, &path).await?;
            guard_data_loss(&plan, request.allow_data_loss)?;
            ws.resolve_account(&mut state, true).await?;
            if plan.account_id.is_some() && plan.account_id != state.account_id {
                return Err(OpsError::PlanAccount {
                    path,
                    planned: plan.account_id.clone(),
                    actual: state.account_id.clone(),
                });
            }
            (plan, state)
        }
    };
    Ok(Ready { plan, state, lock })
}

/// Refuses a plan that destroys data unless the operator allowed it. A
/// saved plan's marks are those `recheck_saved_plan` recomputed.
pub fn guard_data_loss(plan: &Plan, allowed: bool) -> Result<(), OpsError> {
    let at_risk: Vec<String> = plan
        .data_loss()
        .map(|c| format!("{} ({})", c.address, c.action))
        .collect();
    if at_risk.is_empty() || allowed {
        return Ok(());
    }
    Err(OpsError::DataLoss(at_risk))
}

/// Takes the lock, recovers an interrupted run and plans the deletion of
/// everything state records; `None` (noted) when state is empty.
pub async fn prepare_destroy(
    ws: &Workspace,
) -> Result<(Box<dyn HeldLock>, Option<(Plan, State)>), OpsError> {
    let lock = ws.lock("destroy")?;
    let (mut state, exists) = ws.load_state()?;
    ws.recover(&mut state).await?;
    if state.resources.is_empty() {
        ws.note(&format!(
            "Nothing to destroy: the state of `{}` is empty.",
            ws.env
        ));
        return Ok((lock, None));
    }
    ws.resolve_account(&mut state, true).await?;
    let plan = Plan::new(
        PlanOperation::Destroy,
        &state,
        exists,
        plan_destroy(&state, ws.schemas()),
    );
    Ok((lock, Some((plan, state))))
}

/// The executor of the run's providers; its stop flag ends the run after
/// the operations in flight.
pub async fn executor(ws: &Workspace, parallelism: usize) -> Executor {
    Executor::new(ws.providers().await.clone(), &ws.env, parallelism)
}

/// Runs `plan`'s changes on `state` (the caller holds the lock), saving
/// state after each and journalling intents; `events` sees every start
/// and end. Intents of failed operations stay for the next run's
/// recovery; otherwise the journal is removed.
pub async fn execute(
    ws: &Workspace,
    executor: &Executor,
    plan: &Plan,
    state: &mut State,
    events: &dyn executor::Observer,
) -> Result<Report, OpsError> {
    let mut store = BackendSink(ws.backend.clone());
    let mut journal = ws.backend.begin();
    let report = executor
        .run(&plan.changes, state, &mut store, &mut *journal, events)
        .await?;
    if !ws.has_open_intents()? {
        ws.backend.remove_journal()?;
    }
    Ok(report)
}
