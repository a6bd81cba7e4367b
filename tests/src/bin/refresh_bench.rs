//! Refresh benchmark: the full blueprint applied once against the emulator
//! through a loopback proxy that adds a fixed latency to every call, then
//! `plan` (state in sync, no refresh) and `plan --refresh` timed over
//! several rounds. Prints the medians and where the refresh's calls go:
//! per service and region (what a client-side rate limit sees) and per
//! operation. For docs/performance.md.
//!
//! `cargo build -p drctl && cargo run -p drctl-tests --bin refresh_bench [LATENCY_MS] [ROUNDS]`

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use drctl_tests::proxy::{FaultProxy, Faults};
use drctl_tests::{Emulator, Workspace};

/// CPU seconds (user + system) from /proc: of this process's waited-for
/// children (the drctl runs) and of its other children still running
/// (the emulator), so that a slow run on a busy machine shows whether it
/// waited on the network or on a processor.
fn cpu_seconds() -> (f64, f64) {
    let ticks = |stat: &str, fields: [usize; 2]| -> f64 {
        // Fields after the command name, which is in parentheses.
        let rest = stat.rsplit_once(')').map_or("", |r| r.1);
        let v: Vec<&str> = rest.split_whitespace().collect();
        fields
            .iter()
            .map(|&f| {
                v.get(f - 3)
                    .and_then(|x| x.parse::<f64>().ok())
                    .unwrap_or(0.0)
            })
            .sum::<f64>()
            / 100.0
    };
    let me = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let drctl = ticks(&me, [16, 17]);
    let mut emulator = 0.0;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for pid in children.split_whitespace() {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            emulator += ticks(&stat, [14, 15]);
        }
    }
    (drctl, emulator)
}

/// One `plan --refresh` of the applied environment, which must find no
/// change: its wall seconds and the CPU seconds of drctl and the emulator.
fn timed_refresh(ws: &Workspace) -> (f64, (f64, f64)) {
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    let out = ws
        .drctl(&["plan", "--refresh", "--detailed-exitcode"])
        .output()
        .unwrap();
    let wall = start.elapsed().as_secs_f64();
    let cpu_after = cpu_seconds();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        wall,
        (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1),
    )
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let latency_ms: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let emulator = Emulator::start();
    // The apply runs without added latency: only the plans are measured.
    let proxy = FaultProxy::start(&emulator.endpoint, Faults::none()).await;
    let ws = Workspace::with_endpoint(
        "bench-refresh",
        "primary_cidr = \"10.96.0.0/16\"\nsecondary_cidr = \"10.97.0.0/16\"",
        &proxy.endpoint,
    );
    ws.register_at(&emulator);
    let out = ws.drctl(&["apply", "--auto-approve"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.state_path()).unwrap()).unwrap();
    let resources = state["resources"].as_object().map_or(0, |r| r.len());

    proxy.set(Faults::slow(Duration::from_millis(latency_ms)));
    // One unmeasured refresh first (moto's first reads of some services).
    let warm = ws
        .drctl(&["plan", "--refresh", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(
        warm.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&warm.stdout)
    );

    // drctl alone: the emulator's answers to one refresh kept, then given
    // again at the same latency by the proxy, so that no emulator CPU
    // is in the time (on AWS, the service's own time is in the latency).
    proxy.record();
    timed_refresh(&ws);
    proxy.replay();
    let (mut replayed, mut cpu_replayed) = (Vec::new(), Vec::new());
    let forwarded = proxy.counts.forwarded.load(Ordering::SeqCst);
    let requests = proxy.requests();
    for _ in 0..rounds {
        let (wall, (cpu, _)) = timed_refresh(&ws);
        replayed.push(wall);
        cpu_replayed.push(cpu);
    }
    let missed = proxy.counts.forwarded.load(Ordering::SeqCst) - forwarded;
    let replayed_calls = (proxy.requests() - requests) / rounds.max(1);
    proxy.forward();

    let (mut plain, mut refresh) = (Vec::new(), Vec::new());
    let (mut plain_calls, mut refresh_calls) = (0, 0);
    let (mut cpu_drctl, mut cpu_emulator) = (Vec::new(), Vec::new());
    let mut log = Vec::new();
    for _ in 0..rounds {
        let before = proxy.requests();
        let start = Instant::now();
        let out = ws.drctl(&["plan", "--detailed-exitcode"]).output().unwrap();
        plain.push(start.elapsed().as_secs_f64());
        assert_eq!(out.status.code(), Some(0));
        plain_calls = proxy.requests() - before;

        let before = proxy.counts.calls.lock().unwrap().len();
        let (wall, (drctl, emulator)) = timed_refresh(&ws);
        refresh.push(wall);
        cpu_drctl.push(drctl);
        cpu_emulator.push(emulator);
        let calls = proxy.counts.calls.lock().unwrap();
        log = calls[before..].to_vec();
        refresh_calls = log.len();
    }
    // Each read's duration (refresh's debug lines), the slowest first.
    let out = ws
        .drctl(&["plan", "--refresh", "--detailed-exitcode"])
        .env("RUST_LOG", "drctl_core::refresh=debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut reads: Vec<(u64, &str)> = stderr
        .lines()
        .filter_map(|l| {
            let rest = l.split_once("read ")?.1;
            let (address, ms) = rest.rsplit_once(" in ")?;
            Some((ms.strip_suffix(" ms")?.parse().ok()?, address))
        })
        .collect();
    reads.sort_by_key(|r| std::cmp::Reverse(r.0));
    proxy.set(Faults::none());
    let destroy = ws
        .drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .output()
        .unwrap();
    assert!(destroy.status.success());

    let mut by_service: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut by_operation: BTreeMap<(String, String), usize> = BTreeMap::new();
    for c in &log {
        *by_service
            .entry((c.service.clone(), c.region.clone()))
            .or_default() += 1;
        *by_operation
            .entry((c.service.clone(), c.operation.clone()))
            .or_default() += 1;
    }
    println!("medians of {rounds} rounds, {latency_ms} ms added to every call\n");
    println!("| command | wall (s) | calls |");
    println!("|---|---|---|");
    println!(
        "| `plan` (state in sync) | {:.2} | {plain_calls} |",
        median(&mut plain)
    );
    println!(
        "| `plan --refresh` ({resources} resources) | {:.2} | {refresh_calls} |",
        median(&mut refresh)
    );
    println!(
        "| `plan --refresh`, the emulator's answers replayed by the proxy | {:.2} | {replayed_calls} ({missed} of them forwarded over all rounds: not kept) |",
        median(&mut replayed)
    );
    println!(
        "\nCPU of one `plan --refresh` (medians): drctl {:.2} s, emulator {:.2} s; replayed: drctl {:.2} s",
        median(&mut cpu_drctl),
        median(&mut cpu_emulator),
        median(&mut cpu_replayed)
    );
    println!("\ncalls of one `plan --refresh` per service and region:\n");
    println!("| service | region | calls |");
    println!("|---|---|---|");
    let mut rows: Vec<_> = by_service.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    for ((service, region), n) in rows {
        println!("| {service} | {region} | {n} |");
    }
    println!("\nper operation:\n");
    let mut rows: Vec<_> = by_operation.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    for ((service, op), n) in rows {
        println!("  {n:4} {service} {op}");
    }
    println!("\nslowest reads (ms, from the permit to the result):\n");
    for (ms, address) in reads.iter().take(15) {
        println!("  {ms:5} {address}");
    }
    emulator.stop();
}
