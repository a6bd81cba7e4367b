//! API Gateway (REST) kinds.

pub mod base_path_mapping;
pub mod deployment;
pub mod domain_name;
pub mod method;
pub mod resource;
pub mod rest_api;
pub mod stage;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::types::{Op, PatchOperation, Resource, RestApi};
use drctl_core::{ListScope, OpContext, ProviderError};
use serde_json::Number;

use crate::clients::Clients;
use crate::kind::{Registration, kind};
use crate::support::{all_items, found, found_items, tag_map};
use crate::tags::{Tags, arn_tag_api, in_env, retag, with_identity};

pub(crate) static KINDS: &[Registration] = &[
    kind!(rest_api, RestApi),
    kind!(resource, Resource),
    kind!(method, Method),
    kind!(deployment, Deployment),
    kind!(stage, Stage),
    kind!(domain_name, DomainName),
    kind!(base_path_mapping, BasePathMapping),
];

/// API Gateway reports every missing entity (API, resource, method, stage,
/// deployment, domain name, base path mapping) with this one code.
pub(crate) const NOT_FOUND: &[&str] = &["NotFoundException"];

/// The `replace` operations of the values that differ, `(path, was, is)`.
pub(crate) fn replaced<'a>(
    changes: impl IntoIterator<Item = (&'a str, &'a String, &'a String)>,
) -> Vec<PatchOperation> {
    changes
        .into_iter()
        .filter(|(_, was, is)| was != is)
        .map(|(path, _, is)| replace(path, is))
        .collect()
}

/// A `replace` patch operation, the form of every in-place update here.
pub(crate) fn replace(path: &str, value: impl Into<String>) -> PatchOperation {
    PatchOperation::builder()
        .op(Op::Replace)
        .path(path)
        .value(value)
        .build()
}

/// A number AWS returns as a double, as the integer the input most likely
/// was when it is whole (10000.0 -> 10000), so that it compares equal.
pub(crate) fn whole_number(v: f64) -> Number {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Number::from(v as i64)
    } else {
        Number::from_f64(v).unwrap_or_else(|| Number::from(0))
    }
}

/// Refuses a change to a REST API's child (`ctx`'s address: a resource,
/// method or deployment) unless the API is this environment's: a
/// resource, method or deployment carries no tags, so its API proves it
/// drctl's. `false` when the API is gone (its children went with it).
pub(crate) async fn confirm_api_owned(
    client: &Client,
    ctx: &OpContext,
    api: &str,
) -> Result<bool, ProviderError> {
    let result = client.get_rest_api().rest_api_id(api).send().await;
    let Some(out) = found(result, NOT_FOUND, "apigateway:GetRestApi")? else {
        return Ok(false);
    };
    confirm(ctx, &format!("REST API {api}"), out.tags, Parent)?;
    Ok(true)
}

/// Whose tags [`confirm`] checks: the resource's own, or its parent's.
#[derive(Clone, Copy)]
pub(crate) enum Owner {
    Own,
    Parent,
}
pub(crate) use Owner::{Own, Parent};

/// Refuses to delete `what` (or, for [`Parent`], `ctx`'s resource under
/// it) unless its API Gateway tags show it this environment's
/// (`support::confirm_owned`, `confirm_parent_owned`).
pub(crate) fn confirm(
    ctx: &OpContext,
    what: &str,
    tags: Option<HashMap<String, String>>,
    owner: Owner,
) -> Result<(), ProviderError> {
    let tags = tag_map(tags.unwrap_or_default());
    match owner {
        Own => crate::support::confirm_owned(ctx, "delete", what, &tags, None),
        Parent => crate::support::confirm_parent_owned(ctx, "delete", what, &tags, None),
    }
}

/// API Gateway's tags (a map, absent when there are none) as [`Tags`].
fn tags_of(tags: Option<&HashMap<String, String>>) -> Tags {
    tags.into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether API Gateway tags are the identity tags drctl's create for
/// `ctx` wrote (names are not unique, or are the account's: the tags say
/// whose).
pub(crate) fn made_for(ctx: &OpContext, tags: Option<&HashMap<String, String>>) -> bool {
    crate::tags::made_for(ctx, &tags_of(tags))
}

/// Whether API Gateway tags name `scope`'s environment.
pub(crate) fn of_env(scope: &ListScope, tags: Option<&HashMap<String, String>>) -> bool {
    in_env(&scope.env, &tags_of(tags), None)
}

/// The user's tags and drctl's identity tags, as a create call takes them.
pub(crate) fn create_tags(ctx: &OpContext, tags: &Tags) -> HashMap<String, String> {
    with_identity(ctx, tags).into_iter().collect()
}

/// Tags read back, minus drctl's own, as the `tags` input.
pub(crate) fn user_tags(tags: Option<&HashMap<String, String>>) -> Tags {
    crate::tags::user_tags(tags_of(tags))
}

/// Brings a tagged resource's user tags (`arn`) from `prior` to `inputs`;
/// drctl's own stay as they are.
pub(crate) async fn sync_tags(
    client: &Client,
    arn: &str,
    prior: &BTreeMap<String, String>,
    inputs: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    retag(client, arn, prior, inputs).await
}

/// The REST APIs `scope`'s environment has in its region (by their
/// `drctl:env` tag): what their children are listed under.
pub(crate) async fn env_apis(
    clients: &Clients,
    scope: &ListScope,
) -> Result<Vec<String>, ProviderError> {
    let apis = all_apis(&clients.apigateway(&scope.region)).await?;
    Ok(apis
        .iter()
        .filter(|a| of_env(scope, a.tags()))
        .filter_map(|a| a.id().map(str::to_owned))
        .collect())
}

/// Every REST API of the client's region, with its tags.
pub(crate) async fn all_apis(client: &Client) -> Result<Vec<RestApi>, ProviderError> {
    let call = client.get_rest_apis().limit(500);
    all_items(
        call.into_paginator().items().send(),
        "apigateway:GetRestApis",
    )
    .await
}

/// The ids `each` lists under every parent (an API, a domain name) in
/// turn: what a kind without tags has in an environment.
pub(crate) async fn under<F, Fut>(
    parents: Vec<String>,
    mut each: F,
) -> Result<Vec<String>, ProviderError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Vec<String>, ProviderError>>,
{
    let mut ids = Vec::new();
    for parent in parents {
        ids.extend(each(parent).await?);
    }
    Ok(ids)
}

/// The ids `of` gives each resource of each of the environment's APIs
/// (its own, its methods'): what `apigateway.resource` and
/// `apigateway.method` list.
pub(crate) async fn env_resource_ids(
    clients: &Clients,
    scope: &ListScope,
    of: impl Fn(&Resource) -> Vec<String> + Sync,
) -> Result<Vec<String>, ProviderError> {
    let client = &clients.apigateway(&scope.region);
    let of = &of;
    under(env_apis(clients, scope).await?, |api| async move {
        let resources = resources_of(client, &api).await?.unwrap_or_default();
        Ok(resources.iter().flat_map(of).collect())
    })
    .await
}

/// The resources of the API `api` (`None` when the API is gone meanwhile),
/// with their methods.
pub(crate) async fn resources_of(
    client: &Client,
    api: &str,
) -> Result<Option<Vec<Resource>>, ProviderError> {
    let call = client.get_resources().rest_api_id(api).embed("methods");
    let listed = call.limit(500).into_paginator().items().send();
    found_items(listed, NOT_FOUND, "apigateway:GetResources").await
}

/// The error of an update whose resource disappeared meanwhile.
pub(crate) fn gone(operation: &str, what: &str) -> ProviderError {
    ProviderError::new(operation, format!("{what} disappeared during update"))
}

arn_tag_api!(Client, "apigateway", |set: BTreeMap<_, _>| {
    Ok::<_, ProviderError>(set.into_iter().collect::<std::collections::HashMap<_, _>>())
});
