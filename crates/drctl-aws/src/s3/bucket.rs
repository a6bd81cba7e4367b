//! `s3.bucket`: a bucket with versioning, default encryption, a full public
//! access block, a bucket policy and tags. Its id is the bucket name.
//!
//! `policy` (a JSON document, or absent/null for none) is the bucket
//! policy: PutBucketPolicy sets it, DeleteBucketPolicy removes it,
//! GetBucketPolicy reads it back.
//!
//! Default encryption is `sse_algorithm` (`AES256` or `aws:kms`); with
//! `aws:kms`, `kms_key_id` names the customer key (S3's `aws/s3` key
//! otherwise) and `bucket_key_enabled` has S3 use a bucket-level key,
//! which cuts the KMS requests (and their cost) per object.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, Delete, ExpirationStatus, LifecycleRule, LifecycleRuleFilter,
    ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, Transition, TransitionStorageClass, VersioningConfiguration,
};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use crate::clients::Clients;
use crate::support::{
    all_tags, api_error, attrs, bool_or, confirm_owned, found, has_code, observed_tags, opt_str,
    req_str, retry_while, tolerate,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "s3.bucket",
    force_new: &["bucket"],
    outputs: &["bucket", "arn", "region"],
    volatile_outputs: &[],
    holds_data: true,
    kept_on_delete: &[],
    latency: Latency {
        create: 3,
        update: 2,
        delete: 3,
        basis: "create + five Put* calls; empty + delete",
    },
};

pub struct Bucket(pub(crate) Arc<Clients>);

const GONE: &[&str] = &["NoSuchBucket", "NotFound"];

/// How long a new bucket may stay unseen by configuration calls (the
/// Terraform AWS provider's `bucketPropagationTimeout`).
const PROPAGATION: std::time::Duration = std::time::Duration::from_secs(120);

fn outputs(name: &str, region: &str) -> Attributes {
    attrs([
        ("bucket", json!(name)),
        ("arn", json!(format!("arn:aws:s3:::{name}"))),
        ("region", json!(region)),
    ])
}

/// Whether the bucket exists (HeadBucket). A HEAD response has no body to
/// carry an error code, so a bare 404 counts as gone too.
async fn exists(s3: &Client, name: &str) -> Result<bool, ProviderError> {
    match s3.head_bucket().bucket(name).send().await {
        Ok(_) => Ok(true),
        Err(e)
            if has_code(&e, GONE)
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 404) =>
        {
            Ok(false)
        }
        Err(e) => Err(api_error("s3:HeadBucket", e)),
    }
}

/// The bucket's tags; `None` when the bucket is gone.
pub(crate) async fn bucket_tags(
    s3: &Client,
    name: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>, ProviderError> {
    let result = s3.get_bucket_tagging().bucket(name).send().await;
    match result {
        Ok(out) => Ok(Some(crate::support::tag_map(
            out.tag_set().iter().map(|t| (t.key(), t.value())),
        ))),
        Err(e) if has_code(&e, &["NoSuchTagSet"]) => Ok(Some(Default::default())),
        Err(e) if has_code(&e, GONE) => Ok(None),
        Err(e) => Err(api_error("s3:GetBucketTagging", e)),
    }
}

/// The `policy` input as the document PutBucketPolicy takes; `None`
/// when absent or null (the bucket has no policy).
fn policy_document(ctx: &OpContext, inputs: &Attributes) -> Result<Option<String>, ProviderError> {
    match inputs.get("policy") {
        None | Some(Json::Null) => Ok(None),
        Some(doc @ Json::Object(_)) => Ok(Some(doc.to_string())),
        Some(_) => Err(crate::support::invalid(
            ctx,
            "input `policy` must be a JSON object (a bucket policy document) or null",
        )),
    }
}

impl Bucket {
    /// Puts every setting whose input differs from `prior` (all on create).
    async fn configure(
        &self,
        s3: &Client,
        ctx: &OpContext,
        name: &str,
        inputs: &Attributes,
        prior: Option<&Attributes>,
    ) -> Result<(), ProviderError> {
        let changed = |k: &str| prior.is_none_or(|p| p.get(k) != inputs.get(k));
        if changed("tags") {
            let tags = all_tags(ctx, inputs)
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ProviderError::new("s3:PutBucketTagging", e.to_string()))?;
            s3.put_bucket_tagging()
                .bucket(name)
                .tagging(
                    Tagging::builder()
                        .set_tag_set(Some(tags))
                        .build()
                        .map_err(|e| ProviderError::new("s3:PutBucketTagging", e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| api_error("s3:PutBucketTagging", e))?;
        }
        if changed("versioning") {
            let status = if bool_or(inputs, "versioning", false) {
                BucketVersioningStatus::Enabled
            } else {
                BucketVersioningStatus::Suspended
            };
            // A never-versioned bucket needs no "Suspended" call.
            if prior.is_some() || status == BucketVersioningStatus::Enabled {
                s3.put_bucket_versioning()
                    .bucket(name)
                    .versioning_configuration(
                        VersioningConfiguration::builder().status(status).build(),
                    )
                    .send()
                    .await
                    .map_err(|e| api_error("s3:PutBucketVersioning", e))?;
            }
        }
        if (changed("sse_algorithm") || changed("kms_key_id") || changed("bucket_key_enabled"))
            && let Some(alg) = opt_str(inputs, "sse_algorithm")
        {
            let rule = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::from(alg))
                        .set_kms_master_key_id(
                            opt_str(inputs, "kms_key_id")
                                .filter(|k| !k.is_empty())
                                .map(str::to_owned),
                        )
                        .build()
                        .map_err(|e| ProviderError::new("s3:PutBucketEncryption", e.to_string()))?,
                )
                .set_bucket_key_enabled(inputs.get("bucket_key_enabled").and_then(Json::as_bool))
                .build();
            s3.put_bucket_encryption()
                .bucket(name)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(rule)
                        .build()
                        .map_err(|e| ProviderError::new("s3:PutBucketEncryption", e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| api_error("s3:PutBucketEncryption", e))?;
        }
        let has_rules = inputs
            .get("lifecycle_rules")
            .and_then(Json::as_array)
            .is_some_and(|r| !r.is_empty());
        if changed("lifecycle_rules") && (prior.is_some() || has_rules) {
            self.put_lifecycle(s3, name, inputs).await?;
        }
        if changed("block_public_access") {
            let on = bool_or(inputs, "block_public_access", false);
            if on {
                s3.put_public_access_block()
                    .bucket(name)
                    .public_access_block_configuration(
                        PublicAccessBlockConfiguration::builder()
                            .block_public_acls(true)
                            .ignore_public_acls(true)
                            .block_public_policy(true)
                            .restrict_public_buckets(true)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| api_error("s3:PutPublicAccessBlock", e))?;
            } else if prior.is_some() {
                s3.delete_public_access_block()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(|e| api_error("s3:DeletePublicAccessBlock", e))?;
            }
        }
        if changed("policy") {
            match policy_document(ctx, inputs)? {
                Some(doc) => {
                    s3.put_bucket_policy()
                        .bucket(name)
                        .policy(doc)
                        .send()
                        .await
                        .map_err(|e| api_error("s3:PutBucketPolicy", e))?;
                }
                None if prior.is_some() => {
                    let result = s3.delete_bucket_policy().bucket(name).send().await;
                    tolerate(result, &["NoSuchBucketPolicy"], "s3:DeleteBucketPolicy")?;
                }
                None => {}
            }
        }
        Ok(())
    }

    /// `lifecycle_rules`: `[{"id", "transition_days", "storage_class"}]`,
    /// each applying to every object; `[]` removes the configuration.
    async fn put_lifecycle(
        &self,
        s3: &Client,
        name: &str,
        inputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let op = "s3:PutBucketLifecycleConfiguration";
        let rules = inputs
            .get("lifecycle_rules")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        if rules.is_empty() {
            s3.delete_bucket_lifecycle()
                .bucket(name)
                .send()
                .await
                .map_err(|e| api_error("s3:DeleteBucketLifecycle", e))?;
            return Ok(());
        }
        let mut built = Vec::new();
        for r in &rules {
            let id = r.get("id").and_then(Json::as_str).unwrap_or("lifecycle");
            let days = r
                .get("transition_days")
                .and_then(Json::as_i64)
                .unwrap_or(90) as i32;
            let class = r
                .get("storage_class")
                .and_then(Json::as_str)
                .unwrap_or("GLACIER");
            built.push(
                LifecycleRule::builder()
                    .id(id)
                    .status(ExpirationStatus::Enabled)
                    .filter(LifecycleRuleFilter::builder().prefix("").build())
                    .transitions(
                        Transition::builder()
                            .days(days)
                            .storage_class(TransitionStorageClass::from(class))
                            .build(),
                    )
                    .build()
                    .map_err(|e| ProviderError::new(op, e.to_string()))?,
            );
        }
        s3.put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(built))
                    .build()
                    .map_err(|e| ProviderError::new(op, e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| api_error(op, e))?;
        Ok(())
    }

    /// Deletes every object version and delete marker.
    async fn empty(&self, s3: &Client, name: &str) -> Result<(), ProviderError> {
        loop {
            let result = s3.list_object_versions().bucket(name).send().await;
            let Some(page) = found(result, GONE, "s3:ListObjectVersions")? else {
                return Ok(());
            };
            let ids: Vec<ObjectIdentifier> = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                )
                .filter_map(|(k, v)| {
                    ObjectIdentifier::builder()
                        .key(k?)
                        .set_version_id(v.map(str::to_owned))
                        .build()
                        .ok()
                })
                .collect();
            if ids.is_empty() {
                return Ok(());
            }
            let out = s3
                .delete_objects()
                .bucket(name)
                .delete(
                    Delete::builder()
                        .set_objects(Some(ids))
                        .quiet(true)
                        .build()
                        .map_err(|e| ProviderError::new("s3:DeleteObjects", e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| api_error("s3:DeleteObjects", e))?;
            // DeleteObjects answers 200 and lists each key it could not
            // delete (Object Lock, a bucket policy, ...). Listing again would
            // find the same keys for ever: stop and say which.
            if !out.errors().is_empty() {
                return Err(undeleted_keys(name, out.errors()));
            }
        }
    }
}

/// The keys DeleteObjects reported it could not delete, the first few by
/// name, as one error with the first key's code.
fn undeleted_keys(bucket: &str, errors: &[aws_sdk_s3::types::Error]) -> ProviderError {
    const SHOWN: usize = 5;
    let listed: Vec<String> = errors
        .iter()
        .take(SHOWN)
        .map(|e| {
            format!(
                "{} ({}): {}: {}",
                e.key().unwrap_or("?"),
                e.version_id().unwrap_or("null"),
                e.code().unwrap_or("Unknown"),
                e.message().unwrap_or_default()
            )
        })
        .collect();
    let more = errors.len().saturating_sub(SHOWN);
    ProviderError::new(
        "s3:DeleteObjects",
        format!(
            "bucket {bucket} cannot be emptied: {} object version(s) were not deleted: {}{}; remove them yourself (or lift what protects them) and run destroy again",
            errors.len(),
            listed.join("; "),
            if more > 0 { format!("; and {more} more") } else { String::new() }
        ),
    )
    .with_code(errors[0].code().unwrap_or("Unknown"))
}

#[async_trait]
impl Provider for Bucket {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let name = req_str(ctx, inputs, "bucket")?;
        policy_document(ctx, inputs)?;
        let s3 = self.0.s3(&ctx.region);
        let mut req = s3.create_bucket().bucket(name);
        // us-east-1 is the one region that must not be named.
        if ctx.region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(ctx.region.as_str()))
                    .build(),
            );
        }
        let result = req.send().await;
        tolerate(result, &["BucketAlreadyOwnedByYou"], "s3:CreateBucket")?;
        // Bucket configuration is eventually consistent: a Put* right
        // after CreateBucket may not find the bucket yet (S3 User Guide,
        // "Amazon S3 data consistency model"). Every Put is idempotent, so
        // the whole configuration is sent again.
        retry_while(
            PROPAGATION,
            |e| e.code.as_deref() == Some("NoSuchBucket"),
            || self.configure(&s3, ctx, name, inputs, None),
        )
        .await?;
        Ok(Applied {
            id: name.to_owned(),
            outputs: outputs(name, &ctx.region),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let s3 = self.0.s3(&ctx.region);
        if !exists(&s3, id).await? {
            return Ok(None);
        }
        // The settings are independent reads: sent together.
        let (versioning, encryption, public_access, lifecycle, tagging, policy) = tokio::join!(
            s3.get_bucket_versioning().bucket(id).send(),
            s3.get_bucket_encryption().bucket(id).send(),
            s3.get_public_access_block().bucket(id).send(),
            s3.get_bucket_lifecycle_configuration().bucket(id).send(),
            s3.get_bucket_tagging().bucket(id).send(),
            s3.get_bucket_policy().bucket(id).send(),
        );
        let versioning = versioning
            .map_err(|e| api_error("s3:GetBucketVersioning", e))?
            .status()
            == Some(&BucketVersioningStatus::Enabled);
        let result = encryption;
        let sse = found(
            result,
            &["ServerSideEncryptionConfigurationNotFoundError"],
            "s3:GetBucketEncryption",
        )?
        .and_then(|o| {
            let rule = o
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())?;
            let default = rule.apply_server_side_encryption_by_default()?;
            Some((
                default.sse_algorithm().as_str().to_owned(),
                default.kms_master_key_id().map(str::to_owned),
                rule.bucket_key_enabled().unwrap_or(false),
            ))
        });
        let result = public_access;
        let blocked = found(
            result,
            &["NoSuchPublicAccessBlockConfiguration"],
            "s3:GetPublicAccessBlock",
        )?
        .is_some_and(|o| {
            o.public_access_block_configuration().is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            })
        });
        let result = lifecycle;
        let lifecycle: Vec<Json> = found(
            result,
            &["NoSuchLifecycleConfiguration"],
            "s3:GetBucketLifecycleConfiguration",
        )?
        .map(|o| {
            o.rules()
                .iter()
                .map(|r| {
                    let t = r.transitions().first();
                    json!({
                        "id": r.id().unwrap_or_default(),
                        "transition_days": t.and_then(|t| t.days()).unwrap_or(0),
                        "storage_class": t.and_then(|t| t.storage_class()).map(|c| c.as_str()).unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
        let result = tagging;
        let tags: Vec<(String, String)> = found(result, &["NoSuchTagSet"], "s3:GetBucketTagging")?
            .map(|o| {
                o.tag_set()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let mut inputs = attrs([
            ("bucket", json!(id)),
            ("versioning", json!(versioning)),
            ("block_public_access", json!(blocked)),
            ("lifecycle_rules", json!(lifecycle)),
            ("tags", observed_tags(tags)),
        ]);
        // A policy shows when there is one, or when one was asked for.
        let result = policy;
        match found(result, &["NoSuchBucketPolicy"], "s3:GetBucketPolicy")?.and_then(|o| o.policy) {
            Some(text) => {
                let doc: Json = serde_json::from_str(&text).map_err(|e| {
                    ProviderError::new(
                        "s3:GetBucketPolicy",
                        format!("the policy of bucket {id} is not JSON: {e}"),
                    )
                })?;
                inputs.insert("policy".into(), doc);
            }
            None if prior.contains_key("policy") => {
                inputs.insert("policy".into(), Json::Null);
            }
            None => {}
        }
        // Every bucket has SSE-S3 by default (since January 2023): that
        // default is no setting of the inputs unless they name one.
        let default_sse = |(alg, key, bucket_key): &(String, Option<String>, bool)| {
            alg == "AES256" && key.is_none() && !bucket_key
        };
        let sse = sse.filter(|s| prior.contains_key("sse_algorithm") || !default_sse(s));
        if let Some((alg, key, bucket_key)) = sse {
            inputs.insert("sse_algorithm".into(), json!(alg));
            if key.is_some() || prior.contains_key("kms_key_id") {
                inputs.insert("kms_key_id".into(), json!(key));
            }
            if bucket_key || prior.contains_key("bucket_key_enabled") {
                inputs.insert("bucket_key_enabled".into(), json!(bucket_key));
            }
        }
        Ok(Some(Observed {
            inputs,
            outputs: outputs(id, &ctx.region),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let s3 = self.0.s3(&ctx.region);
        // A bucket adopted from an interrupted run may be seconds old: its
        // configuration calls may not find it yet, as after a create.
        retry_while(
            PROPAGATION,
            |e| e.code.as_deref() == Some("NoSuchBucket"),
            || self.configure(&s3, ctx, id, inputs, Some(prior)),
        )
        .await?;
        Ok(outputs(id, &ctx.region))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let name = req_str(ctx, inputs, "bucket")?;
        Ok(exists(&self.0.s3(&ctx.region), name)
            .await?
            .then(|| name.to_owned()))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let s3 = self.0.s3(&ctx.region);
        let Some(tags) = bucket_tags(&s3, id).await? else {
            return Ok(());
        };
        // Emptying is the delete's first change: the claim is checked
        // before it. The bucket's name is drctl's when it is the input.
        let named = opt_str(inputs, "bucket").filter(|b| *b == id);
        confirm_owned(ctx, "delete", &format!("bucket {id}"), &tags, named)?;
        self.empty(&s3, id).await?;
        let result = s3.delete_bucket().bucket(id).send().await;
        tolerate(result, GONE, "s3:DeleteBucket")
    }
}
