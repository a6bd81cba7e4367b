//! `ec2.vpc`: a VPC with DNS support and hostnames settings.

use async_trait::async_trait;
use aws_sdk_ec2::types::{self, AttributeBooleanValue, ResourceType, VpcAttributeName};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::lookup::{delete_owned, describe_id, ec2_resource, find_tagged, list_env};
use super::{sync_tags, tag_spec};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{api_error, attrs, tolerate};
use crate::tags::{Tags, from_sdk, user_tags};
use std::sync::Arc;

pub static SCHEMA: KindSchema = KindSchema::new("ec2.vpc", Latency::calls(2, 1, 2))
    .force_new(&["cidr_block"])
    .outputs(&["vpc_id", "cidr_block"]);

pub struct Vpc(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    cidr_block: String,
    /// AWS's default for a new VPC: on.
    #[serde(default = "on")]
    enable_dns_support: bool,
    /// AWS's default for a new VPC: off.
    #[serde(default)]
    enable_dns_hostnames: bool,
    #[serde(default)]
    tags: Tags,
}

fn on() -> bool {
    true
}

const NOT_FOUND: &[&str] = &["InvalidVpcID.NotFound"];

ec2_resource! {
    types::Vpc, "ec2:DescribeVpcs", NOT_FOUND, describe_vpcs, set_vpc_ids, set_filters, vpcs, vpc_id,
    paged
}

impl Vpc {
    async fn set_dns(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Inputs,
        prior: Option<&Inputs>,
    ) -> Result<(), ProviderError> {
        let ec2 = self.0.ec2(&ctx.region);
        // One attribute per ModifyVpcAttribute call; hostnames need support on.
        let flags = |i: &Inputs| [i.enable_dns_support, i.enable_dns_hostnames];
        let had = prior.map(flags);
        for (n, want) in flags(inputs).into_iter().enumerate() {
            if had.is_some_and(|h| h[n] == want) {
                continue;
            }
            let value = AttributeBooleanValue::builder().value(want).build();
            let req = ec2.modify_vpc_attribute().vpc_id(id);
            let req = if n == 0 {
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
impl Kind for Vpc {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let cidr = inputs.cidr_block.as_str();
        // CreateVpc takes no idempotency token.
        let ec2 = self.0.ec2_once(&ctx.region);
        let created = create_or_find(self, ctx, inputs, "ec2:CreateVpc", &[], || {
            ec2.create_vpc()
                .cidr_block(cidr)
                .tag_specifications(tag_spec(ctx, &inputs.tags, ResourceType::Vpc))
                .send()
        })
        .await?;
        let id = created.id("ec2:CreateVpc", "VPC id", |out| out.vpc()?.vpc_id())?;
        super::on_new(|| self.set_dns(ctx, &id, inputs, None)).await?;
        Ok(Applied {
            outputs: Self::outputs(&id, cidr),
            id,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
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
        Ok(Some(Found {
            inputs: Inputs {
                cidr_block: cidr.to_owned(),
                enable_dns_support: flags[0],
                enable_dns_hostnames: flags[1],
                tags: user_tags(from_sdk(vpc.tags())),
            },
            outputs: Self::outputs(id, cidr),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        // A VPC adopted from an interrupted run may be seconds old.
        super::on_new(|| self.set_dns(ctx, id, inputs, Some(prior))).await?;
        sync_tags(&self.0.ec2(&ctx.region), ctx, id, &prior.tags, &inputs.tags).await?;
        Ok(Self::outputs(id, &inputs.cidr_block))
    }

    async fn find(&self, ctx: &OpContext, _inputs: &Inputs) -> Lookup {
        find_tagged::<types::Vpc>(&self.0.ec2(&ctx.region), ctx).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let ec2 = self.0.ec2(&ctx.region);
        // Lambda releases a deleted function's network interfaces minutes
        // later; until then the VPC answers DependencyViolation.
        let delete = super::delete_when_unused(|| async {
            let result = ec2.delete_vpc().vpc_id(id).send().await;
            tolerate(result, NOT_FOUND, "ec2:DeleteVpc")
        });
        delete_owned::<types::Vpc>(&ec2, ctx, id, "VPC", delete).await
    }

    async fn list(&self, scope: &ListScope) -> Listed {
        list_env::<types::Vpc>(&self.0.ec2(&scope.region), &scope.env, |_| true).await
    }
}
