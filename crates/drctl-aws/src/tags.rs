//! One tag synchroniser for every service: the diff between the `tags`
//! inputs (or between what a read saw and what is wanted) is worked out
//! once, and each service SDK says only how it adds and removes tags.

use std::collections::BTreeMap;

use async_trait::async_trait;
use drctl_core::{Attributes, ProviderError};

use crate::support::{tag_changes, user_tags};

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

/// Brings `id`'s user tags from the `tags` input of `old` to that of
/// `new`; drctl's own `drctl:*` tags are in neither, so stay as they are.
pub(crate) async fn sync_tags(
    api: &impl TagApi,
    id: &str,
    old: &Attributes,
    new: &Attributes,
) -> Result<(), ProviderError> {
    retag(api, id, &user_tags(old), &user_tags(new)).await
}
