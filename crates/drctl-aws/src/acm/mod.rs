//! ACM (AWS Certificate Manager) kinds: a DNS-validated certificate, and
//! the wait for it to be issued once its validation record exists.

pub mod certificate;
pub mod certificate_validation;

use aws_sdk_acm::Client;
use aws_sdk_acm::types::{CertificateDetail, CertificateStatus};
use drctl_core::ProviderError;

use crate::kind::{Registration, kind};
use crate::support::{all_items, found};

pub(crate) static KINDS: &[Registration] = &[
    kind!(certificate, Certificate),
    kind!(certificate_validation, CertificateValidation),
];

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

/// The certificate's tags, `None` when it is gone.
pub(crate) async fn tags_of(
    client: &Client,
    arn: &str,
) -> Result<Option<Vec<(String, String)>>, ProviderError> {
    let result = client
        .list_tags_for_certificate()
        .certificate_arn(arn)
        .send()
        .await;
    Ok(
        found(result, NOT_FOUND, "acm:ListTagsForCertificate")?.map(|out| {
            out.tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
                .collect()
        }),
    )
}

/// The ARNs of the region's certificates in one of `statuses`, for
/// `domain` (any when `None`), whose tags `wanted` accepts. One deleted
/// meanwhile is left out.
pub(crate) async fn certificates_tagged(
    client: &Client,
    statuses: &[CertificateStatus],
    domain: Option<&str>,
    wanted: impl Fn(&[(String, String)]) -> bool,
) -> Result<Vec<String>, ProviderError> {
    let list = client
        .list_certificates()
        .set_certificate_statuses(Some(statuses.to_vec()));
    let summaries = all_items(list.into_paginator().items().send(), "acm:ListCertificates").await?;
    let mut arns = Vec::new();
    for c in summaries {
        let Some(arn) = c.certificate_arn() else {
            continue;
        };
        if domain.is_some_and(|d| !c.domain_name().is_some_and(|n| n.eq_ignore_ascii_case(d))) {
            continue;
        }
        if tags_of(client, arn).await?.is_some_and(|t| wanted(&t)) {
            arns.push(arn.to_owned());
        }
    }
    Ok(arns)
}
