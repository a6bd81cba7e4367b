//! API Gateway (REST) kinds.

pub mod base_path_mapping;
pub mod deployment;
pub mod domain_name;
pub mod method;
pub mod resource;
pub mod rest_api;
pub mod stage;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::types::{Op, PatchOperation};
use drctl_core::provider::KindSchema;
use drctl_core::{OpContext, ProviderError, Providers};
use serde_json::Value as Json;

use crate::clients::Clients;
use crate::tags::arn_tag_api;
pub(crate) use crate::tags::sync_tags;

pub(crate) static KINDS: &[&KindSchema] = &[
    &rest_api::SCHEMA,
    &resource::SCHEMA,
    &method::SCHEMA,
    &deployment::SCHEMA,
    &stage::SCHEMA,
    &domain_name::SCHEMA,
    &base_path_mapping::SCHEMA,
];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(rest_api::RestApi(c.clone())));
    providers.register(Arc::new(resource::Resource(c.clone())));
    providers.register(Arc::new(method::Method(c.clone())));
    providers.register(Arc::new(deployment::Deployment(c.clone())));
    providers.register(Arc::new(stage::Stage(c.clone())));
    providers.register(Arc::new(domain_name::DomainName(c.clone())));
    providers.register(Arc::new(base_path_mapping::BasePathMapping(c.clone())));
}

/// API Gateway reports every missing entity (API, resource, method, stage,
/// deployment, domain name, base path mapping) with this one code.
pub(crate) const NOT_FOUND: &[&str] = &["NotFoundException"];

/// A `replace` patch operation, the form of every in-place update here.
pub(crate) fn replace(path: &str, value: impl Into<String>) -> PatchOperation {
    PatchOperation::builder()
        .op(Op::Replace)
        .path(path)
        .value(value)
        .build()
}

/// A JSON number as API Gateway's patch values expect it ("10000", "2.5").
pub(crate) fn number_text(v: &Json) -> Option<String> {
    v.is_number().then(|| v.to_string())
}

/// A number AWS returns as a double, as the integer the input most likely
/// was when it is whole (10000.0 -> 10000), so that it compares equal.
pub(crate) fn whole_number(v: f64) -> Json {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Json::from(v as i64)
    } else {
        Json::from(v)
    }
}

/// Refuses a change to a REST API's child (`ctx`'s address: a resource,
/// method, deployment or stage) unless the API is this environment's: a
/// resource, method or deployment carries no tags, so its API proves it
/// drctl's. `false` when the API is gone (its children went with it).
pub(crate) async fn confirm_api_owned(
    client: &Client,
    ctx: &OpContext,
    api: &str,
) -> Result<bool, ProviderError> {
    let result = client.get_rest_api().rest_api_id(api).send().await;
    let Some(out) = crate::support::found(result, NOT_FOUND, "apigateway:GetRestApi")? else {
        return Ok(false);
    };
    crate::support::confirm_parent_owned(
        ctx,
        "delete",
        &format!("REST API {api}"),
        &crate::support::tag_map(out.tags.unwrap_or_default()),
        None,
    )?;
    Ok(true)
}

arn_tag_api!(Client, "apigateway", |set: BTreeMap<_, _>| {
    Ok::<_, ProviderError>(set.into_iter().collect::<std::collections::HashMap<_, _>>())
});
