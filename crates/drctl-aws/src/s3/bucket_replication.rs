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
use aws_sdk_s3::types::{
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, EncryptionConfiguration,
    Metrics, MetricsStatus, ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter,
    ReplicationRuleStatus, ReplicationTime, ReplicationTimeStatus, ReplicationTimeValue,
    SourceSelectionCriteria, SseKmsEncryptedObjects, SseKmsEncryptedObjectsStatus,
};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use crate::clients::Clients;
use crate::support::{api_error, attrs, bool_or, found, opt_str, req_str, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "s3.bucket_replication",
    force_new: &["bucket"],
    outputs: &["bucket"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct BucketReplication(pub(crate) Arc<Clients>);

const GONE: &[&str] = &["ReplicationConfigurationNotFoundError", "NoSuchBucket"];

fn build_err(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new("s3:PutBucketReplication", e.to_string())
}

impl BucketReplication {
    async fn put(&self, ctx: &OpContext, inputs: &Attributes) -> Result<(), ProviderError> {
        let minutes = inputs
            .get("replication_time_minutes")
            .and_then(Json::as_i64)
            .unwrap_or(15) as i32;
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
        let delete_markers = if bool_or(inputs, "delete_marker_replication", true) {
            DeleteMarkerReplicationStatus::Enabled
        } else {
            DeleteMarkerReplicationStatus::Disabled
        };
        let replica_key = opt_str(inputs, "replica_kms_key_arn").filter(|k| !k.is_empty());
        let destination = Destination::builder()
            .bucket(req_str(ctx, inputs, "destination_bucket_arn")?)
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
            .set_encryption_configuration(replica_key.map(|k| {
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
            .id(req_str(ctx, inputs, "rule_id")?)
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
            .role(req_str(ctx, inputs, "role_arn")?)
            .rules(rule)
            .build()
            .map_err(build_err)?;
        self.0
            .s3(&ctx.region)
            .put_bucket_replication()
            .bucket(req_str(ctx, inputs, "bucket")?)
            .replication_configuration(config)
            .send()
            .await
            .map_err(|e| api_error("s3:PutBucketReplication", e))?;
        Ok(())
    }
}

#[async_trait]
impl Provider for BucketReplication {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        self.put(ctx, inputs).await?;
        let bucket = req_str(ctx, inputs, "bucket")?.to_owned();
        Ok(Applied {
            outputs: attrs([("bucket", json!(bucket))]),
            id: bucket,
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let result = self
            .0
            .s3(&ctx.region)
            .get_bucket_replication()
            .bucket(id)
            .send()
            .await;
        let Some(out) = found(result, GONE, "s3:GetBucketReplication")? else {
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
        let mut inputs = attrs([
            ("bucket", json!(id)),
            ("role_arn", json!(config.role())),
            ("rule_id", json!(rule.id())),
            (
                "destination_bucket_arn",
                json!(destination.map(|d| d.bucket())),
            ),
            ("replication_time_minutes", json!(minutes)),
            ("delete_marker_replication", json!(delete_markers)),
        ]);
        if replica_key.is_some() || prior.contains_key("replica_kms_key_arn") {
            inputs.insert("replica_kms_key_arn".into(), json!(replica_key));
        }
        Ok(Some(Observed {
            inputs,
            outputs: attrs([("bucket", json!(id))]),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        // PutBucketReplication replaces the whole configuration.
        self.put(ctx, inputs).await?;
        Ok(attrs([("bucket", json!(id))]))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let bucket = req_str(ctx, inputs, "bucket")?;
        Ok(self
            .read(ctx, bucket, inputs)
            .await?
            .map(|_| bucket.to_owned()))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        // The configuration has no tags: its bucket proves it this
        // environment's.
        let Some(tags) = super::bucket::bucket_tags(&self.0.s3(&ctx.region), id).await? else {
            return Ok(());
        };
        let named = opt_str(inputs, "bucket").filter(|b| *b == id);
        crate::support::confirm_parent_owned(ctx, "delete", &format!("bucket {id}"), &tags, named)?;
        let result = self
            .0
            .s3(&ctx.region)
            .delete_bucket_replication()
            .bucket(id)
            .send()
            .await;
        tolerate(result, GONE, "s3:DeleteBucketReplication")
    }
}
