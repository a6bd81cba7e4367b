//! Tags, once for every service: the `tags` input and drctl's identity
//! tags, the SDKs' tag structs, whose resource a tag set proves, and one
//! tag synchroniser (the diff between the `tags` inputs, or between what a
//! read saw and what is wanted, is worked out once, and each service SDK
//! says only how it adds and removes tags).

use std::collections::BTreeMap;

use async_trait::async_trait;
use drctl_core::{OpContext, ProviderError};

use crate::support::{TAG_ADDRESS, TAG_ENV, name_embeds_env, tag_changes};

/// A `tags` input: user tags, key to value (drctl's own as well where a
/// whole tag set is meant).
pub(crate) type Tags = BTreeMap<String, String>;

/// The user's tags plus drctl's identity tags, as a create writes them.
pub(crate) fn with_identity(ctx: &OpContext, tags: &Tags) -> Tags {
    let mut all = tags.clone();
    all.insert(TAG_ENV.into(), ctx.env.clone());
    all.insert(TAG_ADDRESS.into(), ctx.address.to_string());
    all
}

/// Tags read back, minus drctl's own: the `tags` input a read reports.
pub(crate) fn user_tags<K: Into<String>, V: Into<String>>(
    tags: impl IntoIterator<Item = (K, V)>,
) -> Tags {
    tags.into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .filter(|(k, _)| k != TAG_ENV && k != TAG_ADDRESS)
        .collect()
}

/// Whether a resource is environment `env`'s, as a list counts it: its
/// `drctl:env` tag says so or, without that tag (adopted by name), the
/// `name` drctl derives embeds the environment's (the proof
/// `support::confirm_owned` takes). `None`: only the tag counts.
pub(crate) fn in_env(env: &str, tags: &Tags, name: Option<&str>) -> bool {
    match tags.get(TAG_ENV) {
        Some(e) => e == env,
        None => name.is_some_and(|n| name_embeds_env(n, env)),
    }
}

/// Whether `tags` are the identity tags drctl's create for `ctx` wrote:
/// what a create may adopt as its own.
pub(crate) fn made_for(ctx: &OpContext, tags: &Tags) -> bool {
    tags.get(TAG_ENV) == Some(&ctx.env) && tags.get(TAG_ADDRESS) == Some(&ctx.address.to_string())
}

/// An SDK's tag struct: every service has its own, alike but for whether
/// the key and value are optional (and KMS's names for them).
pub(crate) trait SdkTag: Sized {
    /// `Vec<Self>`, or a `Result` of it where the SDK's builder checks
    /// required fields.
    type List;
    /// The key and value; `None` for a tag without a key, an empty value
    /// for one without a value.
    fn pair(&self) -> Option<(String, String)>;
    /// The SDK's tags of a map.
    fn list(tags: Tags) -> Self::List;
    /// [`SdkTag::list`] as a `Result` whichever the SDK's builder gives.
    fn checked(tags: Tags) -> Result<Vec<Self>, ProviderError>;
}

/// A map of an SDK's tags.
pub(crate) fn from_sdk<T: SdkTag>(tags: &[T]) -> Tags {
    tags.iter().filter_map(T::pair).collect()
}

/// An SDK's tags of a map (`to_sdk::<Tag>(tags)`).
pub(crate) fn to_sdk<T: SdkTag>(tags: Tags) -> T::List {
    T::list(tags)
}

/// [`to_sdk`] as a `Result` for every SDK: what [`arn_tag_api`] takes.
pub(crate) fn checked<T: SdkTag>(tags: Tags) -> Result<Vec<T>, ProviderError> {
    T::checked(tags)
}

/// A key and value as [`SdkTag::pair`] gives them, from getters that
/// return either `&str` or `Option<&str>`.
pub(crate) fn pair<'a>(
    key: impl Into<Option<&'a str>>,
    value: impl Into<Option<&'a str>>,
) -> Option<(String, String)> {
    Some((
        key.into()?.to_owned(),
        value.into().unwrap_or_default().to_owned(),
    ))
}

/// Implements [`SdkTag`] for an SDK's `Tag`: `sdk_tag!(Tag)` where key and
/// value are optional (the builder cannot fail);
/// `sdk_tag!(Tag, "iam", key, value)` where they are required (`$service`
/// prefixes the builder's error; `$key`, `$value` name the fields).
macro_rules! sdk_tag {
    ($ty:ty) => {
        impl SdkTag for $ty {
            type List = Vec<Self>;
            fn pair(&self) -> Option<(String, String)> {
                pair(self.key(), self.value())
            }
            fn list(tags: Tags) -> Vec<Self> {
                let tag = |(k, v): (String, String)| <$ty>::builder().key(k).value(v).build();
                tags.into_iter().map(tag).collect()
            }
            fn checked(tags: Tags) -> Result<Vec<Self>, ProviderError> {
                Ok(Self::list(tags))
            }
        }
    };
    ($ty:ty, $service:literal, $key:ident, $value:ident) => {
        impl SdkTag for $ty {
            type List = Result<Vec<Self>, ProviderError>;
            fn pair(&self) -> Option<(String, String)> {
                pair(self.$key(), self.$value())
            }
            fn list(tags: Tags) -> Self::List {
                let tag = |(k, v): (String, String)| <$ty>::builder().$key(k).$value(v).build();
                let built = |e: aws_smithy_types::error::operation::BuildError| {
                    ProviderError::new(concat!($service, ":Tag"), e.to_string())
                };
                tags.into_iter().map(|kv| tag(kv).map_err(built)).collect()
            }
            fn checked(tags: Tags) -> Result<Vec<Self>, ProviderError> {
                Self::list(tags)
            }
        }
    };
}

sdk_tag!(aws_sdk_ec2::types::Tag);
sdk_tag!(aws_sdk_ecs::types::Tag);
sdk_tag!(aws_sdk_rds::types::Tag);
sdk_tag!(aws_sdk_elasticloadbalancingv2::types::Tag);
sdk_tag!(aws_sdk_sfn::types::Tag);
sdk_tag!(aws_sdk_cloudwatch::types::Tag);
sdk_tag!(aws_sdk_secretsmanager::types::Tag);
sdk_tag!(aws_sdk_route53::types::Tag);
sdk_tag!(aws_sdk_iam::types::Tag, "iam", key, value);
sdk_tag!(aws_sdk_eventbridge::types::Tag, "events", key, value);
sdk_tag!(aws_sdk_sns::types::Tag, "sns", key, value);
sdk_tag!(aws_sdk_ssm::types::Tag, "ssm", key, value);
sdk_tag!(aws_sdk_dynamodb::types::Tag, "dynamodb", key, value);
sdk_tag!(aws_sdk_s3::types::Tag, "s3", key, value);
sdk_tag!(aws_sdk_acm::types::Tag, "acm", key, value);
sdk_tag!(aws_sdk_kms::types::Tag, "kms", tag_key, tag_value);

/// A service's tagging calls on one resource (`id`: an ARN, a name, a key
/// id, as the service's API takes it). Implemented once per SDK client,
/// keeping that API's shapes (KMS's `TagKey`/`TagValue`, ACM's key-only
/// removal tags).
#[async_trait]
pub(crate) trait TagApi: Sync {
    /// Adds `tags`, overwriting the values of keys already there.
    async fn tag(&self, id: &str, tags: BTreeMap<String, String>) -> Result<(), ProviderError>;
    /// Removes the tags with these `keys`.
    async fn untag(&self, id: &str, keys: Vec<String>) -> Result<(), ProviderError>;
}

/// Brings `id`'s tags from `have` to `want`: adds or changes what differs,
/// then removes what `want` lacks, calling each API only when there is
/// something to send.
pub(crate) async fn retag(
    api: &impl TagApi,
    id: &str,
    have: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let (set, remove) = tag_changes(have, want);
    apply(api, id, set, remove).await
}

/// Sends a tag change worked out by the caller: `set` then `remove`.
pub(crate) async fn apply(
    api: &impl TagApi,
    id: &str,
    set: BTreeMap<String, String>,
    remove: Vec<String>,
) -> Result<(), ProviderError> {
    if !set.is_empty() {
        api.tag(id, set).await?;
    }
    if !remove.is_empty() {
        api.untag(id, remove).await?;
    }
    Ok(())
}

/// Reads a resource's tags by its ARN.
#[async_trait]
pub(crate) trait ReadTags {
    /// Every tag of `arn`, drctl's included; `None` when it is gone.
    async fn read_tags(&self, arn: &str) -> Result<Option<Tags>, ProviderError>;
}

/// Implements [`TagApi`] for an SDK client whose TagResource and
/// UntagResource name the resource by `resource_arn` and take the keys as
/// `tag_keys` (SNS, SFN, DynamoDB, EventBridge, CloudWatch, ECS, API
/// Gateway). `$tags` turns the tags to set into the SDK's shape,
/// `Result<_, ProviderError>`; `$service` prefixes the operation names
/// errors carry (`sns:TagResource`). With `gone: CODES`, also
/// [`ReadTags`] through ListTagsForResource, which answers one of `CODES`
/// for a resource that is gone.
macro_rules! arn_tag_api {
    ($client:ty, $service:literal, $tags:expr, gone: $gone:expr) => {
        $crate::tags::arn_tag_api!($client, $service, $tags);

        #[async_trait::async_trait]
        impl $crate::tags::ReadTags for $client {
            async fn read_tags(
                &self,
                arn: &str,
            ) -> Result<Option<$crate::tags::Tags>, drctl_core::ProviderError> {
                let result = self.list_tags_for_resource().resource_arn(arn).send().await;
                let operation = concat!($service, ":ListTagsForResource");
                let out = $crate::support::found(result, $gone, operation)?;
                Ok(out.map(|out| $crate::tags::from_sdk(out.tags())))
            }
        }
    };
    ($client:ty, $service:literal, $tags:expr) => {
        #[async_trait::async_trait]
        impl $crate::tags::TagApi for $client {
            async fn tag(
                &self,
                arn: &str,
                set: std::collections::BTreeMap<String, String>,
            ) -> Result<(), drctl_core::ProviderError> {
                let tags = ($tags)(set)?;
                let call = self.tag_resource().resource_arn(arn).set_tags(Some(tags));
                $crate::support::sent(call.send().await, concat!($service, ":TagResource"))
            }

            async fn untag(
                &self,
                arn: &str,
                keys: Vec<String>,
            ) -> Result<(), drctl_core::ProviderError> {
                let call = self.untag_resource().resource_arn(arn);
                let call = call.set_tag_keys(Some(keys));
                $crate::support::sent(call.send().await, concat!($service, ":UntagResource"))
            }
        }
    };
}
pub(crate) use arn_tag_api;
