//! IAM kinds (global service).

pub mod role;

use std::sync::Arc;

use drctl_core::provider::KindSchema;
use drctl_core::{ProviderError, Providers};
use serde_json::Value as Json;

use crate::clients::Clients;

pub(crate) static KINDS: &[&KindSchema] = &[&role::SCHEMA];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(role::Role(c.clone())));
}

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
