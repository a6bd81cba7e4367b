//! `ec2.vpc_peering_connection_accepter`: the accepter's side of a peering
//! connection another `ec2.vpc_peering_connection` requested, in the
//! accepter VPC's region, where AWS requires a cross-region request to be
//! accepted (VPC Peering Guide, "Accept a VPC peering connection"). Its id
//! is the connection's id; its tags are the accepter's side's own (AWS
//! tags each side of a cross-region connection apart).
//!
//! Delete sends nothing, as Terraform's `aws_vpc_peering_connection_accepter`
//! does: the connection is the requester's, whose delete removes both sides;
//! the blueprint's references order this one's delete before it.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Tag, VpcPeeringConnection, VpcPeeringConnectionStateReasonCode as Code};
use drctl_core::{Applied, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};

use super::sync_tags;
use super::vpc_peering_connection::{
    WAIT, code, describe, is_gone, list_side, outputs, status_text,
};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{api_error, invalid, wait_for};
use crate::tags::{Tags, from_sdk, made_for, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new(
    "ec2.vpc_peering_connection_accepter",
    Latency {
        create: 15,
        update: 1,
        delete: 0,
        basis: "active in seconds; no call on delete",
    },
)
.force_new(&["vpc_peering_connection_id"])
.outputs(&["vpc_peering_connection_id"]);

pub struct VpcPeeringConnectionAccepter(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The requester's connection: the id.
    vpc_peering_connection_id: String,
    #[serde(default)]
    tags: Tags,
}

/// Accepted: `provisioning` for a moment, then `active`.
fn accepted(code: Option<&Code>) -> bool {
    matches!(code, Some(Code::Active | Code::Provisioning))
}

impl VpcPeeringConnectionAccepter {
    /// Accepts the request once it has reached this region in
    /// `pending-acceptance`; one already accepted (an accept whose answer
    /// was lost) is left as it is.
    async fn accept(&self, ctx: &OpContext, id: &str) -> Result<(), ProviderError> {
        let ec2 = self.0.ec2(&ctx.region);
        let pending = wait_for("VPC peering connection pending acceptance", WAIT, || async {
            // A cross-region request shows in the accepter's region a
            // moment after it is made.
            let Some(c) = describe(&ec2, id).await? else {
                return Ok(Err("not visible in this region yet".to_owned()));
            };
            if let Some(region) = c.accepter_vpc_info().and_then(|v| v.region())
                && region != ctx.region
            {
                return Err(invalid(
                    ctx,
                    format!(
                        "{id}'s accepter VPC is in {region}, and AWS accepts a request only in the accepter VPC's region: put this resource in {region}"
                    ),
                ));
            }
            match code(&c) {
                Some(Code::PendingAcceptance) => Ok(Ok(true)),
                c2 if accepted(c2) => Ok(Ok(false)),
                Some(Code::InitiatingRequest) | None => Ok(Err(status_text(&c))),
                Some(_) => Err(ProviderError::new(
                    "ec2:AcceptVpcPeeringConnection",
                    format!("{id} is {}: there is no request to accept", status_text(&c)),
                )
                .with_code("VpcPeeringConnectionNotPending")),
            }
        })
        .await?;
        if pending {
            let result = ec2
                .accept_vpc_peering_connection()
                .vpc_peering_connection_id(id)
                .send()
                .await;
            if let Err(e) = result {
                // The SDK's resend of an accept that happened finds it
                // accepted (InvalidStateTransition): done all the same.
                let now = describe(&ec2, id).await?;
                if !now.as_ref().is_some_and(|c| accepted(code(c))) {
                    return Err(api_error("ec2:AcceptVpcPeeringConnection", e));
                }
            }
        }
        // Routes through the connection carry traffic only once it is active.
        wait_for("VPC peering connection active", WAIT, || async {
            let Some(c) = describe(&ec2, id).await? else {
                return Ok(Err("not visible".to_owned()));
            };
            match code(&c) {
                Some(Code::Active) => Ok(Ok(())),
                c2 if is_gone(c2) => Err(ProviderError::new(
                    "ec2:AcceptVpcPeeringConnection",
                    format!("{id} is {} after it was accepted", status_text(&c)),
                )
                .with_code("VpcPeeringConnectionFailed")),
                _ => Ok(Err(status_text(&c))),
            }
        })
        .await
    }
}

#[async_trait]
impl Kind for VpcPeeringConnectionAccepter {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let id = inputs.vpc_peering_connection_id.as_str();
        self.accept(ctx, id).await?;
        // AcceptVpcPeeringConnection takes no tags; CreateTags in this
        // region tags this side only. Setting them twice is harmless.
        self.0
            .ec2(&ctx.region)
            .create_tags()
            .resources(id)
            .set_tags(Some(to_sdk::<Tag>(with_identity(ctx, &inputs.tags))))
            .send()
            .await
            .map_err(|e| api_error("ec2:CreateTags", e))?;
        Ok(Applied {
            id: id.to_owned(),
            outputs: outputs(id),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        // Only an accepted connection is this resource: one pending
        // acceptance is not accepted (yet), one gone was deleted.
        let Some(c) = describe(&self.0.ec2(&ctx.region), id).await? else {
            return Ok(None);
        };
        if !accepted(code(&c)) {
            return Ok(None);
        }
        Ok(Some(Found {
            inputs: Inputs {
                vpc_peering_connection_id: id.to_owned(),
                tags: user_tags(from_sdk(c.tags())),
            },
            outputs: outputs(id),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        sync_tags(&self.0.ec2(&ctx.region), ctx, id, &prior.tags, &inputs.tags).await?;
        Ok(outputs(id))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // Made by this address: accepted, with this side tagged as ours (an
        // accept that was not yet tagged is found by no one, and the next
        // create accepts nothing and tags it).
        let id = inputs.vpc_peering_connection_id.as_str();
        let Some(c) = describe(&self.0.ec2(&ctx.region), id).await? else {
            return Ok(None);
        };
        Ok((accepted(code(&c)) && made_for(ctx, &from_sdk(c.tags()))).then(|| id.to_owned()))
    }

    async fn delete(&self, _ctx: &OpContext, _id: &str, _inputs: &Inputs) -> Done {
        // Nothing to undo on this side: an accepted connection cannot be
        // un-accepted, and deleting it is the requester's delete.
        Ok(())
    }

    /// The connections the environment accepted in this region.
    async fn list(&self, scope: &ListScope) -> Listed {
        let accepter = VpcPeeringConnection::accepter_vpc_info;
        list_side(&self.0, scope, accepter, accepted).await
    }
}
