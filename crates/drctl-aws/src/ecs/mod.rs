//! ECS kinds: a Fargate cluster, task definition and service.
//!
//! This module also holds the few generic helpers the typed kinds of ECS,
//! ELBv2 and AWS Backup share (tags as a struct field, the list rule,
//! adopting a found resource): they belong in `support` once the kinds
//! of every service are typed.

pub mod cluster;
pub mod service;
pub mod task_definition;

use std::collections::BTreeMap;

use aws_sdk_ecs::types::Tag;
use drctl_core::{OpContext, ProviderError};
use serde_json::json;

use crate::kind::{Registration, kind};
use crate::support::{TAG_ADDRESS, TAG_ENV, attrs, name_embeds_env, tag_pairs};
use crate::tags::arn_tag_api;

pub(crate) static KINDS: &[Registration] = &[
    kind!(cluster, Cluster),
    kind!(task_definition, TaskDefinition),
    kind!(service, Service),
];

/// A `tags` input: user tags, as a kind's struct field.
pub(crate) type Tags = BTreeMap<String, String>;

/// The user tags plus drctl's identity tags, as a create writes them.
pub(crate) fn with_identity(ctx: &OpContext, tags: &Tags) -> Tags {
    crate::support::all_tags(ctx, &attrs([("tags", json!(tags))]))
}

/// Tags read back, minus drctl's own: the `tags` input a read reports.
pub(crate) fn user_tags(tags: Tags) -> Tags {
    tags.into_iter()
        .filter(|(k, _)| k != TAG_ENV && k != TAG_ADDRESS)
        .collect()
}

/// Whether `list` counts a resource as environment `env`'s: its
/// `drctl:env` tag says so, or, without that tag (adopted by name), its
/// name drctl derives embeds the environment's (the proof
/// `support::confirm_owned` takes).
pub(crate) fn listed(env: &str, tags: &Tags, name: Option<&str>) -> bool {
    match tags.get(TAG_ENV) {
        Some(e) => e == env,
        None => name.is_some_and(|n| name_embeds_env(n, env)),
    }
}

/// ECS's tags from a map.
pub(crate) fn ecs_tags(tags: Tags) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A map of ECS's tags.
pub(crate) fn tag_map(tags: &[Tag]) -> Tags {
    tag_pairs(tags, |t| (t.key(), t.value())).collect()
}

/// Refuses the delete of `what` unless its tags (or, untagged, its name
/// when it is the `named` name drctl gave it) show it is this
/// environment's (`support::confirm_owned`).
pub(crate) fn confirm_owned(
    ctx: &OpContext,
    what: &str,
    tags: &[Tag],
    name: &str,
    named: &str,
) -> Result<(), ProviderError> {
    let named = Some(named).filter(|n| *n == name);
    crate::support::confirm_owned(ctx, "delete", what, &tag_map(tags), named)
}

/// Whether `tags` carry this address's and env's identity tags.
pub(crate) fn is_ours(ctx: &OpContext, tags: &Tags) -> bool {
    tags.get(TAG_ENV) == Some(&ctx.env) && tags.get(TAG_ADDRESS) == Some(&ctx.address.to_string())
}

/// A name input of 1 to `most` letters, digits, `-` or `_` (ECS's cluster,
/// service and family names); the error names the input and `what`.
pub(crate) fn name_input<'a>(
    ctx: &OpContext,
    key: &str,
    name: &'a str,
    what: &str,
) -> Result<&'a str, ProviderError> {
    if (1..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Ok(name);
    }
    Err(crate::support::invalid(
        ctx,
        format!("input `{key}` is {name:?}: {what} is 1 to 255 letters, digits, `-` or `_`"),
    ))
}

/// A whole-number input within `range`, as the SDK's `i32`.
pub(crate) fn int_in(
    ctx: &OpContext,
    key: &str,
    value: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i32, ProviderError> {
    if range.contains(&value) {
        return i32::try_from(value).map_err(|_| range_error(ctx, key, &range));
    }
    Err(range_error(ctx, key, &range))
}

fn range_error(ctx: &OpContext, key: &str, range: &std::ops::RangeInclusive<i64>) -> ProviderError {
    crate::support::invalid(
        ctx,
        format!(
            "input `{key}` must be a whole number from {} to {}",
            range.start(),
            range.end()
        ),
    )
}

arn_tag_api!(aws_sdk_ecs::Client, "ecs", |set| Ok::<_, ProviderError>(
    ecs_tags(set)
));
