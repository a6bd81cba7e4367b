//! The DR subcommands: `status`, `failover`, `failback` and `drill`: their
//! arguments, prompts and calls. What they do is `drctl_dr`'s, what they
//! show `drctl_view::dr`'s.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use drctl_core::State;
use drctl_dr::checks;
use drctl_dr::drill::{self, DrillReport};
use drctl_dr::switch::{self, Step, StepTiming, Switch};
use drctl_dr::{Role, Targets};
use drctl_ops::dr::{Begun, lock_and_load, read_status};
use drctl_view::dr as view;
use drctl_view::duration;

use crate::cli::{DrillArgs, FailbackArgs, FailoverArgs, StatusArgs};
use crate::prompt::confirm;
use crate::session::Session;

// ---------------------------------------------------------------- status

pub async fn status_cmd(session: &Session, args: StatusArgs) -> Result<ExitCode> {
    let (status, warnings) = drctl_ops::dr::status(session).await?;
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

/// Runs a switch (the caller holds the lock). `None`: cancelled at the
/// prompt (`ask` is `Some(auto_approve)`; a drill does not ask).
async fn run_switch(
    session: &Session,
    state: &mut State,
    t: &Targets,
    sw: &Switch,
    ask: Option<bool>,
) -> Result<Option<Vec<StepTiming>>> {
    let prepared = match drctl_ops::dr::begin_switch(session, state, t, sw).await? {
        Begun::Done => return Ok(Some(Vec::new())),
        Begun::Ready(prepared) => prepared,
    };
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
    let timings =
        drctl_ops::dr::run_switch(session, state, t, sw, &prepared, &Lines(session)).await?;
    Ok(Some(timings))
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
    let (plans, rto, refused) = drctl_ops::dr::plan_switches(session, switches, skip).await?;
    let planned: Vec<view::PlannedSwitch> = plans
        .into_iter()
        .map(|p| view::PlannedSwitch {
            switch: p.switch,
            region: p.region,
            checks: p.checks,
            steps: p.steps,
        })
        .collect();
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
    let (_lock, mut state, targets) = lock_and_load(session, sw.phase, sw.planned()).await?;
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
    drctl_ops::dr::check_drill_allowed(session)?;
    let switches = drill::SWITCHES;
    if args.checks.plan {
        return plan_cmd(session, &switches, &args.checks.skip_check).await;
    }
    if args.json {
        session.notes_to_stderr();
    }
    let (_lock, mut state, targets) = lock_and_load(session, "drill", true).await?;
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
