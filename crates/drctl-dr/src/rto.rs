//! The recovery time (RTO) of an unplanned failover on real AWS, modelled:
//! from the decision (a confirmed `drctl failover --unplanned`) until the
//! secondary holds the Aurora writer and resolvers answer `api.<domain>`
//! with its record. Pure: each link's figures follow from the settings the
//! blueprint builds the fence alarm and the health checks with
//! (`drctl_blueprint::targets`, or the values state records) and from
//! AWS's published figures. Each link names its source; what no AWS page
//! states is marked as an estimate. Like the apply's latency model
//! (`drctl_blueprint::latency`), the figures are typical durations, not
//! limits: `drctl drill` measures a switch. docs/operations.md, "Recovery
//! time (RTO) of an unplanned failover", has the table.
//!
//! The links, as [`crate::switch::run`] makes them: drctl starts and asks
//! for the failover; then two tracks. The database: Aurora promotes the
//! secondary cluster. The traffic: the fence alarm goes to ALARM, Route
//! 53's health check on it fails, so does the calculated check of the
//! primary's record, Route 53 answers with the secondary's record, and
//! resolvers' cached answers expire. An unplanned failover publishes the
//! fence as soon as AWS accepts the failover
//! ([`crate::switch::Switch::fences_with_the_writer`]), so the tracks run
//! at the same time and the total is the longer one's; otherwise the
//! traffic's follows the database's.

use std::ops::Add;

use drctl_blueprint::targets;
use drctl_core::State;

use crate::switch::Switch;

/// The goal: the secondary serving within 3 minutes of the decision
/// (typical figures).
pub const GOAL_SECONDS: u32 = 180;

/// The TTL of `api.<domain>`'s answers: its records are aliases of API
/// Gateway's regional domain names, which take the target's TTL (Route 53
/// API Reference, ResourceRecordSet `TTL`); AWS sets it, not drctl. 60 s,
/// as for an ELB target (Route 53 FAQ): estimate.
pub const ALIAS_TARGET_TTL: u32 = 60;

/// The settings the chain rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The fence alarm's period, in seconds.
    pub fence_period: u32,
    /// How many periods' datapoints in breach put the fence alarm in ALARM.
    pub fence_datapoints: u32,
    /// The primary API's HTTPS health check: request interval (seconds)
    /// and failure threshold. Not on the fence's path: they time the
    /// traffic's move without a decision ([`automatic`]).
    pub api_check_interval: u32,
    pub api_check_failure_threshold: u32,
    /// How long resolvers cache `api.<domain>`'s answer, in seconds.
    pub record_ttl: u32,
}

/// A blueprint setting as seconds or a count (they are small positives).
fn small(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Settings {
    /// The blueprint's.
    pub fn blueprint() -> Settings {
        Settings {
            fence_period: small(targets::FENCE_PERIOD),
            fence_datapoints: small(targets::FENCE_DATAPOINTS_TO_ALARM),
            api_check_interval: small(targets::PRIMARY_API_CHECK_INTERVAL),
            api_check_failure_threshold: small(targets::PRIMARY_API_CHECK_FAILURE_THRESHOLD),
            record_ttl: ALIAS_TARGET_TTL,
        }
    }

    /// The values state records for the fence alarm and the API's check
    /// (an environment applied with other settings keeps them until the
    /// next apply); the blueprint's for any it lacks.
    pub fn applied(state: &State) -> Settings {
        let bp = Settings::blueprint();
        let input = |address, path: &[&str]| {
            let r = state.resources.get(&address)?;
            let mut v = r.inputs.get(path[0])?;
            for key in &path[1..] {
                v = v.get(key)?;
            }
            v.as_i64().map(small)
        };
        let fence = targets::fence_alarm;
        let api = targets::primary_api_health_check;
        Settings {
            fence_period: input(fence(), &["metric", "period"]).unwrap_or(bp.fence_period),
            fence_datapoints: input(fence(), &["datapoints_to_alarm"])
                .unwrap_or(bp.fence_datapoints),
            api_check_interval: input(api(), &["request_interval"])
                .unwrap_or(bp.api_check_interval),
            api_check_failure_threshold: input(api(), &["failure_threshold"])
                .unwrap_or(bp.api_check_failure_threshold),
            record_ttl: bp.record_ttl,
        }
    }
}

/// Seconds: low, typical, high.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub low: u32,
    pub typical: u32,
    pub high: u32,
}

const fn figures(low: u32, typical: u32, high: u32) -> Figures {
    Figures { low, typical, high }
}

impl Add for Figures {
    type Output = Figures;
    fn add(self, o: Figures) -> Figures {
        figures(
            self.low + o.low,
            self.typical + o.typical,
            self.high + o.high,
        )
    }
}

impl Figures {
    /// Each figure the larger of the two (two tracks at the same time).
    pub fn max(self, o: Figures) -> Figures {
        figures(
            self.low.max(o.low),
            self.typical.max(o.typical),
            self.high.max(o.high),
        )
    }
}

/// Which part of the chain a link is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    /// Before the tracks split: drctl, up to the failover call.
    First,
    /// The Aurora writer moving to the secondary.
    Database,
    /// Route 53 answering with the secondary, and resolvers following.
    Traffic,
}

/// One link of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub what: String,
    pub track: Track,
    pub figures: Figures,
    /// Where the figures come from (AWS page names and URLs).
    pub source: &'static str,
    /// Some of the figures are drctl's estimate: no AWS page states them.
    pub estimate: bool,
}

/// The links, in order within each track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub links: Vec<Link>,
    /// The database and traffic tracks run at the same time.
    pub concurrent: bool,
}

impl Chain {
    /// The sum of one track's links.
    pub fn track(&self, track: Track) -> Figures {
        self.links
            .iter()
            .filter(|l| l.track == track)
            .fold(Figures::default(), |sum, l| sum + l.figures)
    }

    /// From the decision until both tracks have ended.
    pub fn total(&self) -> Figures {
        let (database, traffic) = (self.track(Track::Database), self.track(Track::Traffic));
        self.track(Track::First)
            + if self.concurrent {
                database.max(traffic)
            } else {
                database + traffic
            }
    }

    /// Whether the typical total is within [`GOAL_SECONDS`].
    pub fn meets_goal(&self) -> bool {
        self.total().typical <= GOAL_SECONDS
    }
}

const START: Figures = figures(2, 5, 15);
const START_SOURCE: &str = "estimate: drctl starts, reads state and takes the lock, then DescribeGlobalClusters, DescribeAlarms and FailoverGlobalCluster in the secondary region, each well under a second";

/// FailoverGlobalCluster with AllowDataLoss until the secondary writes.
const AURORA_FAILOVER: Figures = figures(30, 60, 120);
const AURORA_SOURCE: &str = "Aurora User Guide, \"Using switchover or failover in Amazon Aurora Global Database\" (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html): RTO \"in the order of minutes\"; AWS Well-Architected Labs, Disaster Recovery, \"Aurora\" (https://wellarchitectedlabs.com/reliability/disaster-recovery/workshop_4/5-failover/5.1-aurora/): a secondary promoted to read-write \"in under a minute\"; high: estimate";

/// From PutMetricData until CloudWatch counts the datapoint: estimate.
const INGESTION: Figures = figures(2, 5, 30);
const ALARM_SOURCE: &str = "CloudWatch User Guide, \"Using Amazon CloudWatch alarms\" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html): ALARM once the datapoints to alarm breach, period by period; an alarm of a 10 or 30 s period (high resolution) is evaluated every 10 s, one of a minute or more every minute; the delay before a published datapoint counts (2-30 s): estimate";

/// Route 53's health check on the fence alarm: not published, estimate.
const ALARM_CHECK: Figures = figures(0, 30, 90);
const ALARM_CHECK_SOURCE: &str = "Route 53 Developer Guide, \"How Amazon Route 53 determines whether a health check is healthy\" (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html): a check on an alarm follows the alarm's data stream, with no request interval or failure threshold; Route 53 API Reference, AlarmIdentifier (https://docs.aws.amazon.com/Route53/latest/APIReference/API_AlarmIdentifier.html): standard-resolution metrics only; its delay is not published: estimate";

/// The calculated check, and Route 53 answering by it: estimate.
const CALCULATED: Figures = figures(0, 5, 30);
const CALCULATED_SOURCE: &str = "Route 53 Developer Guide, same page (a calculated check counts its healthy children against HealthThreshold) and \"How Amazon Route 53 chooses records when health checking is configured\" (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html); the delay is not published: estimate";

const TTL_SOURCE: &str = "Route 53 API Reference, ResourceRecordSet TTL (https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html): an alias record takes its target's TTL; 60 s for API Gateway's regional domain name is an estimate (an ELB target's is 60 s, Route 53 FAQ); a cached answer has between none and all of it left";

const API_CHECK_SOURCE: &str = "Route 53 Developer Guide, \"How Amazon Route 53 determines whether a health check is healthy\" (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html): each checker requests every request interval and changes its verdict after failure-threshold results in a row; unhealthy once 18% or fewer see it healthy";

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// CloudWatch's fence alarm reaching ALARM after the fence is published:
/// the datapoint counted (ingestion), its period closed (half a period
/// typically), the next evaluation (every 10 s for a high-resolution
/// period, every minute otherwise), and one more period per further
/// datapoint.
fn alarm(period: u32, datapoints: u32) -> Figures {
    let evaluation = if period < 60 { 10 } else { 60 };
    let more = datapoints.saturating_sub(1) * period;
    INGESTION
        + figures(
            more,
            more + period / 2 + evaluation / 2,
            more + period + evaluation,
        )
}

/// Resolvers' cached answers: from none to all of the TTL left.
fn ttl(seconds: u32) -> Figures {
    figures(0, seconds / 2, seconds)
}

fn ttl_link(s: &Settings) -> Link {
    Link {
        what: format!(
            "resolvers' cached answers of api.<domain> expire (TTL {} s)",
            s.record_ttl
        ),
        track: Track::Traffic,
        figures: ttl(s.record_ttl),
        source: TTL_SOURCE,
        estimate: true,
    }
}

fn calculated_link() -> Link {
    Link {
        what: "the primary's calculated health check fails; Route 53 answers with the secondary's record".into(),
        track: Track::Traffic,
        figures: CALCULATED,
        source: CALCULATED_SOURCE,
        estimate: true,
    }
}

/// `drctl failover --unplanned`, from the decision until the secondary
/// writes and resolvers answer with it.
pub fn unplanned(s: &Settings) -> Chain {
    let links = vec![
        Link {
            what: "drctl starts, reads state, takes the lock, asks for the failover".into(),
            track: Track::First,
            figures: START,
            source: START_SOURCE,
            estimate: true,
        },
        Link {
            what: "Aurora promotes the secondary cluster (FailoverGlobalCluster, AllowDataLoss)"
                .into(),
            track: Track::Database,
            figures: AURORA_FAILOVER,
            source: AURORA_SOURCE,
            estimate: true,
        },
        Link {
            what: format!(
                "the fence alarm goes to ALARM (period {} s, {} to alarm)",
                s.fence_period,
                plural(s.fence_datapoints, "datapoint", "datapoints")
            ),
            track: Track::Traffic,
            figures: alarm(s.fence_period, s.fence_datapoints),
            source: ALARM_SOURCE,
            estimate: true,
        },
        Link {
            what: "Route 53's health check on the fence alarm fails".into(),
            track: Track::Traffic,
            figures: ALARM_CHECK,
            source: ALARM_CHECK_SOURCE,
            estimate: true,
        },
        calculated_link(),
        ttl_link(s),
    ];
    Chain {
        links,
        concurrent: Switch::UNPLANNED_FAILOVER.fences_with_the_writer(),
    }
}

/// Without a decision: Route 53 moves the traffic by itself once the
/// primary's `/health` fails (the Aurora writer stays in the primary).
pub fn automatic(s: &Settings) -> Chain {
    let (i, f) = (s.api_check_interval, s.api_check_failure_threshold.max(1));
    let links = vec![
        Link {
            what: format!(
                "Route 53's checkers fail the primary's /health ({} s interval, {})",
                i,
                plural(f, "failure", "failures in a row")
            ),
            track: Track::Traffic,
            figures: figures((f - 1) * i, f * i, (f + 1) * i),
            source: API_CHECK_SOURCE,
            estimate: false,
        },
        calculated_link(),
        ttl_link(s),
    ];
    Chain {
        links,
        concurrent: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::tests::applied;

    fn sum(links: &[Link]) -> Figures {
        links
            .iter()
            .fold(Figures::default(), |sum, l| sum + l.figures)
    }

    #[test]
    fn sequential_links_add_up_and_concurrent_tracks_take_the_longer() {
        let mut chain = unplanned(&Settings::blueprint());
        chain.concurrent = false;
        assert_eq!(chain.total(), sum(&chain.links));
        chain.concurrent = true;
        let first = chain.track(Track::First);
        let database = chain.track(Track::Database);
        let traffic = chain.track(Track::Traffic);
        assert_eq!(
            chain.total().typical,
            first.typical + database.typical.max(traffic.typical)
        );
        assert!(chain.total().typical < sum(&chain.links).typical);
        // The automatic move is one track: its links add up.
        let auto = automatic(&Settings::blueprint());
        assert_eq!(auto.total(), sum(&auto.links));
    }

    #[test]
    fn the_unplanned_failover_fences_while_aurora_promotes_and_meets_the_goal() {
        let chain = unplanned(&Settings::blueprint());
        assert!(chain.concurrent);
        // 5 s, then the longer of Aurora's 60 s and the traffic's 65 + 30
        // + 5 + 30 s.
        assert_eq!(chain.track(Track::Database).typical, 60);
        assert_eq!(chain.track(Track::Traffic).typical, 130);
        assert_eq!(chain.total(), figures(32, 135, 345));
        assert!(chain.meets_goal());
        // One after the other, it would not.
        let sequential = Chain {
            concurrent: false,
            ..chain.clone()
        };
        assert_eq!(sequential.total().typical, 195);
        assert!(!sequential.meets_goal());
        for l in &chain.links {
            assert!(!l.source.is_empty());
            assert!(
                l.source.contains("https://") || l.source.starts_with("estimate"),
                "{}",
                l.source
            );
        }
    }

    #[test]
    fn the_figures_follow_the_settings() {
        let bp = Settings::blueprint();
        let base = unplanned(&bp);
        // A two-minute period, or two datapoints: later.
        for slower in [
            Settings {
                fence_period: 120,
                ..bp
            },
            Settings {
                fence_datapoints: 2,
                ..bp
            },
        ] {
            let chain = unplanned(&slower);
            assert!(chain.total().typical > base.total().typical, "{slower:?}");
            assert_ne!(chain.links[2].what, base.links[2].what);
        }
        // A high-resolution alarm would be evaluated every 10 s (Route 53
        // does not accept one: the blueprint keeps a minute).
        assert_eq!(alarm(10, 1), figures(2, 15, 50));
        assert_eq!(alarm(60, 1), figures(2, 65, 150));
        assert_eq!(alarm(60, 3), figures(122, 185, 270));
        // A shorter TTL: sooner.
        let short = unplanned(&Settings {
            record_ttl: 30,
            ..bp
        });
        assert!(short.total().typical < base.total().typical);
        assert!(short.links.last().unwrap().what.contains("TTL 30 s"));
        // The API check's settings time the move without a decision only.
        let fast = Settings {
            api_check_interval: 10,
            api_check_failure_threshold: 2,
            ..bp
        };
        assert_eq!(unplanned(&fast), base);
        assert_eq!(automatic(&bp).links[0].figures, figures(60, 90, 120));
        assert_eq!(automatic(&fast).links[0].figures, figures(10, 20, 30));
        assert!(automatic(&fast).total().typical < automatic(&bp).total().typical);
    }

    #[test]
    fn settings_come_from_the_blueprint_or_what_state_records() {
        let bp = Settings::blueprint();
        assert_eq!(
            bp,
            Settings {
                fence_period: 60,
                fence_datapoints: 1,
                api_check_interval: 30,
                api_check_failure_threshold: 3,
                record_ttl: 60,
            }
        );
        // Nothing recorded: the blueprint's.
        let mut state = applied();
        assert_eq!(Settings::applied(&state), bp);
        // Recorded: those.
        let fence = state.resources.get_mut(&targets::fence_alarm()).unwrap();
        fence
            .inputs
            .insert("metric".into(), serde_json::json!({"period": 120}));
        fence.inputs.insert("datapoints_to_alarm".into(), 2.into());
        let mut api = fence.clone();
        api.inputs = [
            ("request_interval".to_owned(), 10.into()),
            ("failure_threshold".to_owned(), 2.into()),
        ]
        .into();
        state
            .resources
            .insert(targets::primary_api_health_check(), api);
        assert_eq!(
            Settings::applied(&state),
            Settings {
                fence_period: 120,
                fence_datapoints: 2,
                api_check_interval: 10,
                api_check_failure_threshold: 2,
                record_ttl: 60,
            }
        );
    }
}
