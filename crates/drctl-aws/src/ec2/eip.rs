//! `ec2.eip`: an Elastic IP address for a NAT gateway.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use drctl_core::{Applied, Attributes, KindSchema, Observed, OpContext, Provider, ProviderError};
use serde_json::json;

use super::{identity_filters, sync_tags, tag_spec, tags_json};
use crate::clients::Clients;
use crate::support::{
    Created, adopt, api_error, attrs, create_once, found, response_id, the_one, tolerate,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "ec2.eip",
    force_new: &[],
    outputs: &["allocation_id", "public_ip"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
};

pub struct Eip(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["InvalidAllocationID.NotFound"];

fn outputs(id: &str, ip: &str) -> Attributes {
    attrs([("allocation_id", json!(id)), ("public_ip", json!(ip))])
}

#[async_trait]
impl Provider for Eip {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        // AllocateAddress takes no idempotency token.
        let ec2 = self.0.ec2_once(&ctx.region);
        let created = create_once(
            "ec2:AllocateAddress",
            &[],
            || {
                ec2.allocate_address()
                    .domain(DomainType::Vpc)
                    .tag_specifications(tag_spec(ctx, inputs, ResourceType::ElasticIp))
                    .send()
            },
            || self.find(ctx, inputs),
        )
        .await?;
        match created {
            Created::Sent(out) => {
                let id = response_id("ec2:AllocateAddress", "allocation id", out.allocation_id())?;
                Ok(Applied {
                    outputs: outputs(&id, out.public_ip().unwrap_or_default()),
                    id,
                })
            }
            Created::Found(id) => adopt(self, ctx, id, inputs).await,
        }
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let result = self
            .0
            .ec2(&ctx.region)
            .describe_addresses()
            .allocation_ids(id)
            .send()
            .await;
        let Some(out) = found(result, NOT_FOUND, "ec2:DescribeAddresses")? else {
            return Ok(None);
        };
        let Some(a) = out.addresses().first() else {
            return Ok(None);
        };
        Ok(Some(Observed {
            inputs: attrs([("tags", tags_json(a.tags()))]),
            outputs: outputs(id, a.public_ip().unwrap_or_default()),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        sync_tags(&self.0.ec2(&ctx.region), ctx, id, prior, inputs).await?;
        let observed = self.read(ctx, id, inputs).await?;
        observed.map(|o| o.outputs).ok_or_else(|| {
            ProviderError::new("ec2:DescribeAddresses", "address disappeared during update")
        })
    }

    async fn find(
        &self,
        ctx: &OpContext,
        _inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let out = self
            .0
            .ec2(&ctx.region)
            .describe_addresses()
            .set_filters(Some(identity_filters(ctx)))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeAddresses", e))?;
        the_one(
            ctx,
            out.addresses()
                .iter()
                .filter_map(|a| a.allocation_id())
                .map(str::to_owned),
        )
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let result = self
            .0
            .ec2(&ctx.region)
            .describe_addresses()
            .allocation_ids(id)
            .send()
            .await;
        let Some(out) = found(result, NOT_FOUND, "ec2:DescribeAddresses")? else {
            return Ok(());
        };
        let Some(address) = out.addresses().first() else {
            return Ok(());
        };
        super::confirm_owned(ctx, &format!("Elastic IP {id}"), address.tags())?;
        let result = self
            .0
            .ec2(&ctx.region)
            .release_address()
            .allocation_id(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "ec2:ReleaseAddress")
    }
}
