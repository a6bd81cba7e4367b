//! The engine's subcommands: plan, apply, destroy, show, graph, validate
//! and init (the DR ones are in `dr`).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use drctl_blueprint::{Config, PLACEHOLDER_ACCOUNT, Role, Zones};
use drctl_core::backend::BackendSink;
use drctl_core::executor::{Event, Executor};
use drctl_core::plan::{self, Action, Plan, PlanOperation, Selection};
use drctl_core::planner::{plan_apply_replacing, plan_destroy};
use drctl_core::refresh::refresh;
use drctl_core::targeting::{self, Pattern};
use drctl_core::{State, write_atomic};
use drctl_view::run::RunLog;

use crate::cli::{
    ApplyArgs, DestroyArgs, GraphArgs, GraphFormat, InitArgs, PlanArgs, RefreshArgs, SelectionArgs,
    ShowArgs,
};
use crate::progress::{Progress, Sink};
use crate::prompt::confirm;
use crate::render;
use crate::session::{Session, desired_graph};

/// Refreshes `state` in memory from AWS and reports what drifted.
async fn refresh_state(session: &Session, state: &mut State, parallelism: usize) -> Result<()> {
    let providers = session.providers().await;
    match refresh(state, providers, parallelism).await {
        Ok(report) => {
            for a in &report.gone {
                session.note(&format!("{a}: no longer exists; it will be created again"));
            }
            for a in &report.drifted {
                session.note(&format!("{a}: changed outside drctl"));
            }
            Ok(())
        }
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            bail!(
                "refresh failed; nothing was changed:\n  {}",
                lines.join("\n  ")
            )
        }
    }
}

/// `--target`, `--exclude` and `--replace`, parsed before any call.
#[derive(Default)]
struct Selected {
    targets: Vec<Pattern>,
    excludes: Vec<Pattern>,
    replace: Vec<Pattern>,
}

impl Selected {
    fn parse(args: &SelectionArgs) -> Result<Self> {
        let parse = |flag: &str, v: &[String]| -> Result<Vec<Pattern>> {
            v.iter()
                .map(|p| Pattern::parse(p).with_context(|| format!("--{flag} {p}")))
                .collect()
        };
        Ok(Self {
            targets: parse("target", &args.targets)?,
            excludes: parse("exclude", &args.excludes)?,
            replace: parse("replace", &args.replace)?,
        })
    }

    fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.excludes.is_empty() && self.replace.is_empty()
    }

    /// The changes of the full plan this selection keeps, and the plan's
    /// record of it; replacements asked for are made in `plan`.
    fn apply(
        &self,
        changes: Vec<drctl_core::ResourceChange>,
    ) -> Result<(Vec<drctl_core::ResourceChange>, Option<Selection>)> {
        if self.is_empty() {
            return Ok((changes, None));
        }
        let acting = |c: &[drctl_core::ResourceChange]| {
            c.iter().filter(|c| c.action != Action::NoOp).count()
        };
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

/// Plans against current state; with `refresh`, the state is first read
/// back from AWS and saved (it is the truth about what exists), and the
/// plan lists what it found changed outside drctl. `locked`: the caller
/// holds the state lock, so an interrupted run is recovered first
/// (recovery writes state and removes the journal).
async fn make_plan(
    session: &Session,
    refresh_first: bool,
    verify_account: bool,
    parallelism: usize,
    locked: bool,
    selected: &Selected,
) -> Result<(Plan, State)> {
    let (mut state, exists) = session.load_state()?;
    // The graph's shape does not depend on the account: check it before
    // the first API call. A plan that will call nothing (account and
    // zones known, no recovery) skips this second expansion.
    if locked || verify_account || state.account_id.is_none() || !session.zones_recorded(&state) {
        session.desired(PLACEHOLDER_ACCOUNT, &state)?;
    }
    if locked {
        session.recover(&mut state).await?;
    }
    let account = session.resolve_account(&mut state, verify_account).await?;
    session.resolve_zones(&mut state).await?;
    let desired = session.desired(&account, &state)?;
    let mut exists = exists || session.state_exists()?;
    // Outputs a newer drctl references that state recorded no value for
    // (the resource was made by an older one): read once, kept by the
    // next locked run.
    let stale = drctl_core::refresh::missing_outputs(&desired, &state);
    if !stale.is_empty() && !refresh_first {
        let providers = session.providers().await;
        drctl_core::refresh::read_outputs(&mut state, providers, &stale)
            .await
            .map_err(|errors| {
                let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                anyhow::anyhow!(
                    "reading outputs state does not record yet failed; nothing was changed:\n  {}",
                    lines.join("\n  ")
                )
            })?;
        if locked {
            session.save_state(&mut state)?;
        }
    }
    let mut drift = Vec::new();
    if refresh_first && !state.resources.is_empty() {
        let before = state.clone();
        refresh_state(session, &mut state, parallelism).await?;
        drift = plan::drift(&before, &state);
        if state.resources != before.resources {
            session.save_state(&mut state)?;
            exists = true;
        }
    }
    // Replacing what does not exist would be a create: refused, by name.
    let replace = targeting::matching(&selected.replace, state.resources.keys())
        .context("--replace names a resource that is not in state")?;
    let changes = plan_apply_replacing(&desired, &state, &drctl_aws::schemas(), &replace);
    let (changes, selection) = selected.apply(changes)?;
    let mut plan = Plan::new(PlanOperation::Apply, &state, exists, changes);
    plan.selection = selection.map(|s| Selection {
        replace: replace.into_iter().collect(),
        ..s
    });
    plan.drift = drift;
    plan.seal(&session.settings.by_key(), &desired);
    Ok((plan, state))
}

/// A saved plan, checked against the plan drctl makes now from the
/// current drctl.toml and `state` with the same selection: refused,
/// naming what differs, unless it has the same changes and data-loss
/// marks, was made from the same settings and desired resources, and is
/// unchanged since it was written. Returns it with the changes made now,
/// so that nothing but recomputed changes (and marks) is acted on. Calls
/// AWS only to read outputs state lacks (as `plan` does).
async fn recheck_saved_plan(
    session: &Session,
    saved: &Plan,
    state: &mut State,
    exists: bool,
    path: &std::path::Path,
) -> Result<Plan> {
    // A plan of a new environment was made with the account it looked up;
    // the credentials are checked against it afterwards.
    let account = state
        .account_id
        .clone()
        .or_else(|| saved.account_id.clone())
        .unwrap_or_else(|| PLACEHOLDER_ACCOUNT.to_owned());
    let desired = session.desired(&account, state)?;
    let stale = drctl_core::refresh::missing_outputs(&desired, state);
    if !stale.is_empty() {
        let providers = session.providers().await;
        drctl_core::refresh::read_outputs(state, providers, &stale)
            .await
            .map_err(|errors| {
                let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                anyhow::anyhow!(
                    "reading outputs state does not record yet failed; nothing was changed:\n  {}",
                    lines.join("\n  ")
                )
            })?;
    }
    let selection = saved.selection.clone();
    let patterns = |flag: &str, v: &[String]| -> Result<Vec<Pattern>> {
        v.iter()
            .map(|p| {
                Pattern::parse(p)
                    .with_context(|| format!("plan {}: its {flag} {p}", path.display()))
            })
            .collect()
    };
    let replace: std::collections::BTreeSet<drctl_core::Address> = selection
        .as_ref()
        .map(|s| s.replace.iter().cloned().collect())
        .unwrap_or_default();
    // The selection as `make_plan` had it: an address is a pattern that
    // matches itself.
    let selected = Selected {
        targets: patterns("target", selection.as_ref().map_or(&[], |s| &s.targets))?,
        excludes: patterns("exclude", selection.as_ref().map_or(&[], |s| &s.excludes))?,
        replace: patterns(
            "replace",
            &replace.iter().map(ToString::to_string).collect::<Vec<_>>(),
        )?,
    };
    let changes = plan_apply_replacing(&desired, state, &drctl_aws::schemas(), &replace);
    let (changes, now_selected) = selected.apply(changes)?;
    let mut now = Plan::new(PlanOperation::Apply, state, exists, changes);
    now.selection = now_selected.map(|s| Selection {
        replace: replace.into_iter().collect(),
        ..s
    });
    now.seal(&session.settings.by_key(), &desired);
    let differences = saved.differences(&now);
    if !differences.is_empty() {
        const SHOWN: usize = 20;
        let mut lines: Vec<String> = differences.iter().take(SHOWN).cloned().collect();
        if differences.len() > SHOWN {
            lines.push(format!("... and {} more", differences.len() - SHOWN));
        }
        bail!(
            "plan {} is not the plan drctl makes now from drctl.toml and the state (serial {}); nothing was changed:\n  - {}\nMake a new plan with `drctl plan --env {} --out FILE`, review it, and apply that",
            path.display(),
            state.serial,
            lines.join("\n  - "),
            session.env
        );
    }
    Ok(Plan {
        changes: now.changes,
        ..saved.clone()
    })
}

/// `drctl refresh` and `plan --refresh-only`: state records what AWS
/// holds; nothing in AWS changes.
pub(crate) async fn refresh_cmd(session: &Session, args: RefreshArgs) -> Result<ExitCode> {
    if args.json {
        session.notes_to_stderr();
    }
    let _lock = session.lock("refresh")?;
    let (mut plan, state) = make_plan(
        session,
        true,
        false,
        args.parallelism,
        true,
        &Selected::default(),
    )
    .await?;
    // What drctl would change is `plan`'s business, not refresh's; this
    // document is no plan to apply, so it carries no digest.
    plan.changes.clear();
    plan.digest = None;
    if args.json {
        println!(
            "{}",
            String::from_utf8_lossy(&plan::encode(&plan)).trim_end()
        );
    } else if plan.drift.is_empty() {
        println!(
            "No changes outside drctl: state matches what AWS holds ({} resources).",
            state.resources.len()
        );
    } else {
        print!("{}", render::drift(&plan));
        println!(
            "State now records what AWS holds (serial {}). Run `drctl plan --env {}` to see what drctl would change.",
            state.serial, session.env
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn plan_cmd(session: &Session, args: PlanArgs) -> Result<ExitCode> {
    if args.refresh_only {
        let refresh = RefreshArgs {
            env: args.env,
            json: args.json,
            parallelism: args.parallelism,
        };
        return refresh_cmd(session, refresh).await;
    }
    let selected = Selected::parse(&args.selection)?;
    if args.json {
        session.notes_to_stderr();
    }
    // Recovering an interrupted run writes state, so it needs the lock too;
    // so does bringing a copy of the state up to date.
    let lock = if args.refresh || session.has_open_intents()? || session.backend.needs_repair()? {
        Some(session.lock("plan")?)
    } else {
        None
    };
    let (plan, state) = make_plan(
        session,
        args.refresh,
        false,
        args.parallelism,
        lock.is_some(),
        &selected,
    )
    .await?;
    if args.json {
        println!(
            "{}",
            String::from_utf8_lossy(&plan::encode(&plan)).trim_end()
        );
    } else {
        print!("{}", render::plan(&plan));
    }
    crate::dns::note(session, &plan, &state).await;
    for w in session.control_plane_warnings(&state, false) {
        eprintln!("warning: {w}");
    }
    if let Some(out) = &args.out {
        let path = session.plan_path(out);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write_atomic(&path, &plan::encode(&plan))
            .with_context(|| format!("cannot write plan {}", path.display()))?;
        if !args.json {
            println!(
                "\nSaved the plan to {}. Apply it with: drctl apply --env {} {}",
                path.display(),
                session.env,
                path.display()
            );
        }
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Refuses a plan that destroys data unless the operator allowed it. A
/// saved plan's marks are those `recheck_saved_plan` recomputed.
fn guard_data_loss(plan: &Plan, allowed: bool) -> Result<()> {
    let at_risk: Vec<String> = plan
        .data_loss()
        .map(|c| format!("{} ({})", c.address, c.action))
        .collect();
    if at_risk.is_empty() || allowed {
        return Ok(());
    }
    bail!(
        "the plan would destroy data held by {}; nothing was changed. If that is intended, pass --allow-data-loss",
        at_risk.join(", ")
    )
}

/// How a run reports itself besides the progress lines.
struct RunOutputs<'a> {
    /// A JSON report on stdout; everything else goes to stderr.
    json: bool,
    timeline: Option<&'a std::path::Path>,
}

async fn execute(
    session: &Session,
    plan: &Plan,
    mut state: State,
    parallelism: usize,
    verb: &str,
    outputs: RunOutputs<'_>,
) -> Result<ExitCode> {
    let providers = session.providers().await;
    let executor = Executor::new(providers.clone(), &session.env, parallelism);
    // First Ctrl-C: start nothing new, let what runs finish and be saved.
    // Second: leave at once (what was in flight is then unknown to state).
    let stop = executor.stop_flag();
    let interrupts = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            eprintln!(
                "\nInterrupt received: waiting for the operations in flight to finish (Ctrl-C again to quit now)."
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let mut store = BackendSink(session.backend.clone());
    let mut journal = session.backend.begin();
    let ui = crate::ui::get();
    let sink = if outputs.json {
        Sink::Stderr
    } else {
        Sink::Stdout
    };
    let progress = Progress::new(RunLog::new(&plan.changes, &state), ui, sink);
    let report = executor
        .run(
            &plan.changes,
            &mut state,
            &mut store,
            &mut *journal,
            &|e: &Event| progress.observe(e),
        )
        .await;
    interrupts.abort();
    let mut log = progress.into_log();
    let report = report?;
    log.finish(&report);
    // Intents of failed operations stay for the next run's recovery.
    if !session.has_open_intents()? {
        session.backend.remove_journal()?;
    }
    let summary = format!("{}{}", render::report(&report, verb), log.durations(5));
    if let Some(path) = outputs.timeline {
        let title = format!("drctl {} of `{}`", verb.to_lowercase(), session.env);
        write_atomic(path, drctl_view::timeline::render(&log, &title).as_bytes())
            .with_context(|| format!("cannot write the timeline {}", path.display()))?;
    }
    if outputs.json {
        eprint!("{summary}");
        let doc = log.to_json(&session.env, &verb.to_lowercase(), &report);
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{summary}");
        if let Some(path) = outputs.timeline {
            println!("Timeline: {}", path.display());
        }
    }
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(crate) async fn apply_cmd(session: &Session, args: ApplyArgs) -> Result<ExitCode> {
    require_approval_for_json(args.json, args.auto_approve)?;
    let selected = Selected::parse(&args.selection)?;
    if args.json {
        session.notes_to_stderr();
    }
    let _lock = session.lock("apply")?;
    let (plan, state) = match &args.plan_file {
        None => {
            make_plan(
                session,
                args.refresh,
                true,
                args.parallelism,
                true,
                &selected,
            )
            .await?
        }
        Some(file) => {
            let path = session.plan_path(file);
            let bytes = std::fs::read(&path)
                .with_context(|| format!("cannot read plan {}", path.display()))?;
            let plan = plan::decode(&bytes).with_context(|| {
                format!(
                    "plan {} is unusable; make a new one with drctl plan --out",
                    path.display()
                )
            })?;
            if plan.operation != PlanOperation::Apply {
                bail!(
                    "plan {} is a {:?} plan, not an apply plan",
                    path.display(),
                    plan.operation
                );
            }
            let (mut state, exists) = session.load_state()?;
            // Adopting what an interrupted run left changes state, and so
            // makes the plan stale: it was made without those resources.
            session.recover(&mut state).await?;
            if let Some(why) = plan.staleness(&state, exists) {
                bail!(
                    "stale plan {}: {why}. Run `drctl plan --env {} --out FILE` again",
                    path.display(),
                    session.env
                );
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
            let plan = recheck_saved_plan(session, &plan, &mut state, exists, &path).await?;
            guard_data_loss(&plan, args.allow_data_loss)?;
            session.resolve_account(&mut state, true).await?;
            if plan.account_id.is_some() && plan.account_id != state.account_id {
                bail!(
                    "plan {} was made for AWS account {:?}, the credentials are for {:?}",
                    path.display(),
                    plan.account_id,
                    state.account_id
                );
            }
            (plan, state)
        }
    };
    show_plan(&plan, args.json);
    crate::dns::note(session, &plan, &state).await;
    for w in session.control_plane_warnings(&state, false) {
        eprintln!("warning: {w}");
    }
    if !plan.has_changes() {
        if args.json {
            print_empty_report(session, "apply")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    guard_data_loss(&plan, args.allow_data_loss)?;
    if !confirm("perform these actions", args.auto_approve)? {
        println!("Apply cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    if !args.json {
        println!();
    }
    let outputs = RunOutputs {
        json: args.json,
        timeline: args.timeline.as_deref(),
    };
    execute(session, &plan, state, args.parallelism, "Apply", outputs).await
}

/// `--json` keeps stdout for the report, so drctl cannot ask there.
fn require_approval_for_json(json: bool, auto_approve: bool) -> Result<()> {
    if json && !auto_approve {
        bail!("--json prints a report instead of asking for confirmation; pass --auto-approve too");
    }
    Ok(())
}

/// The plan for the operator: on stdout, or on stderr (plain) when stdout
/// carries a JSON report.
fn show_plan(plan: &Plan, json: bool) {
    if json {
        eprint!(
            "{}",
            drctl_view::plan::render(plan, drctl_view::style::Palette::PLAIN)
        );
    } else {
        print!("{}", render::plan(plan));
    }
}

/// The JSON report of a run that had nothing to do.
fn print_empty_report(session: &Session, operation: &str) -> Result<()> {
    let log = RunLog::new(&[], &State::new(&session.env));
    let doc = log.to_json(
        &session.env,
        operation,
        &drctl_core::executor::Report::default(),
    );
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

pub(crate) async fn destroy_cmd(session: &Session, args: DestroyArgs) -> Result<ExitCode> {
    require_approval_for_json(args.json, args.auto_approve)?;
    if args.json {
        session.notes_to_stderr();
    }
    let _lock = session.lock("destroy")?;
    let (mut state, exists) = session.load_state()?;
    session.recover(&mut state).await?;
    if state.resources.is_empty() {
        session.note(&format!(
            "Nothing to destroy: the state of `{}` is empty.",
            session.env
        ));
        if args.json {
            print_empty_report(session, "destroy")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    session.resolve_account(&mut state, true).await?;
    let plan = Plan::new(
        PlanOperation::Destroy,
        &state,
        exists,
        plan_destroy(&state, &drctl_aws::schemas()),
    );
    show_plan(&plan, args.json);
    guard_data_loss(&plan, args.allow_data_loss)?;
    if !confirm(
        &format!("destroy every resource of `{}`", session.env),
        args.auto_approve,
    )? {
        println!("Destroy cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    if !args.json {
        println!();
    }
    let outputs = RunOutputs {
        json: args.json,
        timeline: args.timeline.as_deref(),
    };
    execute(session, &plan, state, args.parallelism, "Destroy", outputs).await
}

pub(crate) fn show_cmd(session: &Session, args: ShowArgs) -> Result<ExitCode> {
    let (state, exists) = session.load_state()?;
    if args.json {
        let doc = serde_json::json!({
            "format_version": 1,
            "env": session.env,
            "exists": exists,
            "state": exists.then_some(&state),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", render::state(&state));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn graph_cmd(session: &Session, args: GraphArgs) -> Result<ExitCode> {
    // Addresses and edges do not depend on the account; names do.
    let (state, _) = session.load_state()?;
    let account = state.account_id.as_deref().unwrap_or(PLACEHOLDER_ACCOUNT);
    let graph = session.desired(account, &state)?;
    if args.critical_path {
        print!("{}", critical_path_view(&session.env, &graph));
        return Ok(ExitCode::SUCCESS);
    }
    match args.format {
        GraphFormat::Dot => print!("{}", graph.to_dot()),
        GraphFormat::Mermaid => print!("{}", drctl_view::mermaid::flowchart(&graph)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The longest chain of creates through the desired graph, each weighted by
/// its kind's modelled duration on real AWS: what a full apply waits for.
fn critical_path_view(env: &str, graph: &drctl_core::DesiredGraph) -> String {
    use std::fmt::Write;
    use std::time::Duration;

    let resources: Vec<&drctl_core::ResourceSpec> = graph.resources().collect();
    let index: std::collections::BTreeMap<&drctl_core::Address, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (&r.address, i))
        .collect();
    let waits_on: Vec<Vec<usize>> = resources
        .iter()
        .map(|r| {
            graph
                .dependencies(&r.address)
                .iter()
                .filter_map(|d| index.get(d).copied())
                .collect()
        })
        .collect();
    let schemas = drctl_aws::schemas();
    let create = |r: &drctl_core::ResourceSpec| {
        use drctl_core::SchemaSource;
        schemas
            .schema(r.kind())
            .map_or(Duration::ZERO, |s| s.latency.durations().create)
    };
    let weights: Vec<Duration> = resources.iter().map(|r| create(r)).collect();
    let (total, chain) = drctl_core::simulate::critical_path(&waits_on, &weights);
    let clock = |d: Duration| format!("{}:{:02}", d.as_secs() / 60, d.as_secs() % 60);
    let mut out = format!(
        "Critical path of a full apply of `{env}`: {} modelled on real AWS \
         (docs/performance.md); everything else runs beside it.\n",
        clock(total)
    );
    let mut start = Duration::ZERO;
    for i in chain {
        let _ = writeln!(
            out,
            "  {:>6}  takes {:>6}  {}",
            clock(start),
            clock(weights[i]),
            resources[i].address
        );
        start += weights[i];
    }
    out
}

pub(crate) fn validate_cmd(g: &crate::cli::Global) -> Result<ExitCode> {
    let config = Config::load(&g.config)?;
    if config.envs.is_empty() {
        bail!(
            "{}: no environments; add a `[env.NAME]` table",
            g.config.display()
        );
    }
    for (env, settings) in &config.envs {
        let graph = desired_graph(
            env,
            settings,
            PLACEHOLDER_ACCOUNT,
            Zones::placeholders(settings),
            Role::Primary,
        )?;
        // A replica in the primary bucket's region is refused per env.
        if let Some(backend) = &config.backend {
            backend
                .resolve([&settings.primary_region, &settings.secondary_region])
                .map_err(|m| {
                    anyhow::anyhow!("{}: `[backend]` for `{env}`: {m}", g.config.display())
                })?;
        }
        println!(
            "env `{env}`: {} resources, {} -> {}",
            graph.len(),
            settings.primary_region,
            settings.secondary_region
        );
    }
    println!("{}: valid.", g.config.display());
    Ok(ExitCode::SUCCESS)
}

/// The repository's drctl.toml, built into the binary.
const DEFAULT_CONFIG: &str = include_str!("../../../drctl.toml");

pub(crate) fn init_cmd(g: &crate::cli::Global, args: InitArgs) -> Result<ExitCode> {
    if g.config.exists() && !args.force {
        bail!(
            "{} already exists; pass --force to overwrite it",
            g.config.display()
        );
    }
    write_atomic(&g.config, DEFAULT_CONFIG.as_bytes())
        .with_context(|| format!("cannot write {}", g.config.display()))?;
    println!(
        "Wrote {} with environment `dev`. Next: drctl plan --env dev",
        g.config.display()
    );
    Ok(ExitCode::SUCCESS)
}
