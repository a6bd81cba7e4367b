//! Human-readable output: plans (drawn by drctl-view), the final summary
//! of a run, and state.

use std::fmt::Write as _;

use drctl_core::executor::Report;
use drctl_core::{Plan, State};

/// The plan in Terraform's idiom, coloured when stdout is a terminal.
pub fn plan(plan: &Plan) -> String {
    drctl_view::plan::render(plan, crate::ui::get().palette)
}

/// Only what refresh found changed outside drctl.
pub fn drift(plan: &Plan) -> String {
    drctl_view::plan::render_drift(plan, crate::ui::get().palette)
}

use drctl_view::duration as secs;

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
