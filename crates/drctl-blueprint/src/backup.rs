//! One region's AWS Backup: a vault encrypted with the region's customer
//! key, a plan whose rule backs up into it on the environment's schedule
//! and copies each recovery point to the other region's vault, the
//! selection of the region's Aurora cluster and DynamoDB table (the global
//! table's replica in the secondary), the role AWS Backup assumes for
//! them, and EventBridge rules sending the jobs' failures and completions
//! to the region's alarm topic. Only with the databases and functions:
//! without them there is nothing to back up.
//!
//! Each region backs up its own copy of the data and copies it to the
//! other: after a failover the backups keep going where the traffic went
//! and still land in the other region.

use drctl_core::{Address, ResourceSpec, Value};
use serde_json::json;

use crate::data::Data;
use crate::values::{concat, map, r as reference, trust};
use crate::{Region, targets};

/// The plan's one rule.
const RULE: &str = "scheduled";
/// A scheduled job not started within an hour is cancelled, and one not
/// done two hours after its scheduled time: an hourly schedule keeps at
/// most two jobs of a resource in flight.
const START_WINDOW_MINUTES: i64 = 60;
const COMPLETION_WINDOW_MINUTES: i64 = 120;
/// What AWS Backup needs to back up and restore Aurora and DynamoDB (AWS
/// Backup Developer Guide, "Managed policies for AWS Backup").
const SERVICE_POLICIES: [&str; 2] = [
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
];
/// The job states a rule sends to the alarm topic, by the rule's suffix.
const NOTIFIED: [(&str, &[&str], &str); 2] = [
    (
        "backup-failed",
        &["FAILED", "ABORTED"],
        "failed or were aborted",
    ),
    ("backup-completed", &["COMPLETED"], "completed"),
];

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
            .input("assume_role_policy", trust("backup.amazonaws.com"))
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
    for (suffix, states, what) in NOTIFIED {
        notify(r, suffix, states, what, &data.topic);
    }
}

/// An EventBridge rule sending the region's backup and copy jobs that
/// reach `states` to the alarm topic.
fn notify(r: &mut Region, suffix: &str, states: &[&str], what: &str, topic: &Address) {
    let name = r.name(suffix);
    r.add(
        ResourceSpec::new(r.address("events.rule", suffix), r.region)
            .input("name", name.clone())
            .input(
                "description",
                format!(
                    "AWS Backup jobs of {} ({}) that {what}",
                    r.bp.env,
                    r.role.as_str()
                ),
            )
            .input(
                "event_pattern",
                json!({
                    "source": ["aws.backup"],
                    "detail-type": ["Backup Job State Change", "Copy Job State Change"],
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

    use crate::{Blueprint, EnvSettings, Role, targets};

    fn graph(settings: &EnvSettings) -> DesiredGraph {
        let specs = Blueprint {
            env: "dev",
            settings,
            account_id: "123456789012",
            active: Role::Primary,
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

    /// Failed or aborted jobs and completed ones, of backups and copies,
    /// go to the region's alarm topic.
    #[test]
    fn backup_jobs_are_reported_to_the_alarm_topic() {
        let graph = graph(&EnvSettings::defaults("dev"));
        for role in Role::BOTH {
            let r = role.as_str();
            let topic: drctl_core::Address = format!("{r}/sns.topic/alarms").parse().unwrap();
            for (suffix, states) in [
                ("backup-failed", json!(["FAILED", "ABORTED"])),
                ("backup-completed", json!(["COMPLETED"])),
            ] {
                let rule = format!("{r}/events.rule/{suffix}");
                let pattern = input(&graph, &rule, "event_pattern");
                assert_eq!(pattern["source"], json!(["aws.backup"]), "{rule}");
                assert_eq!(
                    pattern["detail-type"],
                    json!(["Backup Job State Change", "Copy Job State Change"])
                );
                assert_eq!(pattern["detail"]["state"], states, "{rule}");
                assert_eq!(
                    input(&graph, &rule, "targets")[0]["arn"],
                    reference(&topic, "arn"),
                    "{rule}"
                );
            }
        }
    }
}
