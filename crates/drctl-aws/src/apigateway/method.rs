//! `apigateway.method`: a method with its integration and, per status code,
//! its method response and integration response, as one resource. Its id is
//! `<resource_id>/<METHOD>`; the API and resource come from the inputs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::operation::get_method::GetMethodOutput;
use aws_sdk_apigateway::types::IntegrationType;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::{NOT_FOUND, env_resource_ids, replace};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{api_error, attrs, found, tolerate};

pub static SCHEMA: KindSchema = KindSchema::new(
    "apigateway.method",
    Latency {
        create: 2,
        update: 2,
        delete: 1,
        basis: "four Put* calls",
    },
)
.force_new(&["rest_api_id", "resource_id", "http_method"])
.outputs(&["id", "fingerprint"])
// A changed method changes its fingerprint, and with it the triggers
// of the deployment that references it.
.volatile_outputs(&["fingerprint"]);

pub struct Method(pub(crate) Arc<Clients>);

/// `$call` on the method `$t` names: its API, resource and HTTP method.
macro_rules! on_method {
    ($call:expr, $t:expr) => {
        $call
            .rest_api_id(&$t.rest_api_id)
            .resource_id(&$t.resource_id)
            .http_method(&$t.http_method)
    };
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    rest_api_id: String,
    resource_id: String,
    http_method: String,
    /// `NONE`, `AWS_IAM`, ...
    authorization: String,
    integration: Integration,
    /// Status code -> its method response and integration response.
    responses: BTreeMap<String, Response>,
}

/// The method's integration, in the keys that describe it (AWS adds
/// defaults such as the passthrough behaviour and the timeout).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// `MOCK`, `AWS_PROXY`, ...
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    integration_http_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_templates: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    #[serde(default)]
    response_templates: BTreeMap<String, String>,
}

impl Inputs {
    fn id(&self) -> String {
        format!("{}/{}", self.resource_id, self.http_method)
    }
}

/// What GetMethod shows, in the inputs' shapes.
struct Current {
    authorization: String,
    integration: Integration,
    responses: BTreeMap<String, Response>,
    /// Status codes with a method response (those may lack an integration
    /// response, and need deleting all the same).
    method_statuses: BTreeSet<String>,
}

fn string_map(m: &std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The integration in the input's shape: only the keys that describe it.
fn integration_of(
    i: &aws_sdk_apigateway::types::Integration,
    desired: &Integration,
) -> Integration {
    let kind = i.r#type().map(|t| t.as_str()).unwrap_or_default();
    // A MOCK integration needs no HTTP method; keep one only if asked for.
    let keep_method = kind != "MOCK" || desired.integration_http_method.is_some();
    Integration {
        kind: kind.to_owned(),
        integration_http_method: i.http_method().filter(|_| keep_method).map(str::to_owned),
        uri: i.uri().filter(|u| !u.is_empty()).map(str::to_owned),
        request_templates: i
            .request_templates()
            .filter(|t| !t.is_empty())
            .map(string_map),
    }
}

fn current(out: &GetMethodOutput, desired_integration: &Integration) -> Current {
    let method_statuses: BTreeSet<String> = out
        .method_responses()
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default();
    let integration_responses = out
        .method_integration()
        .and_then(|i| i.integration_responses())
        .cloned()
        .unwrap_or_default();
    let responses = method_statuses
        .iter()
        .chain(integration_responses.keys())
        .map(|status| {
            let templates = integration_responses
                .get(status)
                .and_then(|r| r.response_templates())
                .map(string_map)
                .unwrap_or_default();
            (
                status.clone(),
                Response {
                    response_templates: templates,
                },
            )
        })
        .collect();
    Current {
        authorization: out.authorization_type().unwrap_or_default().to_owned(),
        // Without an integration: an empty type, which no input has.
        integration: out
            .method_integration()
            .map(|i| integration_of(i, desired_integration))
            .unwrap_or_default(),
        responses,
        method_statuses,
    }
}

/// FNV-1a (64 bit): stable across runs and Rust versions, unlike std's
/// hasher; the deployment's triggers compare it from one run to the next.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A hash of everything a deployment snapshots of this method (JSON object
/// keys are sorted, so equal values hash equally).
fn fingerprint(method: &str, authorization: &str, integration: &Json, responses: &Json) -> String {
    let doc = json!({
        "http_method": method,
        "authorization": authorization,
        "integration": integration,
        "responses": responses,
    });
    format!("{:016x}", fnv1a(doc.to_string().as_bytes()))
}

fn outputs(
    inputs: &Inputs,
    authorization: &str,
    integration: &Integration,
    responses: &BTreeMap<String, Response>,
) -> Attributes {
    // The same documents as the inputs' JSON (object keys sorted), so a
    // fingerprint is what earlier runs computed from the raw inputs.
    let integration = serde_json::to_value(integration).unwrap_or(Json::Null);
    let responses = serde_json::to_value(responses).unwrap_or(Json::Null);
    attrs([
        ("id", json!(inputs.id())),
        (
            "fingerprint",
            json!(fingerprint(
                &inputs.http_method,
                authorization,
                &integration,
                &responses
            )),
        ),
    ])
}

fn desired_outputs(inputs: &Inputs) -> Attributes {
    outputs(
        inputs,
        &inputs.authorization,
        &inputs.integration,
        &inputs.responses,
    )
}

impl Method {
    async fn get(
        &self,
        ctx: &OpContext,
        t: &Inputs,
    ) -> Result<Option<GetMethodOutput>, ProviderError> {
        let result = on_method!(self.0.apigateway(&ctx.region).get_method(), t)
            .send()
            .await;
        found(result, NOT_FOUND, "apigateway:GetMethod")
    }
}

async fn put_integration(client: &Client, t: &Inputs) -> Result<(), ProviderError> {
    let i = &t.integration;
    on_method!(client.put_integration(), t)
        .r#type(IntegrationType::from(i.kind.as_str()))
        .set_integration_http_method(i.integration_http_method.clone())
        .set_uri(i.uri.clone())
        .set_request_templates(
            i.request_templates
                .as_ref()
                .map(|m| m.clone().into_iter().collect()),
        )
        .send()
        .await
        .map_err(|e| api_error("apigateway:PutIntegration", e))?;
    Ok(())
}

async fn put_integration_response(
    client: &Client,
    t: &Inputs,
    status: &str,
    response: &Response,
) -> Result<(), ProviderError> {
    on_method!(client.put_integration_response(), t)
        .status_code(status)
        .set_response_templates(Some(
            response.response_templates.clone().into_iter().collect(),
        ))
        .send()
        .await
        .map_err(|e| api_error("apigateway:PutIntegrationResponse", e))?;
    Ok(())
}

async fn put_method_response(
    client: &Client,
    t: &Inputs,
    status: &str,
) -> Result<(), ProviderError> {
    on_method!(client.put_method_response(), t)
        .status_code(status)
        .send()
        .await
        .map_err(|e| api_error("apigateway:PutMethodResponse", e))?;
    Ok(())
}

/// Removes a status code's integration response and method response;
/// either may already be gone.
async fn delete_response(client: &Client, t: &Inputs, status: &str) -> Result<(), ProviderError> {
    let result = on_method!(client.delete_integration_response(), t)
        .status_code(status)
        .send()
        .await;
    tolerate(result, NOT_FOUND, "apigateway:DeleteIntegrationResponse")?;
    let result = on_method!(client.delete_method_response(), t)
        .status_code(status)
        .send()
        .await;
    tolerate(result, NOT_FOUND, "apigateway:DeleteMethodResponse")
}

#[async_trait]
impl Kind for Method {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let t = inputs;
        let client = self.0.apigateway(&ctx.region);
        on_method!(client.put_method(), t)
            .authorization_type(&t.authorization)
            .send()
            .await
            .map_err(|e| api_error("apigateway:PutMethod", e))?;
        put_integration(&client, t).await?;
        for (status, response) in &t.responses {
            put_method_response(&client, t, status).await?;
            put_integration_response(&client, t, status, response).await?;
        }
        Ok(Applied {
            id: t.id(),
            outputs: desired_outputs(t),
        })
    }

    async fn read(&self, ctx: &OpContext, _id: &str, prior: &Inputs) -> Read<Inputs> {
        let Some(out) = self.get(ctx, prior).await? else {
            return Ok(None);
        };
        let cur = current(&out, &prior.integration);
        Ok(Some(Found {
            outputs: outputs(prior, &cur.authorization, &cur.integration, &cur.responses),
            inputs: Inputs {
                rest_api_id: prior.rest_api_id.clone(),
                resource_id: prior.resource_id.clone(),
                http_method: prior.http_method.clone(),
                authorization: cur.authorization,
                integration: cur.integration,
                responses: cur.responses,
            },
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _id: &str,
        _prior: &Inputs,
        inputs: &Inputs,
    ) -> Updated {
        let t = inputs;
        let client = self.0.apigateway(&ctx.region);
        // Compared with what AWS has now rather than with the prior inputs,
        // so that drift is repaired too.
        let out = self.get(ctx, t).await?.ok_or_else(|| {
            ProviderError::new("apigateway:GetMethod", "method disappeared before update")
        })?;
        let cur = current(&out, &t.integration);
        if cur.authorization != t.authorization {
            on_method!(client.update_method(), t)
                .patch_operations(replace("/authorizationType", &t.authorization))
                .send()
                .await
                .map_err(|e| api_error("apigateway:UpdateMethod", e))?;
        }
        // PutIntegration replaces the integration with its integration
        // responses, so those are put again after it.
        let reput = cur.integration != t.integration;
        if reput {
            put_integration(&client, t).await?;
        }
        for (status, response) in &t.responses {
            if !cur.method_statuses.contains(status) {
                put_method_response(&client, t, status).await?;
            }
            if reput || cur.responses.get(status) != Some(response) {
                put_integration_response(&client, t, status, response).await?;
            }
        }
        for status in cur
            .responses
            .keys()
            .filter(|s| !t.responses.contains_key(*s))
        {
            delete_response(&client, t, status).await?;
        }
        Ok(desired_outputs(t))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        Ok(self.get(ctx, inputs).await?.map(|_| inputs.id()))
    }

    async fn delete(&self, ctx: &OpContext, _id: &str, inputs: &Inputs) -> Done {
        let t = inputs;
        let client = self.0.apigateway(&ctx.region);
        if !super::confirm_api_owned(&client, ctx, &t.rest_api_id).await? {
            return Ok(());
        }
        let result = on_method!(client.delete_method(), t).send().await;
        tolerate(result, NOT_FOUND, "apigateway:DeleteMethod")
    }

    /// The methods of every resource of the environment's APIs: a method
    /// has no tags, its API says whose it is.
    async fn list(&self, scope: &ListScope) -> Listed {
        env_resource_ids(&self.0, scope, |r| match (r.id(), r.resource_methods()) {
            (Some(id), Some(methods)) => methods.keys().map(|m| format!("{id}/{m}")).collect(),
            _ => Vec::new(),
        })
        .await
    }
}
