//! `apigateway.domain_name`: a regional custom domain name served with an
//! ACM certificate of its own region. Its id is the domain name (unique per
//! account and region: both regions have their own `api.<domain>`).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_apigateway::operation::get_domain_name::GetDomainNameOutput;
use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, SecurityPolicy};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    NOT_FOUND, Own, Parent, confirm, create_tags, made_for, of_env, replaced, sync_tags, user_tags,
};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{all_items, api_error, attrs, found, retry_while, tolerate};

pub static SCHEMA: KindSchema = KindSchema::new(
    "apigateway.domain_name",
    Latency {
        create: 10,
        update: 5,
        delete: 5,
        basis: "regional domain: no CloudFront distribution to wait for",
    },
)
.force_new(&["domain_name"])
.outputs(&[
    "domain_name",
    "regional_domain_name",
    "regional_hosted_zone_id",
]);

pub struct DomainName(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    domain_name: String,
    /// An ACM certificate of the domain name's region.
    certificate_arn: String,
    /// `TLS_1_0` or `TLS_1_2`.
    security_policy: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

fn arn(region: &str, name: &str) -> String {
    format!("arn:aws:apigateway:{region}::/domainnames/{name}")
}

fn outputs(name: &str, regional_name: Option<&str>, zone: Option<&str>) -> Attributes {
    attrs([
        ("domain_name", json!(name)),
        (
            "regional_domain_name",
            json!(regional_name.unwrap_or_default()),
        ),
        ("regional_hosted_zone_id", json!(zone.unwrap_or_default())),
    ])
}

async fn get(
    client: &aws_sdk_apigateway::Client,
    name: &str,
) -> Result<Option<GetDomainNameOutput>, ProviderError> {
    let result = client.get_domain_name().domain_name(name).send().await;
    found(result, NOT_FOUND, "apigateway:GetDomainName")
}

/// Refuses a change to a domain name's base path mapping (`ctx`'s
/// address) unless the domain name is this environment's: a mapping has
/// no tags. `false` when the domain name is gone (its mappings with it).
pub(crate) async fn confirm_domain_owned(
    client: &aws_sdk_apigateway::Client,
    ctx: &OpContext,
    name: &str,
) -> Result<bool, ProviderError> {
    let Some(out) = get(client, name).await? else {
        return Ok(false);
    };
    confirm(ctx, &format!("custom domain name {name}"), out.tags, Parent)?;
    Ok(true)
}

/// The custom domain names `scope`'s environment has in its region (by
/// their `drctl:env` tag, which the create call sets).
pub(crate) async fn env_domains(
    client: &aws_sdk_apigateway::Client,
    scope: &ListScope,
) -> Result<Vec<String>, ProviderError> {
    let call = client.get_domain_names().limit(500);
    let domains: Vec<_> = all_items(
        call.into_paginator().items().send(),
        "apigateway:GetDomainNames",
    )
    .await?;
    Ok(domains
        .iter()
        .filter(|d| of_env(scope, d.tags()))
        .filter_map(|d| d.domain_name().map(str::to_owned))
        .collect())
}

impl DomainName {
    async fn get(
        &self,
        ctx: &OpContext,
        name: &str,
    ) -> Result<Option<GetDomainNameOutput>, ProviderError> {
        get(&self.0.apigateway(&ctx.region), name).await
    }
}

#[async_trait]
impl Kind for DomainName {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let name = &inputs.domain_name;
        // CreateDomainName takes no idempotency token; a resend of one
        // that happened finds the name taken: BadRequestException "The
        // domain name you provided already exists." (its API reference
        // lists ConflictException too).
        let request = self
            .0
            .apigateway_once(&ctx.region)
            .create_domain_name()
            .domain_name(name)
            .regional_certificate_arn(&inputs.certificate_arn)
            .endpoint_configuration(
                EndpointConfiguration::builder()
                    .types(EndpointType::Regional)
                    .build(),
            )
            .security_policy(SecurityPolicy::from(inputs.security_policy.as_str()))
            .set_tags(Some(create_tags(ctx, &inputs.tags)));
        create_or_find(
            self,
            ctx,
            inputs,
            "apigateway:CreateDomainName",
            &["BadRequestException", "ConflictException"],
            || request.clone().send(),
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
            id: name.clone(),
            outputs: outputs(
                name,
                out.regional_domain_name(),
                out.regional_hosted_zone_id(),
            ),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let Some(out) = self.get(ctx, id).await? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: Inputs {
                domain_name: id.to_owned(),
                certificate_arn: out
                    .regional_certificate_arn()
                    .unwrap_or_default()
                    .to_owned(),
                security_policy: out
                    .security_policy()
                    .map(|p| p.as_str())
                    .unwrap_or_default()
                    .to_owned(),
                tags: user_tags(out.tags()),
            },
            outputs: outputs(
                id,
                out.regional_domain_name(),
                out.regional_hosted_zone_id(),
            ),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let client = self.0.apigateway(&ctx.region);
        let ops = replaced([
            (
                "/regionalCertificateArn",
                &prior.certificate_arn,
                &inputs.certificate_arn,
            ),
            (
                "/securityPolicy",
                &prior.security_policy,
                &inputs.security_policy,
            ),
        ]);
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
        sync_tags(&client, &arn(&ctx.region, id), &prior.tags, &inputs.tags).await?;
        let outputs = match out {
            Some(o) => outputs(id, o.regional_domain_name(), o.regional_hosted_zone_id()),
            None => {
                let o = self.get(ctx, id).await?.ok_or_else(|| {
                    ProviderError::new("apigateway:GetDomainName", format!("{id} not found"))
                        .with_code("NotFoundException")
                })?;
                outputs(id, o.regional_domain_name(), o.regional_hosted_zone_id())
            }
        };
        Ok(outputs)
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let name = &inputs.domain_name;
        let Some(out) = self.get(ctx, name).await? else {
            return Ok(None);
        };
        // The name is the account's in this region, whoever made it:
        // drctl's carries its identity tags (set by the create call).
        Ok(made_for(ctx, out.tags()).then(|| name.clone()))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let Some(out) = self.get(ctx, id).await? else {
            return Ok(());
        };
        confirm(ctx, &format!("custom domain name {id}"), out.tags, Own)?;
        let apigateway = self.0.apigateway(&ctx.region);
        // DeleteDomainName is limited to one call every 30 s per account
        // ("Amazon API Gateway quotas"), and the blueprint has two custom
        // domains in the primary region: the second is refused
        // (TooManyRequestsException) for longer than the SDK's retries
        // wait, so it is sent again until its turn comes.
        retry_while(
            super::rest_api::DELETE_QUOTA_LIMIT,
            |e| e.code.as_deref() == Some("TooManyRequestsException"),
            || async {
                let result = apigateway.delete_domain_name().domain_name(id).send().await;
                tolerate(result, NOT_FOUND, "apigateway:DeleteDomainName")
            },
        )
        .await
    }

    /// The domain names carrying the environment's `drctl:env` tag.
    async fn list(&self, scope: &ListScope) -> Listed {
        env_domains(&self.0.apigateway(&scope.region), scope).await
    }
}
