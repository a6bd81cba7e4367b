//! `ec2.nat_gateway`: a public NAT gateway in a public subnet.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{self, NatGatewayState, ResourceType};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};

use super::lookup::{describe_id, ec2_resource, find_one, list_env};
use super::{id_output, sync_tags, tag_spec};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{api_error, create_token, found, response_id, wait_for};
use crate::tags::{Tags, from_sdk, made_for, user_tags};

pub static SCHEMA: KindSchema = KindSchema::new(
    "ec2.nat_gateway",
    Latency {
        create: 120,
        update: 1,
        delete: 60,
        basis: "available after 1.5-3 min in published logs (TF create 10 min, delete 30 min)",
    },
)
.force_new(&["subnet_id", "allocation_id"])
.outputs(&["nat_gateway_id"]);

pub struct NatGateway(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    subnet_id: String,
    allocation_id: String,
    #[serde(default)]
    tags: Tags,
}

const NOT_FOUND: &[&str] = &["NatGatewayNotFound", "InvalidNatGatewayID.NotFound"];
/// NAT gateways take minutes on AWS, both ways.
const WAIT: Duration = Duration::from_secs(15 * 60);

ec2_resource! {
    types::NatGateway, "ec2:DescribeNatGateways", NOT_FOUND,
    describe_nat_gateways, set_nat_gateway_ids, set_filter, nat_gateways, nat_gateway_id, paged
}

/// Whether the gateway is (still) one: a deleted or failed gateway stays
/// listed a while, and neither carries traffic again.
fn live(n: &types::NatGateway) -> bool {
    !matches!(
        n.state(),
        Some(NatGatewayState::Deleted | NatGatewayState::Deleting | NatGatewayState::Failed)
    )
}

fn outputs(id: &str) -> Attributes {
    id_output("nat_gateway_id", id)
}

impl NatGateway {
    async fn state(
        &self,
        ctx: &OpContext,
        id: &str,
    ) -> Result<Option<types::NatGateway>, ProviderError> {
        describe_id(&self.0.ec2(&ctx.region), id).await
    }
}

#[async_trait]
impl Kind for NatGateway {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let ec2 = self.0.ec2(&ctx.region);
        let out = ec2
            .create_nat_gateway()
            // The create's idempotency token: a resend (the SDK's, after a
            // lost response) returns the gateway the first call made.
            .client_token(create_token(ctx))
            .subnet_id(&inputs.subnet_id)
            .allocation_id(&inputs.allocation_id)
            .tag_specifications(tag_spec(ctx, &inputs.tags, ResourceType::Natgateway))
            .send()
            .await
            .map_err(|e| api_error("ec2:CreateNatGateway", e))?;
        let id = out.nat_gateway().and_then(|n| n.nat_gateway_id());
        let id = response_id("ec2:CreateNatGateway", "NAT gateway id", id)?;
        wait_for("NAT gateway available", WAIT, || async {
            let gateway = self.state(ctx, &id).await?;
            Ok(match gateway.as_ref().and_then(|n| n.state()) {
                Some(NatGatewayState::Available) => Ok(()),
                Some(NatGatewayState::Failed) => {
                    // A failed gateway stays listed, with AWS's reason.
                    let n = gateway.as_ref();
                    let reason = [
                        n.and_then(|n| n.failure_code()),
                        n.and_then(|n| n.failure_message()),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ");
                    return Err(ProviderError::new(
                        "ec2:CreateNatGateway",
                        format!("{id} failed: {reason}"),
                    )
                    .with_code("NatGatewayFailed"));
                }
                other => Err(format!("{other:?}")),
            })
        })
        .await?;
        Ok(Applied {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let Some(n) = self.state(ctx, id).await?.filter(live) else {
            return Ok(None);
        };
        let allocation = n
            .nat_gateway_addresses()
            .first()
            .and_then(|a| a.allocation_id());
        Ok(Some(Found {
            inputs: Inputs {
                subnet_id: n.subnet_id().unwrap_or_default().to_owned(),
                allocation_id: allocation.unwrap_or_default().to_owned(),
                tags: user_tags(from_sdk(n.tags())),
            },
            outputs: outputs(id),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        sync_tags(&self.0.ec2(&ctx.region), ctx, id, &prior.tags, &inputs.tags).await?;
        Ok(outputs(id))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // By subnet, then by identity tags (tag filters are not honoured
        // everywhere on this call); a deleted gateway does not count.
        let subnet = types::Filter::builder()
            .name("subnet-id")
            .values(&inputs.subnet_id)
            .build();
        let ec2 = self.0.ec2(&ctx.region);
        find_one(&ec2, ctx, vec![subnet], |n: &types::NatGateway| {
            made_for(ctx, &from_sdk(n.tags())) && live(n)
        })
        .await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let Some(gateway) = self.state(ctx, id).await? else {
            return Ok(());
        };
        // One already on its way out needs no claim checked: it is
        // deleted whoever asked.
        if !matches!(
            gateway.state(),
            Some(NatGatewayState::Deleted | NatGatewayState::Deleting)
        ) {
            super::confirm_owned(ctx, &format!("NAT gateway {id}"), gateway.tags())?;
        }
        let ec2 = self.0.ec2(&ctx.region);
        let result = ec2.delete_nat_gateway().nat_gateway_id(id).send().await;
        if found(result, NOT_FOUND, "ec2:DeleteNatGateway")?.is_none() {
            return Ok(());
        }
        // Its Elastic IP is released only once the gateway is deleted.
        wait_for("NAT gateway deleted", WAIT, || async {
            Ok(
                match self.state(ctx, id).await?.and_then(|n| n.state().cloned()) {
                    None | Some(NatGatewayState::Deleted) => Ok(()),
                    other => Err(format!("{other:?}")),
                },
            )
        })
        .await
    }

    async fn list(&self, scope: &ListScope) -> Listed {
        // Tag filters are not honoured everywhere on this call: list_env
        // checks the tags again.
        list_env(&self.0.ec2(&scope.region), &scope.env, live).await
    }
}
