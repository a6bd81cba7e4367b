//! Elastic Load Balancing v2 kinds: an application load balancer, its
//! target group and listener.

pub mod listener;
pub mod load_balancer;
pub mod target_group;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::Tag;
use drctl_core::{OpContext, ProviderError};

use crate::kind::{Registration, kind};
use crate::support::{TAG_ADDRESS, sent};
use crate::tags::{TagApi, Tags, from_sdk, in_env, made_for, to_sdk};

pub(crate) static KINDS: &[Registration] = &[
    kind!(load_balancer, LoadBalancer),
    kind!(target_group, TargetGroup),
    kind!(listener, Listener),
];

/// How a load balancer or a target group is described: by name or by
/// ARN, one at a time, or every one of the region.
pub(crate) enum Key<'a> {
    Name(&'a str),
    Arn(&'a str),
}

/// A load balancer or a target group as its Describe call answers. Both
/// are named, found by name and this address's identity tags, and listed
/// by tags (or, untagged, by name) for an environment.
#[async_trait::async_trait]
pub(crate) trait Described: Sized + Send + Sync {
    fn arn(&self) -> Option<&str>;
    fn name(&self) -> Option<&str>;
    /// The one `key` names; `None` when there is none.
    async fn describe(client: &Client, key: Key<'_>) -> Result<Option<Self>, ProviderError>;
    /// Every one of the region, over all pages.
    async fn all(client: &Client) -> Result<Vec<Self>, ProviderError>;
}

/// `find` of a named kind: the one named `name`, when it is this
/// address's.
pub(crate) async fn find_named<T: Described>(
    client: &Client,
    ctx: &OpContext,
    name: &str,
) -> Result<Option<String>, ProviderError> {
    let Some(found) = T::describe(client, Key::Name(name)).await? else {
        return Ok(None);
    };
    if_ours(client, ctx, found.arn()).await
}

/// `list` of a named kind: the ARNs of environment `env`'s (`of_env`).
pub(crate) async fn list_named<T: Described>(
    client: &Client,
    env: &str,
) -> Result<Vec<String>, ProviderError> {
    let all = T::all(client).await?;
    of_env(client, env, all.iter().map(|r| (r.arn(), r.name()))).await
}

/// `arn`, when its tags carry this address's identity: what `find` may
/// adopt. `None` for a resource drctl made for another, or one gone.
pub(crate) async fn if_ours(
    client: &Client,
    ctx: &OpContext,
    arn: Option<&str>,
) -> Result<Option<String>, ProviderError> {
    let arn = arn.unwrap_or_default().to_owned();
    let ours = tags_of(client, &arn)
        .await?
        .is_some_and(|tags| made_for(ctx, &tags));
    Ok(ours.then_some(arn))
}

/// What DescribeTags answers for a resource that is gone.
const GONE: &[&str] = &[
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
    "ListenerNotFound",
];

/// The tags of `arn`; `None` when the resource is gone.
pub(crate) async fn tags_of(client: &Client, arn: &str) -> Result<Option<Tags>, ProviderError> {
    let result = client.describe_tags().resource_arns(arn).send().await;
    let Some(out) = crate::support::found(result, GONE, "elasticloadbalancing:DescribeTags")?
    else {
        return Ok(None);
    };
    Ok(out.tag_descriptions().first().map(|d| from_sdk(d.tags())))
}

/// Of `named` (ARN, name), the ARNs of environment `env`'s: tagged for
/// it, or, untagged, named for it (`ecs::listed`). DescribeTags takes 20
/// ARNs a call and fails whole when one is gone: that chunk is asked ARN
/// by ARN, leaving out what is gone.
pub(crate) async fn of_env<'a>(
    client: &Client,
    env: &str,
    named: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> Result<Vec<String>, ProviderError> {
    let named: Vec<(&str, &str)> = named
        .into_iter()
        .filter_map(|(arn, name)| Some((arn?, name.unwrap_or_default())))
        .collect();
    let mut tagged: Vec<(String, Tags)> = Vec::new();
    for chunk in named.chunks(20) {
        let arns = chunk.iter().map(|(arn, _)| arn.to_string()).collect();
        let call = client.describe_tags().set_resource_arns(Some(arns));
        match crate::support::found(call.send().await, GONE, "elasticloadbalancing:DescribeTags")? {
            Some(out) => tagged.extend(out.tag_descriptions().iter().map(|d| {
                let tags = from_sdk(d.tags());
                (d.resource_arn().unwrap_or_default().to_owned(), tags)
            })),
            None => {
                for (arn, _) in chunk {
                    if let Some(tags) = tags_of(client, arn).await? {
                        tagged.push((arn.to_string(), tags));
                    }
                }
            }
        }
    }
    Ok(tagged
        .into_iter()
        .filter(|(arn, tags)| {
            let name = named.iter().find(|(a, _)| a == arn).map(|(_, n)| *n);
            in_env(env, tags, name)
        })
        .map(|(arn, _)| arn)
        .collect())
}

/// Refuses the delete of `what` (`arn`) unless its tags show it is this
/// environment's (`support::confirm_owned`); `false` when it is gone.
pub(crate) async fn confirm_owned(
    client: &Client,
    ctx: &OpContext,
    what: &str,
    arn: &str,
) -> Result<bool, ProviderError> {
    let Some(tags) = tags_of(client, arn).await? else {
        return Ok(false);
    };
    crate::support::confirm_owned(ctx, "delete", &format!("{what} {arn}"), &tags, None)?;
    Ok(true)
}

/// Refuses a create when `arn`, the resource of its name (or port)
/// that exists, is not one drctl made for this address: `what` and `name`
/// name it (`a load balancer named`, `web`), `fix` says how to free the
/// name given the ARN.
pub(crate) async fn refuse_taken(
    client: &Client,
    ctx: &OpContext,
    (what, name): (&str, &str),
    arn: Option<&str>,
    fix: impl FnOnce(&str) -> String,
) -> Result<(), ProviderError> {
    let Some(arn) = arn else {
        return Ok(());
    };
    let tags = tags_of(client, arn).await?.unwrap_or_default();
    if made_for(ctx, &tags) {
        return Ok(());
    }
    Err(ProviderError::new(
        format!("create {}", ctx.address),
        format!(
            "{what} {name} already exists in {} and drctl did not create it for this address (its {TAG_ADDRESS} tag: {}); {}",
            ctx.region,
            tags.get(TAG_ADDRESS).map_or("none", String::as_str),
            fix(arn),
        ),
    )
    .with_code("AlreadyExists"))
}

/// AddTags / RemoveTags on one resource's ARN.
#[async_trait::async_trait]
impl TagApi for Client {
    async fn tag(&self, arn: &str, set: Tags) -> Result<(), ProviderError> {
        let call = self
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(to_sdk::<Tag>(set)));
        sent(call.send().await, "elasticloadbalancing:AddTags")
    }

    async fn untag(&self, arn: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        let call = self
            .remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(keys));
        sent(call.send().await, "elasticloadbalancing:RemoveTags")
    }
}

/// The part of an ALB or target group ARN after `loadbalancer/` or
/// `:`: `app/<name>/<id>`, `targetgroup/<name>/<id>`, the CloudWatch
/// dimension values of AWS/ApplicationELB (ELB User Guide, "CloudWatch
/// metrics for your Application Load Balancer").
pub(crate) fn arn_suffix(arn: &str) -> String {
    match arn.split_once(":loadbalancer/") {
        Some((_, rest)) => rest.to_owned(),
        None => arn
            .rsplit_once(':')
            .map_or(arn, |(_, rest)| rest)
            .to_owned(),
    }
}

/// A list of ids from an input, sorted; an error naming it otherwise.
pub(crate) fn id_list(
    ctx: &OpContext,
    key: &str,
    list: &[String],
    least: usize,
) -> Result<Vec<String>, ProviderError> {
    if list.len() < least {
        return Err(crate::support::invalid(
            ctx,
            format!("input `{key}` must be a list of at least {least} id(s)"),
        ));
    }
    let mut l = list.to_vec();
    l.sort();
    Ok(l)
}
