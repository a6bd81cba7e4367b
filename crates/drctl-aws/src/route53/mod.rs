//! Route 53 kinds (global service).

pub mod health_check;
pub mod hosted_zone;
pub mod record;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_route53::Client;
use aws_sdk_route53::types::{ChangeStatus, Tag, TagResourceType};
use drctl_core::provider::KindSchema;
use drctl_core::{Attributes, ProviderError, Providers};
use serde_json::Value as Json;

use crate::clients::Clients;
use crate::support::{api_error, observed_tags, tag_changes, user_tags, wait_for};

pub(crate) static KINDS: &[&KindSchema] =
    &[&hosted_zone::SCHEMA, &health_check::SCHEMA, &record::SCHEMA];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(hosted_zone::HostedZone(c.clone())));
    providers.register(Arc::new(health_check::HealthCheck(c.clone())));
    providers.register(Arc::new(record::Record(c.clone())));
}

/// A reference unique to one create call (Route 53 refuses a reused one).
pub(crate) fn caller_reference(env: &str, address: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // At most 128 characters; the address is only there to help a reader.
    let mut r = format!("drctl-{env}-{address}");
    r.truncate(100);
    format!("{r}-{nanos}")
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
    let tags = out
        .resource_tag_set()
        .map(|s| s.tags())
        .unwrap_or_default()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        });
    Ok(observed_tags(tags))
}

/// Waits until a change has reached every Route 53 name server (INSYNC;
/// normally within a minute).
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
                other => Ok(Err(format!("{other:?}"))),
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
