//! `acm.certificate`: a public certificate for one domain name, validated
//! through DNS. Its id is the certificate ARN. Its outputs carry the CNAME
//! record ACM asks for, which a `route53.record` creates; an
//! `acm.certificate_validation` then waits for the certificate to be
//! issued.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::Client;
use aws_sdk_acm::types::{CertificateStatus, Tag, ValidationMethod};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{NOT_FOUND, certificates_tagged, describe, tags_of, validation_record};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::kms::tag;
use crate::support::{
    TAG_ADDRESS, TAG_ENV, api_error, attrs, confirm_owned, create_token, retry_while, sent,
    the_one, tolerate, wait_for,
};
use crate::tags::{TagApi, retag, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new(
    "acm.certificate",
    Latency {
        create: 10,
        update: 2,
        delete: 5,
        basis: "validation record shown some seconds after the request (ACM User Guide, DNS validation)",
    },
)
.force_new(&["domain_name"])
.outputs(&[
    "arn",
    "validation_record_name",
    "validation_record_type",
    "validation_record_value",
]);

pub struct Certificate(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    domain_name: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// How long DescribeCertificate may take to show the validation record
/// after RequestCertificate (normally seconds).
const RECORD_LIMIT: Duration = Duration::from_secs(5 * 60);

/// How long a delete waits for the services that use the certificate (an
/// API Gateway domain name just deleted) to let go of it: ACM refuses
/// with ResourceInUseException until then. Terraform waits 20 minutes.
const IN_USE_LIMIT: Duration = Duration::from_secs(20 * 60);

/// Statuses of a certificate that may still be, or is, usable: what a
/// lookup considers (ListCertificates lists only ISSUED ones by default).
pub(crate) const LIVE: &[CertificateStatus] = &[
    CertificateStatus::PendingValidation,
    CertificateStatus::Issued,
];

/// AddTagsToCertificate / RemoveTagsFromCertificate on a certificate's ARN.
#[async_trait]
impl TagApi for Client {
    async fn tag(&self, arn: &str, set: BTreeMap<String, String>) -> Result<(), ProviderError> {
        let call = self.add_tags_to_certificate().certificate_arn(arn);
        sent(
            call.set_tags(Some(to_sdk::<Tag>(set)?)).send().await,
            "acm:AddTagsToCertificate",
        )
    }

    async fn untag(&self, arn: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        // A tag without a value removes the key whatever its value.
        let tags = keys
            .into_iter()
            .map(|k| {
                Tag::builder()
                    .key(k)
                    .build()
                    .map_err(|e| ProviderError::new("acm:Tag", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let call = self.remove_tags_from_certificate().certificate_arn(arn);
        sent(
            call.set_tags(Some(tags)).send().await,
            "acm:RemoveTagsFromCertificate",
        )
    }
}

fn outputs(arn: &str, record: &(String, String, String)) -> Attributes {
    attrs([
        ("arn", json!(arn)),
        ("validation_record_name", json!(record.0)),
        ("validation_record_type", json!(record.1)),
        ("validation_record_value", json!(record.2)),
    ])
}

/// Waits for the validation record to appear in the certificate's
/// details (ACM adds it asynchronously).
async fn wait_record(
    client: &Client,
    arn: &str,
) -> Result<(String, String, String), ProviderError> {
    wait_for(
        &format!("validation record of certificate {arn}"),
        RECORD_LIMIT,
        || async {
            let Some(detail) = describe(client, arn).await? else {
                // Just requested: not yet visible to reads.
                return Ok(Err("not found".to_owned()));
            };
            Ok(validation_record(&detail).ok_or_else(|| "without a validation record".to_owned()))
        },
    )
    .await
}

#[async_trait]
impl Kind for Certificate {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let client = self.0.acm(&ctx.region);
        let out = client
            .request_certificate()
            .domain_name(&inputs.domain_name)
            .validation_method(ValidationMethod::Dns)
            // The create's idempotency token (32 hex digits; ACM takes at
            // most 32 word characters): a resend within the hour (the
            // SDK's, after a lost response) returns the first certificate.
            .idempotency_token(create_token(ctx))
            .set_tags(Some(to_sdk::<Tag>(with_identity(ctx, &inputs.tags))?))
            .send()
            .await
            .map_err(|e| api_error("acm:RequestCertificate", e))?;
        let arn = out
            .certificate_arn()
            .ok_or_else(|| {
                ProviderError::new(
                    "acm:RequestCertificate",
                    "no certificate ARN in the response",
                )
            })?
            .to_owned();
        let record = wait_record(&client, &arn).await?;
        Ok(Applied {
            outputs: outputs(&arn, &record),
            id: arn,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let client = self.0.acm(&ctx.region);
        let Some(detail) = describe(&client, id).await? else {
            return Ok(None);
        };
        // A certificate that can no longer be issued or used (validation
        // timed out, failed, revoked, expired) is as good as gone: a new
        // one replaces it.
        if !detail.status().is_some_and(|s| LIVE.contains(s)) {
            return Ok(None);
        }
        // ACM adds the validation record moments after RequestCertificate.
        // A read that early (crash recovery right after the create) waits
        // for it: reading the certificate as gone would make the next apply
        // request a second one.
        let record = match validation_record(&detail) {
            Some(record) => record,
            None => wait_record(&client, id).await?,
        };
        let Some(tags) = tags_of(&client, id).await? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: Inputs {
                domain_name: detail.domain_name().unwrap_or_default().to_owned(),
                tags: user_tags(tags),
            },
            outputs: outputs(id, &record),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let client = self.0.acm(&ctx.region);
        retag(&client, id, &prior.tags, &inputs.tags).await?;
        let record = wait_record(&client, id).await?;
        Ok(outputs(id, &record))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // RequestCertificate sets the tags with the certificate: the
        // identity tags tell drctl's certificate for this address.
        let address = ctx.address.to_string();
        let ours = certificates_tagged(
            &self.0.acm(&ctx.region),
            LIVE,
            Some(&inputs.domain_name),
            |tags| tag(tags, TAG_ADDRESS) == Some(&address) && tag(tags, TAG_ENV) == Some(&ctx.env),
        )
        .await?;
        the_one(ctx, ours)
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let client = self.0.acm(&ctx.region);
        let Some(tags) = tags_of(&client, id).await? else {
            return Ok(());
        };
        let tags = crate::support::tag_map(tags);
        confirm_owned(ctx, "delete", &format!("certificate {id}"), &tags, None)?;
        // API Gateway lets go of a certificate some time after its domain
        // name is deleted; until then ACM refuses the delete.
        retry_while(
            IN_USE_LIMIT,
            |e| e.code.as_deref() == Some("ResourceInUseException"),
            || async {
                let result = client.delete_certificate().certificate_arn(id).send().await;
                tolerate(result, NOT_FOUND, "acm:DeleteCertificate")
            },
        )
        .await
    }

    /// The environment's certificates that may still be, or are, usable,
    /// by their `drctl:env` tag.
    async fn list(&self, scope: &ListScope) -> Listed {
        certificates_tagged(&self.0.acm(&scope.region), LIVE, None, |tags| {
            tag(tags, TAG_ENV) == Some(scope.env.as_str())
        })
        .await
    }
}
