//! One tag synchroniser for every service: the diff between the `tags`
//! inputs (or between what a read saw and what is wanted) is worked out
//! once, and each service SDK says only how it adds and removes tags.

use std::collections::BTreeMap;

use async_trait::async_trait;
use drctl_core::ProviderError;

use crate::support::tag_changes;

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

/// Implements [`TagApi`] for an SDK client whose TagResource and
/// UntagResource name the resource by `resource_arn` and take the keys as
/// `tag_keys` (SNS, SFN, DynamoDB, EventBridge, CloudWatch, ECS, API
/// Gateway). `$tags` turns the tags to set into the SDK's shape,
/// `Result<_, ProviderError>`; `$service` prefixes the operation names
/// errors carry (`sns:TagResource`).
macro_rules! arn_tag_api {
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
