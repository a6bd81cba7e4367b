//! What the DR commands show (`status`, `failover`, `failback`, `drill`):
//! the status, the checks of a switch, a switch's plan and progress, and
//! a drill's report, as text. Pure functions of `drctl_dr`'s data; the
//! JSON documents are those types serialised by the binary.

use std::fmt::Write as _;
use std::time::Duration;

use drctl_dr::Role;
use drctl_dr::checks::{self, Check, Expected};
use drctl_dr::drill::DrillReport;
use drctl_dr::rto::Settings;
use drctl_dr::status::{self, Status};
use drctl_dr::switch::{Step, Switch};

use crate::duration;

// ---------------------------------------------------------------- status

fn or_unknown(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("unknown")
}

/// `drctl status` as text: each part of the DR status, the checks of a
/// planned switch to the other region, and whether it is ready.
pub fn render_status(s: &Status) -> String {
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
pub fn render_checks(out: &mut String, checks: &[Check], planned: bool, skip: &[String]) {
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

/// The control-plane warnings of an environment (what a failover needs
/// that an outage of the primary region would take), one per line.
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

/// A running switch's step `index` (0-based) of `count` starts.
pub fn step_started(index: usize, count: usize, step: &Step) -> String {
    format!("[{}/{count}] {}...", index + 1, step.text)
}

/// Step `index` finished after `elapsed`.
pub fn step_finished(index: usize, count: usize, elapsed: Duration) -> String {
    format!("[{}/{count}] done in {}", index + 1, duration(elapsed))
}

/// Step `index` already held.
pub fn step_skipped(index: usize, count: usize, step: &Step) -> String {
    format!("[{}/{count}] {}: already done", index + 1, step.text)
}

/// Step `index` waits for `what`.
pub fn step_waiting(index: usize, count: usize, what: &str) -> String {
    format!("[{}/{count}] waiting: {what}", index + 1)
}

/// The steps a switch is about to run, numbered, as the prompt lists them.
pub fn step_list(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let mark = if step.done { " (already done)" } else { "" };
            format!("  {}. {}{mark}", i + 1, step.text)
        })
        .collect()
}

/// Why a planned switch refuses: the failed gating checks, the readiness
/// check as its reasons, each naming the check and how to clear it.
pub fn refusal_lines(status: &Status, refused: &[&Check]) -> Vec<String> {
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

/// `word` with its first letter in capitals.
pub fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// One switch of a `--plan`: the region it goes to, the checks measured
/// now (`None` for a drill's failback, which runs right after its
/// failover), and its steps.
#[derive(Clone, Debug)]
pub struct PlannedSwitch {
    pub switch: Switch,
    pub region: String,
    pub checks: Option<Vec<Check>>,
    pub steps: Vec<Step>,
}

/// `--plan`: for each switch its checks and steps with their typical
/// durations, the sources of those durations, the recovery time of an
/// unplanned failover (`rto`: the settings state records, for a failover)
/// and whether the switch would start (`refused`: the checks that would
/// refuse it).
pub fn render_switch_plan(
    env: &str,
    switches: &[PlannedSwitch],
    skip: &[String],
    rto: Option<&Settings>,
    refused: &[&str],
) -> String {
    let mut out = String::new();
    let mut sources: Vec<Expected> = vec![checks::CHECKS_TIME];
    for p in switches {
        let sw = &p.switch;
        let planned = sw.planned();
        let kind = if planned { "planned" } else { "unplanned" };
        let _ = writeln!(
            out,
            "{} {} of `{env}` to the {} region ({}):",
            capitalised(kind),
            sw.phase,
            sw.to.as_str(),
            p.region
        );
        match &p.checks {
            Some(checks) => {
                out.push_str("  Checks, measured now");
                out.push_str(if planned {
                    " (each gates step 1):\n"
                } else {
                    " (shown; an unplanned failover runs whatever they say):\n"
                });
                render_checks(&mut out, checks, planned, skip);
            }
            None => {
                out.push_str("  Checks: none gate it; the drill runs it right after the failover\n")
            }
        }
        out.push_str("  Steps:\n");
        for (i, step) in p.steps.iter().enumerate() {
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
    if let Some(settings) = rto {
        out.push('\n');
        out.push_str(&crate::rto::render(settings));
    }
    let what = switches
        .iter()
        .map(|p| p.switch.phase)
        .collect::<Vec<_>>()
        .join(" and ");
    if refused.is_empty() {
        let _ = writeln!(out, "\nNothing was changed. The {what} would start now.");
    } else {
        let _ = writeln!(
            out,
            "\nNothing was changed. The {what} would refuse now: check{} {} fail{} (see \"to clear\" above).",
            if refused.len() == 1 { "" } else { "s" },
            refused
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if refused.len() == 1 { "s" } else { "" }
        );
    }
    out
}

// ---------------------------------------------------------------- drill

/// `drctl drill`'s report as a table of step durations.
pub fn render_drill(r: &DrillReport) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use drctl_dr::switch::Action;

    fn not_ready() -> Status {
        let mut s = Status::not_applied("dev", Role::Primary, "the writer is elsewhere".into());
        s.checks = vec![
            checks::readiness("dev", &s.reasons),
            checks::lag("payment-dev-secondary", "us-east-2", Ok(Some(90.0)), 60),
        ];
        s
    }

    #[test]
    fn a_status_names_each_unknown_part_and_why_it_is_not_ready() {
        let text = render_status(&not_ready());
        assert!(text.starts_with("Environment `dev`\n  Recorded active role: primary\n"));
        for part in ["Traffic:", "Aurora global:", "DynamoDB:", "S3 replication:"] {
            assert!(text.contains(&format!("  {part}")), "{part}: {text}");
        }
        assert!(text.contains("  FAIL  aurora-replication-lag  90 s (expected: at most 60 s)"));
        assert!(text.ends_with("\nNot ready to fail over:\n  - the writer is elsewhere\n"));
    }

    #[test]
    fn a_refusal_lists_the_readiness_reasons_and_the_failed_checks() {
        let s = not_ready();
        let refused: Vec<&Check> = s.checks.iter().collect();
        let lines = refusal_lines(&s, &refused);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0], "check `readiness`: the writer is elsewhere");
        assert!(
            lines[1].starts_with("check `aurora-replication-lag`: Aurora cluster payment-dev-secondary (us-east-2), AuroraGlobalDBRPOLag is 90 s (expected: at most 60 s); to clear: "),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn a_plan_says_whether_the_switch_would_start_and_which_checks_refuse_it() {
        let step = Step {
            action: Action::MoveWriter,
            text: "Switch the writer".into(),
            label: "writer".into(),
            done: true,
            expected: checks::SWITCHOVER_TIME,
        };
        let planned = [PlannedSwitch {
            switch: Switch::FAILBACK,
            region: "us-east-1".into(),
            checks: Some(not_ready().checks),
            steps: vec![step],
        }];
        let text = render_switch_plan("dev", &planned, &[], None, &["readiness"]);
        assert!(text.starts_with(
            "Planned failback of `dev` to the primary region (us-east-1):\n  Checks, measured now (each gates step 1):\n"
        ));
        assert!(
            text.contains("    1. Switch the writer (already done)\n       expected: 1-5 min\n")
        );
        assert!(!text.contains("Recovery time"), "no RTO without settings");
        assert!(text.ends_with(
            "Nothing was changed. The failback would refuse now: check `readiness` fails (see \"to clear\" above).\n"
        ));
        let text = render_switch_plan("dev", &planned, &[], None, &[]);
        assert!(text.ends_with("Nothing was changed. The failback would start now.\n"));
    }

    #[test]
    fn a_drill_report_marks_skipped_steps() {
        let report = DrillReport {
            env: "dev".into(),
            steps: vec![
                drctl_dr::switch::StepTiming {
                    phase: "failover",
                    step: "Aurora writer to secondary".into(),
                    skipped: false,
                    seconds: 75.0,
                },
                drctl_dr::switch::StepTiming {
                    phase: "failback",
                    step: "Route 53 traffic to primary".into(),
                    skipped: true,
                    seconds: 0.0,
                },
            ],
            failover_seconds: 80.0,
            failback_seconds: 10.0,
            total_seconds: 90.0,
        };
        let text = render_drill(&report);
        assert!(
            text.contains("failover: Aurora writer to secondary      1m 15s\n"),
            "{text}"
        );
        assert!(
            text.contains("failback: Route 53 traffic to primary    skipped\n"),
            "{text}"
        );
        assert!(
            text.contains("Total                                     1m 30s\n"),
            "{text}"
        );
    }
}
