//! `ec2.subnet`: one subnet in one availability zone.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{self, AttributeBooleanValue, ResourceType};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use super::lookup::{describe_id, ec2_resource, find_tagged, owned};
use super::{sync_tags, tag_spec, tags_json};
use crate::clients::Clients;
use crate::support::{api_error, attrs, bool_or, create_once, req_str, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "ec2.subnet",
    force_new: &["vpc_id", "cidr_block", "availability_zone"],
    outputs: &["subnet_id", "availability_zone"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency {
        create: 1,
        update: 1,
        delete: 1,
        basis: "the functions' subnets: see FUNCTION_ENI_RELEASE",
    },
};

pub struct Subnet(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["InvalidSubnetID.NotFound"];

ec2_resource! {
    types::Subnet, "ec2:DescribeSubnets", NOT_FOUND,
    describe_subnets, set_subnet_ids, set_filters, subnets, subnet_id
}

impl Subnet {
    async fn set_public_ip(
        &self,
        ctx: &OpContext,
        id: &str,
        on: bool,
    ) -> Result<(), ProviderError> {
        self.0
            .ec2(&ctx.region)
            .modify_subnet_attribute()
            .subnet_id(id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
            .send()
            .await
            .map_err(|e| api_error("ec2:ModifySubnetAttribute", e))?;
        Ok(())
    }
}

fn outputs(id: &str, az: &str) -> Attributes {
    attrs([("subnet_id", json!(id)), ("availability_zone", json!(az))])
}

#[async_trait]
impl Provider for Subnet {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let az = req_str(ctx, inputs, "availability_zone")?;
        let (vpc, cidr) = (
            req_str(ctx, inputs, "vpc_id")?,
            req_str(ctx, inputs, "cidr_block")?,
        );
        // CreateSubnet takes no idempotency token; a resend of one that
        // happened is refused as a CIDR conflict.
        let ec2 = self.0.ec2_once(&ctx.region);
        let created = create_once(
            "ec2:CreateSubnet",
            &["InvalidSubnet.Conflict"],
            || {
                ec2.create_subnet()
                    .vpc_id(vpc)
                    .cidr_block(cidr)
                    .availability_zone(az)
                    .tag_specifications(tag_spec(ctx, inputs, ResourceType::Subnet))
                    .send()
            },
            || self.find(ctx, inputs),
        )
        .await?;
        let id = created.id("ec2:CreateSubnet", "subnet id", |out| {
            out.subnet()?.subnet_id()
        })?;
        if bool_or(inputs, "map_public_ip_on_launch", false) {
            super::on_new(|| self.set_public_ip(ctx, &id, true)).await?;
        }
        Ok(Applied {
            outputs: outputs(&id, az),
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
        let Some(s) = describe_id::<types::Subnet>(&ec2, id).await? else {
            return Ok(None);
        };
        let az = s.availability_zone().unwrap_or_default();
        Ok(Some(Observed {
            inputs: attrs([
                ("vpc_id", json!(s.vpc_id().unwrap_or_default())),
                ("cidr_block", json!(s.cidr_block().unwrap_or_default())),
                ("availability_zone", json!(az)),
                (
                    "map_public_ip_on_launch",
                    json!(s.map_public_ip_on_launch().unwrap_or(false)),
                ),
                ("tags", tags_json(s.tags())),
            ]),
            outputs: outputs(id, az),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let want = bool_or(inputs, "map_public_ip_on_launch", false);
        if bool_or(prior, "map_public_ip_on_launch", false) != want {
            // A subnet adopted from an interrupted run may be seconds old.
            super::on_new(|| self.set_public_ip(ctx, id, want)).await?;
        }
        sync_tags(&self.0.ec2(&ctx.region), ctx, id, prior, inputs).await?;
        Ok(outputs(id, req_str(ctx, inputs, "availability_zone")?))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        _inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        find_tagged::<types::Subnet>(&self.0.ec2(&ctx.region), ctx).await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let ec2 = self.0.ec2(&ctx.region);
        if owned::<types::Subnet>(&ec2, ctx, id, "subnet")
            .await?
            .is_none()
        {
            return Ok(());
        }
        super::delete_when_unused(|| async {
            let result = ec2.delete_subnet().subnet_id(id).send().await;
            tolerate(result, NOT_FOUND, "ec2:DeleteSubnet")
        })
        .await
    }
}
