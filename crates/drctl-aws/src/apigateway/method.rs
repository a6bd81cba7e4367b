//! `apigateway.method`: a method with its integration and, per status code,
//! its method response and integration response, as one resource. Its id is
//! `<resource_id>/<METHOD>`; the API and resource come from the inputs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::operation::get_method::GetMethodOutput;
use aws_sdk_apigateway::types::{Integration, IntegrationType};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Map, Value as Json, json};

use super::{NOT_FOUND, replace};
use crate::clients::Clients;
use crate::support::{api_error, attrs, found, invalid, req_str, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "apigateway.method",
    force_new: &["rest_api_id", "resource_id", "http_method"],
    outputs: &["id", "fingerprint"],
    // A changed method changes its fingerprint, and with it the triggers
    // of the deployment that references it.
    volatile_outputs: &["fingerprint"],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency {
        create: 2,
        update: 2,
        delete: 1,
        basis: "four Put* calls",
    },
};

pub struct Method(pub(crate) Arc<Clients>);

/// The method's identity, from the inputs.
struct Target<'a> {
    api: &'a str,
    resource: &'a str,
    method: &'a str,
}

impl<'a> Target<'a> {
    fn of(ctx: &OpContext, inputs: &'a Attributes) -> Result<Self, ProviderError> {
        Ok(Target {
            api: req_str(ctx, inputs, "rest_api_id")?,
            resource: req_str(ctx, inputs, "resource_id")?,
            method: req_str(ctx, inputs, "http_method")?,
        })
    }
}

/// What GetMethod shows, in the inputs' shapes.
struct Current {
    authorization: String,
    integration: Json,
    responses: Map<String, Json>,
    /// Status codes with a method response (those may lack an integration
    /// response, and need deleting all the same).
    method_statuses: BTreeSet<String>,
}

fn string_map<'a>(m: impl IntoIterator<Item = (&'a String, &'a String)>) -> Json {
    Json::Object(
        m.into_iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect(),
    )
}

/// The integration in the input's shape: only the keys that describe it
/// (AWS adds defaults such as the passthrough behaviour and the timeout).
fn integration_json(i: &Integration, desired: &Json) -> Json {
    let mut m = Map::new();
    let ty = i.r#type().map(|t| t.as_str()).unwrap_or_default();
    m.insert("type".into(), json!(ty));
    // A MOCK integration needs no HTTP method; keep one only if asked for.
    let keep_method = ty != "MOCK" || desired.get("integration_http_method").is_some();
    if let Some(h) = i.http_method().filter(|_| keep_method) {
        m.insert("integration_http_method".into(), json!(h));
    }
    if let Some(u) = i.uri().filter(|u| !u.is_empty()) {
        m.insert("uri".into(), json!(u));
    }
    if let Some(t) = i.request_templates().filter(|t| !t.is_empty()) {
        m.insert("request_templates".into(), string_map(t));
    }
    Json::Object(m)
}

fn current(out: &GetMethodOutput, desired_integration: &Json) -> Current {
    let method_statuses: BTreeSet<String> = out
        .method_responses()
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default();
    let integration_responses = out
        .method_integration()
        .and_then(|i| i.integration_responses())
        .cloned()
        .unwrap_or_default();
    let mut responses = Map::new();
    for status in method_statuses.iter().chain(integration_responses.keys()) {
        let templates = integration_responses
            .get(status)
            .and_then(|r| r.response_templates())
            .map(string_map)
            .unwrap_or_else(|| json!({}));
        responses.insert(status.clone(), json!({"response_templates": templates}));
    }
    Current {
        authorization: out.authorization_type().unwrap_or_default().to_owned(),
        integration: out
            .method_integration()
            .map(|i| integration_json(i, desired_integration))
            .unwrap_or_else(|| json!({})),
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
    t: &Target<'_>,
    authorization: &str,
    integration: &Json,
    responses: &Json,
) -> Attributes {
    attrs([
        ("id", json!(format!("{}/{}", t.resource, t.method))),
        (
            "fingerprint",
            json!(fingerprint(t.method, authorization, integration, responses)),
        ),
    ])
}

/// `responses` as status code -> response templates.
fn desired_responses(
    ctx: &OpContext,
    inputs: &Attributes,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, ProviderError> {
    let Some(responses) = inputs.get("responses").and_then(Json::as_object) else {
        return Err(invalid(ctx, "input `responses` must be an object"));
    };
    Ok(responses
        .iter()
        .map(|(status, r)| {
            let templates = r
                .get("response_templates")
                .and_then(Json::as_object)
                .map(|t| {
                    t.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            (status.clone(), templates)
        })
        .collect())
}

impl Method {
    async fn get(
        &self,
        ctx: &OpContext,
        t: &Target<'_>,
    ) -> Result<Option<GetMethodOutput>, ProviderError> {
        let result = self
            .0
            .apigateway(&ctx.region)
            .get_method()
            .rest_api_id(t.api)
            .resource_id(t.resource)
            .http_method(t.method)
            .send()
            .await;
        found(result, NOT_FOUND, "apigateway:GetMethod")
    }

    async fn put_integration(
        &self,
        client: &Client,
        ctx: &OpContext,
        t: &Target<'_>,
        integration: &Json,
    ) -> Result<(), ProviderError> {
        let Some(ty) = integration.get("type").and_then(Json::as_str) else {
            return Err(invalid(ctx, "input `integration.type` must be a string"));
        };
        let text = |key: &str| {
            integration
                .get(key)
                .and_then(Json::as_str)
                .map(str::to_owned)
        };
        let templates = integration
            .get("request_templates")
            .and_then(Json::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            });
        client
            .put_integration()
            .rest_api_id(t.api)
            .resource_id(t.resource)
            .http_method(t.method)
            .r#type(IntegrationType::from(ty))
            .set_integration_http_method(text("integration_http_method"))
            .set_uri(text("uri"))
            .set_request_templates(templates)
            .send()
            .await
            .map_err(|e| api_error("apigateway:PutIntegration", e))?;
        Ok(())
    }

    async fn put_integration_response(
        &self,
        client: &Client,
        t: &Target<'_>,
        status: &str,
        templates: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        client
            .put_integration_response()
            .rest_api_id(t.api)
            .resource_id(t.resource)
            .http_method(t.method)
            .status_code(status)
            .set_response_templates(Some(
                templates
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| api_error("apigateway:PutIntegrationResponse", e))?;
        Ok(())
    }

    async fn put_method_response(
        &self,
        client: &Client,
        t: &Target<'_>,
        status: &str,
    ) -> Result<(), ProviderError> {
        client
            .put_method_response()
            .rest_api_id(t.api)
            .resource_id(t.resource)
            .http_method(t.method)
            .status_code(status)
            .send()
            .await
            .map_err(|e| api_error("apigateway:PutMethodResponse", e))?;
        Ok(())
    }

    /// Removes a status code's integration response and method response;
    /// either may already be gone.
    async fn delete_response(
        &self,
        client: &Client,
        t: &Target<'_>,
        status: &str,
    ) -> Result<(), ProviderError> {
        let result = client
            .delete_integration_response()
            .rest_api_id(t.api)
            .resource_id(t.resource)
            .http_method(t.method)
            .status_code(status)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "apigateway:DeleteIntegrationResponse")?;
        let result = client
            .delete_method_response()
            .rest_api_id(t.api)
            .resource_id(t.resource)
            .http_method(t.method)
            .status_code(status)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "apigateway:DeleteMethodResponse")
    }
}

fn desired_outputs(ctx: &OpContext, inputs: &Attributes) -> Result<Attributes, ProviderError> {
    let t = Target::of(ctx, inputs)?;
    Ok(outputs(
        &t,
        req_str(ctx, inputs, "authorization")?,
        inputs.get("integration").unwrap_or(&Json::Null),
        inputs.get("responses").unwrap_or(&Json::Null),
    ))
}

#[async_trait]
impl Provider for Method {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let t = Target::of(ctx, inputs)?;
        let responses = desired_responses(ctx, inputs)?;
        let client = self.0.apigateway(&ctx.region);
        client
            .put_method()
            .rest_api_id(t.api)
            .resource_id(t.resource)
            .http_method(t.method)
            .authorization_type(req_str(ctx, inputs, "authorization")?)
            .send()
            .await
            .map_err(|e| api_error("apigateway:PutMethod", e))?;
        let integration = inputs.get("integration").unwrap_or(&Json::Null);
        self.put_integration(&client, ctx, &t, integration).await?;
        for (status, templates) in &responses {
            self.put_method_response(&client, &t, status).await?;
            self.put_integration_response(&client, &t, status, templates)
                .await?;
        }
        Ok(Applied {
            id: format!("{}/{}", t.resource, t.method),
            outputs: desired_outputs(ctx, inputs)?,
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        _id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let t = Target::of(ctx, prior)?;
        let Some(out) = self.get(ctx, &t).await? else {
            return Ok(None);
        };
        let cur = current(&out, prior.get("integration").unwrap_or(&Json::Null));
        let responses = Json::Object(cur.responses);
        Ok(Some(Observed {
            outputs: outputs(&t, &cur.authorization, &cur.integration, &responses),
            inputs: attrs([
                ("rest_api_id", json!(t.api)),
                ("resource_id", json!(t.resource)),
                ("http_method", json!(t.method)),
                ("authorization", json!(cur.authorization)),
                ("integration", cur.integration),
                ("responses", responses),
            ]),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _id: &str,
        _prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let t = Target::of(ctx, inputs)?;
        let client = self.0.apigateway(&ctx.region);
        let integration = inputs.get("integration").unwrap_or(&Json::Null);
        let desired = desired_responses(ctx, inputs)?;
        // Compared with what AWS has now rather than with the prior inputs,
        // so that drift is repaired too.
        let out = self.get(ctx, &t).await?.ok_or_else(|| {
            ProviderError::new("apigateway:GetMethod", "method disappeared before update")
        })?;
        let cur = current(&out, integration);
        let authorization = req_str(ctx, inputs, "authorization")?;
        if cur.authorization != authorization {
            client
                .update_method()
                .rest_api_id(t.api)
                .resource_id(t.resource)
                .http_method(t.method)
                .patch_operations(replace("/authorizationType", authorization))
                .send()
                .await
                .map_err(|e| api_error("apigateway:UpdateMethod", e))?;
        }
        // PutIntegration replaces the integration with its integration
        // responses, so those are put again after it.
        let reput = &cur.integration != integration;
        if reput {
            self.put_integration(&client, ctx, &t, integration).await?;
        }
        for (status, templates) in &desired {
            if !cur.method_statuses.contains(status) {
                self.put_method_response(&client, &t, status).await?;
            }
            let wanted = json!({"response_templates": templates});
            if reput || cur.responses.get(status) != Some(&wanted) {
                self.put_integration_response(&client, &t, status, templates)
                    .await?;
            }
        }
        for status in cur.responses.keys().filter(|s| !desired.contains_key(*s)) {
            self.delete_response(&client, &t, status).await?;
        }
        desired_outputs(ctx, inputs)
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let t = Target::of(ctx, inputs)?;
        Ok(self
            .get(ctx, &t)
            .await?
            .map(|_| format!("{}/{}", t.resource, t.method)))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        _id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let t = Target::of(ctx, inputs)?;
        if !super::confirm_api_owned(&self.0.apigateway(&ctx.region), ctx, t.api).await? {
            return Ok(());
        }
        let result = self
            .0
            .apigateway(&ctx.region)
            .delete_method()
            .rest_api_id(t.api)
            .resource_id(t.resource)
            .http_method(t.method)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "apigateway:DeleteMethod")
    }
}
