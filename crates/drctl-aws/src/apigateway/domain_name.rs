//! `apigateway.domain_name`: a regional custom domain name served with an
//! ACM certificate of its own region. Its id is the domain name (unique per
//! account and region: both regions have their own `api.<domain>`).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, SecurityPolicy};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use super::{NOT_FOUND, replace, sync_tags};
use crate::clients::Clients;
use crate::support::{
    TAG_ADDRESS, TAG_ENV, all_tags, api_error, attrs, create_once, found, observed_tags, req_str,
    tolerate,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "apigateway.domain_name",
    force_new: &["domain_name"],
    outputs: &[
        "domain_name",
        "regional_domain_name",
        "regional_hosted_zone_id",
    ],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency {
        create: 10,
        update: 5,
        delete: 5,
        basis: "regional domain: no CloudFront distribution to wait for",
    },
};

pub struct DomainName(pub(crate) Arc<Clients>);

fn arn(region: &str, name: &str) -> String {
    format!("arn:aws:apigateway:{region}::/domainnames/{name}")
}

fn outputs(name: &str, regional_name: &str, zone: &str) -> Attributes {
    attrs([
        ("domain_name", json!(name)),
        ("regional_domain_name", json!(regional_name)),
        ("regional_hosted_zone_id", json!(zone)),
    ])
}

/// Refuses a change to a domain name's base path mapping (`ctx`'s
/// address) unless the domain name is this environment's: a mapping has
/// no tags. `false` when the domain name is gone (its mappings with it).
pub(crate) async fn confirm_domain_owned(
    client: &aws_sdk_apigateway::Client,
    ctx: &OpContext,
    name: &str,
) -> Result<bool, ProviderError> {
    let result = client.get_domain_name().domain_name(name).send().await;
    let Some(out) = found(result, NOT_FOUND, "apigateway:GetDomainName")? else {
        return Ok(false);
    };
    crate::support::confirm_parent_owned(
        ctx,
        "delete",
        &format!("custom domain name {name}"),
        &crate::support::tag_map(out.tags.unwrap_or_default()),
        None,
    )?;
    Ok(true)
}

impl DomainName {
    async fn get(
        &self,
        ctx: &OpContext,
        name: &str,
    ) -> Result<
        Option<aws_sdk_apigateway::operation::get_domain_name::GetDomainNameOutput>,
        ProviderError,
    > {
        let result = self
            .0
            .apigateway(&ctx.region)
            .get_domain_name()
            .domain_name(name)
            .send()
            .await;
        found(result, NOT_FOUND, "apigateway:GetDomainName")
    }
}

#[async_trait]
impl Provider for DomainName {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let name = req_str(ctx, inputs, "domain_name")?;
        // CreateDomainName takes no idempotency token; a resend of one
        // that happened finds the name taken: BadRequestException "The
        // domain name you provided already exists." (its API reference
        // lists ConflictException too).
        let request = self
            .0
            .apigateway_once(&ctx.region)
            .create_domain_name()
            .domain_name(name)
            .regional_certificate_arn(req_str(ctx, inputs, "certificate_arn")?)
            .endpoint_configuration(
                EndpointConfiguration::builder()
                    .types(EndpointType::Regional)
                    .build(),
            )
            .security_policy(SecurityPolicy::from(req_str(
                ctx,
                inputs,
                "security_policy",
            )?))
            .set_tags(Some(all_tags(ctx, inputs).into_iter().collect()));
        create_once(
            "apigateway:CreateDomainName",
            &["BadRequestException", "ConflictException"],
            || request.clone().send(),
            || self.find(ctx, inputs),
        )
        .await?;
        // Read back rather than trust the create's answer: a create found
        // after a lost response has none.
        let out = self.get(ctx, name).await?.ok_or_else(|| {
            ProviderError::new(
                "apigateway:GetDomainName",
                format!("domain name {name} not found after its creation"),
            )
        })?;
        Ok(Applied {
            id: name.to_owned(),
            outputs: outputs(
                name,
                out.regional_domain_name().unwrap_or_default(),
                out.regional_hosted_zone_id().unwrap_or_default(),
            ),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(out) = self.get(ctx, id).await? else {
            return Ok(None);
        };
        Ok(Some(Observed {
            inputs: attrs([
                ("domain_name", json!(id)),
                (
                    "certificate_arn",
                    json!(out.regional_certificate_arn().unwrap_or_default()),
                ),
                (
                    "security_policy",
                    json!(
                        out.security_policy()
                            .map(|p| p.as_str())
                            .unwrap_or_default()
                    ),
                ),
                (
                    "tags",
                    observed_tags(out.tags().cloned().unwrap_or_default()),
                ),
            ]),
            outputs: outputs(
                id,
                out.regional_domain_name().unwrap_or_default(),
                out.regional_hosted_zone_id().unwrap_or_default(),
            ),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let client = self.0.apigateway(&ctx.region);
        let mut ops = Vec::new();
        for (key, path) in [
            ("certificate_arn", "/regionalCertificateArn"),
            ("security_policy", "/securityPolicy"),
        ] {
            if prior.get(key) != inputs.get(key) {
                ops.push(replace(path, req_str(ctx, inputs, key)?));
            }
        }
        let out = if ops.is_empty() {
            None
        } else {
            Some(
                client
                    .update_domain_name()
                    .domain_name(id)
                    .set_patch_operations(Some(ops))
                    .send()
                    .await
                    .map_err(|e| api_error("apigateway:UpdateDomainName", e))?,
            )
        };
        sync_tags(&client, &arn(&ctx.region, id), prior, inputs).await?;
        let (regional, zone) = match out {
            Some(o) => (
                o.regional_domain_name().unwrap_or_default().to_owned(),
                o.regional_hosted_zone_id().unwrap_or_default().to_owned(),
            ),
            None => {
                let o = self.get(ctx, id).await?.ok_or_else(|| {
                    ProviderError::new("apigateway:GetDomainName", format!("{id} not found"))
                        .with_code("NotFoundException")
                })?;
                (
                    o.regional_domain_name().unwrap_or_default().to_owned(),
                    o.regional_hosted_zone_id().unwrap_or_default().to_owned(),
                )
            }
        };
        Ok(outputs(id, &regional, &zone))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let name = req_str(ctx, inputs, "domain_name")?;
        let Some(out) = self.get(ctx, name).await? else {
            return Ok(None);
        };
        // The name is the account's in this region, whoever made it:
        // drctl's carries its identity tags (set by the create call).
        let tags = out.tags().cloned().unwrap_or_default();
        let ours = tags.get(TAG_ADDRESS) == Some(&ctx.address.to_string())
            && tags.get(TAG_ENV) == Some(&ctx.env);
        Ok(ours.then(|| name.to_owned()))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let Some(out) = self.get(ctx, id).await? else {
            return Ok(());
        };
        crate::support::confirm_owned(
            ctx,
            "delete",
            &format!("custom domain name {id}"),
            &crate::support::tag_map(out.tags.unwrap_or_default()),
            None,
        )?;
        let result = self
            .0
            .apigateway(&ctx.region)
            .delete_domain_name()
            .domain_name(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "apigateway:DeleteDomainName")
    }
}
