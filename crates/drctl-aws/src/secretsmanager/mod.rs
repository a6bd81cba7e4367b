//! Secrets Manager kinds: secrets whose value drctl generates and never
//! reads back or records.

pub mod secret;

use drctl_core::ProviderError;

use crate::clients::Clients;
use crate::kind::{Registration, kind};
use crate::support::api_error;

pub(crate) static KINDS: &[Registration] = &[kind!(secret, Secret)];

/// The `password` member of the JSON secret at `arn`, for a call that must
/// pass it on (CreateDBCluster's MasterUserPassword). The caller sends it
/// and drops it: it never reaches inputs, outputs, state or logs, and no
/// error message carries any part of the value.
pub(crate) async fn password(clients: &Clients, arn: &str) -> Result<String, ProviderError> {
    const OP: &str = "secretsmanager:GetSecretValue";
    // arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX
    let region = arn
        .split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            ProviderError::new(OP, format!("`{arn}` is not a Secrets Manager secret ARN"))
                .with_code("InvalidInput")
        })?;
    let out = clients
        .secretsmanager(region)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| api_error(OP, e))?;
    let doc: Option<serde_json::Value> = out
        .secret_string()
        .and_then(|s| serde_json::from_str(s).ok());
    doc.as_ref()
        .and_then(|d| d.get("password"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ProviderError::new(
                OP,
                format!("secret {arn} is not a JSON document with a string `password` member"),
            )
            .with_code("InvalidSecretValue")
        })
}
