//! `apigateway.resource`: one path segment of a REST API. Its id is the
//! resource id; the API comes from the inputs.

use std::sync::Arc;

use async_trait::async_trait;
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use super::NOT_FOUND;
use crate::clients::Clients;
use crate::support::{Created, adopt, attrs, create_once, found, req_str, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "apigateway.resource",
    force_new: &["rest_api_id", "parent_id", "path_part"],
    outputs: &["id", "path"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct Resource(pub(crate) Arc<Clients>);

#[async_trait]
impl Provider for Resource {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        // CreateResource takes no idempotency token; a resend of one that
        // happened finds the path taken (ConflictException).
        let request = self
            .0
            .apigateway_once(&ctx.region)
            .create_resource()
            .rest_api_id(req_str(ctx, inputs, "rest_api_id")?)
            .parent_id(req_str(ctx, inputs, "parent_id")?)
            .path_part(req_str(ctx, inputs, "path_part")?);
        let created = create_once(
            "apigateway:CreateResource",
            &["ConflictException"],
            || request.clone().send(),
            || self.find(ctx, inputs),
        )
        .await?;
        match created {
            Created::Sent(out) => {
                let id = out.id().unwrap_or_default().to_owned();
                Ok(Applied {
                    outputs: attrs([
                        ("id", json!(id)),
                        ("path", json!(out.path().unwrap_or_default())),
                    ]),
                    id,
                })
            }
            Created::Found(id) => adopt(self, ctx, id, inputs).await,
        }
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let api = req_str(ctx, prior, "rest_api_id")?;
        let result = self
            .0
            .apigateway(&ctx.region)
            .get_resource()
            .rest_api_id(api)
            .resource_id(id)
            .send()
            .await;
        let Some(out) = found(result, NOT_FOUND, "apigateway:GetResource")? else {
            return Ok(None);
        };
        Ok(Some(Observed {
            inputs: attrs([
                ("rest_api_id", json!(api)),
                ("parent_id", json!(out.parent_id().unwrap_or_default())),
                ("path_part", json!(out.path_part().unwrap_or_default())),
            ]),
            outputs: attrs([
                ("id", json!(id)),
                ("path", json!(out.path().unwrap_or_default())),
            ]),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        // Every input forces replacement: nothing to change in place.
        let read = self.read(ctx, id, inputs).await?.ok_or_else(|| {
            ProviderError::new(
                "apigateway:GetResource",
                "resource disappeared during update",
            )
        })?;
        Ok(read.outputs)
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        // A path part is unique under its parent.
        let parent = req_str(ctx, inputs, "parent_id")?;
        let part = req_str(ctx, inputs, "path_part")?;
        let listed = self
            .0
            .apigateway(&ctx.region)
            .get_resources()
            .rest_api_id(req_str(ctx, inputs, "rest_api_id")?)
            .limit(500)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await;
        let Some(resources) = found(listed, NOT_FOUND, "apigateway:GetResources")? else {
            return Ok(None);
        };
        Ok(resources
            .iter()
            .find(|r| r.parent_id() == Some(parent) && r.path_part() == Some(part))
            .and_then(|r| r.id().map(str::to_owned)))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let api = req_str(ctx, inputs, "rest_api_id")?;
        if !super::confirm_api_owned(&self.0.apigateway(&ctx.region), ctx, api).await? {
            return Ok(());
        }
        let result = self
            .0
            .apigateway(&ctx.region)
            .delete_resource()
            .rest_api_id(api)
            .resource_id(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "apigateway:DeleteResource")
    }
}
