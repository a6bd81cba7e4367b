//! `kms.key`: a customer-managed symmetric key (ENCRYPT_DECRYPT,
//! SYMMETRIC_DEFAULT) of one region, with automatic rotation. Its id is the
//! key id.
//!
//! CreateKey takes no idempotency token: it goes through `create_once`,
//! whose lookup finds the key by its `drctl:*` tags (CreateKey sets them
//! with the key). KMS is eventually consistent: a key just created may
//! answer NotFoundException for a moment (KMS Developer Guide, "Eventual
//! consistency"), so the calls right after it are retried on that.
//!
//! A key is never deleted at once: delete schedules the deletion after
//! `deletion_window_in_days` (7 to 30, KMS API reference,
//! ScheduleKeyDeletion), during which CancelKeyDeletion can save it. A key
//! pending deletion reads as gone, as Terraform reads it: an apply then
//! creates a new key. Deleting a key makes everything encrypted with it
//! unreadable, so the kind holds data.
//!
//! `retain_on_delete` (default false) keeps the key when drctl deletes
//! it: for a key that encrypts what a destroy leaves behind on purpose (a
//! cluster's final snapshot, whose key is the cluster's and cannot be
//! chosen; a secret in its recovery window), since once a key is deleted
//! "you can no longer decrypt the data that was encrypted under that KMS
//! key" (KMS Developer Guide, "Deleting AWS KMS keys"). Delete then only
//! moves its identity: the `drctl:address` tag becomes
//! `drctl:retained-from`, so no later lookup of the address finds it and a
//! new apply creates a key of its own, and the key stays enabled. Its
//! `retained_key_arn` output (empty otherwise) is what the plan shows the
//! delete leaves behind.
//!
//! `policy` (a JSON document) replaces KMS's default key policy: CreateKey
//! takes it, PutKeyPolicy changes it, GetKeyPolicy reads it back. Without
//! it the key keeps the default policy, which drctl does not read.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, Tag};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::{NOT_FOUND, tag};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{
    Created, TAG_ADDRESS, TAG_ENV, all_items, api_error, attrs, confirm_owned, found, invalid,
    retry_while, sent, the_one, tolerate,
};
use crate::tags::{TagApi, retag, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new(
    "kms.key",
    Latency {
        create: 2,
        update: 1,
        delete: 1,
        basis: "delete only schedules the deletion",
    },
)
.outputs(&["key_id", "arn", "retained_key_arn"])
.holds_data()
.kept_on_delete(&["retained_key_arn"]);

/// The tag a retained key carries instead of `drctl:address`.
pub const TAG_RETAINED_FROM: &str = "drctl:retained-from";

pub struct Key(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// Read back always (empty without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// Default true; read back always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    enable_key_rotation: Option<bool>,
    /// A key policy document; without it the key keeps KMS's default
    /// policy, which is not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy: Option<Json>,
    /// 7 to 30, default 30. Not readable from AWS: read keeps the prior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deletion_window_in_days: Option<i64>,
    /// Default false. Not readable from AWS: read keeps the prior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retain_on_delete: Option<bool>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl Inputs {
    fn retained(&self) -> bool {
        self.retain_on_delete.unwrap_or(false)
    }

    fn rotation(&self) -> bool {
        self.enable_key_rotation.unwrap_or(true)
    }

    /// The `policy` input serialised as KMS takes it, checked before any
    /// call.
    fn policy(&self, ctx: &OpContext) -> Result<Option<String>, ProviderError> {
        match &self.policy {
            None | Some(Json::Null) => Ok(None),
            Some(doc @ Json::Object(_)) => Ok(Some(doc.to_string())),
            Some(_) => Err(invalid(
                ctx,
                "input `policy` must be a JSON object (a key policy document)",
            )),
        }
    }

    /// The deletion window, checked before any call.
    fn window(&self, ctx: &OpContext) -> Result<i32, ProviderError> {
        let days = self.deletion_window_in_days.unwrap_or(30);
        if !WINDOW_DAYS.contains(&days) {
            return Err(invalid(
                ctx,
                format!(
                    "input `deletion_window_in_days` is {days}: KMS schedules a key's deletion 7 to 30 days ahead; use a value in that range"
                ),
            ));
        }
        Ok(days as i32)
    }
}

/// How long the calls after CreateKey wait for the key to be visible.
const CONSISTENCY_LIMIT: Duration = Duration::from_secs(60);

/// ScheduleKeyDeletion's bounds for PendingWindowInDays.
const WINDOW_DAYS: std::ops::RangeInclusive<i64> = 7..=30;

fn outputs(id: &str, arn: &str, inputs: &Inputs) -> Attributes {
    let retained = if inputs.retained() { arn } else { "" };
    attrs([
        ("key_id", json!(id)),
        ("arn", json!(arn)),
        ("retained_key_arn", json!(retained)),
    ])
}

/// TagResource / UntagResource on a key's id.
#[async_trait]
impl TagApi for Client {
    async fn tag(&self, key: &str, set: BTreeMap<String, String>) -> Result<(), ProviderError> {
        let call = self
            .tag_resource()
            .key_id(key)
            .set_tags(Some(to_sdk::<Tag>(set)?));
        sent(call.send().await, "kms:TagResource")
    }

    async fn untag(&self, key: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        let call = self.untag_resource().key_id(key).set_tag_keys(Some(keys));
        sent(call.send().await, "kms:UntagResource")
    }
}

/// Whether a key in `state` is one drctl still counts as existing.
fn live(state: Option<&KeyState>) -> bool {
    !matches!(
        state,
        Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
    )
}

/// Whether a key with these tags is one a delete of its address retained:
/// no longer that address's.
fn retained(tags: &[(String, String)]) -> bool {
    tag(tags, TAG_RETAINED_FROM).is_some() && tag(tags, TAG_ADDRESS).is_none()
}

async fn tags_of(client: &Client, id: &str) -> Result<Vec<(String, String)>, ProviderError> {
    let call = client.list_resource_tags().key_id(id);
    let tags: Vec<Tag> =
        all_items(call.into_paginator().items().send(), "kms:ListResourceTags").await?;
    Ok(tags.into_iter().map(|t| (t.tag_key, t.tag_value)).collect())
}

/// Retries `call` while KMS does not see the new key yet.
async fn while_new<T, F, Fut>(call: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    retry_while(
        CONSISTENCY_LIMIT,
        |e| e.code.as_deref() == Some("NotFoundException"),
        call,
    )
    .await
}

/// The live keys of the region whose tags `wanted` accepts. Keys have no
/// name: every key listed is a candidate.
async fn live_keys_tagged(
    client: &Client,
    wanted: impl Fn(&[(String, String)]) -> bool,
) -> Result<Vec<String>, ProviderError> {
    let mut ids = Vec::new();
    let mut keys = client.list_keys().into_paginator().items().send();
    while let Some(entry) = keys.next().await {
        let entry = entry.map_err(|e| api_error("kms:ListKeys", e))?;
        let Some(id) = entry.key_id() else { continue };
        // Keys of other principals, or in a state that refuses the
        // call, are not drctl's. A key KMS lists but does not know yet
        // (eventual consistency, right after CreateKey) is asked again: it
        // may be the one a lost answer created.
        let tags = match tags_of(client, id).await {
            Ok(tags) => tags,
            Err(e)
                if matches!(
                    e.code.as_deref(),
                    Some("AccessDeniedException" | "KMSInvalidStateException")
                ) =>
            {
                continue;
            }
            Err(e) if e.code.as_deref() == Some("NotFoundException") => {
                while_new(|| tags_of(client, id)).await?
            }
            Err(e) => return Err(e),
        };
        if !wanted(&tags) {
            continue;
        }
        let state = client
            .describe_key()
            .key_id(id)
            .send()
            .await
            .map_err(|e| api_error("kms:DescribeKey", e))?;
        if live(state.key_metadata().and_then(|m| m.key_state())) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

/// Sends `call` (a key call right after CreateKey, maybe) until KMS sees
/// the key, naming the operation in its error.
async fn on_new_key<T, E, F, Fut>(operation: &str, call: F) -> Result<(), ProviderError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    while_new(|| async {
        call()
            .await
            .map(|_| ())
            .map_err(|e| api_error(operation, e))
    })
    .await
}

impl Key {
    /// Leaves the key for what it encrypts: tagged as retained from the
    /// address instead of as the address's. Tag first, untag second: a run
    /// killed in between leaves a key that still answers to the address,
    /// and the delete is done again.
    async fn retain(&self, ctx: &OpContext, id: &str) -> Result<(), ProviderError> {
        let client = self.0.kms(&ctx.region);
        let tagged = client
            .tag_resource()
            .key_id(id)
            .set_tags(Some(to_sdk::<Tag>(BTreeMap::from([(
                TAG_RETAINED_FROM.to_owned(),
                ctx.address.to_string(),
            )]))?))
            .send()
            .await;
        tolerate(tagged.map(|_| ()), NOT_FOUND, "kms:TagResource")?;
        let untagged = client
            .untag_resource()
            .key_id(id)
            .tag_keys(TAG_ADDRESS)
            .send()
            .await;
        tolerate(untagged.map(|_| ()), NOT_FOUND, "kms:UntagResource")
    }

    async fn put_policy(&self, client: &Client, id: &str, doc: &str) -> Result<(), ProviderError> {
        on_new_key("kms:PutKeyPolicy", || {
            client
                .put_key_policy()
                .key_id(id)
                .policy_name("default")
                .policy(doc)
                .send()
        })
        .await
    }

    async fn set_rotation(
        &self,
        client: &Client,
        id: &str,
        enabled: bool,
    ) -> Result<(), ProviderError> {
        if enabled {
            on_new_key("kms:EnableKeyRotation", || {
                client.enable_key_rotation().key_id(id).send()
            })
            .await
        } else {
            on_new_key("kms:DisableKeyRotation", || {
                client.disable_key_rotation().key_id(id).send()
            })
            .await
        }
    }
}

#[async_trait]
impl Kind for Key {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        inputs.window(ctx)?;
        let key_policy = inputs.policy(ctx)?;
        let client = self.0.kms(&ctx.region);
        let request = self
            .0
            .kms_once(&ctx.region)
            .create_key()
            .key_usage(KeyUsageType::EncryptDecrypt)
            .key_spec(KeySpec::SymmetricDefault)
            .set_description(inputs.description.clone())
            .set_policy(key_policy.clone())
            .set_tags(Some(to_sdk::<Tag>(with_identity(ctx, &inputs.tags))?));
        let created = create_or_find(self, ctx, inputs, "kms:CreateKey", &[], || {
            request.clone().send()
        })
        .await?;
        // A key found after a lost answer may lack its rotation: set it,
        // and read it back, the same way.
        let id = match created {
            Created::Sent(out) => out
                .key_metadata()
                .map(|m| m.key_id().to_owned())
                .unwrap_or_default(),
            Created::Found(id) => {
                // Its policy may not be the one asked for, if it was found
                // after a lost answer to an earlier attempt of this create
                // with other inputs: set it again.
                if let Some(doc) = &key_policy {
                    self.put_policy(&client, &id, doc).await?;
                }
                id
            }
        };
        self.set_rotation(&client, &id, inputs.rotation()).await?;
        let observed = while_new(|| async {
            self.read(ctx, &id, inputs).await?.ok_or_else(|| {
                ProviderError::new("kms:DescribeKey", format!("key {id} not visible yet"))
                    .with_code("NotFoundException")
            })
        })
        .await?;
        Ok(Applied {
            id,
            outputs: observed.outputs,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let client = self.0.kms(&ctx.region);
        let result = client.describe_key().key_id(id).send().await;
        let Some(out) = found(result, NOT_FOUND, "kms:DescribeKey")? else {
            return Ok(None);
        };
        let Some(meta) = out.key_metadata() else {
            return Ok(None);
        };
        if !live(meta.key_state()) {
            return Ok(None);
        }
        // The rest needs a live key, and nothing from each other: sent
        // together. The default policy is not drctl's to show: read only
        // one it set.
        let read_policy = async {
            if prior.policy.as_ref().is_none_or(Json::is_null) {
                return Ok(None);
            }
            client
                .get_key_policy()
                .key_id(id)
                .policy_name("default")
                .send()
                .await
                .map(|o| Some(o.policy.unwrap_or_default()))
                .map_err(|e| api_error("kms:GetKeyPolicy", e))
        };
        let (rotation, tags, policy) = tokio::join!(
            client.get_key_rotation_status().key_id(id).send(),
            tags_of(&client, id),
            read_policy
        );
        let rotation = rotation
            .map_err(|e| api_error("kms:GetKeyRotationStatus", e))?
            .key_rotation_enabled();
        let tags = tags?;
        // A key this address's delete retained is no longer its key.
        if retained(&tags) {
            return Ok(None);
        }
        let policy = match policy? {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
                ProviderError::new("kms:GetKeyPolicy", format!("key policy is not JSON: {e}"))
            })?),
            None => None,
        };
        Ok(Some(Found {
            inputs: Inputs {
                description: Some(meta.description().unwrap_or_default().to_owned()),
                enable_key_rotation: Some(rotation),
                policy,
                // No AWS call reads them back: they are used at delete.
                deletion_window_in_days: prior.deletion_window_in_days,
                retain_on_delete: prior.retain_on_delete,
                tags: user_tags(tags),
            },
            outputs: outputs(meta.key_id(), meta.arn().unwrap_or_default(), prior),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        inputs.window(ctx)?;
        let client = self.0.kms(&ctx.region);
        if prior.description != inputs.description {
            client
                .update_key_description()
                .key_id(id)
                .description(inputs.description.as_deref().unwrap_or_default())
                .send()
                .await
                .map_err(|e| api_error("kms:UpdateKeyDescription", e))?;
        }
        if prior.rotation() != inputs.rotation() {
            self.set_rotation(&client, id, inputs.rotation()).await?;
        }
        if prior.policy != inputs.policy
            && let Some(doc) = inputs.policy(ctx)?
        {
            self.put_policy(&client, id, &doc).await?;
        }
        retag(&client, id, &prior.tags, &inputs.tags).await?;
        let observed = self.read(ctx, id, inputs).await?.ok_or_else(|| {
            ProviderError::new("kms:DescribeKey", format!("key {id} is gone"))
                .with_code("NotFoundException")
        })?;
        Ok(observed.outputs)
    }

    async fn find(&self, ctx: &OpContext, _inputs: &Inputs) -> Lookup {
        // The identity tags tell this address's key.
        let address = ctx.address.to_string();
        let ours = live_keys_tagged(&self.0.kms(&ctx.region), |tags| {
            tag(tags, TAG_ADDRESS) == Some(&address) && tag(tags, TAG_ENV) == Some(&ctx.env)
        })
        .await?;
        the_one(ctx, ours)
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let days = inputs.window(ctx)?;
        let client = self.0.kms(&ctx.region);
        let result = client.describe_key().key_id(id).send().await;
        let Some(meta) = found(result, NOT_FOUND, "kms:DescribeKey")?
            .and_then(|out| out.key_metadata().cloned())
        else {
            return Ok(());
        };
        // Already pending deletion: done, whoever scheduled it.
        if !live(meta.key_state()) {
            return Ok(());
        }
        let tags: BTreeMap<String, String> = tags_of(&client, id).await?.into_iter().collect();
        // Retained by this address's delete already (a resend).
        let address = ctx.address.to_string();
        if tags.get(TAG_RETAINED_FROM) == Some(&address) && !tags.contains_key(TAG_ADDRESS) {
            return Ok(());
        }
        confirm_owned(ctx, "delete", &format!("KMS key {id}"), &tags, None)?;
        if inputs.retained() {
            return self.retain(ctx, id).await;
        }
        let result = client
            .schedule_key_deletion()
            .key_id(id)
            .pending_window_in_days(days)
            .send()
            .await;
        // Already pending deletion: KMSInvalidStateException.
        match tolerate(result.map(|_| ()), NOT_FOUND, "kms:ScheduleKeyDeletion") {
            Err(e) if e.code.as_deref() == Some("KMSInvalidStateException") => Ok(()),
            other => other,
        }
    }

    /// The environment's live keys, by their `drctl:env` tag; a retained
    /// key is no address's any more, so not listed.
    async fn list(&self, scope: &ListScope) -> Listed {
        live_keys_tagged(&self.0.kms(&scope.region), |tags| {
            tag(tags, TAG_ENV) == Some(scope.env.as_str()) && !retained(tags)
        })
        .await
    }
}
