//! `dynamodb.table`: an on-demand table with a stream, point-in-time
//! recovery and replicas in other regions (global tables version
//! 2019.11.21). Its id is the table name; the resource lives in the
//! context's region and owns its replicas.
//!
//! AWS carries neither point-in-time recovery nor tags from the table to
//! a replica: both are set on each replica, in its region, and read back
//! from there. Replication uses the table's stream (NEW_AND_OLD_IMAGES),
//! which AWS refuses to disable while the table has replicas: replicas
//! leave before the stream changes and join after.
//!
//! `kms_key_arn` encrypts the table with a customer key of its region;
//! each replica then needs a key of its own region in
//! `replica_kms_key_arns` (AWS: "KMSMasterKeyId must be specified for each
//! replica"; a KMS key is regional). The table's key changes in place
//! (UpdateTable SSESpecification); a replica's cannot, so a replica whose
//! key changes leaves and joins again, as Terraform's provider does it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateReplicationGroupMemberAction,
    DeleteReplicationGroupMemberAction, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, PointInTimeRecoveryStatus, ReplicaStatus,
    ReplicationGroupUpdate, ScalarAttributeType, SseSpecification, SseStatus, SseType,
    StreamSpecification, StreamViewType, TableDescription, TableStatus, Tag,
};
use aws_smithy_types::error::operation::BuildError;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;

use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{
    all_items, api_error, attrs, confirm_owned, found, has_code_in, invalid, retry_while, wait_for,
};
use crate::tags::{arn_tag_api, checked, in_env, retag, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new(
    "dynamodb.table",
    Latency {
        create: 300,
        update: 60,
        delete: 300,
        basis: "table ACTIVE in seconds; a replica of an empty table takes a few minutes (CloudFormation AWS::DynamoDB::GlobalTable docs)",
    },
)
.force_new(&["table_name", "hash_key", "hash_key_type"])
.outputs(&["arn", "table_name", "stream_arn"])
// Re-enabling the stream with another view type starts a new stream.
.volatile_outputs(&["stream_arn"])
.holds_data();

pub struct Table(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    table_name: String,
    hash_key: String,
    /// `S`, `N` or `B`.
    hash_key_type: String,
    /// `PAY_PER_REQUEST` only.
    billing_mode: String,
    #[serde(default)]
    point_in_time_recovery: bool,
    /// Null (or absent) for no stream.
    #[serde(default)]
    stream_view_type: Option<String>,
    #[serde(default)]
    replica_regions: BTreeSet<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    /// A customer key of the table's region. Absent: AWS owned; null, as
    /// a read shows a table back on an AWS owned key when the inputs had
    /// one (so that it shows as drift).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    kms_key_arn: Option<Option<String>>,
    /// Replica region -> a customer key of that region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replica_kms_key_arns: Option<BTreeMap<String, String>>,
}

/// A field that may be null as well as absent: `Some(None)` for null.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl Inputs {
    /// The customer key of the table, if it has one.
    fn table_key(&self) -> Option<&str> {
        self.kms_key_arn
            .as_ref()
            .and_then(|k| k.as_deref())
            .filter(|k| !k.is_empty())
    }

    /// The `replica_kms_key_arns` input: replica region -> key ARN.
    fn replica_keys(&self) -> BTreeMap<String, String> {
        self.replica_kms_key_arns.clone().unwrap_or_default()
    }
}

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];
const TABLE_WAIT: Duration = Duration::from_secs(30 * 60);
/// Creating a replica copies the table's data to the new region.
const REPLICA_WAIT: Duration = Duration::from_secs(2 * 60 * 60);

fn build(op: &'static str) -> impl Fn(BuildError) -> ProviderError {
    move |e| ProviderError::new(op, e.to_string())
}

/// Only on-demand capacity: provisioned throughput is not an input.
fn billing_mode(ctx: &OpContext, inputs: &Inputs) -> Result<BillingMode, ProviderError> {
    match inputs.billing_mode.as_str() {
        "PAY_PER_REQUEST" => Ok(BillingMode::PayPerRequest),
        other => Err(invalid(
            ctx,
            format!("billing mode `{other}` is not supported (PAY_PER_REQUEST)"),
        )),
    }
}

/// The stream specification, or `None` for no stream (`stream_view_type`
/// null or absent).
fn stream(inputs: &Inputs) -> Result<Option<StreamSpecification>, ProviderError> {
    inputs
        .stream_view_type
        .as_deref()
        .map(|t| {
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(t))
                .build()
                .map_err(build("dynamodb:StreamSpecification"))
        })
        .transpose()
}

/// The only stream view type a table with replicas can have: replication
/// reads it, and AWS refuses to disable it while replicas exist.
const REPLICATED_VIEW: &str = "NEW_AND_OLD_IMAGES";

/// Refuses replicas without the stream they replicate from, before any
/// call: AWS would refuse the update that disables the stream, or turn
/// the stream on by itself, never matching the inputs.
fn check_replicated_stream(ctx: &OpContext, inputs: &Inputs) -> Result<(), ProviderError> {
    let view = inputs.stream_view_type.as_deref();
    if !inputs.replica_regions.is_empty() && view != Some(REPLICATED_VIEW) {
        return Err(invalid(
            ctx,
            format!(
                "replica_regions need stream_view_type {REPLICATED_VIEW} (global tables replicate through the stream), not {}",
                view.unwrap_or("none")
            ),
        ));
    }
    Ok(())
}

/// The region a KMS key ARN names (`arn:<partition>:kms:<region>:...`).
fn key_region(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn") && parts.nth(1) == Some("kms"))
        .then(|| parts.next())
        .flatten()
}

/// Refuses, before any call, keys AWS would refuse: a key outside its
/// member's region, a replica without a key when the table has one, a
/// replica key without a table key, a key for a region that is no replica.
fn check_keys(ctx: &OpContext, inputs: &Inputs) -> Result<(), ProviderError> {
    let keys = inputs.replica_keys();
    let regions = &inputs.replica_regions;
    let Some(key) = inputs.table_key() else {
        if keys.is_empty() {
            return Ok(());
        }
        return Err(invalid(
            ctx,
            "`replica_kms_key_arns` needs `kms_key_arn`: replicas of a table encrypted with an AWS owned key cannot have customer keys",
        ));
    };
    if key_region(key) != Some(ctx.region.as_str()) {
        return Err(invalid(
            ctx,
            format!(
                "`kms_key_arn` {key} is not a key ARN of {}: a table takes a key of its own region",
                ctx.region
            ),
        ));
    }
    for region in regions {
        match keys.get(region) {
            None => {
                return Err(invalid(
                    ctx,
                    format!(
                        "`replica_kms_key_arns` has no key for replica region {region}: AWS needs a customer key in each replica's region when the table has one"
                    ),
                ));
            }
            Some(k) if key_region(k) != Some(region.as_str()) => {
                return Err(invalid(
                    ctx,
                    format!(
                        "`replica_kms_key_arns.{region}` {k} is not a key ARN of {region}: a replica takes a key of its own region"
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = keys.keys().find(|r| !regions.contains(*r)) {
        return Err(invalid(
            ctx,
            format!("`replica_kms_key_arns` names {extra}, which is not in `replica_regions`"),
        ));
    }
    Ok(())
}

/// CreateTable's and UpdateTable's SSESpecification for `inputs`: the
/// customer key, or AWS owned when none (`Enabled` false).
fn sse(inputs: &Inputs) -> SseSpecification {
    match inputs.table_key() {
        Some(key) => SseSpecification::builder()
            .enabled(true)
            .sse_type(SseType::Kms)
            .kms_master_key_id(key)
            .build(),
        None => SseSpecification::builder().enabled(false).build(),
    }
}

/// The customer key a member's description names, if encrypted with one.
fn observed_key(t: &TableDescription) -> Option<String> {
    t.sse_description()
        .filter(|d| {
            matches!(d.status(), Some(SseStatus::Enabled | SseStatus::Updating))
                && d.sse_type() == Some(&SseType::Kms)
        })
        .and_then(|d| d.kms_master_key_arn())
        .map(str::to_owned)
}

/// The regions of the table's replicas other than its own.
fn observed_replicas(t: &TableDescription, own: &str) -> BTreeSet<String> {
    t.replicas()
        .iter()
        .filter_map(|r| r.region_name())
        .filter(|r| *r != own)
        .map(str::to_owned)
        .collect()
}

fn replica_status<'a>(t: &'a TableDescription, region: &str) -> Option<&'a ReplicaStatus> {
    t.replicas()
        .iter()
        .find(|r| r.region_name() == Some(region))
        .and_then(|r| r.replica_status())
}

fn stream_enabled(t: &TableDescription) -> bool {
    t.stream_specification().is_some_and(|s| s.stream_enabled())
}

fn outputs(name: &str, t: &TableDescription) -> Attributes {
    let stream_arn = if stream_enabled(t) {
        t.latest_stream_arn().unwrap_or_default()
    } else {
        ""
    };
    attrs([
        ("arn", json!(t.table_arn().unwrap_or_default())),
        ("table_name", json!(name)),
        ("stream_arn", json!(stream_arn)),
    ])
}

async fn describe(ddb: &Client, name: &str) -> Result<Option<TableDescription>, ProviderError> {
    let result = ddb.describe_table().table_name(name).send().await;
    let out = found(result, NOT_FOUND, "dynamodb:DescribeTable")?;
    Ok(out.and_then(|o| o.table().cloned()))
}

/// Waits until the table is ACTIVE and `ready` holds for it.
async fn wait_table(
    ddb: &Client,
    name: &str,
    what: &str,
    limit: Duration,
    ready: impl Fn(&TableDescription) -> Result<(), String>,
) -> Result<TableDescription, ProviderError> {
    wait_for(&format!("table {name} {what}"), limit, || async {
        Ok(match describe(ddb, name).await? {
            Some(t) if t.table_status() != Some(&TableStatus::Active) => Err(t
                .table_status()
                .map(|s| s.as_str())
                .unwrap_or("unknown")
                .to_owned()),
            Some(t) => ready(&t).map(|()| t),
            None => Err("not found".to_owned()),
        })
    })
    .await
}

async fn wait_active(ddb: &Client, name: &str) -> Result<TableDescription, ProviderError> {
    wait_table(ddb, name, "ACTIVE", TABLE_WAIT, |_| Ok(())).await
}

/// A replica to add (encrypted with the key when one is given) or remove.
#[derive(Clone, Copy)]
enum ReplicaChange<'a> {
    Add(Option<&'a str>),
    Remove,
}

/// Adds or removes the replica in `region` (one per UpdateTable call, as
/// AWS requires) and waits until it is ACTIVE, or no longer listed.
async fn change_replica(
    ddb: &Client,
    name: &str,
    region: &str,
    change: ReplicaChange<'_>,
) -> Result<(), ProviderError> {
    let update = ReplicationGroupUpdate::builder();
    let update = match change {
        ReplicaChange::Add(key) => update.create(
            CreateReplicationGroupMemberAction::builder()
                .region_name(region)
                .set_kms_master_key_id(key.map(str::to_owned))
                .build()
                .map_err(build("dynamodb:UpdateTable"))?,
        ),
        ReplicaChange::Remove => update.delete(
            DeleteReplicationGroupMemberAction::builder()
                .region_name(region)
                .build()
                .map_err(build("dynamodb:UpdateTable"))?,
        ),
    };
    let adding = matches!(change, ReplicaChange::Add(_));
    let sent = ddb
        .update_table()
        .table_name(name)
        .replica_updates(update.build())
        .send()
        .await;
    // Sent again after a lost answer, the call is refused (the replica
    // "already existed as tables", or "does not exist"): the replica
    // listed, or no longer listed or being deleted, says the first call
    // acted.
    if let Err(e) = sent {
        let table = describe(ddb, name).await?;
        let acted = match table.as_ref().map(|t| replica_status(t, region)) {
            Some(Some(ReplicaStatus::Deleting) | None) | None => !adding,
            Some(Some(_)) => adding,
        };
        if !acted {
            return Err(api_error("dynamodb:UpdateTable", e));
        }
    }
    let goal = if adding { "ACTIVE" } else { "deleted" };
    wait_table(
        ddb,
        name,
        &format!("replica {region} {goal}"),
        REPLICA_WAIT,
        |t| match (replica_status(t, region), adding) {
            (Some(ReplicaStatus::Active), true) | (None, false) => Ok(()),
            (Some(s), _) => Err(format!("replica {region} {}", s.as_str())),
            (None, true) => Err(format!("replica {region} not listed")),
        },
    )
    .await?;
    Ok(())
}

async fn set_pitr(ddb: &Client, name: &str, enabled: bool) -> Result<(), ProviderError> {
    let spec = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(enabled)
        .build()
        .map_err(build("dynamodb:UpdateContinuousBackups"))?;
    // Right after CreateTable, backups may not be available yet.
    retry_while(
        Duration::from_secs(5 * 60),
        |e| e.code.as_deref() == Some("ContinuousBackupsUnavailableException"),
        || async {
            ddb.update_continuous_backups()
                .table_name(name)
                .point_in_time_recovery_specification(spec.clone())
                .send()
                .await
                .map_err(|e| api_error("dynamodb:UpdateContinuousBackups", e))
        },
    )
    .await?;
    Ok(())
}

/// Applies a stream change: off, then on with the new view type (AWS
/// cannot change the view type of an enabled stream).
async fn set_stream(
    ddb: &Client,
    name: &str,
    prior: &Inputs,
    inputs: &Inputs,
) -> Result<(), ProviderError> {
    if prior.stream_view_type.is_some() {
        ddb.update_table()
            .table_name(name)
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(false)
                    .build()
                    .map_err(build("dynamodb:StreamSpecification"))?,
            )
            .send()
            .await
            .map_err(|e| api_error("dynamodb:UpdateTable", e))?;
        wait_active(ddb, name).await?;
    }
    if let Some(spec) = stream(inputs)? {
        ddb.update_table()
            .table_name(name)
            .stream_specification(spec)
            .send()
            .await
            .map_err(|e| api_error("dynamodb:UpdateTable", e))?;
        wait_active(ddb, name).await?;
    }
    Ok(())
}

arn_tag_api!(Client, "dynamodb", checked::<Tag>);

/// Every tag of the table `arn`, drctl's included.
async fn list_tags(ddb: &Client, arn: &str) -> Result<BTreeMap<String, String>, ProviderError> {
    let mut tags = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let out = ddb
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| api_error("dynamodb:ListTagsOfResource", e))?;
        tags.extend(
            out.tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned())),
        );
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(tags),
        }
    }
}

/// Whether point-in-time recovery is on for the table; `None` when the
/// table is gone.
async fn pitr_enabled(ddb: &Client, name: &str) -> Result<Option<bool>, ProviderError> {
    let result = ddb
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await;
    let Some(backups) = found(
        result,
        &["TableNotFoundException", "ResourceNotFoundException"],
        "dynamodb:DescribeContinuousBackups",
    )?
    else {
        return Ok(None);
    };
    Ok(Some(
        backups
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            == Some(&PointInTimeRecoveryStatus::Enabled),
    ))
}

/// Makes the tags of one member of the global table (the table or a
/// replica, through its region's client) `want`: TagResource for what is
/// missing or different, UntagResource for the rest (but `aws:` keys,
/// which are AWS's).
async fn sync_member_tags(
    ddb: &Client,
    name: &str,
    want: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let t = describe(ddb, name).await?.ok_or_else(|| {
        ProviderError::new("dynamodb:DescribeTable", format!("table {name} not found"))
            .with_code("ResourceNotFoundException")
    })?;
    let arn = t.table_arn().unwrap_or_default();
    let mut have = list_tags(ddb, arn).await?;
    have.retain(|k, _| !k.starts_with("aws:"));
    retag(ddb, arn, &have, want).await
}

impl Table {
    /// Gives a replica what AWS does not carry over from the table:
    /// point-in-time recovery and the tags.
    async fn configure_replica(
        &self,
        ctx: &OpContext,
        name: &str,
        region: &str,
        inputs: &Inputs,
    ) -> Result<(), ProviderError> {
        let ddb = self.0.dynamodb(region);
        if inputs.point_in_time_recovery {
            set_pitr(&ddb, name, true).await?;
        }
        sync_member_tags(&ddb, name, &with_identity(ctx, &inputs.tags)).await
    }
}

#[async_trait]
impl Kind for Table {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let name = &inputs.table_name;
        let hash_key = &inputs.hash_key;
        check_replicated_stream(ctx, inputs)?;
        check_keys(ctx, inputs)?;
        let ddb = self.0.dynamodb(&ctx.region);
        let tags = to_sdk::<Tag>(with_identity(ctx, &inputs.tags))?;
        // CreateTable takes no idempotency token; a resend of one that
        // happened finds the name in use.
        let request = self
            .0
            .dynamodb_once(&ctx.region)
            .create_table()
            .table_name(name)
            .billing_mode(billing_mode(ctx, inputs)?)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(hash_key)
                    .attribute_type(ScalarAttributeType::from(inputs.hash_key_type.as_str()))
                    .build()
                    .map_err(build("dynamodb:CreateTable"))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(hash_key)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(build("dynamodb:CreateTable"))?,
            )
            .set_stream_specification(stream(inputs)?)
            .set_sse_specification(inputs.table_key().map(|_| sse(inputs)))
            .set_tags(Some(tags));
        create_or_find(
            self,
            ctx,
            inputs,
            "dynamodb:CreateTable",
            &["ResourceInUseException"],
            || request.clone().send(),
        )
        .await?;
        wait_active(&ddb, name).await?;
        if inputs.point_in_time_recovery {
            set_pitr(&ddb, name, true).await?;
        }
        // One replica per UpdateTable call, as AWS requires.
        let keys = inputs.replica_keys();
        for region in &inputs.replica_regions {
            let key = keys.get(region).map(String::as_str);
            change_replica(&ddb, name, region, ReplicaChange::Add(key)).await?;
            self.configure_replica(ctx, name, region, inputs).await?;
        }
        let t = wait_active(&ddb, name).await?;
        Ok(Applied {
            id: name.clone(),
            outputs: outputs(name, &t),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let ddb = self.0.dynamodb(&ctx.region);
        // Reads that need nothing from each other are sent together.
        let (t, pitr) = tokio::join!(describe(&ddb, id), pitr_enabled(&ddb, id));
        let Some(t) = t? else {
            return Ok(None);
        };
        let Some(mut pitr) = pitr? else {
            return Ok(None);
        };
        let hash_key = t
            .key_schema()
            .iter()
            .find(|k| k.key_type() == &KeyType::Hash)
            .map(|k| k.attribute_name().to_owned())
            .unwrap_or_default();
        let hash_key_type = t
            .attribute_definitions()
            .iter()
            .find(|a| a.attribute_name() == hash_key)
            .map(|a| a.attribute_type().as_str().to_owned())
            .unwrap_or_default();
        let billing = t
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str())
            // Tables created with provisioned capacity may carry no summary.
            .unwrap_or("PROVISIONED");
        let stream_view_type = if stream_enabled(&t) {
            t.stream_specification()
                .and_then(|s| s.stream_view_type())
                .map(|v| v.as_str().to_owned())
        } else {
            None
        };
        // Each replica has its own point-in-time recovery and tags, read
        // in its region: recovery counts as on only where every member
        // has it, and a replica's tags that differ from the table's are
        // the ones shown, so that either drift is seen.
        let replicas = observed_replicas(&t, &ctx.region);
        let read_replicas = async {
            let mut read = Vec::new();
            for region in &replicas {
                let rdb = self.0.dynamodb(region);
                let (replica, replica_pitr) =
                    tokio::join!(describe(&rdb, id), pitr_enabled(&rdb, id));
                let Some(replica) = replica? else {
                    continue;
                };
                let theirs = list_tags(&rdb, replica.table_arn().unwrap_or_default()).await?;
                read.push((region, replica, replica_pitr?, theirs));
            }
            Ok::<_, ProviderError>(read)
        };
        let (tags, read) = tokio::join!(
            list_tags(&ddb, t.table_arn().unwrap_or_default()),
            read_replicas
        );
        let (mut tags, read) = (tags?, read?);
        let mut keys = BTreeMap::new();
        for (region, replica, replica_pitr, theirs) in read {
            if let Some(key) = observed_key(&replica) {
                keys.insert(region.clone(), key);
            }
            pitr &= replica_pitr.unwrap_or(false);
            if user_tags(theirs.clone()) != user_tags(tags.clone()) {
                tags = theirs;
            }
        }
        // Keys show when there are some, or when asked for (so that a
        // table back on an AWS owned key shows as drift).
        let kms_key_arn = match observed_key(&t) {
            Some(key) => Some(Some(key)),
            None => prior.kms_key_arn.as_ref().map(|_| None),
        };
        let replica_kms_key_arns =
            (!keys.is_empty() || prior.replica_kms_key_arns.is_some()).then_some(keys);
        Ok(Some(Found {
            inputs: Inputs {
                table_name: id.to_owned(),
                hash_key,
                hash_key_type,
                billing_mode: billing.to_owned(),
                point_in_time_recovery: pitr,
                stream_view_type,
                replica_regions: replicas,
                tags: user_tags(tags),
                kms_key_arn,
                replica_kms_key_arns,
            },
            outputs: outputs(id, &t),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        check_replicated_stream(ctx, inputs)?;
        check_keys(ctx, inputs)?;
        let ddb = self.0.dynamodb(&ctx.region);
        let had = &prior.replica_regions;
        let want = &inputs.replica_regions;
        let (had_keys, want_keys) = (prior.replica_keys(), inputs.replica_keys());
        // A replica's key cannot change in place: it leaves and joins
        // again with the new one (its data copied anew from the table).
        let rekeyed: BTreeSet<String> = had
            .intersection(want)
            .filter(|r| had_keys.get(*r) != want_keys.get(*r))
            .cloned()
            .collect();
        // Replicas leave first: AWS refuses to disable the stream of a
        // table that has replicas.
        for region in had.difference(want).chain(&rekeyed) {
            change_replica(&ddb, id, region, ReplicaChange::Remove).await?;
        }
        if prior.table_key() != inputs.table_key() {
            ddb.update_table()
                .table_name(id)
                .sse_specification(sse(inputs))
                .send()
                .await
                .map_err(|e| api_error("dynamodb:UpdateTable", e))?;
            wait_active(&ddb, id).await?;
        }
        if prior.billing_mode != inputs.billing_mode {
            ddb.update_table()
                .table_name(id)
                .billing_mode(billing_mode(ctx, inputs)?)
                .send()
                .await
                .map_err(|e| api_error("dynamodb:UpdateTable", e))?;
            wait_active(&ddb, id).await?;
        }
        if prior.stream_view_type != inputs.stream_view_type {
            set_stream(&ddb, id, prior, inputs).await?;
        }
        let kept: Vec<&String> = had
            .intersection(want)
            .filter(|r| !rekeyed.contains(*r))
            .collect();
        if prior.point_in_time_recovery != inputs.point_in_time_recovery {
            let on = inputs.point_in_time_recovery;
            set_pitr(&ddb, id, on).await?;
            for region in &kept {
                set_pitr(&self.0.dynamodb(region), id, on).await?;
            }
        }
        if prior.tags != inputs.tags {
            let tags = with_identity(ctx, &inputs.tags);
            sync_member_tags(&ddb, id, &tags).await?;
            for region in &kept {
                sync_member_tags(&self.0.dynamodb(region), id, &tags).await?;
            }
        }
        // New replicas join once the stream is on.
        let joining: BTreeSet<String> = want.difference(had).cloned().chain(rekeyed).collect();
        for region in &joining {
            let key = want_keys.get(region).map(String::as_str);
            change_replica(&ddb, id, region, ReplicaChange::Add(key)).await?;
            self.configure_replica(ctx, id, region, inputs).await?;
        }
        let t = wait_active(&ddb, id).await?;
        Ok(outputs(id, &t))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let name = &inputs.table_name;
        Ok(describe(&self.0.dynamodb(&ctx.region), name)
            .await?
            .filter(|t| t.table_status() != Some(&TableStatus::Deleting))
            .map(|_| name.clone()))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let ddb = self.0.dynamodb(&ctx.region);
        let Some(t) = describe(&ddb, id).await? else {
            return Ok(());
        };
        if t.table_status() != Some(&TableStatus::Deleting) {
            let tags = list_tags(&ddb, t.table_arn().unwrap_or_default()).await?;
            let named = Some(inputs.table_name.as_str()).filter(|n| *n == id);
            confirm_owned(ctx, "delete", &format!("table {id}"), &tags, named)?;
        }
        // AWS refuses to delete a table that has recently sourced a replica
        // until its replicas are gone.
        for region in observed_replicas(&t, &ctx.region) {
            change_replica(&ddb, id, &region, ReplicaChange::Remove).await?;
        }
        let deleted = retry_while(
            Duration::from_secs(5 * 60),
            |e| e.code.as_deref() == Some("ResourceInUseException"),
            || async {
                let result = ddb.delete_table().table_name(id).send().await;
                Ok(found(result, NOT_FOUND, "dynamodb:DeleteTable")?.is_some())
            },
        )
        .await?;
        if !deleted {
            return Ok(());
        }
        wait_for(&format!("table {id} deleted"), TABLE_WAIT, || async {
            Ok(match describe(&ddb, id).await? {
                None => Ok(()),
                Some(t) => Err(t
                    .table_status()
                    .map(|s| s.as_str())
                    .unwrap_or("unknown")
                    .to_owned()),
            })
        })
        .await
    }

    /// The tables carrying the environment's `drctl:env` tag or, without
    /// one, named for it (`SessionTable-<env>`), but those being deleted.
    /// ListTables has no tag filter: each table's tags are read. A global
    /// table's replica in another region is a table there too: that
    /// region lists it as well, under the same id.
    async fn list(&self, scope: &ListScope) -> Listed {
        let ddb = self.0.dynamodb(&scope.region);
        let names: Vec<String> = all_items(
            ddb.list_tables().into_paginator().items().send(),
            "dynamodb:ListTables",
        )
        .await?;
        let mut ids = Vec::new();
        for name in names {
            let Some(t) = describe(&ddb, &name).await? else {
                continue;
            };
            if t.table_status() == Some(&TableStatus::Deleting) {
                continue;
            }
            let tags = match list_tags(&ddb, t.table_arn().unwrap_or_default()).await {
                Ok(tags) => tags,
                // Described, then deleted before its tags were read: gone.
                Err(e) if has_code_in(&e, NOT_FOUND) => continue,
                Err(e) => return Err(e),
            };
            if in_env(&scope.env, &tags, Some(&name)) {
                ids.push(name);
            }
        }
        Ok(ids)
    }
}
