//! `ec2.vpc`: a VPC with DNS support and hostnames settings.

use async_trait::async_trait;
use aws_sdk_ec2::types::{self, AttributeBooleanValue, ResourceType, VpcAttributeName};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use super::lookup::{describe_id, ec2_resource, find_tagged, owned};
use super::{sync_tags, tag_spec, tags_json};
use crate::clients::Clients;
use crate::support::{api_error, attrs, bool_or, create_once, req_str, tolerate};
use std::sync::Arc;

pub static SCHEMA: KindSchema = KindSchema {
    kind: "ec2.vpc",
    force_new: &["cidr_block"],
    outputs: &["vpc_id", "cidr_block"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(2, 1, 2),
};

pub struct Vpc(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["InvalidVpcID.NotFound"];

ec2_resource! {
    types::Vpc, "ec2:DescribeVpcs", NOT_FOUND, describe_vpcs, set_vpc_ids, set_filters, vpcs, vpc_id
}

impl Vpc {
    async fn set_dns(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        prior: Option<&Attributes>,
    ) -> Result<(), ProviderError> {
        let ec2 = self.0.ec2(&ctx.region);
        // One attribute per ModifyVpcAttribute call; hostnames need support on.
        for (key, default) in [
            ("enable_dns_support", true),
            ("enable_dns_hostnames", false),
        ] {
            let want = bool_or(inputs, key, default);
            if prior.is_some_and(|p| bool_or(p, key, default) == want) {
                continue;
            }
            let value = AttributeBooleanValue::builder().value(want).build();
            let req = ec2.modify_vpc_attribute().vpc_id(id);
            let req = if key == "enable_dns_support" {
                req.enable_dns_support(value)
            } else {
                req.enable_dns_hostnames(value)
            };
            req.send()
                .await
                .map_err(|e| api_error("ec2:ModifyVpcAttribute", e))?;
        }
        Ok(())
    }

    fn outputs(id: &str, cidr: &str) -> Attributes {
        attrs([("vpc_id", json!(id)), ("cidr_block", json!(cidr))])
    }
}

#[async_trait]
impl Provider for Vpc {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let cidr = req_str(ctx, inputs, "cidr_block")?;
        // CreateVpc takes no idempotency token.
        let ec2 = self.0.ec2_once(&ctx.region);
        let created = create_once(
            "ec2:CreateVpc",
            &[],
            || {
                ec2.create_vpc()
                    .cidr_block(cidr)
                    .tag_specifications(tag_spec(ctx, inputs, ResourceType::Vpc))
                    .send()
            },
            || self.find(ctx, inputs),
        )
        .await?;
        let id = created.id("ec2:CreateVpc", "VPC id", |out| out.vpc()?.vpc_id())?;
        super::on_new(|| self.set_dns(ctx, &id, inputs, None)).await?;
        Ok(Applied {
            outputs: Self::outputs(&id, cidr),
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
        let Some(vpc) = describe_id::<types::Vpc>(&ec2, id).await? else {
            return Ok(None);
        };
        let mut flags = Vec::new();
        for attr in [
            VpcAttributeName::EnableDnsSupport,
            VpcAttributeName::EnableDnsHostnames,
        ] {
            let a = ec2
                .describe_vpc_attribute()
                .vpc_id(id)
                .attribute(attr.clone())
                .send()
                .await
                .map_err(|e| api_error("ec2:DescribeVpcAttribute", e))?;
            let v = match attr {
                VpcAttributeName::EnableDnsSupport => {
                    a.enable_dns_support().and_then(|b| b.value())
                }
                _ => a.enable_dns_hostnames().and_then(|b| b.value()),
            };
            flags.push(v.unwrap_or(false));
        }
        let cidr = vpc.cidr_block().unwrap_or_default();
        Ok(Some(Observed {
            inputs: attrs([
                ("cidr_block", json!(cidr)),
                ("enable_dns_support", json!(flags[0])),
                ("enable_dns_hostnames", json!(flags[1])),
                ("tags", tags_json(vpc.tags())),
            ]),
            outputs: Self::outputs(id, cidr),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        // A VPC adopted from an interrupted run may be seconds old.
        super::on_new(|| self.set_dns(ctx, id, inputs, Some(prior))).await?;
        sync_tags(&self.0.ec2(&ctx.region), ctx, id, prior, inputs).await?;
        Ok(Self::outputs(id, req_str(ctx, inputs, "cidr_block")?))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        _inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        find_tagged::<types::Vpc>(&self.0.ec2(&ctx.region), ctx).await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let ec2 = self.0.ec2(&ctx.region);
        if owned::<types::Vpc>(&ec2, ctx, id, "VPC").await?.is_none() {
            return Ok(());
        }
        // Lambda releases a deleted function's network interfaces minutes
        // later; until then the VPC answers DependencyViolation.
        super::delete_when_unused(|| async {
            let result = ec2.delete_vpc().vpc_id(id).send().await;
            tolerate(result, NOT_FOUND, "ec2:DeleteVpc")
        })
        .await
    }
}
