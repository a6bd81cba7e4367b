//! `ec2.eip`: an Elastic IP address for a NAT gateway.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{self, DomainType, ResourceType};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::lookup::{delete_owned, describe_id, ec2_resource, find_tagged, list_env};
use super::{sync_tags, tag_spec};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, adopt, create_or_find};
use crate::support::{Created, attrs, response_id, tolerate};
use crate::tags::{Tags, from_sdk, user_tags};

pub static SCHEMA: KindSchema =
    KindSchema::new("ec2.eip", Latency::calls(1, 1, 1)).outputs(&["allocation_id", "public_ip"]);

pub struct Eip(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    #[serde(default)]
    tags: Tags,
}

const NOT_FOUND: &[&str] = &["InvalidAllocationID.NotFound"];

// DescribeAddresses answers every match at once: it has no pages.
ec2_resource! {
    types::Address, "ec2:DescribeAddresses", NOT_FOUND,
    describe_addresses, set_allocation_ids, set_filters, addresses, allocation_id
}

fn outputs(id: &str, ip: &str) -> Attributes {
    attrs([("allocation_id", json!(id)), ("public_ip", json!(ip))])
}

#[async_trait]
impl Kind for Eip {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        // AllocateAddress takes no idempotency token.
        let ec2 = self.0.ec2_once(&ctx.region);
        let created = create_or_find(self, ctx, inputs, "ec2:AllocateAddress", &[], || {
            ec2.allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(tag_spec(ctx, &inputs.tags, ResourceType::ElasticIp))
                .send()
        })
        .await?;
        let id = match created {
            Created::Sent(out) => {
                let id = response_id("ec2:AllocateAddress", "allocation id", out.allocation_id())?;
                return Ok(Applied {
                    outputs: outputs(&id, out.public_ip().unwrap_or_default()),
                    id,
                });
            }
            Created::Found(id) => id,
        };
        // Its outputs as read now (also when found after a lost answer).
        adopt(self, ctx, id, inputs).await
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let ec2 = self.0.ec2(&ctx.region);
        let Some(a) = describe_id::<types::Address>(&ec2, id).await? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: Inputs {
                tags: user_tags(from_sdk(a.tags())),
            },
            outputs: outputs(id, a.public_ip().unwrap_or_default()),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        sync_tags(&self.0.ec2(&ctx.region), ctx, id, &prior.tags, &inputs.tags).await?;
        let found = self.read(ctx, id, inputs).await?;
        found.map(|o| o.outputs).ok_or_else(|| {
            ProviderError::new("ec2:DescribeAddresses", "address disappeared during update")
        })
    }

    async fn find(&self, ctx: &OpContext, _inputs: &Inputs) -> Lookup {
        find_tagged::<types::Address>(&self.0.ec2(&ctx.region), ctx).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let ec2 = self.0.ec2(&ctx.region);
        let delete = async {
            let result = ec2.release_address().allocation_id(id).send().await;
            tolerate(result, NOT_FOUND, "ec2:ReleaseAddress")
        };
        delete_owned::<types::Address>(&ec2, ctx, id, "Elastic IP", delete).await
    }

    async fn list(&self, scope: &ListScope) -> Listed {
        list_env::<types::Address>(&self.0.ec2(&scope.region), &scope.env, |_| true).await
    }
}
