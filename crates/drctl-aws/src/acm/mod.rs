//! ACM (AWS Certificate Manager) kinds: a DNS-validated certificate, and
//! the wait for it to be issued once its validation record exists.

pub mod certificate;
pub mod certificate_validation;

use std::sync::Arc;

use aws_sdk_acm::Client;
use aws_sdk_acm::types::CertificateDetail;
use drctl_core::provider::KindSchema;
use drctl_core::{ProviderError, Providers};

use crate::clients::Clients;
use crate::support::found;

pub(crate) static KINDS: &[&KindSchema] = &[&certificate::SCHEMA, &certificate_validation::SCHEMA];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(certificate::Certificate(c.clone())));
    providers.register(Arc::new(certificate_validation::CertificateValidation(
        c.clone(),
    )));
}

/// ACM reports a certificate that does not exist (or an ARN of another
/// region or account) with this code.
pub(crate) const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

/// The certificate's details, or `None` when it is gone.
pub(crate) async fn describe(
    client: &Client,
    arn: &str,
) -> Result<Option<CertificateDetail>, ProviderError> {
    let result = client
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await;
    Ok(found(result, NOT_FOUND, "acm:DescribeCertificate")?.and_then(|o| o.certificate))
}

/// The DNS validation record ACM asks for the certificate's own domain
/// name: `(name, type, value)`. ACM adds it to DescribeCertificate's
/// DomainValidationOptions some seconds after RequestCertificate.
pub(crate) fn validation_record(detail: &CertificateDetail) -> Option<(String, String, String)> {
    let domain = detail.domain_name()?;
    detail
        .domain_validation_options()
        .iter()
        .find(|o| o.domain_name().eq_ignore_ascii_case(domain))
        .and_then(|o| o.resource_record())
        .map(|r| {
            (
                bare(r.name()),
                r.r#type().as_str().to_owned(),
                bare(r.value()),
            )
        })
}

/// A DNS name as ACM returns it (fully qualified, trailing dot) in the
/// form Route 53 inputs use.
pub(crate) fn bare(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}
