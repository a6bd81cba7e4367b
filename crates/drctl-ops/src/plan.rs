//! Deciding what to do: plan, refresh, and the check of a saved plan. No
//! change is made to AWS here; state is written only by recovery, a
//! refresh, and outputs read for the first time, under the lock.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use drctl_blueprint::PLACEHOLDER_ACCOUNT;
use drctl_core::backend::HeldLock;
use drctl_core::plan::{self, Action, Plan, PlanOperation, Selection};
use drctl_core::planner::plan_apply_replacing;
use drctl_core::targeting::{self, Pattern};
use drctl_core::{Address, DesiredGraph, ResourceChange, SchemaSource, State, write_atomic};

use crate::error::OpsError;
use crate::workspace::Workspace;

/// `--target`, `--exclude` and `--replace`, parsed before any call.
#[derive(Default)]
pub struct Selected {
    targets: Vec<Pattern>,
    excludes: Vec<Pattern>,
    replace: Vec<Pattern>,
}

impl Selected {
    /// The patterns of `--target`, `--exclude` and `--replace`.
    pub fn parse(
        targets: &[String],
        excludes: &[String],
        replace: &[String],
    ) -> Result<Self, OpsError> {
        let parse = |flag: &str, v: &[String]| -> Result<Vec<Pattern>, OpsError> {
            v.iter()
                .map(|p| {
                    Pattern::parse(p).map_err(|source| OpsError::Pattern {
                        what: format!("--{flag} {p}"),
                        source,
                    })
                })
                .collect()
        };
        Ok(Self {
            targets: parse("target", targets)?,
            excludes: parse("exclude", excludes)?,
            replace: parse("replace", replace)?,
        })
    }

    fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.excludes.is_empty() && self.replace.is_empty()
    }

    /// What a refresh reads for this selection: with `--target` or
    /// `--exclude`, only the resources the selection can keep, as
    /// Terraform's `-target` refreshes the targets and what they depend on
    /// (so a targeted plan reads no more than it acts on, and does not fail
    /// on a resource it leaves out); everything otherwise. Whether a
    /// resource can be kept depends on the graph and on which resources
    /// state holds, not on what a refresh finds, so the plan before the
    /// refresh tells.
    fn refresh_scope(
        &self,
        desired: &DesiredGraph,
        state: &State,
        schemas: &dyn SchemaSource,
    ) -> Result<Option<BTreeSet<Address>>, OpsError> {
        if self.targets.is_empty() && self.excludes.is_empty() {
            return Ok(None);
        }
        let changes = plan_apply_replacing(desired, state, schemas, &BTreeSet::new());
        let kept = targeting::select(changes, &self.targets, &self.excludes)?;
        Ok(Some(kept.into_iter().map(|c| c.address).collect()))
    }

    /// The changes of the full plan this selection keeps, and the plan's
    /// record of it; replacements asked for are made in `plan`.
    fn apply(
        &self,
        changes: Vec<ResourceChange>,
    ) -> Result<(Vec<ResourceChange>, Option<Selection>), OpsError> {
        if self.is_empty() {
            return Ok((changes, None));
        }
        let acting = |c: &[ResourceChange]| c.iter().filter(|c| c.action != Action::NoOp).count();
        let full = acting(&changes);
        let kept = targeting::select(changes, &self.targets, &self.excludes)?;
        let names = |v: &[Pattern]| v.iter().map(|p| p.as_str().to_owned()).collect();
        let selection = Selection {
            targets: names(&self.targets),
            excludes: names(&self.excludes),
            replace: Vec::new(),
            left_out: full - acting(&kept),
        };
        Ok((kept, Some(selection)))
    }
}

/// How to plan.
#[derive(Clone, Copy, Debug)]
pub struct PlanRequest {
    /// Read state back from AWS first (and save it: it is the truth about
    /// what exists); the plan lists what changed outside drctl.
    pub refresh: bool,
    /// Ask STS whether the credentials are for the account state records.
    pub verify_account: bool,
    pub parallelism: usize,
    /// The caller holds the state lock: an interrupted run is recovered
    /// first (recovery writes state and removes the journal).
    pub locked: bool,
}

/// Refreshes `state` in memory from AWS and notes what drifted.
async fn refresh_state(
    ws: &Workspace,
    state: &mut State,
    parallelism: usize,
    only: Option<&BTreeSet<Address>>,
) -> Result<(), OpsError> {
    let providers = ws.providers().await;
    match drctl_core::refresh::refresh(state, providers, parallelism, only).await {
        Ok(report) => {
            for a in &report.gone {
                ws.note(&format!("{a}: no longer exists; it will be created again"));
            }
            for a in &report.drifted {
                ws.note(&format!("{a}: changed outside drctl"));
            }
            Ok(())
        }
        Err(errors) => Err(OpsError::Refresh(
            errors.iter().map(ToString::to_string).collect(),
        )),
    }
}

/// Reads the outputs `desired` references that state records no value
/// for (the resource was made by an older drctl).
async fn read_missing_outputs(
    ws: &Workspace,
    desired: &DesiredGraph,
    state: &mut State,
) -> Result<bool, OpsError> {
    let stale = drctl_core::refresh::missing_outputs(desired, state);
    if stale.is_empty() {
        return Ok(false);
    }
    let providers = ws.providers().await;
    drctl_core::refresh::read_outputs(state, providers, &stale)
        .await
        .map_err(|errors| {
            OpsError::ReadOutputs(errors.iter().map(ToString::to_string).collect())
        })?;
    Ok(true)
}

/// Plans against current state (`request` says how) with `selected`.
/// Nothing is called before the blueprint expanded and checked: the
/// graph's shape does not depend on the account, and a plan of an
/// environment whose account and zones state records expands it once.
pub async fn plan(
    ws: &Workspace,
    request: &PlanRequest,
    selected: &Selected,
) -> Result<(Plan, State), OpsError> {
    let (mut state, exists) = ws.load_state()?;
    // Before the first call. With the account and zones state records
    // this is the graph planned against below.
    ws.desired(
        state.account_id.as_deref().unwrap_or(PLACEHOLDER_ACCOUNT),
        &state,
    )?;
    if request.locked {
        ws.recover(&mut state).await?;
    }
    let account = ws
        .resolve_account(&mut state, request.verify_account)
        .await?;
    ws.resolve_zones(&mut state).await?;
    let desired = ws.desired(&account, &state)?;
    let mut exists = exists || ws.state_exists()?;
    // Outputs a newer drctl references that state recorded no value for
    // (the resource was made by an older one): read once, kept by the
    // next locked run.
    if !request.refresh && read_missing_outputs(ws, &desired, &mut state).await? && request.locked {
        ws.save_state(&mut state)?;
    }
    let mut drift = Vec::new();
    if request.refresh && !state.resources.is_empty() {
        let before = state.clone();
        let only = selected.refresh_scope(&desired, &state, ws.schemas())?;
        refresh_state(ws, &mut state, request.parallelism, only.as_ref()).await?;
        drift = plan::drift(&before, &state);
        if state.resources != before.resources {
            ws.save_state(&mut state)?;
            exists = true;
        }
    }
    // Replacing what does not exist would be a create: refused, by name.
    let replace = targeting::matching(&selected.replace, state.resources.keys())
        .map_err(OpsError::ReplaceNotInState)?;
    let changes = plan_apply_replacing(&desired, &state, ws.schemas(), &replace);
    let (changes, selection) = selected.apply(changes)?;
    let mut plan = Plan::new(PlanOperation::Apply, &state, exists, changes);
    plan.selection = selection.map(|s| Selection {
        replace: replace.into_iter().collect(),
        ..s
    });
    plan.drift = drift;
    plan.seal(&ws.settings.by_key(), &desired);
    Ok((plan, state))
}

/// A plan and the state it was made against, with the lock the planning
/// took (held until this is dropped).
pub struct Planned {
    pub plan: Plan,
    pub state: State,
    pub lock: Option<Box<dyn HeldLock>>,
}

/// `drctl plan`: recovering an interrupted run writes state, so it takes
/// the lock then; so do a refresh and bringing a copy of the state up to
/// date.
pub async fn plan_changes(
    ws: &Workspace,
    refresh: bool,
    parallelism: usize,
    selected: &Selected,
) -> Result<Planned, OpsError> {
    let lock = if refresh || ws.has_open_intents()? || ws.backend.needs_repair()? {
        Some(ws.lock("plan")?)
    } else {
        None
    };
    let request = PlanRequest {
        refresh,
        verify_account: false,
        parallelism,
        locked: lock.is_some(),
    };
    let (plan, state) = plan(ws, &request, selected).await?;
    Ok(Planned { plan, state, lock })
}

/// `drctl refresh`: state records what AWS holds; nothing in AWS
/// changes. The returned plan has the drift only: no changes (those are
/// `plan`'s business) and no digest (it is no plan to apply).
pub async fn refresh(ws: &Workspace, parallelism: usize) -> Result<Planned, OpsError> {
    let lock = ws.lock("refresh")?;
    let request = PlanRequest {
        refresh: true,
        verify_account: false,
        parallelism,
        locked: true,
    };
    let (mut plan, state) = plan(ws, &request, &Selected::default()).await?;
    plan.changes.clear();
    plan.digest = None;
    Ok(Planned {
        plan,
        state,
        lock: Some(lock),
    })
}

/// Writes `plan` to `out` (a bare name: in the plans folder); returns the
/// path written.
pub fn save_plan(ws: &Workspace, plan: &Plan, out: &Path) -> Result<PathBuf, OpsError> {
    let path = ws.plan_path(out);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| OpsError::CreatePlanDir {
            dir: dir.to_owned(),
            source,
        })?;
    }
    write_atomic(&path, &plan::encode(plan)).map_err(|source| OpsError::WritePlan {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Reads the saved apply plan at `file` (a bare name: in the plans
/// folder); returns its path and the plan, not yet checked.
pub fn read_saved_plan(ws: &Workspace, file: &Path) -> Result<(PathBuf, Plan), OpsError> {
    let path = ws.plan_path(file);
    let bytes = std::fs::read(&path).map_err(|source| OpsError::ReadPlan {
        path: path.clone(),
        source,
    })?;
    let plan = plan::decode(&bytes).map_err(|source| OpsError::UnusablePlan {
        path: path.clone(),
        source,
    })?;
    if plan.operation != PlanOperation::Apply {
        return Err(OpsError::NotAnApplyPlan {
            path,
            operation: plan.operation,
        });
    }
    Ok((path, plan))
}

/// A saved plan, checked against the plan drctl makes now from the
/// current drctl.toml and `state` with the same selection: refused,
/// naming what differs, unless it has the same changes and data-loss
/// marks, was made from the same settings and desired resources, and is
/// unchanged since it was written. Returns it with the changes made now,
/// so that nothing but recomputed changes (and marks) is acted on. Calls
/// AWS only to read outputs state lacks (as `plan` does).
pub async fn recheck_saved_plan(
    ws: &Workspace,
    saved: &Plan,
    state: &mut State,
    exists: bool,
    path: &Path,
) -> Result<Plan, OpsError> {
    // A plan of a new environment was made with the account it looked up;
    // the credentials are checked against it afterwards.
    let account = state
        .account_id
        .clone()
        .or_else(|| saved.account_id.clone())
        .unwrap_or_else(|| PLACEHOLDER_ACCOUNT.to_owned());
    let desired = ws.desired(&account, state)?;
    read_missing_outputs(ws, &desired, state).await?;
    let selection = saved.selection.clone();
    let patterns = |flag: &str, v: &[String]| -> Result<Vec<Pattern>, OpsError> {
        v.iter()
            .map(|p| {
                Pattern::parse(p).map_err(|source| OpsError::Pattern {
                    what: format!("plan {}: its {flag} {p}", path.display()),
                    source,
                })
            })
            .collect()
    };
    let replace: BTreeSet<Address> = selection
        .as_ref()
        .map(|s| s.replace.iter().cloned().collect())
        .unwrap_or_default();
    // The selection as `plan` had it: an address is a pattern that
    // matches itself.
    let selected = Selected {
        targets: patterns("target", selection.as_ref().map_or(&[], |s| &s.targets))?,
        excludes: patterns("exclude", selection.as_ref().map_or(&[], |s| &s.excludes))?,
        replace: patterns(
            "replace",
            &replace.iter().map(ToString::to_string).collect::<Vec<_>>(),
        )?,
    };
    let changes = plan_apply_replacing(&desired, state, ws.schemas(), &replace);
    let (changes, now_selected) = selected.apply(changes)?;
    let mut now = Plan::new(PlanOperation::Apply, state, exists, changes);
    now.selection = now_selected.map(|s| Selection {
        replace: replace.into_iter().collect(),
        ..s
    });
    now.seal(&ws.settings.by_key(), &desired);
    let differences = saved.differences(&now);
    if !differences.is_empty() {
        const SHOWN: usize = 20;
        let mut lines: Vec<String> = differences.iter().take(SHOWN).cloned().collect();
        if differences.len() > SHOWN {
            lines.push(format!("... and {} more", differences.len() - SHOWN));
        }
        return Err(OpsError::PlanDiffers {
            path: path.to_owned(),
            serial: state.serial,
            differences: lines,
            env: ws.env.clone(),
        });
    }
    Ok(Plan {
        changes: now.changes,
        ..saved.clone()
    })
}
