//! `events.rule`: an EventBridge rule on the region's default event bus,
//! run on a schedule (`schedule_expression`), on matching events
//! (`event_pattern`), or both, with its targets. Its id is the name.
//!
//! Inputs, as a read returns them:
//! - `name`, `description` (`""` when none), `state` (`ENABLED`,
//!   `DISABLED`, `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`), `tags`;
//! - `schedule_expression` (`rate(...)` / `cron(...)`) and `event_pattern`
//!   (a JSON object), each present only when the rule has it;
//! - `targets`: `[{"id", "arn"}]`, in the prior inputs' order (EventBridge
//!   keeps them by id). Only a target's id and ARN are managed: no input
//!   transformer, role or retry policy.
//!
//! PutRule creates or replaces a rule by name (EventBridge API Reference,
//! PutRule): it takes no idempotency token and needs none, since sending
//! it again after a lost answer updates the same rule. It would as well
//! take over another rule of that name, which create refuses (`RuleExists`)
//! unless the rule carries this address's `drctl:*` tags. PutRule ignores
//! `Tags` when the rule exists, so tags change with TagResource /
//! UntagResource. A rule with targets cannot be deleted: delete removes
//! them first.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::operation::describe_rule::DescribeRuleOutput;
use aws_sdk_eventbridge::types::{RuleState, Tag, Target};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{TAG_ADDRESS, api_error, attrs, found, invalid, retry_while, wait_for};
use crate::tags::{
    ReadTags, arn_tag_api, checked, in_env, made_for, retag, to_sdk, user_tags, with_identity,
};

pub static SCHEMA: KindSchema = KindSchema::new("events.rule", Latency::calls(1, 1, 1))
    .force_new(&["name"])
    .outputs(&["arn", "name"]);

pub struct Rule(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

/// EventBridge's reads are eventually consistent: a rule just put may not
/// be described, or take targets, for a while (the Terraform AWS provider
/// waits 2 minutes for it).
const PROPAGATION: Duration = Duration::from_secs(120);
/// DeleteRule refuses a rule whose targets' removal has not yet reached
/// every server (the Terraform AWS provider retries it for 5 minutes).
const DELETE_LIMIT: Duration = Duration::from_secs(5 * 60);
/// Each rule can have up to five targets (EventBridge API Reference,
/// PutTargets).
const MAX_TARGETS: usize = 5;
/// Entries per PutTargets / RemoveTargets request.
const TARGETS_PER_REQUEST: usize = 10;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule_expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_pattern: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    targets: Option<Vec<RuleTarget>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// One target: what the rule invokes. Only its id and ARN are managed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RuleTarget {
    id: String,
    arn: String,
}

/// The rule's settings, checked before any call.
#[derive(Clone, Debug, PartialEq)]
struct Config {
    name: String,
    description: String,
    schedule_expression: Option<String>,
    event_pattern: Option<Json>,
    state: RuleState,
    targets: Vec<RuleTarget>,
}

const STATES: [&str; 3] = [
    "ENABLED",
    "DISABLED",
    "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
];

/// Rule names and target ids: 1 to 64 of `.`, `-`, `_`, letters, digits
/// (EventBridge API Reference, PutRule `Name`, Target `Id`).
fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Why `expression` is not a schedule EventBridge takes, if it is not:
/// `rate(value unit)`, a positive whole value, the unit singular for 1 and
/// plural above (User Guide, "Rate expressions reference"); `cron(...)` of
/// six fields, not both day-of-month and day-of-week given (one is `?`)
/// (User Guide, "Cron expressions reference"); at most 256 characters.
fn schedule_error(expression: &str) -> Option<String> {
    if expression.len() > 256 {
        return Some("is longer than 256 characters".into());
    }
    if let Some(body) = expression
        .strip_prefix("rate(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let Some((value, unit)) = body.split_once(' ') else {
            return Some("is not `rate(<value> <unit>)`".into());
        };
        let Ok(value) = value.parse::<u64>() else {
            return Some(format!("has the value {value:?}, not a whole number"));
        };
        if value == 0 {
            return Some("has the value 0; it must be positive".into());
        }
        let singular = ["minute", "hour", "day"];
        let plural = ["minutes", "hours", "days"];
        return match (value == 1, singular.contains(&unit), plural.contains(&unit)) {
            (true, true, _) | (false, _, true) => None,
            (true, false, true) => Some(format!(
                "says `{unit}` for 1: the unit is singular for 1 (`rate(1 {})`)",
                unit.trim_end_matches('s')
            )),
            (false, true, _) => Some(format!(
                "says `{unit}` for {value}: the unit is plural above 1 (`rate({value} {unit}s)`)"
            )),
            _ => Some(format!(
                "has the unit {unit:?}, not minute(s), hour(s) or day(s)"
            )),
        };
    }
    if let Some(body) = expression
        .strip_prefix("cron(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let fields: Vec<&str> = body.split(' ').collect();
        if fields.len() != 6 || fields.iter().any(|f| f.is_empty()) {
            return Some(format!(
                "has {} fields; cron takes six: minutes hours day-of-month month day-of-week year",
                fields.len()
            ));
        }
        if fields[2] != "?" && fields[4] != "?" {
            return Some("gives both day-of-month and day-of-week; one of them must be `?`".into());
        }
        return None;
    }
    Some("is neither `rate(...)` nor `cron(...)`".into())
}

/// The inputs' settings, or an error naming the input at fault and the fix.
fn config(ctx: &OpContext, inputs: &Inputs) -> Result<Config, ProviderError> {
    let name = inputs.name.clone();
    if !valid_name(&name) {
        return Err(invalid(
            ctx,
            format!(
                "input `name` is {name:?}: a rule name is 1 to 64 letters, digits, `.`, `-` or `_`"
            ),
        ));
    }
    let description = inputs.description.clone().unwrap_or_default();
    if description.chars().count() > 512 {
        return Err(invalid(
            ctx,
            "input `description` must be a string of at most 512 characters",
        ));
    }
    let schedule_expression = inputs.schedule_expression.clone();
    if let Some(s) = &schedule_expression
        && let Some(why) = schedule_error(s)
    {
        return Err(invalid(
            ctx,
            format!(
                "input `schedule_expression` {s:?} {why}: e.g. `rate(1 minute)`, `rate(5 minutes)`, `cron(0 12 * * ? *)`"
            ),
        ));
    }
    let event_pattern = match &inputs.event_pattern {
        None => None,
        Some(p @ Json::Object(m)) if !m.is_empty() && p.to_string().len() <= 4096 => {
            Some(p.clone())
        }
        Some(other) => {
            return Err(invalid(
                ctx,
                format!(
                    "input `event_pattern` must be a non-empty JSON object of at most 4096 characters (e.g. {{\"source\": [\"aws.backup\"]}}), not {other}"
                ),
            ));
        }
    };
    if schedule_expression.is_none() && event_pattern.is_none() {
        return Err(invalid(
            ctx,
            "the rule needs `schedule_expression`, `event_pattern` or both: EventBridge runs a rule on one of them",
        ));
    }
    let state = match inputs.state.as_deref() {
        None => RuleState::Enabled,
        Some(s) if STATES.contains(&s) => RuleState::from(s),
        Some(other) => {
            return Err(invalid(
                ctx,
                format!(
                    "input `state` is {other:?}: use one of {}",
                    STATES.join(", ")
                ),
            ));
        }
    };
    let targets = targets(ctx, inputs.targets.as_deref().unwrap_or_default())?;
    Ok(Config {
        name,
        description,
        schedule_expression,
        event_pattern,
        state,
        targets,
    })
}

fn targets(ctx: &OpContext, list: &[RuleTarget]) -> Result<Vec<RuleTarget>, ProviderError> {
    if list.len() > MAX_TARGETS {
        return Err(invalid(
            ctx,
            format!(
                "input `targets` has {} targets; EventBridge allows at most {MAX_TARGETS} per rule: split them over several rules",
                list.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, RuleTarget { id, arn }) in list.iter().enumerate() {
        if !valid_name(id) {
            return Err(invalid(
                ctx,
                format!(
                    "`targets[{i}].id` is {id:?}: a target id is 1 to 64 letters, digits, `.`, `-` or `_`"
                ),
            ));
        }
        if !arn.starts_with("arn:") || arn.len() > 1600 {
            return Err(invalid(
                ctx,
                format!(
                    "`targets[{i}].arn` is {arn:?}, not an ARN (`arn:...`, at most 1600 characters)"
                ),
            ));
        }
        if !seen.insert(id) {
            return Err(invalid(
                ctx,
                format!("`targets` names the id {id:?} twice: each target needs an id of its own"),
            ));
        }
    }
    Ok(list.to_vec())
}

arn_tag_api!(Client, "events", checked::<Tag>, gone: NOT_FOUND);

fn outputs(arn: &str, name: &str) -> Attributes {
    attrs([("arn", json!(arn)), ("name", json!(name))])
}

/// The observed targets in the order of `prior`'s (ids it does not name
/// last, by id), so a refresh of unchanged targets shows no change.
fn in_prior_order(mut observed: Vec<RuleTarget>, prior: &Inputs) -> Vec<RuleTarget> {
    let order: Vec<&str> = prior
        .targets
        .iter()
        .flatten()
        .map(|t| t.id.as_str())
        .collect();
    observed.sort_by(|a, b| {
        let rank = |t: &RuleTarget| order.iter().position(|id| *id == t.id);
        match (rank(a), rank(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.id.cmp(&b.id),
        }
    });
    observed
}

/// The entries a PutTargets / RemoveTargets answer lists as failed, as one
/// error naming each target (the call answers HTTP 200 all the same).
fn failed_entries<'a>(
    operation: &str,
    rule: &str,
    entries: impl Iterator<Item = (Option<&'a str>, Option<&'a str>, Option<&'a str>)>,
) -> Result<(), ProviderError> {
    let entries: Vec<_> = entries.collect();
    let Some((_, first_code, _)) = entries.first() else {
        return Ok(());
    };
    let named: Vec<String> = entries
        .iter()
        .map(|(id, code, message)| {
            format!(
                "{} ({})",
                id.unwrap_or("?"),
                message.or(*code).unwrap_or("no reason given")
            )
        })
        .collect();
    Err(ProviderError::new(
        operation,
        format!(
            "rule {rule}: {} target(s) failed: {}; run the apply again (EventBridge fails entries when requests on a rule race)",
            named.len(),
            named.join(", ")
        ),
    )
    .with_code(first_code.unwrap_or("FailedEntries")))
}

/// [`failed_entries`] of a PutTargets or RemoveTargets answer (each has
/// its own entry type, of the same shape).
macro_rules! failed_entries {
    ($operation:expr, $rule:expr, $out:expr) => {
        failed_entries(
            $operation,
            $rule,
            $out.failed_entries()
                .iter()
                .map(|f| (f.target_id(), f.error_code(), f.error_message())),
        )
    };
}

impl Rule {
    async fn describe(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<Option<DescribeRuleOutput>, ProviderError> {
        let result = client.describe_rule().name(name).send().await;
        found(result, NOT_FOUND, "events:DescribeRule")
    }

    /// The rule's targets; `None` when the rule is gone.
    async fn targets(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<Option<Vec<RuleTarget>>, ProviderError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let result = client
                .list_targets_by_rule()
                .rule(name)
                .set_next_token(token.take())
                .send()
                .await;
            let Some(page) = found(result, NOT_FOUND, "events:ListTargetsByRule")? else {
                return Ok(None);
            };
            all.extend(page.targets().iter().map(|t| RuleTarget {
                id: t.id().to_owned(),
                arn: t.arn().to_owned(),
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(Some(all)),
            }
        }
    }

    /// PutRule with every setting: an update replaces the whole rule
    /// (settings left out are cleared). `tags` only on create.
    async fn put_rule(
        &self,
        client: &Client,
        config: &Config,
        tags: Option<Vec<Tag>>,
    ) -> Result<String, ProviderError> {
        let out = client
            .put_rule()
            .name(&config.name)
            .description(&config.description)
            .set_schedule_expression(config.schedule_expression.clone())
            .set_event_pattern(config.event_pattern.as_ref().map(Json::to_string))
            .state(config.state.clone())
            .set_tags(tags)
            .send()
            .await
            .map_err(|e| api_error("events:PutRule", e))?;
        out.rule_arn()
            .map(str::to_owned)
            .ok_or_else(|| ProviderError::new("events:PutRule", "no rule ARN in the response"))
    }

    /// Brings the rule's targets from `current` to `wanted`: removes the
    /// ids no longer wanted first (a rule holds at most five), then puts
    /// the new and changed ones. A rule just put may not take targets yet.
    async fn sync_targets(
        &self,
        client: &Client,
        rule: &str,
        current: &[RuleTarget],
        wanted: &[RuleTarget],
    ) -> Result<(), ProviderError> {
        let remove: Vec<String> = current
            .iter()
            .filter(|c| !wanted.iter().any(|w| w.id == c.id))
            .map(|c| c.id.clone())
            .collect();
        self.remove_targets(client, rule, &remove).await?;
        let put: Vec<&RuleTarget> = wanted.iter().filter(|w| !current.contains(w)).collect();
        for chunk in put.chunks(TARGETS_PER_REQUEST) {
            let targets = chunk
                .iter()
                .map(|t| {
                    Target::builder()
                        .id(&t.id)
                        .arn(&t.arn)
                        .build()
                        .map_err(|e| ProviderError::new("events:Target", e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let request = client.put_targets().rule(rule).set_targets(Some(targets));
            let out = retry_while(
                PROPAGATION,
                |e| e.code.as_deref() == Some("ResourceNotFoundException"),
                || {
                    let request = request.clone();
                    async move {
                        request
                            .send()
                            .await
                            .map_err(|e| api_error("events:PutTargets", e))
                    }
                },
            )
            .await?;
            failed_entries!("events:PutTargets", rule, out)?;
        }
        Ok(())
    }

    async fn remove_targets(
        &self,
        client: &Client,
        rule: &str,
        ids: &[String],
    ) -> Result<(), ProviderError> {
        for chunk in ids.chunks(TARGETS_PER_REQUEST) {
            let result = client
                .remove_targets()
                .rule(rule)
                .set_ids(Some(chunk.to_vec()))
                .send()
                .await;
            let Some(out) = found(result, NOT_FOUND, "events:RemoveTargets")? else {
                return Ok(());
            };
            failed_entries!("events:RemoveTargets", rule, out)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Kind for Rule {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let config = config(ctx, inputs)?;
        let client = self.0.eventbridge(&ctx.region);
        // PutRule would take over a rule of this name made by someone else.
        if let Some(existing) = self.describe(&client, &config.name).await? {
            let arn = existing.arn().unwrap_or_default();
            let tags = client.read_tags(arn).await?.unwrap_or_default();
            let ours = made_for(ctx, &tags);
            if !ours {
                return Err(ProviderError::new(
                    format!("create {}", ctx.address),
                    format!(
                        "an EventBridge rule named {} already exists in {} and drctl did not create it for this address (its {TAG_ADDRESS} tag: {}); delete it (aws events remove-targets, then aws events delete-rule --name {}) or rename this one",
                        config.name,
                        ctx.region,
                        tags.get(TAG_ADDRESS).map_or("none", String::as_str),
                        config.name
                    ),
                )
                .with_code("RuleExists"));
            }
        }
        let tags = to_sdk::<Tag>(with_identity(ctx, &inputs.tags))?;
        let arn = self.put_rule(&client, &config, Some(tags)).await?;
        wait_for(
            &format!("rule {} described", config.name),
            PROPAGATION,
            || async {
                Ok(match self.describe(&client, &config.name).await? {
                    Some(_) => Ok(()),
                    None => Err("not found".to_owned()),
                })
            },
        )
        .await?;
        let current = self
            .targets(&client, &config.name)
            .await?
            .unwrap_or_default();
        self.sync_targets(&client, &config.name, &current, &config.targets)
            .await?;
        Ok(Applied {
            id: config.name.clone(),
            outputs: outputs(&arn, &config.name),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let client = self.0.eventbridge(&ctx.region);
        let Some(rule) = self.describe(&client, id).await? else {
            return Ok(None);
        };
        let arn = rule.arn().unwrap_or_default().to_owned();
        let Some(tags) = client.read_tags(&arn).await? else {
            return Ok(None);
        };
        let Some(targets) = self.targets(&client, id).await? else {
            return Ok(None);
        };
        let event_pattern = rule
            .event_pattern()
            .map(|p| {
                serde_json::from_str(p).map_err(|e| {
                    ProviderError::new(
                        "events:DescribeRule",
                        format!("rule {id}: EventPattern is not JSON: {e}"),
                    )
                })
            })
            .transpose()?;
        let inputs = Inputs {
            name: rule.name().unwrap_or(id).to_owned(),
            description: Some(rule.description().unwrap_or_default().to_owned()),
            schedule_expression: rule.schedule_expression().map(str::to_owned),
            event_pattern,
            state: Some(rule.state().map_or("ENABLED", RuleState::as_str).to_owned()),
            targets: Some(in_prior_order(targets, prior)),
            tags: user_tags(tags),
        };
        Ok(Some(Found {
            inputs,
            outputs: outputs(&arn, id),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let config = config(ctx, inputs)?;
        let client = self.0.eventbridge(&ctx.region);
        let settings_changed = prior.description != inputs.description
            || prior.schedule_expression != inputs.schedule_expression
            || prior.event_pattern != inputs.event_pattern
            || prior.state != inputs.state;
        if settings_changed {
            self.put_rule(&client, &config, None).await?;
        }
        // Against what the rule holds now, whatever prior says.
        let current = self.targets(&client, id).await?.ok_or_else(|| {
            ProviderError::new(
                "events:ListTargetsByRule",
                format!("rule {id} disappeared during update"),
            )
        })?;
        self.sync_targets(&client, id, &current, &config.targets)
            .await?;
        let rule = self.describe(&client, id).await?.ok_or_else(|| {
            ProviderError::new(
                "events:DescribeRule",
                format!("rule {id} disappeared during update"),
            )
        })?;
        let arn = rule.arn().unwrap_or_default().to_owned();
        retag(&client, &arn, &prior.tags, &inputs.tags).await?;
        Ok(outputs(&arn, id))
    }

    /// Rule names are unique per event bus: the rule of this name, if it
    /// carries this address's identity tags (PutRule tags a new rule, so
    /// every rule drctl created has them).
    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let config = config(ctx, inputs)?;
        let client = self.0.eventbridge(&ctx.region);
        let Some(rule) = self.describe(&client, &config.name).await? else {
            return Ok(None);
        };
        let Some(tags) = client.read_tags(rule.arn().unwrap_or_default()).await? else {
            return Ok(None);
        };
        let ours = made_for(ctx, &tags);
        Ok(ours.then_some(config.name))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let client = self.0.eventbridge(&ctx.region);
        let Some(rule) = self.describe(&client, id).await? else {
            return Ok(());
        };
        let Some(tags) = client.read_tags(rule.arn().unwrap_or_default()).await? else {
            return Ok(());
        };
        let named = Some(inputs.name.as_str()).filter(|n| *n == id);
        crate::support::confirm_owned(
            ctx,
            "delete",
            &format!("EventBridge rule {id}"),
            &tags,
            named,
        )?;
        // AWS refuses to delete a rule with targets ("Rule can't be deleted
        // since it has targets"), also while a removal is still on its way
        // to every server: remove what is listed, delete, and again.
        retry_while(
            DELETE_LIMIT,
            |e| e.message.contains("has targets"),
            || {
                let client = client.clone();
                async move {
                    let Some(targets) = self.targets(&client, id).await? else {
                        return Ok(());
                    };
                    let ids: Vec<String> = targets.into_iter().map(|t| t.id).collect();
                    self.remove_targets(&client, id, &ids).await?;
                    // Deleting a rule that is gone succeeds.
                    let result = client.delete_rule().name(id).send().await;
                    found(result, NOT_FOUND, "events:DeleteRule").map(|_| ())
                }
            },
        )
        .await
    }

    /// The region's rules (default bus) claimed by the `drctl:env` tag
    /// (ListRules has no tag filter), or named for the environment.
    /// EventBridge's SDK has no paginator for ListRules: the pages are
    /// followed by their token.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.eventbridge(&scope.region);
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = client
                .list_rules()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| api_error("events:ListRules", e))?;
            for rule in page.rules() {
                let (Some(name), Some(arn)) = (rule.name(), rule.arn()) else {
                    continue;
                };
                // Listed, then deleted before its tags were read: gone.
                if let Some(tags) = client.read_tags(arn).await?
                    && in_env(&scope.env, &tags, Some(name))
                {
                    ids.push(name.to_owned());
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(ids),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> OpContext {
        crate::support::unit_test_ctx("primary/events.rule/health-monitor")
    }

    /// Why the engine's create of `v` is refused, before any call (the
    /// endpoint is unreachable).
    async fn refused(v: Json) -> String {
        let aws = crate::AwsContext::unreachable().await;
        let rule = crate::kind::Typed::new(Rule(aws.clients()), &SCHEMA);
        drctl_core::Provider::create(&rule, &ctx(), &serde_json::from_value(v).unwrap())
            .await
            .unwrap_err()
            .message
    }

    #[test]
    fn schedules_follow_the_rate_and_cron_rules() {
        for ok in [
            "rate(1 minute)",
            "rate(5 minutes)",
            "rate(1 day)",
            "cron(0 12 * * ? *)",
        ] {
            assert_eq!(schedule_error(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("rate(1 minutes)", "singular for 1"),
            ("rate(5 minute)", "plural above 1"),
            ("rate(0 minutes)", "positive"),
            ("rate(1 week)", "minute(s), hour(s) or day(s)"),
            ("cron(0 12 * * *)", "six"),
            ("cron(0 12 1 * MON *)", "must be `?`"),
            ("every minute", "neither"),
        ] {
            let e = schedule_error(bad).unwrap();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn invalid_inputs_are_named_with_the_fix() {
        let m = refused(json!({"name": "r"})).await;
        assert!(
            m.contains("`schedule_expression`, `event_pattern` or both"),
            "{m}"
        );
        let m = refused(json!({"name": "r w", "schedule_expression": "rate(1 minute)"})).await;
        assert!(m.contains("input `name`"), "{m}");
        let m = refused(
            json!({"name": "r", "schedule_expression": "rate(1 minute)", "targets": [{"id": "a", "arn": "x"}]}),
        ).await;
        assert!(m.contains("`targets[0].arn`"), "{m}");
        let m = refused(json!({"name": "r", "schedule_expression": "rate(1 minute)",
            "targets": [{"id": "a", "arn": "arn:a"}, {"id": "a", "arn": "arn:b"}]}))
        .await;
        assert!(m.contains("twice"), "{m}");
        let six: Vec<Json> = (0..6)
            .map(|i| json!({"id": format!("t{i}"), "arn": "arn:x"}))
            .collect();
        let m =
            refused(json!({"name": "r", "schedule_expression": "rate(1 minute)", "targets": six}))
                .await;
        assert!(m.contains("at most 5"), "{m}");
        let m =
            refused(json!({"name": "r", "schedule_expression": "rate(1 minute)", "state": "ON"}))
                .await;
        assert!(m.contains("ENABLED, DISABLED"), "{m}");
        let m = refused(json!({"name": "r", "schedule": "rate(1 minute)"})).await;
        assert!(m.contains("unknown input `schedule`"), "{m}");
    }

    #[test]
    fn targets_read_back_in_the_prior_order() {
        let t = |id: &str| RuleTarget {
            id: id.into(),
            arn: format!("arn:{id}"),
        };
        let prior: Inputs = serde_json::from_value(json!({"name": "r",
            "targets": [{"id": "b", "arn": "arn:b"}, {"id": "a", "arn": "arn:a"}]}))
        .unwrap();
        let seen = in_prior_order(vec![t("c"), t("a"), t("b")], &prior);
        assert_eq!(seen, vec![t("b"), t("a"), t("c")]);
    }
}
