//! `ec2.vpc_peering_connection`: the requester's side of a peering
//! connection between a VPC of its region and a VPC of the same account in
//! `peer_region`. A cross-region request is accepted in the peer region, by
//! `ec2.vpc_peering_connection_accepter`; until then it waits in
//! `pending-acceptance`, and AWS lets it expire after 7 days.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    ResourceType, VpcPeeringConnection as Connection, VpcPeeringConnectionStateReasonCode as Code,
};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};

use super::lookup::{describe_id, ec2_resource, env_resources, find_one};
use super::{id_output, identity_filters, sync_tags, tag_spec};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{found, wait_for};
use crate::tags::{Tags, from_sdk, made_for, user_tags};

pub static SCHEMA: KindSchema = KindSchema::new(
    "ec2.vpc_peering_connection",
    Latency {
        create: 10,
        update: 1,
        delete: 10,
        basis: "pending-acceptance in seconds",
    },
)
.force_new(&["vpc_id", "peer_vpc_id", "peer_region"])
.outputs(&["vpc_peering_connection_id"]);

pub struct VpcPeeringConnection(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    vpc_id: String,
    peer_vpc_id: String,
    peer_region: String,
    #[serde(default)]
    tags: Tags,
}

pub(crate) const NOT_FOUND: &[&str] = &["InvalidVpcPeeringConnectionID.NotFound"];

/// Seconds on AWS, across regions too; generous, as for other EC2 waits.
pub(crate) const WAIT: Duration = Duration::from_secs(5 * 60);

/// States of a connection that is no more (or never was): `failed` (e.g.
/// overlapping CIDR blocks) stays visible for 2 hours, `deleted`,
/// `rejected` and `expired` for days (VPC Peering Guide, "VPC peering
/// connection lifecycle"); none can be accepted or used again.
pub(crate) fn is_gone(code: Option<&Code>) -> bool {
    matches!(
        code,
        Some(Code::Deleted | Code::Deleting | Code::Failed | Code::Rejected | Code::Expired)
    )
}

pub(crate) fn code(c: &Connection) -> Option<&Code> {
    c.status().and_then(|s| s.code())
}

/// `<code>: <message>` of a connection's status, for errors.
pub(crate) fn status_text(c: &Connection) -> String {
    let code = code(c).map_or("unknown", Code::as_str);
    match c
        .status()
        .and_then(|s| s.message())
        .filter(|m| !m.is_empty())
    {
        Some(message) => format!("{code} ({message})"),
        None => code.to_owned(),
    }
}

/// The connection as `client`'s region sees it; `None` when that region
/// does not know it (yet, or any more). Each side of a cross-region
/// connection has its own tags.
pub(crate) async fn describe(
    client: &Client,
    id: &str,
) -> Result<Option<Connection>, ProviderError> {
    describe_id(client, id).await
}

ec2_resource! {
    Connection, "ec2:DescribeVpcPeeringConnections", NOT_FOUND, describe_vpc_peering_connections,
    set_vpc_peering_connection_ids, set_filters, vpc_peering_connections, vpc_peering_connection_id,
    paged
}

pub(crate) fn outputs(id: &str) -> Attributes {
    id_output("vpc_peering_connection_id", id)
}

/// The ids of the connections environment `scope.env` has in its region
/// on one side (`side` gives a connection's VPC info on it): that side's
/// region is the scope's, its tags (each side has its own) are the
/// environment's, and `keep` accepts the connection's state.
pub(crate) async fn list_side(
    clients: &Clients,
    scope: &ListScope,
    side: fn(&Connection) -> Option<&aws_sdk_ec2::types::VpcPeeringConnectionVpcInfo>,
    keep: impl Fn(Option<&Code>) -> bool,
) -> Result<Vec<String>, ProviderError> {
    let found = env_resources::<Connection>(&clients.ec2(&scope.region), &scope.env).await?;
    Ok(found
        .iter()
        .filter(|c| side(c).and_then(|v| v.region()) == Some(scope.region.as_str()))
        .filter(|c| keep(code(c)))
        .filter_map(|c| c.vpc_peering_connection_id())
        .map(str::to_owned)
        .collect())
}

impl VpcPeeringConnection {
    /// Waits until the request has reached the accepter: `pending-acceptance`
    /// (or already `active`), as Terraform's `aws_vpc_peering_connection`
    /// does; a request AWS turns down (`failed`: overlapping CIDR blocks,
    /// a peer VPC that does not exist) is an error naming AWS's reason.
    async fn wait_requested(
        &self,
        ctx: &OpContext,
        id: &str,
        peer_region: &str,
    ) -> Result<(), ProviderError> {
        let ec2 = self.0.ec2(&ctx.region);
        wait_for("VPC peering connection pending acceptance", WAIT, || async {
            let Some(c) = describe(&ec2, id).await? else {
                return Ok(Err("not visible yet".to_owned()));
            };
            match code(&c) {
                Some(Code::PendingAcceptance | Code::Active | Code::Provisioning) => Ok(Ok(())),
                Some(Code::InitiatingRequest) | None => Ok(Err(status_text(&c))),
                Some(_) => Err(ProviderError::new(
                    "ec2:CreateVpcPeeringConnection",
                    format!(
                        "{id} is {} instead of pending acceptance. AWS fails a request between VPCs whose CIDR blocks overlap, or to a peer VPC that is not in {peer_region}: give the VPCs disjoint ranges, or name the peer VPC's region (a failed request stays listed for 2 hours, then goes)",
                        status_text(&c)
                    ),
                )
                .with_code("VpcPeeringConnectionFailed")),
            }
        })
        .await
    }
}

#[async_trait]
impl Kind for VpcPeeringConnection {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let (vpc, peer_vpc) = (&inputs.vpc_id, &inputs.peer_vpc_id);
        let peer_region = inputs.peer_region.as_str();
        // CreateVpcPeeringConnection takes no idempotency token: a resend
        // after a lost response would request a second connection.
        let ec2 = self.0.ec2_once(&ctx.region);
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "ec2:CreateVpcPeeringConnection",
            &[],
            || {
                ec2.create_vpc_peering_connection()
                    .vpc_id(vpc)
                    .peer_vpc_id(peer_vpc)
                    .peer_region(peer_region)
                    .tag_specifications(tag_spec(
                        ctx,
                        &inputs.tags,
                        ResourceType::VpcPeeringConnection,
                    ))
                    .send()
            },
        )
        .await?;
        let id = created.id(
            "ec2:CreateVpcPeeringConnection",
            "VPC peering connection id",
            |out| out.vpc_peering_connection()?.vpc_peering_connection_id(),
        )?;
        self.wait_requested(ctx, &id, peer_region).await?;
        Ok(Applied {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let Some(c) = describe(&self.0.ec2(&ctx.region), id).await? else {
            return Ok(None);
        };
        if is_gone(code(&c)) {
            return Ok(None);
        }
        let requester = c.requester_vpc_info();
        let accepter = c.accepter_vpc_info();
        let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
        Ok(Some(Found {
            inputs: Inputs {
                vpc_id: text(requester.and_then(|v| v.vpc_id())),
                peer_vpc_id: text(accepter.and_then(|v| v.vpc_id())),
                peer_region: text(accepter.and_then(|v| v.region())),
                tags: user_tags(from_sdk(c.tags())),
            },
            outputs: outputs(id),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        // Only the requester's side's tags: the accepter tags its own.
        sync_tags(&self.0.ec2(&ctx.region), ctx, id, &prior.tags, &inputs.tags).await?;
        Ok(outputs(id))
    }

    async fn find(&self, ctx: &OpContext, _inputs: &Inputs) -> Lookup {
        // Tag filters, and the tags checked again here (not every emulator
        // applies the filters); a connection that is gone does not count.
        let ec2 = self.0.ec2(&ctx.region);
        find_one(&ec2, ctx, identity_filters(ctx), |c: &Connection| {
            made_for(ctx, &from_sdk(c.tags())) && !is_gone(code(c))
        })
        .await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let ec2 = self.0.ec2(&ctx.region);
        // AWS refuses to delete a `failed` or `rejected` connection
        // (InvalidStateTransition); it removes those itself.
        let current = describe(&ec2, id).await?;
        let deleting = current.as_ref().map(code) == Some(Some(&Code::Deleting));
        if !deleting {
            let Some(connection) = current.as_ref().filter(|c| !is_gone(code(c))) else {
                return Ok(());
            };
            super::confirm_owned(
                ctx,
                &format!("VPC peering connection {id}"),
                connection.tags(),
            )?;
            let result = ec2
                .delete_vpc_peering_connection()
                .vpc_peering_connection_id(id)
                .send()
                .await;
            if let Err(e) = found(result, NOT_FOUND, "ec2:DeleteVpcPeeringConnection") {
                // Deleted (or failed) since the describe: done all the same.
                let now = describe(&ec2, id).await?;
                if !now.as_ref().is_none_or(|c| is_gone(code(c))) {
                    return Err(e);
                }
            }
        }
        // `deleting`, then `deleted`, which stays listed for a while.
        wait_for("VPC peering connection deleted", WAIT, || async {
            Ok(match describe(&ec2, id).await? {
                None => Ok(()),
                Some(c) => match code(&c) {
                    Some(Code::Deleted | Code::Failed | Code::Rejected | Code::Expired) => Ok(()),
                    _ => Err(status_text(&c)),
                },
            })
        })
        .await
    }

    /// The connections the environment requested from this region.
    async fn list(&self, scope: &ListScope) -> Listed {
        let requester = Connection::requester_vpc_info;
        list_side(&self.0, scope, requester, |c| !is_gone(c)).await
    }
}
