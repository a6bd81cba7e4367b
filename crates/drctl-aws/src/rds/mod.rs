//! RDS (Aurora) kinds: the global database, its regional clusters and
//! instances, and the subnet groups they live in.

pub mod cluster;
pub mod global_cluster;
pub mod instance;
pub mod subnet_group;

use std::collections::BTreeMap;
use std::sync::Arc;

use std::time::Duration;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::Tag;
use drctl_core::Providers;
use drctl_core::provider::KindSchema;
use drctl_core::{Attributes, OpContext, ProviderError};
use serde_json::Value as Json;

use crate::clients::Clients;
use crate::support::{all_tags, api_error, observed_tags, sent, tag_map, tag_pairs};
use crate::tags::TagApi;
pub(crate) use crate::tags::sync_tags;

pub(crate) static KINDS: &[&KindSchema] = &[
    &global_cluster::SCHEMA,
    &subnet_group::SCHEMA,
    &cluster::SCHEMA,
    &instance::SCHEMA,
];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(global_cluster::GlobalCluster(c.clone())));
    providers.register(Arc::new(subnet_group::SubnetGroup(c.clone())));
    providers.register(Arc::new(cluster::Cluster(c.clone())));
    providers.register(Arc::new(instance::Instance(c.clone())));
}

/// Aurora clusters and instances take minutes (sometimes tens of minutes)
/// to create, modify or delete on AWS.
pub(crate) const RDS_WAIT: Duration = Duration::from_secs(45 * 60);

/// drctl's tags plus the user's, as sent in a Create call.
pub(crate) fn create_tags(ctx: &OpContext, inputs: &Attributes) -> Vec<Tag> {
    all_tags(ctx, inputs)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The `tags` input as read back from a resource's tag list.
pub(crate) fn tags_json(tags: &[Tag]) -> Json {
    observed_tags(tag_pairs(tags, |t| (t.key(), t.value())))
}

/// Refuses the delete of `what` unless its tags (or, without a
/// `drctl:env` tag, its name: RDS identifiers are drctl's and embed the
/// environment) show it is this environment's (`support::confirm_owned`).
pub(crate) fn confirm_owned(
    ctx: &OpContext,
    what: &str,
    tags: &[Tag],
    id: &str,
    inputs: &Attributes,
    name_input: &str,
) -> Result<(), ProviderError> {
    let tags = tag_map(tag_pairs(tags, |t| (t.key(), t.value())));
    let named = crate::support::opt_str(inputs, name_input).filter(|n| n.eq_ignore_ascii_case(id));
    crate::support::confirm_owned(ctx, "delete", what, &tags, named)
}

/// The tags of the resource with this ARN, as AWS lists them.
pub(crate) async fn tag_list(client: &Client, arn: &str) -> Result<Vec<Tag>, ProviderError> {
    let out = client
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| api_error("rds:ListTagsForResource", e))?;
    Ok(out.tag_list().to_vec())
}

/// The tags of the resource with this ARN (ListTagsForResource).
pub(crate) async fn list_tags(client: &Client, arn: &str) -> Result<Json, ProviderError> {
    let out = client
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| api_error("rds:ListTagsForResource", e))?;
    Ok(tags_json(out.tag_list()))
}

/// AddTagsToResource / RemoveTagsFromResource on a resource's ARN.
#[async_trait::async_trait]
impl TagApi for Client {
    async fn tag(&self, arn: &str, set: BTreeMap<String, String>) -> Result<(), ProviderError> {
        let tags = set
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build());
        let call = self.add_tags_to_resource().resource_name(arn);
        sent(
            call.set_tags(Some(tags.collect())).send().await,
            "rds:AddTagsToResource",
        )
    }

    async fn untag(&self, arn: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        let call = self.remove_tags_from_resource().resource_name(arn);
        sent(
            call.set_tag_keys(Some(keys)).send().await,
            "rds:RemoveTagsFromResource",
        )
    }
}

/// A sorted list of strings from an array input (absent: empty).
pub(crate) fn sorted_strings(inputs: &Attributes, key: &str) -> Vec<String> {
    let mut v: Vec<String> = inputs
        .get(key)
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The numeric parts of an engine version ("14.9" -> [14, 9]); `None` for
/// anything else.
fn version_parts(v: &str) -> Option<Vec<u64>> {
    v.split('.').map(|p| p.parse().ok()).collect()
}

/// Whether `observed` is `wanted` or a later version.
pub(crate) fn at_least(observed: &str, wanted: &str) -> bool {
    match (version_parts(observed), version_parts(wanted)) {
        (Some(o), Some(w)) => o >= w,
        _ => observed == wanted,
    }
}

/// Whether `a` and `b` share their major version (the first part for
/// Aurora PostgreSQL, "14" in "14.9").
pub(crate) fn same_major(a: &str, b: &str) -> bool {
    a.split('.').next() == b.split('.').next()
}

/// The `engine_version` a read reports: the version last applied while AWS
/// runs a later minor version of the same major (Aurora applies minor
/// upgrades by itself in a maintenance window; that is not drift to
/// undo, and a downgrade is impossible anyway), else what AWS reports.
pub(crate) fn settled_version(prior: Option<&str>, observed: &str) -> String {
    match prior {
        Some(p) if same_major(p, observed) && at_least(observed, p) => p.to_owned(),
        _ => observed.to_owned(),
    }
}
