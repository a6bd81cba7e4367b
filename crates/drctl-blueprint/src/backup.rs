//! One region's AWS Backup: a vault encrypted with the region's customer
//! key, a plan whose rule backs up into it on the environment's schedule
//! (daily by default) and copies each recovery point to the other
//! region's vault, the selection of the region's Aurora cluster and
//! DynamoDB table (the global table's replica in the secondary), the role
//! AWS Backup assumes for them, and EventBridge rules sending the jobs'
//! failures, and only those, to the region's alarm topic. Only with the
//! databases and functions: without them there is nothing to back up.
//!
//! Each region backs up its own copy of the data and copies it to the
//! other: after a failover the backups keep going where the traffic went
//! and still land in the other region.
//!
//! Point-in-time recovery in the region is not AWS Backup's: Aurora's own
//! automated backups are continuous for the cluster's
//! `backup_retention_period` (data.rs), and DynamoDB's point-in-time
//! recovery is on for the table and its replica (global.rs). AWS Backup
//! adds what those lack, restore points kept in a vault and copies in the
//! other region. How many Aurora snapshots that keeps in each region, and
//! why drctl.toml is refused beyond 100: docs/resources.md, "AWS Backup".

use drctl_core::{Address, ResourceSpec, Value};
use serde_json::json;

use crate::data::Data;
use crate::values::{Source, concat, map, r as reference, trust};
use crate::{Region, targets};

/// The plan's one rule.
const RULE: &str = "scheduled";
/// A scheduled job not started within an hour expires (EXPIRED, which
/// `backup-failed` mails), and one not done two hours after its scheduled
/// time is cancelled. A copy job has no window: it follows its backup.
const START_WINDOW_MINUTES: i64 = 60;
const COMPLETION_WINDOW_MINUTES: i64 = 120;
/// What AWS Backup needs to back up and restore Aurora and DynamoDB (AWS
/// Backup Developer Guide, "Managed policies for AWS Backup").
const SERVICE_POLICIES: [&str; 2] = [
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
];
/// The EventBridge rules sending jobs to the alarm topic: rule suffix,
/// event type, the states that are failures, what the description says.
/// Failures only: a completed job is no news (`drctl status` reads the
/// last completed backup and copy from AWS Backup itself). The states are
/// those the AWS Backup Developer Guide lists for each event ("Monitoring
/// AWS Backup events using Amazon EventBridge"): a backup job ends
/// COMPLETED, FAILED, ABORTED or EXPIRED (not started within its start
/// window, for instance behind another job of the same resource); a copy
/// job COMPLETED or FAILED.
const NOTIFIED: [(&str, &str, &[&str], &str); 2] = [
    (
        "backup-failed",
        "Backup Job State Change",
        &["FAILED", "ABORTED", "EXPIRED"],
        "backup jobs of {env} ({role}) that failed, were aborted or expired",
    ),
    (
        "copy-failed",
        "Copy Job State Change",
        &["FAILED"],
        "copy jobs of {env} ({role}) to the other region that failed",
    ),
];

/// The most Aurora snapshots drctl lets AWS Backup keep in one region:
/// RDS's default quota of manual DB cluster snapshots per region (Aurora
/// User Guide, "Quotas and constraints for Amazon Aurora"). AWS documents
/// that the snapshots AWS Backup manages don't count toward it; drctl keeps
/// within it all the same (docs/resources.md, "AWS Backup", says why).
pub(crate) const AURORA_SNAPSHOTS_PER_REGION: u64 = 100;

/// At most how many Aurora snapshots each region keeps at steady state:
/// one per run of `schedule` over `retention_days` (its own cluster's, in
/// its vault) plus one per run over `copy_retention_days` (the other
/// region's, which runs on the same schedule and copies into this
/// region's vault).
pub(crate) fn aurora_snapshots_per_region(
    schedule: &str,
    retention_days: u32,
    copy_retention_days: u32,
) -> (u64, u64) {
    (
        runs_within(schedule, retention_days),
        runs_within(schedule, copy_retention_days),
    )
}

/// At most how many times `schedule`, an AWS cron expression (six fields:
/// minutes hours day-of-month month day-of-week year, one minute of the
/// hour as drctl.toml requires), runs within any `days` consecutive days.
/// An upper bound: the month and year fields are taken as every month and
/// year, a day-of-month as falling in every 28 days, and a field this does
/// not read as every value.
pub(crate) fn runs_within(schedule: &str, days: u32) -> u64 {
    let fields: Vec<&str> = schedule
        .strip_prefix("cron(")
        .and_then(|r| r.strip_suffix(')'))
        .map(|body| body.split(' ').collect())
        .unwrap_or_default();
    let days = u64::from(days);
    let [_, hours, day_of_month, _, day_of_week, _] = fields[..] else {
        return 24 * days;
    };
    hours_per_day(hours) * run_days_within(day_of_month, day_of_week, days)
}

/// The number of hours of the day `field` (an AWS cron hours field:
/// values 0 to 23, `,` `-` `*` `/`) names; 24 when it cannot be read.
fn hours_per_day(field: &str) -> u64 {
    hours(field).map_or(24, |h| h.iter().filter(|h| **h).count() as u64)
}

/// Whether `field` is an AWS cron hours field drctl reads: a list of
/// `*`, `N` or `N-M` (0 to 23), each with an optional `/STEP`.
pub(crate) fn hours_field_valid(field: &str) -> bool {
    hours(field).is_some()
}

/// The hours of the day `field` names.
fn hours(field: &str) -> Option<[bool; 24]> {
    let mut hours = [false; 24];
    for item in field.split(',') {
        for h in cron_values(item, 0, 23, |v| v.parse().ok())? {
            hours[h as usize] = true;
        }
    }
    Some(hours)
}

/// The values `item` (`*`, `N`, `N-M`, each with an optional `/STEP`)
/// names between `first` and `last`, `value` reading one value.
fn cron_values(
    item: &str,
    first: u32,
    last: u32,
    value: impl Fn(&str) -> Option<u32>,
) -> Option<Vec<u32>> {
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, step.parse::<u32>().ok().filter(|s| *s > 0)?),
        None => (item, 1),
    };
    let (from, to) = match range {
        "*" => (first, last),
        _ => match range.split_once('-') {
            Some((a, b)) => (value(a)?, value(b)?),
            // `N/STEP` runs from N to the end of the range.
            None if item.contains('/') => (value(range)?, last),
            None => (value(range)?, value(range)?),
        },
    };
    if from < first || to > last || from > to {
        return None;
    }
    Some((from..=to).step_by(step as usize).collect())
}

/// At most how many of `days` consecutive days a schedule with these
/// day-of-month and day-of-week fields runs on.
fn run_days_within(day_of_month: &str, day_of_week: &str, days: u64) -> u64 {
    let every = |f: &str| f == "*" || f == "?";
    if every(day_of_month) && every(day_of_week) {
        return days;
    }
    if every(day_of_month) {
        // Weekdays 1-7 or SUN-SAT, `L` the last day of the week (SAT);
        // `NL` (the last N of the month) and `N#K` (the K-th N of the
        // month) are monthly.
        let mut weekdays = [false; 7];
        let mut monthly = 0;
        for item in day_of_week.split(',') {
            if item == "L" {
                weekdays[6] = true;
                continue;
            }
            if item.contains('L') || item.contains('#') {
                monthly += 1;
                continue;
            }
            let Some(values) = cron_values(item, 1, 7, weekday) else {
                return days;
            };
            for d in values {
                weekdays[d as usize - 1] = true;
            }
        }
        let per_week = weekdays.iter().filter(|d| **d).count() as u64;
        let weekly = per_week * (days / 7) + per_week.min(days % 7);
        return (weekly + monthly * (days / 28 + 1)).min(days);
    }
    // Days of the month 1-31; `L`, `LW`, `NW` name one day a month each.
    let mut month_days = [false; 31];
    let mut special = 0;
    for item in day_of_month.split(',') {
        if item.contains('L') || item.contains('W') {
            special += 1;
            continue;
        }
        let Some(values) = cron_values(item, 1, 31, |v| v.parse().ok()) else {
            return days;
        };
        for d in values {
            month_days[d as usize - 1] = true;
        }
    }
    let per_month = month_days.iter().filter(|d| **d).count() as u64 + special;
    (per_month * (days / 28 + 1)).min(days)
}

/// A day of the week as AWS cron writes it: 1 (SUN) to 7 (SAT).
fn weekday(text: &str) -> Option<u32> {
    const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    text.parse().ok().or_else(|| {
        NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(text))
            .map(|i| i as u32 + 1)
    })
}

pub(crate) fn build(r: &mut Region, data: &Data) {
    let Some(cluster) = &data.cluster else {
        return;
    };
    let name = r.name("backup");
    let settings = r.bp.settings;
    let vault = r.add(
        ResourceSpec::new(targets::backup_vault(r.role), r.region)
            .input("name", name.clone())
            .input(
                "encryption_key_arn",
                targets::customer_key(r.role).output("arn"),
            )
            .input("tags", r.tags(&name)),
    );
    let role = r.add(
        ResourceSpec::new(r.address("iam.role", "backup"), r.region)
            .input("name", name.clone())
            .input(
                "description",
                format!("AWS Backup of {} ({})", r.bp.env, r.role.as_str()),
            )
            .input(
                "assume_role_policy",
                trust(
                    "backup.amazonaws.com",
                    Source::Unconditioned {
                        why: "AWS Backup does not document aws:SourceAccount or aws:SourceArn when it assumes a backup role",
                    },
                ),
            )
            .input("inline_policies", json!({}))
            .input("managed_policy_arns", json!(SERVICE_POLICIES))
            .input("tags", r.tags(&name)),
    );
    let plan = r.add(
        ResourceSpec::new(r.address("backup.plan", "payment"), r.region)
            .input("name", name.clone())
            .input("rule_name", RULE)
            .input("target_vault_name", vault.output("name"))
            .input("schedule_expression", settings.backup_schedule.clone())
            .input("start_window_minutes", START_WINDOW_MINUTES)
            .input("completion_window_minutes", COMPLETION_WINDOW_MINUTES)
            .input(
                "delete_after_days",
                i64::from(settings.backup_retention_days),
            )
            .input(
                "copy_destination_vault_arn",
                targets::backup_vault(r.role.other()).output("arn"),
            )
            .input(
                "copy_delete_after_days",
                i64::from(settings.backup_copy_retention_days),
            )
            .input("tags", r.tags(&name)),
    );
    // The table's ARN in this region: the global table's own in the
    // primary, its replica's (the same name, this region) in the
    // secondary. AWS Backup backs up a replica as a table of its region.
    let table = concat([
        format!("arn:aws:dynamodb:{}:{}:table/", r.region, r.bp.account_id).into(),
        reference(targets::session_table().output("table_name")),
    ]);
    r.add(
        ResourceSpec::new(r.address("backup.selection", "payment"), r.region)
            .input("plan_id", plan.output("plan_id"))
            .input("name", name.clone())
            .input("iam_role_arn", role.output("arn"))
            .input(
                "resources",
                Value::Set(vec![reference(cluster.output("arn")), table]),
            ),
    );
    for (suffix, event, states, what) in NOTIFIED {
        notify(r, suffix, event, states, what, &data.topic);
    }
}

/// An EventBridge rule sending the region's AWS Backup `event`s (its own
/// jobs: a copy job is the source region's) that reach `states` to the
/// alarm topic.
fn notify(r: &mut Region, suffix: &str, event: &str, states: &[&str], what: &str, topic: &Address) {
    let name = r.name(suffix);
    let what = what
        .replace("{env}", r.bp.env)
        .replace("{role}", r.role.as_str());
    r.add(
        ResourceSpec::new(r.address("events.rule", suffix), r.region)
            .input("name", name.clone())
            .input("description", format!("AWS Backup {what}"))
            .input(
                "event_pattern",
                json!({
                    "source": ["aws.backup"],
                    "detail-type": [event],
                    "detail": {"state": states},
                }),
            )
            .input("state", "ENABLED")
            .input(
                "targets",
                Value::List(vec![map([
                    ("id", "alarm-topic".into()),
                    ("arn", reference(topic.output("arn"))),
                ])]),
            )
            .input("tags", r.tags(&name)),
    );
}

#[cfg(test)]
mod tests {
    use drctl_core::{DesiredGraph, Value};
    use serde_json::{Value as Json, json};

    use super::{
        AURORA_SNAPSHOTS_PER_REGION, aurora_snapshots_per_region, hours_field_valid, runs_within,
    };
    use crate::{Blueprint, EnvSettings, Role, targets};

    fn graph(settings: &EnvSettings) -> DesiredGraph {
        let specs = Blueprint {
            env: "dev",
            settings,
            account_id: "123456789012",
            weighted: Role::Primary,
            zones: crate::Zones::placeholders(settings),
        }
        .resources();
        DesiredGraph::new(specs).unwrap()
    }

    fn input(graph: &DesiredGraph, address: &str, key: &str) -> Json {
        let spec = graph
            .get(&address.parse().unwrap())
            .unwrap_or_else(|| panic!("no {address}"));
        serde_json::to_value(&spec.inputs[key]).unwrap()
    }

    fn reference(address: &drctl_core::Address, output: &str) -> Json {
        json!({"$ref": format!("{address}.{output}")})
    }

    /// Each region backs up into its own vault with its own key, copies
    /// to the other region's vault, and selects its own cluster and its
    /// own region's table (the replica in the secondary).
    #[test]
    fn each_region_backs_up_its_data_and_copies_it_to_the_other() {
        let mut settings = EnvSettings::defaults("dev");
        settings.backup_schedule = "cron(30 */4 ? * * *)".into();
        settings.backup_retention_days = 10;
        settings.backup_copy_retention_days = 30;
        let graph = graph(&settings);
        for (role, region) in [(Role::Primary, "us-east-1"), (Role::Secondary, "us-east-2")] {
            let r = role.as_str();
            let vault = targets::backup_vault(role);
            assert_eq!(graph.get(&vault).unwrap().region, region);
            assert_eq!(
                input(&graph, &vault.to_string(), "name"),
                json!(format!("payment-dev-{r}-backup"))
            );
            assert_eq!(
                input(&graph, &vault.to_string(), "encryption_key_arn"),
                reference(&targets::customer_key(role), "arn")
            );
            let plan = format!("{r}/backup.plan/payment");
            assert_eq!(
                input(&graph, &plan, "copy_destination_vault_arn"),
                reference(&targets::backup_vault(role.other()), "arn")
            );
            assert_eq!(
                input(&graph, &plan, "target_vault_name"),
                reference(&vault, "name")
            );
            assert_eq!(
                input(&graph, &plan, "schedule_expression"),
                json!("cron(30 */4 ? * * *)")
            );
            assert_eq!(input(&graph, &plan, "delete_after_days"), json!(10));
            assert_eq!(input(&graph, &plan, "copy_delete_after_days"), json!(30));
            let selection = format!("{r}/backup.selection/payment");
            let resources =
                graph.get(&selection.parse().unwrap()).unwrap().inputs["resources"].clone();
            let Value::Set(resources) = resources else {
                panic!("{resources:?}");
            };
            assert!(resources.contains(&Value::Ref(targets::cluster(role).output("arn"))));
            assert!(resources.contains(&Value::Concat(vec![
                format!("arn:aws:dynamodb:{region}:123456789012:table/").into(),
                Value::Ref(targets::session_table().output("table_name")),
            ])));
            assert_eq!(
                input(
                    &graph,
                    &format!("{r}/iam.role/backup"),
                    "assume_role_policy"
                )["Statement"][0]["Principal"]["Service"],
                json!("backup.amazonaws.com")
            );
        }
    }

    /// Only failures reach the region's alarm topic: backup jobs that
    /// failed, were aborted or expired, copy jobs that failed. No rule
    /// matches a completed job.
    #[test]
    fn only_failed_backup_and_copy_jobs_are_reported_to_the_alarm_topic() {
        let graph = graph(&EnvSettings::defaults("dev"));
        for role in Role::BOTH {
            let r = role.as_str();
            let topic: drctl_core::Address = format!("{r}/sns.topic/alarms").parse().unwrap();
            for (suffix, event, states) in [
                (
                    "backup-failed",
                    "Backup Job State Change",
                    json!(["FAILED", "ABORTED", "EXPIRED"]),
                ),
                ("copy-failed", "Copy Job State Change", json!(["FAILED"])),
            ] {
                let rule = format!("{r}/events.rule/{suffix}");
                let pattern = input(&graph, &rule, "event_pattern");
                assert_eq!(pattern["source"], json!(["aws.backup"]), "{rule}");
                assert_eq!(pattern["detail-type"], json!([event]), "{rule}");
                assert_eq!(pattern["detail"]["state"], states, "{rule}");
                assert_eq!(
                    input(&graph, &rule, "targets")[0]["arn"],
                    reference(&topic, "arn"),
                    "{rule}"
                );
                assert!(
                    !input(&graph, &rule, "description")
                        .as_str()
                        .unwrap()
                        .contains('{'),
                    "{rule}"
                );
            }
        }
        let completed: Vec<_> = graph
            .resources()
            .filter(|s| s.kind() == "events.rule")
            .filter(|s| {
                let pattern = serde_json::to_value(s.inputs.get("event_pattern")).unwrap();
                pattern["source"] == json!(["aws.backup"])
                    && pattern["detail"]["state"]
                        .as_array()
                        .is_some_and(|s| s.contains(&json!("COMPLETED")))
            })
            .map(|s| s.address.to_string())
            .collect();
        assert!(completed.is_empty(), "{completed:?}");
    }

    /// The defaults keep each region's Aurora snapshots far under RDS's
    /// 100: one a day, 7 days in the region's vault and 14 of the other
    /// region's copies, 21 in all. The seed's hourly schedule kept 504.
    #[test]
    fn the_defaults_keep_21_aurora_snapshots_per_region() {
        let d = EnvSettings::defaults("dev");
        assert_eq!(d.backup_schedule, "cron(0 5 ? * * *)");
        let (own, copies) = aurora_snapshots_per_region(
            &d.backup_schedule,
            d.backup_retention_days,
            d.backup_copy_retention_days,
        );
        assert_eq!((own, copies), (7, 14));
        assert!(own + copies <= AURORA_SNAPSHOTS_PER_REGION);
        assert_eq!(
            aurora_snapshots_per_region("cron(0 * ? * * *)", 7, 14),
            (168, 336)
        );
    }

    #[test]
    fn hours_fields_are_read_as_aws_cron_writes_them() {
        for ok in ["*", "5", "*/4", "0/6", "8-17", "8-17/3", "1,13", "0,12-14"] {
            assert!(hours_field_valid(ok), "{ok}");
        }
        for bad in ["", "x", "24", "5-3", "*/0", "1,", "-1", "5/x", "?", "L"] {
            assert!(!hours_field_valid(bad), "{bad}");
        }
    }

    /// How many times a schedule runs within a number of days, at most.
    #[test]
    fn runs_within_counts_hours_and_days_of_a_cron_expression() {
        for (schedule, days, runs) in [
            ("cron(0 5 ? * * *)", 7, 7),
            ("cron(0 5 * * ? *)", 14, 14),
            ("cron(0 * ? * * *)", 7, 168),
            ("cron(30 */4 ? * * *)", 10, 60),
            ("cron(30 0/6 ? * * *)", 1, 4),
            ("cron(0 1,13 ? * * *)", 3, 6),
            ("cron(0 8-17 ? * * *)", 1, 10),
            ("cron(0 8-17/3 ? * * *)", 1, 4),
            // Weekdays: at most 5 in 7 days, 10 in 14, 5 + 3 in 10.
            ("cron(0 5 ? * MON-FRI *)", 7, 5),
            ("cron(0 5 ? * 2-6 *)", 14, 10),
            ("cron(0 5 ? * MON-FRI *)", 10, 8),
            ("cron(0 5 ? * SUN *)", 90, 13),
            ("cron(0 5 ? * SUN,WED *)", 4, 2),
            // Monthly: the same day of each month, one run per 28 days
            // started (an upper bound).
            ("cron(0 5 1 * ? *)", 365, 14),
            ("cron(0 5 1,15 * ? *)", 14, 2),
            ("cron(0 5 L * ? *)", 30, 2),
            ("cron(0 5 ? * 6#3 *)", 60, 3),
            ("cron(0 5 ? * 6L *)", 30, 2),
            // `L` alone is the last day of the week, Saturday.
            ("cron(0 5 ? * L *)", 14, 2),
            ("cron(0 5 ? * L,SAT *)", 14, 2),
            // Every 10 days from the 1st: 1, 11, 21, 31.
            ("cron(0 5 1/10 * ? *)", 7, 4),
            ("cron(0 5,17 ? * * *)", 1, 2),
            // What this does not read counts as every value.
            ("cron(0 x ? * * *)", 1, 24),
            ("cron(0 5 ? * XYZ *)", 7, 7),
            ("daily", 2, 48),
        ] {
            assert_eq!(
                runs_within(schedule, days),
                runs,
                "{schedule} over {days} days"
            );
        }
    }
}
