//! How an operation tells the operator what it does while it runs: the
//! binary renders it (lines, spinners); drctl-ops never prints.

use std::time::Duration;

pub trait Observer: Send + Sync {
    /// A progress note (recovery, drift, a switch's steps).
    fn note(&self, line: &str);

    /// How often a long wait (recovery) says it still runs; `None`: never.
    fn heartbeat(&self) -> Option<Duration> {
        None
    }

    /// A long wait still runs: `label` for `elapsed`, and what it last
    /// said it waits for.
    fn still_running(&self, label: &str, elapsed: Duration, waiting_for: Option<&str>) {
        let _ = (label, elapsed, waiting_for);
    }
}

/// Says nothing.
pub struct Silent;

impl Observer for Silent {
    fn note(&self, _line: &str) {}
}
