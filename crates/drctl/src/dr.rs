//! The DR subcommands: `status`, `failover`, `failback` and `drill`: their
//! arguments, prompts and rendering. What they do is `drctl_dr`'s.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use drctl_core::State;
use drctl_dr::checks::{self, Check, Expected};
use drctl_dr::drill::{self, DrillReport};
use drctl_dr::status::{self, Status};
use drctl_dr::switch::{self, Observed, Step, StepTiming, Switch};
use drctl_dr::{Role, Targets};
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

fn or_unknown(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("unknown")
}

fn render_status(s: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Environment `{}`", s.env);
    let _ = writeln!(out, "  Recorded active role: {}", s.recorded_active_role);
    match &s.traffic {
        Some(t) => {
            let serving = match (t.serving_role, &t.serving_region) {
                (Some(role), Some(region)) => format!("{role} ({region})"),
                _ => "no single region".to_owned(),
            };
            let weights = if t.records.is_empty() {
                "weights unknown".to_owned()
            } else {
                format!("weights {}", status::weights_text(&t.records))
            };
            let _ = writeln!(out, "  Traffic:        {serving} serves; {weights}");
            let fence = match t.fence.fenced {
                Some(true) => "up: the primary is fenced off",
                Some(false) => "down",
                None => "unknown",
            };
            let _ = writeln!(
                out,
                "  Fence:          {fence} (alarm {} in {}: {})",
                t.fence.alarm,
                t.fence.region,
                or_unknown(&t.fence.state)
            );
        }
        None => out.push_str("  Traffic:        unknown\n"),
    }
    match &s.database {
        Some(d) => {
            let writer = match (d.writer_role, &d.writer_region) {
                (Some(role), Some(region)) => format!("{role} ({region})"),
                _ => "none".to_owned(),
            };
            let _ = writeln!(
                out,
                "  Aurora global:  {} {}; writer {writer}",
                d.global_cluster,
                or_unknown(&d.status)
            );
            if let Some(f) = &d.failover_in_progress {
                let _ = writeln!(
                    out,
                    "                  {} in progress: {} -> {}{}",
                    f.status,
                    f.from_role.unwrap_or("?"),
                    f.to_role.unwrap_or("?"),
                    if f.data_loss_allowed {
                        " (data loss allowed)"
                    } else {
                        ""
                    }
                );
            }
            for m in &d.members {
                let part = match (m.member, m.writer) {
                    (false, _) => "not a member",
                    (true, true) => "writer",
                    (true, false) => "reader",
                };
                let _ = writeln!(
                    out,
                    "    {:<9} {} ({}): {part}, {}",
                    m.role,
                    m.cluster,
                    m.region,
                    or_unknown(&m.status)
                );
            }
        }
        None => out.push_str("  Aurora global:  unknown\n"),
    }
    match &s.session_table {
        Some(t) => {
            let replicas: Vec<String> = t
                .replicas
                .iter()
                .map(|r| format!("replica {} {}", r.region, r.status))
                .collect();
            let _ = writeln!(
                out,
                "  DynamoDB:       {} ({}) {}; {}",
                t.table,
                t.region,
                or_unknown(&t.status),
                if replicas.is_empty() {
                    "no replica".to_owned()
                } else {
                    replicas.join(", ")
                }
            );
        }
        None => out.push_str("  DynamoDB:       unknown\n"),
    }
    match &s.s3_replication {
        Some(r) => {
            let _ = writeln!(
                out,
                "  S3 replication: {} -> {}: rule {} {}; destination versioning {}",
                r.source_bucket,
                r.destination_bucket,
                r.rule_id,
                or_unknown(&r.rule_status),
                r.destination_versioning
                    .as_deref()
                    .filter(|v| !v.is_empty())
                    .unwrap_or("off")
            );
        }
        None => out.push_str("  S3 replication: unknown\n"),
    }
    render_backups(&mut out, &s.backups);
    if !s.checks.is_empty() {
        out.push_str("\nChecks of a planned switch to the other region:\n");
        render_checks(&mut out, &s.checks, true, &[]);
    }
    if s.ready {
        let _ = writeln!(
            out,
            "\nReady: a switch to the {} region can start.",
            Role::parse(s.recorded_active_role).map_or("other", |r| r.other().as_str())
        );
    } else if !s.reasons.is_empty() {
        out.push_str("\nNot ready to fail over:\n");
        for r in &s.reasons {
            let _ = writeln!(out, "  - {r}");
        }
    } else {
        out.push_str("\nNot ready to fail over: a check above fails.\n");
    }
    out
}

/// Per region, the last completed backup into its vault and the last
/// completed copy out of it, or "none yet".
fn render_backups(out: &mut String, backups: &[status::BackupStatus]) {
    let job = |j: &Option<status::JobStatus>| match j {
        Some(j) => format!(
            "{} {} -> {}",
            j.completed_at, j.resource_arn, j.recovery_point_arn
        ),
        None => "none yet".to_owned(),
    };
    for b in backups {
        let _ = writeln!(
            out,
            "  Backup:         {} ({}) vault {}",
            b.role, b.region, b.vault
        );
        let _ = writeln!(out, "    last backup   {}", job(&b.last_backup));
        match &b.copy_destination_vault {
            Some(to) => {
                let _ = writeln!(out, "    last copy     {} (to {to})", job(&b.last_copy));
            }
            None => out.push_str("    last copy     no vault to copy to\n"),
        }
        if let Some(e) = &b.error {
            let _ = writeln!(out, "    unknown: {e}");
        }
    }
}

/// One line per check: ok/FAIL, name, value against threshold, and the
/// remedy of a failed one.
fn render_checks(out: &mut String, checks: &[Check], planned: bool, skip: &[String]) {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in checks {
        let _ = writeln!(
            out,
            "  {:<4}  {:<width$}  {} (expected: {}){}",
            if c.ok { "ok" } else { "FAIL" },
            c.name,
            c.value_text(),
            c.threshold_text(),
            checks::gate(c, planned, skip).label()
        );
        let _ = writeln!(out, "        {:<width$}  {}", "", c.subject);
        if let Some(r) = &c.remedy {
            let _ = writeln!(out, "        {:<width$}  to clear: {r}", "");
        }
    }
}

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
        print!("{}", render_status(&status));
        print!("{}", render_control_plane(&warnings));
    }
    Ok(if status.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The warnings of `Session::control_plane_warnings`, one per line.
pub fn render_control_plane(warnings: &[String]) -> String {
    let mut out = String::new();
    if !warnings.is_empty() {
        out.push_str("\nWhat a failover needs that an outage of the primary region would take:\n");
        for w in warnings {
            let _ = writeln!(out, "  - warning: {w}");
        }
    }
    out
}

// ------------------------------------------------------------ switching

/// Prints each step of a running switch with its elapsed time.
struct Lines<'a>(&'a Session);

impl switch::Observer for Lines<'_> {
    fn started(&self, index: usize, count: usize, step: &Step) {
        self.0
            .note(&format!("[{}/{count}] {}...", index + 1, step.text));
    }
    fn finished(&self, index: usize, count: usize, _step: &Step, elapsed: Duration) {
        self.0.note(&format!(
            "[{}/{count}] done in {}",
            index + 1,
            duration(elapsed)
        ));
    }
    fn skipped(&self, index: usize, count: usize, step: &Step) {
        self.0.note(&format!(
            "[{}/{count}] {}: already done",
            index + 1,
            step.text
        ));
    }
    fn waiting(&self, index: usize, count: usize, _step: &Step, what: &str) {
        self.0
            .note(&format!("[{}/{count}] waiting: {what}", index + 1));
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
        for (i, step) in prepared.steps.iter().enumerate() {
            let mark = if step.done { " (already done)" } else { "" };
            session.note(&format!("  {}. {}{mark}", i + 1, step.text));
        }
        if !confirm(
            &format!("fail `{}` {}", session.env, sw.direction()),
            auto_approve,
        )? {
            return Ok(None);
        }
        session.note("");
    } else {
        session.note(&format!("{}:", capitalised(sw.phase)));
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

/// Why a planned switch refuses: the failed gating checks, the readiness
/// check as its reasons, each naming the check and how to clear it.
fn refusal_lines(status: &Status, refused: &[&Check]) -> Vec<String> {
    let mut lines = Vec::new();
    for c in refused {
        if c.name == checks::READINESS {
            lines.extend(
                status
                    .reasons
                    .iter()
                    .map(|r| format!("check `{}`: {r}", c.name)),
            );
        } else {
            lines.push(format!(
                "check `{}`: {} is {} (expected: {}); to clear: {}",
                c.name,
                c.subject,
                c.value_text(),
                c.threshold_text(),
                c.remedy.as_deref().unwrap_or_default()
            ));
        }
    }
    lines
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
        refusal_lines(&status, &refused).join("\n  - "),
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
    let mut out = String::new();
    let mut refused_names = Vec::new();
    let mut sources: Vec<Expected> = vec![checks::CHECKS_TIME];
    for (n, sw) in switches.iter().enumerate() {
        let planned = sw.planned();
        let target = t.cluster(sw.to);
        let kind = if planned { "planned" } else { "unplanned" };
        let _ = writeln!(
            out,
            "{} {} of `{}` to the {} region ({}):",
            capitalised(kind),
            sw.phase,
            session.env,
            sw.to.as_str(),
            target.region
        );
        let (seen, recorded_done) = if n == 0 {
            (switch::observe(aws, &t, sw).await?, active == sw.to)
        } else {
            // A drill's failback starts where its failover ended.
            (Observed::after(&switches[n - 1]), false)
        };
        if n == 0 {
            let status = read_status(session, &state, &t, sw.to).await?;
            out.push_str("  Checks, measured now");
            out.push_str(if planned {
                " (each gates step 1):\n"
            } else {
                " (shown; an unplanned failover runs whatever they say):\n"
            });
            render_checks(&mut out, &status.checks, planned, skip);
            refused_names.extend(
                checks::refusals(&status.checks, planned, skip)
                    .iter()
                    .map(|c| c.name),
            );
        } else {
            out.push_str("  Checks: none gate it; the drill runs it right after the failover\n");
        }
        let steps = switch::steps(&t, sw, &seen, recorded_done);
        out.push_str("  Steps:\n");
        for (i, step) in steps.iter().enumerate() {
            let mark = if step.done { " (already done)" } else { "" };
            let _ = writeln!(
                out,
                "    {}. {}{mark}\n       expected: {}",
                i + 1,
                step.text,
                step.expected.duration
            );
            if !sources.contains(&step.expected) {
                sources.push(step.expected);
            }
        }
        out.push('\n');
    }
    out.push_str("Typical durations on AWS:\n");
    for e in &sources {
        let _ = writeln!(out, "  {}: {}", e.duration, e.source);
    }
    // `failover --plan`, planned or not: what an unplanned one takes.
    if let [sw] = switches
        && sw.phase == "failover"
    {
        out.push('\n');
        out.push_str(&crate::rto::render(&drctl_dr::rto::Settings::applied(
            &state,
        )));
    }
    let what = switches
        .iter()
        .map(|s| s.phase)
        .collect::<Vec<_>>()
        .join(" and ");
    if refused_names.is_empty() {
        let _ = writeln!(out, "\nNothing was changed. The {what} would start now.");
    } else {
        let _ = writeln!(
            out,
            "\nNothing was changed. The {what} would refuse now: check{} {} fail{} (see \"to clear\" above).",
            if refused_names.len() == 1 { "" } else { "s" },
            refused_names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if refused_names.len() == 1 { "s" } else { "" }
        );
    }
    print!("{out}");
    Ok(if refused_names.is_empty() {
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
            println!("{} cancelled.", capitalised(sw.phase));
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
                capitalised(sw.phase),
                session.env,
                duration(started.elapsed()),
                sw.to.as_str(),
                targets.cluster(sw.to).region
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
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
        let mut reasons = refusal_lines(&status, &refused);
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
        print!("{}", render_drill(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn render_drill(r: &DrillReport) -> String {
    let secs = |s: f64| duration(Duration::from_secs_f64(s));
    let width = r
        .steps
        .iter()
        .map(|s| s.phase.len() + 2 + s.step.len())
        .chain([34])
        .max()
        .unwrap_or(34);
    let mut out = format!("\nDrill of `{}` complete.\n\n", r.env);
    let _ = writeln!(out, "{:<width$}  {:>9}", "Step", "Duration");
    for s in &r.steps {
        let _ = writeln!(
            out,
            "{:<width$}  {:>9}",
            format!("{}: {}", s.phase, s.step),
            if s.skipped {
                "skipped".to_owned()
            } else {
                secs(s.seconds)
            }
        );
    }
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}",
        "Failover (RTO, to the health check flip)",
        secs(r.failover_seconds)
    );
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}",
        "Failback",
        secs(r.failback_seconds)
    );
    let _ = writeln!(out, "{:<width$}  {:>9}", "Total", secs(r.total_seconds));
    out
}
