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

use std::collections::BTreeMap;
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
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::clients::Clients;
use crate::iam::present;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{
    api_error, attrs, confirm_owned, found, has_code, retry_while, tag_map, tolerate,
};
use crate::tags::{in_env, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new(
    "s3.bucket",
    Latency {
        create: 3,
        update: 2,
        delete: 3,
        basis: "create + five Put* calls; empty + delete",
    },
)
.force_new(&["bucket"])
.outputs(&["bucket", "arn", "region"])
.holds_data();

pub struct Bucket(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    bucket: String,
    #[serde(default)]
    versioning: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sse_algorithm: Option<String>,
    /// Absent: not managed; `null` or `""`: S3's `aws/s3` key.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    kms_key_id: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bucket_key_enabled: Option<bool>,
    #[serde(default)]
    block_public_access: bool,
    /// Absent: not managed; `null`: no policy.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    policy: Option<Option<Json>>,
    #[serde(default)]
    lifecycle_rules: Vec<Lifecycle>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// A lifecycle rule applying to every object: one transition.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Lifecycle {
    id: String,
    transition_days: i32,
    storage_class: String,
}

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
) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
    let result = s3.get_bucket_tagging().bucket(name).send().await;
    match result {
        Ok(out) => Ok(Some(tag_map(
            out.tag_set().iter().map(|t| (t.key(), t.value())),
        ))),
        Err(e) if has_code(&e, &["NoSuchTagSet"]) => Ok(Some(Default::default())),
        Err(e) if has_code(&e, GONE) => Ok(None),
        Err(e) => Err(api_error("s3:GetBucketTagging", e)),
    }
}

/// The `policy` input as the document PutBucketPolicy takes; `None`
/// when absent or null (the bucket has no policy).
fn policy_document(ctx: &OpContext, inputs: &Inputs) -> Result<Option<String>, ProviderError> {
    match inputs.policy.as_ref().and_then(Option::as_ref) {
        None => Ok(None),
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
        inputs: &Inputs,
        prior: Option<&Inputs>,
    ) -> Result<(), ProviderError> {
        // Whether the field differs from `prior` (always on create).
        macro_rules! changed {
            ($($field:ident),+) => {
                prior.is_none_or(|p| $(p.$field != inputs.$field)||+)
            };
        }
        if changed!(tags) {
            let tags = to_sdk::<Tag>(with_identity(ctx, &inputs.tags))?;
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
        if changed!(versioning) {
            let status = if inputs.versioning {
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
        if changed!(sse_algorithm, kms_key_id, bucket_key_enabled)
            && let Some(alg) = inputs.sse_algorithm.as_deref()
        {
            let rule = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::from(alg))
                        .set_kms_master_key_id(
                            inputs
                                .kms_key_id
                                .clone()
                                .flatten()
                                .filter(|k| !k.is_empty()),
                        )
                        .build()
                        .map_err(|e| ProviderError::new("s3:PutBucketEncryption", e.to_string()))?,
                )
                .set_bucket_key_enabled(inputs.bucket_key_enabled)
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
        let has_rules = !inputs.lifecycle_rules.is_empty();
        if changed!(lifecycle_rules) && (prior.is_some() || has_rules) {
            self.put_lifecycle(s3, name, inputs).await?;
        }
        if changed!(block_public_access) {
            if inputs.block_public_access {
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
        if changed!(policy) {
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
        inputs: &Inputs,
    ) -> Result<(), ProviderError> {
        let op = "s3:PutBucketLifecycleConfiguration";
        let rules = &inputs.lifecycle_rules;
        if rules.is_empty() {
            s3.delete_bucket_lifecycle()
                .bucket(name)
                .send()
                .await
                .map_err(|e| api_error("s3:DeleteBucketLifecycle", e))?;
            return Ok(());
        }
        let mut built = Vec::new();
        for r in rules {
            built.push(
                LifecycleRule::builder()
                    .id(&r.id)
                    .status(ExpirationStatus::Enabled)
                    .filter(LifecycleRuleFilter::builder().prefix("").build())
                    .transitions(
                        Transition::builder()
                            .days(r.transition_days)
                            .storage_class(TransitionStorageClass::from(r.storage_class.as_str()))
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

/// The region a bucket is in: as ListBuckets reports it, else its
/// location constraint (none for us-east-1, `EU` for eu-west-1); `None`
/// when the bucket is gone.
async fn bucket_region(
    s3: &Client,
    bucket: &aws_sdk_s3::types::Bucket,
) -> Result<Option<String>, ProviderError> {
    if let Some(region) = bucket.bucket_region() {
        return Ok(Some(region.to_owned()));
    }
    let name = bucket.name().unwrap_or_default();
    let result = s3.get_bucket_location().bucket(name).send().await;
    Ok(found(result, GONE, "s3:GetBucketLocation")?.map(|o| {
        match o
            .location_constraint()
            .map(BucketLocationConstraint::as_str)
        {
            None | Some("") => "us-east-1".to_owned(),
            Some("EU") => "eu-west-1".to_owned(),
            Some(region) => region.to_owned(),
        }
    }))
}

/// The names of the environment's buckets in the region: claimed by the
/// `drctl:env` tag, or without drctl tags named for it.
pub(crate) async fn env_buckets(
    s3: &Client,
    scope: &ListScope,
) -> Result<Vec<String>, ProviderError> {
    // The region filter is AWS's (an emulator may list every bucket): the
    // region is checked here too.
    let list = s3.list_buckets().bucket_region(&scope.region);
    let mut buckets = list.into_paginator().items().send();
    let mut names = Vec::new();
    while let Some(bucket) = buckets.next().await {
        let bucket = bucket.map_err(|e| api_error("s3:ListBuckets", e))?;
        let Some(name) = bucket.name() else { continue };
        // Listed, then deleted before it was looked at: gone.
        if bucket_region(s3, &bucket).await?.as_deref() != Some(scope.region.as_str()) {
            continue;
        }
        if let Some(tags) = bucket_tags(s3, name).await?
            && in_env(&scope.env, &tags, Some(name))
        {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

#[async_trait]
impl Kind for Bucket {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let name = inputs.bucket.as_str();
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

    async fn read(&self, ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
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
        let lifecycle: Vec<Lifecycle> = found(
            result,
            &["NoSuchLifecycleConfiguration"],
            "s3:GetBucketLifecycleConfiguration",
        )?
        .map(|o| {
            o.rules()
                .iter()
                .map(|r| {
                    let t = r.transitions().first();
                    Lifecycle {
                        id: r.id().unwrap_or_default().to_owned(),
                        transition_days: t.and_then(|t| t.days()).unwrap_or(0),
                        storage_class: t
                            .and_then(|t| t.storage_class())
                            .map(|c| c.as_str())
                            .unwrap_or_default()
                            .to_owned(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
        let result = tagging;
        let tags = found(result, &["NoSuchTagSet"], "s3:GetBucketTagging")?
            .map(|o| tag_map(o.tag_set().iter().map(|t| (t.key(), t.value()))))
            .unwrap_or_default();
        let mut inputs = Inputs {
            bucket: id.to_owned(),
            versioning,
            sse_algorithm: None,
            kms_key_id: None,
            bucket_key_enabled: None,
            block_public_access: blocked,
            policy: None,
            lifecycle_rules: lifecycle,
            tags: user_tags(tags),
        };
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
                inputs.policy = Some(Some(doc));
            }
            None if prior.policy.is_some() => inputs.policy = Some(None),
            None => {}
        }
        // Every bucket has SSE-S3 by default (since January 2023): that
        // default is no setting of the inputs unless they name one.
        let default_sse = |(alg, key, bucket_key): &(String, Option<String>, bool)| {
            alg == "AES256" && key.is_none() && !bucket_key
        };
        let sse = sse.filter(|s| prior.sse_algorithm.is_some() || !default_sse(s));
        if let Some((alg, key, bucket_key)) = sse {
            inputs.sse_algorithm = Some(alg);
            if key.is_some() || prior.kms_key_id.is_some() {
                inputs.kms_key_id = Some(key);
            }
            if bucket_key || prior.bucket_key_enabled.is_some() {
                inputs.bucket_key_enabled = Some(bucket_key);
            }
        }
        Ok(Some(Found {
            inputs,
            outputs: outputs(id, &ctx.region),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
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

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let name = inputs.bucket.as_str();
        Ok(exists(&self.0.s3(&ctx.region), name)
            .await?
            .then(|| name.to_owned()))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let s3 = self.0.s3(&ctx.region);
        let Some(tags) = bucket_tags(&s3, id).await? else {
            return Ok(());
        };
        // Emptying is the delete's first change: the claim is checked
        // before it. The bucket's name is drctl's when it is the input.
        let named = Some(inputs.bucket.as_str()).filter(|b| *b == id);
        confirm_owned(ctx, "delete", &format!("bucket {id}"), &tags, named)?;
        self.empty(&s3, id).await?;
        let result = s3.delete_bucket().bucket(id).send().await;
        tolerate(result, GONE, "s3:DeleteBucket")
    }

    async fn list(&self, scope: &ListScope) -> Listed {
        env_buckets(&self.0.s3(&scope.region), scope).await
    }
}
