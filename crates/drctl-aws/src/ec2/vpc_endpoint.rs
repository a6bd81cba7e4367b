//! `ec2.vpc_endpoint`: a gateway endpoint (S3, DynamoDB) on route tables.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, VpcEndpoint as Endpoint, VpcEndpointType};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};

use super::lookup::{describe_id, ec2_resource, find_one, list_env, owned};
use super::{id_output, identity_filters, sync_tags, tag_spec};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{api_error, create_token, found, response_id, wait_for};
use crate::tags::{Tags, from_sdk, user_tags};

pub static SCHEMA: KindSchema = KindSchema::new(
    "ec2.vpc_endpoint",
    Latency {
        create: 10,
        update: 5,
        delete: 10,
        basis: "gateway endpoint (TF 10 min)",
    },
)
.force_new(&["vpc_id", "service_name", "vpc_endpoint_type"])
.outputs(&["vpc_endpoint_id"]);

pub struct VpcEndpoint(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    vpc_id: String,
    service_name: String,
    /// `Gateway` (S3, DynamoDB).
    vpc_endpoint_type: String,
    /// A set: read reports it sorted.
    #[serde(default)]
    route_table_ids: Vec<String>,
    #[serde(default)]
    tags: Tags,
}

/// Describe answers the first; DeleteVpcEndpoints reports an unknown id as
/// an `unsuccessful` item with either.
const NOT_FOUND: &[&str] = &[
    "InvalidVpcEndpointId.NotFound",
    "InvalidVpcEndpoint.NotFound",
];

ec2_resource! {
    Endpoint, "ec2:DescribeVpcEndpoints", NOT_FOUND,
    describe_vpc_endpoints, set_vpc_endpoint_ids, set_filters, vpc_endpoints, vpc_endpoint_id,
    paged
}

/// The endpoint's state: AWS documents capitalised states and answers in
/// lower case.
fn state(e: &Endpoint) -> Option<String> {
    e.state().map(|s| s.as_str().to_ascii_lowercase())
}

/// Whether the endpoint is deleted or on its way: it stays listed a while.
fn gone(e: &Endpoint) -> bool {
    matches!(state(e).as_deref(), Some("deleted" | "deleting"))
}

/// Terraform's default delete timeout for a VPC endpoint.
const DELETE_LIMIT: Duration = Duration::from_secs(10 * 60);

fn route_tables(inputs: &Inputs) -> BTreeSet<String> {
    inputs.route_table_ids.iter().cloned().collect()
}

fn outputs(id: &str) -> Attributes {
    id_output("vpc_endpoint_id", id)
}

#[async_trait]
impl Kind for VpcEndpoint {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let ec2 = self.0.ec2(&ctx.region);
        let out = ec2
            .create_vpc_endpoint()
            // The create's idempotency token: a resend (the SDK's, after a
            // lost response) returns the endpoint the first call made.
            .client_token(create_token(ctx))
            .vpc_id(&inputs.vpc_id)
            .service_name(&inputs.service_name)
            .vpc_endpoint_type(VpcEndpointType::from(inputs.vpc_endpoint_type.as_str()))
            .set_route_table_ids(Some(route_tables(inputs).into_iter().collect()))
            .tag_specifications(tag_spec(ctx, &inputs.tags, ResourceType::VpcEndpoint))
            .send()
            .await
            .map_err(|e| api_error("ec2:CreateVpcEndpoint", e))?;
        let id = out.vpc_endpoint().and_then(|e| e.vpc_endpoint_id());
        let id = response_id("ec2:CreateVpcEndpoint", "endpoint id", id)?;
        Ok(Applied {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let ec2 = self.0.ec2(&ctx.region);
        let Some(e) = describe_id::<Endpoint>(&ec2, id).await? else {
            return Ok(None);
        };
        if gone(&e) {
            return Ok(None);
        }
        let mut tables = e.route_table_ids().to_vec();
        tables.sort_unstable();
        let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
        Ok(Some(Found {
            inputs: Inputs {
                vpc_id: text(e.vpc_id()),
                service_name: text(e.service_name()),
                vpc_endpoint_type: text(e.vpc_endpoint_type().map(|t| t.as_str())),
                route_table_ids: tables,
                tags: user_tags(from_sdk(e.tags())),
            },
            outputs: outputs(id),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let ec2 = self.0.ec2(&ctx.region);
        let (had, want) = (route_tables(prior), route_tables(inputs));
        let add: Vec<String> = want.difference(&had).cloned().collect();
        let remove: Vec<String> = had.difference(&want).cloned().collect();
        if !add.is_empty() || !remove.is_empty() {
            ec2.modify_vpc_endpoint()
                .vpc_endpoint_id(id)
                .set_add_route_table_ids((!add.is_empty()).then_some(add))
                .set_remove_route_table_ids((!remove.is_empty()).then_some(remove))
                .send()
                .await
                .map_err(|e| api_error("ec2:ModifyVpcEndpoint", e))?;
        }
        sync_tags(&ec2, ctx, id, &prior.tags, &inputs.tags).await?;
        Ok(outputs(id))
    }

    async fn find(&self, ctx: &OpContext, _inputs: &Inputs) -> Lookup {
        let ec2 = self.0.ec2(&ctx.region);
        find_one(&ec2, ctx, identity_filters(ctx), |e: &Endpoint| !gone(e)).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        // A deleted endpoint stays visible as `deleted` for a while; do not
        // ask for it to be deleted twice.
        if self.read(ctx, id, inputs).await?.is_none() {
            return Ok(());
        }
        let ec2 = self.0.ec2(&ctx.region);
        if owned::<Endpoint>(&ec2, ctx, id, "VPC endpoint")
            .await?
            .is_none()
        {
            return Ok(());
        }
        let result = ec2.delete_vpc_endpoints().vpc_endpoint_ids(id).send().await;
        let Some(out) = found(result, NOT_FOUND, "ec2:DeleteVpcEndpoints")? else {
            return Ok(());
        };
        // The call succeeds even when it deleted nothing: each endpoint it
        // could not delete is an `unsuccessful` item with its error.
        if let Some(error) = out
            .unsuccessful()
            .iter()
            .filter(|item| item.resource_id() == Some(id))
            .find_map(|item| item.error())
        {
            let code = error.code().unwrap_or("Unknown");
            if NOT_FOUND.contains(&code) {
                return Ok(());
            }
            return Err(ProviderError::new(
                "ec2:DeleteVpcEndpoints",
                format!(
                    "{id} was not deleted: {code}: {}",
                    error.message().unwrap_or_default()
                ),
            )
            .with_code(code));
        }
        // Deletion is asynchronous (`deleting`); the route tables and the VPC
        // it used can go only once it is `deleted`.
        wait_for("VPC endpoint deleted", DELETE_LIMIT, || async {
            let endpoint = describe_id::<Endpoint>(&ec2, id).await?;
            let state = endpoint.as_ref().and_then(state);
            Ok(match state.as_deref() {
                None | Some("deleted") => Ok(()),
                Some(other) => Err(other.to_owned()),
            })
        })
        .await
    }

    async fn list(&self, scope: &ListScope) -> Listed {
        let ec2 = self.0.ec2(&scope.region);
        list_env(&ec2, &scope.env, |e: &Endpoint| !gone(e)).await
    }
}
