//! `ec2.route`: one route in a route table, to an internet or NAT gateway
//! or a VPC peering connection.
//! Its id is `<route table id>_<destination>`, as in Terraform.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::RouteTable;
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use super::lookup::describe_id;
use crate::clients::Clients;
use crate::support::{api_error, attrs, create_once, invalid, opt_str, req_str, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "ec2.route",
    force_new: &["route_table_id", "destination_cidr_block"],
    outputs: &["route_table_id"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct Route(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["InvalidRouteTableID.NotFound", "InvalidRoute.NotFound"];

/// Targets a route may have; exactly one is set.
const TARGETS: &[&str] = &["gateway_id", "nat_gateway_id", "vpc_peering_connection_id"];

fn target<'a>(
    ctx: &OpContext,
    inputs: &'a Attributes,
) -> Result<(&'static str, &'a str), ProviderError> {
    let set: Vec<_> = TARGETS
        .iter()
        .filter_map(|k| opt_str(inputs, k).map(|v| (*k, v)))
        .collect();
    match set.as_slice() {
        [one] => Ok(*one),
        _ => Err(invalid(
            ctx,
            format!("exactly one of {} must be set", TARGETS.join(", ")),
        )),
    }
}

#[async_trait]
impl Provider for Route {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let table = req_str(ctx, inputs, "route_table_id")?;
        let dest = req_str(ctx, inputs, "destination_cidr_block")?;
        let (kind, target_id) = target(ctx, inputs)?;
        // CreateRoute takes no idempotency token; a resend of one that
        // happened is refused as RouteAlreadyExists.
        let ec2 = self.0.ec2_once(&ctx.region);
        create_once(
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
            || self.find(ctx, inputs),
        )
        .await?;
        Ok(Applied {
            id: format!("{table}_{dest}"),
            outputs: attrs([("route_table_id", json!(table))]),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        _id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let table = req_str(ctx, prior, "route_table_id")?;
        let dest = req_str(ctx, prior, "destination_cidr_block")?;
        let ec2 = self.0.ec2(&ctx.region);
        let Some(t) = describe_id::<RouteTable>(&ec2, table).await? else {
            return Ok(None);
        };
        let mut routes = t.routes().iter();
        let Some(route) = routes.find(|r| r.destination_cidr_block() == Some(dest)) else {
            return Ok(None);
        };
        let mut inputs = attrs([
            ("route_table_id", json!(table)),
            ("destination_cidr_block", json!(dest)),
        ]);
        if let Some(g) = route.gateway_id() {
            inputs.insert("gateway_id".into(), json!(g));
        }
        if let Some(n) = route.nat_gateway_id() {
            inputs.insert("nat_gateway_id".into(), json!(n));
        }
        if let Some(p) = route.vpc_peering_connection_id() {
            inputs.insert("vpc_peering_connection_id".into(), json!(p));
        }
        Ok(Some(Observed {
            inputs,
            outputs: attrs([("route_table_id", json!(table))]),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _id: &str,
        _prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let table = req_str(ctx, inputs, "route_table_id")?;
        let (kind, target_id) = target(ctx, inputs)?;
        let req = self
            .0
            .ec2(&ctx.region)
            .replace_route()
            .route_table_id(table)
            .destination_cidr_block(req_str(ctx, inputs, "destination_cidr_block")?);
        let req = match kind {
            "gateway_id" => req.gateway_id(target_id),
            "nat_gateway_id" => req.nat_gateway_id(target_id),
            _ => req.vpc_peering_connection_id(target_id),
        };
        req.send()
            .await
            .map_err(|e| api_error("ec2:ReplaceRoute", e))?;
        Ok(attrs([("route_table_id", json!(table))]))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        // A route is identified by its table and destination.
        let table = req_str(ctx, inputs, "route_table_id")?;
        let dest = req_str(ctx, inputs, "destination_cidr_block")?;
        Ok(self
            .read(ctx, "", inputs)
            .await?
            .map(|_| format!("{table}_{dest}")))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        _id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let table = req_str(ctx, inputs, "route_table_id")?;
        // A route has no tags: its table proves it this environment's.
        if !super::route_table::confirm_table_owned(&self.0.ec2(&ctx.region), ctx, table).await? {
            return Ok(());
        }
        let result = self
            .0
            .ec2(&ctx.region)
            .delete_route()
            .route_table_id(table)
            .destination_cidr_block(req_str(ctx, inputs, "destination_cidr_block")?)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "ec2:DeleteRoute")
    }
}
