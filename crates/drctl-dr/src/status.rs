//! The DR status of an environment: what AWS reports about the parts a
//! switch depends on, the readiness rules over it, and the checks of a
//! planned switch. Every read goes to the region that answers in an
//! outage of the primary where one exists (the global cluster, the fence);
//! a part that cannot be read becomes a reason, not an error.

use drctl_blueprint::Role;
use futures::future::join_all;
use serde::Serialize;

use crate::checks::{self, Check};
use crate::cloud::{Cloud, CompletedJob, TableState};
use crate::routing::{self, WeightedRecord};
use crate::targets::Targets;

#[derive(Clone, Debug, Serialize)]
pub struct RecordStatus {
    pub role: &'static str,
    pub set_identifier: String,
    pub weight: Option<i64>,
}

/// The fence of the primary as its alarm reports it.
#[derive(Clone, Debug, Serialize)]
pub struct FenceStatus {
    pub alarm: String,
    pub region: String,
    /// The alarm's state (`OK`, `ALARM`, `INSUFFICIENT_DATA`); `null` when
    /// it could not be read.
    pub state: Option<String>,
    /// Whether the primary is fenced off (the alarm is in ALARM).
    pub fenced: Option<bool>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Traffic {
    pub serving_role: Option<&'static str>,
    pub serving_region: Option<String>,
    /// Empty when Route 53's API did not answer.
    pub records: Vec<RecordStatus>,
    pub fence: FenceStatus,
}

#[derive(Clone, Debug, Serialize)]
pub struct MemberStatus {
    pub role: &'static str,
    pub cluster: String,
    pub region: String,
    pub arn: String,
    pub member: bool,
    pub writer: bool,
    pub status: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FailoverStatus {
    pub status: String,
    pub from_role: Option<&'static str>,
    pub to_role: Option<&'static str>,
    pub data_loss_allowed: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Database {
    pub global_cluster: String,
    pub status: Option<String>,
    pub writer_role: Option<&'static str>,
    pub writer_region: Option<String>,
    pub failover_in_progress: Option<FailoverStatus>,
    pub members: Vec<MemberStatus>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Replica {
    pub region: String,
    pub status: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SessionTable {
    pub table: String,
    pub region: String,
    pub status: Option<String>,
    pub replicas: Vec<Replica>,
}

#[derive(Clone, Debug, Serialize)]
pub struct S3Replication {
    pub source_bucket: String,
    pub destination_bucket: String,
    pub rule_id: String,
    pub rule_status: Option<String>,
    pub destination_versioning: Option<String>,
}

/// A completed backup or copy job as `drctl status` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JobStatus {
    /// RFC 3339, UTC.
    pub completed_at: String,
    pub resource_arn: String,
    pub recovery_point_arn: String,
}

/// One region's AWS Backup: its vault and the last completed backup into
/// it and copy out of it (to the other region's vault); `None` for "none
/// yet". Not part of readiness: a switch does not depend on backups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackupStatus {
    pub role: &'static str,
    pub region: String,
    pub vault: String,
    pub last_backup: Option<JobStatus>,
    /// The other region's vault the copies go to; `None` when state has
    /// no vault there.
    pub copy_destination_vault: Option<String>,
    pub last_copy: Option<JobStatus>,
    /// Why the jobs could not be read, if they could not.
    pub error: Option<String>,
}

/// The latest of `jobs` by completion time.
pub fn latest(jobs: Vec<CompletedJob>) -> Option<JobStatus> {
    jobs.into_iter()
        .max_by_key(|j| j.completed_ms)
        .map(|j| JobStatus {
            completed_at: j.completed_at,
            resource_arn: j.resource_arn,
            recovery_point_arn: j.recovery_point_arn,
        })
}

/// One region's backup status from its completed backup jobs and its
/// completed copies to `copy_to` (`None` when there is no vault to copy
/// to); a read that failed is named in `error`.
pub fn backup_status(
    vault: &crate::targets::VaultTarget,
    copy_to: Option<&crate::targets::VaultTarget>,
    backups: Result<Vec<CompletedJob>, String>,
    copies: Option<Result<Vec<CompletedJob>, String>>,
) -> BackupStatus {
    let mut errors = Vec::new();
    let last_backup = backups
        .map_err(|e| errors.push(format!("cannot list backup jobs: {e}")))
        .ok()
        .and_then(latest);
    let last_copy = copies
        .and_then(|c| {
            c.map_err(|e| errors.push(format!("cannot list copy jobs: {e}")))
                .ok()
        })
        .and_then(latest);
    BackupStatus {
        role: vault.role.as_str(),
        region: vault.region.clone(),
        vault: vault.name.clone(),
        last_backup,
        copy_destination_vault: copy_to.map(|c| c.name.clone()),
        last_copy,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    }
}

/// Reads each region's last completed backup and copy, all at once.
pub async fn read_backups(cloud: &dyn Cloud, t: &Targets) -> Vec<BackupStatus> {
    join_all(t.vaults.iter().map(|vault| async move {
        let copy_to = t.vault(vault.role.other());
        let copies = async {
            match copy_to {
                Some(to) => Some(cloud.completed_copies(&vault.region, &to.arn).await),
                None => None,
            }
        };
        let (backups, copies) =
            tokio::join!(cloud.completed_backups(&vault.region, &vault.name), copies);
        let text = |e: drctl_core::ProviderError| e.to_string();
        backup_status(
            vault,
            copy_to,
            backups.map_err(text),
            copies.map(|c| c.map_err(text)),
        )
    }))
    .await
}

/// What `drctl status` reports (docs/json-output.md, "status").
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub env: String,
    pub ready: bool,
    pub reasons: Vec<String>,
    pub recorded_active_role: &'static str,
    pub traffic: Option<Traffic>,
    pub database: Option<Database>,
    pub session_table: Option<SessionTable>,
    pub s3_replication: Option<S3Replication>,
    /// Each region's AWS Backup, primary first.
    pub backups: Vec<BackupStatus>,
    /// The checks of a planned switch to the other role, measured now.
    pub checks: Vec<Check>,
}

impl Status {
    /// The status of an environment whose targets are not all in state.
    pub fn not_applied(env: &str, active: Role, reason: String) -> Status {
        Status {
            env: env.to_owned(),
            ready: false,
            reasons: vec![reason],
            recorded_active_role: active.as_str(),
            traffic: None,
            database: None,
            session_table: None,
            s3_replication: None,
            backups: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// The role Route 53 sends the traffic to, if one takes it all.
    pub fn serving(&self) -> Option<Role> {
        self.traffic
            .as_ref()
            .and_then(|t| t.serving_role)
            .and_then(Role::parse)
    }
}

/// What a status read needs besides the targets.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub env: &'a str,
    /// The active role state records.
    pub active: Role,
    /// The role a switch would go to (whose checks are measured).
    pub to: Role,
    pub max_replication_lag_seconds: u64,
}

/// What to do when traffic goes to `serving` while state records
/// `active`: finish the switch state records, or record one the failover
/// automation made (it does not write drctl's state).
fn finishing_advice(serving: Role, active: Role, env: &str) -> String {
    match active {
        Role::Secondary => {
            format!("a failover was interrupted; finish it with `drctl failover --env {env}`")
        }
        Role::Primary => format!(
            "a failback was interrupted (finish it with `drctl failback --env {env}`), or the failover automation moved it (record that with `drctl failover --env {env}`, with `--unplanned` if it ran unplanned); the {} region serves now",
            serving.as_str()
        ),
    }
}

/// Whether the primary is fenced off, from its alarm's state.
pub fn fenced(alarm_state: &str) -> bool {
    alarm_state == "ALARM"
}

/// The traffic part and its reasons, from the weights Route 53's API
/// reports (`Err` when it did not answer) and the fence alarm's state:
/// a fenced primary is unhealthy to Route 53, whatever its weight.
pub fn traffic(
    t: &Targets,
    ctx: &Context<'_>,
    weights: Result<[Option<i64>; 2], String>,
    fence_state: Result<Option<String>, String>,
    reasons: &mut Vec<String>,
) -> Traffic {
    let fence = match &fence_state {
        Ok(state) => FenceStatus {
            alarm: t.fence.alarm.clone(),
            region: t.fence.region.clone(),
            state: state.clone(),
            fenced: Some(state.as_deref().is_some_and(fenced)),
        },
        Err(e) => {
            reasons.push(format!(
                "cannot read the fence alarm {} ({}): {e}",
                t.fence.alarm, t.fence.region
            ));
            FenceStatus {
                alarm: t.fence.alarm.clone(),
                region: t.fence.region.clone(),
                state: None,
                fenced: None,
            }
        }
    };
    if matches!(fence_state, Ok(None)) {
        reasons.push(format!(
            "the fence alarm {} does not exist in {}; run `drctl apply --env {}`",
            t.fence.alarm, t.fence.region, ctx.env
        ));
    }
    let records: Vec<RecordStatus> = match &weights {
        Ok(w) => t
            .records
            .iter()
            .zip(w)
            .map(|(r, w)| RecordStatus {
                role: r.role.as_str(),
                set_identifier: r.set_identifier.clone(),
                weight: *w,
            })
            .collect(),
        Err(e) => {
            reasons.push(format!("cannot read the Route 53 records: {e}"));
            Vec::new()
        }
    };
    let serving = if fence.fenced == Some(true) {
        // The secondary's record has no health check: it answers whatever
        // the weights (routing rules 1 and 2).
        Some(Role::Secondary)
    } else if let Ok([Some(p), Some(s)]) = weights {
        routing::serving(&[
            WeightedRecord {
                role: Role::Primary,
                weight: p,
                healthy: true,
            },
            WeightedRecord {
                role: Role::Secondary,
                weight: s,
                healthy: true,
            },
        ])
    } else {
        None
    };
    match serving {
        None if weights.is_ok() => reasons.push(format!(
            "Route 53 weights of {} are {}: not one region taking all traffic",
            t.record_name,
            weights_text(&records)
        )),
        Some(role) if role != ctx.active => reasons.push(format!(
            "traffic goes to {} but state records {} as active: {}",
            role.as_str(),
            ctx.active.as_str(),
            finishing_advice(role, ctx.active, ctx.env)
        )),
        _ => {}
    }
    Traffic {
        serving_role: serving.map(Role::as_str),
        serving_region: serving.map(|r| t.cluster(r).region.clone()),
        records,
        fence,
    }
}

/// `primary 100, secondary 0`.
pub fn weights_text(records: &[RecordStatus]) -> String {
    records
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.role,
                r.weight
                    .map_or_else(|| "(missing)".to_owned(), |w| w.to_string())
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The session table's part and its reasons.
pub fn session_table(
    t: &Targets,
    read: Result<Option<TableState>, String>,
    reasons: &mut Vec<String>,
) -> Option<SessionTable> {
    match read {
        Ok(None) => {
            reasons.push(format!("DynamoDB table {} does not exist", t.table));
            None
        }
        Ok(Some(table)) => {
            if table.status != "ACTIVE" {
                reasons.push(format!(
                    "DynamoDB table {} is {}, not ACTIVE",
                    t.table, table.status
                ));
            }
            let other = &t.cluster(Role::Secondary).region;
            if !table.replicas.iter().any(|(region, _)| region == other) {
                reasons.push(format!(
                    "DynamoDB table {} has no replica in {other}",
                    t.table
                ));
            }
            for (region, status) in &table.replicas {
                if status != "ACTIVE" {
                    reasons.push(format!(
                        "the DynamoDB replica of {} in {region} is {status}, not ACTIVE",
                        t.table
                    ));
                }
            }
            Some(SessionTable {
                table: t.table.clone(),
                region: t.table_region.clone(),
                status: Some(table.status),
                replicas: table
                    .replicas
                    .into_iter()
                    .map(|(region, status)| Replica { region, status })
                    .collect(),
            })
        }
        Err(e) => {
            reasons.push(format!("cannot read DynamoDB table {}: {e}", t.table));
            None
        }
    }
}

/// The fence alarm's state (`None`: no such alarm).
pub async fn fence_state(cloud: &dyn Cloud, t: &Targets) -> Result<Option<String>, String> {
    cloud
        .alarm_states(&t.fence.region, std::slice::from_ref(&t.fence.alarm))
        .await
        .map(|states| states.into_iter().next().map(|(_, state)| state))
        .map_err(|e| e.to_string())
}

/// The weights of the two records, from Route 53's API.
pub async fn weights(cloud: &dyn Cloud, t: &Targets) -> Result<[Option<i64>; 2], String> {
    let found = cloud
        .record_weights(&t.zone_id, &t.record_name, &t.record_type, &t.set_ids())
        .await
        .map_err(|e| e.to_string())?;
    let weight = |i: usize| found.get(i).copied().flatten();
    Ok([weight(0), weight(1)])
}

/// Reads every part of the DR status and the checks of a switch to
/// `ctx.to`. Every part is read at once: in an outage each read sent to
/// the failed region waits out its retries, and one after another those
/// waits would add up to minutes.
pub async fn read(cloud: &dyn Cloud, t: &Targets, ctx: &Context<'_>) -> Status {
    let target = t.cluster(ctx.to);
    let (weights, fence, (database, database_reasons), table, replication, lag, alarms, backups) = tokio::join!(
        weights(cloud, t),
        fence_state(cloud, t),
        read_database(cloud, t),
        cloud.session_table(&t.table_region, &t.table),
        read_replication(cloud, t),
        cloud.replication_lag_seconds(&target.region, &target.id),
        target_alarms(cloud, t, &target.region),
        read_backups(cloud, t),
    );
    let mut reasons = Vec::new();
    let traffic = traffic(t, ctx, weights, fence, &mut reasons);
    reasons.extend(database_reasons);
    if let (Some(db), Some(serving)) = (&database, traffic.serving_role)
        && let Some(writer) = db.writer_role
        && writer != serving
    {
        reasons.push(format!(
            "the Aurora writer is the {writer} cluster but traffic goes to {serving}"
        ));
    }
    let session_table = session_table(t, table.map_err(|e| e.to_string()), &mut reasons);
    let (s3_replication, replication_reasons) = replication;
    reasons.extend(replication_reasons);
    let lag = lag.map_err(|e| e.to_string());
    let checks = switch_checks(t, ctx, &reasons, session_table.as_ref(), lag, alarms);
    Status {
        env: ctx.env.to_owned(),
        ready: reasons.is_empty() && checks.iter().all(|c| c.ok),
        reasons,
        recorded_active_role: ctx.active.as_str(),
        traffic: Some(traffic),
        database,
        session_table,
        s3_replication,
        backups,
        checks,
    }
}

/// The states of the environment's alarms in `region` (the switch's
/// target region).
async fn target_alarms(
    cloud: &dyn Cloud,
    t: &Targets,
    region: &str,
) -> Result<Vec<(String, String)>, String> {
    let names: Vec<String> = t
        .alarms
        .iter()
        .filter(|(r, _)| r == region)
        .map(|(_, name)| name.clone())
        .collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    cloud
        .alarm_states(region, &names)
        .await
        .map_err(|e| e.to_string())
}

/// The rules of the checks of a switch to `ctx.to`, over what was read.
fn switch_checks(
    t: &Targets,
    ctx: &Context<'_>,
    reasons: &[String],
    table: Option<&SessionTable>,
    lag: Result<Option<f64>, String>,
    alarms: Result<Vec<(String, String)>, String>,
) -> Vec<Check> {
    let target = t.cluster(ctx.to);
    // The table's own region reports every replica's status; the copy in
    // that region is the table itself.
    let replica = match table {
        // Missing or unreadable: the readiness reasons say which.
        None => Err(format!(
            "not read in {}; see the readiness reasons",
            t.table_region
        )),
        Some(tb) if tb.region == target.region => Ok(tb.status.clone()),
        Some(tb) => Ok(tb
            .replicas
            .iter()
            .find(|r| r.region == target.region)
            .map(|r| r.status.clone())),
    };
    vec![
        checks::readiness(ctx.env, reasons),
        checks::lag(
            &target.id,
            &target.region,
            lag,
            ctx.max_replication_lag_seconds,
        ),
        checks::replica(ctx.env, &t.table, &target.region, replica),
        checks::alarms(&target.region, alarms),
    ]
}

/// The Aurora global database and its clusters, with the reasons they
/// give for not being ready.
async fn read_database(cloud: &dyn Cloud, t: &Targets) -> (Option<Database>, Vec<String>) {
    // Asked in the secondary region, which answers when the primary's
    // region is down (the case a failover is for). Each cluster is asked
    // in its own region, at the same time.
    let asked_in = &t.cluster(Role::Secondary).region;
    let statuses = join_all(
        t.clusters
            .iter()
            .map(|c| cloud.cluster_status(&c.region, &c.id)),
    );
    let (global, statuses) = tokio::join!(cloud.global_database(asked_in, &t.global_id), statuses);
    let mut reasons = Vec::new();
    let global = match global {
        Ok(Some(g)) => g,
        Ok(None) => {
            reasons.push(format!(
                "Aurora global cluster {} does not exist",
                t.global_id
            ));
            return (None, reasons);
        }
        Err(e) => {
            reasons.push(format!(
                "cannot read Aurora global cluster {}: {e}",
                t.global_id
            ));
            return (None, reasons);
        }
    };
    if global.status != "available" {
        reasons.push(format!(
            "Aurora global cluster {} is {}, not available",
            t.global_id, global.status
        ));
    }
    let failover_in_progress = global.failover.as_ref().map(|f| {
        reasons.push(format!(
            "a switchover or failover of {} is in progress ({})",
            t.global_id, f.status
        ));
        FailoverStatus {
            status: f.status.clone(),
            from_role: f
                .from_cluster_arn
                .as_deref()
                .and_then(|a| t.role_of_arn(a))
                .map(Role::as_str),
            to_role: f
                .to_cluster_arn
                .as_deref()
                .and_then(|a| t.role_of_arn(a))
                .map(Role::as_str),
            data_loss_allowed: f.data_loss_allowed,
        }
    });
    let writer = global.writer().and_then(|a| t.role_of_arn(a));
    if writer.is_none() {
        reasons.push(format!(
            "Aurora global cluster {} has no writer among the environment's clusters",
            t.global_id
        ));
    }
    let mut members = Vec::new();
    for (c, status) in t.clusters.iter().zip(statuses) {
        let member = global.members.iter().find(|m| m.cluster_arn == c.arn);
        if member.is_none() {
            reasons.push(format!(
                "cluster {} ({}) is not a member of {}",
                c.id,
                c.role.as_str(),
                t.global_id
            ));
        }
        let status = match status {
            Ok(Some(s)) => {
                if s != "available" {
                    reasons.push(format!("cluster {} ({}) is {s}", c.id, c.role.as_str()));
                }
                Some(s)
            }
            Ok(None) => {
                reasons.push(format!(
                    "cluster {} ({}) does not exist",
                    c.id,
                    c.role.as_str()
                ));
                None
            }
            Err(e) => {
                reasons.push(format!("cannot read cluster {}: {e}", c.id));
                None
            }
        };
        members.push(MemberStatus {
            role: c.role.as_str(),
            cluster: c.id.clone(),
            region: c.region.clone(),
            arn: c.arn.clone(),
            member: member.is_some(),
            writer: member.is_some_and(|m| m.is_writer),
            status,
        });
    }
    let database = Database {
        global_cluster: t.global_id.clone(),
        status: Some(global.status.clone()),
        writer_role: writer.map(Role::as_str),
        writer_region: writer.map(|r| t.cluster(r).region.clone()),
        failover_in_progress,
        members,
    };
    (Some(database), reasons)
}

/// The S3 replication rule and its destination's versioning, with the
/// reasons they give for not being ready; both read at once.
async fn read_replication(cloud: &dyn Cloud, t: &Targets) -> (Option<S3Replication>, Vec<String>) {
    let (rules, versioning) = tokio::join!(
        cloud.replication_rules(&t.source_region, &t.source_bucket),
        cloud.bucket_versioning(&t.destination_region, &t.destination_bucket),
    );
    let mut reasons = Vec::new();
    let rule_status = match rules {
        Ok(Some(rules)) => match rules.into_iter().find(|r| r.id == t.replication_rule) {
            Some(rule) => {
                if rule.status != "Enabled" {
                    reasons.push(format!(
                        "S3 replication rule {} of {} is {}",
                        t.replication_rule, t.source_bucket, rule.status
                    ));
                }
                Some(rule.status)
            }
            None => {
                reasons.push(format!(
                    "bucket {} has no replication rule {}",
                    t.source_bucket, t.replication_rule
                ));
                None
            }
        },
        Ok(None) => {
            reasons.push(format!(
                "bucket {} has no replication configuration",
                t.source_bucket
            ));
            None
        }
        Err(e) => {
            reasons.push(format!(
                "cannot read the replication of {}: {e}",
                t.source_bucket
            ));
            return (None, reasons);
        }
    };
    let destination_versioning = match versioning {
        Ok(Some(v)) => {
            if v != "Enabled" {
                reasons.push(format!(
                    "versioning of replication destination {} is not enabled",
                    t.destination_bucket
                ));
            }
            Some(v)
        }
        Ok(None) => {
            reasons.push(format!(
                "replication destination {} does not exist",
                t.destination_bucket
            ));
            None
        }
        Err(e) => {
            reasons.push(format!("cannot read {}: {e}", t.destination_bucket));
            None
        }
    };
    let replication = S3Replication {
        source_bucket: t.source_bucket.clone(),
        destination_bucket: t.destination_bucket.clone(),
        rule_id: t.replication_rule.clone(),
        rule_status,
        destination_versioning,
    };
    (Some(replication), reasons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::tests::applied;

    fn ctx(active: Role) -> Context<'static> {
        Context {
            env: "dev",
            active,
            to: active.other(),
            max_replication_lag_seconds: 60,
        }
    }

    fn read(
        active: Role,
        weights: Result<[Option<i64>; 2], String>,
        fence: Result<Option<String>, String>,
    ) -> (Traffic, Vec<String>) {
        let t = Targets::from_state(&applied()).unwrap();
        let mut reasons = Vec::new();
        let traffic = traffic(&t, &ctx(active), weights, fence, &mut reasons);
        (traffic, reasons)
    }

    #[test]
    fn the_weights_say_who_serves_when_the_primary_is_not_fenced() {
        let (t, reasons) = read(
            Role::Primary,
            Ok([Some(100), Some(0)]),
            Ok(Some("OK".into())),
        );
        assert_eq!(t.serving_role, Some("primary"));
        assert_eq!(t.fence.fenced, Some(false));
        assert!(reasons.is_empty(), "{reasons:?}");
        // A fence never published: INSUFFICIENT_DATA, not fenced.
        let (t, _) = read(
            Role::Primary,
            Ok([Some(100), Some(0)]),
            Ok(Some("INSUFFICIENT_DATA".into())),
        );
        assert_eq!(t.serving_role, Some("primary"));
    }

    #[test]
    fn a_fenced_primary_serves_nothing_even_when_route_53_cannot_be_asked() {
        let (t, reasons) = read(
            Role::Secondary,
            Err("connection refused".into()),
            Ok(Some("ALARM".into())),
        );
        assert_eq!(t.serving_role, Some("secondary"));
        assert_eq!(t.serving_region.as_deref(), Some("us-east-2"));
        assert!(t.records.is_empty());
        assert_eq!(
            reasons,
            ["cannot read the Route 53 records: connection refused"]
        );
    }

    #[test]
    fn traffic_elsewhere_than_the_recorded_role_names_the_command_that_finishes_it() {
        let (_, reasons) = read(
            Role::Primary,
            Ok([Some(100), Some(0)]),
            Ok(Some("ALARM".into())),
        );
        assert_eq!(
            reasons,
            [
                "traffic goes to secondary but state records primary as active: a failback was interrupted (finish it with `drctl failback --env dev`), or the failover automation moved it (record that with `drctl failover --env dev`, with `--unplanned` if it ran unplanned); the secondary region serves now"
            ]
        );
        let (_, reasons) = read(
            Role::Primary,
            Ok([Some(50), Some(50)]),
            Ok(Some("OK".into())),
        );
        assert_eq!(
            reasons,
            [
                "Route 53 weights of api.x are primary 50, secondary 50: not one region taking all traffic"
            ]
        );
    }

    #[test]
    fn a_missing_or_unreadable_fence_is_a_reason() {
        let (t, reasons) = read(Role::Primary, Ok([Some(100), Some(0)]), Ok(None));
        assert_eq!(t.fence.fenced, Some(false));
        assert_eq!(
            reasons,
            ["the fence alarm fence does not exist in us-east-2; run `drctl apply --env dev`"]
        );
        let (t, reasons) = read(
            Role::Primary,
            Ok([Some(100), Some(0)]),
            Err("denied".into()),
        );
        assert_eq!(t.fence.fenced, None);
        assert_eq!(
            reasons,
            ["cannot read the fence alarm fence (us-east-2): denied"]
        );
    }

    #[test]
    fn the_table_needs_an_active_replica_in_the_secondary_region() {
        let t = Targets::from_state(&applied()).unwrap();
        let mut reasons = Vec::new();
        let table = TableState {
            status: "ACTIVE".into(),
            replicas: vec![("us-east-2".into(), "CREATING".into())],
        };
        let part = session_table(&t, Ok(Some(table)), &mut reasons).unwrap();
        assert_eq!(part.replicas[0].status, "CREATING");
        assert_eq!(
            reasons,
            ["the DynamoDB replica of t in us-east-2 is CREATING, not ACTIVE"]
        );
        reasons.clear();
        let table = TableState {
            status: "UPDATING".into(),
            replicas: Vec::new(),
        };
        session_table(&t, Ok(Some(table)), &mut reasons);
        assert_eq!(
            reasons,
            [
                "DynamoDB table t is UPDATING, not ACTIVE",
                "DynamoDB table t has no replica in us-east-2"
            ]
        );
        reasons.clear();
        assert!(session_table(&t, Ok(None), &mut reasons).is_none());
        assert_eq!(reasons, ["DynamoDB table t does not exist"]);
    }

    fn job(at: &str, ms: i64, point: &str) -> CompletedJob {
        CompletedJob {
            completed_at: at.into(),
            completed_ms: ms,
            resource_arn: "arn:aws:rds:us-east-1:1:cluster:payment-dev-primary".into(),
            recovery_point_arn: point.into(),
        }
    }

    fn vault(role: Role, region: &str) -> crate::targets::VaultTarget {
        crate::targets::VaultTarget {
            role,
            region: region.into(),
            name: format!("payment-dev-{}-backup", role.as_str()),
            arn: format!(
                "arn:aws:backup:{region}:1:backup-vault:payment-dev-{}-backup",
                role.as_str()
            ),
        }
    }

    /// The latest completed job by its completion instant, not by the
    /// text (fractions of a second sort before `Z`) or the list's order.
    #[test]
    fn the_last_job_is_the_latest_completed() {
        let jobs = vec![
            job("2026-12-02T10:00:00.5Z", 1_796_205_600_500, "rp-b"),
            job("2026-12-02T11:00:00Z", 1_796_209_200_000, "rp-c"),
            job("2026-12-02T09:00:00Z", 1_796_202_000_000, "rp-a"),
        ];
        let last = latest(jobs).unwrap();
        assert_eq!(last.recovery_point_arn, "rp-c");
        assert_eq!(last.completed_at, "2026-12-02T11:00:00Z");
        assert_eq!(latest(Vec::new()), None);
    }

    /// None yet is `null`, a failed read is named, and a region without
    /// the other's vault has no copy destination.
    #[test]
    fn backup_status_says_none_yet_and_names_what_it_could_not_read() {
        let primary = vault(Role::Primary, "us-east-1");
        let secondary = vault(Role::Secondary, "us-east-2");
        let fresh = backup_status(
            &primary,
            Some(&secondary),
            Ok(Vec::new()),
            Some(Ok(Vec::new())),
        );
        assert_eq!(fresh.last_backup, None);
        assert_eq!(fresh.last_copy, None);
        assert_eq!(fresh.error, None);
        assert_eq!(
            fresh.copy_destination_vault.as_deref(),
            Some("payment-dev-secondary-backup")
        );
        let done = backup_status(
            &primary,
            Some(&secondary),
            Ok(vec![job("2026-12-02T11:00:00Z", 1, "rp-1")]),
            Some(Err("AccessDeniedException: no".into())),
        );
        assert_eq!(done.last_backup.unwrap().recovery_point_arn, "rp-1");
        assert_eq!(done.last_copy, None);
        assert!(
            done.error
                .unwrap()
                .contains("cannot list copy jobs: AccessDeniedException")
        );
        let alone = backup_status(&secondary, None, Ok(Vec::new()), None);
        assert_eq!(alone.copy_destination_vault, None);
        assert_eq!(alone.role, "secondary");
    }
}

/// Status and checks read through the port from a fake cloud.
#[cfg(test)]
mod with_a_fake_cloud {
    use super::*;
    use crate::checks::{ALARMS, LAG, READINESS};
    use crate::testing::{FakeCloud, PRIMARY_REGION, SECONDARY_REGION, World, targets};

    fn failing(s: &Status) -> Vec<&'static str> {
        s.checks.iter().filter(|c| !c.ok).map(|c| c.name).collect()
    }

    /// The primary serving, asked about a switch to the secondary.
    const AT_REST: Context<'static> = Context {
        env: "dev",
        active: Role::Primary,
        to: Role::Secondary,
        max_replication_lag_seconds: 60,
    };

    async fn status_of(t: &Targets, world: World) -> Status {
        read(&FakeCloud::new(world, Default::default()), t, &AT_REST).await
    }

    #[tokio::test]
    async fn a_healthy_environment_is_ready_with_every_check_passing() {
        let t = targets();
        let s = status_of(&t, World::healthy(&t)).await;
        assert!(s.ready, "{:?} {:?}", s.reasons, failing(&s));
        assert!(s.reasons.is_empty(), "{:?}", s.reasons);
        assert_eq!(failing(&s), Vec::<&str>::new());
        assert_eq!(s.checks.len(), 4);
        assert_eq!(s.serving(), Some(Role::Primary));
        let db = s.database.unwrap();
        assert_eq!(db.writer_role, Some("primary"));
        assert_eq!(db.writer_region.as_deref(), Some(PRIMARY_REGION));
        assert!(db.members.iter().all(|m| m.member));
        assert_eq!(
            s.s3_replication.unwrap().rule_status.as_deref(),
            Some("Enabled")
        );
    }

    #[tokio::test]
    async fn a_writer_in_the_other_region_than_the_traffic_is_not_ready() {
        let t = targets();
        let mut world = World::healthy(&t);
        world.set_writer(&t.cluster(Role::Secondary).arn);
        let s = status_of(&t, world).await;
        assert!(!s.ready);
        assert_eq!(
            s.reasons,
            ["the Aurora writer is the secondary cluster but traffic goes to primary"]
        );
        assert_eq!(
            s.database.as_ref().unwrap().writer_region.as_deref(),
            Some(SECONDARY_REGION)
        );
        // The reason is the readiness check's: a planned switch refuses.
        assert_eq!(failing(&s), [READINESS]);
    }

    #[tokio::test]
    async fn replication_lag_over_the_window_or_unmeasured_fails_its_check() {
        let t = targets();
        let mut world = World::healthy(&t);
        world.lag_seconds = Some(60.0);
        let s = status_of(&t, world.clone()).await;
        assert!(s.ready, "at the limit: {:?}", failing(&s));

        world.lag_seconds = Some(61.5);
        let s = status_of(&t, world.clone()).await;
        assert!(!s.ready);
        assert!(s.reasons.is_empty(), "{:?}", s.reasons);
        assert_eq!(failing(&s), [LAG]);
        let lag = s.checks.iter().find(|c| c.name == LAG).unwrap();
        assert_eq!(lag.value_text(), "61.5 s");
        assert!(lag.subject.contains(SECONDARY_REGION), "{}", lag.subject);

        world.lag_seconds = None;
        let s = status_of(&t, world).await;
        assert_eq!(failing(&s), [LAG]);
    }

    #[tokio::test]
    async fn an_alarm_in_alarm_in_the_target_region_fails_its_check() {
        let mut t = targets();
        t.alarms
            .push((SECONDARY_REGION.into(), "api-secondary-5xx".into()));
        let mut world = World::healthy(&t);
        // The primary's own alarm does not gate a switch away from it.
        world
            .alarms
            .insert((PRIMARY_REGION.into(), "api".into()), "ALARM".into());
        let s = status_of(&t, world.clone()).await;
        assert!(s.ready, "{:?}", failing(&s));

        world.alarms.insert(
            (SECONDARY_REGION.into(), "api-secondary-5xx".into()),
            "ALARM".into(),
        );
        let s = status_of(&t, world).await;
        assert!(!s.ready);
        assert!(s.reasons.is_empty(), "{:?}", s.reasons);
        assert_eq!(failing(&s), [ALARMS]);
        let alarms = s.checks.iter().find(|c| c.name == ALARMS).unwrap();
        assert_eq!(alarms.value_text(), "api-secondary-5xx");
    }

    #[tokio::test]
    async fn a_fenced_primary_sends_the_traffic_to_the_secondary() {
        let t = targets();
        let mut world = World::healthy(&t);
        world.alarms.insert(
            (t.fence.region.clone(), t.fence.alarm.clone()),
            "ALARM".into(),
        );
        let s = status_of(&t, world).await;
        assert_eq!(s.serving(), Some(Role::Secondary));
        assert_eq!(s.reasons.len(), 2, "{:?}", s.reasons);
        assert!(
            s.reasons[0].starts_with("traffic goes to secondary but state records primary"),
            "{:?}",
            s.reasons
        );
        assert_eq!(
            s.reasons[1],
            "the Aurora writer is the primary cluster but traffic goes to secondary"
        );
    }

    /// In an outage every read of the failed region waits out its
    /// retries: the status sends them all at once, so that the waits
    /// overlap instead of adding up.
    #[tokio::test]
    async fn every_part_is_read_at_once() {
        let t = targets();
        let cloud = FakeCloud::new(World::healthy(&t), Default::default());
        let primary = t.cluster(Role::Primary).region.clone();
        *cloud.slow.lock().unwrap() = Some((primary.clone(), std::time::Duration::from_millis(50)));
        let s = read(&cloud, &t, &AT_REST).await;
        assert!(s.ready, "{:?}", s.reasons);
        let asked = cloud
            .called
            .lock()
            .unwrap()
            .iter()
            .filter(|r| **r == primary)
            .count();
        assert!(asked >= 3, "{asked} reads in {primary}");
        // Every read of the primary's region was under way at once.
        assert_eq!(
            cloud.slow_peak.load(std::sync::atomic::Ordering::SeqCst),
            asked
        );
    }

    #[tokio::test]
    async fn an_unreadable_part_is_a_reason_not_an_error() {
        let t = targets();
        let cloud = FakeCloud::new(World::healthy(&t), Default::default());
        cloud.fail(Some("replication_rules"));
        let s = read(&cloud, &t, &AT_REST).await;
        assert!(!s.ready);
        assert_eq!(s.reasons.len(), 1, "{:?}", s.reasons);
        assert!(
            s.reasons[0].starts_with("cannot read the replication of src: replication_rules"),
            "{:?}",
            s.reasons
        );
        assert!(s.s3_replication.is_none());
        assert!(s.database.is_some());
    }
}
