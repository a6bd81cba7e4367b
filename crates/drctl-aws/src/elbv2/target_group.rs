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
use aws_sdk_elasticloadbalancingv2::types::Tag;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as AwsTargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Described, Key, arn_suffix, find_named, list_named, refuse_taken, tags_of};
use crate::clients::Clients;
use crate::ecs::int_in;
use crate::kind::adopt;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{Created, all_items, api_error, attrs, found, invalid, retry_while};
use crate::tags::{Tags, retag, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new("elbv2.target_group", Latency::calls(1, 1, 1))
    .force_new(&["name", "port", "protocol", "vpc_id", "target_type"])
    .outputs(&["arn", "arn_suffix", "name"]);

pub struct TargetGroup(pub(crate) Arc<Clients>);

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    port: i64,
    /// `HTTP` or `HTTPS`.
    protocol: String,
    vpc_id: String,
    /// `ip`.
    target_type: String,
    health_check: Health,
    deregistration_delay_seconds: i64,
    #[serde(default)]
    tags: Tags,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Health {
    path: String,
    interval_seconds: i64,
    timeout_seconds: i64,
    healthy_threshold: i64,
    unhealthy_threshold: i64,
    /// HTTP codes: `200`, `200-399`.
    matcher: String,
}

const NOT_FOUND: &[&str] = &["TargetGroupNotFound"];
const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";
/// How long a delete retries ResourceInUse after the listener's deletion.
const IN_USE_LIMIT: Duration = Duration::from_secs(2 * 60);

/// The inputs as the calls take them, checked before any call.
struct Config {
    port: i32,
    protocol: ProtocolEnum,
    interval: i32,
    timeout: i32,
    healthy: i32,
    unhealthy: i32,
    deregistration_delay: i32,
}

fn config(ctx: &OpContext, inputs: &Inputs) -> Result<Config, ProviderError> {
    let name = &inputs.name;
    if !super::load_balancer::valid_name(name) {
        return Err(invalid(
            ctx,
            format!(
                "input `name` is {name:?}: a target group name is 1 to 32 letters, digits or `-`, not starting or ending with `-`"
            ),
        ));
    }
    let protocol = match inputs.protocol.as_str() {
        "HTTP" => ProtocolEnum::Http,
        "HTTPS" => ProtocolEnum::Https,
        other => {
            return Err(invalid(
                ctx,
                format!(
                    "input `protocol` is {other:?}: an application load balancer's target group is `HTTP` or `HTTPS`"
                ),
            ));
        }
    };
    if inputs.target_type != "ip" {
        return Err(invalid(
            ctx,
            "input `target_type` must be `ip`: Fargate tasks in awsvpc mode register by IP address",
        ));
    }
    if !inputs.vpc_id.starts_with("vpc-") {
        return Err(invalid(ctx, "input `vpc_id` must be a VPC id (vpc-...)"));
    }
    let h = &inputs.health_check;
    if !h.path.starts_with('/') || h.path.len() > 1024 {
        return Err(invalid(
            ctx,
            "input `health_check.path` must start with `/` (at most 1024 characters)",
        ));
    }
    if h.matcher.is_empty() {
        return Err(invalid(
            ctx,
            "input `health_check.matcher` must be HTTP codes like \"200\" or \"200-399\"",
        ));
    }
    // ELB API Reference, CreateTargetGroup: the bounds of each setting.
    let config = Config {
        port: int_in(ctx, "port", inputs.port, 1..=65535)?,
        protocol,
        interval: int_in(
            ctx,
            "health_check.interval_seconds",
            h.interval_seconds,
            5..=300,
        )?,
        timeout: int_in(
            ctx,
            "health_check.timeout_seconds",
            h.timeout_seconds,
            2..=120,
        )?,
        healthy: int_in(
            ctx,
            "health_check.healthy_threshold",
            h.healthy_threshold,
            2..=10,
        )?,
        unhealthy: int_in(
            ctx,
            "health_check.unhealthy_threshold",
            h.unhealthy_threshold,
            2..=10,
        )?,
        deregistration_delay: int_in(
            ctx,
            "deregistration_delay_seconds",
            inputs.deregistration_delay_seconds,
            0..=3600,
        )?,
    };
    if config.timeout >= config.interval {
        return Err(invalid(
            ctx,
            format!(
                "`health_check.timeout_seconds` ({}) must be less than `interval_seconds` ({})",
                config.timeout, config.interval
            ),
        ));
    }
    Ok(config)
}

/// The health check settings on a CreateTargetGroup or ModifyTargetGroup
/// request (two builder types with the same setters).
macro_rules! health {
    ($request:expr, $config:expr, $h:expr) => {
        $request
            .health_check_path(&$h.path)
            .health_check_interval_seconds($config.interval)
            .health_check_timeout_seconds($config.timeout)
            .healthy_threshold_count($config.healthy)
            .unhealthy_threshold_count($config.unhealthy)
            .matcher(Matcher::builder().http_code(&$h.matcher).build())
    };
}

fn outputs(tg: &AwsTargetGroup) -> Attributes {
    let arn = tg.target_group_arn().unwrap_or_default();
    attrs([
        ("arn", json!(arn)),
        ("arn_suffix", json!(arn_suffix(arn))),
        ("name", json!(tg.target_group_name().unwrap_or_default())),
    ])
}

#[async_trait]
impl Described for AwsTargetGroup {
    fn arn(&self) -> Option<&str> {
        self.target_group_arn()
    }
    fn name(&self) -> Option<&str> {
        self.target_group_name()
    }
    async fn describe(client: &Client, key: Key<'_>) -> Result<Option<Self>, ProviderError> {
        let request = client.describe_target_groups();
        let request = match key {
            Key::Name(name) => request.names(name),
            Key::Arn(arn) => request.target_group_arns(arn),
        };
        let found = found(request.send().await, NOT_FOUND, DESCRIBE)?;
        Ok(found.and_then(|out| out.target_groups().first().cloned()))
    }
    async fn all(client: &Client) -> Result<Vec<Self>, ProviderError> {
        let pages = client.describe_target_groups().into_paginator();
        all_items(pages.items().send(), DESCRIBE).await
    }
}

const DESCRIBE: &str = "elasticloadbalancing:DescribeTargetGroups";

async fn by_arn(client: &Client, arn: &str) -> Result<Option<AwsTargetGroup>, ProviderError> {
    AwsTargetGroup::describe(client, Key::Arn(arn)).await
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
impl Kind for TargetGroup {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let config = config(ctx, inputs)?;
        let name = &inputs.name;
        let client = self.0.elbv2(&ctx.region);
        let existing = AwsTargetGroup::describe(&client, Key::Name(name)).await?;
        refuse_taken(
            &client,
            ctx,
            ("a target group named", name),
            existing.as_ref().and_then(|tg| tg.target_group_arn()),
            |arn| format!("delete it (aws elbv2 delete-target-group --target-group-arn {arn}) or rename this one"),
        )
        .await?;
        // An unanswered create is looked up (`find`: by name or port and
        // identity tags) before it is sent again.
        let request = self
            .0
            .elbv2_once(&ctx.region)
            .create_target_group()
            .name(name)
            .protocol(config.protocol.clone())
            .port(config.port)
            .vpc_id(&inputs.vpc_id)
            .target_type(TargetTypeEnum::Ip)
            .health_check_enabled(true)
            .health_check_protocol(config.protocol.clone())
            .set_tags(Some(to_sdk::<Tag>(with_identity(ctx, &inputs.tags))));
        let request = health!(request, config, inputs.health_check);
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "elasticloadbalancing:CreateTargetGroup",
            &[],
            || request.clone().send(),
        )
        .await?;
        let out = match created {
            Created::Sent(out) => out,
            Created::Found(id) => {
                set_deregistration_delay(&client, &id, config.deregistration_delay).await?;
                return adopt(self, ctx, id, inputs).await;
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

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let client = self.0.elbv2(&ctx.region);
        let Some(tg) = by_arn(&client, id).await? else {
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
        let Some(attributes) = found(
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
        let string = |v: Option<&str>| v.unwrap_or_default().to_owned();
        let int = |v: Option<i32>| i64::from(v.unwrap_or(0));
        Ok(Some(Found {
            inputs: Inputs {
                name: string(tg.target_group_name()),
                port: int(tg.port()),
                protocol: string(tg.protocol().map(|p| p.as_str())),
                vpc_id: string(tg.vpc_id()),
                target_type: string(tg.target_type().map(|t| t.as_str())),
                health_check: Health {
                    path: string(tg.health_check_path()),
                    interval_seconds: int(tg.health_check_interval_seconds()),
                    timeout_seconds: int(tg.health_check_timeout_seconds()),
                    healthy_threshold: int(tg.healthy_threshold_count()),
                    unhealthy_threshold: int(tg.unhealthy_threshold_count()),
                    matcher: string(tg.matcher().and_then(|m| m.http_code())),
                },
                deregistration_delay_seconds: delay,
                tags: user_tags(tags),
            },
            outputs: outputs(&tg),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let config = config(ctx, inputs)?;
        let client = self.0.elbv2(&ctx.region);
        if prior.health_check != inputs.health_check {
            let request = client.modify_target_group().target_group_arn(id);
            health!(request, config, inputs.health_check)
                .send()
                .await
                .map_err(|e| api_error("elasticloadbalancing:ModifyTargetGroup", e))?;
        }
        if prior.deregistration_delay_seconds != inputs.deregistration_delay_seconds {
            set_deregistration_delay(&client, id, config.deregistration_delay).await?;
        }
        retag(&client, id, &prior.tags, &inputs.tags).await?;
        let tg = by_arn(&client, id).await?.ok_or_else(|| {
            ProviderError::new(
                "elasticloadbalancing:DescribeTargetGroups",
                format!("target group {id} is gone"),
            )
        })?;
        Ok(outputs(&tg))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        config(ctx, inputs)?;
        find_named::<AwsTargetGroup>(&self.0.elbv2(&ctx.region), ctx, &inputs.name).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
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

    /// The target groups tagged (or, untagged, named) for the environment.
    async fn list(&self, scope: &ListScope) -> Listed {
        list_named::<AwsTargetGroup>(&self.0.elbv2(&scope.region), &scope.env).await
    }
}
