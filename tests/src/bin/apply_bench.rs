//! Apply benchmark: the full blueprint against the emulator through a
//! loopback proxy that adds a fixed latency to every call, at the default
//! parallelism and at 10 and 1. For each run: wall time, and the
//! critical-path lower bound: the longest dependency chain of the graph,
//! weighted by each operation's measured duration (its calls and waiter
//! polls), which no scheduler can beat. Prints a markdown table for
//! docs/performance.md.
//!
//! `cargo build -p drctl && cargo run -p drctl-tests --bin apply_bench [LATENCY_MS] [ROUNDS] [PARALLELISMS]`
//! (PARALLELISMS: comma-separated, default `1,10,64`; the bound is
//! measured in the first one, so it is only the bound when that is 1).
//! `DRCTL_BENCH_BACKEND=s3` keeps state, journal and lock in a bucket of
//! the emulator reached through the same proxy, so the backend's writes
//! pay the latency too (the bound then still counts provider calls only).
//! (the drctl binary of the same profile is the one measured; the work is
//! I/O-bound, so the debug profile serves, and add `--release` to both for
//! a release measurement).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use drctl_tests::proxy::{FaultProxy, Faults};
use drctl_tests::{Emulator, Workspace};

/// `address: ... after 1.23s` lines of drctl's progress output.
fn durations(stdout: &str) -> BTreeMap<String, f64> {
    stdout
        .lines()
        .filter_map(|l| {
            let (address, rest) = l.split_once(": ")?;
            let secs = rest.rsplit_once(" after ")?.1.strip_suffix('s')?;
            Some((address.to_owned(), secs.parse().ok()?))
        })
        .collect()
}

/// Longest path through the state's dependency graph, each node weighted by
/// its operation's duration.
fn critical_path(
    state: &serde_json::Value,
    durations: &BTreeMap<String, f64>,
) -> (f64, Vec<String>) {
    let resources = state["resources"].as_object().expect("state resources");
    let mut memo: BTreeMap<String, (f64, Vec<String>)> = BTreeMap::new();
    fn longest(
        a: &str,
        resources: &serde_json::Map<String, serde_json::Value>,
        durations: &BTreeMap<String, f64>,
        memo: &mut BTreeMap<String, (f64, Vec<String>)>,
    ) -> (f64, Vec<String>) {
        if let Some(v) = memo.get(a) {
            return v.clone();
        }
        let mut best = (0.0, Vec::new());
        for d in resources[a]["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let candidate = longest(d.as_str().unwrap(), resources, durations, memo);
            if candidate.0 > best.0 {
                best = candidate;
            }
        }
        best.0 += durations.get(a).copied().unwrap_or(0.0);
        best.1.push(a.to_owned());
        memo.insert(a.to_owned(), best.clone());
        best
    }
    let mut best = (0.0, Vec::new());
    for a in resources.keys() {
        let candidate = longest(a, resources, durations, &mut memo);
        if candidate.0 > best.0 {
            best = candidate;
        }
    }
    best
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
        .unwrap_or(3);
    let emulator = Emulator::start();
    let proxy = FaultProxy::start(
        &emulator.endpoint,
        Faults::slow(Duration::from_millis(latency_ms)),
    )
    .await;
    let backend = match std::env::var("DRCTL_BENCH_BACKEND").as_deref() {
        Ok("s3") => {
            let aws = drctl_tests::aws(&emulator.endpoint).await;
            aws.s3(drctl_tests::PRIMARY)
                .create_bucket()
                .bucket("drctl-bench-state")
                .send()
                .await
                .expect("create the state bucket");
            Some("s3://drctl-bench-state/bench")
        }
        Ok("local") | Err(_) => None,
        Ok(other) => panic!("DRCTL_BENCH_BACKEND={other}: expected `s3` or `local`"),
    };
    let with_backend = |ws: Workspace| match backend {
        Some(url) => ws.with_backend(url),
        None => ws,
    };
    // One unmeasured round first: the emulator loads each service's
    // backend on first use.
    let warmup = with_backend(Workspace::with_endpoint(
        "bench-warmup",
        "primary_cidr = \"10.98.0.0/16\"\nsecondary_cidr = \"10.99.0.0/16\"",
        &proxy.endpoint,
    ));
    // Its own emulator, outside the pool: the domain is registered here.
    warmup.register_at(&emulator);
    assert!(
        warmup
            .drctl(&["apply", "--auto-approve"])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(
        warmup
            .drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
            .output()
            .unwrap()
            .status
            .success()
    );

    // --parallelism 1 runs every operation alone: its durations are the
    // operations' own, and the longest chain of them is the bound.
    let mut rows = Vec::new();
    let mut bound = None;
    let mut refresh = Vec::new();
    let mut resources = 0;
    let parallelisms: Vec<String> = std::env::args()
        .nth(3)
        .unwrap_or_else(|| "1,10,64".to_owned())
        .split(',')
        .map(str::to_owned)
        .collect();
    for (i, parallelism) in parallelisms.iter().map(String::as_str).enumerate() {
        let mut walls = Vec::new();
        let mut calls = 0;
        for round in 0..rounds {
            let ws = with_backend(Workspace::with_endpoint(
                &format!("bench-{i}-{round}"),
                &format!(
                    "primary_cidr = \"10.{}.0.0/16\"\nsecondary_cidr = \"10.{}.0.0/16\"",
                    100 + 2 * i,
                    101 + 2 * i
                ),
                &proxy.endpoint,
            ));
            ws.register_at(&emulator);
            let before = proxy.requests();
            let start = Instant::now();
            let out = ws
                .drctl(&["apply", "--auto-approve", "--parallelism", parallelism])
                .output()
                .unwrap();
            walls.push(start.elapsed().as_secs_f64());
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            calls = proxy.requests() - before;
            if bound.is_none() {
                let stdout = String::from_utf8_lossy(&out.stdout);
                let shown = ws.drctl(&["show", "--json"]).output().unwrap();
                assert!(shown.status.success());
                let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
                let state = &shown["state"];
                resources = state["resources"].as_object().map_or(0, |r| r.len());
                let (b, path) = critical_path(state, &durations(&stdout));
                eprintln!(
                    "critical path ({b:.1} s at {latency_ms} ms per call):\n  {}",
                    path.join("\n  ")
                );
                bound = Some(b);
            }
            if parallelism == "64" {
                let start = Instant::now();
                let out = ws
                    .drctl(&["plan", "--refresh", "--detailed-exitcode"])
                    .output()
                    .unwrap();
                refresh.push(start.elapsed().as_secs_f64());
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }
            let destroy = ws
                .drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
                .output()
                .unwrap();
            assert!(destroy.status.success());
        }
        rows.push((parallelism, median(&mut walls), calls));
    }
    let bound = bound.expect("measured");
    println!(
        "medians of {rounds} rounds, {latency_ms} ms added to every call, state {}\n",
        backend.unwrap_or("in local files")
    );
    println!("| parallelism | wall (s) | critical-path bound (s) | wall / bound | calls |");
    println!("|---|---|---|---|---|");
    for (p, wall, calls) in rows.iter().rev() {
        println!(
            "| {p} | {wall:.1} | {bound:.1} | {:.2} | {calls} |",
            wall / bound
        );
    }
    if rows.len() == 3 {
        println!(
            "\nspeedup of the default (64) over --parallelism 1: {:.1}x; over --parallelism 10: {:.1}x",
            rows[0].1 / rows[2].1,
            rows[1].1 / rows[2].1
        );
    }
    println!(
        "plan --refresh of the full blueprint ({resources} reads): {:.1} s",
        median(&mut refresh)
    );
    emulator.stop();
}
