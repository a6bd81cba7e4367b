//! `ec2.route`: one route in a route table, to an internet or NAT gateway
//! or a VPC peering connection.
//! Its id is `<route table id>_<destination>`, as in Terraform.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{RouteOrigin, RouteTable};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};

use super::id_output;
use super::lookup::describe_id;
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{api_error, invalid, tolerate};

pub static SCHEMA: KindSchema = KindSchema::new("ec2.route", Latency::calls(1, 1, 1))
    .force_new(&["route_table_id", "destination_cidr_block"])
    .outputs(&["route_table_id"]);

pub struct Route(pub(crate) Arc<Clients>);

/// A route's table and destination, and its target: exactly one of the
/// three.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    route_table_id: String,
    destination_cidr_block: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gateway_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nat_gateway_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vpc_peering_connection_id: Option<String>,
}

const NOT_FOUND: &[&str] = &["InvalidRouteTableID.NotFound", "InvalidRoute.NotFound"];

/// Targets a route may have; exactly one is set.
const TARGETS: &[&str] = &["gateway_id", "nat_gateway_id", "vpc_peering_connection_id"];

/// The one target of a route, as `(input, id)`.
fn target<'a>(
    ctx: &OpContext,
    inputs: &'a Inputs,
) -> Result<(&'static str, &'a str), ProviderError> {
    let set: Vec<_> = [
        &inputs.gateway_id,
        &inputs.nat_gateway_id,
        &inputs.vpc_peering_connection_id,
    ]
    .into_iter()
    .zip(TARGETS)
    .filter_map(|(v, k)| Some((*k, v.as_deref()?)))
    .collect();
    match set.as_slice() {
        [one] => Ok(*one),
        _ => Err(invalid(
            ctx,
            format!("exactly one of {} must be set", TARGETS.join(", ")),
        )),
    }
}

fn id(table: &str, destination: &str) -> String {
    format!("{table}_{destination}")
}

fn outputs(table: &str) -> Attributes {
    id_output("route_table_id", table)
}

/// The route as `Inputs`, when it has a destination block.
fn observed(table: &str, route: &aws_sdk_ec2::types::Route) -> Option<Inputs> {
    Some(Inputs {
        route_table_id: table.to_owned(),
        destination_cidr_block: route.destination_cidr_block()?.to_owned(),
        gateway_id: route.gateway_id().map(str::to_owned),
        nat_gateway_id: route.nat_gateway_id().map(str::to_owned),
        vpc_peering_connection_id: route.vpc_peering_connection_id().map(str::to_owned),
    })
}

/// Whether drctl could have made the route: one through a target this
/// kind sets, not the table's own `local` route.
fn made_by_create_route(route: &aws_sdk_ec2::types::Route) -> bool {
    route.origin() != Some(&RouteOrigin::CreateRouteTable)
        && route.gateway_id() != Some("local")
        && (route.gateway_id().is_some()
            || route.nat_gateway_id().is_some()
            || route.vpc_peering_connection_id().is_some())
}

#[async_trait]
impl Kind for Route {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let table = inputs.route_table_id.as_str();
        let dest = inputs.destination_cidr_block.as_str();
        let (kind, target_id) = target(ctx, inputs)?;
        // CreateRoute takes no idempotency token; a resend of one that
        // happened is refused as RouteAlreadyExists.
        let ec2 = self.0.ec2_once(&ctx.region);
        create_or_find(
            self,
            ctx,
            inputs,
            "ec2:CreateRoute",
            &["RouteAlreadyExists"],
            || {
                let req = ec2
                    .create_route()
                    .route_table_id(table)
                    .destination_cidr_block(dest);
                let req = match kind {
                    "gateway_id" => req.gateway_id(target_id),
                    "nat_gateway_id" => req.nat_gateway_id(target_id),
                    _ => req.vpc_peering_connection_id(target_id),
                };
                req.send()
            },
        )
        .await?;
        Ok(Applied {
            id: id(table, dest),
            outputs: outputs(table),
        })
    }

    async fn read(&self, ctx: &OpContext, _id: &str, prior: &Inputs) -> Read<Inputs> {
        let table = prior.route_table_id.as_str();
        let dest = prior.destination_cidr_block.as_str();
        let ec2 = self.0.ec2(&ctx.region);
        let Some(t) = describe_id::<RouteTable>(&ec2, table).await? else {
            return Ok(None);
        };
        let mut routes = t.routes().iter();
        let Some(route) = routes.find(|r| r.destination_cidr_block() == Some(dest)) else {
            return Ok(None);
        };
        Ok(observed(table, route).map(|inputs| Found {
            inputs,
            outputs: outputs(table),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _id: &str,
        _prior: &Inputs,
        inputs: &Inputs,
    ) -> Updated {
        let table = inputs.route_table_id.as_str();
        let (kind, target_id) = target(ctx, inputs)?;
        let req = self
            .0
            .ec2(&ctx.region)
            .replace_route()
            .route_table_id(table)
            .destination_cidr_block(&inputs.destination_cidr_block);
        let req = match kind {
            "gateway_id" => req.gateway_id(target_id),
            "nat_gateway_id" => req.nat_gateway_id(target_id),
            _ => req.vpc_peering_connection_id(target_id),
        };
        req.send()
            .await
            .map_err(|e| api_error("ec2:ReplaceRoute", e))?;
        Ok(outputs(table))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // A route is identified by its table and destination.
        Ok(self
            .read(ctx, "", inputs)
            .await?
            .map(|_| id(&inputs.route_table_id, &inputs.destination_cidr_block)))
    }

    async fn delete(&self, ctx: &OpContext, _id: &str, inputs: &Inputs) -> Done {
        let table = inputs.route_table_id.as_str();
        // A route has no tags: its table proves it this environment's.
        let ec2 = self.0.ec2(&ctx.region);
        if !super::route_table::confirm_table_owned(&ec2, ctx, table).await? {
            return Ok(());
        }
        let result = ec2
            .delete_route()
            .route_table_id(table)
            .destination_cidr_block(&inputs.destination_cidr_block)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "ec2:DeleteRoute")
    }

    /// The routes of the environment's route tables that this kind makes.
    async fn list(&self, scope: &ListScope) -> Listed {
        let tables = super::route_table::env_tables(&self.0, scope).await?;
        Ok(tables
            .iter()
            .filter_map(|t| Some((t.route_table_id()?, t.routes())))
            .flat_map(|(table, routes)| {
                routes
                    .iter()
                    .filter(|r| made_by_create_route(r))
                    .filter_map(move |r| observed(table, r))
                    .map(|i| id(&i.route_table_id, &i.destination_cidr_block))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::Route as AwsRoute;

    use super::*;

    #[test]
    fn list_counts_the_routes_create_route_makes_only() {
        let local = AwsRoute::builder()
            .destination_cidr_block("10.0.0.0/16")
            .gateway_id("local")
            .origin(RouteOrigin::CreateRouteTable)
            .build();
        let endpoint = AwsRoute::builder()
            .destination_prefix_list_id("pl-1")
            .gateway_id("vpce-1")
            .build();
        let nat = AwsRoute::builder()
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id("nat-1")
            .origin(RouteOrigin::CreateRoute)
            .build();
        let made = |r: &AwsRoute| {
            made_by_create_route(r)
                .then(|| observed("rtb-1", r))
                .flatten()
        };
        assert!(made(&local).is_none());
        assert!(made(&endpoint).is_none());
        let inputs = made(&nat).expect("the NAT route");
        assert_eq!(
            serde_json::to_value(&inputs).unwrap(),
            serde_json::json!({"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": "nat-1"})
        );
    }
}
