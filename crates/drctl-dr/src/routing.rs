//! Which region Route 53 answers `api.<domain>` with, from the weighted
//! records' weights and health: the rules of the Route 53 Developer Guide,
//! "How Amazon Route 53 chooses records when health checking is
//! configured" (weighted records):
//!
//! 1. Records with a weight above 0 that are healthy, by weight.
//! 2. If none is, the healthy records of weight 0, equally.
//! 3. If no record is healthy, Route 53 answers as if all were: records
//!    above 0 by weight (all of them, if every weight is 0).
//!
//! A record without a health check is healthy. This is what a fence does
//! without any Route 53 API call: the primary's record (weight 100) turns
//! unhealthy, and the secondary's (weight 0, no health check) answers.

use drctl_blueprint::Role;

/// One weighted record as Route 53's resolvers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightedRecord {
    pub role: Role,
    pub weight: i64,
    pub healthy: bool,
}

/// The roles Route 53 answers with (each with a share of the queries).
pub fn answered(records: &[WeightedRecord]) -> Vec<Role> {
    let pick = |f: &dyn Fn(&WeightedRecord) -> bool| -> Vec<Role> {
        records.iter().filter(|r| f(r)).map(|r| r.role).collect()
    };
    let healthy_weighted = pick(&|r| r.healthy && r.weight > 0);
    if !healthy_weighted.is_empty() {
        return healthy_weighted;
    }
    let healthy_zero = pick(&|r| r.healthy && r.weight == 0);
    if !healthy_zero.is_empty() {
        return healthy_zero;
    }
    let weighted = pick(&|r| r.weight > 0);
    if weighted.is_empty() {
        pick(&|_| true)
    } else {
        weighted
    }
}

/// The one role that takes every query, if one does.
pub fn serving(records: &[WeightedRecord]) -> Option<Role> {
    match answered(records).as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(primary: (i64, bool), secondary: (i64, bool)) -> [WeightedRecord; 2] {
        [
            WeightedRecord {
                role: Role::Primary,
                weight: primary.0,
                healthy: primary.1,
            },
            WeightedRecord {
                role: Role::Secondary,
                weight: secondary.0,
                healthy: secondary.1,
            },
        ]
    }

    #[test]
    fn the_weighted_healthy_record_takes_the_traffic() {
        assert_eq!(
            serving(&records((100, true), (0, true))),
            Some(Role::Primary)
        );
        assert_eq!(
            serving(&records((0, true), (100, true))),
            Some(Role::Secondary)
        );
    }

    #[test]
    fn a_fenced_primary_sends_its_traffic_to_the_weight_zero_secondary() {
        assert_eq!(
            serving(&records((100, false), (0, true))),
            Some(Role::Secondary)
        );
    }

    #[test]
    fn when_every_record_is_unhealthy_route_53_answers_as_if_all_were_healthy() {
        assert_eq!(
            serving(&records((100, false), (0, false))),
            Some(Role::Primary)
        );
        assert_eq!(
            answered(&records((0, false), (0, false))),
            [Role::Primary, Role::Secondary]
        );
    }

    #[test]
    fn split_weights_serve_both() {
        assert_eq!(serving(&records((50, true), (50, true))), None);
        assert_eq!(
            answered(&records((50, true), (50, true))),
            [Role::Primary, Role::Secondary]
        );
        // Unhealthy among the weighted: the other weighted one alone.
        assert_eq!(
            serving(&records((50, false), (50, true))),
            Some(Role::Secondary)
        );
    }
}
