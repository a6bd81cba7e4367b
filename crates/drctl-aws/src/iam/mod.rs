//! IAM kinds (global service).

pub mod role;

use drctl_core::ProviderError;
use serde_json::Value as Json;

use crate::kind::{Registration, kind};

pub(crate) static KINDS: &[Registration] = &[kind!(role, Role)];

/// IAM returns policy documents URL-encoded (RFC 3986), e.g. GetRole's
/// `AssumeRolePolicyDocument` and GetRolePolicy's `PolicyDocument`.
fn percent_decode(s: &str) -> Option<String> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            out.push((hi << 4) | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A policy document as IAM returns it, as a JSON value.
pub(crate) fn policy_json(operation: &str, encoded: &str) -> Result<Json, ProviderError> {
    let text = percent_decode(encoded).ok_or_else(|| {
        ProviderError::new(operation, "policy document is not valid URL encoding")
    })?;
    serde_json::from_str(&text)
        .map_err(|e| ProviderError::new(operation, format!("policy document is not JSON: {e}")))
}

// Generic helpers for the typed kinds of this helper's services (IAM, S3,
// SNS, EventBridge, CloudWatch, Lambda, Step Functions, Secrets Manager);
// they belong in `support` once the parallel conversions are merged.

/// User tags plus drctl's identity tags, as written to AWS.
pub(crate) fn tagged(
    ctx: &drctl_core::OpContext,
    tags: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    let mut all = tags.clone();
    all.insert(crate::support::TAG_ENV.into(), ctx.env.clone());
    all.insert(crate::support::TAG_ADDRESS.into(), ctx.address.to_string());
    all
}

/// Tags read back from AWS, minus drctl's own: the `tags` input.
pub(crate) fn user_tags(
    mut tags: std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    tags.retain(|k, _| k != crate::support::TAG_ENV && k != crate::support::TAG_ADDRESS);
    tags
}

/// Whether a resource with these tags and this name is the environment
/// `env`'s, as `support::confirm_owned` proves it: its `drctl:env` tag, or
/// without one a name drctl derives for the environment.
pub(crate) fn claimed(
    tags: &std::collections::BTreeMap<String, String>,
    name: &str,
    env: &str,
) -> bool {
    match tags.get(crate::support::TAG_ENV) {
        Some(owner) => owner == env,
        None => crate::support::name_embeds_env(name, env),
    }
}

/// Deserialises a field that is there, `null` included, as `Some`: with
/// `#[serde(default)]` an absent field is `None`, so a read can tell "not
/// asked for" from "asked for, and AWS has none" (`null`).
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}
