//! `backup.plan`: an AWS Backup plan of one rule: a schedule, its start
//! and completion windows, how long a recovery point is kept, and
//! optionally a copy of each recovery point to another vault (another
//! region's) with its own retention. Its id is the plan id.
//!
//! Inputs, as a read returns them: `name` (fixed: drctl finds the plan by
//! it), `rule_name`, `target_vault_name`, `schedule_expression`,
//! `start_window_minutes`, `completion_window_minutes`,
//! `delete_after_days`, `copy_destination_vault_arn` and
//! `copy_delete_after_days` (both or neither), `tags`. drctl manages a
//! plan of exactly this one rule: an update writes the whole plan document
//! back with it.
//!
//! CreateBackupPlan takes `CreatorRequestId` (AWS Backup API Reference,
//! CreateBackupPlan): drctl sends the create's token, through
//! `create_once`: after an unanswered create the plan is looked up (`find`:
//! by name and its `drctl:*` tags, which CreateBackupPlan sets) before any
//! resend, and a resend carries the same token.
//! UpdateBackupPlan replaces the rules in place and gives the plan a new
//! `VersionId`. AWS refuses to delete a plan that still has selections;
//! the selections depend on the plan, so the graph deletes them first. A
//! deleted plan is still answered by GetBackupPlan, with a `DeletionDate`:
//! drctl reads it as gone.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_backup::Client;
use aws_sdk_backup::operation::get_backup_plan::GetBackupPlanOutput;
use aws_sdk_backup::types::{BackupPlanInput, BackupRuleInput, CopyAction, Lifecycle};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use super::{NOT_FOUND, retag, tags_of, valid_name};
use crate::clients::Clients;
use crate::support::{
    Created, TAG_ADDRESS, TAG_ENV, all_tags, api_error, attrs, create_once, create_token, found,
    invalid, observed_tags, only_known_inputs, retry_while, the_one, user_tags,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "backup.plan",
    force_new: &["name"],
    outputs: &["plan_id", "arn", "version_id"],
    // Every UpdateBackupPlan makes a new version.
    volatile_outputs: &["version_id"],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct Plan(pub(crate) Arc<Clients>);

/// AWS refuses DeleteBackupPlan while the plan has selections; a selection
/// just deleted may still count for a moment.
const DELETE_LIMIT: Duration = Duration::from_secs(120);

/// The longest start or completion window AWS Backup takes: 100 years
/// (AWS Backup API Reference, BackupRuleInput `StartWindowMinutes`).
const MAX_WINDOW_MINUTES: i64 = 52_560_000;
/// The shortest start window: "If this value is included, it must be at
/// least 60 minutes to avoid errors" (BackupRuleInput).
const MIN_START_WINDOW_MINUTES: i64 = 60;
/// Retention, in days: at least one day, at most 100 years.
const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 1..=36_500;

const KEYS: [&str; 10] = [
    "name",
    "rule_name",
    "target_vault_name",
    "schedule_expression",
    "start_window_minutes",
    "completion_window_minutes",
    "delete_after_days",
    "copy_destination_vault_arn",
    "copy_delete_after_days",
    "tags",
];

/// The plan's settings, checked before any call.
#[derive(Clone, Debug, PartialEq)]
struct Config {
    name: String,
    rule_name: String,
    target_vault_name: String,
    schedule_expression: String,
    start_window_minutes: i64,
    completion_window_minutes: i64,
    delete_after_days: i64,
    /// The destination vault's ARN and the copies' retention in days.
    copy: Option<(String, i64)>,
}

/// Why `expression` is not a schedule AWS Backup takes, if it is not.
/// A backup rule's `ScheduleExpression` is "a cron expression in UTC"
/// (BackupRuleInput), six fields as EventBridge's (minutes hours
/// day-of-month month day-of-week year, one of the two days `?`); AWS
/// refuses backups less than 60 minutes apart ("The interval between
/// backup jobs shouldn't be less than 60 minutes"), which a single minute
/// of the hour guarantees.
pub fn schedule_error(expression: &str) -> Option<String> {
    if expression.starts_with("rate(") {
        return Some(
            "is a rate expression; an AWS Backup rule takes only cron(...) (hourly: `cron(0 * ? * * *)`)"
                .into(),
        );
    }
    let Some(body) = expression
        .strip_prefix("cron(")
        .and_then(|r| r.strip_suffix(')'))
    else {
        return Some("is not `cron(...)`".into());
    };
    let fields: Vec<&str> = body.split(' ').collect();
    if fields.len() != 6 || fields.iter().any(|f| f.is_empty()) {
        return Some(format!(
            "has {} fields; cron takes six: minutes hours day-of-month month day-of-week year",
            fields.len()
        ));
    }
    if !fields[0].parse::<u8>().is_ok_and(|m| m < 60) {
        return Some(format!(
            "runs at minutes {:?}: give one minute of the hour (0 to 59), since AWS Backup refuses backups less than 60 minutes apart",
            fields[0]
        ));
    }
    if fields[2] != "?" && fields[4] != "?" {
        return Some("gives both day-of-month and day-of-week; one of them must be `?`".into());
    }
    None
}

fn int(ctx: &OpContext, inputs: &Attributes, key: &str) -> Result<Option<i64>, ProviderError> {
    match inputs.get(key) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            invalid(
                ctx,
                format!("input `{key}` must be a whole number, not {v}"),
            )
        }),
    }
}

fn name_input(
    ctx: &OpContext,
    inputs: &Attributes,
    key: &str,
    what: &str,
    min: usize,
    dot: bool,
) -> Result<String, ProviderError> {
    match inputs.get(key).and_then(Json::as_str) {
        Some(n) if valid_name(n, min, dot) => Ok(n.to_owned()),
        other => Err(invalid(
            ctx,
            format!(
                "input `{key}` is {}: {what} is {min} to 50 letters, digits, {}",
                other.map_or("missing".to_owned(), |n| format!("{n:?}")),
                if dot { "`-`, `_` or `.`" } else { "`-` or `_`" }
            ),
        )),
    }
}

fn retention(ctx: &OpContext, key: &str, days: Option<i64>) -> Result<i64, ProviderError> {
    match days {
        Some(d) if RETENTION_DAYS.contains(&d) => Ok(d),
        other => Err(invalid(
            ctx,
            format!(
                "input `{key}` is {}: AWS Backup keeps a recovery point 1 to 36500 days",
                other.map_or("missing".to_owned(), |d| d.to_string())
            ),
        )),
    }
}

fn config(ctx: &OpContext, inputs: &Attributes) -> Result<Config, ProviderError> {
    only_known_inputs(ctx, inputs, &KEYS, "a backup plan")?;
    let name = name_input(ctx, inputs, "name", "a backup plan name", 1, true)?;
    let rule_name = name_input(ctx, inputs, "rule_name", "a backup rule name", 1, true)?;
    let target_vault_name = name_input(
        ctx,
        inputs,
        "target_vault_name",
        "a backup vault name",
        2,
        false,
    )?;
    let schedule_expression = match inputs.get("schedule_expression").and_then(Json::as_str) {
        Some(s) => match schedule_error(s) {
            None => s.to_owned(),
            Some(why) => {
                return Err(invalid(
                    ctx,
                    format!("input `schedule_expression` {s:?} {why}"),
                ));
            }
        },
        None => {
            return Err(invalid(
                ctx,
                "input `schedule_expression` is missing: e.g. `cron(0 * ? * * *)` for hourly",
            ));
        }
    };
    let start = int(ctx, inputs, "start_window_minutes")?;
    let completion = int(ctx, inputs, "completion_window_minutes")?;
    let (Some(start), Some(completion)) = (start, completion) else {
        return Err(invalid(
            ctx,
            "inputs `start_window_minutes` and `completion_window_minutes` are required",
        ));
    };
    if !(MIN_START_WINDOW_MINUTES..=MAX_WINDOW_MINUTES).contains(&start) {
        return Err(invalid(
            ctx,
            format!(
                "input `start_window_minutes` is {start}: AWS Backup takes 60 to {MAX_WINDOW_MINUTES} minutes"
            ),
        ));
    }
    // The completion window counts from the scheduled time, not from the
    // job's start (StartBackupJob `CompleteWindowMinutes`): one no longer
    // than the start window could cancel a job that started late.
    if completion <= start || completion > MAX_WINDOW_MINUTES {
        return Err(invalid(
            ctx,
            format!(
                "input `completion_window_minutes` is {completion}: it must be longer than `start_window_minutes` ({start}), since it counts from the scheduled time, and at most {MAX_WINDOW_MINUTES}"
            ),
        ));
    }
    let delete_after_days = retention(
        ctx,
        "delete_after_days",
        int(ctx, inputs, "delete_after_days")?,
    )?;
    let copy = match (
        inputs.get("copy_destination_vault_arn"),
        int(ctx, inputs, "copy_delete_after_days")?,
    ) {
        (None, None) => None,
        (Some(Json::String(arn)), days)
            if arn.starts_with("arn:") && arn.contains(":backup-vault:") =>
        {
            Some((arn.clone(), retention(ctx, "copy_delete_after_days", days)?))
        }
        (Some(other), _) => {
            return Err(invalid(
                ctx,
                format!(
                    "input `copy_destination_vault_arn` is {other}, not a backup vault ARN (`arn:aws:backup:<region>:<account>:backup-vault:<name>`)"
                ),
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                ctx,
                "input `copy_delete_after_days` needs `copy_destination_vault_arn`: the vault the copies go to",
            ));
        }
    };
    Ok(Config {
        name,
        rule_name,
        target_vault_name,
        schedule_expression,
        start_window_minutes: start,
        completion_window_minutes: completion,
        delete_after_days,
        copy,
    })
}

fn sdk_error(e: aws_smithy_types::error::operation::BuildError) -> ProviderError {
    ProviderError::new("backup:BackupPlanInput", e.to_string())
}

/// The plan document of `config`.
fn document(config: &Config) -> Result<BackupPlanInput, ProviderError> {
    let mut rule = BackupRuleInput::builder()
        .rule_name(&config.rule_name)
        .target_backup_vault_name(&config.target_vault_name)
        .schedule_expression(&config.schedule_expression)
        .start_window_minutes(config.start_window_minutes)
        .completion_window_minutes(config.completion_window_minutes)
        .lifecycle(
            Lifecycle::builder()
                .delete_after_days(config.delete_after_days)
                .build(),
        );
    if let Some((arn, days)) = &config.copy {
        rule = rule.copy_actions(
            CopyAction::builder()
                .destination_backup_vault_arn(arn)
                .lifecycle(Lifecycle::builder().delete_after_days(*days).build())
                .build()
                .map_err(sdk_error)?,
        );
    }
    BackupPlanInput::builder()
        .backup_plan_name(&config.name)
        .rules(rule.build().map_err(sdk_error)?)
        .build()
        .map_err(sdk_error)
}

fn outputs(id: &str, arn: &str, version: &str) -> Attributes {
    attrs([
        ("plan_id", json!(id)),
        ("arn", json!(arn)),
        ("version_id", json!(version)),
    ])
}

/// Refuses the delete of plan `id` (`own`: `ctx`'s address is the plan)
/// or of its selection (`!own`: a selection has no tags, its plan proves
/// it this environment's) unless the plan is this environment's; `false`
/// when the plan is gone (or deleted).
pub(crate) async fn confirm_plan_owned(
    client: &Client,
    ctx: &OpContext,
    id: &str,
    own: bool,
) -> Result<bool, ProviderError> {
    let result = client.get_backup_plan().backup_plan_id(id).send().await;
    let Some(plan) =
        found(result, NOT_FOUND, "backup:GetBackupPlan")?.filter(|p| p.deletion_date().is_none())
    else {
        return Ok(false);
    };
    let Some(tags) = tags_of(client, plan.backup_plan_arn().unwrap_or_default()).await? else {
        return Ok(false);
    };
    let what = format!("backup plan {id}");
    if own {
        crate::support::confirm_owned(ctx, "delete", &what, &tags, None)?;
    } else {
        crate::support::confirm_parent_owned(ctx, "delete", &what, &tags, None)?;
    }
    Ok(true)
}

impl Plan {
    /// The plan, unless it is gone or deleted.
    async fn get(
        &self,
        client: &Client,
        id: &str,
    ) -> Result<Option<GetBackupPlanOutput>, ProviderError> {
        let result = client.get_backup_plan().backup_plan_id(id).send().await;
        Ok(found(result, NOT_FOUND, "backup:GetBackupPlan")?
            .filter(|p| p.deletion_date().is_none()))
    }

    /// The ids of the plans named `name` that carry this address's identity.
    async fn ours_named(
        &self,
        ctx: &OpContext,
        client: &Client,
        name: &str,
    ) -> Result<Vec<String>, ProviderError> {
        let mut ids = Vec::new();
        let mut plans = client.list_backup_plans().into_paginator().items().send();
        while let Some(plan) = plans.next().await {
            let plan = plan.map_err(|e| api_error("backup:ListBackupPlans", e))?;
            let (Some(id), Some(arn)) = (plan.backup_plan_id(), plan.backup_plan_arn()) else {
                continue;
            };
            if plan.backup_plan_name() != Some(name) || plan.deletion_date().is_some() {
                continue;
            }
            let tags = tags_of(client, arn).await?.unwrap_or_default();
            if tags.get(TAG_ENV) == Some(&ctx.env)
                && tags.get(TAG_ADDRESS) == Some(&ctx.address.to_string())
            {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }
}

#[async_trait]
impl Provider for Plan {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        let request = self
            .0
            .backup_once(&ctx.region)
            .create_backup_plan()
            .backup_plan(document(&config)?)
            .set_backup_plan_tags(Some(all_tags(ctx, inputs).into_iter().collect()))
            .creator_request_id(create_token(ctx));
        let created = create_once(
            "backup:CreateBackupPlan",
            &["AlreadyExistsException"],
            || request.clone().send(),
            || self.find(ctx, inputs),
        )
        .await;
        let id = match created {
            Ok(Created::Sent(out)) => out.backup_plan_id().unwrap_or_default().to_owned(),
            Ok(Created::Found(id)) => id,
            // The name is taken, and not by a plan drctl made for this
            // address (`find` would have adopted that one).
            Err(e) if e.code.as_deref() == Some("AlreadyExistsException") => {
                match self.find(ctx, inputs).await? {
                    Some(id) => id,
                    None => {
                        return Err(ProviderError::new(
                            format!("create {}", ctx.address),
                            format!(
                                "a backup plan named {} already exists in {} and drctl did not create it for this address; delete it or rename this one",
                                config.name, ctx.region
                            ),
                        )
                        .with_code("AlreadyExistsException"));
                    }
                }
            }
            Err(e) => return Err(e),
        };
        let plan = self.get(&client, &id).await?.ok_or_else(|| {
            ProviderError::new(
                "backup:GetBackupPlan",
                format!("plan {id}, just created, is gone"),
            )
        })?;
        Ok(Applied {
            outputs: outputs(
                &id,
                plan.backup_plan_arn().unwrap_or_default(),
                plan.version_id().unwrap_or_default(),
            ),
            id,
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let client = self.0.backup(&ctx.region);
        let Some(plan) = self.get(&client, id).await? else {
            return Ok(None);
        };
        let arn = plan.backup_plan_arn().unwrap_or_default().to_owned();
        let Some(tags) = tags_of(&client, &arn).await? else {
            return Ok(None);
        };
        let document = plan.backup_plan();
        let mut inputs = attrs([
            ("name", json!(document.map(|d| d.backup_plan_name()))),
            ("tags", observed_tags(tags)),
        ]);
        if let Some(rule) = document.and_then(|d| d.rules().first()) {
            inputs.insert("rule_name".into(), json!(rule.rule_name()));
            inputs.insert(
                "target_vault_name".into(),
                json!(rule.target_backup_vault_name()),
            );
            let optional = [
                (
                    "schedule_expression",
                    rule.schedule_expression().map(|s| json!(s)),
                ),
                (
                    "start_window_minutes",
                    rule.start_window_minutes().map(|m| json!(m)),
                ),
                (
                    "completion_window_minutes",
                    rule.completion_window_minutes().map(|m| json!(m)),
                ),
                (
                    "delete_after_days",
                    rule.lifecycle()
                        .and_then(Lifecycle::delete_after_days)
                        .map(|d| json!(d)),
                ),
            ];
            for (key, value) in optional {
                if let Some(v) = value {
                    inputs.insert(key.into(), v);
                }
            }
            if let Some(copy) = rule.copy_actions().first() {
                inputs.insert(
                    "copy_destination_vault_arn".into(),
                    json!(copy.destination_backup_vault_arn()),
                );
                if let Some(days) = copy.lifecycle().and_then(Lifecycle::delete_after_days) {
                    inputs.insert("copy_delete_after_days".into(), json!(days));
                }
            }
        }
        Ok(Some(Observed {
            inputs,
            outputs: outputs(id, &arn, plan.version_id().unwrap_or_default()),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        let rule_changed = KEYS
            .iter()
            .filter(|k| !matches!(**k, "name" | "tags"))
            .any(|k| prior.get(*k) != inputs.get(*k));
        if rule_changed {
            client
                .update_backup_plan()
                .backup_plan_id(id)
                .backup_plan(document(&config)?)
                .send()
                .await
                .map_err(|e| api_error("backup:UpdateBackupPlan", e))?;
        }
        let plan = self.get(&client, id).await?.ok_or_else(|| {
            ProviderError::new(
                "backup:GetBackupPlan",
                format!("plan {id} disappeared during update"),
            )
        })?;
        let arn = plan.backup_plan_arn().unwrap_or_default().to_owned();
        retag(&client, &arn, &user_tags(prior), &user_tags(inputs)).await?;
        Ok(outputs(id, &arn, plan.version_id().unwrap_or_default()))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        the_one(ctx, self.ours_named(ctx, &client, &config.name).await?)
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let client = self.0.backup(&ctx.region);
        if !confirm_plan_owned(&client, ctx, id, true).await? {
            return Ok(());
        }
        retry_while(
            DELETE_LIMIT,
            |e| e.code.as_deref() == Some("InvalidRequestException"),
            || async {
                let result = client.delete_backup_plan().backup_plan_id(id).send().await;
                found(result, NOT_FOUND, "backup:DeleteBackupPlan").map(|_| ())
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> OpContext {
        crate::support::unit_test_ctx("primary/backup.plan/payment")
    }

    fn inputs(changes: Json) -> Attributes {
        let mut v = json!({"name": "payment-dev-primary", "rule_name": "hourly",
            "target_vault_name": "payment-dev-primary", "schedule_expression": "cron(0 * ? * * *)",
            "start_window_minutes": 60, "completion_window_minutes": 120, "delete_after_days": 7,
            "copy_destination_vault_arn": "arn:aws:backup:us-east-2:123456789012:backup-vault:payment-dev-secondary",
            "copy_delete_after_days": 14, "tags": {}});
        for (k, val) in changes.as_object().unwrap() {
            if val.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = val.clone();
            }
        }
        serde_json::from_value(v).unwrap()
    }

    fn refused(changes: Json) -> String {
        config(&ctx(), &inputs(changes)).unwrap_err().message
    }

    #[test]
    fn schedules_are_cron_at_most_hourly() {
        for ok in [
            "cron(0 * ? * * *)",
            "cron(15 */4 ? * * *)",
            "cron(0 5 ? * MON-FRI *)",
        ] {
            assert_eq!(schedule_error(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("rate(1 hour)", "only cron"),
            ("cron(0/15 * ? * * *)", "60 minutes apart"),
            ("cron(* * ? * * *)", "60 minutes apart"),
            ("cron(0 * * * *)", "six"),
            ("cron(0 5 1 * MON *)", "must be `?`"),
        ] {
            let e = schedule_error(bad).unwrap();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn the_rule_follows_aws_backups_limits() {
        assert!(config(&ctx(), &inputs(json!({}))).is_ok());
        assert!(refused(json!({"start_window_minutes": 30})).contains("60 to"));
        assert!(refused(json!({"completion_window_minutes": 60})).contains("longer than"));
        assert!(refused(json!({"delete_after_days": 0})).contains("1 to 36500"));
        assert!(refused(json!({"copy_delete_after_days": 40000})).contains("1 to 36500"));
        assert!(
            refused(json!({"copy_destination_vault_arn": null}))
                .contains("needs `copy_destination_vault_arn`")
        );
        assert!(
            refused(json!({"copy_destination_vault_arn": "payment"}))
                .contains("not a backup vault ARN")
        );
        assert!(refused(json!({"target_vault_name": "a.b"})).contains("input `target_vault_name`"));
        assert!(refused(json!({"schedule": "x"})).contains("unknown input `schedule`"));
        let no_copy = config(
            &ctx(),
            &inputs(json!({"copy_destination_vault_arn": null, "copy_delete_after_days": null})),
        )
        .unwrap();
        assert_eq!(no_copy.copy, None);
    }
}
