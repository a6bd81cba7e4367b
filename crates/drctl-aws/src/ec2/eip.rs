//! `ec2.eip`: an Elastic IP address for a NAT gateway.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{self, DomainType, ResourceType};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use super::lookup::{describe_id, ec2_resource, find_tagged, owned};
use super::{sync_tags, tag_spec, tags_json};
use crate::clients::Clients;
use crate::support::{Created, adopt, attrs, create_once, response_id, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "ec2.eip",
    force_new: &[],
    outputs: &["allocation_id", "public_ip"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct Eip(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["InvalidAllocationID.NotFound"];

ec2_resource! {
    types::Address, "ec2:DescribeAddresses", NOT_FOUND,
    describe_addresses, set_allocation_ids, set_filters, addresses, allocation_id
}

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
        let ec2 = self.0.ec2(&ctx.region);
        let Some(a) = describe_id::<types::Address>(&ec2, id).await? else {
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
        find_tagged::<types::Address>(&self.0.ec2(&ctx.region), ctx).await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let ec2 = self.0.ec2(&ctx.region);
        if owned::<types::Address>(&ec2, ctx, id, "Elastic IP")
            .await?
            .is_none()
        {
            return Ok(());
        }
        let result = ec2.release_address().allocation_id(id).send().await;
        tolerate(result, NOT_FOUND, "ec2:ReleaseAddress")
    }
}
