//! `ec2.subnet`: one subnet in one availability zone.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{self, AttributeBooleanValue, ResourceType};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::lookup::{delete_owned, describe_id, ec2_resource, find_tagged, list_env};
use super::{sync_tags, tag_spec};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{api_error, attrs, tolerate};
use crate::tags::{Tags, from_sdk, user_tags};

pub static SCHEMA: KindSchema = KindSchema::new(
    "ec2.subnet",
    Latency {
        create: 1,
        update: 1,
        delete: 1,
        basis: "the functions' subnets: see FUNCTION_ENI_RELEASE",
    },
)
.force_new(&["vpc_id", "cidr_block", "availability_zone"])
.outputs(&["subnet_id", "availability_zone"]);

pub struct Subnet(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    vpc_id: String,
    cidr_block: String,
    availability_zone: String,
    #[serde(default)]
    map_public_ip_on_launch: bool,
    #[serde(default)]
    tags: Tags,
}

const NOT_FOUND: &[&str] = &["InvalidSubnetID.NotFound"];

ec2_resource! {
    types::Subnet, "ec2:DescribeSubnets", NOT_FOUND,
    describe_subnets, set_subnet_ids, set_filters, subnets, subnet_id, paged
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
impl Kind for Subnet {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let az = inputs.availability_zone.as_str();
        // CreateSubnet takes no idempotency token; a resend of one that
        // happened is refused as a CIDR conflict.
        let ec2 = self.0.ec2_once(&ctx.region);
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "ec2:CreateSubnet",
            &["InvalidSubnet.Conflict"],
            || {
                ec2.create_subnet()
                    .vpc_id(&inputs.vpc_id)
                    .cidr_block(&inputs.cidr_block)
                    .availability_zone(az)
                    .tag_specifications(tag_spec(ctx, &inputs.tags, ResourceType::Subnet))
                    .send()
            },
        )
        .await?;
        let id = created.id("ec2:CreateSubnet", "subnet id", |out| {
            out.subnet()?.subnet_id()
        })?;
        if inputs.map_public_ip_on_launch {
            super::on_new(|| self.set_public_ip(ctx, &id, true)).await?;
        }
        Ok(Applied {
            outputs: outputs(&id, az),
            id,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let ec2 = self.0.ec2(&ctx.region);
        let Some(s) = describe_id::<types::Subnet>(&ec2, id).await? else {
            return Ok(None);
        };
        let az = s.availability_zone().unwrap_or_default();
        Ok(Some(Found {
            inputs: Inputs {
                vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
                cidr_block: s.cidr_block().unwrap_or_default().to_owned(),
                availability_zone: az.to_owned(),
                map_public_ip_on_launch: s.map_public_ip_on_launch().unwrap_or(false),
                tags: user_tags(from_sdk(s.tags())),
            },
            outputs: outputs(id, az),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let want = inputs.map_public_ip_on_launch;
        if prior.map_public_ip_on_launch != want {
            // A subnet adopted from an interrupted run may be seconds old.
            super::on_new(|| self.set_public_ip(ctx, id, want)).await?;
        }
        sync_tags(&self.0.ec2(&ctx.region), ctx, id, &prior.tags, &inputs.tags).await?;
        Ok(outputs(id, &inputs.availability_zone))
    }

    async fn find(&self, ctx: &OpContext, _inputs: &Inputs) -> Lookup {
        find_tagged::<types::Subnet>(&self.0.ec2(&ctx.region), ctx).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let ec2 = self.0.ec2(&ctx.region);
        let delete = super::delete_when_unused(|| async {
            let result = ec2.delete_subnet().subnet_id(id).send().await;
            tolerate(result, NOT_FOUND, "ec2:DeleteSubnet")
        });
        delete_owned::<types::Subnet>(&ec2, ctx, id, "subnet", delete).await
    }

    async fn list(&self, scope: &ListScope) -> Listed {
        list_env::<types::Subnet>(&self.0.ec2(&scope.region), &scope.env, |_| true).await
    }
}
