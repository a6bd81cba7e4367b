//! Route 53 kinds (global service).

pub mod delegation;
pub mod existing_zone;
pub mod health_check;
pub mod hosted_zone;
pub mod record;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    ChangeStatus, HostedZone, ResourceRecordSet, RrType, Tag, TagResourceType,
};
use drctl_core::{OpContext, ProviderError};

use crate::kind::{Registration, kind};
use crate::kms::tag;
use crate::support::{
    TAG_ADDRESS, TAG_ENV, all_items, api_error, create_token, found, tag_changes, the_one, wait_for,
};
use crate::tags::{from_sdk, to_sdk, user_tags, with_identity};

pub(crate) static KINDS: &[Registration] = &[
    kind!(hosted_zone, HostedZone),
    kind!(existing_zone, ExistingZone),
    kind!(delegation, Delegation),
    kind!(health_check, HealthCheck),
    kind!(record, Record),
];

/// Route 53 answers this for a hosted zone that does not exist.
pub(crate) const ZONE_GONE: &[&str] = &["NoSuchHostedZone"];
/// What tag reads of a zone or health check deleted meanwhile fail with.
const RESOURCE_GONE: &[&str] = &["NoSuchHostedZone", "NoSuchHealthCheck"];

/// A DNS name in the form inputs use and to compare: AWS returns names
/// fully qualified (trailing dot) and compares them case-insensitively.
pub(crate) fn bare(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// A hosted zone id without the `/hostedzone/` prefix AWS gives it.
pub(crate) fn bare_id(id: &str) -> &str {
    id.strip_prefix("/hostedzone/").unwrap_or(id)
}

/// A hosted zone as GetHostedZone shows it.
pub(crate) struct HeldZone {
    /// Fully qualified, as AWS gives it.
    pub name: String,
    pub comment: String,
    pub private: bool,
    pub servers: Vec<String>,
    pub caller_reference: String,
}

/// The hosted zone `id`, `None` when it does not exist.
pub(crate) async fn get_zone(client: &Client, id: &str) -> Result<Option<HeldZone>, ProviderError> {
    let result = client.get_hosted_zone().id(id).send().await;
    let Some(out) = found(result, ZONE_GONE, "route53:GetHostedZone")? else {
        return Ok(None);
    };
    let Some(zone) = out.hosted_zone() else {
        return Ok(None);
    };
    Ok(Some(HeldZone {
        name: zone.name.clone(),
        comment: zone
            .config()
            .and_then(|c| c.comment())
            .unwrap_or_default()
            .to_owned(),
        private: zone.config().is_some_and(|c| c.private_zone()),
        servers: out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default(),
        caller_reference: zone.caller_reference.clone(),
    }))
}

/// The hosted zones of the account named `name`. ListHostedZonesByName
/// (which has no paginator) lists zones in DNS order from the name asked
/// for: the first other name ends them.
pub(crate) async fn zones_named(
    client: &Client,
    name: &str,
) -> Result<Vec<HostedZone>, ProviderError> {
    let wanted = bare(name);
    let mut zones = Vec::new();
    let mut next = (name.to_owned(), None::<String>);
    loop {
        let page = client
            .list_hosted_zones_by_name()
            .dns_name(&next.0)
            .set_hosted_zone_id(next.1.take())
            .send()
            .await
            .map_err(|e| api_error("route53:ListHostedZonesByName", e))?;
        for z in page.hosted_zones() {
            if bare(&z.name) != wanted {
                return Ok(zones);
            }
            zones.push(z.clone());
        }
        match (page.is_truncated(), page.next_dns_name()) {
            (true, Some(n)) => next = (n.to_owned(), page.next_hosted_zone_id().map(str::to_owned)),
            _ => return Ok(zones),
        }
    }
}

/// Gives the record sets of `zone`, in Route 53's order from `start`
/// (name and type; the first when `None`), to `visit` until it returns
/// false. ListResourceRecordSets has no paginator: its pages go on from
/// the next name, type and set identifier. `Ok(false)` when the zone is
/// gone.
pub(crate) async fn walk_record_sets(
    client: &Client,
    zone: &str,
    start: Option<(&str, RrType)>,
    mut visit: impl FnMut(&ResourceRecordSet) -> bool,
) -> Result<bool, ProviderError> {
    let mut next = start.map(|(name, ty)| (name.to_owned(), ty, None::<String>));
    loop {
        let mut req = client.list_resource_record_sets().hosted_zone_id(zone);
        if let Some((name, ty, ident)) = next.take() {
            req = req
                .start_record_name(name)
                .start_record_type(ty)
                .set_start_record_identifier(ident);
        }
        let result = req.send().await;
        let Some(page) = found(result, ZONE_GONE, "route53:ListResourceRecordSets")? else {
            return Ok(false);
        };
        for r in page.resource_record_sets() {
            if !visit(r) {
                return Ok(true);
            }
        }
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(name), Some(ty)) => {
                next = Some((
                    name.to_owned(),
                    ty.clone(),
                    page.next_record_identifier().map(str::to_owned),
                ))
            }
            _ => return Ok(true),
        }
    }
}

/// The tags of each of `ids` (resources of type `ty`), in one
/// ListTagsForResources call per ten.
async fn tags_of_each(
    client: &Client,
    ty: &TagResourceType,
    ids: &[String],
) -> Result<BTreeMap<String, Vec<(String, String)>>, ProviderError> {
    let mut tagged = BTreeMap::new();
    for chunk in ids.chunks(10) {
        let result = client
            .list_tags_for_resources()
            .resource_type(ty.clone())
            .set_resource_ids(Some(chunk.to_vec()))
            .send()
            .await;
        // One of the ten deleted since it was listed fails the whole call:
        // the chunk is read again one by one, and what is gone passed over.
        let Some(out) = found(result, RESOURCE_GONE, "route53:ListTagsForResources")? else {
            for id in chunk {
                let result = client
                    .list_tags_for_resource()
                    .resource_type(ty.clone())
                    .resource_id(id)
                    .send()
                    .await;
                let one = found(result, RESOURCE_GONE, "route53:ListTagsForResource")?;
                if let Some(set) = one.and_then(|o| o.resource_tag_set) {
                    tagged.insert(id.clone(), from_sdk(set.tags()).into_iter().collect());
                }
            }
            continue;
        };
        for set in out.resource_tag_sets() {
            if let Some(id) = set.resource_id() {
                tagged.insert(id.to_owned(), from_sdk(set.tags()).into_iter().collect());
            }
        }
    }
    Ok(tagged)
}

/// Of `ids` (resources of type `ty`), those whose `drctl:env` tag is `env`.
pub(crate) async fn tagged_for_env(
    client: &Client,
    ty: TagResourceType,
    env: &str,
    ids: Vec<String>,
) -> Result<Vec<String>, ProviderError> {
    let tags = tags_of_each(client, &ty, &ids).await?;
    Ok(ids
        .into_iter()
        .filter(|id| tags.get(id).is_some_and(|t| tag(t, TAG_ENV) == Some(env)))
        .collect())
}

/// The ids of the environment's hosted zones, by their `drctl:env` tag.
pub(crate) async fn env_zones(
    client: &Client,
    env: &str,
) -> Result<Vec<(String, String)>, ProviderError> {
    let zones: Vec<HostedZone> = all_items(
        client.list_hosted_zones().into_paginator().items().send(),
        "route53:ListHostedZones",
    )
    .await?;
    let ids = zones.iter().map(|z| bare_id(&z.id).to_owned()).collect();
    let ours = tagged_for_env(client, TagResourceType::Hostedzone, env, ids).await?;
    Ok(zones
        .into_iter()
        .filter(|z| ours.iter().any(|id| id == bare_id(&z.id)))
        .map(|z| (bare_id(&z.id).to_owned(), z.name))
        .collect())
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
    tags: &BTreeMap<String, String>,
    listed: impl IntoIterator<Item = (String, String)>,
) -> Result<Option<String>, ProviderError> {
    let candidates: Vec<(String, bool)> = listed
        .into_iter()
        .filter_map(|(id, reference)| Some((id, reference_for(ctx, &reference)?)))
        .collect();
    let ids: Vec<String> = candidates.iter().map(|(id, _)| id.clone()).collect();
    let tagged = tags_of_each(client, &ty, &ids).await?;
    let address = ctx.address.to_string();
    // id -> whether it carries its tags
    let mut ours: BTreeMap<String, bool> = BTreeMap::new();
    for (id, whole) in candidates {
        let tags = tagged.get(&id).map(Vec::as_slice).unwrap_or_default();
        match tag(tags, TAG_ADDRESS) {
            Some(a) if a == address && tag(tags, TAG_ENV) == Some(&ctx.env) => {
                ours.insert(id, true);
            }
            None if whole => {
                ours.insert(id, false);
            }
            _ => {}
        }
    }
    let Some(id) = the_one(ctx, ours.keys().cloned())? else {
        return Ok(None);
    };
    if !ours[&id] {
        change_tags(client, ty, &id, with_identity(ctx, tags), Vec::new()).await?;
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
    let tags = crate::support::tag_map(tags_of(client, ty, id).await?);
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
    set: BTreeMap<String, String>,
    remove: Vec<String>,
) -> Result<(), ProviderError> {
    if set.is_empty() && remove.is_empty() {
        return Ok(());
    }
    client
        .change_tags_for_resource()
        .resource_type(ty)
        .resource_id(id)
        .set_add_tags((!set.is_empty()).then(|| to_sdk::<Tag>(set)))
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
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let (set, remove) = tag_changes(old, new);
    change_tags(client, ty, id, set, remove).await
}

/// The resource's tags, drctl's own included.
async fn tags_of(
    client: &Client,
    ty: TagResourceType,
    id: &str,
) -> Result<Vec<(String, String)>, ProviderError> {
    let out = client
        .list_tags_for_resource()
        .resource_type(ty)
        .resource_id(id)
        .send()
        .await
        .map_err(|e| api_error("route53:ListTagsForResource", e))?;
    let tags = out.resource_tag_set().map(|s| s.tags()).unwrap_or_default();
    Ok(from_sdk(tags).into_iter().collect())
}

/// The resource's tags as the `tags` input.
pub(crate) async fn read_tags(
    client: &Client,
    ty: TagResourceType,
    id: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    Ok(user_tags(tags_of(client, ty, id).await?))
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
