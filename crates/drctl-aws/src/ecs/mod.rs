//! ECS kinds: a Fargate cluster, task definition and service.

pub mod cluster;
pub mod service;
pub mod task_definition;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_ecs::types::Tag;
use drctl_core::provider::KindSchema;
use drctl_core::{OpContext, ProviderError, Providers};

use crate::clients::Clients;
use crate::support::{TAG_ADDRESS, TAG_ENV, tag_pairs};
use crate::tags::arn_tag_api;
pub(crate) use crate::tags::sync_tags;

pub(crate) static KINDS: &[&KindSchema] =
    &[&cluster::SCHEMA, &task_definition::SCHEMA, &service::SCHEMA];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(cluster::Cluster(c.clone())));
    providers.register(Arc::new(task_definition::TaskDefinition(c.clone())));
    providers.register(Arc::new(service::Service(c.clone())));
}

/// ECS's tags from a map.
pub(crate) fn ecs_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A map of ECS's tags.
pub(crate) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tag_pairs(tags, |t| (t.key(), t.value())).collect()
}

/// Refuses the delete of `what` unless its tags (or, untagged, its name
/// when it is the `name_input` drctl gave it) show it is this
/// environment's (`support::confirm_owned`).
pub(crate) fn confirm_owned(
    ctx: &OpContext,
    what: &str,
    tags: &[Tag],
    name: &str,
    inputs: &drctl_core::Attributes,
    name_input: &str,
) -> Result<(), drctl_core::ProviderError> {
    let named = crate::support::opt_str(inputs, name_input).filter(|n| *n == name);
    crate::support::confirm_owned(ctx, "delete", what, &tag_map(tags), named)
}

/// Whether `tags` carry this address's and env's identity tags.
pub(crate) fn is_ours(ctx: &OpContext, tags: &BTreeMap<String, String>) -> bool {
    tags.get(TAG_ENV) == Some(&ctx.env) && tags.get(TAG_ADDRESS) == Some(&ctx.address.to_string())
}

arn_tag_api!(aws_sdk_ecs::Client, "ecs", |set| Ok::<_, ProviderError>(
    ecs_tags(set)
));
