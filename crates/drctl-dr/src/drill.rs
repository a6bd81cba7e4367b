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

    /// The steps the drill's two switches take from where a drill starts:
    /// the failover moves the writer without data loss (a switchover) and
    /// moves traffic by the fence, as an outage would (Route 53's data
    /// plane, no weights API call); the failback brings the writer back,
    /// the weights already right, and lifts the fence.
    #[test]
    fn a_drill_loses_no_data_and_moves_traffic_as_an_outage_would() {
        use crate::switch::{Action, Observed, steps};
        use crate::targets::Targets;
        let t = Targets::from_state(&crate::targets::tests::applied()).unwrap();
        let actions = |s: &[crate::switch::Step]| -> Vec<(Action, bool)> {
            s.iter().map(|s| (s.action, s.done)).collect()
        };
        let at_rest = Observed {
            writer: Some(STARTS_FROM),
            weights: Some([Some(100), Some(0)]),
            fenced: Some(false),
            ..Observed::default()
        };
        let failover = steps(&t, &SWITCHES[0], &at_rest, false);
        assert_eq!(
            actions(&failover),
            [
                (Action::MoveWriter, false),
                (Action::RecordActive, false),
                (Action::Fence, false)
            ]
        );
        assert!(
            failover[0].text.contains("no data loss"),
            "{}",
            failover[0].text
        );
        assert!(!failover[0].text.contains("allowing the loss"));

        // Where the failover leaves it: writer moved, fence up, the
        // weights as they were.
        let failed_over = Observed {
            writer: Some(STARTS_FROM.other()),
            fenced: Some(true),
            ..at_rest
        };
        let failback = steps(&t, &SWITCHES[1], &failed_over, false);
        assert_eq!(
            actions(&failback),
            [
                (Action::MoveWriter, false),
                (Action::RecordActive, false),
                (Action::SetWeights, true),
                (Action::LiftFence, false)
            ]
        );
        assert!(
            failback[0].text.contains("no data loss"),
            "{}",
            failback[0].text
        );
    }
}
