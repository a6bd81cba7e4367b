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
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{NOT_FOUND, tags_of, valid_name, with_tags};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{
    Created, api_error, attrs, create_token, found, invalid, retry_while, the_one,
};
use crate::tags::{Tags, in_env, made_for, retag, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new("backup.plan", Latency::calls(1, 1, 1))
    .force_new(&["name"])
    .outputs(&["plan_id", "arn", "version_id"])
    // Every UpdateBackupPlan makes a new version.
    .volatile_outputs(&["version_id"]);

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

/// The inputs, as a read returns them: a read of a plan whose rule lacks
/// a setting (changed outside drctl) leaves it out, and the next update
/// puts it back; a create or update refuses one missing.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rule_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_vault_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule_expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_window_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    completion_window_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delete_after_days: Option<i64>,
    /// Both or neither: the vault the copies go to and their retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    copy_destination_vault_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    copy_delete_after_days: Option<i64>,
    #[serde(default)]
    tags: Tags,
}

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

fn name_input(
    ctx: &OpContext,
    key: &str,
    value: Option<&str>,
    what: &str,
    min: usize,
    dot: bool,
) -> Result<String, ProviderError> {
    match value {
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

fn config(ctx: &OpContext, inputs: &Inputs) -> Result<Config, ProviderError> {
    let name = name_input(
        ctx,
        "name",
        Some(&inputs.name),
        "a backup plan name",
        1,
        true,
    )?;
    let rule_name = name_input(
        ctx,
        "rule_name",
        inputs.rule_name.as_deref(),
        "a backup rule name",
        1,
        true,
    )?;
    let target_vault_name = name_input(
        ctx,
        "target_vault_name",
        inputs.target_vault_name.as_deref(),
        "a backup vault name",
        2,
        false,
    )?;
    let schedule_expression = match inputs.schedule_expression.as_deref() {
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
    let (Some(start), Some(completion)) = (
        inputs.start_window_minutes,
        inputs.completion_window_minutes,
    ) else {
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
    let delete_after_days = retention(ctx, "delete_after_days", inputs.delete_after_days)?;
    let copy = match (
        inputs.copy_destination_vault_arn.as_deref(),
        inputs.copy_delete_after_days,
    ) {
        (None, None) => None,
        (Some(arn), days) if arn.starts_with("arn:") && arn.contains(":backup-vault:") => Some((
            arn.to_owned(),
            retention(ctx, "copy_delete_after_days", days)?,
        )),
        (Some(other), _) => {
            return Err(invalid(
                ctx,
                format!(
                    "input `copy_destination_vault_arn` is {other:?}, not a backup vault ARN (`arn:aws:backup:<region>:<account>:backup-vault:<name>`)"
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
    let Some((_, tags)) = with_tags(client, plan.backup_plan_arn()).await? else {
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

    /// The live (not deleted) plans of the region whose name `keep`
    /// takes: id, name and tags.
    async fn live(
        &self,
        client: &Client,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<(String, String, Tags)>, ProviderError> {
        let mut live = Vec::new();
        let mut plans = client.list_backup_plans().into_paginator().items().send();
        while let Some(plan) = plans.next().await {
            let plan = plan.map_err(|e| api_error("backup:ListBackupPlans", e))?;
            let (Some(id), Some(arn)) = (plan.backup_plan_id(), plan.backup_plan_arn()) else {
                continue;
            };
            let name = plan.backup_plan_name().unwrap_or_default();
            if plan.deletion_date().is_some() || !keep(name) {
                continue;
            }
            if let Some(tags) = tags_of(client, arn).await? {
                live.push((id.to_owned(), name.to_owned(), tags));
            }
        }
        Ok(live)
    }
}

#[async_trait]
impl Kind for Plan {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let config = config(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        let request = self
            .0
            .backup_once(&ctx.region)
            .create_backup_plan()
            .backup_plan(document(&config)?)
            .set_backup_plan_tags(Some(with_identity(ctx, &inputs.tags).into_iter().collect()))
            .creator_request_id(create_token(ctx));
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "backup:CreateBackupPlan",
            &["AlreadyExistsException"],
            || request.clone().send(),
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

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let client = self.0.backup(&ctx.region);
        let Some(plan) = self.get(&client, id).await? else {
            return Ok(None);
        };
        let Some((arn, tags)) = with_tags(&client, plan.backup_plan_arn()).await? else {
            return Ok(None);
        };
        let document = plan.backup_plan();
        let rule = document.and_then(|d| d.rules().first());
        let copy = rule.and_then(|r| r.copy_actions().first());
        let string = |v: Option<&str>| v.map(str::to_owned);
        Ok(Some(Found {
            inputs: Inputs {
                name: document.map_or("", |d| d.backup_plan_name()).to_owned(),
                rule_name: string(rule.map(|r| r.rule_name())),
                target_vault_name: string(rule.map(|r| r.target_backup_vault_name())),
                schedule_expression: string(rule.and_then(|r| r.schedule_expression())),
                start_window_minutes: rule.and_then(|r| r.start_window_minutes()),
                completion_window_minutes: rule.and_then(|r| r.completion_window_minutes()),
                delete_after_days: rule
                    .and_then(|r| r.lifecycle())
                    .and_then(Lifecycle::delete_after_days),
                copy_destination_vault_arn: string(copy.map(|c| c.destination_backup_vault_arn())),
                copy_delete_after_days: copy
                    .and_then(|c| c.lifecycle())
                    .and_then(Lifecycle::delete_after_days),
                tags: user_tags(tags),
            },
            outputs: outputs(id, &arn, plan.version_id().unwrap_or_default()),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let config = config(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        // The rule: every input but the name (fixed) and the tags.
        let rule = |i: &Inputs| Inputs {
            name: String::new(),
            tags: Tags::new(),
            ..i.clone()
        };
        if rule(prior) != rule(inputs) {
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
        retag(&client, &arn, &prior.tags, &inputs.tags).await?;
        Ok(outputs(id, &arn, plan.version_id().unwrap_or_default()))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        config(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        let plans = self.live(&client, |name| name == inputs.name).await?;
        the_one(
            ctx,
            plans
                .into_iter()
                .filter(|(_, _, tags)| made_for(ctx, tags))
                .map(|(id, _, _)| id),
        )
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
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

    /// The live plans tagged (or, untagged, named) for the environment; a
    /// deleted plan is listed only on request (`includeDeleted`): gone.
    async fn list(&self, scope: &ListScope) -> Listed {
        let plans = self.live(&self.0.backup(&scope.region), |_| true).await?;
        Ok(plans
            .into_iter()
            .filter(|(_, name, tags)| in_env(&scope.env, tags, Some(name)))
            .map(|(id, _, _)| id)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value as Json;

    use super::*;

    fn ctx() -> OpContext {
        crate::support::unit_test_ctx("primary/backup.plan/payment")
    }

    fn inputs(changes: Json) -> Json {
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
        v
    }

    /// Why inputs are refused: the struct's refusal, or the check's.
    fn refused(changes: Json) -> String {
        match serde_json::from_value::<Inputs>(inputs(changes)) {
            Ok(i) => config(&ctx(), &i).unwrap_err().message,
            Err(e) => e.to_string(),
        }
    }

    fn accepted(changes: Json) -> Config {
        config(&ctx(), &serde_json::from_value(inputs(changes)).unwrap()).unwrap()
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
        accepted(json!({}));
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
        assert!(refused(json!({"schedule": "x"})).contains("unknown field `schedule`"));
        let no_copy =
            accepted(json!({"copy_destination_vault_arn": null, "copy_delete_after_days": null}));
        assert_eq!(no_copy.copy, None);
    }
}
