//! `acm.certificate_validation`: waits until a DNS-validated certificate
//! is issued, once its validation record exists (like Terraform's
//! `aws_acm_certificate_validation`); creates nothing in AWS. Its id is the
//! certificate ARN; its output `certificate_arn` is what users of the
//! certificate reference, so that they come after the wait.
//!
//! ACM reads the record through public DNS, which reaches the hosted zone
//! holding it only through the zone's delegation (ACM User Guide, "DNS
//! validation"). The optional `dns` input describes that zone (`zone`,
//! `zone_id`, `name_servers`, and `parent_zone`/`parent_zone_id` when drctl
//! delegates it from a parent zone of the account): the wait names what
//! public DNS needs (the name servers to set at the registrar, when no
//! parent zone is in the account) in every progress report and in its
//! timeout error, instead of timing out silently.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::types::CertificateStatus;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::{bare, certificates_tagged, describe, validation_record};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::kms::tag;
use crate::route53::delegation::{validation_advice, validation_hint};
use crate::support::{TAG_ENV, attrs, invalid, wait_for};

pub static SCHEMA: KindSchema = KindSchema::new(
    "acm.certificate_validation",
    Latency {
        create: 240,
        update: 0,
        delete: 0,
        basis: "DNS validation: minutes once the CNAME resolves (estimate; TF 75 min)",
    },
)
.force_new(&["certificate_arn", "validation_record_fqdns"])
.outputs(&["certificate_arn"]);

pub struct CertificateValidation(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    certificate_arn: String,
    /// The validation records' names (trailing dot and case aside).
    validation_record_fqdns: Vec<String>,
    /// The hosted zone holding the records, for the wait's advice:
    /// `{"zone", "zone_id", "name_servers", "parent_zone",
    /// "parent_zone_id"}` (see `route53::delegation::validation_advice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dns: Option<Json>,
}

/// How long ACM may take to see the record and issue the certificate: it
/// checks DNS for up to 72 hours, but with the record in a Route 53 zone
/// delegated to, it normally issues within minutes (Terraform waits 75).
const ISSUE_LIMIT: Duration = Duration::from_secs(75 * 60);

/// The wait's timeout error, `timeout`, ending with `advice`: what public
/// DNS needs for ACM to find the record.
fn timed_out(arn: &str, timeout: &ProviderError, advice: &str) -> ProviderError {
    ProviderError::new(
        format!("wait for certificate {arn} to be issued"),
        format!(
            "{}: ACM found no validation record through public DNS: {advice}; then run `drctl apply` again (ACM keeps looking for 72 hours after the request)",
            timeout.message
        ),
    )
    .with_code("WaiterTimeout")
}

fn outputs(arn: &str) -> Attributes {
    attrs([("certificate_arn", json!(arn))])
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
impl Kind for CertificateValidation {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let arn = inputs.certificate_arn.as_str();
        let records: Vec<String> = inputs
            .validation_record_fqdns
            .iter()
            .map(|f| bare(f))
            .collect();
        let advice = inputs.dns.as_ref().and_then(validation_advice);
        let what = match inputs.dns.as_ref().and_then(validation_hint) {
            Some(hint) => format!("certificate {arn} to be issued ({hint})"),
            None => format!("certificate {arn} to be issued"),
        };
        let waited = wait_for(&what, ISSUE_LIMIT, || async {
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
        .await;
        // The timeout ends with what to do, not only with the state.
        match (waited, &advice) {
            (Err(e), Some(advice)) if e.code.as_deref() == Some("WaiterTimeout") => {
                return Err(timed_out(arn, &e, advice));
            }
            (waited, _) => waited?,
        }
        Ok(Applied {
            id: arn.to_owned(),
            outputs: outputs(arn),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        // Only an issued certificate is validated: anything else makes
        // the wait run again.
        match self.status(ctx, id).await? {
            Some((CertificateStatus::Issued, _)) => Ok(Some(Found {
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
        _prior: &Inputs,
        _inputs: &Inputs,
    ) -> Updated {
        // Every input forces a new wait.
        Ok(outputs(id))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let arn = inputs.certificate_arn.as_str();
        Ok(match self.status(ctx, arn).await? {
            Some((CertificateStatus::Issued, _)) => Some(arn.to_owned()),
            _ => None,
        })
    }

    async fn delete(&self, _ctx: &OpContext, _id: &str, _inputs: &Inputs) -> Done {
        // Nothing in AWS: the certificate is the certificate's to delete.
        Ok(())
    }

    /// A validation is its certificate issued: the environment's issued
    /// certificates (by their `drctl:env` tag), as the ids of their
    /// validations.
    async fn list(&self, scope: &ListScope) -> Listed {
        certificates_tagged(
            &self.0.acm(&scope.region),
            &[CertificateStatus::Issued],
            None,
            |tags| tag(tags, TAG_ENV) == Some(scope.env.as_str()),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a parent zone in the account, the wait's timeout ends with
    /// the name servers to set at the registrar.
    #[test]
    fn the_timeout_ends_with_the_name_servers_to_set_at_the_registrar() {
        let dns = json!({
            "zone": "payment-dev.example.com",
            "zone_id": "Z1",
            "name_servers": ["ns-1.awsdns-00.com", "ns-513.awsdns-00.net"],
            "parent_zone": "",
            "parent_zone_id": "",
        });
        let advice = validation_advice(&dns).unwrap();
        let timeout = ProviderError::new("wait for x", "still PENDING_VALIDATION after 4500s")
            .with_code("WaiterTimeout");
        let err = timed_out("arn:aws:acm:us-east-1:1:certificate/c", &timeout, &advice);
        assert_eq!(err.code.as_deref(), Some("WaiterTimeout"));
        assert_eq!(
            err.to_string(),
            "wait for certificate arn:aws:acm:us-east-1:1:certificate/c to be issued: WaiterTimeout: still PENDING_VALIDATION after 4500s: ACM found no validation record through public DNS: no hosted zone of this account is a parent of payment-dev.example.com, so drctl cannot delegate it: ACM reads the validation records through public DNS, which reaches hosted zone Z1 only once the registrar of payment-dev.example.com (or the DNS service of its parent domain) lists its name servers: set them there: ns-1.awsdns-00.com, ns-513.awsdns-00.net; then run `drctl apply` again (ACM keeps looking for 72 hours after the request)"
        );
    }

    /// A zone delegated from a parent zone of the account, and the user's
    /// own zone, each get their own advice.
    #[test]
    fn the_advice_follows_how_the_zone_is_delegated() {
        let parent = validation_advice(&json!({
            "zone": "payment.dns.example.net",
            "zone_id": "Z1",
            "name_servers": ["ns-1.awsdns-00.com"],
            "parent_zone": "dns.example.net",
            "parent_zone_id": "Z9",
        }))
        .unwrap();
        assert!(
            parent.starts_with("payment.dns.example.net is delegated to hosted zone Z1 (ns-1.awsdns-00.com) by an NS record in hosted zone dns.example.net (Z9) of this account"),
            "{parent}"
        );
        assert!(
            parent.contains("only if dns.example.net is itself delegated"),
            "{parent}"
        );
        let yours = validation_advice(&json!({
            "zone": "payment.example.org",
            "zone_id": "Z2",
            "name_servers": ["ns-2.awsdns-00.com"],
        }))
        .unwrap();
        assert!(
            yours.starts_with("hosted zone Z2 (payment.example.org) is yours (`hosted_zone_id`)"),
            "{yours}"
        );
        assert!(
            yours.ends_with("lists its name servers: ns-2.awsdns-00.com"),
            "{yours}"
        );
        // No `dns` input (state of an earlier drctl): no advice.
        assert_eq!(validation_advice(&json!(null)), None);
        assert_eq!(validation_hint(&json!(null)), None);
    }

    /// Progress reports name the name servers to set, in a few words.
    #[test]
    fn the_progress_hint_names_the_name_servers_for_the_registrar() {
        let hint = validation_hint(&json!({
            "zone": "payment-dev.example.com",
            "zone_id": "Z1",
            "name_servers": ["ns-1.awsdns-00.com", "ns-513.awsdns-00.net"],
            "parent_zone": "",
            "parent_zone_id": "",
        }));
        assert_eq!(
            hint.as_deref(),
            Some(
                "no parent zone of payment-dev.example.com in this account: set the name servers of hosted zone Z1 at the registrar of payment-dev.example.com: ns-1.awsdns-00.com, ns-513.awsdns-00.net"
            )
        );
    }
}
