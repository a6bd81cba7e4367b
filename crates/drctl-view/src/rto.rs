//! The recovery time of an unplanned failover as `failover --plan` prints
//! it: the chain `drctl_dr::rto` models, each link with its figures and
//! source, the total and the goal.

use std::fmt::Write as _;

use drctl_dr::rto::{self, Chain, Figures, Link, Settings, Track};

/// `s` seconds as an operator reads them: "45 s", "2 min", "2 min 15 s".
fn secs(s: u32) -> String {
    match (s / 60, s % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

fn range(f: Figures) -> String {
    format!(
        "{} typical ({} to {})",
        secs(f.typical),
        secs(f.low),
        secs(f.high)
    )
}

fn link(out: &mut String, n: usize, l: &Link) {
    let f = l.figures;
    let _ = writeln!(
        out,
        "    {n}. {}: {} / {} / {}{}\n       source: {}",
        l.what,
        secs(f.low),
        secs(f.typical),
        secs(f.high),
        if l.estimate { " (estimate)" } else { "" },
        l.source
    );
}

/// The section for the settings `s` (as state records them).
pub fn render(s: &Settings) -> String {
    let chain: Chain = rto::unplanned(s);
    let mut out = String::new();
    out.push_str("Recovery time (RTO) of an unplanned failover on AWS, modelled, from the decision until the secondary writes and resolvers answer with it (low / typical / high):\n");
    let mut n = 0;
    for (track, heading) in [
        (Track::First, "  First:\n"),
        (
            Track::Database,
            if chain.concurrent {
                "  Then at the same time (the fence is published as soon as AWS accepts the failover), the database:\n"
            } else {
                "  Then the database:\n"
            },
        ),
        (
            Track::Traffic,
            if chain.concurrent {
                "  and the traffic:\n"
            } else {
                "  Then the traffic:\n"
            },
        ),
    ] {
        out.push_str(heading);
        for l in chain.links.iter().filter(|l| l.track == track) {
            n += 1;
            link(&mut out, n, l);
        }
    }
    let _ = writeln!(
        out,
        "  Total: {} (database {}, traffic {}{})",
        range(chain.total()),
        secs(chain.track(Track::Database).typical),
        secs(chain.track(Track::Traffic).typical),
        if chain.concurrent {
            ", at the same time"
        } else {
            ", one after the other"
        }
    );
    let _ = writeln!(
        out,
        "  goal ≤ {} min: {}",
        rto::GOAL_SECONDS / 60,
        if chain.meets_goal() { "met" } else { "not met" }
    );
    let auto = rto::automatic(s);
    let _ = writeln!(
        out,
        "  Without a decision: once the primary's /health fails, Route 53 moves the traffic by itself in {} (checks every {} s, unhealthy after {} in a row, then the calculated check and the TTL); the Aurora writer stays in the primary until `drctl failover --unplanned`.",
        range(auto.total()),
        s.api_check_interval,
        s.api_check_failure_threshold
    );
    out.push_str("  Clients that cache DNS beyond the TTL (a JVM's default cache, long-lived connections) follow later: outside drctl (docs/operations.md, \"Recovery time (RTO) of an unplanned failover\").\n");
    out
}
