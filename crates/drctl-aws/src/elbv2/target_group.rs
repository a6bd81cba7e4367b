//! `elbv2.target_group`: an HTTP target group of IP targets (what Fargate
//! tasks in awsvpc mode register as). Its id is the ARN.
//!
//! Inputs: `name` (at most 32 characters), `port`, `protocol` (`HTTP` or
//! `HTTPS`), `vpc_id`, `target_type` (`ip`), `health_check` (`{"path",
//! "interval_seconds", "timeout_seconds", "healthy_threshold",
//! "unhealthy_threshold", "matcher"}`), `deregistration_delay_seconds`,
//! `tags`. Outputs: `arn`, `arn_suffix` (`targetgroup/<name>/<id>`, the
//! CloudWatch dimension), `name`.
//!
//! CreateTargetGroup is idempotent: "If you attempt to create multiple
//! target groups with the same settings, each call succeeds" (ELB API
//! Reference, CreateTargetGroup); a create refuses one of that name drctl
//! did not make for this address. AWS refuses to delete a target group a
//! listener or rule still uses (ResourceInUse): the graph deletes the
//! listener first, and delete retries while that reaches every server.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as AwsTargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use super::{arn_suffix, elb_tags, if_ours, is_ours, sync_tags, tags_of, taken};
use crate::clients::Clients;
use crate::support::{
    Created, adopt, all_tags, api_error, attrs, create_once, invalid, observed_tags,
    only_known_inputs, retry_while,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "elbv2.target_group",
    force_new: &["name", "port", "protocol", "vpc_id", "target_type"],
    outputs: &["arn", "arn_suffix", "name"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct TargetGroup(pub(crate) Arc<Clients>);

const KEYS: [&str; 8] = [
    "name",
    "port",
    "protocol",
    "vpc_id",
    "target_type",
    "health_check",
    "deregistration_delay_seconds",
    "tags",
];
const NOT_FOUND: &[&str] = &["TargetGroupNotFound"];
const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";
/// How long a delete retries ResourceInUse after the listener's deletion.
const IN_USE_LIMIT: Duration = Duration::from_secs(2 * 60);

#[derive(Clone, Debug, PartialEq)]
struct Health {
    path: String,
    interval: i32,
    timeout: i32,
    healthy: i32,
    unhealthy: i32,
    matcher: String,
}

impl Health {
    fn to_json(&self) -> Json {
        json!({"path": self.path, "interval_seconds": self.interval, "timeout_seconds": self.timeout,
               "healthy_threshold": self.healthy, "unhealthy_threshold": self.unhealthy,
               "matcher": self.matcher})
    }
}

struct Config {
    name: String,
    port: i32,
    protocol: ProtocolEnum,
    vpc_id: String,
    health: Health,
    deregistration_delay: i32,
}

fn config(ctx: &OpContext, inputs: &Attributes) -> Result<Config, ProviderError> {
    only_known_inputs(ctx, inputs, &KEYS, "a target group")?;
    let name = match inputs.get("name").and_then(Json::as_str) {
        Some(n) if super::load_balancer::valid_name(n) => n.to_owned(),
        other => {
            return Err(invalid(
                ctx,
                format!(
                    "input `name` is {other:?}: a target group name is 1 to 32 letters, digits or `-`, not starting or ending with `-`"
                ),
            ));
        }
    };
    let int = |v: Option<&Json>, key: &str, range: std::ops::RangeInclusive<i64>| {
        v.and_then(Json::as_i64)
            .filter(|n| range.contains(n))
            .map(|n| n as i32)
            .ok_or_else(|| {
                invalid(
                    ctx,
                    format!(
                        "input `{key}` must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            })
    };
    let protocol = match inputs.get("protocol").and_then(Json::as_str) {
        Some("HTTP") => ProtocolEnum::Http,
        Some("HTTPS") => ProtocolEnum::Https,
        other => {
            return Err(invalid(
                ctx,
                format!(
                    "input `protocol` is {other:?}: an application load balancer's target group is `HTTP` or `HTTPS`"
                ),
            ));
        }
    };
    if inputs.get("target_type").and_then(Json::as_str) != Some("ip") {
        return Err(invalid(
            ctx,
            "input `target_type` must be `ip`: Fargate tasks in awsvpc mode register by IP address",
        ));
    }
    let vpc_id = inputs
        .get("vpc_id")
        .and_then(Json::as_str)
        .filter(|v| v.starts_with("vpc-"))
        .ok_or_else(|| invalid(ctx, "input `vpc_id` must be a VPC id (vpc-...)"))?
        .to_owned();
    let h = inputs
        .get("health_check")
        .filter(|h| h.is_object())
        .ok_or_else(|| invalid(ctx, "input `health_check` must be an object with `path`, `interval_seconds`, `timeout_seconds`, `healthy_threshold`, `unhealthy_threshold`, `matcher`"))?;
    let path = h
        .get("path")
        .and_then(Json::as_str)
        .filter(|p| p.starts_with('/') && p.len() <= 1024)
        .ok_or_else(|| {
            invalid(
                ctx,
                "input `health_check.path` must start with `/` (at most 1024 characters)",
            )
        })?
        .to_owned();
    let matcher = h
        .get("matcher")
        .and_then(Json::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            invalid(
                ctx,
                "input `health_check.matcher` must be HTTP codes like \"200\" or \"200-399\"",
            )
        })?
        .to_owned();
    // ELB API Reference, CreateTargetGroup: the bounds of each setting.
    let health = Health {
        path,
        interval: int(
            h.get("interval_seconds"),
            "health_check.interval_seconds",
            5..=300,
        )?,
        timeout: int(
            h.get("timeout_seconds"),
            "health_check.timeout_seconds",
            2..=120,
        )?,
        healthy: int(
            h.get("healthy_threshold"),
            "health_check.healthy_threshold",
            2..=10,
        )?,
        unhealthy: int(
            h.get("unhealthy_threshold"),
            "health_check.unhealthy_threshold",
            2..=10,
        )?,
        matcher,
    };
    if health.timeout >= health.interval {
        return Err(invalid(
            ctx,
            format!(
                "`health_check.timeout_seconds` ({}) must be less than `interval_seconds` ({})",
                health.timeout, health.interval
            ),
        ));
    }
    Ok(Config {
        name,
        port: int(inputs.get("port"), "port", 1..=65535)?,
        protocol,
        vpc_id,
        health,
        deregistration_delay: int(
            inputs.get("deregistration_delay_seconds"),
            "deregistration_delay_seconds",
            0..=3600,
        )?,
    })
}

fn outputs(tg: &AwsTargetGroup) -> Attributes {
    let arn = tg.target_group_arn().unwrap_or_default();
    attrs([
        ("arn", json!(arn)),
        ("arn_suffix", json!(arn_suffix(arn))),
        ("name", json!(tg.target_group_name().unwrap_or_default())),
    ])
}

async fn describe(
    client: &Client,
    by_name: bool,
    key: &str,
) -> Result<Option<AwsTargetGroup>, ProviderError> {
    let request = client.describe_target_groups();
    let request = if by_name {
        request.names(key)
    } else {
        request.target_group_arns(key)
    };
    let result = request.send().await;
    Ok(crate::support::found(
        result,
        NOT_FOUND,
        "elasticloadbalancing:DescribeTargetGroups",
    )?
    .and_then(|out| out.target_groups().first().cloned()))
}

async fn set_deregistration_delay(
    client: &Client,
    arn: &str,
    seconds: i32,
) -> Result<(), ProviderError> {
    client
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .attributes(
            TargetGroupAttribute::builder()
                .key(DEREGISTRATION_DELAY)
                .value(seconds.to_string())
                .build(),
        )
        .send()
        .await
        .map_err(|e| api_error("elasticloadbalancing:ModifyTargetGroupAttributes", e))?;
    Ok(())
}

#[async_trait]
impl Provider for TargetGroup {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.elbv2(&ctx.region);
        if let Some(existing) = describe(&client, true, &config.name).await? {
            let arn = existing.target_group_arn().unwrap_or_default();
            let tags = tags_of(&client, arn).await?.unwrap_or_default();
            if !is_ours(ctx, &tags) {
                return Err(taken(
                    ctx,
                    "a target group named",
                    &config.name,
                    &tags,
                    &format!(
                        "delete it (aws elbv2 delete-target-group --target-group-arn {arn}) or rename this one"
                    ),
                ));
            }
        }
        let h = &config.health;
        // An unanswered create is looked up (`find`: by name or port and
        // identity tags) before it is sent again.
        let request = self
            .0
            .elbv2_once(&ctx.region)
            .create_target_group()
            .name(&config.name)
            .protocol(config.protocol.clone())
            .port(config.port)
            .vpc_id(&config.vpc_id)
            .target_type(TargetTypeEnum::Ip)
            .health_check_enabled(true)
            .health_check_protocol(config.protocol.clone())
            .health_check_path(&h.path)
            .health_check_interval_seconds(h.interval)
            .health_check_timeout_seconds(h.timeout)
            .healthy_threshold_count(h.healthy)
            .unhealthy_threshold_count(h.unhealthy)
            .matcher(Matcher::builder().http_code(&h.matcher).build())
            .set_tags(Some(elb_tags(all_tags(ctx, inputs))));
        let created = create_once(
            "elasticloadbalancing:CreateTargetGroup",
            &[],
            || request.clone().send(),
            || self.find(ctx, inputs),
        )
        .await?;
        let out = match created {
            Created::Sent(out) => out,
            Created::Found(id) => {
                return {
                    set_deregistration_delay(&client, &id, config.deregistration_delay).await?;
                    adopt(self, ctx, id, inputs).await
                };
            }
        };
        let tg = out.target_groups().first().cloned().ok_or_else(|| {
            ProviderError::new(
                "elasticloadbalancing:CreateTargetGroup",
                "no target group in the response",
            )
        })?;
        let arn = tg.target_group_arn().unwrap_or_default().to_owned();
        set_deregistration_delay(&client, &arn, config.deregistration_delay).await?;
        Ok(Applied {
            id: arn,
            outputs: outputs(&tg),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let client = self.0.elbv2(&ctx.region);
        let Some(tg) = describe(&client, false, id).await? else {
            return Ok(None);
        };
        let Some(tags) = tags_of(&client, id).await? else {
            return Ok(None);
        };
        let result = client
            .describe_target_group_attributes()
            .target_group_arn(id)
            .send()
            .await;
        let Some(attributes) = crate::support::found(
            result,
            NOT_FOUND,
            "elasticloadbalancing:DescribeTargetGroupAttributes",
        )?
        else {
            return Ok(None);
        };
        let delay: i64 = attributes
            .attributes()
            .iter()
            .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
            .and_then(|a| a.value())
            .and_then(|v| v.parse().ok())
            .unwrap_or(300);
        let health = Health {
            path: tg.health_check_path().unwrap_or_default().to_owned(),
            interval: tg.health_check_interval_seconds().unwrap_or(0),
            timeout: tg.health_check_timeout_seconds().unwrap_or(0),
            healthy: tg.healthy_threshold_count().unwrap_or(0),
            unhealthy: tg.unhealthy_threshold_count().unwrap_or(0),
            matcher: tg
                .matcher()
                .and_then(|m| m.http_code())
                .unwrap_or_default()
                .to_owned(),
        };
        Ok(Some(Observed {
            inputs: attrs([
                ("name", json!(tg.target_group_name().unwrap_or_default())),
                ("port", json!(tg.port())),
                ("protocol", json!(tg.protocol().map(|p| p.as_str()))),
                ("vpc_id", json!(tg.vpc_id())),
                ("target_type", json!(tg.target_type().map(|t| t.as_str()))),
                ("health_check", health.to_json()),
                ("deregistration_delay_seconds", json!(delay)),
                ("tags", observed_tags(tags)),
            ]),
            outputs: outputs(&tg),
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
        let client = self.0.elbv2(&ctx.region);
        if prior.get("health_check") != inputs.get("health_check") {
            let h = &config.health;
            client
                .modify_target_group()
                .target_group_arn(id)
                .health_check_path(&h.path)
                .health_check_interval_seconds(h.interval)
                .health_check_timeout_seconds(h.timeout)
                .healthy_threshold_count(h.healthy)
                .unhealthy_threshold_count(h.unhealthy)
                .matcher(Matcher::builder().http_code(&h.matcher).build())
                .send()
                .await
                .map_err(|e| api_error("elasticloadbalancing:ModifyTargetGroup", e))?;
        }
        if prior.get("deregistration_delay_seconds") != inputs.get("deregistration_delay_seconds") {
            set_deregistration_delay(&client, id, config.deregistration_delay).await?;
        }
        sync_tags(&client, id, prior, inputs).await?;
        let tg = describe(&client, false, id).await?.ok_or_else(|| {
            ProviderError::new(
                "elasticloadbalancing:DescribeTargetGroups",
                format!("target group {id} is gone"),
            )
        })?;
        Ok(outputs(&tg))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.elbv2(&ctx.region);
        let Some(tg) = describe(&client, true, &config.name).await? else {
            return Ok(None);
        };
        if_ours(&client, ctx, tg.target_group_arn()).await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let client = self.0.elbv2(&ctx.region);
        if !super::confirm_owned(&client, ctx, "target group", id).await? {
            return Ok(());
        }
        retry_while(
            IN_USE_LIMIT,
            |e| e.code.as_deref() == Some("ResourceInUse"),
            || async {
                let result = client
                    .delete_target_group()
                    .target_group_arn(id)
                    .send()
                    .await;
                crate::support::tolerate(
                    result,
                    NOT_FOUND,
                    "elasticloadbalancing:DeleteTargetGroup",
                )
            },
        )
        .await
    }
}
