//! What drctl shows, kept apart from the binary so it is unit-tested on
//! its own: plans in Terraform's idiom, the record of a run (timings,
//! critical path, JSON report), its timeline as SVG, the resource graph as
//! Mermaid, an environment's named outputs, and what the DR commands show
//! (status, checks, a switch's plan and progress, a drill's report, the
//! recovery time of an unplanned failover). Pure functions only: no I/O,
//! no clock except the instant a caller passes in. It reads drctl-core's
//! and drctl-dr's data, never the provider crate's.

pub mod dr;
pub mod heartbeat;
pub mod mermaid;
pub mod outputs;
pub mod plan;
pub mod rto;
pub mod run;
pub mod style;
pub mod timeline;

use std::time::Duration;

/// A duration as drctl prints it everywhere: `0.42s`, `37.10s`, `4m 05s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.2}s")
    } else {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_seconds_then_minutes() {
        assert_eq!(duration(Duration::from_millis(420)), "0.42s");
        assert_eq!(duration(Duration::from_millis(37_100)), "37.10s");
        assert_eq!(duration(Duration::from_secs(245)), "4m 05s");
    }
}
