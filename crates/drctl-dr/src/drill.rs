//! A drill: a failover without data loss whose traffic moves the way an
//! outage would move it (the fence, Route 53's data plane), then a
//! failback; each step timed. The recovery time it reports runs from the
//! failover's start to the fence alarm in ALARM, which is what flips the
//! primary's health check.

use drctl_blueprint::Role;
use serde::Serialize;

use crate::switch::{StepTiming, Switch};

/// The drill's two switches, in order.
pub const SWITCHES: [Switch; 2] = [Switch::DRILL_FAILOVER, Switch::FAILBACK];

/// The role serving when a drill may start.
pub const STARTS_FROM: Role = Role::Primary;

/// Whether `env` must never be drilled: named `prod` or `production` (or
/// starting with `prod-` / `production-`), or marked `production = true`.
pub fn looks_like_production(env: &str, marked: bool) -> bool {
    marked
        || matches!(env, "prod" | "production")
        || env.starts_with("prod-")
        || env.starts_with("production-")
}

/// What `drctl drill` reports (docs/json-output.md, "drill").
#[derive(Clone, Debug, Serialize)]
pub struct DrillReport {
    pub env: String,
    pub steps: Vec<StepTiming>,
    /// Failover start to the primary's health check flipped (the fence
    /// alarm in ALARM): the recovery time.
    pub failover_seconds: f64,
    pub failback_seconds: f64,
    pub total_seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::TrafficMove;

    #[test]
    fn production_names_and_marks_are_refused() {
        for env in ["prod", "production", "prod-eu", "production-2"] {
            assert!(looks_like_production(env, false), "{env}");
        }
        for env in ["dev", "staging", "product", "preprod"] {
            assert!(!looks_like_production(env, false), "{env}");
        }
        assert!(looks_like_production("staging", true));
    }

    #[test]
    fn a_drill_loses_no_data_and_moves_traffic_as_an_outage_would() {
        assert!(SWITCHES.iter().all(Switch::planned));
        assert_eq!(SWITCHES[0].traffic, TrafficMove::Fence);
        assert_eq!(SWITCHES[1].to, STARTS_FROM);
    }
}
