//! RDS (Aurora) kinds: the global database, its regional clusters and
//! instances, and the subnet groups they live in.

pub mod cluster;
pub mod global_cluster;
pub mod instance;
pub mod subnet_group;

use std::future::Future;
use std::time::Duration;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbCluster, DbInstance, GlobalCluster, Tag};
use drctl_core::{OpContext, ProviderError};

use crate::kind::{Registration, kind};
use crate::support::{api_error, sent, wait_for};
pub(crate) use crate::tags::retag as sync_tags;
use crate::tags::{TagApi, Tags, from_sdk, in_env, to_sdk};

pub(crate) static KINDS: &[Registration] = &[
    kind!(global_cluster, GlobalCluster),
    kind!(subnet_group, SubnetGroup),
    kind!(cluster, Cluster),
    kind!(instance, Instance),
];

/// Aurora clusters and instances take minutes (sometimes tens of minutes)
/// to create, modify or delete on AWS.
pub(crate) const RDS_WAIT: Duration = Duration::from_secs(45 * 60);

/// drctl's tags plus the user's `tags`, as sent in a Create call.
pub(crate) fn create_tags(ctx: &OpContext, tags: &Tags) -> Vec<Tag> {
    to_sdk::<Tag>(crate::tags::with_identity(ctx, tags))
}

/// The `tags` input as read back from a resource's tag list.
pub(crate) fn user_tags(tags: &[Tag]) -> Tags {
    crate::tags::user_tags(from_sdk(tags))
}

/// Refuses the delete of `what` unless its tags (or, without a
/// `drctl:env` tag, its name: RDS identifiers are drctl's and embed the
/// environment) show it is this environment's (`support::confirm_owned`).
/// `name` is the identifier input state records for it.
pub(crate) fn confirm_owned(
    ctx: &OpContext,
    what: &str,
    tags: &[Tag],
    id: &str,
    name: &str,
) -> Result<(), ProviderError> {
    let named = Some(name).filter(|n| n.eq_ignore_ascii_case(id));
    crate::support::confirm_owned(ctx, "delete", what, &from_sdk(tags), named)
}

/// What waits and lists read of a global cluster, a cluster or an
/// instance.
pub(crate) trait Status {
    fn state(&self) -> Option<&str>;
    fn engine(&self) -> Option<&str>;
}

impl Status for DbCluster {
    fn state(&self) -> Option<&str> {
        self.status()
    }
    fn engine(&self) -> Option<&str> {
        self.engine_version()
    }
}

impl Status for GlobalCluster {
    fn state(&self) -> Option<&str> {
        self.status()
    }
    fn engine(&self) -> Option<&str> {
        self.engine_version()
    }
}

impl Status for DbInstance {
    fn state(&self) -> Option<&str> {
        self.db_instance_status()
    }
    fn engine(&self) -> Option<&str> {
        self.engine_version()
    }
}

/// Waits (`what`) until `read` finds it `available` at engine version
/// `version` or later.
pub(crate) async fn wait_version<T, F, Fut>(
    what: String,
    version: &str,
    read: F,
) -> Result<T, ProviderError>
where
    T: Status,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    wait_for(&what, RDS_WAIT, || async {
        Ok(match read().await? {
            Some(x)
                if x.state() == Some("available")
                    && at_least(x.engine().unwrap_or_default(), version) =>
            {
                Ok(x)
            }
            Some(x) => Err(format!(
                "{} at {}",
                x.state().unwrap_or("unknown"),
                x.engine().unwrap_or("unknown")
            )),
            None => Err("not found".to_owned()),
        })
    })
    .await
}

/// Waits (`what`) until `read` no longer finds it.
pub(crate) async fn wait_gone<T, F, Fut>(
    what: String,
    limit: Duration,
    read: F,
) -> Result<(), ProviderError>
where
    T: Status,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    wait_for(&what, limit, || async {
        Ok(match read().await? {
            None => Ok(()),
            Some(x) => Err(x.state().unwrap_or("unknown").to_owned()),
        })
    })
    .await
}

/// `id` when `found` exists and is not being deleted: what `find` adopts.
pub(crate) fn live<T: Status>(found: Option<T>, id: &str) -> Option<String> {
    found
        .filter(|x| x.state() != Some("deleting"))
        .map(|_| id.to_owned())
}

/// The ids of `items` that are environment `env`'s (`tags::in_env`; `of`
/// gives an item's tags and id), but those being deleted.
pub(crate) fn env_ids<T: Status>(
    env: &str,
    items: &[T],
    of: impl Fn(&T) -> (&[Tag], Option<&str>),
) -> Vec<String> {
    items
        .iter()
        .filter(|x| x.state() != Some("deleting"))
        .filter_map(|x| {
            let (tags, id) = of(x);
            id.filter(|id| in_env(env, &from_sdk(tags), Some(id)))
                .map(str::to_owned)
        })
        .collect()
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

/// AddTagsToResource / RemoveTagsFromResource on a resource's ARN.
#[async_trait::async_trait]
impl TagApi for Client {
    async fn tag(&self, arn: &str, set: Tags) -> Result<(), ProviderError> {
        let call = self.add_tags_to_resource().resource_name(arn);
        sent(
            call.set_tags(Some(to_sdk::<Tag>(set))).send().await,
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

/// `v` sorted: the order of an id list means nothing to RDS.
pub(crate) fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
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
