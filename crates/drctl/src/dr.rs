//! DR operations: `status`, `failover`, `failback` and `drill`.
//!
//! A switch moves the Aurora global cluster's writer to the target role's
//! cluster, records the target as the active role in state, then gives the
//! target's Route 53 record weight 100 and the other 0. Each step first
//! reads AWS and skips what already holds, so a re-run of an interrupted
//! switch completes it. The order makes every crash point converge: until
//! the writer has moved, state still names the old role (a `plan` keeps
//! the traffic where it is); once state names the new role, a `plan` or a
//! re-run moves the traffic after it.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use drctl_aws::AwsContext;
use drctl_aws::dr::{self, WriterChange};
use drctl_blueprint::Role;
use drctl_core::{Address, State};
use serde::Serialize;
use tracing::Instrument;

use crate::cli::{DrillArgs, FailbackArgs, FailoverArgs, StatusArgs};
use crate::commands::confirm;
use crate::session::Session;
use drctl_checks::{self as checks, Check, Expected};

/// One regional Aurora cluster of the global database.
struct ClusterTarget {
    role: Role,
    region: String,
    id: String,
    arn: String,
}

/// One weighted record of the API name.
struct RecordTarget {
    role: Role,
    set_identifier: String,
}

/// What the DR operations act on, read from the environment's state.
struct Targets {
    zone_id: String,
    record_name: String,
    record_type: String,
    records: [RecordTarget; 2],
    global_id: String,
    clusters: [ClusterTarget; 2],
    table: String,
    table_region: String,
    source_bucket: String,
    source_region: String,
    replication_rule: String,
    destination_bucket: String,
    destination_region: String,
    /// The environment's CloudWatch alarms: (region, alarm name).
    alarms: Vec<(String, String)>,
}

impl Targets {
    /// The targets, or the addresses state lacks (the environment is not
    /// fully applied).
    fn from_state(state: &State) -> Result<Targets, Vec<String>> {
        let mut missing = Vec::new();
        let mut get = |address: &str| {
            let a: Address = address.parse().expect("valid address");
            let r = state.resources.get(&a);
            if r.is_none() {
                missing.push(address.to_owned());
            }
            r
        };
        let primary_record = get("global/route53.record/api-primary");
        let secondary_record = get("global/route53.record/api-secondary");
        let global = get("global/rds.global_cluster/payment");
        let primary_cluster = get("primary/rds.cluster/payment");
        let secondary_cluster = get("secondary/rds.cluster/payment");
        let table = get("global/dynamodb.table/session");
        let replication = get("global/s3.bucket_replication/data");
        let destination = get("secondary/s3.bucket/data");
        let (
            Some(primary_record),
            Some(secondary_record),
            Some(global),
            Some(primary_cluster),
            Some(secondary_cluster),
            Some(table),
            Some(replication),
            Some(destination),
        ) = (
            primary_record,
            secondary_record,
            global,
            primary_cluster,
            secondary_cluster,
            table,
            replication,
            destination,
        )
        else {
            return Err(missing);
        };
        let text = |attrs: &drctl_core::Attributes, key: &str| {
            attrs
                .get(key)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let record = |role, r: &drctl_core::ResourceState| RecordTarget {
            role,
            set_identifier: text(&r.inputs, "set_identifier"),
        };
        let cluster = |role, r: &drctl_core::ResourceState| ClusterTarget {
            role,
            region: r.region.clone(),
            id: r.id.clone(),
            arn: text(&r.outputs, "arn"),
        };
        Ok(Targets {
            zone_id: text(&primary_record.inputs, "zone_id"),
            record_name: text(&primary_record.inputs, "name"),
            record_type: text(&primary_record.inputs, "type"),
            records: [
                record(Role::Primary, primary_record),
                record(Role::Secondary, secondary_record),
            ],
            global_id: global.id.clone(),
            clusters: [
                cluster(Role::Primary, primary_cluster),
                cluster(Role::Secondary, secondary_cluster),
            ],
            table: table.id.clone(),
            table_region: table.region.clone(),
            source_bucket: text(&replication.inputs, "bucket"),
            source_region: replication.region.clone(),
            replication_rule: text(&replication.inputs, "rule_id"),
            destination_bucket: text(&destination.inputs, "bucket"),
            destination_region: destination.region.clone(),
            alarms: state
                .resources
                .iter()
                .filter(|(a, _)| a.kind() == "cloudwatch.alarm")
                .map(|(_, r)| (r.region.clone(), text(&r.inputs, "alarm_name")))
                .collect(),
        })
    }

    fn cluster(&self, role: Role) -> &ClusterTarget {
        &self.clusters[role as usize]
    }

    fn role_of_arn(&self, arn: &str) -> Option<Role> {
        self.clusters.iter().find(|c| c.arn == arn).map(|c| c.role)
    }

    fn set_ids(&self) -> [&str; 2] {
        [
            self.records[0].set_identifier.as_str(),
            self.records[1].set_identifier.as_str(),
        ]
    }
}

/// The state of an applied environment and its targets; fails (before any
/// API call) when there is no state or it lacks the DR resources.
fn load_targets(session: &Session) -> Result<(State, Targets)> {
    let (state, exists) = session.load_state()?;
    if !exists || state.resources.is_empty() {
        bail!(
            "`{}` has no resources in state {}: nothing to operate on; create the environment with `drctl apply --env {}`",
            session.env,
            session.backend.location(),
            session.env
        );
    }
    let targets = Targets::from_state(&state).map_err(|missing| {
        anyhow!(
            "`{}` is not fully applied: state {} lacks {}; run `drctl apply --env {}`",
            session.env,
            session.backend.location(),
            missing.join(", "),
            session.env
        )
    })?;
    Ok((state, targets))
}

// ---------------------------------------------------------------- status

#[derive(Serialize)]
struct RecordStatus {
    role: &'static str,
    set_identifier: String,
    weight: Option<i64>,
}

#[derive(Serialize)]
struct Traffic {
    serving_role: Option<&'static str>,
    serving_region: Option<String>,
    records: Vec<RecordStatus>,
}

#[derive(Serialize)]
struct MemberStatus {
    role: &'static str,
    cluster: String,
    region: String,
    arn: String,
    member: bool,
    writer: bool,
    status: Option<String>,
}

#[derive(Serialize)]
struct FailoverStatus {
    status: String,
    from_role: Option<&'static str>,
    to_role: Option<&'static str>,
    data_loss_allowed: bool,
}

#[derive(Serialize)]
struct Database {
    global_cluster: String,
    status: Option<String>,
    writer_role: Option<&'static str>,
    writer_region: Option<String>,
    failover_in_progress: Option<FailoverStatus>,
    members: Vec<MemberStatus>,
}

#[derive(Serialize)]
struct Replica {
    region: String,
    status: String,
}

#[derive(Serialize)]
struct SessionTable {
    table: String,
    region: String,
    status: Option<String>,
    replicas: Vec<Replica>,
}

#[derive(Serialize)]
struct S3Replication {
    source_bucket: String,
    destination_bucket: String,
    rule_id: String,
    rule_status: Option<String>,
    destination_versioning: Option<String>,
}

/// What `drctl status` reports (docs/json-output.md, "status").
#[derive(Serialize)]
struct Status {
    env: String,
    ready: bool,
    reasons: Vec<String>,
    recorded_active_role: &'static str,
    traffic: Option<Traffic>,
    database: Option<Database>,
    session_table: Option<SessionTable>,
    s3_replication: Option<S3Replication>,
    /// The checks of a planned switch to the other role, measured now.
    checks: Vec<Check>,
}

/// Reads every part of the DR status, and the checks of a switch to `to`;
/// a part that cannot be read becomes a reason (in an outage, the failed
/// region's part may not answer).
async fn read_status(session: &Session, state: &State, t: &Targets, to: Role) -> Result<Status> {
    let aws = session.aws().await;
    let active = session.active_role(state)?;
    let mut reasons = Vec::new();

    let traffic = match dr::record_weights(
        aws,
        &t.zone_id,
        &t.record_name,
        &t.record_type,
        &t.set_ids(),
    )
    .await
    {
        Ok(found) => {
            let records: Vec<RecordStatus> = t
                .records
                .iter()
                .zip(found)
                .map(|(r, f)| RecordStatus {
                    role: r.role.as_str(),
                    set_identifier: r.set_identifier.clone(),
                    weight: f.and_then(|f| f.weight),
                })
                .collect();
            let serving = serving_role(&records);
            match serving {
                None => reasons.push(format!(
                    "Route 53 weights of {} are {}: not one region taking all traffic",
                    t.record_name,
                    weights_text(&records)
                )),
                Some(role) if role != active => reasons.push(format!(
                    "traffic goes to {} but state records {} as active: a switch was interrupted; finish it with `drctl {} --env {}`",
                    role.as_str(),
                    active.as_str(),
                    if active == Role::Secondary { "failover" } else { "failback" },
                    session.env
                )),
                Some(_) => {}
            }
            Some(Traffic {
                serving_role: serving.map(Role::as_str),
                serving_region: serving.map(|r| t.cluster(r).region.clone()),
                records,
            })
        }
        Err(e) => {
            reasons.push(format!("cannot read the Route 53 records: {e}"));
            None
        }
    };

    let database = read_database(aws, t, &mut reasons).await;
    if let (Some(db), Some(tr)) = (&database, &traffic)
        && let (Some(writer), Some(serving)) = (db.writer_role, tr.serving_role)
        && writer != serving
    {
        reasons.push(format!(
            "the Aurora writer is the {writer} cluster but traffic goes to {serving}"
        ));
    }

    let session_table = match dr::table(aws, &t.table_region, &t.table).await {
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
    };

    let s3_replication = read_replication(aws, t, &mut reasons).await;
    let checks = read_checks(session, t, to, &reasons, session_table.as_ref()).await;

    Ok(Status {
        env: session.env.clone(),
        ready: reasons.is_empty() && checks.iter().all(|c| c.ok),
        reasons,
        recorded_active_role: active.as_str(),
        traffic,
        database,
        session_table,
        s3_replication,
        checks,
    })
}

/// Measures what the checks of a switch to `to` need (reads only) and
/// applies their rules.
async fn read_checks(
    session: &Session,
    t: &Targets,
    to: Role,
    reasons: &[String],
    table: Option<&SessionTable>,
) -> Vec<Check> {
    let aws = session.aws().await;
    let target = t.cluster(to);
    let lag = dr::rpo_lag_seconds(aws, &target.region, &target.id)
        .await
        .map_err(|e| e.to_string());
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
    let names: Vec<String> = t
        .alarms
        .iter()
        .filter(|(region, _)| *region == target.region)
        .map(|(_, name)| name.clone())
        .collect();
    let alarms = if names.is_empty() {
        Ok(Vec::new())
    } else {
        dr::alarm_states(aws, &target.region, &names)
            .await
            .map_err(|e| e.to_string())
    };
    vec![
        checks::readiness(&session.env, reasons),
        checks::lag(
            &target.id,
            &target.region,
            lag,
            session.settings.max_replication_lag_seconds,
        ),
        checks::replica(&session.env, &t.table, &target.region, replica),
        checks::alarms(&target.region, alarms),
    ]
}

fn serving_role(records: &[RecordStatus]) -> Option<Role> {
    match (records[0].weight, records[1].weight) {
        (Some(p), Some(0)) if p > 0 => Some(Role::Primary),
        (Some(0), Some(s)) if s > 0 => Some(Role::Secondary),
        _ => None,
    }
}

fn weights_text(records: &[RecordStatus]) -> String {
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

async fn read_database(
    aws: &AwsContext,
    t: &Targets,
    reasons: &mut Vec<String>,
) -> Option<Database> {
    // Asked in the secondary region, which answers when the primary's
    // region is down (the case a failover is for).
    let asked_in = &t.cluster(Role::Secondary).region;
    let global = match dr::global_cluster(aws, asked_in, &t.global_id).await {
        Ok(Some(g)) => g,
        Ok(None) => {
            reasons.push(format!(
                "Aurora global cluster {} does not exist",
                t.global_id
            ));
            return None;
        }
        Err(e) => {
            reasons.push(format!(
                "cannot read Aurora global cluster {}: {e}",
                t.global_id
            ));
            return None;
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
    for c in &t.clusters {
        let member = global.members.iter().find(|m| m.cluster_arn == c.arn);
        if member.is_none() {
            reasons.push(format!(
                "cluster {} ({}) is not a member of {}",
                c.id,
                c.role.as_str(),
                t.global_id
            ));
        }
        let status = match dr::cluster_status(aws, &c.region, &c.id).await {
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
    Some(Database {
        global_cluster: t.global_id.clone(),
        status: Some(global.status.clone()),
        writer_role: writer.map(Role::as_str),
        writer_region: writer.map(|r| t.cluster(r).region.clone()),
        failover_in_progress,
        members,
    })
}

async fn read_replication(
    aws: &AwsContext,
    t: &Targets,
    reasons: &mut Vec<String>,
) -> Option<S3Replication> {
    let rule_status = match dr::replication_rules(aws, &t.source_region, &t.source_bucket).await {
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
            return None;
        }
    };
    let destination_versioning =
        match dr::bucket_versioning(aws, &t.destination_region, &t.destination_bucket).await {
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
    Some(S3Replication {
        source_bucket: t.source_bucket.clone(),
        destination_bucket: t.destination_bucket.clone(),
        rule_id: t.replication_rule.clone(),
        rule_status,
        destination_versioning,
    })
}

fn or_unknown(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("unknown")
}

fn render_status(s: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Environment `{}`", s.env);
    let _ = writeln!(out, "  Recorded active role: {}", s.recorded_active_role);
    match &s.traffic {
        Some(t) => {
            let serving = match (t.serving_role, &t.serving_region) {
                (Some(role), Some(region)) => format!("{role} ({region})"),
                _ => "no single region".to_owned(),
            };
            let _ = writeln!(
                out,
                "  Traffic:        {serving} serves; weights {}",
                weights_text(&t.records)
            );
        }
        None => out.push_str("  Traffic:        unknown\n"),
    }
    match &s.database {
        Some(d) => {
            let writer = match (d.writer_role, &d.writer_region) {
                (Some(role), Some(region)) => format!("{role} ({region})"),
                _ => "none".to_owned(),
            };
            let _ = writeln!(
                out,
                "  Aurora global:  {} {}; writer {writer}",
                d.global_cluster,
                or_unknown(&d.status)
            );
            if let Some(f) = &d.failover_in_progress {
                let _ = writeln!(
                    out,
                    "                  {} in progress: {} -> {}{}",
                    f.status,
                    f.from_role.unwrap_or("?"),
                    f.to_role.unwrap_or("?"),
                    if f.data_loss_allowed {
                        " (data loss allowed)"
                    } else {
                        ""
                    }
                );
            }
            for m in &d.members {
                let part = match (m.member, m.writer) {
                    (false, _) => "not a member",
                    (true, true) => "writer",
                    (true, false) => "reader",
                };
                let _ = writeln!(
                    out,
                    "    {:<9} {} ({}): {part}, {}",
                    m.role,
                    m.cluster,
                    m.region,
                    or_unknown(&m.status)
                );
            }
        }
        None => out.push_str("  Aurora global:  unknown\n"),
    }
    match &s.session_table {
        Some(t) => {
            let replicas: Vec<String> = t
                .replicas
                .iter()
                .map(|r| format!("replica {} {}", r.region, r.status))
                .collect();
            let _ = writeln!(
                out,
                "  DynamoDB:       {} ({}) {}; {}",
                t.table,
                t.region,
                or_unknown(&t.status),
                if replicas.is_empty() {
                    "no replica".to_owned()
                } else {
                    replicas.join(", ")
                }
            );
        }
        None => out.push_str("  DynamoDB:       unknown\n"),
    }
    match &s.s3_replication {
        Some(r) => {
            let _ = writeln!(
                out,
                "  S3 replication: {} -> {}: rule {} {}; destination versioning {}",
                r.source_bucket,
                r.destination_bucket,
                r.rule_id,
                or_unknown(&r.rule_status),
                r.destination_versioning
                    .as_deref()
                    .filter(|v| !v.is_empty())
                    .unwrap_or("off")
            );
        }
        None => out.push_str("  S3 replication: unknown\n"),
    }
    if !s.checks.is_empty() {
        out.push_str("\nChecks of a planned switch to the other region:\n");
        render_checks(&mut out, &s.checks, true, &[]);
    }
    if s.ready {
        let _ = writeln!(
            out,
            "\nReady: a switch to the {} region can start.",
            Role::parse(s.recorded_active_role).map_or("other", |r| r.other().as_str())
        );
    } else if !s.reasons.is_empty() {
        out.push_str("\nNot ready to fail over:\n");
        for r in &s.reasons {
            let _ = writeln!(out, "  - {r}");
        }
    } else {
        out.push_str("\nNot ready to fail over: a check above fails.\n");
    }
    out
}

/// One line per check: ok/FAIL, name, value against threshold, and the
/// remedy of a failed one.
fn render_checks(out: &mut String, checks: &[Check], planned: bool, skip: &[String]) {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in checks {
        let _ = writeln!(
            out,
            "  {:<4}  {:<width$}  {} (expected: {}){}",
            if c.ok { "ok" } else { "FAIL" },
            c.name,
            c.value_text(),
            c.threshold_text(),
            checks::gate(c, planned, skip).label()
        );
        let _ = writeln!(out, "        {:<width$}  {}", "", c.subject);
        if let Some(r) = &c.remedy {
            let _ = writeln!(out, "        {:<width$}  to clear: {r}", "");
        }
    }
}

pub async fn status_cmd(session: &Session, args: StatusArgs) -> Result<ExitCode> {
    let (state, _) = session.load_state()?;
    let status = match Targets::from_state(&state) {
        Ok(targets) => {
            let to = session.active_role(&state)?.other();
            read_status(session, &state, &targets, to).await?
        }
        Err(missing) => Status {
            env: session.env.clone(),
            ready: false,
            reasons: vec![if state.resources.is_empty() {
                format!(
                    "`{}` is not applied (no resources in state); run `drctl apply --env {}`",
                    session.env, session.env
                )
            } else {
                format!(
                    "`{}` is not fully applied (state lacks {}); run `drctl apply --env {}`",
                    session.env,
                    missing.join(", "),
                    session.env
                )
            }],
            recorded_active_role: session.active_role(&state)?.as_str(),
            traffic: None,
            database: None,
            session_table: None,
            s3_replication: None,
            checks: Vec::new(),
        },
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", render_status(&status));
    }
    Ok(if status.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

// ------------------------------------------------------------ switching

/// How long one step of a switch took.
#[derive(Clone, Serialize)]
struct StepTiming {
    phase: &'static str,
    step: String,
    skipped: bool,
    seconds: f64,
}

/// What a switch finds in AWS before it starts.
struct Observed {
    writer: Option<Role>,
    /// The switch AWS is already making towards this role.
    switching_to: Option<Role>,
    weights: [Option<i64>; 2],
}

async fn observe(session: &Session, t: &Targets, to: Role) -> Result<Observed> {
    let aws = session.aws().await;
    let region = &t.cluster(to).region;
    let global = dr::global_cluster(aws, region, &t.global_id)
        .await?
        .ok_or_else(|| {
            anyhow!(
                "Aurora global cluster {} does not exist; `drctl plan --env ENV --refresh` shows what is missing",
                t.global_id
            )
        })?;
    // Route 53's control plane may not answer in an outage of its region;
    // the database can still move, and the weights step retries the read.
    let weights = match dr::record_weights(
        aws,
        &t.zone_id,
        &t.record_name,
        &t.record_type,
        &t.set_ids(),
    )
    .await
    {
        Ok(w) => w,
        Err(e) => {
            session.note(&format!(
                "Cannot read the Route 53 weights now ({e}); the weights step will try again."
            ));
            vec![None, None]
        }
    };
    Ok(Observed {
        writer: global.writer().and_then(|a| t.role_of_arn(a)),
        switching_to: global
            .failover
            .as_ref()
            .and_then(|f| f.to_cluster_arn.as_deref())
            .and_then(|a| t.role_of_arn(a)),
        weights: [
            weights[0].as_ref().and_then(|w| w.weight),
            weights[1].as_ref().and_then(|w| w.weight),
        ],
    })
}

fn target_weights(to: Role) -> [i64; 2] {
    match to {
        Role::Primary => [100, 0],
        Role::Secondary => [0, 100],
    }
}

/// What a switch does: which verb, towards which role, how.
struct Switch {
    phase: &'static str,
    to: Role,
    how: WriterChange,
}

impl Switch {
    /// "over" (to the secondary) or "back" (to the primary).
    fn direction(&self) -> &'static str {
        match self.to {
            Role::Secondary => "over",
            Role::Primary => "back",
        }
    }
}

/// One step of a switch, as the switch runs it and `--plan` shows it.
struct SwitchStep {
    text: String,
    /// Its name in a drill's timings.
    label: String,
    done: bool,
    expected: Expected,
}

/// The steps of a switch given what AWS and state hold now.
fn switch_steps(t: &Targets, sw: &Switch, seen: &Observed, recorded_done: bool) -> [SwitchStep; 3] {
    let target = t.cluster(sw.to);
    let writer_step = match (sw.how, seen.switching_to == Some(sw.to)) {
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
    let [p, s] = target_weights(sw.to);
    let to = sw.to.as_str();
    [
        SwitchStep {
            text: writer_step,
            label: format!("Aurora writer to {to}"),
            done: seen.writer == Some(sw.to),
            expected: match sw.how {
                WriterChange::Switchover => checks::SWITCHOVER_TIME,
                WriterChange::FailoverAllowingDataLoss => checks::FAILOVER_TIME,
            },
        },
        SwitchStep {
            text: format!("Record {to} as the active role in state"),
            label: format!("record {to} as active"),
            done: recorded_done,
            expected: checks::RECORD_TIME,
        },
        SwitchStep {
            text: format!(
                "Set the Route 53 weights of {}: primary {p}, secondary {s}",
                t.record_name
            ),
            label: format!("Route 53 traffic to {to}"),
            done: seen.weights == target_weights(sw.to).map(Some),
            expected: checks::WEIGHTS_TIME,
        },
    ]
}

/// Runs a switch (the caller holds the lock). `None`: cancelled at the
/// prompt. Each step prints a progress line with its elapsed time.
async fn switch(
    session: &Session,
    state: &mut State,
    t: &Targets,
    sw: &Switch,
    ask: Option<bool>,
) -> Result<Option<Vec<StepTiming>>> {
    let aws = session.aws().await;
    let target = t.cluster(sw.to);
    let seen = observe(session, t, sw.to).await?;
    let recorded_done = session.active_role(state)? == sw.to;
    let steps = switch_steps(t, sw, &seen, recorded_done);
    if steps.iter().all(|s| s.done) {
        session.note(&format!(
            "Nothing to do: the {} cluster {} ({}) is the writer, state records {} as active and it takes all traffic.",
            sw.to.as_str(),
            target.id,
            target.region,
            sw.to.as_str()
        ));
        // A run killed after Route 53 took the change but before state
        // recorded it leaves the records' weights behind in state.
        record_weights_in_state(session, state, sw.to)?;
        return Ok(Some(Vec::new()));
    }
    if let Some(auto_approve) = ask {
        session.note(&format!(
            "drctl will fail `{}` {}:",
            session.env,
            sw.direction()
        ));
        for (i, step) in steps.iter().enumerate() {
            let mark = if step.done { " (already done)" } else { "" };
            session.note(&format!("  {}. {}{mark}", i + 1, step.text));
        }
        if !confirm(
            &format!("fail `{}` {}", session.env, sw.direction()),
            auto_approve,
        )? {
            return Ok(None);
        }
        session.note("");
    } else {
        session.note(&format!("{}:", capitalised(sw.phase)));
    }
    let mut timings = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let (text, done) = (&step.text, step.done);
        let started = Instant::now();
        let prefix = format!("[{}/{}]", i + 1, steps.len());
        if done {
            session.note(&format!("{prefix} {text}: already done"));
        } else {
            session.note(&format!("{prefix} {text}..."));
            let span = tracing::info_span!("dr_step", phase = sw.phase, step = i + 1);
            async {
                match i {
                    0 => {
                        if seen.switching_to != Some(sw.to) {
                            dr::change_writer(aws, &target.region, &t.global_id, &target.arn, sw.how)
                                .await?;
                        }
                        dr::wait_writer(aws, &target.region, &t.global_id, &target.arn).await?;
                    }
                    1 => {
                        state.active_role = Some(sw.to.as_str().to_owned());
                        session.save_state(state)?;
                    }
                    _ => {
                        let weights = target_weights(sw.to);
                        let ids = t.set_ids();
                        dr::set_weights(
                            aws,
                            &t.zone_id,
                            &t.record_name,
                            &t.record_type,
                            &[(ids[0], weights[0]), (ids[1], weights[1])],
                        )
                        .await?;
                    }
                }
                anyhow::Ok(())
            }
            .instrument(span)
            .await
            .with_context(|| {
                format!(
                    "{} of `{}` stopped at step {}; once the cause is fixed, run the same command again: it resumes where it stopped",
                    sw.phase,
                    session.env,
                    i + 1
                )
            })?;
            session.note(&format!("{prefix} done in {}", seconds(started.elapsed())));
        }
        timings.push(StepTiming {
            phase: sw.phase,
            step: step.label.clone(),
            skipped: done,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    record_weights_in_state(session, state, sw.to)?;
    Ok(Some(timings))
}

/// Writes the weights a switch set into the records' inputs in state, as
/// if an apply had set them: a plan without --refresh then compares with
/// what Route 53 holds.
fn record_weights_in_state(session: &Session, state: &mut State, to: Role) -> Result<()> {
    let mut changed = false;
    for (name, weight) in ["api-primary", "api-secondary"]
        .into_iter()
        .zip(target_weights(to))
    {
        let address: Address = format!("global/route53.record/{name}")
            .parse()
            .expect("valid address");
        if let Some(r) = state.resources.get_mut(&address)
            && r.inputs.get("weight") != Some(&serde_json::Value::from(weight))
        {
            r.inputs.insert("weight".into(), weight.into());
            changed = true;
        }
    }
    if changed {
        session.save_state(state)?;
    }
    Ok(())
}

/// A duration as an operator reads it: 0.42s, 37s, 4m 05s.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.2}s")
    } else if s < 60.0 {
        format!("{s:.0}s")
    } else {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// Takes the lock and loads state for an operation that switches roles;
/// with `verify_account`, asks STS whether the credentials are for the
/// account state records.
async fn prepare(
    session: &Session,
    operation: &str,
    verify_account: bool,
) -> Result<(Box<dyn drctl_core::backend::HeldLock>, State, Targets)> {
    // Checked before locking, so that an environment without state gets
    // no lock file.
    load_targets(session)?;
    let lock = session.lock(operation)?;
    // Loaded again under the lock: another run may have just written it.
    let (mut state, targets) = load_targets(session)?;
    session.recover(&mut state).await?;
    session.resolve_account(&mut state, verify_account).await?;
    Ok((lock, state, targets))
}

/// Why a planned switch refuses: the failed gating checks, the readiness
/// check as its reasons, each naming the check and how to clear it.
fn refusal_lines(status: &Status, refused: &[&Check]) -> Vec<String> {
    let mut lines = Vec::new();
    for c in refused {
        if c.name == checks::READINESS {
            lines.extend(
                status
                    .reasons
                    .iter()
                    .map(|r| format!("check `{}`: {r}", c.name)),
            );
        } else {
            lines.push(format!(
                "check `{}`: {} is {} (expected: {}); to clear: {}",
                c.name,
                c.subject,
                c.value_text(),
                c.threshold_text(),
                c.remedy.as_deref().unwrap_or_default()
            ));
        }
    }
    lines
}

/// Refuses to start a planned switch while a check fails that `skip`
/// does not name, unless the switch already began (state or AWS is part
/// way to the target): then the run completes it.
async fn preflight(
    session: &Session,
    state: &State,
    t: &Targets,
    sw: &Switch,
    skip: &[String],
) -> Result<()> {
    let status = read_status(session, state, t, sw.to).await?;
    let to = Some(sw.to.as_str());
    let begun = session.active_role(state)? == sw.to
        || status.database.as_ref().is_some_and(|d| {
            d.writer_role == to
                || d.failover_in_progress
                    .as_ref()
                    .is_some_and(|f| f.to_role == to)
        });
    let refused = checks::refusals(&status.checks, true, skip);
    if refused.is_empty() || begun {
        return Ok(());
    }
    let unplanned = if sw.to == Role::Secondary {
        "; if the primary region is down, `drctl failover --unplanned` fails over allowing data loss"
    } else {
        ""
    };
    bail!(
        "`{}` is not ready for a planned {}; nothing was changed:\n  - {}\nFix these first (`drctl status --env {}` shows them){unplanned}",
        session.env,
        sw.phase,
        refusal_lines(&status, &refused).join("\n  - "),
        session.env
    )
}

/// `--plan`: the checks measured now and the steps each switch would run,
/// with their typical durations; reads only (no lock, no state write).
/// Exit 1 when a check would refuse.
async fn plan_cmd(session: &Session, switches: &[Switch], skip: &[String]) -> Result<ExitCode> {
    let (state, t) = load_targets(session)?;
    let active = session.active_role(&state)?;
    let mut out = String::new();
    let mut refused_names = Vec::new();
    let mut sources: Vec<Expected> = vec![checks::CHECKS_TIME];
    for (n, sw) in switches.iter().enumerate() {
        let planned = sw.how == WriterChange::Switchover;
        let target = t.cluster(sw.to);
        let kind = if planned { "planned" } else { "unplanned" };
        let _ = writeln!(
            out,
            "{} {} of `{}` to the {} region ({}):",
            capitalised(kind),
            sw.phase,
            session.env,
            sw.to.as_str(),
            target.region
        );
        let (seen, recorded_done) = if n == 0 {
            (observe(session, &t, sw.to).await?, active == sw.to)
        } else {
            // A drill's failback starts where its failover ended.
            let from = sw.to.other();
            let weights = target_weights(from).map(Some);
            let seen = Observed {
                writer: Some(from),
                switching_to: None,
                weights,
            };
            (seen, false)
        };
        if n == 0 {
            let status = read_status(session, &state, &t, sw.to).await?;
            out.push_str("  Checks, measured now");
            out.push_str(if planned {
                " (each gates step 1):\n"
            } else {
                " (shown; an unplanned failover runs whatever they say):\n"
            });
            render_checks(&mut out, &status.checks, planned, skip);
            refused_names.extend(
                checks::refusals(&status.checks, planned, skip)
                    .iter()
                    .map(|c| c.name),
            );
        } else {
            out.push_str("  Checks: none gate it; the drill runs it right after the failover\n");
        }
        let steps = switch_steps(&t, sw, &seen, recorded_done);
        out.push_str("  Steps:\n");
        for (i, step) in steps.iter().enumerate() {
            let mark = if step.done { " (already done)" } else { "" };
            let _ = writeln!(
                out,
                "    {}. {}{mark}\n       expected: {}",
                i + 1,
                step.text,
                step.expected.duration
            );
            if !sources.contains(&step.expected) {
                sources.push(step.expected);
            }
        }
        out.push('\n');
    }
    out.push_str("Typical durations on AWS:\n");
    for e in &sources {
        let _ = writeln!(out, "  {}: {}", e.duration, e.source);
    }
    let what = switches
        .iter()
        .map(|s| s.phase)
        .collect::<Vec<_>>()
        .join(" and ");
    if refused_names.is_empty() {
        let _ = writeln!(out, "\nNothing was changed. The {what} would start now.");
    } else {
        let _ = writeln!(
            out,
            "\nNothing was changed. The {what} would refuse now: check{} {} fail{} (see \"to clear\" above).",
            if refused_names.len() == 1 { "" } else { "s" },
            refused_names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if refused_names.len() == 1 { "s" } else { "" }
        );
    }
    print!("{out}");
    Ok(if refused_names.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn switch_cmd(
    session: &Session,
    sw: Switch,
    auto_approve: bool,
    skip: &[String],
) -> Result<ExitCode> {
    // drctl calls STS in us-east-1, which the outage an unplanned failover
    // is for may take down: that one trusts the account state records.
    let verify_account = sw.how == WriterChange::Switchover;
    let (_lock, mut state, targets) = prepare(session, sw.phase, verify_account).await?;
    if sw.how == WriterChange::Switchover {
        preflight(session, &state, &targets, &sw, skip).await?;
    }
    let started = Instant::now();
    match switch(session, &mut state, &targets, &sw, Some(auto_approve)).await? {
        None => {
            println!("{} cancelled.", capitalised(sw.phase));
            Ok(ExitCode::FAILURE)
        }
        Some(steps) if steps.is_empty() => Ok(ExitCode::SUCCESS),
        Some(_) => {
            println!(
                "\n{} of `{}` complete in {}: the {} region ({}) serves traffic and holds the Aurora writer.",
                capitalised(sw.phase),
                session.env,
                seconds(started.elapsed()),
                sw.to.as_str(),
                targets.cluster(sw.to).region
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

pub async fn failover_cmd(session: &Session, args: FailoverArgs) -> Result<ExitCode> {
    let how = if args.unplanned {
        WriterChange::FailoverAllowingDataLoss
    } else {
        WriterChange::Switchover
    };
    let sw = Switch {
        phase: "failover",
        to: Role::Secondary,
        how,
    };
    if args.checks.plan {
        return plan_cmd(session, &[sw], &args.checks.skip_check).await;
    }
    switch_cmd(session, sw, args.auto_approve, &args.checks.skip_check).await
}

pub async fn failback_cmd(session: &Session, args: FailbackArgs) -> Result<ExitCode> {
    let sw = Switch {
        phase: "failback",
        to: Role::Primary,
        how: WriterChange::Switchover,
    };
    if args.checks.plan {
        return plan_cmd(session, &[sw], &args.checks.skip_check).await;
    }
    switch_cmd(session, sw, args.auto_approve, &args.checks.skip_check).await
}

// ---------------------------------------------------------------- drill

/// Whether `env` must never be drilled: named `prod` or `production` (or
/// starting with `prod-` / `production-`), or marked `production = true`.
fn looks_like_production(env: &str, marked: bool) -> bool {
    marked
        || matches!(env, "prod" | "production")
        || env.starts_with("prod-")
        || env.starts_with("production-")
}

#[derive(Serialize)]
struct DrillReport {
    env: String,
    steps: Vec<StepTiming>,
    /// Failover start to traffic on the secondary: the recovery time.
    failover_seconds: f64,
    failback_seconds: f64,
    total_seconds: f64,
}

pub async fn drill_cmd(session: &Session, args: DrillArgs) -> Result<ExitCode> {
    if looks_like_production(&session.env, session.settings.production) {
        bail!(
            "`{}` looks like a production environment (its name, or `production = true` in drctl.toml): drills fail over real traffic, so drctl refuses; drill a staging environment instead",
            session.env
        );
    }
    let switches = [
        Switch {
            phase: "failover",
            to: Role::Secondary,
            how: WriterChange::Switchover,
        },
        Switch {
            phase: "failback",
            to: Role::Primary,
            how: WriterChange::Switchover,
        },
    ];
    if args.checks.plan {
        return plan_cmd(session, &switches, &args.checks.skip_check).await;
    }
    if args.json {
        session.notes_to_stderr();
    }
    let (_lock, mut state, targets) = prepare(session, "drill", true).await?;
    let status = read_status(session, &state, &targets, Role::Secondary).await?;
    let serving = status.traffic.as_ref().and_then(|t| t.serving_role);
    let refused = checks::refusals(&status.checks, true, &args.checks.skip_check);
    if !refused.is_empty() || serving != Some("primary") {
        let mut reasons = refusal_lines(&status, &refused);
        if serving != Some("primary") {
            reasons.push(
                "a drill starts with the primary region serving; run `drctl failback` first".into(),
            );
        }
        bail!(
            "`{}` is not ready for a drill:\n  - {}",
            session.env,
            reasons.join("\n  - ")
        );
    }
    session.note(&format!(
        "Drill of `{}`: a planned failover to {} ({}), then a failback to {} ({}).",
        session.env,
        targets.cluster(Role::Secondary).id,
        targets.cluster(Role::Secondary).region,
        targets.cluster(Role::Primary).id,
        targets.cluster(Role::Primary).region
    ));
    if !confirm(
        &format!("fail `{}` over and back", session.env),
        args.auto_approve,
    )? {
        println!("Drill cancelled.");
        return Ok(ExitCode::FAILURE);
    }
    let started = Instant::now();
    let mut steps = Vec::new();
    let mut phase_seconds = Vec::new();
    for sw in &switches {
        let phase_start = Instant::now();
        let done = switch(session, &mut state, &targets, sw, None)
            .await?
            .expect("no prompt, no cancel");
        phase_seconds.push(phase_start.elapsed().as_secs_f64());
        steps.extend(done);
    }
    let report = DrillReport {
        env: session.env.clone(),
        steps,
        failover_seconds: phase_seconds[0],
        failback_seconds: phase_seconds[1],
        total_seconds: started.elapsed().as_secs_f64(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_drill(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn render_drill(r: &DrillReport) -> String {
    let secs = |s: f64| seconds(Duration::from_secs_f64(s));
    let width = r
        .steps
        .iter()
        .map(|s| s.phase.len() + 2 + s.step.len())
        .chain([22])
        .max()
        .unwrap_or(22);
    let mut out = format!("\nDrill of `{}` complete.\n\n", r.env);
    let _ = writeln!(out, "{:<width$}  {:>9}", "Step", "Duration");
    for s in &r.steps {
        let _ = writeln!(
            out,
            "{:<width$}  {:>9}",
            format!("{}: {}", s.phase, s.step),
            if s.skipped {
                "skipped".to_owned()
            } else {
                secs(s.seconds)
            }
        );
    }
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}",
        "Failover (RTO)",
        secs(r.failover_seconds)
    );
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}",
        "Failback",
        secs(r.failback_seconds)
    );
    let _ = writeln!(out, "{:<width$}  {:>9}", "Total", secs(r.total_seconds));
    out
}
