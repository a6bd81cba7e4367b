//! RDS (Aurora) kinds: the global database, its regional clusters and
//! instances, and the subnet groups they live in.

pub mod cluster;
pub mod global_cluster;
pub mod instance;
pub mod subnet_group;

use std::time::Duration;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbCluster, DbInstance, GlobalCluster, Tag};
use drctl_core::{OpContext, ProviderError};

use crate::kind::{Registration, kind};
use crate::support::{all_items, api_error, sent, wait_for};
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

/// A global cluster, a cluster or an instance: what RDS describes by
/// identifier, with a status to wait on. Each kind's file says how one is
/// described; the helpers below find, wait on, check before a delete and
/// list all three the same way.
#[async_trait::async_trait]
pub(crate) trait Status: Sized + Send + Sync {
    fn state(&self) -> Option<&str>;
    fn engine(&self) -> Option<&str>;
    fn identifier(&self) -> Option<&str>;
    fn tags(&self) -> &[Tag];
    /// The one with identifier `id`, or `None` when there is none.
    async fn describe(rds: &Client, id: &str) -> Result<Option<Self>, ProviderError>;
    /// Every one the region describes, over all pages.
    async fn list(rds: &Client) -> Result<Vec<Self>, ProviderError>;
}

#[async_trait::async_trait]
impl Status for DbCluster {
    fn state(&self) -> Option<&str> {
        self.status()
    }
    fn engine(&self) -> Option<&str> {
        self.engine_version()
    }
    fn identifier(&self) -> Option<&str> {
        self.db_cluster_identifier()
    }
    fn tags(&self) -> &[Tag] {
        self.tag_list()
    }
    async fn describe(rds: &Client, id: &str) -> Result<Option<Self>, ProviderError> {
        cluster::describe(rds, id).await
    }
    async fn list(rds: &Client) -> Result<Vec<Self>, ProviderError> {
        let pages = rds.describe_db_clusters().into_paginator();
        all_items(pages.items().send(), "rds:DescribeDBClusters").await
    }
}

#[async_trait::async_trait]
impl Status for GlobalCluster {
    fn state(&self) -> Option<&str> {
        self.status()
    }
    fn engine(&self) -> Option<&str> {
        self.engine_version()
    }
    fn identifier(&self) -> Option<&str> {
        self.global_cluster_identifier()
    }
    fn tags(&self) -> &[Tag] {
        self.tag_list()
    }
    async fn describe(rds: &Client, id: &str) -> Result<Option<Self>, ProviderError> {
        global_cluster::describe(rds, id).await
    }
    /// DescribeGlobalClusters answers for every region: each region lists
    /// the same ones.
    async fn list(rds: &Client) -> Result<Vec<Self>, ProviderError> {
        let pages = rds.describe_global_clusters().into_paginator();
        all_items(pages.items().send(), "rds:DescribeGlobalClusters").await
    }
}

#[async_trait::async_trait]
impl Status for DbInstance {
    fn state(&self) -> Option<&str> {
        self.db_instance_status()
    }
    fn engine(&self) -> Option<&str> {
        self.engine_version()
    }
    fn identifier(&self) -> Option<&str> {
        self.db_instance_identifier()
    }
    fn tags(&self) -> &[Tag] {
        self.tag_list()
    }
    async fn describe(rds: &Client, id: &str) -> Result<Option<Self>, ProviderError> {
        instance::describe(rds, id).await
    }
    async fn list(rds: &Client) -> Result<Vec<Self>, ProviderError> {
        let pages = rds.describe_db_instances().into_paginator();
        all_items(pages.items().send(), "rds:DescribeDBInstances").await
    }
}

/// Waits until `what` `id` (`cluster payment-dev-primary`) is `available`
/// and `settled` (nothing drctl changed still pending).
pub(crate) async fn wait_available<T: Status>(
    rds: &Client,
    what: &str,
    id: &str,
    limit: Duration,
    settled: impl Fn(&T) -> bool + Sync,
) -> Result<T, ProviderError> {
    wait_for(&format!("{what} {id} available"), limit, || async {
        Ok(match T::describe(rds, id).await? {
            Some(x) if x.state() == Some("available") && settled(&x) => Ok(x),
            Some(x) => Err(x.state().unwrap_or("unknown").to_owned()),
            None => Err("not found".to_owned()),
        })
    })
    .await
}

/// Waits (`what`) until `id` is `available` at engine version `version`
/// or later.
pub(crate) async fn wait_version<T: Status>(
    rds: &Client,
    id: &str,
    what: String,
    version: &str,
) -> Result<T, ProviderError> {
    wait_for(&what, RDS_WAIT, || async {
        Ok(match T::describe(rds, id).await? {
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

/// Waits until `what` `id` is no longer described.
pub(crate) async fn wait_deleted<T: Status>(
    rds: &Client,
    what: &str,
    id: &str,
    limit: Duration,
) -> Result<(), ProviderError> {
    wait_for(&format!("{what} {id} deleted"), limit, || async {
        Ok(match T::describe(rds, id).await? {
            None => Ok(()),
            Some(x) => Err(x.state().unwrap_or("unknown").to_owned()),
        })
    })
    .await
}

/// `id` when it exists and is not being deleted: what `find` adopts.
pub(crate) async fn live<T: Status>(
    rds: &Client,
    id: &str,
) -> Result<Option<String>, ProviderError> {
    let found = T::describe(rds, id).await?;
    Ok(found
        .filter(|x| x.state() != Some("deleting"))
        .map(|_| id.to_owned()))
}

/// `what` `id` before its delete: `None` when it is gone already. Unless
/// it is `deleting` already (a run stopped while it waited), it must be
/// this environment's ([`confirm_owned`]; `name` is the identifier its
/// recorded inputs give).
pub(crate) async fn owned<T: Status>(
    ctx: &OpContext,
    rds: &Client,
    what: &str,
    id: &str,
    name: &str,
) -> Result<Option<T>, ProviderError> {
    let Some(x) = T::describe(rds, id).await? else {
        return Ok(None);
    };
    if x.state() != Some("deleting") {
        confirm_owned(ctx, &format!("{what} {id}"), x.tags(), id, name)?;
    }
    Ok(Some(x))
}

/// The identifiers of the region's resources that are environment `env`'s
/// (by tag, or by the identifier drctl gives: `tags::in_env`), but those
/// being deleted.
pub(crate) async fn env_ids<T: Status>(
    rds: &Client,
    env: &str,
) -> Result<Vec<String>, ProviderError> {
    let items = T::list(rds).await?;
    Ok(items
        .iter()
        .filter(|x| x.state() != Some("deleting"))
        .filter_map(|x| {
            x.identifier()
                .filter(|id| in_env(env, &from_sdk(x.tags()), Some(id)))
                .map(str::to_owned)
        })
        .collect())
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
