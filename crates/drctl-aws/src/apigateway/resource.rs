//! `apigateway.resource`: one path segment of a REST API. Its id is the
//! resource id; the API comes from the inputs.

use std::sync::Arc;

use async_trait::async_trait;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{NOT_FOUND, env_resource_ids, gone, resources_of};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{attrs, found, tolerate};

pub static SCHEMA: KindSchema = KindSchema::new("apigateway.resource", Latency::calls(1, 1, 1))
    .force_new(&["rest_api_id", "parent_id", "path_part"])
    .outputs(&["id", "path"]);

pub struct Resource(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    rest_api_id: String,
    parent_id: String,
    path_part: String,
}

fn outputs(id: &str, path: Option<&str>) -> Attributes {
    attrs([("id", json!(id)), ("path", json!(path.unwrap_or_default()))])
}

#[async_trait]
impl Kind for Resource {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        // CreateResource takes no idempotency token; a resend of one that
        // happened finds the path taken (ConflictException).
        let request = self
            .0
            .apigateway_once(&ctx.region)
            .create_resource()
            .rest_api_id(&inputs.rest_api_id)
            .parent_id(&inputs.parent_id)
            .path_part(&inputs.path_part);
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "apigateway:CreateResource",
            &["ConflictException"],
            || request.clone().send(),
        )
        .await?;
        created
            .applied(self, ctx, inputs, |out| {
                let id = out.id().unwrap_or_default().to_owned();
                Ok(Applied {
                    outputs: outputs(&id, out.path()),
                    id,
                })
            })
            .await
    }

    async fn read(&self, ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let api = &prior.rest_api_id;
        let apigateway = self.0.apigateway(&ctx.region);
        let result = apigateway
            .get_resource()
            .rest_api_id(api)
            .resource_id(id)
            .send()
            .await;
        let Some(out) = found(result, NOT_FOUND, "apigateway:GetResource")? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: Inputs {
                rest_api_id: api.clone(),
                parent_id: out.parent_id().unwrap_or_default().to_owned(),
                path_part: out.path_part().unwrap_or_default().to_owned(),
            },
            outputs: outputs(id, out.path()),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, _prior: &Inputs, inputs: &Inputs) -> Updated {
        // Every input forces replacement: nothing to change in place.
        let read = self
            .read(ctx, id, inputs)
            .await?
            .ok_or_else(|| gone("apigateway:GetResource", "resource"))?;
        Ok(read.outputs)
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // A path part is unique under its parent.
        let client = self.0.apigateway(&ctx.region);
        let Some(resources) = resources_of(&client, &inputs.rest_api_id).await? else {
            return Ok(None);
        };
        Ok(resources
            .iter()
            .find(|r| {
                r.parent_id() == Some(inputs.parent_id.as_str())
                    && r.path_part() == Some(inputs.path_part.as_str())
            })
            .and_then(|r| r.id().map(str::to_owned)))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let api = &inputs.rest_api_id;
        let client = self.0.apigateway(&ctx.region);
        if !super::confirm_api_owned(&client, ctx, api).await? {
            return Ok(());
        }
        let result = client
            .delete_resource()
            .rest_api_id(api)
            .resource_id(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "apigateway:DeleteResource")
    }

    /// Every resource but the root (the API's own) of the environment's
    /// APIs: a resource has no tags, its API says whose it is.
    async fn list(&self, scope: &ListScope) -> Listed {
        env_resource_ids(&self.0, scope, |r| {
            let id = r.id().filter(|_| r.parent_id().is_some());
            id.map(str::to_owned).into_iter().collect()
        })
        .await
    }
}
