//! The port: what DR asks of the cloud, in DR's words, and the plain data
//! it gets back. `drctl_aws` implements [`Cloud`] over the AWS SDK (its
//! `dr` module); the tests of status, checks and the switch implement it
//! with a fake. Nothing here names an SDK type, so drctl-dr builds
//! without the provider crate and its rules are tested without AWS.
//!
//! Errors are core's [`ProviderError`] (operation, code, message): what a
//! provider reports, whichever provider.

use drctl_core::ProviderError;

/// The cloud operations the DR domain needs: the reads of its status and
/// checks, and the writes of a switch.
///
/// Regions are named where AWS answers per region: a switch that must not
/// call the failed region says which region each call goes to.
#[async_trait::async_trait]
pub trait Cloud: Send + Sync {
    /// The weights of the traffic records `set_identifiers` of
    /// `name`/`ty` in the hosted zone `zone`, in the same order; `None`
    /// for a record that does not exist (or has no weight).
    async fn record_weights(
        &self,
        zone: &str,
        name: &str,
        ty: &str,
        set_identifiers: &[&str],
    ) -> Result<Vec<Option<i64>>, ProviderError>;

    /// Sets the weights of existing traffic records in one change and
    /// waits until DNS serves it; `Ok(false)` when every record already
    /// had its weight.
    async fn set_record_weights(
        &self,
        zone: &str,
        name: &str,
        ty: &str,
        weights: &[(&str, i64)],
    ) -> Result<bool, ProviderError>;

    /// The global database `id` and its members, asked in `region`;
    /// `None` when there is none.
    async fn global_database(
        &self,
        region: &str,
        id: &str,
    ) -> Result<Option<GlobalDatabase>, ProviderError>;

    /// The status of the regional database cluster `id` (e.g.
    /// `available`); `None` when there is none.
    async fn cluster_status(&self, region: &str, id: &str)
    -> Result<Option<String>, ProviderError>;

    /// Asks for `target_arn` to become the writer of the global database
    /// `id`, calling in `region`. Returns once the cloud accepted it; the
    /// move itself is [`Cloud::wait_for_writer`]'s.
    async fn move_writer(
        &self,
        region: &str,
        id: &str,
        target_arn: &str,
        how: WriterChange,
    ) -> Result<(), ProviderError>;

    /// Waits until `target_arn` writes, the global database is available
    /// and no switch is in progress ([`switch_progress`]), asked in
    /// `region`; reports what it waits for (`drctl_core::waiting`).
    async fn wait_for_writer(
        &self,
        region: &str,
        id: &str,
        target_arn: &str,
    ) -> Result<(), ProviderError>;

    /// The session table `name` and its replicas, in `region`; `None`
    /// when there is none.
    async fn session_table(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<TableState>, ProviderError>;

    /// The replication rules of `bucket`; `None` when it has no
    /// replication configuration (or no longer exists).
    async fn replication_rules(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<Vec<ReplicationRule>>, ProviderError>;

    /// The versioning status of `bucket` (`Enabled`, `Suspended`, or empty
    /// when never enabled); `None` when the bucket does not exist.
    async fn bucket_versioning(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<String>, ProviderError>;

    /// The latest replication lag of the database cluster `cluster_id`
    /// (a secondary of the global database), in seconds, over the last
    /// few minutes; `None` without a measurement.
    async fn replication_lag_seconds(
        &self,
        region: &str,
        cluster_id: &str,
    ) -> Result<Option<f64>, ProviderError>;

    /// The state (`OK`, `ALARM`, `INSUFFICIENT_DATA`) of each of the
    /// alarms `names` in `region` that exists, as (name, state).
    async fn alarm_states(
        &self,
        region: &str,
        names: &[String],
    ) -> Result<Vec<(String, String)>, ProviderError>;

    /// Publishes `value` to the metric `namespace`/`metric` with the one
    /// dimension `dimension` in `region`: how the fence goes up (1) and
    /// comes down (0).
    async fn publish_metric(
        &self,
        region: &str,
        namespace: &str,
        metric: &str,
        dimension: (&str, &str),
        value: f64,
    ) -> Result<(), ProviderError>;

    /// The completed backups into the vault `vault` of `region`.
    async fn completed_backups(
        &self,
        region: &str,
        vault: &str,
    ) -> Result<Vec<CompletedJob>, ProviderError>;

    /// The completed copies from `region` into the vault `destination_arn`.
    async fn completed_copies(
        &self,
        region: &str,
        destination_arn: &str,
    ) -> Result<Vec<CompletedJob>, ProviderError>;
}

/// How the writer of a global database moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriterChange {
    /// A switchover: every member healthy, replication caught up first,
    /// no data lost.
    Switchover,
    /// A failover allowing data loss: for an unavailable writer region;
    /// writes not yet replicated are lost.
    FailoverAllowingDataLoss,
}

/// A member of a global database.
#[derive(Clone, Debug)]
pub struct GlobalMember {
    pub cluster_arn: String,
    pub is_writer: bool,
}

/// A switchover or failover the cloud reports in progress.
#[derive(Clone, Debug)]
pub struct FailoverInProgress {
    pub status: String,
    pub from_cluster_arn: Option<String>,
    pub to_cluster_arn: Option<String>,
    pub data_loss_allowed: bool,
}

/// A global database as the cloud reports it.
#[derive(Clone, Debug)]
pub struct GlobalDatabase {
    pub identifier: String,
    pub status: String,
    pub members: Vec<GlobalMember>,
    pub failover: Option<FailoverInProgress>,
}

impl GlobalDatabase {
    /// The writer member's ARN.
    pub fn writer(&self) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.is_writer)
            .map(|m| m.cluster_arn.as_str())
    }
}

/// A table and its replicas.
#[derive(Clone, Debug)]
pub struct TableState {
    pub status: String,
    /// (region, replica status) per replica.
    pub replicas: Vec<(String, String)>,
}

/// One replication rule of a bucket.
#[derive(Clone, Debug)]
pub struct ReplicationRule {
    pub id: String,
    pub status: String,
    pub destination_bucket_arn: String,
}

/// A completed backup or copy job: when it completed (RFC 3339), what it
/// backed up, and the recovery point it made (the copy's, in the
/// destination vault, for a copy job).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedJob {
    pub completed_at: String,
    /// The same instant in milliseconds since the epoch, for ordering.
    pub completed_ms: i64,
    pub resource_arn: String,
    pub recovery_point_arn: String,
}

/// `FailoverState` `Status` values of a switchover or failover under way
/// (RDS API reference, FailoverState); the other one, `cancelling`, is a
/// switch returning the clusters to their previous roles.
pub const SWITCH_UNDER_WAY: [&str; 3] = ["pending", "switching-over", "failing-over"];

/// Where a switch of the writer to `target_arn` stands in `g`:
/// `Ok(Ok(()))` done (the target writes, the global database is
/// `available`, no switch in progress); `Ok(Err(state))` not yet; an error
/// when it cannot come: another target's switch, or, after a `cancelling`
/// (`cancelled` set once seen), the switch gone with the writer unmoved.
pub fn switch_progress(
    g: Option<&GlobalDatabase>,
    target_arn: &str,
    cancelled: &mut bool,
) -> Result<Result<(), String>, ProviderError> {
    let Some(g) = g else {
        return Ok(Err("not found".to_owned()));
    };
    let fail = |message: String| {
        Err(ProviderError::new("rds:DescribeGlobalClusters", message).with_code("SwitchNotMade"))
    };
    if let Some(f) = &g.failover {
        if f.status == "cancelling" {
            *cancelled = true;
        } else if f
            .to_cluster_arn
            .as_deref()
            .is_some_and(|to| to != target_arn)
        {
            return fail(format!(
                "global cluster {} is {} to {}, not to {target_arn}",
                g.identifier,
                f.status,
                f.to_cluster_arn.as_deref().unwrap_or_default()
            ));
        }
        return Ok(Err(format!("{} (FailoverState {})", g.status, f.status)));
    }
    let writer = g.writer().unwrap_or("none");
    if writer != target_arn {
        if *cancelled {
            return fail(format!(
                "the switch of global cluster {} to {target_arn} was cancelled; the writer is {writer}",
                g.identifier
            ));
        }
        return Ok(Err(format!("{}, writer {writer}", g.status)));
    }
    if g.status != "available" {
        return Ok(Err(g.status.clone()));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: &str = "arn:aws:rds:us-east-1:123456789012:cluster:a";
    const TO: &str = "arn:aws:rds:us-east-2:123456789012:cluster:b";

    fn global(status: &str, writer: &str, failover: Option<(&str, &str)>) -> GlobalDatabase {
        GlobalDatabase {
            identifier: "g".into(),
            status: status.into(),
            members: [FROM, TO]
                .iter()
                .map(|a| GlobalMember {
                    cluster_arn: (*a).into(),
                    is_writer: *a == writer,
                })
                .collect(),
            failover: failover.map(|(s, to)| FailoverInProgress {
                status: s.into(),
                from_cluster_arn: Some(FROM.into()),
                to_cluster_arn: Some(to.into()),
                data_loss_allowed: false,
            }),
        }
    }

    #[test]
    fn a_switch_is_done_once_the_target_writes_and_no_failover_state_is_left() {
        let mut cancelled = false;
        for g in [
            global("switching-over", FROM, Some(("pending", TO))),
            global("switching-over", FROM, Some(("switching-over", TO))),
            // The writer moved, the switch not yet over.
            global("switching-over", TO, Some(("switching-over", TO))),
            global("modifying", TO, None),
            // Not yet reported (the call's answer ahead of the describe).
            global("available", FROM, None),
        ] {
            let progress = switch_progress(Some(&g), TO, &mut cancelled).unwrap();
            assert!(progress.is_err(), "{g:?}");
        }
        let progress = switch_progress(Some(&global("available", TO, None)), TO, &mut cancelled);
        assert_eq!(progress.unwrap(), Ok(()));
        assert!(!cancelled);
    }

    #[test]
    fn a_cancelled_switch_or_another_targets_switch_is_an_error_not_a_wait() {
        let mut cancelled = false;
        let g = global("switching-over", FROM, Some(("cancelling", TO)));
        assert!(
            switch_progress(Some(&g), TO, &mut cancelled)
                .unwrap()
                .is_err()
        );
        assert!(cancelled);
        let e = switch_progress(Some(&global("available", FROM, None)), TO, &mut cancelled)
            .unwrap_err();
        assert!(e.to_string().contains("was cancelled"), "{e}");

        let mut cancelled = false;
        let g = global("switching-over", TO, Some(("switching-over", FROM)));
        let e = switch_progress(Some(&g), TO, &mut cancelled).unwrap_err();
        assert!(e.to_string().contains("not to"), "{e}");
    }
}
