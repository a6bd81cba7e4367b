//! `ec2.internet_gateway`: an internet gateway attached to a VPC.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{self, ResourceType};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};

use super::lookup::{Ec2Resource, describe_id, ec2_resource, find_tagged, list_env, owned};
use super::{id_output, sync_tags, tag_spec};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{api_error, has_code, tolerate};
use crate::tags::{Tags, from_sdk, user_tags};

pub static SCHEMA: KindSchema = KindSchema::new(
    "ec2.internet_gateway",
    Latency {
        create: 2,
        update: 2,
        delete: 2,
        basis: "create + attach; detach + delete",
    },
)
.outputs(&["internet_gateway_id"]);

pub struct InternetGateway(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The VPC it is attached to; a read of a detached gateway finds none.
    vpc_id: Option<String>,
    #[serde(default)]
    tags: Tags,
}

const NOT_FOUND: &[&str] = &["InvalidInternetGatewayID.NotFound"];
const NOT_ATTACHED: &[&str] = &["Gateway.NotAttached", "InvalidInternetGatewayID.NotFound"];

ec2_resource! {
    types::InternetGateway, "ec2:DescribeInternetGateways", NOT_FOUND, describe_internet_gateways,
    set_internet_gateway_ids, set_filters, internet_gateways, internet_gateway_id, paged
}

/// The VPC a create or update attaches the gateway to.
fn vpc<'a>(ctx: &OpContext, inputs: &'a Inputs) -> Result<&'a str, ProviderError> {
    inputs
        .vpc_id
        .as_deref()
        .ok_or_else(|| crate::support::invalid(ctx, "input `vpc_id` must be a string"))
}

impl InternetGateway {
    /// Attaches the gateway to `vpc`. A resend after a lost answer finds it
    /// attached already (Resource.AlreadyAssociated): success when it is
    /// attached to `vpc`, which a describe confirms.
    async fn attach(&self, ctx: &OpContext, id: &str, vpc: &str) -> Result<(), ProviderError> {
        let client = self.0.ec2(&ctx.region);
        let result = client
            .attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if has_code(&e, &["Resource.AlreadyAssociated"]) => {
                let gateways =
                    types::InternetGateway::describe(&client, Some(vec![id.to_owned()]), None)
                        .await?;
                let attached = gateways
                    .iter()
                    .flat_map(|g| g.attachments())
                    .any(|a| a.vpc_id() == Some(vpc));
                if attached {
                    Ok(())
                } else {
                    Err(api_error("ec2:AttachInternetGateway", e))
                }
            }
            Err(e) => Err(api_error("ec2:AttachInternetGateway", e)),
        }
    }

    async fn detach(&self, ctx: &OpContext, id: &str, vpc: &str) -> Result<(), ProviderError> {
        let ec2 = self.0.ec2(&ctx.region);
        let result = ec2
            .detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await;
        tolerate(result, NOT_ATTACHED, "ec2:DetachInternetGateway")
    }
}

fn outputs(id: &str) -> Attributes {
    id_output("internet_gateway_id", id)
}

#[async_trait]
impl Kind for InternetGateway {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let vpc = vpc(ctx, inputs)?;
        // CreateInternetGateway takes no idempotency token.
        let ec2 = self.0.ec2_once(&ctx.region);
        let created = create_or_find(self, ctx, inputs, "ec2:CreateInternetGateway", &[], || {
            ec2.create_internet_gateway()
                .tag_specifications(tag_spec(ctx, &inputs.tags, ResourceType::InternetGateway))
                .send()
        })
        .await?;
        let id = created.id("ec2:CreateInternetGateway", "gateway id", |out| {
            out.internet_gateway()?.internet_gateway_id()
        })?;
        super::on_new(|| self.attach(ctx, &id, vpc)).await?;
        Ok(Applied {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let ec2 = self.0.ec2(&ctx.region);
        let Some(g) = describe_id::<types::InternetGateway>(&ec2, id).await? else {
            return Ok(None);
        };
        let vpc = g.attachments().first().and_then(|a| a.vpc_id());
        Ok(Some(Found {
            inputs: Inputs {
                vpc_id: vpc.map(str::to_owned),
                tags: user_tags(from_sdk(g.tags())),
            },
            outputs: outputs(id),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let want = vpc(ctx, inputs)?;
        let had = prior.vpc_id.as_deref();
        if had != Some(want) {
            if let Some(old) = had {
                self.detach(ctx, id, old).await?;
            }
            // A gateway adopted from an interrupted run may be seconds old.
            super::on_new(|| self.attach(ctx, id, want)).await?;
        }
        sync_tags(&self.0.ec2(&ctx.region), ctx, id, &prior.tags, &inputs.tags).await?;
        Ok(outputs(id))
    }

    async fn find(&self, ctx: &OpContext, _inputs: &Inputs) -> Lookup {
        find_tagged::<types::InternetGateway>(&self.0.ec2(&ctx.region), ctx).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let ec2 = self.0.ec2(&ctx.region);
        let what = "internet gateway";
        if owned::<types::InternetGateway>(&ec2, ctx, id, what)
            .await?
            .is_none()
        {
            return Ok(());
        }
        if let Some(vpc) = &inputs.vpc_id {
            self.detach(ctx, id, vpc).await?;
        }
        let result = ec2
            .delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "ec2:DeleteInternetGateway")
    }

    async fn list(&self, scope: &ListScope) -> Listed {
        let ec2 = self.0.ec2(&scope.region);
        list_env::<types::InternetGateway>(&ec2, &scope.env, |_| true).await
    }
}
