//! ECS kinds: a Fargate cluster, task definition and service.
//!
//! This module also holds the few generic helpers the typed kinds of ECS,
//! ELBv2 and AWS Backup share (name and number inputs).

pub mod cluster;
pub mod service;
pub mod task_definition;

use aws_sdk_ecs::types::Tag;
use drctl_core::{OpContext, ProviderError};

use crate::kind::{Registration, kind};
use crate::tags::{arn_tag_api, checked, from_sdk};

pub(crate) static KINDS: &[Registration] = &[
    kind!(cluster, Cluster),
    kind!(task_definition, TaskDefinition),
    kind!(service, Service),
];

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
    crate::support::confirm_owned(ctx, "delete", what, &from_sdk(tags), named)
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

arn_tag_api!(aws_sdk_ecs::Client, "ecs", checked::<Tag>);
