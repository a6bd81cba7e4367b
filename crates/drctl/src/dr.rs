//! The DR subcommands: `status`, `failover`, `failback` and `drill`: their
//! arguments, prompts and calls. What they do is `drctl_dr`'s, what they
//! show `drctl_view::dr`'s.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use drctl_core::State;
use drctl_dr::checks;
use drctl_dr::drill::{self, DrillReport};
use drctl_dr::status::{self, Status};
use drctl_dr::switch::{self, Observed, Step, StepTiming, Switch};
use drctl_dr::{Role, Targets};
use drctl_view::dr as view;
use drctl_view::duration;

use crate::cli::{DrillArgs, FailbackArgs, FailoverArgs, StatusArgs};
use crate::prompt::confirm;
use crate::session::Session;

/// The state of an applied environment and its targets; fails (before any
/// API call) when there is no state or it lacks the DR resources.
fn load_targets(session: &Session) -> Result<(State, Targets)> {
    let (state, exists) = session.load_state()?;
    if !exists || state.resources.is_empty() {
        bail!(
            "`{}` has no resources in state {}: nothing to operate on; create the environment with `drctl apply --env {}`",
            session.env,
            session.backend.location(),
            session.env
        );
    }
    let targets = Targets::from_state(&state).map_err(|missing| {
        anyhow!(
            "`{}` is not fully applied: state {} lacks {}; run `drctl apply --env {}`",
            session.env,
            session.backend.location(),
            joined(&missing),
            session.env
        )
    })?;
    Ok((state, targets))
}

fn joined(addresses: &[drctl_core::Address]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the status, with the checks of a switch to `to`.
async fn read_status(session: &Session, state: &State, t: &Targets, to: Role) -> Result<Status> {
    let ctx = status::Context {
        env: &session.env,
        active: session.active_role(state)?,
        to,
        max_replication_lag_seconds: session.settings.max_replication_lag_seconds,
    };
    Ok(status::read(session.aws().await, t, &ctx).await)
}

// ---------------------------------------------------------------- status

pub async fn status_cmd(session: &Session, args: StatusArgs) -> Result<ExitCode> {
    let (state, _) = session.load_state()?;
    let active = session.active_role(&state)?;
    let status = match Targets::from_state(&state) {
        Ok(targets) => read_status(session, &state, &targets, active.other()).await?,
        Err(missing) => Status::not_applied(
            &session.env,
            active,
            if state.resources.is_empty() {
                format!(
                    "`{}` is not applied (no resources in state); run `drctl apply --env {}`",
                    session.env, session.env
                )
            } else {
                format!(
                    "`{}` is not fully applied (state lacks {}); run `drctl apply --env {}`",
                    session.env,
                    joined(&missing),
                    session.env
                )
            },
        ),
    };
    let warnings = session.control_plane_warnings(&state, true);
    if args.json {
        let mut doc = serde_json::to_value(&status)?;
        doc["control_plane_warnings"] = serde_json::json!(warnings);
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", view::render_status(&status));
        print!("{}", view::render_control_plane(&warnings));
    }
    Ok(if status.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

// ------------------------------------------------------------ switching

/// Prints each step of a running switch with its elapsed time.
struct Lines<'a>(&'a Session);

impl switch::Observer for Lines<'_> {
    fn started(&self, index: usize, count: usize, step: &Step) {
        self.0.note(&view::step_started(index, count, step));
    }
    fn finished(&self, index: usize, count: usize, _step: &Step, elapsed: Duration) {
        self.0.note(&view::step_finished(index, count, elapsed));
    }
    fn skipped(&self, index: usize, count: usize, step: &Step) {
        self.0.note(&view::step_skipped(index, count, step));
    }
    fn waiting(&self, index: usize, count: usize, _step: &Step, what: &str) {
        self.0.note(&view::step_waiting(index, count, what));
    }
}

fn state_writer(session: &Session) -> switch::StateWriter<'_> {
    switch::StateWriter {
        backend: session.backend.as_ref(),
        env: &session.env,
    }
}

/// Runs a switch (the caller holds the lock). `None`: cancelled at the
/// prompt (`ask` is `Some(auto_approve)`; a drill does not ask).
async fn run_switch(
    session: &Session,
    state: &mut State,
    t: &Targets,
    sw: &Switch,
    ask: Option<bool>,
) -> Result<Option<Vec<StepTiming>>> {
    let aws = session.aws().await;
    let target = t.cluster(sw.to);
    let recorded_done = session.active_role(state)? == sw.to;
    let prepared = switch::prepare(aws, t, sw, recorded_done).await?;
    let writer = state_writer(session);
    if prepared.is_done() {
        session.note(&format!(
            "Nothing to do: the {} cluster {} ({}) is the writer, state records {} as active and it takes all traffic.",
            sw.to.as_str(),
            target.id,
            target.region,
            sw.to.as_str()
        ));
        // A run killed after Route 53 took the change but before state
        // recorded it leaves the records' weights behind in state.
        match sw.traffic {
            switch::TrafficMove::Weights => switch::record_weights_in_state(&writer, state, sw.to)?,
            switch::TrafficMove::Fence => switch::record_fence(&writer, state, true)?,
        }
        return Ok(Some(Vec::new()));
    }
    if let Some(auto_approve) = ask {
        session.note(&format!(
            "drctl will fail `{}` {}:",
            session.env,
            sw.direction()
        ));
        for line in view::step_list(&prepared.steps) {
            session.note(&line);
        }
        if !confirm(
            &format!("fail `{}` {}", session.env, sw.direction()),
            auto_approve,
        )? {
            return Ok(None);
        }
        session.note("");
    } else {
        session.note(&format!("{}:", view::capitalised(sw.phase)));
    }
    let timings = switch::run(aws, &writer, state, t, sw, &prepared, &Lines(session)).await?;
    Ok(Some(timings))
}

/// Takes the lock and loads state for an operation that switches roles;
/// with `verify_account`, asks STS whether the credentials are for the
/// account state records.
async fn prepare(
    session: &Session,
    operation: &str,
    verify_account: bool,
) -> Result<(Box<dyn drctl_core::backend::HeldLock>, State, Targets)> {
    // Checked before locking, so that an environment without state gets
    // no lock file.
    load_targets(session)?;
    let lock = session.lock(operation)?;
    // Loaded again under the lock: another run may have just written it.
    let (mut state, targets) = load_targets(session)?;
    session.recover(&mut state).await?;
    session.resolve_account(&mut state, verify_account).await?;
    Ok((lock, state, targets))
}

/// Refuses to start a planned switch while a check fails that `skip`
/// does not name, unless the switch already began (state or AWS is part
/// way to the target): then the run completes it.
async fn preflight(
    session: &Session,
    state: &State,
    t: &Targets,
    sw: &Switch,
    skip: &[String],
) -> Result<()> {
    let status = read_status(session, state, t, sw.to).await?;
    let refused = switch::refusals(&status, sw, skip);
    if refused.is_empty() {
        return Ok(());
    }
    let unplanned = if sw.to == Role::Secondary {
        "; if the primary region is down, `drctl failover --unplanned` fails over allowing data loss"
    } else {
        ""
    };
    bail!(
        "`{}` is not ready for a planned {}; nothing was changed:\n  - {}\nFix these first (`drctl status --env {}` shows them){unplanned}",
        session.env,
        sw.phase,
        view::refusal_lines(&status, &refused).join("\n  - "),
        session.env
    )
}

/// `--plan`: the checks measured now and the steps each switch would run,
/// with their typical durations; reads only (no lock, no state write).
/// Exit 1 when a check would refuse.
async fn plan_cmd(session: &Session, switches: &[Switch], skip: &[String]) -> Result<ExitCode> {
    let (state, t) = load_targets(session)?;
    let active = session.active_role(&state)?;
    let aws = session.aws().await;
    let mut planned = Vec::new();
    let mut refused: Vec<&str> = Vec::new();
    for (n, sw) in switches.iter().enumerate() {
        let (seen, recorded_done, checks) = if n == 0 {
            let seen = switch::observe(aws, &t, sw).await?;
            let status = read_status(session, &state, &t, sw.to).await?;
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
        planned.push(view::PlannedSwitch {
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
    print!(
        "{}",
        view::render_switch_plan(&session.env, &planned, skip, rto.as_ref(), &refused)
    );
    Ok(if refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn switch_cmd(
    session: &Session,
    sw: Switch,
    auto_approve: bool,
    skip: &[String],
) -> Result<ExitCode> {
    // drctl calls STS in us-east-1, which the outage an unplanned failover
    // is for may take down: that one trusts the account state records.
    let (_lock, mut state, targets) = prepare(session, sw.phase, sw.planned()).await?;
    if sw.planned() {
        preflight(session, &state, &targets, &sw, skip).await?;
    }
    let started = Instant::now();
    match run_switch(session, &mut state, &targets, &sw, Some(auto_approve)).await? {
        None => {
            println!("{} cancelled.", view::capitalised(sw.phase));
            Ok(ExitCode::FAILURE)
        }
        Some(steps) if steps.is_empty() => Ok(ExitCode::SUCCESS),
        Some(_) => {
            let how = match sw.traffic {
                switch::TrafficMove::Weights => "serves traffic",
                switch::TrafficMove::Fence => {
                    "serves traffic (Route 53 answers with it while the primary is fenced off)"
                }
            };
            println!(
                "\n{} of `{}` complete in {}: the {} region ({}) {how} and holds the Aurora writer.",
                view::capitalised(sw.phase),
                session.env,
                duration(started.elapsed()),
                sw.to.as_str(),
                targets.cluster(sw.to).region
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn failover_cmd(
    session: &Session,
    args: FailoverArgs,
    backend_note: Option<String>,
) -> Result<ExitCode> {
    let sw = if args.unplanned {
        Switch::UNPLANNED_FAILOVER
    } else {
        Switch::PLANNED_FAILOVER
    };
    if let Some(note) = backend_note {
        session.note(&note);
    }
    if args.checks.plan {
        return plan_cmd(session, &[sw], &args.checks.skip_check).await;
    }
    switch_cmd(session, sw, args.auto_approve, &args.checks.skip_check).await
}

pub async fn failback_cmd(session: &Session, args: FailbackArgs) -> Result<ExitCode> {
    let sw = Switch::FAILBACK;
    if args.checks.plan {
        return plan_cmd(session, &[sw], &args.checks.skip_check).await;
    }
    switch_cmd(session, sw, args.auto_approve, &args.checks.skip_check).await
}

// ---------------------------------------------------------------- drill

pub async fn drill_cmd(session: &Session, args: DrillArgs) -> Result<ExitCode> {
    if drill::looks_like_production(&session.env, session.settings.production) {
        bail!(
            "`{}` looks like a production environment (its name, or `production = true` in drctl.toml): drills fail over real traffic, so drctl refuses; drill a staging environment instead",
            session.env
        );
    }
    let switches = drill::SWITCHES;
    if args.checks.plan {
        return plan_cmd(session, &switches, &args.checks.skip_check).await;
    }
    if args.json {
        session.notes_to_stderr();
    }
    let (_lock, mut state, targets) = prepare(session, "drill", true).await?;
    let status = read_status(session, &state, &targets, switches[0].to).await?;
    let refused = checks::refusals(&status.checks, true, &args.checks.skip_check);
    let from = drill::STARTS_FROM;
    let serving = status.serving();
    if !refused.is_empty() || serving != Some(from) {
        let mut reasons = view::refusal_lines(&status, &refused);
        if serving != Some(from) {
            reasons.push(format!(
                "a drill starts with the {} region serving; run `drctl failback` first",
                from.as_str()
            ));
        }
        bail!(
            "`{}` is not ready for a drill:\n  - {}",
            session.env,
            reasons.join("\n  - ")
        );
    }
    let (secondary, primary) = (
        targets.cluster(Role::Secondary),
        targets.cluster(Role::Primary),
    );
    session.note(&format!(
        "Drill of `{}`: a planned failover to {} ({}) whose traffic moves by the fence (as in an outage), then a failback to {} ({}).",
        session.env, secondary.id, secondary.region, primary.id, primary.region
    ));
    if !confirm(
        &format!("fail `{}` over and back", session.env),
        args.auto_approve,
    )? {
        println!("Drill cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    let started = Instant::now();
    let mut steps = Vec::new();
    let mut phase_seconds = Vec::new();
    for sw in &switches {
        let phase_start = Instant::now();
        let done = run_switch(session, &mut state, &targets, sw, None)
            .await?
            .expect("no prompt, no cancel");
        phase_seconds.push(phase_start.elapsed().as_secs_f64());
        steps.extend(done);
    }
    let report = DrillReport {
        env: session.env.clone(),
        steps,
        failover_seconds: phase_seconds[0],
        failback_seconds: phase_seconds[1],
        total_seconds: started.elapsed().as_secs_f64(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", view::render_drill(&report));
    }
    Ok(ExitCode::SUCCESS)
}
