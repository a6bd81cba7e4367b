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

// A generic helper for the typed kinds of this helper's services (IAM, S3,
// Secrets Manager); it belongs in `support` once the parallel conversions
// are merged.

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
