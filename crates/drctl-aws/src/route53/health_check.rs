//! `route53.health_check`: an HTTP(S) health check of a domain name. Its
//! id is the health check id.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_route53::types::{HealthCheckConfig, HealthCheckType, TagResourceType};
use drctl_core::{Applied, Attributes, KindSchema, Observed, OpContext, Provider, ProviderError};
use serde_json::{Value as Json, json};

use super::{caller_reference, change_tags, find_created, read_tags, sync_tags};
use crate::clients::Clients;
use crate::support::{
    Created, all_tags, api_error, attrs, create_once, found, invalid, req_str, tolerate,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "route53.health_check",
    force_new: &["type", "request_interval"],
    outputs: &["health_check_id"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
};

pub struct HealthCheck(pub(crate) Arc<Clients>);

const GONE: &[&str] = &["NoSuchHealthCheck"];

fn int(ctx: &OpContext, inputs: &Attributes, key: &str) -> Result<i32, ProviderError> {
    inputs
        .get(key)
        .and_then(Json::as_i64)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| invalid(ctx, format!("input `{key}` must be an integer")))
}

fn outputs(id: &str) -> Attributes {
    attrs([("health_check_id", json!(id))])
}

#[async_trait]
impl Provider for HealthCheck {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let client = self.0.route53();
        let config = HealthCheckConfig::builder()
            .r#type(HealthCheckType::from(req_str(ctx, inputs, "type")?))
            .fully_qualified_domain_name(req_str(ctx, inputs, "fqdn")?)
            .port(int(ctx, inputs, "port")?)
            .resource_path(req_str(ctx, inputs, "resource_path")?)
            .request_interval(int(ctx, inputs, "request_interval")?)
            .failure_threshold(int(ctx, inputs, "failure_threshold")?)
            .build()
            .map_err(|e| ProviderError::new("route53:HealthCheckConfig", e.to_string()))?;
        // The caller reference makes a resend of a create that happened
        // return the same health check (or fail with
        // HealthCheckAlreadyExists): never a second one.
        let request = self
            .0
            .route53_once()
            .create_health_check()
            .caller_reference(caller_reference(ctx))
            .health_check_config(config);
        let created = create_once(
            "route53:CreateHealthCheck",
            &["HealthCheckAlreadyExists"],
            || request.clone().send(),
            || self.find(ctx, inputs),
        )
        .await?;
        let id = match created {
            Created::Sent(out) => out.health_check().map(|h| h.id.clone()).unwrap_or_default(),
            Created::Found(id) => id,
        };
        // CreateHealthCheck takes no tags: they follow at once.
        change_tags(
            &client,
            TagResourceType::Healthcheck,
            &id,
            all_tags(ctx, inputs),
            Vec::new(),
        )
        .await?;
        Ok(Applied {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let client = self.0.route53();
        let result = client.get_health_check().health_check_id(id).send().await;
        let Some(out) = found(result, GONE, "route53:GetHealthCheck")? else {
            return Ok(None);
        };
        let Some(c) = out.health_check().and_then(|h| h.health_check_config()) else {
            return Ok(None);
        };
        Ok(Some(Observed {
            inputs: attrs([
                ("fqdn", json!(c.fully_qualified_domain_name())),
                ("port", json!(c.port())),
                ("type", json!(c.r#type().as_str())),
                ("resource_path", json!(c.resource_path())),
                ("request_interval", json!(c.request_interval())),
                ("failure_threshold", json!(c.failure_threshold())),
                (
                    "tags",
                    read_tags(&client, TagResourceType::Healthcheck, id).await?,
                ),
            ]),
            outputs: outputs(id),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let client = self.0.route53();
        let changed = ["fqdn", "port", "resource_path", "failure_threshold"]
            .iter()
            .any(|k| prior.get(*k) != inputs.get(*k));
        if changed {
            client
                .update_health_check()
                .health_check_id(id)
                .fully_qualified_domain_name(req_str(ctx, inputs, "fqdn")?)
                .port(int(ctx, inputs, "port")?)
                .resource_path(req_str(ctx, inputs, "resource_path")?)
                .failure_threshold(int(ctx, inputs, "failure_threshold")?)
                .send()
                .await
                .map_err(|e| api_error("route53:UpdateHealthCheck", e))?;
        }
        sync_tags(&client, TagResourceType::Healthcheck, id, prior, inputs).await?;
        Ok(outputs(id))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        // Health checks have no name: every one is a candidate.
        let client = self.0.route53();
        let checks: Vec<_> = client
            .list_health_checks()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api_error("route53:ListHealthChecks", e))?;
        let listed = checks.into_iter().map(|h| (h.id, h.caller_reference));
        find_created(&client, TagResourceType::Healthcheck, ctx, inputs, listed).await
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let result = self
            .0
            .route53()
            .delete_health_check()
            .health_check_id(id)
            .send()
            .await;
        tolerate(result, GONE, "route53:DeleteHealthCheck")
    }
}
