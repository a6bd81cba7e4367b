//! `s3.bucket_replication`: the replication configuration of a source
//! bucket: one rule for every object to a destination bucket, with
//! replication time control (15 minutes, its one valid value), metrics
//! (which it requires) and delete-marker replication. Both buckets must be
//! versioned first (the blueprint orders that).
//!
//! S3 replicates no object encrypted with SSE-KMS unless the rule says so:
//! with `replica_kms_key_arn`, the rule selects SSE-KMS objects
//! (SourceSelectionCriteria) and the replicas are encrypted with that key
//! of the destination's region (EncryptionConfiguration). The role then
//! needs kms:Decrypt on the source key and kms:Encrypt on the replica key
//! (S3 User Guide, "Replicating encrypted objects").

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_bucket_replication::GetBucketReplicationOutput;
use aws_sdk_s3::types::{
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, EncryptionConfiguration,
    Metrics, MetricsStatus, ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter,
    ReplicationRuleStatus, ReplicationTime, ReplicationTimeStatus, ReplicationTimeValue,
    SourceSelectionCriteria, SseKmsEncryptedObjects, SseKmsEncryptedObjectsStatus,
};
use drctl_core::{Applied, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clients::Clients;
use crate::iam::present;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{api_error, attrs, found, tolerate};

pub static SCHEMA: KindSchema = KindSchema::new("s3.bucket_replication", Latency::calls(1, 1, 1))
    .force_new(&["bucket"])
    .outputs(&["bucket"]);

pub struct BucketReplication(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The source bucket: the id.
    bucket: String,
    role_arn: String,
    rule_id: String,
    destination_bucket_arn: String,
    #[serde(default = "fifteen")]
    replication_time_minutes: i64,
    #[serde(default = "yes")]
    delete_marker_replication: bool,
    /// Absent: not managed; `null` or `""`: SSE-KMS objects not replicated.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    replica_kms_key_arn: Option<Option<String>>,
}

fn fifteen() -> i64 {
    15
}

fn yes() -> bool {
    true
}

const GONE: &[&str] = &["ReplicationConfigurationNotFoundError", "NoSuchBucket"];

fn build_err(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new("s3:PutBucketReplication", e.to_string())
}

impl BucketReplication {
    async fn put(&self, ctx: &OpContext, inputs: &Inputs) -> Result<(), ProviderError> {
        let minutes = inputs.replication_time_minutes;
        // Replication Time Control has one valid time (and metrics
        // threshold): 15 minutes (S3 API Reference, ReplicationTimeValue).
        if minutes != 15 {
            return Err(ProviderError::new(
                "s3:PutBucketReplication",
                format!(
                    "replication_time_minutes is {minutes}: S3 Replication Time Control takes 15 minutes only"
                ),
            )
            .with_code("InvalidArgument"));
        }
        let minutes = minutes as i32;
        let delete_markers = if inputs.delete_marker_replication {
            DeleteMarkerReplicationStatus::Enabled
        } else {
            DeleteMarkerReplicationStatus::Disabled
        };
        let replica_key = inputs
            .replica_kms_key_arn
            .clone()
            .flatten()
            .filter(|k| !k.is_empty());
        let destination = Destination::builder()
            .bucket(&inputs.destination_bucket_arn)
            .replication_time(
                ReplicationTime::builder()
                    .status(ReplicationTimeStatus::Enabled)
                    .time(ReplicationTimeValue::builder().minutes(minutes).build())
                    .build()
                    .map_err(build_err)?,
            )
            .metrics(
                Metrics::builder()
                    .status(MetricsStatus::Enabled)
                    .event_threshold(ReplicationTimeValue::builder().minutes(minutes).build())
                    .build()
                    .map_err(build_err)?,
            )
            .set_encryption_configuration(replica_key.as_ref().map(|k| {
                EncryptionConfiguration::builder()
                    .replica_kms_key_id(k)
                    .build()
            }))
            .build()
            .map_err(build_err)?;
        let selection = match replica_key {
            Some(_) => Some(
                SourceSelectionCriteria::builder()
                    .sse_kms_encrypted_objects(
                        SseKmsEncryptedObjects::builder()
                            .status(SseKmsEncryptedObjectsStatus::Enabled)
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
            ),
            None => None,
        };
        let rule = ReplicationRule::builder()
            .id(&inputs.rule_id)
            .priority(1)
            .status(ReplicationRuleStatus::Enabled)
            .filter(ReplicationRuleFilter::builder().prefix("").build())
            .delete_marker_replication(
                DeleteMarkerReplication::builder()
                    .status(delete_markers)
                    .build(),
            )
            .destination(destination)
            .set_source_selection_criteria(selection)
            .build()
            .map_err(build_err)?;
        let config = ReplicationConfiguration::builder()
            .role(&inputs.role_arn)
            .rules(rule)
            .build()
            .map_err(build_err)?;
        self.0
            .s3(&ctx.region)
            .put_bucket_replication()
            .bucket(&inputs.bucket)
            .replication_configuration(config)
            .send()
            .await
            .map_err(|e| api_error("s3:PutBucketReplication", e))?;
        Ok(())
    }
}

/// The bucket's replication configuration; `None` without one (or
/// without the bucket).
async fn replication(
    s3: &Client,
    bucket: &str,
) -> Result<Option<GetBucketReplicationOutput>, ProviderError> {
    let result = s3.get_bucket_replication().bucket(bucket).send().await;
    found(result, GONE, "s3:GetBucketReplication")
}

#[async_trait]
impl Kind for BucketReplication {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        self.put(ctx, inputs).await?;
        let bucket = inputs.bucket.clone();
        Ok(Applied {
            outputs: attrs([("bucket", json!(bucket))]),
            id: bucket,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let Some(out) = replication(&self.0.s3(&ctx.region), id).await? else {
            return Ok(None);
        };
        let Some(config) = out.replication_configuration() else {
            return Ok(None);
        };
        let Some(rule) = config.rules().first() else {
            return Ok(None);
        };
        let destination = rule.destination();
        let minutes = destination
            .and_then(|d| d.replication_time())
            .and_then(|t| t.time())
            .and_then(|t| t.minutes())
            .unwrap_or(0);
        let delete_markers = rule
            .delete_marker_replication()
            .and_then(|d| d.status())
            .is_some_and(|s| *s == DeleteMarkerReplicationStatus::Enabled);
        // The replica key counts only with SSE-KMS objects selected: S3
        // replicates none of them otherwise.
        let kms_selected = rule
            .source_selection_criteria()
            .and_then(|c| c.sse_kms_encrypted_objects())
            .is_some_and(|o| *o.status() == SseKmsEncryptedObjectsStatus::Enabled);
        let replica_key = destination
            .and_then(|d| d.encryption_configuration())
            .and_then(|e| e.replica_kms_key_id())
            .filter(|_| kms_selected);
        let inputs = Inputs {
            bucket: id.to_owned(),
            role_arn: config.role().to_owned(),
            rule_id: rule.id().unwrap_or_default().to_owned(),
            destination_bucket_arn: destination
                .map(|d| d.bucket())
                .unwrap_or_default()
                .to_owned(),
            replication_time_minutes: minutes.into(),
            delete_marker_replication: delete_markers,
            replica_kms_key_arn: (replica_key.is_some() || prior.replica_kms_key_arn.is_some())
                .then(|| replica_key.map(str::to_owned)),
        };
        Ok(Some(Found {
            inputs,
            outputs: attrs([("bucket", json!(id))]),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, _prior: &Inputs, inputs: &Inputs) -> Updated {
        // PutBucketReplication replaces the whole configuration.
        self.put(ctx, inputs).await?;
        Ok(attrs([("bucket", json!(id))]))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let bucket = inputs.bucket.as_str();
        Ok(self
            .read(ctx, bucket, inputs)
            .await?
            .map(|_| bucket.to_owned()))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let s3 = self.0.s3(&ctx.region);
        // The configuration has no tags: its bucket proves it this
        // environment's.
        let Some(tags) = super::bucket::bucket_tags(&s3, id).await? else {
            return Ok(());
        };
        let named = Some(inputs.bucket.as_str()).filter(|b| *b == id);
        crate::support::confirm_parent_owned(ctx, "delete", &format!("bucket {id}"), &tags, named)?;
        let result = s3.delete_bucket_replication().bucket(id).send().await;
        tolerate(result, GONE, "s3:DeleteBucketReplication")
    }

    /// A configuration has no tags: those of the environment's buckets of
    /// the region that have one.
    async fn list(&self, scope: &ListScope) -> Listed {
        let s3 = self.0.s3(&scope.region);
        let mut ids = Vec::new();
        for bucket in super::bucket::env_buckets(&s3, scope).await? {
            if replication(&s3, &bucket)
                .await?
                .is_some_and(|o| o.replication_configuration().is_some())
            {
                ids.push(bucket);
            }
        }
        Ok(ids)
    }
}
