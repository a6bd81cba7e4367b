//! The AWS side of the DR port: [`drctl_dr::Cloud`] implemented for an
//! [`AwsContext`]. Reading what decides whether an environment can fail
//! over (Route 53 weights, the Aurora global cluster, the DynamoDB
//! replica, S3 replication, CloudWatch alarms and the replication lag,
//! AWS Backup jobs), moving the global cluster's writer, shifting the
//! weighted records and publishing the fence metric.
//!
//! Plain functions over names and ARNs, and the trait's methods calling
//! them: drctl-dr knows which resources of its state they are and what
//! the answers mean. Errors keep the AWS code and message.

use std::time::Duration;

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecordSet};
use drctl_core::ProviderError;
use drctl_dr::cloud::{
    Cloud, CompletedJob, FailoverInProgress, GlobalDatabase, GlobalMember, ReplicationRule,
    TableState, WriterChange, switch_progress,
};

use crate::clients::AwsContext;
use crate::route53::wait_insync;
use crate::support::{all_items, api_error, found, wait_for};

/// How long a switchover or failover of the global cluster may take
/// (AWS: typically minutes; bounded so a stuck one is reported).
const GLOBAL_SWITCH_WAIT: Duration = Duration::from_secs(30 * 60);

/// The record sets named `name` of type `ty` in `zone` with these set
/// identifiers, in the same order; `None` for one that does not exist.
async fn record_sets(
    ctx: &AwsContext,
    zone: &str,
    name: &str,
    ty: &str,
    set_identifiers: &[&str],
) -> Result<Vec<Option<ResourceRecordSet>>, ProviderError> {
    crate::route53::record::record_sets(&ctx.route53(), zone, name, ty, set_identifiers)
        .await?
        .ok_or_else(|| {
            ProviderError::new(
                "route53:ListResourceRecordSets",
                format!("hosted zone {zone} does not exist"),
            )
        })
}

/// The global cluster `id`, asked in `region` (any region with a member
/// answers for it); `None` when there is none.
#[tracing::instrument(level = "debug", skip(ctx), err(Display))]
async fn global_cluster(
    ctx: &AwsContext,
    region: &str,
    id: &str,
) -> Result<Option<GlobalDatabase>, ProviderError> {
    let result = ctx
        .rds(region)
        .describe_global_clusters()
        .global_cluster_identifier(id)
        .send()
        .await;
    let Some(out) = found(
        result,
        &["GlobalClusterNotFoundFault"],
        "rds:DescribeGlobalClusters",
    )?
    else {
        return Ok(None);
    };
    Ok(out
        .global_clusters()
        .iter()
        .find(|g| g.global_cluster_identifier() == Some(id))
        .map(|g| GlobalDatabase {
            identifier: id.to_owned(),
            status: g.status().unwrap_or("unknown").to_owned(),
            members: g
                .global_cluster_members()
                .iter()
                .map(|m| GlobalMember {
                    cluster_arn: m.db_cluster_arn().unwrap_or_default().to_owned(),
                    is_writer: m.is_writer().unwrap_or(false),
                })
                .collect(),
            failover: g.failover_state().map(|f| FailoverInProgress {
                status: f
                    .status()
                    .map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
                from_cluster_arn: f.from_db_cluster_arn().map(str::to_owned),
                to_cluster_arn: f.to_db_cluster_arn().map(str::to_owned),
                data_loss_allowed: f.is_data_loss_allowed().unwrap_or(false),
            }),
        }))
}

/// How far back the replication lag (`Cloud::replication_lag_seconds`) looks for a datapoint: CloudWatch
/// publishes the Aurora metrics every minute, so a few minutes hold
/// several; an older value says nothing about the lag now.
pub const LAG_WINDOW: Duration = Duration::from_secs(5 * 60);

fn rfc3339(t: Option<&aws_smithy_types::DateTime>) -> String {
    t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
        .unwrap_or_default()
}

fn millis(t: Option<&aws_smithy_types::DateTime>) -> i64 {
    t.and_then(|t| t.to_millis().ok()).unwrap_or(0)
}

/// The DR port over AWS.
#[async_trait::async_trait]
impl Cloud for AwsContext {
    /// The weights of the record sets `set_identifiers` of `name`/`ty`.
    #[tracing::instrument(level = "debug", skip(self), err(Display))]
    async fn record_weights(
        &self,
        zone: &str,
        name: &str,
        ty: &str,
        set_identifiers: &[&str],
    ) -> Result<Vec<Option<i64>>, ProviderError> {
        Ok(record_sets(self, zone, name, ty, set_identifiers)
            .await?
            .into_iter()
            .map(|r| r.and_then(|r| r.weight()))
            .collect())
    }

    /// Sets the weights of existing record sets in one change batch, each
    /// UPSERT repeating the record set exactly as Route 53 holds it (alias
    /// target, health check) with only its weight changed, and waits until
    /// the change is INSYNC. Record sets already at their weight are left out;
    /// `Ok(false)` when none needed a change.
    #[tracing::instrument(level = "info", skip(self), err(Display))]
    async fn set_record_weights(
        &self,
        zone: &str,
        name: &str,
        ty: &str,
        weights: &[(&str, i64)],
    ) -> Result<bool, ProviderError> {
        let ids: Vec<&str> = weights.iter().map(|(id, _)| *id).collect();
        let current = record_sets(self, zone, name, ty, &ids).await?;
        let mut changes = Vec::new();
        for ((id, weight), set) in weights.iter().zip(current) {
            let Some(mut set) = set else {
                return Err(ProviderError::new(
                    "route53:ListResourceRecordSets",
                    format!("no record set {name} {ty} with set identifier {id} in zone {zone}"),
                )
                .with_code("NoSuchRecordSet"));
            };
            if set.weight() == Some(*weight) {
                continue;
            }
            set.weight = Some(*weight);
            changes.push(
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(set)
                    .build()
                    .map_err(|e| ProviderError::new("route53:Change", e.to_string()))?,
            );
        }
        if changes.is_empty() {
            return Ok(false);
        }
        let batch = ChangeBatch::builder()
            .comment("drctl: shift traffic between regions")
            .set_changes(Some(changes))
            .build()
            .map_err(|e| ProviderError::new("route53:ChangeBatch", e.to_string()))?;
        let client = self.route53();
        let out = client
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| api_error("route53:ChangeResourceRecordSets", e))?;
        if let Some(info) = out.change_info() {
            wait_insync(&client, &info.id).await?;
        }
        Ok(true)
    }

    async fn global_database(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Option<GlobalDatabase>, ProviderError> {
        global_cluster(self, region, id).await
    }

    /// The status of the regional cluster `id` (e.g. `available`); `None` when
    /// there is none.
    #[tracing::instrument(level = "debug", skip(self), err(Display))]
    async fn cluster_status(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Option<String>, ProviderError> {
        let result = self
            .rds(region)
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await;
        let out = found(
            result,
            &["DBClusterNotFoundFault"],
            "rds:DescribeDBClusters",
        )?;
        Ok(out.and_then(|o| {
            o.db_clusters()
                .first()
                .map(|c| c.status().unwrap_or("unknown").to_owned())
        }))
    }

    /// Asks AWS to make `target_arn` the writer of the global cluster `id`,
    /// calling in `region`: for a switchover, the region of the primary
    /// (writer) cluster; for a failover, the target's, which answers when the
    /// writer's does not (Aurora User Guide, "Using switchover or failover in
    /// Amazon Aurora Global Database": the CLI procedures' `--region`).
    /// AWS answers at once and switches asynchronously: `wait_for_writer`.
    #[tracing::instrument(level = "info", skip(self), err(Display))]
    async fn move_writer(
        &self,
        region: &str,
        id: &str,
        target_arn: &str,
        how: WriterChange,
    ) -> Result<(), ProviderError> {
        let rds = self.rds(region);
        match how {
            WriterChange::Switchover => rds
                .switchover_global_cluster()
                .global_cluster_identifier(id)
                .target_db_cluster_identifier(target_arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| api_error("rds:SwitchoverGlobalCluster", e)),
            WriterChange::FailoverAllowingDataLoss => rds
                .failover_global_cluster()
                .global_cluster_identifier(id)
                .target_db_cluster_identifier(target_arn)
                .allow_data_loss(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| api_error("rds:FailoverGlobalCluster", e)),
        }
    }

    /// Waits until `target_arn` is the writer of the global cluster `id`, the
    /// global cluster is `available` and no switchover or failover is in
    /// progress (asked in `region`: any region with a member answers), for at
    /// most 30 minutes; each state seen is reported (`drctl_core::waiting`).
    #[tracing::instrument(level = "debug", skip(self), err(Display))]
    async fn wait_for_writer(
        &self,
        region: &str,
        id: &str,
        target_arn: &str,
    ) -> Result<(), ProviderError> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let cancelled = AtomicBool::new(false);
        wait_for(
            &format!("Aurora global cluster {id}, writer {target_arn}"),
            GLOBAL_SWITCH_WAIT,
            || async {
                let g = global_cluster(self, region, id).await?;
                let mut seen = cancelled.load(Ordering::Relaxed);
                let progress = switch_progress(g.as_ref(), target_arn, &mut seen);
                cancelled.store(seen, Ordering::Relaxed);
                progress
            },
        )
        .await
    }

    /// The table `name` in `region`; `None` when there is none.
    #[tracing::instrument(level = "debug", skip(self), err(Display))]
    async fn session_table(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<TableState>, ProviderError> {
        let result = self
            .dynamodb(region)
            .describe_table()
            .table_name(name)
            .send()
            .await;
        let out = found(
            result,
            &["ResourceNotFoundException"],
            "dynamodb:DescribeTable",
        )?;
        Ok(out.and_then(|o| o.table).map(|t| TableState {
            status: t
                .table_status()
                .map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
            replicas: t
                .replicas()
                .iter()
                .map(|r| {
                    (
                        r.region_name().unwrap_or_default().to_owned(),
                        r.replica_status()
                            .map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
                    )
                })
                .collect(),
        }))
    }

    /// The replication rules of `bucket`; `None` when it has no replication
    /// configuration (or no longer exists).
    #[tracing::instrument(level = "debug", skip(self), err(Display))]
    async fn replication_rules(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<Vec<ReplicationRule>>, ProviderError> {
        let result = self
            .s3(region)
            .get_bucket_replication()
            .bucket(bucket)
            .send()
            .await;
        let out = found(
            result,
            &["ReplicationConfigurationNotFoundError", "NoSuchBucket"],
            "s3:GetBucketReplication",
        )?;
        Ok(out.and_then(|o| o.replication_configuration).map(|c| {
            c.rules
                .iter()
                .map(|r| ReplicationRule {
                    id: r.id().unwrap_or_default().to_owned(),
                    status: r.status.as_str().to_owned(),
                    destination_bucket_arn: r
                        .destination()
                        .map(|d| d.bucket.clone())
                        .unwrap_or_default(),
                })
                .collect()
        }))
    }

    /// The versioning status of `bucket` (`Enabled`, `Suspended`, or empty
    /// when never enabled); `None` when the bucket does not exist.
    #[tracing::instrument(level = "debug", skip(self), err(Display))]
    async fn bucket_versioning(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<String>, ProviderError> {
        let result = self
            .s3(region)
            .get_bucket_versioning()
            .bucket(bucket)
            .send()
            .await;
        let out = found(result, &["NoSuchBucket"], "s3:GetBucketVersioning")?;
        Ok(out.map(|o| {
            o.status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default()
        }))
    }

    /// The latest one-minute maximum of `AuroraGlobalDBRPOLag` of the
    /// cluster `cluster_id`, in seconds, over the last [`LAG_WINDOW`]; `None`
    /// without a datapoint. Aurora publishes it for each secondary cluster of
    /// an Aurora PostgreSQL global database, in milliseconds, in namespace
    /// `AWS/RDS` (Aurora User Guide, "Metrics reference for Amazon Aurora";
    /// "Using switchover or failover in an Amazon Aurora global database":
    /// check it before a switchover). The guide leaves the dimension set
    /// open (`DBClusterIdentifier`, with `SourceRegion` in the console), and
    /// GetMetricData matches a dimension set exactly, so ListMetrics first
    /// finds every set that has `DBClusterIdentifier` = the cluster (it
    /// matches a subset); the highest of their latest values counts.
    #[tracing::instrument(level = "debug", skip(self), err(Display))]
    async fn replication_lag_seconds(
        &self,
        region: &str,
        cluster_id: &str,
    ) -> Result<Option<f64>, ProviderError> {
        use aws_sdk_cloudwatch::primitives::DateTime;
        use aws_sdk_cloudwatch::types::{
            DimensionFilter, MetricDataQuery, MetricStat, RecentlyActive, ScanBy,
        };
        const METRIC: &str = "AuroraGlobalDBRPOLag";
        let client = self.cloudwatch(region);
        let listed = client
            .list_metrics()
            .namespace("AWS/RDS")
            .metric_name(METRIC)
            .dimensions(
                DimensionFilter::builder()
                    .name("DBClusterIdentifier")
                    .value(cluster_id)
                    .build(),
            )
            // Only metrics with a datapoint in the last 3 hours.
            .recently_active(RecentlyActive::Pt3H)
            .send()
            .await
            .map_err(|e| api_error("cloudwatch:ListMetrics", e))?;
        // A handful of dimension sets at most; GetMetricData takes 500 queries.
        let queries: Vec<MetricDataQuery> = listed
            .metrics()
            .iter()
            .take(20)
            .enumerate()
            .map(|(i, m)| {
                MetricDataQuery::builder()
                    .id(format!("lag{i}"))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(m.clone())
                            .period(60)
                            .stat("Maximum")
                            .build(),
                    )
                    .return_data(true)
                    .build()
            })
            .collect();
        if queries.is_empty() {
            return Ok(None);
        }
        let now = std::time::SystemTime::now();
        let out = client
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(DateTime::from(now - LAG_WINDOW))
            .end_time(DateTime::from(now))
            .scan_by(ScanBy::TimestampDescending)
            .send()
            .await
            .map_err(|e| api_error("cloudwatch:GetMetricData", e))?;
        Ok(out
            .metric_data_results()
            .iter()
            .filter_map(|r| r.values().first().copied())
            .reduce(f64::max)
            .map(|ms| ms / 1000.0))
    }

    /// The state (`OK`, `ALARM`, `INSUFFICIENT_DATA`) of each of the metric
    /// alarms `names` in `region` that exists, as (name, state), asked with
    /// DescribeAlarms (at most 100 names per call, CloudWatch API reference).
    #[tracing::instrument(level = "debug", skip(self), err(Display))]
    async fn alarm_states(
        &self,
        region: &str,
        names: &[String],
    ) -> Result<Vec<(String, String)>, ProviderError> {
        let client = self.cloudwatch(region);
        let mut states = Vec::new();
        for chunk in names.chunks(100) {
            let mut token = None;
            loop {
                let out = client
                    .describe_alarms()
                    .set_alarm_names(Some(chunk.to_vec()))
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| api_error("cloudwatch:DescribeAlarms", e))?;
                for a in out.metric_alarms() {
                    states.push((
                        a.alarm_name().unwrap_or_default().to_owned(),
                        a.state_value()
                            .map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
                    ));
                }
                token = out.next_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(states)
    }

    /// Publishes `value` to the metric `namespace`/`metric` with the one
    /// dimension `dimension` = `dimension_value` in `region` (PutMetricData: a
    /// data-plane call of that region's CloudWatch, standard resolution).
    #[tracing::instrument(level = "info", skip(self), err(Display))]
    async fn publish_metric(
        &self,
        region: &str,
        namespace: &str,
        metric: &str,
        dimension: (&str, &str),
        value: f64,
    ) -> Result<(), ProviderError> {
        use aws_sdk_cloudwatch::primitives::DateTime;
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
        let datum = MetricDatum::builder()
            .metric_name(metric)
            .dimensions(
                Dimension::builder()
                    .name(dimension.0)
                    .value(dimension.1)
                    .build(),
            )
            .value(value)
            .timestamp(DateTime::from(std::time::SystemTime::now()))
            .build();
        self.cloudwatch(region)
            .put_metric_data()
            .namespace(namespace)
            .metric_data(datum)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error("cloudwatch:PutMetricData", e))
    }

    /// The completed backup jobs into the vault `vault` of `region`
    /// (ListBackupJobs, ByBackupVaultName, ByState COMPLETED: AWS lists the
    /// jobs of the last 30 days).
    #[tracing::instrument(level = "debug", skip(self), err(Display))]
    async fn completed_backups(
        &self,
        region: &str,
        vault: &str,
    ) -> Result<Vec<CompletedJob>, ProviderError> {
        let jobs = self
            .backup(region)
            .list_backup_jobs()
            .by_backup_vault_name(vault)
            .by_state(aws_sdk_backup::types::BackupJobState::Completed)
            .into_paginator()
            .items()
            .send();
        let jobs = all_items(jobs, "backup:ListBackupJobs").await?;
        Ok(jobs.iter().map(Job::completed).collect())
    }

    /// The completed copy jobs of `region` into the vault `destination_arn`
    /// (ListCopyJobs in the source's region, ByDestinationVaultArn, ByState
    /// COMPLETED).
    #[tracing::instrument(level = "debug", skip(self), err(Display))]
    async fn completed_copies(
        &self,
        region: &str,
        destination_arn: &str,
    ) -> Result<Vec<CompletedJob>, ProviderError> {
        let jobs = self
            .backup(region)
            .list_copy_jobs()
            .by_destination_vault_arn(destination_arn)
            .by_state(aws_sdk_backup::types::CopyJobState::Completed)
            .into_paginator()
            .items()
            .send();
        let jobs = all_items(jobs, "backup:ListCopyJobs").await?;
        Ok(jobs.iter().map(Job::completed).collect())
    }
}

/// A job's completion time, resource ARN and recovery point ARN.
type JobParts<'a> = (
    Option<&'a aws_smithy_types::DateTime>,
    Option<&'a str>,
    Option<&'a str>,
);

/// A backup or copy job as the SDK lists it: when it completed, what it
/// backed up and the recovery point it made (for a copy, the one in the
/// destination vault).
trait Job {
    fn parts(&self) -> JobParts<'_>;

    /// The job as DR reads it.
    fn completed(&self) -> CompletedJob {
        let (at, resource_arn, recovery_point_arn) = self.parts();
        CompletedJob {
            completed_at: rfc3339(at),
            completed_ms: millis(at),
            resource_arn: resource_arn.unwrap_or_default().to_owned(),
            recovery_point_arn: recovery_point_arn.unwrap_or_default().to_owned(),
        }
    }
}

impl Job for aws_sdk_backup::types::BackupJob {
    fn parts(&self) -> JobParts<'_> {
        (
            self.completion_date(),
            self.resource_arn(),
            self.recovery_point_arn(),
        )
    }
}

impl Job for aws_sdk_backup::types::CopyJob {
    fn parts(&self) -> JobParts<'_> {
        (
            self.completion_date(),
            self.resource_arn(),
            self.destination_recovery_point_arn(),
        )
    }
}
