//! Human-readable output: plans in Terraform's idiom, live progress, and
//! the final summary.

use std::fmt::Write as _;
use std::time::Duration;

use drctl_core::executor::{Event, Report};
use drctl_core::operations::OpKind;
use drctl_core::plan::{AfterValue, AttributeChange};
use drctl_core::{Action, Plan, State};

/// A value as JSON; long strings (a Lambda package, a document) are cut,
/// since their hash or their parts are what a reader compares.
fn value(v: &serde_json::Value) -> String {
    const LONG: usize = 160;
    match v {
        serde_json::Value::String(s) if s.len() > LONG => {
            let head: String = s.chars().take(48).collect();
            format!("\"{head}...\" ({} characters)", s.len())
        }
        _ => v.to_string(),
    }
}

fn after(a: &AfterValue) -> String {
    match a {
        AfterValue::Known(v) => value(v),
        AfterValue::KnownAfterApply => "(known after apply)".into(),
        AfterValue::Removed => "null".into(),
    }
}

fn attribute_line(out: &mut String, sign: &str, a: &AttributeChange, width: usize) {
    let rhs = match (sign, &a.before) {
        ("~", Some(b)) => format!("{} -> {}", value(b), after(&a.after)),
        ("-", Some(b)) => value(b),
        _ => after(&a.after),
    };
    let note = if a.forces_replacement {
        " # forces replacement"
    } else {
        ""
    };
    let _ = writeln!(out, "      {sign} {:<width$} = {rhs}{note}", a.name);
}

pub fn plan(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.has_changes() {
        out.push_str("No changes. The environment matches the configuration.\n");
        return out;
    }
    out.push_str("drctl will perform the following actions:\n\n");
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let (sign, what) = match c.action {
            Action::Create => ("+", "will be created"),
            Action::Update => ("~", "will be updated in place"),
            Action::Replace => ("-/+", "must be replaced"),
            Action::Delete => ("-", "will be destroyed"),
            Action::NoOp => unreachable!(),
        };
        let data = if c.data_loss {
            " (its data is lost: needs --allow-data-loss)"
        } else {
            ""
        };
        let _ = writeln!(out, "  # {} {what}{data}", c.address);
        let _ = writeln!(out, "  {sign} {} ({})", c.address, c.region);
        let width = c.attributes.iter().map(|a| a.name.len()).max().unwrap_or(0);
        for a in &c.attributes {
            let attr_sign = match c.action {
                Action::Create => "+",
                Action::Delete => "-",
                _ if a.before.is_none() => "+",
                _ if a.after == AfterValue::Removed => "-",
                _ => "~",
            };
            attribute_line(&mut out, attr_sign, a, width);
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", plan.summary());
    out
}

fn verb(kind: OpKind) -> (&'static str, &'static str) {
    match kind {
        OpKind::Create => ("Creating...", "Creation complete"),
        OpKind::Update => ("Modifying...", "Modifications complete"),
        OpKind::Delete => ("Destroying...", "Destruction complete"),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// Prints one line per start and finish, Terraform style.
pub fn progress(event: &Event) {
    match event {
        Event::Started { address, kind } => println!("{address}: {}", verb(*kind).0),
        Event::Finished {
            address,
            kind,
            elapsed,
            error: None,
        } => println!("{address}: {} after {}", verb(*kind).1, secs(*elapsed)),
        Event::Finished {
            address,
            elapsed,
            error: Some(e),
            ..
        } => println!("{address}: FAILED after {}: {e}", secs(*elapsed)),
        Event::Skipped { address, because } => {
            println!("{address}: skipped, because {because} failed")
        }
    }
}

pub fn report(report: &Report, verb: &str) -> String {
    let mut out = String::new();
    let status = if report.is_success() {
        "complete"
    } else {
        "incomplete"
    };
    let _ = writeln!(
        out,
        "\n{verb} {status} after {}: {}.",
        secs(report.elapsed),
        report.summary()
    );
    for (address, e) in &report.failed {
        let _ = writeln!(out, "error: {address}: {e}");
    }
    out
}

pub fn state(state: &State) -> String {
    let mut out = String::new();
    if state.resources.is_empty() {
        let _ = writeln!(out, "The state of `{}` is empty.", state.env);
        return out;
    }
    let width = state
        .resources
        .keys()
        .map(|a| a.to_string().len())
        .max()
        .unwrap_or(0);
    for (address, r) in &state.resources {
        let _ = writeln!(
            out,
            "{:<width$}  {:<10}  {}",
            address.to_string(),
            r.region,
            r.id
        );
    }
    let _ = writeln!(
        out,
        "\n{} resources; state serial {}, lineage {}.",
        state.resources.len(),
        state.serial,
        state.lineage
    );
    out
}
