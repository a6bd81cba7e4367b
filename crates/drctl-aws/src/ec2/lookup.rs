//! The shapes every EC2 kind's find, read, delete and list share: find by
//! filters (the identity tags, mostly), describe by id with `*.NotFound`
//! as gone, describe before a delete to prove the resource this
//! environment's, and list what carries an environment's tag. Each kind
//! says once, with [`ec2_resource!`], which describe call lists it; the
//! helpers here do the rest.

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, Tag};
use drctl_core::{OpContext, ProviderError};

use crate::support::{has_code_in, the_one};

/// An EC2 resource as its describe call returns it.
#[async_trait]
pub(crate) trait Ec2Resource: Sized + Send {
    /// The codes the describe call answers for an id that does not exist.
    const NOT_FOUND: &'static [&'static str];
    /// One describe call: the resources with `ids`, or those `filters`
    /// select (no pagination: these calls answer every match at once
    /// when no page size is given).
    async fn describe(
        ec2: &Client,
        ids: Option<Vec<String>>,
        filters: Option<Vec<Filter>>,
    ) -> Result<Vec<Self>, ProviderError>;
    /// Every resource `filters` select, over all pages: one describe
    /// call for those AWS does not paginate (DescribeAddresses).
    async fn list(ec2: &Client, filters: Vec<Filter>) -> Result<Vec<Self>, ProviderError> {
        Self::describe(ec2, None, Some(filters)).await
    }
    fn resource_id(&self) -> Option<&str>;
    fn resource_tags(&self) -> &[Tag];
}

/// Implements [`Ec2Resource`] for the SDK type `$ty`, listed by
/// `ec2.$describe().$ids(..).$filters(..)` in the output's `$list`, with
/// the id `$id()`; `paged` when the describe call has a paginator.
macro_rules! ec2_resource {
    ($ty:ty, $op:literal, $not_found:expr, $describe:ident, $ids:ident, $filters:ident, $list:ident, $id:ident $(, $paged:ident)?) => {
        #[async_trait::async_trait]
        impl $crate::ec2::lookup::Ec2Resource for $ty {
            const NOT_FOUND: &'static [&'static str] = $not_found;

            async fn describe(
                ec2: &aws_sdk_ec2::Client,
                ids: Option<Vec<String>>,
                filters: Option<Vec<aws_sdk_ec2::types::Filter>>,
            ) -> Result<Vec<Self>, drctl_core::ProviderError> {
                let call = ec2.$describe().$ids(ids).$filters(filters);
                let out = call
                    .send()
                    .await
                    .map_err(|e| $crate::support::api_error($op, e))?;
                Ok(out.$list.unwrap_or_default())
            }

            $(
            #[doc = concat!("Over every page (", stringify!($paged), ").")]
            async fn list(
                ec2: &aws_sdk_ec2::Client,
                filters: Vec<aws_sdk_ec2::types::Filter>,
            ) -> Result<Vec<Self>, drctl_core::ProviderError> {
                let call = ec2.$describe().$filters(Some(filters));
                let pages: Vec<_> = call.into_paginator().send().collect().await;
                let mut all = Vec::new();
                for page in pages {
                    let page = page.map_err(|e| $crate::support::api_error($op, e))?;
                    all.extend(page.$list.unwrap_or_default());
                }
                Ok(all)
            }
            )?

            fn resource_id(&self) -> Option<&str> {
                self.$id()
            }

            fn resource_tags(&self) -> &[aws_sdk_ec2::types::Tag] {
                self.tags()
            }
        }
    };
}
pub(crate) use ec2_resource;

/// The resource with `id`; `None` when AWS answers it does not exist or
/// lists nothing.
pub(crate) async fn describe_id<R: Ec2Resource>(
    ec2: &Client,
    id: &str,
) -> Result<Option<R>, ProviderError> {
    match R::describe(ec2, Some(vec![id.to_owned()]), None).await {
        Ok(found) => Ok(found.into_iter().next()),
        Err(e) if has_code_in(&e, R::NOT_FOUND) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The id of the one resource `filters` select and `keep` accepts; an
/// error naming every id when there are several
/// ([`the_one`](crate::support::the_one)).
pub(crate) async fn find_one<R: Ec2Resource>(
    ec2: &Client,
    ctx: &OpContext,
    filters: Vec<Filter>,
    keep: impl Fn(&R) -> bool,
) -> Result<Option<String>, ProviderError> {
    let found = R::describe(ec2, None, Some(filters)).await?;
    let ids = found.iter().filter(|r| keep(r)).filter_map(R::resource_id);
    the_one(ctx, ids.map(str::to_owned))
}

/// The id of the one resource carrying this address's identity tags.
pub(crate) async fn find_tagged<R: Ec2Resource>(
    ec2: &Client,
    ctx: &OpContext,
) -> Result<Option<String>, ProviderError> {
    find_one::<R>(ec2, ctx, super::identity_filters(ctx), |_| true).await
}

/// The resource with `id`, before its delete: `None` when it is gone
/// already, an error (`NotOwned`) when its tags do not prove it this
/// environment's ([`super::confirm_owned`]). `what` names it in that error
/// (`VPC`, `security group`).
pub(crate) async fn owned<R: Ec2Resource>(
    ec2: &Client,
    ctx: &OpContext,
    id: &str,
    what: &str,
) -> Result<Option<R>, ProviderError> {
    let Some(resource) = describe_id::<R>(ec2, id).await? else {
        return Ok(None);
    };
    super::confirm_owned(ctx, &format!("{what} {id}"), resource.resource_tags())?;
    Ok(Some(resource))
}

/// Every resource of environment `env` (its `drctl:env` tag). The tags
/// are checked again here: not every EC2 endpoint applies tag filters to
/// every describe.
pub(crate) async fn env_resources<R: Ec2Resource>(
    ec2: &Client,
    env: &str,
) -> Result<Vec<R>, ProviderError> {
    let by_env = Filter::builder()
        .name(format!("tag:{}", crate::support::TAG_ENV))
        .values(env)
        .build();
    let mut found = R::list(ec2, vec![by_env]).await?;
    found.retain(|r| crate::tags::in_env(env, &crate::tags::from_sdk(r.resource_tags()), None));
    Ok(found)
}

/// The ids of every resource of environment `env` that `keep` accepts
/// (not deleted, say).
pub(crate) async fn list_env<R: Ec2Resource>(
    ec2: &Client,
    env: &str,
    keep: impl Fn(&R) -> bool,
) -> Result<Vec<String>, ProviderError> {
    let found = env_resources::<R>(ec2, env).await?;
    let kept = found.iter().filter(|r| keep(r));
    Ok(kept.filter_map(R::resource_id).map(str::to_owned).collect())
}

/// Deletes the resource with `id` once its tags prove it this
/// environment's ([`owned`]): `delete` (the call, whose `*.NotFound` means
/// gone already) is not sent for one already gone.
pub(crate) async fn delete_owned<R: Ec2Resource>(
    ec2: &Client,
    ctx: &OpContext,
    id: &str,
    what: &str,
    delete: impl std::future::Future<Output = Result<(), ProviderError>>,
) -> Result<(), ProviderError> {
    match owned::<R>(ec2, ctx, id, what).await? {
        None => Ok(()),
        Some(_) => delete.await,
    }
}
