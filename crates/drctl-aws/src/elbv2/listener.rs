//! `elbv2.listener`: a load balancer's HTTP listener forwarding everything
//! to one target group. Its id is the ARN.
//!
//! Inputs: `load_balancer_arn`, `port`, `protocol` (`HTTP`),
//! `target_group_arn`, `tags`.
//!
//! CreateListener is idempotent: "If you attempt to create multiple
//! listeners with the same settings, each call succeeds" (ELB API
//! Reference, CreateListener); the SDK's retries after a lost answer get
//! the first listener back. A port has one listener: a create refuses one
//! that drctl did not make for this address. A listener's target group
//! gets a load balancer through it, which ECS requires of a service's
//! target group; deleting the load balancer deletes its listeners.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Listener as AwsListener, ProtocolEnum,
};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use super::{elb_tags, if_ours, is_ours, sync_tags, tags_of, taken};
use crate::clients::Clients;
use crate::support::{
    Created, adopt, all_tags, api_error, attrs, create_once, invalid, observed_tags,
    only_known_inputs,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "elbv2.listener",
    force_new: &["load_balancer_arn"],
    outputs: &["arn"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct Listener(pub(crate) Arc<Clients>);

const KEYS: [&str; 5] = [
    "load_balancer_arn",
    "port",
    "protocol",
    "target_group_arn",
    "tags",
];
const NOT_FOUND: &[&str] = &["ListenerNotFound", "LoadBalancerNotFound"];

struct Config {
    load_balancer_arn: String,
    port: i32,
    target_group_arn: String,
}

fn config(ctx: &OpContext, inputs: &Attributes) -> Result<Config, ProviderError> {
    only_known_inputs(ctx, inputs, &KEYS, "a listener")?;
    let arn = |key: &str, kind: &str| {
        inputs
            .get(key)
            .and_then(Json::as_str)
            .filter(|a| a.contains(kind))
            .map(str::to_owned)
            .ok_or_else(|| invalid(ctx, format!("input `{key}` must be a{kind}... ARN")))
    };
    // HTTPS needs a certificate and a TLS policy, which this kind does
    // not manage.
    if inputs.get("protocol").and_then(Json::as_str) != Some("HTTP") {
        return Err(invalid(
            ctx,
            "input `protocol` must be `HTTP`: drctl's listener manages no certificate for HTTPS",
        ));
    }
    let port = inputs
        .get("port")
        .and_then(Json::as_i64)
        .filter(|p| (1..=65535).contains(p))
        .ok_or_else(|| invalid(ctx, "input `port` must be a whole number from 1 to 65535"))?
        as i32;
    Ok(Config {
        load_balancer_arn: arn("load_balancer_arn", ":loadbalancer/app/")?,
        port,
        target_group_arn: arn("target_group_arn", ":targetgroup/")?,
    })
}

fn forward(target_group_arn: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group_arn)
        .build()
}

async fn by_arn(client: &Client, arn: &str) -> Result<Option<AwsListener>, ProviderError> {
    let result = client.describe_listeners().listener_arns(arn).send().await;
    Ok(
        crate::support::found(result, NOT_FOUND, "elasticloadbalancing:DescribeListeners")?
            .and_then(|out| out.listeners().first().cloned()),
    )
}

/// The listener on `port` of the load balancer, if any.
async fn on_port(
    client: &Client,
    load_balancer_arn: &str,
    port: i32,
) -> Result<Option<AwsListener>, ProviderError> {
    let result = client
        .describe_listeners()
        .load_balancer_arn(load_balancer_arn)
        .send()
        .await;
    Ok(
        crate::support::found(result, NOT_FOUND, "elasticloadbalancing:DescribeListeners")?
            .and_then(|out| {
                out.listeners()
                    .iter()
                    .find(|l| l.port() == Some(port))
                    .cloned()
            }),
    )
}

/// The target group a listener forwards to by default.
fn target_of(l: &AwsListener) -> &str {
    l.default_actions()
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .and_then(|a| {
            a.target_group_arn().or_else(|| {
                a.forward_config()
                    .and_then(|f| f.target_groups().first())
                    .and_then(|t| t.target_group_arn())
            })
        })
        .unwrap_or_default()
}

#[async_trait]
impl Provider for Listener {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.elbv2(&ctx.region);
        if let Some(existing) = on_port(&client, &config.load_balancer_arn, config.port).await? {
            let arn = existing.listener_arn().unwrap_or_default();
            let tags = tags_of(&client, arn).await?.unwrap_or_default();
            if !is_ours(ctx, &tags) {
                return Err(taken(
                    ctx,
                    "a listener on port",
                    &config.port.to_string(),
                    &tags,
                    &format!("delete it (aws elbv2 delete-listener --listener-arn {arn})"),
                ));
            }
        }
        // An unanswered create is looked up (`find`: by name or port and
        // identity tags) before it is sent again.
        let request = self
            .0
            .elbv2_once(&ctx.region)
            .create_listener()
            .load_balancer_arn(&config.load_balancer_arn)
            .protocol(ProtocolEnum::Http)
            .port(config.port)
            .default_actions(forward(&config.target_group_arn))
            .set_tags(Some(elb_tags(all_tags(ctx, inputs))));
        let created = create_once(
            "elasticloadbalancing:CreateListener",
            &[],
            || request.clone().send(),
            || self.find(ctx, inputs),
        )
        .await?;
        let out = match created {
            Created::Sent(out) => out,
            Created::Found(id) => return adopt(self, ctx, id, inputs).await,
        };
        let arn = out
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .ok_or_else(|| {
                ProviderError::new(
                    "elasticloadbalancing:CreateListener",
                    "no listener in the response",
                )
            })?
            .to_owned();
        Ok(Applied {
            outputs: attrs([("arn", json!(arn))]),
            id: arn,
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let client = self.0.elbv2(&ctx.region);
        let Some(l) = by_arn(&client, id).await? else {
            return Ok(None);
        };
        let Some(tags) = tags_of(&client, id).await? else {
            return Ok(None);
        };
        Ok(Some(Observed {
            inputs: attrs([
                ("load_balancer_arn", json!(l.load_balancer_arn())),
                ("port", json!(l.port())),
                ("protocol", json!(l.protocol().map(|p| p.as_str()))),
                ("target_group_arn", json!(target_of(&l))),
                ("tags", observed_tags(tags)),
            ]),
            outputs: attrs([("arn", json!(id))]),
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
        let changed = |k: &str| prior.get(k) != inputs.get(k);
        if ["port", "protocol", "target_group_arn"]
            .iter()
            .any(|k| changed(k))
        {
            client
                .modify_listener()
                .listener_arn(id)
                .port(config.port)
                .protocol(ProtocolEnum::Http)
                .default_actions(forward(&config.target_group_arn))
                .send()
                .await
                .map_err(|e| api_error("elasticloadbalancing:ModifyListener", e))?;
        }
        sync_tags(&client, id, prior, inputs).await?;
        Ok(attrs([("arn", json!(id))]))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.elbv2(&ctx.region);
        let Some(l) = on_port(&client, &config.load_balancer_arn, config.port).await? else {
            return Ok(None);
        };
        if_ours(&client, ctx, l.listener_arn()).await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        if !super::confirm_owned(&self.0.elbv2(&ctx.region), ctx, "listener", id).await? {
            return Ok(());
        }
        let result = self
            .0
            .elbv2(&ctx.region)
            .delete_listener()
            .listener_arn(id)
            .send()
            .await;
        crate::support::tolerate(result, NOT_FOUND, "elasticloadbalancing:DeleteListener")
    }
}
