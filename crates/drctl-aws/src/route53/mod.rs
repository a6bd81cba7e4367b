//! Route 53 kinds (global service).

pub mod delegation;
pub mod existing_zone;
pub mod health_check;
pub mod hosted_zone;
pub mod record;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_route53::Client;
use aws_sdk_route53::types::{ChangeStatus, Tag, TagResourceType};
use drctl_core::provider::KindSchema;
use drctl_core::{Attributes, OpContext, ProviderError, Providers};
use serde_json::Value as Json;

use crate::clients::Clients;
use crate::support::{
    TAG_ADDRESS, TAG_ENV, all_tags, api_error, create_token, observed_tags, tag_changes, tag_pairs,
    the_one, user_tags, wait_for,
};

pub(crate) static KINDS: &[&KindSchema] = &[
    &hosted_zone::SCHEMA,
    &existing_zone::SCHEMA,
    &delegation::SCHEMA,
    &health_check::SCHEMA,
    &record::SCHEMA,
];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(hosted_zone::HostedZone(c.clone())));
    providers.register(Arc::new(existing_zone::ExistingZone(c.clone())));
    providers.register(Arc::new(delegation::Delegation(c.clone())));
    providers.register(Arc::new(health_check::HealthCheck(c.clone())));
    providers.register(Arc::new(record::Record(c.clone())));
}

/// The longest caller reference prefix kept (at most 128 characters in all).
const REFERENCE_PREFIX_MAX: usize = 100;

/// `drctl-<env>-<address>`, cut to fit: what a caller reference says about
/// the resource it created; and whether it is whole.
fn reference_prefix(env: &str, address: &str) -> (String, bool) {
    let mut r = format!("drctl-{env}-{address}");
    let whole = r.len() <= REFERENCE_PREFIX_MAX;
    r.truncate(REFERENCE_PREFIX_MAX);
    (r, whole)
}

/// The caller reference of a create: its prefix and the create's
/// idempotency token (`OpContext::token`), so it is unique to one create
/// (Route 53 refuses a reused one) and the same on every resend of it.
pub(crate) fn caller_reference(ctx: &OpContext) -> String {
    let prefix = reference_prefix(&ctx.env, &ctx.address.to_string()).0;
    format!("{prefix}-{}", create_token(ctx))
}

/// When `reference` is one `caller_reference` made for `ctx`: whether its
/// prefix is whole (a cut one may also be another address's).
fn reference_for(ctx: &OpContext, reference: &str) -> Option<bool> {
    let (prefix, whole) = reference_prefix(&ctx.env, &ctx.address.to_string());
    let token = reference.strip_prefix(&prefix)?.strip_prefix('-')?;
    // Tokens are hex; references of older drctl versions end in digits.
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(whole)
}

/// Of the resources listed as `(id, caller reference)`, the one a create
/// for `ctx` made: its caller reference (immutable, set in the create
/// call) is `ctx`'s, and its `drctl:address` and `drctl:env` tags are
/// `ctx`'s. Those tags follow the create call, so a create interrupted in
/// between leaves it untagged: then the whole caller reference alone
/// identifies it, and it gets the tags the create would have set, so that
/// it is identifiable like any other. Two such resources are a duplicate:
/// an error naming both.
pub(crate) async fn find_created(
    client: &Client,
    ty: TagResourceType,
    ctx: &OpContext,
    inputs: &Attributes,
    listed: impl IntoIterator<Item = (String, String)>,
) -> Result<Option<String>, ProviderError> {
    let candidates: Vec<(String, bool)> = listed
        .into_iter()
        .filter_map(|(id, reference)| Some((id, reference_for(ctx, &reference)?)))
        .collect();
    let address = ctx.address.to_string();
    // (id, tagged)
    let mut ours: Vec<(String, bool)> = Vec::new();
    // At most 10 resources per ListTagsForResources call.
    for chunk in candidates.chunks(10) {
        let out = client
            .list_tags_for_resources()
            .resource_type(ty.clone())
            .set_resource_ids(Some(chunk.iter().map(|(id, _)| id.clone()).collect()))
            .send()
            .await
            .map_err(|e| api_error("route53:ListTagsForResources", e))?;
        for (id, whole) in chunk {
            let tags = out
                .resource_tag_sets()
                .iter()
                .find(|s| s.resource_id() == Some(id))
                .map(|s| s.tags())
                .unwrap_or_default();
            let tag = |key: &str| {
                tags.iter()
                    .find(|t| t.key() == Some(key))
                    .and_then(|t| t.value())
            };
            match tag(TAG_ADDRESS) {
                Some(a) if a == address && tag(TAG_ENV) == Some(&ctx.env) => {
                    ours.push((id.clone(), true))
                }
                None if *whole => ours.push((id.clone(), false)),
                _ => {}
            }
        }
    }
    let tagged: std::collections::BTreeMap<String, bool> = ours.into_iter().collect();
    let Some(id) = the_one(ctx, tagged.keys().cloned())? else {
        return Ok(None);
    };
    if !tagged[&id] {
        change_tags(client, ty, &id, all_tags(ctx, inputs), Vec::new()).await?;
    }
    Ok(Some(id))
}

/// Refuses the delete of `what` (a hosted zone or health check, `id`)
/// unless it is this environment's: its `drctl:*` tags, or, without a
/// `drctl:env` tag (a create stopped between the create call and its
/// tagging), its caller reference, which only the create sets and which
/// `caller_reference` makes from the environment and address.
pub(crate) async fn confirm_owned(
    client: &Client,
    ty: TagResourceType,
    ctx: &OpContext,
    what: &str,
    id: &str,
    reference: &str,
) -> Result<(), ProviderError> {
    let out = client
        .list_tags_for_resource()
        .resource_type(ty)
        .resource_id(id)
        .send()
        .await
        .map_err(|e| api_error("route53:ListTagsForResource", e))?;
    let tags = crate::support::tag_map(
        out.resource_tag_set()
            .map(|s| s.tags())
            .unwrap_or_default()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
    );
    if !tags.contains_key(TAG_ENV) && reference_for(ctx, reference) == Some(true) {
        return Ok(());
    }
    crate::support::confirm_owned(ctx, "delete", what, &tags, None)
}

/// Sets and removes tags to go from the `old` to the `new` inputs' tags
/// (`old` empty on create, so every tag, drctl's own included, is set).
pub(crate) async fn change_tags(
    client: &Client,
    ty: TagResourceType,
    id: &str,
    set: std::collections::BTreeMap<String, String>,
    remove: Vec<String>,
) -> Result<(), ProviderError> {
    if set.is_empty() && remove.is_empty() {
        return Ok(());
    }
    client
        .change_tags_for_resource()
        .resource_type(ty)
        .resource_id(id)
        .set_add_tags((!set.is_empty()).then(|| {
            set.into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect()
        }))
        .set_remove_tag_keys((!remove.is_empty()).then_some(remove))
        .send()
        .await
        .map_err(|e| api_error("route53:ChangeTagsForResource", e))?;
    Ok(())
}

/// Applies the difference between the old and new `tags` inputs.
pub(crate) async fn sync_tags(
    client: &Client,
    ty: TagResourceType,
    id: &str,
    old: &Attributes,
    new: &Attributes,
) -> Result<(), ProviderError> {
    let (set, remove) = tag_changes(&user_tags(old), &user_tags(new));
    change_tags(client, ty, id, set, remove).await
}

/// The resource's tags as the `tags` input.
pub(crate) async fn read_tags(
    client: &Client,
    ty: TagResourceType,
    id: &str,
) -> Result<Json, ProviderError> {
    let out = client
        .list_tags_for_resource()
        .resource_type(ty)
        .resource_id(id)
        .send()
        .await
        .map_err(|e| api_error("route53:ListTagsForResource", e))?;
    let tags = out.resource_tag_set().map(|s| s.tags()).unwrap_or_default();
    Ok(observed_tags(tag_pairs(tags, |t| (t.key(), t.value()))))
}

/// Waits until a change has reached every Route 53 name server: GetChange
/// answers PENDING until then, INSYNC after (Route 53 API Reference,
/// GetChange; normally within a minute), for at most 10 minutes; each
/// status seen is reported (`drctl_core::waiting`).
pub(crate) async fn wait_insync(client: &Client, change_id: &str) -> Result<(), ProviderError> {
    wait_for(
        &format!("route53 change {change_id}"),
        Duration::from_secs(600),
        || async {
            let out = client
                .get_change()
                .id(change_id)
                .send()
                .await
                .map_err(|e| api_error("route53:GetChange", e))?;
            match out.change_info().map(|c| &c.status) {
                Some(ChangeStatus::Insync) => Ok(Ok(())),
                Some(other) => Ok(Err(other.as_str().to_owned())),
                None => Ok(Err("no status".to_owned())),
            }
        },
    )
    .await
}

/// A domain name as the input has it: AWS returns names fully qualified
/// (trailing dot) and compares them case-insensitively, so an observed
/// name equal to the prior input but for those reads back as that input.
pub(crate) fn input_name(observed: &str, prior: Option<&str>) -> String {
    let bare = observed.strip_suffix('.').unwrap_or(observed);
    match prior {
        Some(p) if p.strip_suffix('.').unwrap_or(p).eq_ignore_ascii_case(bare) => p.to_owned(),
        _ => bare.to_owned(),
    }
}
