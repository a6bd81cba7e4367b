//! `ec2.internet_gateway`: an internet gateway attached to a VPC.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{self, ResourceType};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use super::lookup::{Ec2Resource, describe_id, ec2_resource, find_tagged, owned};
use super::{sync_tags, tag_spec, tags_json};
use crate::clients::Clients;
use crate::support::{api_error, attrs, create_once, has_code, opt_str, req_str, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "ec2.internet_gateway",
    force_new: &[],
    outputs: &["internet_gateway_id"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency {
        create: 2,
        update: 2,
        delete: 2,
        basis: "create + attach; detach + delete",
    },
};

pub struct InternetGateway(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["InvalidInternetGatewayID.NotFound"];
const NOT_ATTACHED: &[&str] = &["Gateway.NotAttached", "InvalidInternetGatewayID.NotFound"];

ec2_resource! {
    types::InternetGateway, "ec2:DescribeInternetGateways", NOT_FOUND, describe_internet_gateways,
    set_internet_gateway_ids, set_filters, internet_gateways, internet_gateway_id
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
        let result = self
            .0
            .ec2(&ctx.region)
            .detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await;
        tolerate(result, NOT_ATTACHED, "ec2:DetachInternetGateway")
    }
}

fn outputs(id: &str) -> Attributes {
    attrs([("internet_gateway_id", json!(id))])
}

#[async_trait]
impl Provider for InternetGateway {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let vpc = req_str(ctx, inputs, "vpc_id")?;
        // CreateInternetGateway takes no idempotency token.
        let ec2 = self.0.ec2_once(&ctx.region);
        let created = create_once(
            "ec2:CreateInternetGateway",
            &[],
            || {
                ec2.create_internet_gateway()
                    .tag_specifications(tag_spec(ctx, inputs, ResourceType::InternetGateway))
                    .send()
            },
            || self.find(ctx, inputs),
        )
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

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let ec2 = self.0.ec2(&ctx.region);
        let Some(g) = describe_id::<types::InternetGateway>(&ec2, id).await? else {
            return Ok(None);
        };
        let vpc = g.attachments().first().and_then(|a| a.vpc_id());
        Ok(Some(Observed {
            inputs: attrs([("vpc_id", json!(vpc)), ("tags", tags_json(g.tags()))]),
            outputs: outputs(id),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let want = req_str(ctx, inputs, "vpc_id")?;
        let had = opt_str(prior, "vpc_id");
        if had != Some(want) {
            if let Some(old) = had {
                self.detach(ctx, id, old).await?;
            }
            // A gateway adopted from an interrupted run may be seconds old.
            super::on_new(|| self.attach(ctx, id, want)).await?;
        }
        sync_tags(&self.0.ec2(&ctx.region), ctx, id, prior, inputs).await?;
        Ok(outputs(id))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        _inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        find_tagged::<types::InternetGateway>(&self.0.ec2(&ctx.region), ctx).await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let ec2 = self.0.ec2(&ctx.region);
        let what = "internet gateway";
        if owned::<types::InternetGateway>(&ec2, ctx, id, what)
            .await?
            .is_none()
        {
            return Ok(());
        }
        if let Some(vpc) = opt_str(inputs, "vpc_id") {
            self.detach(ctx, id, vpc).await?;
        }
        let result = ec2
            .delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "ec2:DeleteInternetGateway")
    }
}
