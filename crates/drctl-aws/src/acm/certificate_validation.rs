//! `acm.certificate_validation`: waits until a DNS-validated certificate
//! is issued, once its validation record exists (like Terraform's
//! `aws_acm_certificate_validation`); creates nothing in AWS. Its id is the
//! certificate ARN; its output `certificate_arn` is what users of the
//! certificate reference, so that they come after the wait.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::types::CertificateStatus;
use drctl_core::{Applied, Attributes, KindSchema, Observed, OpContext, Provider, ProviderError};
use serde_json::{Value as Json, json};

use super::{bare, describe, validation_record};
use crate::clients::Clients;
use crate::support::{attrs, invalid, req_str, wait_for};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "acm.certificate_validation",
    force_new: &["certificate_arn", "validation_record_fqdns"],
    outputs: &["certificate_arn"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
};

pub struct CertificateValidation(pub(crate) Arc<Clients>);

/// How long ACM may take to see the record and issue the certificate: it
/// checks DNS for up to 72 hours, but with the record in a Route 53 zone
/// delegated to, it normally issues within minutes (Terraform waits 75).
const ISSUE_LIMIT: Duration = Duration::from_secs(75 * 60);

fn outputs(arn: &str) -> Attributes {
    attrs([("certificate_arn", json!(arn))])
}

fn fqdns(ctx: &OpContext, inputs: &Attributes) -> Result<Vec<String>, ProviderError> {
    inputs
        .get("validation_record_fqdns")
        .and_then(Json::as_array)
        .and_then(|a| a.iter().map(|v| v.as_str().map(bare)).collect())
        .ok_or_else(|| {
            invalid(
                ctx,
                "input `validation_record_fqdns` must be a list of strings",
            )
        })
}

impl CertificateValidation {
    /// The certificate's status, `None` when it is gone.
    async fn status(
        &self,
        ctx: &OpContext,
        arn: &str,
    ) -> Result<Option<(CertificateStatus, Option<String>)>, ProviderError> {
        let detail = describe(&self.0.acm(&ctx.region), arn).await?;
        Ok(detail.map(|d| {
            (
                d.status()
                    .cloned()
                    .unwrap_or(CertificateStatus::PendingValidation),
                validation_record(&d).map(|r| r.0),
            )
        }))
    }
}

#[async_trait]
impl Provider for CertificateValidation {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let arn = req_str(ctx, inputs, "certificate_arn")?;
        let records = fqdns(ctx, inputs)?;
        let what = format!("certificate {arn} to be issued");
        wait_for(&what, ISSUE_LIMIT, || async {
            let Some((status, record)) = self.status(ctx, arn).await? else {
                return Err(ProviderError::new(
                    "acm:DescribeCertificate",
                    format!("certificate {arn} does not exist"),
                )
                .with_code("ResourceNotFoundException"));
            };
            // A record the inputs do not name would never be created:
            // waiting for it would only time out (the same domain name's
            // record is the same in every region of an account; a
            // different one means the blueprint's assumption broke).
            if let Some(name) = &record
                && !records.contains(name)
            {
                return Err(invalid(
                    ctx,
                    format!(
                        "certificate {arn} is validated by the DNS record {name}, which is not among the validation records given ({})",
                        records.join(", ")
                    ),
                ));
            }
            match status {
                CertificateStatus::Issued => Ok(Ok(())),
                CertificateStatus::PendingValidation => Ok(Err("PENDING_VALIDATION".to_owned())),
                other => Err(ProviderError::new(
                    format!("wait for {what}"),
                    format!(
                        "the certificate is {}: it will not be issued; `drctl apply` replaces it",
                        other.as_str()
                    ),
                )
                .with_code("CertificateNotIssued")),
            }
        })
        .await?;
        Ok(Applied {
            id: arn.to_owned(),
            outputs: outputs(arn),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        // Only an issued certificate is validated: anything else makes
        // the wait run again.
        match self.status(ctx, id).await? {
            Some((CertificateStatus::Issued, _)) => Ok(Some(Observed {
                inputs: prior.clone(),
                outputs: outputs(id),
            })),
            _ => Ok(None),
        }
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
        _inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        // Every input forces a new wait.
        Ok(outputs(id))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let arn = req_str(ctx, inputs, "certificate_arn")?;
        Ok(match self.status(ctx, arn).await? {
            Some((CertificateStatus::Issued, _)) => Some(arn.to_owned()),
            _ => None,
        })
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        _id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        // Nothing in AWS: the certificate is the certificate's to delete.
        Ok(())
    }
}
