//! `ec2.route_table_association`: binds a subnet to a route table.

use std::sync::Arc;

use async_trait::async_trait;
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use aws_sdk_ec2::types::RouteTable;

use super::lookup::describe_id;
use crate::clients::Clients;
use crate::support::{attrs, create_once, req_str, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "ec2.route_table_association",
    // Re-pointing an association yields a new association id: replace.
    force_new: &["subnet_id", "route_table_id"],
    outputs: &["association_id"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct RouteTableAssociation(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &[
    "InvalidAssociationID.NotFound",
    "InvalidRouteTableID.NotFound",
];

#[async_trait]
impl Provider for RouteTableAssociation {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let (subnet, table) = (
            req_str(ctx, inputs, "subnet_id")?,
            req_str(ctx, inputs, "route_table_id")?,
        );
        // AssociateRouteTable takes no idempotency token; a resend of one
        // that happened finds the subnet associated.
        let ec2 = self.0.ec2_once(&ctx.region);
        let created = create_once(
            "ec2:AssociateRouteTable",
            &["Resource.AlreadyAssociated"],
            || {
                ec2.associate_route_table()
                    .subnet_id(subnet)
                    .route_table_id(table)
                    .send()
            },
            || self.find(ctx, inputs),
        )
        .await?;
        let id = created.id("ec2:AssociateRouteTable", "association id", |out| {
            out.association_id()
        })?;
        Ok(Applied {
            outputs: attrs([("association_id", json!(id))]),
            id,
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let table = req_str(ctx, prior, "route_table_id")?;
        let ec2 = self.0.ec2(&ctx.region);
        let Some(t) = describe_id::<RouteTable>(&ec2, table).await? else {
            return Ok(None);
        };
        let assoc = t
            .associations()
            .iter()
            .find(|a| a.route_table_association_id() == Some(id));
        Ok(assoc.map(|a| Observed {
            inputs: attrs([
                ("subnet_id", json!(a.subnet_id())),
                ("route_table_id", json!(a.route_table_id())),
            ]),
            outputs: attrs([("association_id", json!(id))]),
        }))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
        _inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        // Every input forces replacement; nothing to change in place.
        Ok(attrs([("association_id", json!(id))]))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        // A subnet has at most one association: look for it on the table.
        let subnet = req_str(ctx, inputs, "subnet_id")?;
        let table = req_str(ctx, inputs, "route_table_id")?;
        let ec2 = self.0.ec2(&ctx.region);
        let Some(t) = describe_id::<RouteTable>(&ec2, table).await? else {
            return Ok(None);
        };
        Ok(t.associations()
            .iter()
            .find(|a| a.subnet_id() == Some(subnet))
            .and_then(|a| a.route_table_association_id())
            .map(str::to_owned))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        // An association has no tags: its table proves it this
        // environment's. One that is not in the table state records is
        // not this address's to remove (read sees it gone, too).
        if self.read(ctx, id, inputs).await?.is_none() {
            return Ok(());
        }
        let table = req_str(ctx, inputs, "route_table_id")?;
        if !super::route_table::confirm_table_owned(&self.0.ec2(&ctx.region), ctx, table).await? {
            return Ok(());
        }
        let result = self
            .0
            .ec2(&ctx.region)
            .disassociate_route_table()
            .association_id(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "ec2:DisassociateRouteTable")
    }
}
