//! `ec2.route_table`: a route table; its routes and associations are
//! resources of their own.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{self, ResourceType};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};

use super::lookup::{
    delete_owned, describe_id, ec2_resource, env_resources, find_tagged, list_env,
};
use super::{id_output, sync_tags, tag_spec};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{api_error, create_token, response_id, tolerate};
use crate::tags::{Tags, from_sdk, user_tags};

pub static SCHEMA: KindSchema = KindSchema::new("ec2.route_table", Latency::calls(1, 1, 1))
    .force_new(&["vpc_id"])
    .outputs(&["route_table_id"]);

pub struct RouteTable(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    vpc_id: String,
    #[serde(default)]
    tags: Tags,
}

pub(crate) const NOT_FOUND: &[&str] = &["InvalidRouteTableID.NotFound"];

ec2_resource! {
    types::RouteTable, "ec2:DescribeRouteTables", NOT_FOUND,
    describe_route_tables, set_route_table_ids, set_filters, route_tables, route_table_id, paged
}

/// Refuses a change to a route or association (`ctx`'s address) of route
/// table `table` unless the table is this environment's: neither carries
/// tags, their table proves them drctl's. A table that is gone passes
/// (`false`): there is nothing left to change.
pub(crate) async fn confirm_table_owned(
    ec2: &aws_sdk_ec2::Client,
    ctx: &OpContext,
    table: &str,
) -> Result<bool, ProviderError> {
    let Some(t) = describe_id::<types::RouteTable>(ec2, table).await? else {
        return Ok(false);
    };
    let tags = crate::tags::from_sdk(t.tags());
    crate::support::confirm_parent_owned(
        ctx,
        "delete",
        &format!("route table {table}"),
        &tags,
        None,
    )?;
    Ok(true)
}

/// The route tables of environment `scope.env` in its region: the parents
/// whose routes and associations are that environment's.
pub(crate) async fn env_tables(
    clients: &Clients,
    scope: &ListScope,
) -> Result<Vec<types::RouteTable>, ProviderError> {
    env_resources(&clients.ec2(&scope.region), &scope.env).await
}

fn outputs(id: &str) -> Attributes {
    id_output("route_table_id", id)
}

#[async_trait]
impl Kind for RouteTable {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let ec2 = self.0.ec2(&ctx.region);
        let out = ec2
            .create_route_table()
            // The create's idempotency token: a resend (the SDK's, after a
            // lost response) returns the table the first call made.
            .client_token(create_token(ctx))
            .vpc_id(&inputs.vpc_id)
            .tag_specifications(tag_spec(ctx, &inputs.tags, ResourceType::RouteTable))
            .send()
            .await
            .map_err(|e| api_error("ec2:CreateRouteTable", e))?;
        let id = out.route_table().and_then(|t| t.route_table_id());
        let id = response_id("ec2:CreateRouteTable", "route table id", id)?;
        Ok(Applied {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let ec2 = self.0.ec2(&ctx.region);
        let Some(t) = describe_id::<types::RouteTable>(&ec2, id).await? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: Inputs {
                vpc_id: t.vpc_id().unwrap_or_default().to_owned(),
                tags: user_tags(from_sdk(t.tags())),
            },
            outputs: outputs(id),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        sync_tags(&self.0.ec2(&ctx.region), ctx, id, &prior.tags, &inputs.tags).await?;
        Ok(outputs(id))
    }

    async fn find(&self, ctx: &OpContext, _inputs: &Inputs) -> Lookup {
        find_tagged::<types::RouteTable>(&self.0.ec2(&ctx.region), ctx).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let ec2 = self.0.ec2(&ctx.region);
        // Still associated (an association being removed, or one another
        // tool made): DependencyViolation until it goes.
        let delete = super::delete_when_unused(|| async {
            let result = ec2.delete_route_table().route_table_id(id).send().await;
            tolerate(result, NOT_FOUND, "ec2:DeleteRouteTable")
        });
        delete_owned::<types::RouteTable>(&ec2, ctx, id, "route table", delete).await
    }

    async fn list(&self, scope: &ListScope) -> Listed {
        list_env::<types::RouteTable>(&self.0.ec2(&scope.region), &scope.env, |_| true).await
    }
}
