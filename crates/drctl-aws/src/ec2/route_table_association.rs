//! `ec2.route_table_association`: binds a subnet to a route table.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    RouteTable, RouteTableAssociation as Association, RouteTableAssociationStateCode as State,
};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};

use super::id_output;
use super::lookup::describe_id;
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::tolerate;

pub static SCHEMA: KindSchema =
    KindSchema::new("ec2.route_table_association", Latency::calls(1, 1, 1))
        // Re-pointing an association yields a new association id: replace.
        .force_new(&["subnet_id", "route_table_id"])
        .outputs(&["association_id"]);

pub struct RouteTableAssociation(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    subnet_id: String,
    route_table_id: String,
}

const NOT_FOUND: &[&str] = &[
    "InvalidAssociationID.NotFound",
    "InvalidRouteTableID.NotFound",
];

fn outputs(id: &str) -> Attributes {
    id_output("association_id", id)
}

/// The id of a subnet's association with its table (not the main
/// association, nor a gateway's, which this kind never makes), unless it
/// is on its way out.
fn of_subnet(a: &Association) -> Option<&str> {
    let leaving = matches!(
        a.association_state().and_then(|s| s.state()),
        Some(State::Disassociated | State::Disassociating)
    );
    a.subnet_id()?;
    (!leaving && a.main() != Some(true))
        .then_some(a.route_table_association_id())
        .flatten()
}

impl RouteTableAssociation {
    /// The associations of route table `table`, `None` when it is gone.
    async fn table(
        &self,
        ctx: &OpContext,
        table: &str,
    ) -> Result<Option<RouteTable>, ProviderError> {
        describe_id::<RouteTable>(&self.0.ec2(&ctx.region), table).await
    }
}

#[async_trait]
impl Kind for RouteTableAssociation {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        // AssociateRouteTable takes no idempotency token; a resend of one
        // that happened finds the subnet associated.
        let ec2 = self.0.ec2_once(&ctx.region);
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "ec2:AssociateRouteTable",
            &["Resource.AlreadyAssociated"],
            || {
                ec2.associate_route_table()
                    .subnet_id(&inputs.subnet_id)
                    .route_table_id(&inputs.route_table_id)
                    .send()
            },
        )
        .await?;
        let id = created.id("ec2:AssociateRouteTable", "association id", |out| {
            out.association_id()
        })?;
        Ok(Applied {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let Some(t) = self.table(ctx, &prior.route_table_id).await? else {
            return Ok(None);
        };
        let assoc = t
            .associations()
            .iter()
            .find(|a| a.route_table_association_id() == Some(id));
        Ok(assoc.map(|a| Found {
            inputs: Inputs {
                subnet_id: a.subnet_id().unwrap_or_default().to_owned(),
                route_table_id: a.route_table_id().unwrap_or_default().to_owned(),
            },
            outputs: outputs(id),
        }))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        id: &str,
        _prior: &Inputs,
        _inputs: &Inputs,
    ) -> Updated {
        // Every input forces replacement; nothing to change in place.
        Ok(outputs(id))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // A subnet has at most one association: look for it on the table.
        let Some(t) = self.table(ctx, &inputs.route_table_id).await? else {
            return Ok(None);
        };
        Ok(t.associations()
            .iter()
            .find(|a| a.subnet_id() == Some(inputs.subnet_id.as_str()))
            .and_then(|a| a.route_table_association_id())
            .map(str::to_owned))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        // An association has no tags: its table proves it this
        // environment's. One that is not in the table state records is
        // not this address's to remove (read sees it gone, too).
        if self.read(ctx, id, inputs).await?.is_none() {
            return Ok(());
        }
        let table = inputs.route_table_id.as_str();
        let ec2 = self.0.ec2(&ctx.region);
        if !super::route_table::confirm_table_owned(&ec2, ctx, table).await? {
            return Ok(());
        }
        let result = ec2
            .disassociate_route_table()
            .association_id(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "ec2:DisassociateRouteTable")
    }

    /// The subnet associations of the environment's route tables.
    async fn list(&self, scope: &ListScope) -> Listed {
        let tables = super::route_table::env_tables(&self.0, scope).await?;
        let associations = tables.iter().flat_map(|t| t.associations());
        Ok(associations
            .filter_map(of_subnet)
            .map(str::to_owned)
            .collect())
    }
}
