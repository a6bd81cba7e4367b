//! One plan of a synthetic 10,000-resource graph, printing its time and the
//! process's peak resident memory (Linux), for docs/performance.md:
//! `cargo run --release -p drctl-core --example plan_10k`.

use std::time::Instant;

use drctl_core::planner::plan_apply;
use drctl_core::{DesiredGraph, State, synthetic};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn main() {
    let n = 10_000;
    let schemas = synthetic::schemas();
    for (label, state) in [
        ("empty state", State::new("bench")),
        ("state in sync", synthetic::in_sync_state(n)),
    ] {
        let start = Instant::now();
        let graph = DesiredGraph::new(synthetic::desired(n)).expect("valid graph");
        let changes = plan_apply(&graph, &state, &schemas);
        println!(
            "plan of {n} resources, {label}: {} changes in {:.1} ms",
            changes.len(),
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
    match peak_rss_kib() {
        Some(kib) => println!("peak RSS: {:.1} MB", kib as f64 / 1024.0),
        None => println!("peak RSS: unknown (no /proc)"),
    }
}
