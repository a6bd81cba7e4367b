//! The engine's subcommands: plan, apply, destroy, show, graph, validate
//! and init (the DR ones are in `dr`).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use drctl_blueprint::PLACEHOLDER_ACCOUNT;
use drctl_core::executor::Event;
use drctl_core::plan::{self, Plan};
use drctl_core::{State, write_atomic};
use drctl_ops::apply::{ApplyRequest, guard_data_loss};
use drctl_ops::plan::Selected;
use drctl_view::run::RunLog;

use crate::cli::{
    ApplyArgs, DestroyArgs, GraphArgs, GraphFormat, InitArgs, PlanArgs, RefreshArgs, SelectionArgs,
    ShowArgs,
};
use crate::progress::{Progress, Sink};
use crate::prompt::confirm;
use crate::render;
use crate::session::Session;

/// `--target`, `--exclude` and `--replace`, parsed before any call.
fn selected(args: &SelectionArgs) -> Result<Selected> {
    Ok(Selected::parse(
        &args.targets,
        &args.excludes,
        &args.replace,
    )?)
}

/// `drctl refresh` and `plan --refresh-only`: state records what AWS
/// holds; nothing in AWS changes.
pub(crate) async fn refresh_cmd(session: &Session, args: RefreshArgs) -> Result<ExitCode> {
    if args.json {
        session.notes_to_stderr();
    }
    let refreshed = drctl_ops::plan::refresh(session, args.parallelism).await?;
    let (plan, state) = (&refreshed.plan, &refreshed.state);
    if args.json {
        println!(
            "{}",
            String::from_utf8_lossy(&plan::encode(plan)).trim_end()
        );
    } else if plan.drift.is_empty() {
        println!(
            "No changes outside drctl: state matches what AWS holds ({} resources).",
            state.resources.len()
        );
    } else {
        print!("{}", render::drift(plan));
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
    let selected = selected(&args.selection)?;
    if args.json {
        session.notes_to_stderr();
    }
    let planned =
        drctl_ops::plan::plan_changes(session, args.refresh, args.parallelism, &selected).await?;
    let (plan, state) = (&planned.plan, &planned.state);
    if args.json {
        println!(
            "{}",
            String::from_utf8_lossy(&plan::encode(plan)).trim_end()
        );
    } else {
        print!("{}", render::plan(plan));
    }
    dns_note(session, plan, state).await;
    for w in session.control_plane_warnings(state, false) {
        eprintln!("warning: {w}");
    }
    if let Some(out) = &args.out {
        let path = drctl_ops::plan::save_plan(session, plan, out)?;
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

/// Notes what the plan says about DNS, if anything.
async fn dns_note(session: &Session, plan: &Plan, state: &State) {
    if let Some(text) = drctl_ops::dns::dns_note(session, plan, state).await {
        session.note(&text);
    }
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
    let executor = drctl_ops::apply::executor(session, parallelism).await;
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
    let ui = crate::ui::get();
    let sink = if outputs.json {
        Sink::Stderr
    } else {
        Sink::Stdout
    };
    let progress = Progress::new(RunLog::new(&plan.changes, &state), ui, sink);
    let report = drctl_ops::apply::execute(session, &executor, plan, &mut state, &|e: &Event| {
        progress.observe(e)
    })
    .await;
    interrupts.abort();
    let mut log = progress.into_log();
    let report = report?;
    log.finish(&report);
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
    let selected = selected(&args.selection)?;
    if args.json {
        session.notes_to_stderr();
    }
    let request = ApplyRequest {
        refresh: args.refresh,
        parallelism: args.parallelism,
        plan_file: args.plan_file.as_deref(),
        allow_data_loss: args.allow_data_loss,
    };
    let ready = drctl_ops::apply::prepare_apply(session, &request, &selected).await?;
    let (_lock, plan, state) = (ready.lock, ready.plan, ready.state);
    show_plan(&plan, args.json);
    dns_note(session, &plan, &state).await;
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
    let (_lock, planned) = drctl_ops::apply::prepare_destroy(session).await?;
    let Some((plan, state)) = planned else {
        if args.json {
            print_empty_report(session, "destroy")?;
        }
        return Ok(ExitCode::SUCCESS);
    };
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
    drctl_ops::validate(&g.config, &mut |env, settings, graph| {
        println!(
            "env `{env}`: {} resources, {} -> {}",
            graph.len(),
            settings.primary_region,
            settings.secondary_region
        );
    })?;
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
