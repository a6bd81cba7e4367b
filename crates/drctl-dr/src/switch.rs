//! A switch moves the Aurora global cluster's writer to the target role's
//! cluster, records the target as the active role in state, then moves
//! the traffic. Each step first reads AWS and is skipped when it already
//! holds, so a re-run of an interrupted switch completes it. Until the
//! writer has moved, state still names the old role (a `plan` keeps the
//! traffic where it is); once state names the new role, a `plan` or a
//! re-run moves the traffic after it.
//!
//! The traffic moves one of two ways:
//! - planned switches set the Route 53 weights (control plane, whose API
//!   is served from us-east-1), and a failback lifts the fence;
//! - an unplanned failover, and a drill's failover, fence the primary off
//!   from the secondary region: a metric in the fence alarm's region puts
//!   the alarm in ALARM, the primary's health check fails, and Route 53's
//!   health checkers answer with the secondary's record. No call goes to
//!   the primary region or to Route 53's API.
//!
//! Deciding the steps ([`steps`]) is pure; [`run`] carries them out and
//! reports through an [`Observer`].

use std::time::{Duration, Instant};

use drctl_blueprint::{Role, targets};
use drctl_core::State;
use drctl_core::backend::Backend;
use serde::Serialize;
use tracing::Instrument;

use crate::checks::{self, Check, Expected};
use crate::cloud::{Cloud, SWITCH_UNDER_WAY, WriterChange};
use crate::error::DrError;
use crate::status::{self, Status};
use crate::targets::Targets;

/// How a switch moves the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrafficMove {
    /// Route 53's API sets the weights (target 100, other 0); towards the
    /// primary, the fence is lifted after.
    Weights,
    /// The primary is fenced off from the secondary region (data plane).
    Fence,
}

/// What a switch does: which verb, towards which role, how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Switch {
    pub phase: &'static str,
    pub to: Role,
    pub how: WriterChange,
    pub traffic: TrafficMove,
}

impl Switch {
    /// `drctl failover`: a switchover, weights through Route 53's API.
    pub const PLANNED_FAILOVER: Switch = Switch {
        phase: "failover",
        to: Role::Secondary,
        how: WriterChange::Switchover,
        traffic: TrafficMove::Weights,
    };
    /// `drctl failover --unplanned`: nothing in the primary region or in
    /// Route 53's API is called.
    pub const UNPLANNED_FAILOVER: Switch = Switch {
        phase: "failover",
        to: Role::Secondary,
        how: WriterChange::FailoverAllowingDataLoss,
        traffic: TrafficMove::Fence,
    };
    /// `drctl failback`, and a drill's second half.
    pub const FAILBACK: Switch = Switch {
        phase: "failback",
        to: Role::Primary,
        how: WriterChange::Switchover,
        traffic: TrafficMove::Weights,
    };
    /// A drill's failover: no data loss, traffic moved the way an outage
    /// would move it (the fence), so the drill proves that path.
    pub const DRILL_FAILOVER: Switch = Switch {
        phase: "failover",
        to: Role::Secondary,
        how: WriterChange::Switchover,
        traffic: TrafficMove::Fence,
    };

    /// "over" (to the secondary) or "back" (to the primary).
    pub fn direction(&self) -> &'static str {
        match self.to {
            Role::Secondary => "over",
            Role::Primary => "back",
        }
    }

    pub fn planned(&self) -> bool {
        self.how == WriterChange::Switchover
    }

    /// Whether the fence is first published as soon as AWS accepts the
    /// writer's move, so that the alarm and Route 53 follow while Aurora
    /// promotes (the steps keep their order: the fence step still waits
    /// for ALARM after the writer moved). Only the unplanned failover: its
    /// primary region is down, so traffic reaching the secondary before
    /// its writer finds reads served and writes refused, where the primary
    /// answers nothing, or accepts writes the failover then loses
    /// (AllowDataLoss). Overlapping the two is what brings the traffic's
    /// move within 3 minutes of the decision (`rto`). Never before AWS
    /// accepted the failover: a refused one leaves the traffic alone. A
    /// drill's failover keeps the order (a switchover loses nothing and the
    /// primary serves until it blocks writes); planned switches set the
    /// weights after the writer.
    pub fn fences_with_the_writer(&self) -> bool {
        self.traffic == TrafficMove::Fence && self.how == WriterChange::FailoverAllowingDataLoss
    }
}

/// The weights that send all traffic to `to`: [primary, secondary].
pub fn target_weights(to: Role) -> [i64; 2] {
    match to {
        Role::Primary => [100, 0],
        Role::Secondary => [0, 100],
    }
}

/// What a switch finds in AWS before it starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub writer: Option<Role>,
    /// The switch AWS is already making towards this role (a FailoverState
    /// whose status is one of [`SWITCH_UNDER_WAY`]).
    pub switching_to: Option<Role>,
    /// Any other switch AWS reports on the global cluster (towards the
    /// other role, or being cancelled), as "STATUS to CLUSTER": AWS
    /// refuses a new one until it ends, so the writer step refuses too.
    pub busy: Option<String>,
    /// The records' weights; `None` when not read (a fenced switch does
    /// not ask Route 53's API) or unreadable.
    pub weights: Option<[Option<i64>; 2]>,
    /// Whether the fence is up; `None` when unreadable.
    pub fenced: Option<bool>,
}

impl Observed {
    /// Where a drill's failback starts: where its failover (from the
    /// other role, serving) ended. A fence leaves the weights alone.
    pub fn after(sw: &Switch) -> Observed {
        let weights_to = match sw.traffic {
            TrafficMove::Weights => sw.to,
            TrafficMove::Fence => sw.to.other(),
        };
        Observed {
            writer: Some(sw.to),
            switching_to: None,
            busy: None,
            weights: Some(target_weights(weights_to).map(Some)),
            fenced: Some(sw.traffic == TrafficMove::Fence),
        }
    }
}

/// What a step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    MoveWriter,
    RecordActive,
    SetWeights,
    Fence,
    LiftFence,
}

/// One step of a switch, as the switch runs it and `--plan` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    pub text: String,
    /// Its name in a drill's timings.
    pub label: String,
    pub done: bool,
    pub expected: Expected,
}

/// The steps of `sw` given what AWS holds (`seen`) and whether state
/// already records the target as active.
pub fn steps(t: &Targets, sw: &Switch, seen: &Observed, recorded_done: bool) -> Vec<Step> {
    let target = t.cluster(sw.to);
    let writer_text = match (sw.how, seen.switching_to == Some(sw.to)) {
        (_, true) => format!(
            "Wait for the switch AWS is making to {} ({})",
            target.id, target.region
        ),
        (WriterChange::Switchover, false) => format!(
            "Switch the Aurora global cluster {} over to {} ({}): no data loss",
            t.global_id, target.id, target.region
        ),
        (WriterChange::FailoverAllowingDataLoss, false) => format!(
            "Fail the Aurora global cluster {} over to {} ({}), allowing the loss of writes not yet replicated",
            t.global_id, target.id, target.region
        ),
    };
    let to = sw.to.as_str();
    let fence = &t.fence;
    let mut steps = vec![
        Step {
            action: Action::MoveWriter,
            text: writer_text,
            label: format!("Aurora writer to {to}"),
            // A switch away from the target in progress: not done.
            done: seen.writer == Some(sw.to) && seen.busy.is_none(),
            expected: match sw.how {
                WriterChange::Switchover => checks::SWITCHOVER_TIME,
                WriterChange::FailoverAllowingDataLoss => checks::FAILOVER_TIME,
            },
        },
        Step {
            action: Action::RecordActive,
            text: format!("Record {to} as the active role in state"),
            label: format!("record {to} as active"),
            done: recorded_done,
            expected: checks::RECORD_TIME,
        },
    ];
    match sw.traffic {
        TrafficMove::Weights => {
            let [p, s] = target_weights(sw.to);
            steps.push(Step {
                action: Action::SetWeights,
                text: format!(
                    "Set the Route 53 weights of {}: primary {p}, secondary {s}",
                    t.record_name
                ),
                label: format!("Route 53 traffic to {to}"),
                done: seen.weights == Some(target_weights(sw.to).map(Some)),
                expected: checks::WEIGHTS_TIME,
            });
            if sw.to == Role::Primary {
                steps.push(Step {
                    action: Action::LiftFence,
                    text: format!(
                        "Lift the fence: publish {}/{} = 0 in {}, wait until alarm {} is OK (the primary's health check passes again)",
                        fence.namespace, fence.metric, fence.region, fence.alarm
                    ),
                    label: "fence lifted".into(),
                    done: seen.fenced == Some(false),
                    expected: checks::FENCE_TIME,
                });
            }
        }
        TrafficMove::Fence => steps.push(Step {
            action: Action::Fence,
            text: format!(
                "Fence the primary off: publish {}/{} = 1 in {}{}, wait until alarm {} is in ALARM (the primary's health check fails; Route 53 answers with the secondary)",
                fence.namespace,
                fence.metric,
                fence.region,
                if sw.fences_with_the_writer() {
                    " (first as soon as AWS accepts step 1, while Aurora promotes)"
                } else {
                    ""
                },
                fence.alarm
            ),
            label: format!("traffic to {to}: health check flipped"),
            done: seen.fenced == Some(true),
            expected: checks::FENCE_TIME,
        }),
    }
    steps
}

/// Reads what `sw`'s steps depend on: the global cluster (asked in the
/// target's region), the fence (in its region), and the weights only when
/// the switch sets them (Route 53's API).
pub async fn observe(cloud: &dyn Cloud, t: &Targets, sw: &Switch) -> Result<Observed, DrError> {
    let region = &t.cluster(sw.to).region;
    let global = cloud.global_database(region, &t.global_id)
        .await?
        .ok_or_else(|| {
            DrError::Refused(format!(
                "Aurora global cluster {} does not exist; `drctl plan --env ENV --refresh` shows what is missing",
                t.global_id
            ))
        })?;
    let weights = match sw.traffic {
        // Route 53's API may not answer in an outage of its region; the
        // database can still move, and the weights step reads again.
        TrafficMove::Weights => status::weights(cloud, t).await.ok(),
        TrafficMove::Fence => None,
    };
    let fenced = status::fence_state(cloud, t)
        .await
        .ok()
        .map(|s| s.as_deref().is_some_and(status::fenced));
    let under_way = global
        .failover
        .as_ref()
        .filter(|f| SWITCH_UNDER_WAY.contains(&f.status.as_str()));
    let switching_to = under_way
        .and_then(|f| f.to_cluster_arn.as_deref())
        .and_then(|a| t.role_of_arn(a))
        .filter(|r| *r == sw.to);
    let busy = global
        .failover
        .as_ref()
        .filter(|_| switching_to.is_none())
        .map(|f| {
            format!(
                "{} to {}",
                f.status,
                f.to_cluster_arn.as_deref().unwrap_or("an unknown cluster")
            )
        });
    Ok(Observed {
        writer: global.writer().and_then(|a| t.role_of_arn(a)),
        switching_to,
        busy,
        weights,
        fenced,
    })
}

/// The region `sw`'s writer call is made in: a switchover in the region of
/// the primary (writer) cluster, a failover in the target's, as the Aurora
/// User Guide's procedures call them ("Using switchover or failover in
/// Amazon Aurora Global Database": `--region` "where the primary DB
/// cluster ... is running" for switchover-global-cluster, "where the
/// secondary DB cluster that you want to be the new primary ... is
/// running" for failover-global-cluster with `--allow-data-loss`). So an
/// unplanned failover needs nothing of the failed region, and a
/// switchover, which needs both regions healthy anyway, asks the primary.
pub fn writer_call_region<'t>(t: &'t Targets, sw: &Switch, seen: &Observed) -> &'t str {
    match sw.how {
        WriterChange::FailoverAllowingDataLoss => &t.cluster(sw.to).region,
        WriterChange::Switchover => {
            // Two roles: the writer is the other one when it is not the
            // target (a step already done never calls).
            let writer = seen
                .writer
                .filter(|w| *w != sw.to)
                .unwrap_or_else(|| sw.to.other());
            &t.cluster(writer).region
        }
    }
}

/// Whether step 1 publishes the fence once AWS accepted the writer's move
/// ([`Switch::fences_with_the_writer`]): not when the fence is already up.
pub fn fence_early(sw: &Switch, steps: &[Step]) -> bool {
    sw.fences_with_the_writer() && steps.iter().any(|s| s.action == Action::Fence && !s.done)
}

/// The checks that refuse to start the switch `sw`, from `status` read
/// with the checks of a switch to `sw.to`: the failed checks that gate it
/// and `skip` does not name. None for an unplanned switch (it runs
/// whatever they say), nor once the switch began (state records the
/// target as active, or AWS has the writer there or moving there): a run
/// then completes it.
pub fn refusals<'s>(status: &'s Status, sw: &Switch, skip: &[String]) -> Vec<&'s Check> {
    let to = Some(sw.to.as_str());
    let begun = status.recorded_active_role == sw.to.as_str()
        || status.database.as_ref().is_some_and(|d| {
            d.writer_role == to
                || d.failover_in_progress
                    .as_ref()
                    .is_some_and(|f| f.to_role == to)
        });
    if begun {
        return Vec::new();
    }
    checks::refusals(&status.checks, sw.planned(), skip)
}

/// A switch ready to run: what AWS held, and the steps that follow.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub seen: Observed,
    pub steps: Vec<Step>,
}

impl Prepared {
    /// Whether every step already holds.
    pub fn is_done(&self) -> bool {
        self.steps.iter().all(|s| s.done)
    }
}

/// Observes AWS and derives `sw`'s steps; `recorded_done`: state already
/// records the target as active.
pub async fn prepare(
    cloud: &dyn Cloud,
    t: &Targets,
    sw: &Switch,
    recorded_done: bool,
) -> Result<Prepared, DrError> {
    let seen = observe(cloud, t, sw).await?;
    let steps = steps(t, sw, &seen, recorded_done);
    Ok(Prepared { seen, steps })
}

/// How long one step of a switch took.
#[derive(Clone, Debug, Serialize)]
pub struct StepTiming {
    pub phase: &'static str,
    pub step: String,
    pub skipped: bool,
    pub seconds: f64,
}

/// What a running switch reports.
pub trait Observer {
    /// Step `index` (0-based) of `count` starts.
    fn started(&self, index: usize, count: usize, step: &Step);
    /// Step `index` finished after `elapsed`.
    fn finished(&self, index: usize, count: usize, step: &Step, elapsed: Duration);
    /// Step `index` already held; nothing was done.
    fn skipped(&self, index: usize, count: usize, step: &Step);
    /// Step `index` is waiting for AWS: what for and what AWS reports now
    /// (the writer to move, a Route 53 change to be INSYNC, ...). Called
    /// when the wait begins, then at most every [`WAIT_REPORT_EVERY`].
    fn waiting(&self, _index: usize, _count: usize, _step: &Step, _what: &str) {}
}

/// How often a step's wait is reported again.
pub const WAIT_REPORT_EVERY: Duration = Duration::from_secs(15);

/// Runs `work` (step `index` of `count`), telling `observer` what it waits
/// for: the reports `drctl_aws` makes while it polls (`drctl_core::waiting`).
async fn reporting_waits<T>(
    observer: &dyn Observer,
    index: usize,
    count: usize,
    step: &Step,
    work: impl Future<Output = T>,
) -> T {
    let status = drctl_core::waiting::Status::default();
    let work = drctl_core::waiting::scope(status.clone(), work);
    tokio::pin!(work);
    let mut reported: Option<(Instant, String)> = None;
    loop {
        tokio::select! {
            out = &mut work => return out,
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                let Some(now) = status.get() else { continue };
                let due = reported
                    .as_ref()
                    .is_none_or(|(at, last)| at.elapsed() >= WAIT_REPORT_EVERY && *last != now);
                if due {
                    observer.waiting(index, count, step, &now);
                    reported = Some((Instant::now(), now));
                }
            }
        }
    }
}

/// Where a switch writes state, and whose it is.
pub struct StateWriter<'a> {
    pub backend: &'a dyn Backend,
    pub env: &'a str,
}

impl StateWriter<'_> {
    fn save(&self, state: &mut State) -> Result<(), DrError> {
        Ok(self.backend.save(state)?)
    }
}

/// Runs the steps of `sw` that are not done (the caller holds the lock);
/// returns each step's timing.
pub async fn run(
    cloud: &dyn Cloud,
    writer: &StateWriter<'_>,
    state: &mut State,
    t: &Targets,
    sw: &Switch,
    prepared: &Prepared,
    observer: &dyn Observer,
) -> Result<Vec<StepTiming>, DrError> {
    let (seen, steps) = (&prepared.seen, &prepared.steps);
    let target = t.cluster(sw.to);
    let mut timings = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let started = Instant::now();
        if step.done {
            observer.skipped(i, steps.len(), step);
        } else {
            observer.started(i, steps.len(), step);
            let span = tracing::info_span!("dr_step", phase = sw.phase, step = i + 1);
            let work = async {
                match step.action {
                    Action::MoveWriter => {
                        if let Some(busy) = &seen.busy {
                            // AWS refuses a second switch while one runs.
                            return Err(DrError::Refused(format!(
                                "a switchover or failover of Aurora global cluster {} is {busy}; `drctl status --env {}` shows it: run this again once it has ended",
                                t.global_id, writer.env
                            )));
                        }
                        if seen.switching_to != Some(sw.to) {
                            cloud.move_writer(
                                writer_call_region(t, sw, seen),
                                &t.global_id,
                                &target.arn,
                                sw.how,
                            )
                            .await?;
                        }
                        if fence_early(sw, steps) {
                            publish_fence_early(cloud, t).await;
                        }
                        cloud.wait_for_writer(&target.region, &t.global_id, &target.arn).await?;
                    }
                    Action::RecordActive => {
                        state.active_role = Some(sw.to.as_str().to_owned());
                        // The posture the switch moves to: by the fence the
                        // weights stay as they were (`State::fenced`).
                        state.fenced = sw.traffic == TrafficMove::Fence;
                        writer.save(state)?;
                    }
                    Action::SetWeights => {
                        let weights = target_weights(sw.to);
                        let ids = t.set_ids();
                        cloud.set_record_weights(
                            &t.zone_id,
                            &t.record_name,
                            &t.record_type,
                            &[(ids[0], weights[0]), (ids[1], weights[1])],
                        )
                        .await?;
                    }
                    Action::Fence => {
                        set_fence(cloud, t, true).await?;
                        record_fence(writer, state, true)?;
                    }
                    Action::LiftFence => {
                        set_fence(cloud, t, false).await?;
                        record_fence(writer, state, false)?;
                    }
                }
                Ok::<(), DrError>(())
            }
            .instrument(span);
            reporting_waits(observer, i, steps.len(), step, work)
                .await
                .map_err(|e| DrError::Stopped {
                    phase: sw.phase,
                    env: writer.env.to_owned(),
                    step: i + 1,
                    source: Box::new(e),
                })?;
            observer.finished(i, steps.len(), step, started.elapsed());
        }
        timings.push(StepTiming {
            phase: sw.phase,
            step: step.label.clone(),
            skipped: step.done,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    if steps.iter().any(|s| s.action == Action::SetWeights) {
        record_weights_in_state(writer, state, sw.to)?;
    }
    Ok(timings)
}

/// How long the fence alarm may take to reach its state: CloudWatch
/// evaluates a one-minute alarm every minute; bounded so a fence that
/// does not take is reported.
const FENCE_WAIT: Duration = Duration::from_secs(10 * 60);
/// How often the alarm is asked, and the metric published again (so the
/// alarm's next evaluation period holds a datapoint).
const FENCE_POLL: Duration = Duration::from_secs(5);
const FENCE_REPUBLISH: Duration = Duration::from_secs(60);

/// Publishes the fence metric (1) once, without waiting: the fence step
/// publishes again and waits, so a failure here only loses the head start.
async fn publish_fence_early(cloud: &dyn Cloud, t: &Targets) {
    let fence = &t.fence;
    if let Err(e) = cloud
        .publish_metric(
            &fence.region,
            fence.namespace,
            fence.metric,
            (fence.dimension.0, &fence.dimension.1),
            1.0,
        )
        .await
    {
        tracing::warn!(
            "publishing the fence early failed ({e}); the fence step publishes it again"
        );
    }
}

/// Publishes the fence metric (1: fenced, 0: lifted) in the fence's
/// region and waits until its alarm is in ALARM / OK.
async fn set_fence(cloud: &dyn Cloud, t: &Targets, up: bool) -> Result<(), DrError> {
    let fence = &t.fence;
    let (value, wanted) = if up { (1.0, "ALARM") } else { (0.0, "OK") };
    let started = Instant::now();
    let mut published: Option<Instant> = None;
    loop {
        if published.is_none_or(|p| p.elapsed() >= FENCE_REPUBLISH) {
            cloud
                .publish_metric(
                    &fence.region,
                    fence.namespace,
                    fence.metric,
                    (fence.dimension.0, &fence.dimension.1),
                    value,
                )
                .await?;
            published = Some(Instant::now());
        }
        let state = status::fence_state(cloud, t).await.map_err(|e| {
            DrError::Refused(format!("cannot read the fence alarm {}: {e}", fence.alarm))
        })?;
        match state.as_deref() {
            Some(s) if s == wanted => return Ok(()),
            None => {
                return Err(DrError::Refused(format!(
                    "the fence alarm {} does not exist in {}; run `drctl apply` when the primary region answers, or move the traffic with `drctl failover` (planned)",
                    fence.alarm, fence.region
                )));
            }
            Some(other) if started.elapsed() >= FENCE_WAIT => {
                return Err(DrError::Refused(format!(
                    "the fence alarm {} is still {other} after {} min, not {wanted}; check it in the CloudWatch console of {}",
                    fence.alarm,
                    FENCE_WAIT.as_secs() / 60,
                    fence.region
                )));
            }
            Some(other) => {
                drctl_core::waiting::report(format!(
                    "fence alarm {} {wanted}: still {other} ({}s of at most {} min)",
                    fence.alarm,
                    started.elapsed().as_secs(),
                    FENCE_WAIT.as_secs() / 60
                ));
                tokio::time::sleep(FENCE_POLL).await
            }
        }
    }
}

/// Records in state whether the primary is fenced off, if it changed.
pub fn record_fence(writer: &StateWriter<'_>, state: &mut State, up: bool) -> Result<(), DrError> {
    if state.fenced != up {
        state.fenced = up;
        writer.save(state)?;
    }
    Ok(())
}

/// Writes the weights a switch set into the records' inputs in state, as
/// if an apply had set them: a plan without --refresh then compares with
/// what Route 53 holds.
pub fn record_weights_in_state(
    writer: &StateWriter<'_>,
    state: &mut State,
    to: Role,
) -> Result<(), DrError> {
    let mut changed = false;
    for (role, weight) in Role::BOTH.into_iter().zip(target_weights(to)) {
        if let Some(r) = state.resources.get_mut(&targets::api_record(role))
            && r.inputs.get("weight") != Some(&serde_json::Value::from(weight))
        {
            r.inputs.insert("weight".into(), weight.into());
            changed = true;
        }
    }
    if changed {
        writer.save(state)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::tests::applied;

    fn targets() -> Targets {
        Targets::from_state(&applied()).unwrap()
    }

    fn actions(steps: &[Step]) -> Vec<(Action, bool)> {
        steps.iter().map(|s| (s.action, s.done)).collect()
    }

    #[test]
    fn a_planned_failover_moves_the_writer_records_it_then_sets_the_weights() {
        let seen = Observed {
            writer: Some(Role::Primary),
            weights: Some([Some(100), Some(0)]),
            fenced: Some(false),
            ..Observed::default()
        };
        let s = steps(&targets(), &Switch::PLANNED_FAILOVER, &seen, false);
        assert_eq!(
            actions(&s),
            [
                (Action::MoveWriter, false),
                (Action::RecordActive, false),
                (Action::SetWeights, false)
            ]
        );
        assert!(s[0].text.contains("no data loss"), "{}", s[0].text);
        assert!(
            s[2].text.ends_with("primary 0, secondary 100"),
            "{}",
            s[2].text
        );
    }

    #[test]
    fn an_unplanned_failover_fences_the_primary_instead_of_calling_route_53() {
        let seen = Observed {
            writer: Some(Role::Primary),
            fenced: Some(false),
            ..Observed::default()
        };
        let s = steps(&targets(), &Switch::UNPLANNED_FAILOVER, &seen, false);
        assert_eq!(
            actions(&s),
            [
                (Action::MoveWriter, false),
                (Action::RecordActive, false),
                (Action::Fence, false)
            ]
        );
        assert!(s[0].text.contains("allowing the loss"), "{}", s[0].text);
        assert!(
            s[2].text
                .contains("PaymentDR/PrimaryFenced = 1 in us-east-2"),
            "{}",
            s[2].text
        );
    }

    /// The steps keep their order (writer, record, fence) for every
    /// switch, so the tests above still say what runs when; only the
    /// unplanned failover's fence is first published inside step 1, once
    /// AWS accepted the failover (`Switch::fences_with_the_writer`).
    #[test]
    fn only_the_unplanned_failover_publishes_the_fence_while_aurora_promotes() {
        let t = targets();
        let seen = Observed {
            writer: Some(Role::Primary),
            fenced: Some(false),
            ..Observed::default()
        };
        let unplanned = steps(&t, &Switch::UNPLANNED_FAILOVER, &seen, false);
        assert!(fence_early(&Switch::UNPLANNED_FAILOVER, &unplanned));
        assert!(
            unplanned[2]
                .text
                .contains("(first as soon as AWS accepts step 1, while Aurora promotes)"),
            "{}",
            unplanned[2].text
        );
        let drill = steps(&t, &Switch::DRILL_FAILOVER, &seen, false);
        assert!(!fence_early(&Switch::DRILL_FAILOVER, &drill));
        assert!(
            !drill[2].text.contains("first as soon as"),
            "{}",
            drill[2].text
        );
        for sw in [Switch::PLANNED_FAILOVER, Switch::FAILBACK] {
            assert!(!sw.fences_with_the_writer());
            assert!(!fence_early(&sw, &steps(&t, &sw, &seen, false)));
        }
        // The fence already up: nothing to publish early.
        let fenced = Observed {
            fenced: Some(true),
            ..seen
        };
        let s = steps(&t, &Switch::UNPLANNED_FAILOVER, &fenced, false);
        assert!(!fence_early(&Switch::UNPLANNED_FAILOVER, &s));
    }

    #[test]
    fn a_failback_sets_the_weights_then_lifts_the_fence() {
        let seen = Observed {
            writer: Some(Role::Secondary),
            weights: Some([Some(100), Some(0)]),
            fenced: Some(true),
            ..Observed::default()
        };
        let s = steps(&targets(), &Switch::FAILBACK, &seen, false);
        assert_eq!(
            actions(&s),
            [
                (Action::MoveWriter, false),
                (Action::RecordActive, false),
                (Action::SetWeights, true),
                (Action::LiftFence, false)
            ]
        );
    }

    #[test]
    fn what_already_holds_is_done_and_a_switch_in_progress_is_waited_for() {
        let seen = Observed {
            writer: Some(Role::Primary),
            switching_to: Some(Role::Secondary),
            busy: None,
            weights: None,
            fenced: Some(true),
        };
        let s = steps(&targets(), &Switch::DRILL_FAILOVER, &seen, true);
        assert_eq!(
            actions(&s),
            [
                (Action::MoveWriter, false),
                (Action::RecordActive, true),
                (Action::Fence, true)
            ]
        );
        assert!(
            s[0].text.starts_with("Wait for the switch AWS is making"),
            "{}",
            s[0].text
        );
    }

    #[test]
    fn a_switchover_is_called_in_the_writers_region_a_failover_in_the_targets() {
        let mut t = targets();
        for c in &mut t.clusters {
            c.region = match c.role {
                Role::Primary => "us-east-1".into(),
                Role::Secondary => "us-east-2".into(),
            };
        }
        let from_primary = Observed {
            writer: Some(Role::Primary),
            ..Observed::default()
        };
        let from_secondary = Observed {
            writer: Some(Role::Secondary),
            ..Observed::default()
        };
        // `drctl failover`: SwitchoverGlobalCluster in the primary's region.
        assert_eq!(
            writer_call_region(&t, &Switch::PLANNED_FAILOVER, &from_primary),
            "us-east-1"
        );
        assert_eq!(
            writer_call_region(&t, &Switch::DRILL_FAILOVER, &from_primary),
            "us-east-1"
        );
        // `drctl failback`: the writer is the secondary's.
        assert_eq!(
            writer_call_region(&t, &Switch::FAILBACK, &from_secondary),
            "us-east-2"
        );
        // An unreadable writer: the other role's.
        assert_eq!(
            writer_call_region(&t, &Switch::FAILBACK, &Observed::default()),
            "us-east-2"
        );
        // `drctl failover --unplanned`: FailoverGlobalCluster in the
        // target's region, never the failed one.
        assert_eq!(
            writer_call_region(&t, &Switch::UNPLANNED_FAILOVER, &from_primary),
            "us-east-2"
        );
    }

    #[test]
    fn a_switch_away_from_the_target_in_progress_leaves_the_writer_step_to_do() {
        // The secondary writes, but AWS is switching it back to the
        // primary: the failover is not done, and its writer step refuses
        // when run (`busy`).
        let seen = Observed {
            writer: Some(Role::Secondary),
            busy: Some("switching-over to arn:aws:rds:us-east-1:123456789012:cluster:p".into()),
            weights: Some([Some(0), Some(100)]),
            fenced: Some(false),
            ..Observed::default()
        };
        let s = steps(&targets(), &Switch::PLANNED_FAILOVER, &seen, true);
        assert_eq!(
            actions(&s),
            [
                (Action::MoveWriter, false),
                (Action::RecordActive, true),
                (Action::SetWeights, true)
            ]
        );
    }

    #[test]
    fn a_drills_failback_starts_where_its_failover_ended() {
        let seen = Observed::after(&Switch::DRILL_FAILOVER);
        let s = steps(&targets(), &Switch::FAILBACK, &seen, false);
        assert_eq!(
            actions(&s),
            [
                (Action::MoveWriter, false),
                (Action::RecordActive, false),
                (Action::SetWeights, true),
                (Action::LiftFence, false)
            ]
        );
    }
}

/// Switches run through the port against a fake cloud and a fake state
/// backend that log, in one order, every change each makes.
#[cfg(test)]
mod with_a_fake_cloud {
    use std::sync::Mutex;

    use super::*;
    use crate::checks::LAG;
    use crate::testing::{FakeBackend, FakeCloud, Log, PRIMARY_REGION, World, targets};

    /// The steps as the observer saw them: "1 started", "1 done", "2 skipped".
    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);

    impl Observer for Seen {
        fn started(&self, index: usize, _count: usize, _step: &Step) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{} started", index + 1));
        }
        fn finished(&self, index: usize, _count: usize, _step: &Step, _elapsed: Duration) {
            self.0.lock().unwrap().push(format!("{} done", index + 1));
        }
        fn skipped(&self, index: usize, _count: usize, _step: &Step) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{} skipped", index + 1));
        }
    }

    impl Seen {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    struct Env {
        t: Targets,
        log: Log,
        cloud: FakeCloud,
        backend: FakeBackend,
        state: State,
        seen: Seen,
    }

    impl Env {
        fn healthy() -> Env {
            let t = targets();
            let log = Log::default();
            Env {
                cloud: FakeCloud::new(World::healthy(&t), log.clone()),
                backend: FakeBackend::new(log.clone()),
                state: crate::targets::tests::applied(),
                seen: Seen::default(),
                t,
                log,
            }
        }

        /// Prepares and runs `sw` as the binary does.
        async fn switch(&mut self, sw: &Switch) -> Result<Vec<StepTiming>, DrError> {
            let recorded_done = self.state.active_role.as_deref() == Some(sw.to.as_str());
            let prepared = prepare(&self.cloud, &self.t, sw, recorded_done).await?;
            let writer = StateWriter {
                backend: &self.backend,
                env: "dev",
            };
            run(
                &self.cloud,
                &writer,
                &mut self.state,
                &self.t,
                sw,
                &prepared,
                &self.seen,
            )
            .await
        }

        fn take_log(&self) -> Vec<String> {
            std::mem::take(&mut *self.log.lock().unwrap())
        }
    }

    #[tokio::test]
    async fn a_planned_failover_moves_and_waits_for_the_writer_records_it_then_sets_the_weights() {
        let mut env = Env::healthy();
        let timings = env.switch(&Switch::PLANNED_FAILOVER).await.unwrap();
        assert_eq!(
            env.take_log(),
            [
                "us-east-1: move writer to arn:secondary (Switchover)",
                "us-east-2: wait for writer arn:secondary",
                "state: save active secondary, fenced false",
                "route53: set weights primary-set=0 secondary-set=100",
                // The weights written into the records' inputs in state.
                "state: save active secondary, fenced false",
            ]
        );
        assert_eq!(
            env.seen.take(),
            [
                "1 started",
                "1 done",
                "2 started",
                "2 done",
                "3 started",
                "3 done"
            ]
        );
        assert_eq!(timings.len(), 3);
        assert_eq!(env.state.active_role.as_deref(), Some("secondary"));
        let world = env.cloud.world.lock().unwrap();
        assert_eq!(
            world.global.as_ref().unwrap().writer(),
            Some("arn:secondary")
        );
        // A planned switch leaves the fence alone.
        assert_eq!(
            world.alarms[&(env.t.fence.region.clone(), env.t.fence.alarm.clone())],
            "OK"
        );
    }

    /// The fence is published as soon as AWS accepted the failover, before
    /// the wait for the writer; nothing is asked of the primary region or
    /// of Route 53's API, reads included.
    #[tokio::test]
    async fn an_unplanned_failover_fences_the_primary_and_never_calls_its_region_or_route_53() {
        let mut env = Env::healthy();
        env.switch(&Switch::UNPLANNED_FAILOVER).await.unwrap();
        assert_eq!(
            env.take_log(),
            [
                "us-east-2: move writer to arn:secondary (FailoverAllowingDataLoss)",
                "us-east-2: publish PrimaryFenced = 1",
                "us-east-2: wait for writer arn:secondary",
                "state: save active secondary, fenced true",
                "us-east-2: publish PrimaryFenced = 1",
            ]
        );
        assert!(!env.cloud.called(PRIMARY_REGION));
        assert!(!env.cloud.called("route53"));
        assert!(env.state.fenced);
    }

    #[tokio::test]
    async fn a_failback_after_an_unplanned_failover_moves_the_writer_back_and_lifts_the_fence() {
        let mut env = Env::healthy();
        env.switch(&Switch::UNPLANNED_FAILOVER).await.unwrap();
        env.take_log();
        env.seen.take();
        env.switch(&Switch::FAILBACK).await.unwrap();
        assert_eq!(
            env.take_log(),
            [
                // A switchover is called in the writer's region.
                "us-east-2: move writer to arn:primary (Switchover)",
                "us-east-1: wait for writer arn:primary",
                "state: save active primary, fenced false",
                "us-east-2: publish PrimaryFenced = 0",
                // The weights (never moved by the fence) into state.
                "state: save active primary, fenced false",
            ]
        );
        // The weights already send everything to the primary.
        assert_eq!(
            env.seen.take(),
            [
                "1 started",
                "1 done",
                "2 started",
                "2 done",
                "3 skipped",
                "4 started",
                "4 done"
            ]
        );
        assert!(!env.state.fenced);
    }

    #[tokio::test]
    async fn a_refused_writer_move_changes_nothing_else() {
        let mut env = Env::healthy();
        env.cloud.fail(Some("move_writer"));
        let e = env.switch(&Switch::PLANNED_FAILOVER).await.unwrap_err();
        assert!(matches!(e, DrError::Stopped { step: 1, .. }), "{e:?}");
        assert!(e.to_string().contains("resumes where it stopped"), "{e}");
        assert_eq!(env.take_log(), ["us-east-1: move_writer failed"]);
        assert_eq!(env.seen.take(), ["1 started"]);
        assert_eq!(env.state.active_role, None);
    }

    #[tokio::test]
    async fn a_writer_that_does_not_arrive_leaves_state_and_traffic_where_they_were() {
        let mut env = Env::healthy();
        env.cloud.fail(Some("wait_for_writer"));
        let e = env.switch(&Switch::UNPLANNED_FAILOVER).await.unwrap_err();
        assert!(matches!(e, DrError::Stopped { step: 1, .. }), "{e:?}");
        assert_eq!(
            env.take_log(),
            [
                "us-east-2: move writer to arn:secondary (FailoverAllowingDataLoss)",
                // The head start only: the fence step never ran.
                "us-east-2: publish PrimaryFenced = 1",
                "us-east-2: wait_for_writer failed",
            ]
        );
        assert_eq!(env.state.active_role, None);
        assert!(!env.state.fenced);
    }

    #[tokio::test]
    async fn a_switch_stopped_at_the_weights_resumes_there() {
        let mut env = Env::healthy();
        env.cloud.fail(Some("set_record_weights"));
        let e = env.switch(&Switch::PLANNED_FAILOVER).await.unwrap_err();
        assert!(matches!(e, DrError::Stopped { step: 3, .. }), "{e:?}");
        assert_eq!(
            env.take_log(),
            [
                "us-east-1: move writer to arn:secondary (Switchover)",
                "us-east-2: wait for writer arn:secondary",
                "state: save active secondary, fenced false",
                "route53: set_record_weights failed",
            ]
        );
        env.seen.take();

        env.cloud.fail(None);
        env.switch(&Switch::PLANNED_FAILOVER).await.unwrap();
        assert_eq!(
            env.seen.take(),
            ["1 skipped", "2 skipped", "3 started", "3 done"]
        );
        assert_eq!(
            env.take_log(),
            [
                "route53: set weights primary-set=0 secondary-set=100",
                "state: save active secondary, fenced false",
            ]
        );
    }

    #[tokio::test]
    async fn a_failing_check_refuses_a_planned_switch_but_not_an_unplanned_one() {
        let env = Env::healthy();
        env.cloud.world.lock().unwrap().lag_seconds = Some(300.0);
        let ctx = status::Context {
            env: "dev",
            active: Role::Primary,
            to: Role::Secondary,
            max_replication_lag_seconds: 60,
        };
        let s = status::read(&env.cloud, &env.t, &ctx).await;
        let names = |refused: Vec<&Check>| refused.iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names(refusals(&s, &Switch::PLANNED_FAILOVER, &[])), [LAG]);
        assert_eq!(names(refusals(&s, &Switch::DRILL_FAILOVER, &[])), [LAG]);
        assert!(refusals(&s, &Switch::PLANNED_FAILOVER, &[LAG.to_owned()]).is_empty());
        assert!(refusals(&s, &Switch::UNPLANNED_FAILOVER, &[]).is_empty());
        // Nothing was changed by reading.
        assert!(env.take_log().is_empty());

        // Once the writer is in the target region, the switch has begun: a
        // re-run completes it whatever the checks say.
        let mut world = env.cloud.world.lock().unwrap().clone();
        world.set_writer(&env.t.cluster(Role::Secondary).arn);
        *env.cloud.world.lock().unwrap() = world;
        let s = status::read(&env.cloud, &env.t, &ctx).await;
        assert!(!s.checks.iter().all(|c| c.ok));
        assert!(refusals(&s, &Switch::PLANNED_FAILOVER, &[]).is_empty());
    }
}
