//! KMS kinds: a region's customer-managed key and its alias.

pub mod alias;
pub mod key;

use crate::kind::{Registration, kind};

pub(crate) static KINDS: &[Registration] = &[kind!(key, Key), kind!(alias, Alias)];

/// KMS answers these for a key or alias that does not exist.
pub(crate) const NOT_FOUND: &[&str] = &["NotFoundException"];

/// The value of `key` among `tags` (KMS, ACM and Route 53 keep tags as
/// the list AWS gives).
pub(crate) fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}
