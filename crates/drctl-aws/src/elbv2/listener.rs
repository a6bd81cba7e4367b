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
use aws_sdk_elasticloadbalancingv2::types::Tag;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Listener as AwsListener, ProtocolEnum,
};
use drctl_core::{Applied, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{if_ours, refuse_taken, tags_of};
use crate::clients::Clients;
use crate::ecs::int_in;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{api_error, attrs, invalid, response_id};
use crate::tags::{Tags, retag, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new("elbv2.listener", Latency::calls(1, 1, 1))
    .force_new(&["load_balancer_arn"])
    .outputs(&["arn"]);

pub struct Listener(pub(crate) Arc<Clients>);

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    load_balancer_arn: String,
    port: i64,
    /// `HTTP`.
    protocol: String,
    target_group_arn: String,
    #[serde(default)]
    tags: Tags,
}

const NOT_FOUND: &[&str] = &["ListenerNotFound", "LoadBalancerNotFound"];

/// The port, the inputs checked before any call.
fn port(ctx: &OpContext, inputs: &Inputs) -> Result<i32, ProviderError> {
    // HTTPS needs a certificate and a TLS policy, which this kind does
    // not manage.
    if inputs.protocol != "HTTP" {
        return Err(invalid(
            ctx,
            "input `protocol` must be `HTTP`: drctl's listener manages no certificate for HTTPS",
        ));
    }
    let port = int_in(ctx, "port", inputs.port, 1..=65535)?;
    for (key, arn, kind) in [
        (
            "load_balancer_arn",
            &inputs.load_balancer_arn,
            ":loadbalancer/app/",
        ),
        (
            "target_group_arn",
            &inputs.target_group_arn,
            ":targetgroup/",
        ),
    ] {
        if !arn.contains(kind) {
            return Err(invalid(
                ctx,
                format!("input `{key}` must be a{kind}... ARN"),
            ));
        }
    }
    Ok(port)
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

/// The listeners of the load balancer; none when it is gone.
async fn of_load_balancer(
    client: &Client,
    load_balancer_arn: &str,
) -> Result<Vec<AwsListener>, ProviderError> {
    let mut listeners = Vec::new();
    let request = client
        .describe_listeners()
        .load_balancer_arn(load_balancer_arn);
    let mut pages = request.into_paginator().send();
    while let Some(page) = pages.next().await {
        let Some(page) =
            crate::support::found(page, NOT_FOUND, "elasticloadbalancing:DescribeListeners")?
        else {
            return Ok(Vec::new());
        };
        listeners.extend(page.listeners().iter().cloned());
    }
    Ok(listeners)
}

/// The listener on `port` of the load balancer, if any.
async fn on_port(
    client: &Client,
    load_balancer_arn: &str,
    port: i32,
) -> Result<Option<AwsListener>, ProviderError> {
    Ok(of_load_balancer(client, load_balancer_arn)
        .await?
        .into_iter()
        .find(|l| l.port() == Some(port)))
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
impl Kind for Listener {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let port = port(ctx, inputs)?;
        let client = self.0.elbv2(&ctx.region);
        let existing = on_port(&client, &inputs.load_balancer_arn, port).await?;
        refuse_taken(
            &client,
            ctx,
            ("a listener on port", &port.to_string()),
            existing.as_ref().and_then(|l| l.listener_arn()),
            |arn| format!("delete it (aws elbv2 delete-listener --listener-arn {arn})"),
        )
        .await?;
        // An unanswered create is looked up (`find`: by name or port and
        // identity tags) before it is sent again.
        let request = self
            .0
            .elbv2_once(&ctx.region)
            .create_listener()
            .load_balancer_arn(&inputs.load_balancer_arn)
            .protocol(ProtocolEnum::Http)
            .port(port)
            .default_actions(forward(&inputs.target_group_arn))
            .set_tags(Some(to_sdk::<Tag>(with_identity(ctx, &inputs.tags))));
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "elasticloadbalancing:CreateListener",
            &[],
            || request.clone().send(),
        )
        .await?;
        created
            .applied(self, ctx, inputs, |out| {
                let arn = response_id(
                    "elasticloadbalancing:CreateListener",
                    "listener",
                    out.listeners().first().and_then(|l| l.listener_arn()),
                )?;
                Ok(Applied {
                    outputs: attrs([("arn", json!(arn))]),
                    id: arn,
                })
            })
            .await
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let client = self.0.elbv2(&ctx.region);
        let Some(l) = by_arn(&client, id).await? else {
            return Ok(None);
        };
        let Some(tags) = tags_of(&client, id).await? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: Inputs {
                load_balancer_arn: l.load_balancer_arn().unwrap_or_default().to_owned(),
                port: l.port().unwrap_or(0).into(),
                protocol: l.protocol().map_or("", |p| p.as_str()).to_owned(),
                target_group_arn: target_of(&l).to_owned(),
                tags: user_tags(tags),
            },
            outputs: attrs([("arn", json!(id))]),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let port = port(ctx, inputs)?;
        let client = self.0.elbv2(&ctx.region);
        let forwards = |i: &Inputs| (i.port, i.protocol.clone(), i.target_group_arn.clone());
        if forwards(prior) != forwards(inputs) {
            client
                .modify_listener()
                .listener_arn(id)
                .port(port)
                .protocol(ProtocolEnum::Http)
                .default_actions(forward(&inputs.target_group_arn))
                .send()
                .await
                .map_err(|e| api_error("elasticloadbalancing:ModifyListener", e))?;
        }
        retag(&client, id, &prior.tags, &inputs.tags).await?;
        Ok(attrs([("arn", json!(id))]))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let port = port(ctx, inputs)?;
        let client = self.0.elbv2(&ctx.region);
        let Some(l) = on_port(&client, &inputs.load_balancer_arn, port).await? else {
            return Ok(None);
        };
        if_ours(&client, ctx, l.listener_arn()).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let elbv2 = self.0.elbv2(&ctx.region);
        if !super::confirm_owned(&elbv2, ctx, "listener", id).await? {
            return Ok(());
        }
        let result = elbv2.delete_listener().listener_arn(id).send().await;
        crate::support::tolerate(result, NOT_FOUND, "elasticloadbalancing:DeleteListener")
    }

    /// The listeners of the environment's load balancers: a listener is
    /// its load balancer's.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.elbv2(&scope.region);
        let load_balancers = super::load_balancer::LoadBalancer(self.0.clone())
            .list(scope)
            .await?;
        let mut ids = Vec::new();
        for arn in load_balancers {
            ids.extend(
                of_load_balancer(&client, &arn)
                    .await?
                    .iter()
                    .filter_map(|l| l.listener_arn().map(str::to_owned)),
            );
        }
        Ok(ids)
    }
}
