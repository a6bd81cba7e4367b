//! `apigateway.base_path_mapping`: maps a base path of a custom domain
//! name to a REST API's stage. Its id is `<domain_name>/<base_path>`;
//! `(none)` is the empty base path (callers call the domain's root).

use std::sync::Arc;

use async_trait::async_trait;
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use super::{NOT_FOUND, replace};
use crate::clients::Clients;
use crate::support::{api_error, attrs, create_once, found, req_str, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "apigateway.base_path_mapping",
    force_new: &["domain_name", "base_path"],
    outputs: &["base_path"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct BasePathMapping(pub(crate) Arc<Clients>);

/// The base path AWS reports for a mapping created without one.
const NONE: &str = "(none)";

fn outputs(base_path: &str) -> Attributes {
    attrs([("base_path", json!(base_path))])
}

impl BasePathMapping {
    async fn get(
        &self,
        ctx: &OpContext,
        domain: &str,
        base_path: &str,
    ) -> Result<
        Option<aws_sdk_apigateway::operation::get_base_path_mapping::GetBasePathMappingOutput>,
        ProviderError,
    > {
        let result = self
            .0
            .apigateway(&ctx.region)
            .get_base_path_mapping()
            .domain_name(domain)
            .base_path(base_path)
            .send()
            .await;
        found(result, NOT_FOUND, "apigateway:GetBasePathMapping")
    }
}

#[async_trait]
impl Provider for BasePathMapping {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let domain = req_str(ctx, inputs, "domain_name")?;
        let base_path = req_str(ctx, inputs, "base_path")?;
        // CreateBasePathMapping takes no idempotency token; a resend of one
        // that happened finds the base path taken (ConflictException).
        let request = self
            .0
            .apigateway_once(&ctx.region)
            .create_base_path_mapping()
            .domain_name(domain)
            // Without a base path, API Gateway maps the empty one, `(none)`.
            .set_base_path((base_path != NONE).then(|| base_path.to_owned()))
            .rest_api_id(req_str(ctx, inputs, "rest_api_id")?)
            .stage(req_str(ctx, inputs, "stage")?);
        create_once(
            "apigateway:CreateBasePathMapping",
            &["ConflictException"],
            || request.clone().send(),
            || self.find(ctx, inputs),
        )
        .await?;
        Ok(Applied {
            id: format!("{domain}/{base_path}"),
            outputs: outputs(base_path),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        _id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let domain = req_str(ctx, prior, "domain_name")?;
        let base_path = req_str(ctx, prior, "base_path")?;
        let Some(out) = self.get(ctx, domain, base_path).await? else {
            return Ok(None);
        };
        Ok(Some(Observed {
            inputs: attrs([
                ("domain_name", json!(domain)),
                ("base_path", json!(out.base_path().unwrap_or(base_path))),
                ("rest_api_id", json!(out.rest_api_id().unwrap_or_default())),
                ("stage", json!(out.stage().unwrap_or_default())),
            ]),
            outputs: outputs(base_path),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let domain = req_str(ctx, inputs, "domain_name")?;
        let base_path = req_str(ctx, inputs, "base_path")?;
        let mut ops = Vec::new();
        for (key, path) in [("rest_api_id", "/restapiId"), ("stage", "/stage")] {
            if prior.get(key) != inputs.get(key) {
                ops.push(replace(path, req_str(ctx, inputs, key)?));
            }
        }
        if !ops.is_empty() {
            self.0
                .apigateway(&ctx.region)
                .update_base_path_mapping()
                .domain_name(domain)
                .base_path(base_path)
                .set_patch_operations(Some(ops))
                .send()
                .await
                .map_err(|e| api_error("apigateway:UpdateBasePathMapping", e))?;
        }
        Ok(outputs(base_path))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let domain = req_str(ctx, inputs, "domain_name")?;
        let base_path = req_str(ctx, inputs, "base_path")?;
        // A domain name and base path identify one mapping; the domain
        // name is drctl's (its `find` checks the identity tags).
        let out = self.get(ctx, domain, base_path).await?;
        Ok(out.map(|_| format!("{domain}/{base_path}")))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        _id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let domain = req_str(ctx, inputs, "domain_name")?;
        let client = self.0.apigateway(&ctx.region);
        if !super::domain_name::confirm_domain_owned(&client, ctx, domain).await? {
            return Ok(());
        }
        let result = self
            .0
            .apigateway(&ctx.region)
            .delete_base_path_mapping()
            .domain_name(domain)
            .base_path(req_str(ctx, inputs, "base_path")?)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "apigateway:DeleteBasePathMapping")
    }
}
