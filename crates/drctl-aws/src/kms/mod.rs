//! KMS kinds: a region's customer-managed key and its alias.

pub mod alias;
pub mod key;

use std::collections::BTreeMap;

use drctl_core::OpContext;

use crate::kind::{Registration, kind};
use crate::support::{TAG_ADDRESS, TAG_ENV};

pub(crate) static KINDS: &[Registration] = &[kind!(key, Key), kind!(alias, Alias)];

/// KMS answers these for a key or alias that does not exist.
pub(crate) const NOT_FOUND: &[&str] = &["NotFoundException"];

// Typed `tags` inputs for every kind that takes them (generic: KMS, ACM
// and Route 53 use them; `support::all_tags` and `observed_tags` are their
// untyped forms).

/// The user's `tags` plus drctl's identity tags, as written to AWS.
pub(crate) fn identity_tags(
    ctx: &OpContext,
    tags: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut all = tags.clone();
    all.insert(TAG_ENV.into(), ctx.env.clone());
    all.insert(TAG_ADDRESS.into(), ctx.address.to_string());
    all
}

/// Tags read back from AWS, minus drctl's own, as the `tags` input.
pub(crate) fn user_tags_of(
    tags: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<String, String> {
    tags.into_iter()
        .filter(|(k, _)| k != TAG_ENV && k != TAG_ADDRESS)
        .collect()
}

/// The value of `key` among `tags`.
pub(crate) fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}
