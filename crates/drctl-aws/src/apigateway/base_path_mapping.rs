//! `apigateway.base_path_mapping`: maps a base path of a custom domain
//! name to a REST API's stage. Its id is `<domain_name>/<base_path>`;
//! `(none)` is the empty base path (callers call the domain's root).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_apigateway::operation::get_base_path_mapping::GetBasePathMappingOutput;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::domain_name::{confirm_domain_owned, env_domains};
use super::{NOT_FOUND, replaced, under};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{api_error, attrs, found, found_items, tolerate};

pub static SCHEMA: KindSchema =
    KindSchema::new("apigateway.base_path_mapping", Latency::calls(1, 1, 1))
        .force_new(&["domain_name", "base_path"])
        .outputs(&["base_path"]);

pub struct BasePathMapping(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    domain_name: String,
    /// `(none)` for the empty base path.
    base_path: String,
    rest_api_id: String,
    stage: String,
}

impl Inputs {
    fn id(&self) -> String {
        format!("{}/{}", self.domain_name, self.base_path)
    }
}

/// The base path AWS reports for a mapping created without one.
const NONE: &str = "(none)";

fn outputs(base_path: &str) -> Attributes {
    attrs([("base_path", json!(base_path))])
}

impl BasePathMapping {
    async fn get(
        &self,
        ctx: &OpContext,
        inputs: &Inputs,
    ) -> Result<Option<GetBasePathMappingOutput>, ProviderError> {
        let apigateway = self.0.apigateway(&ctx.region);
        let result = apigateway
            .get_base_path_mapping()
            .domain_name(&inputs.domain_name)
            .base_path(&inputs.base_path)
            .send()
            .await;
        found(result, NOT_FOUND, "apigateway:GetBasePathMapping")
    }
}

#[async_trait]
impl Kind for BasePathMapping {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let base_path = &inputs.base_path;
        // CreateBasePathMapping takes no idempotency token; a resend of one
        // that happened finds the base path taken (ConflictException).
        let request = self
            .0
            .apigateway_once(&ctx.region)
            .create_base_path_mapping()
            .domain_name(&inputs.domain_name)
            // Without a base path, API Gateway maps the empty one, `(none)`.
            .set_base_path((base_path != NONE).then(|| base_path.clone()))
            .rest_api_id(&inputs.rest_api_id)
            .stage(&inputs.stage);
        create_or_find(
            self,
            ctx,
            inputs,
            "apigateway:CreateBasePathMapping",
            &["ConflictException"],
            || request.clone().send(),
        )
        .await?;
        Ok(Applied {
            id: inputs.id(),
            outputs: outputs(base_path),
        })
    }

    async fn read(&self, ctx: &OpContext, _id: &str, prior: &Inputs) -> Read<Inputs> {
        let Some(out) = self.get(ctx, prior).await? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: Inputs {
                domain_name: prior.domain_name.clone(),
                base_path: out.base_path().unwrap_or(&prior.base_path).to_owned(),
                rest_api_id: out.rest_api_id().unwrap_or_default().to_owned(),
                stage: out.stage().unwrap_or_default().to_owned(),
            },
            outputs: outputs(&prior.base_path),
        }))
    }

    async fn update(&self, ctx: &OpContext, _id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let ops = replaced([
            ("/restapiId", &prior.rest_api_id, &inputs.rest_api_id),
            ("/stage", &prior.stage, &inputs.stage),
        ]);
        if !ops.is_empty() {
            self.0
                .apigateway(&ctx.region)
                .update_base_path_mapping()
                .domain_name(&inputs.domain_name)
                .base_path(&inputs.base_path)
                .set_patch_operations(Some(ops))
                .send()
                .await
                .map_err(|e| api_error("apigateway:UpdateBasePathMapping", e))?;
        }
        Ok(outputs(&inputs.base_path))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // A domain name and base path identify one mapping; the domain
        // name is drctl's (its `find` checks the identity tags).
        Ok(self.get(ctx, inputs).await?.map(|_| inputs.id()))
    }

    async fn delete(&self, ctx: &OpContext, _id: &str, inputs: &Inputs) -> Done {
        let client = self.0.apigateway(&ctx.region);
        if !confirm_domain_owned(&client, ctx, &inputs.domain_name).await? {
            return Ok(());
        }
        let result = client
            .delete_base_path_mapping()
            .domain_name(&inputs.domain_name)
            .base_path(&inputs.base_path)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "apigateway:DeleteBasePathMapping")
    }

    /// The mappings of the environment's domain names: a mapping has no
    /// tags, its domain name says whose it is.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = &self.0.apigateway(&scope.region);
        under(env_domains(client, scope).await?, |domain| async move {
            let call = client
                .get_base_path_mappings()
                .domain_name(&domain)
                .limit(500);
            let listed = call.into_paginator().items().send();
            let mappings = found_items(listed, NOT_FOUND, "apigateway:GetBasePathMappings").await?;
            Ok(mappings
                .unwrap_or_default()
                .iter()
                .map(|m| format!("{domain}/{}", m.base_path().unwrap_or(NONE)))
                .collect())
        })
        .await
    }
}
