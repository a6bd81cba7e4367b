//! `rds.instance`: an Aurora DB instance in a cluster. Its id is the
//! instance identifier.
//!
//! Delete works whichever member of a global database writes: before the
//! last instance of the writer cluster goes, the other members leave the
//! global database (see `readers_leave_before_the_writers_last_instance`).

use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::DbInstance;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    RDS_WAIT, cluster, create_tags, env_ids, global_cluster, live, owned, sync_tags, user_tags,
    wait_deleted,
};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{api_error, attrs, found, retry_while};
use crate::tags::{from_sdk, in_env};

pub static SCHEMA: KindSchema = KindSchema::new(
    "rds.instance",
    // - create 480 s. Range 5-12 min: "a ten-minute provisioning cycle"
    //   for a cluster and its instance (darryl-ruggles.cloud, "Aurora
    //   PostgreSQL Express Configuration", 2026), "several minutes to over
    //   ten" (shinyaz.com, 2026-03-27), 10-15 min for a secondary cluster
    //   and its instance (AWS workshop above); the provider's acceptance
    //   tests creating, importing and destroying a cluster with one
    //   instance took 637-822 s (TestAccAWSRDSClusterInstance_namePrefix,
    //   _generatedName, _kmsKey, _az, #15022, 2020) and 815-1469 s
    //   (TestAccRDSClusterInstance_identifierPrefix, _az, _kmsKey, #31112,
    //   2023).
    // - delete 480 s. Range 5-12 min: 11 min 47 s (tungbq/
    //   aws-lab-with-terraform#100), "takes 5-10 min" (go-to-k/
    //   cdk-real-drift#239).
    // - Check on the whole chain: the provider's test
    //   TestAccRDSCluster_GlobalClusterIdentifier_primarySecondaryClusters
    //   creates and destroys drctl's chain (global cluster, primary
    //   cluster and instance, secondary cluster and instance, final
    //   snapshots skipped): 2774.5 s, 46.2 min (#31112); a write-forwarding
    //   variant took 2014.8 s, 33.6 min (#17561). These figures give
    //   20.2 min for the creates and 22.2 min for the deletes: 42.5 min.
    // - update 600 s: estimate (an instance class change), no figure.
    Latency {
        create: 480,
        update: 600,
        delete: 480,
        basis: "create 5-12 min (blogs, AWS workshop, TF acceptance tests), delete 5-12 min (published logs): 8 min each; update estimate (TF 90 min)",
    },
)
.force_new(&[
    "instance_identifier",
    "cluster_identifier",
    "engine",
    "publicly_accessible",
])
.outputs(&["arn", "instance_identifier", "endpoint"]);

pub struct Instance(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    instance_identifier: String,
    cluster_identifier: String,
    instance_class: String,
    engine: String,
    #[serde(default)]
    publicly_accessible: bool,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

const NOT_FOUND: &[&str] = &["DBInstanceNotFound", "DBInstanceNotFoundFault"];

pub(crate) async fn describe(rds: &Client, id: &str) -> Result<Option<DbInstance>, ProviderError> {
    let result = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await;
    let out = found(result, NOT_FOUND, "rds:DescribeDBInstances")?;
    Ok(out.and_then(|o| o.db_instances().first().cloned()))
}

/// RDS's answer to a delete of an instance whose deletion has begun (the
/// Terraform AWS provider tolerates it the same way, #5624).
fn already_being_deleted(e: &ProviderError) -> bool {
    matches!(
        e.code.as_deref(),
        Some("InvalidDBInstanceState" | "InvalidDBInstanceStateFault")
    ) && e.message.contains("already being deleted")
}

/// Waits until the instance is `available` with nothing pending.
async fn wait_available(rds: &Client, id: &str) -> Result<DbInstance, ProviderError> {
    super::wait_available(rds, "instance", id, RDS_WAIT, |i: &DbInstance| {
        i.pending_modified_values()
            .is_none_or(|p| p.db_instance_class().is_none())
    })
    .await
}

fn outputs(id: &str, i: &DbInstance) -> Attributes {
    attrs([
        ("arn", json!(i.db_instance_arn().unwrap_or_default())),
        ("instance_identifier", json!(id)),
        (
            "endpoint",
            json!(i.endpoint().and_then(|e| e.address()).unwrap_or_default()),
        ),
    ])
}

impl Instance {
    /// Before the last instance of a global database's writer cluster is
    /// deleted, the other members (the readers) leave the global database:
    /// AWS refuses to delete that instance while another member is attached
    /// (InvalidDBClusterStateFault, "Cannot delete the last instance of the
    /// master cluster. Delete the replica cluster before deleting the last
    /// master cluster instance."; Aurora User Guide, "Deleting an Amazon
    /// Aurora global database": secondaries removed first, then the
    /// primary's instances), and refuses to detach the writer before them.
    ///
    /// Which member writes is read from AWS here, not taken from the graph:
    /// the graph deletes the secondary role's cluster before the primary's
    /// writer instance, which is the order AWS needs while the primary role
    /// writes; after a switchover or failover the secondary role's cluster
    /// writes, its last instance goes while the primary's cluster is still
    /// attached, and the primary's cluster waits (through its writer
    /// instance) for the secondary's: so the primary's cluster is detached
    /// here (RemoveFromGlobalCluster in its own region), becomes a
    /// standalone cluster with its data, and its own delete follows as for
    /// any cluster. A reader that is not a cluster of this environment (by
    /// its `drctl:env` tag) is never detached: the delete stops, naming it.
    ///
    /// Nothing to do when the instance's cluster is not a member, is a
    /// reader, or keeps another instance that is not being deleted. Safe to
    /// run again at any point: readers already detached are not members.
    async fn readers_leave_before_the_writers_last_instance(
        &self,
        ctx: &OpContext,
        rds: &Client,
        id: &str,
        instance: &DbInstance,
    ) -> Result<(), ProviderError> {
        let Some(cluster_id) = instance.db_cluster_identifier() else {
            return Ok(());
        };
        let Some(cluster) = cluster::describe(rds, cluster_id).await? else {
            return Ok(());
        };
        for member in cluster.db_cluster_members() {
            let Some(other) = member.db_instance_identifier() else {
                continue;
            };
            if other != id && live::<DbInstance>(rds, other).await?.is_some() {
                return Ok(());
            }
        }
        let arn = cluster.db_cluster_arn().unwrap_or_default();
        let Some(global) = cluster::global_of(rds, arn).await? else {
            return Ok(());
        };
        let members = global.global_cluster_members();
        let writes = members
            .iter()
            .any(|m| m.db_cluster_arn() == Some(arn) && m.is_writer() == Some(true));
        if !writes {
            return Ok(());
        }
        let global_id = global.global_cluster_identifier().unwrap_or_default();
        for reader in members.iter().filter_map(|m| m.db_cluster_arn()) {
            if reader == arn {
                continue;
            }
            let refuse = |why: String| {
                ProviderError::new(
                    "rds:DeleteDBInstance",
                    format!(
                        "instance {id} is the last of {cluster_id}, the writer of global cluster {global_id}, and AWS deletes it only once the other members have left; {reader} {why}: remove it from {global_id} first (RemoveFromGlobalCluster)"
                    ),
                )
                .with_code("GlobalClusterHasOtherMembers")
            };
            let Some((region, reader_id)) = global_cluster::cluster_of(reader) else {
                return Err(refuse("is not a DB cluster ARN drctl can read".into()));
            };
            let reader_rds = self.0.rds(region);
            let Some(reader_cluster) = cluster::describe(&reader_rds, reader_id).await? else {
                // Listed but gone: nothing of it to detach.
                continue;
            };
            if !in_env(&ctx.env, &from_sdk(reader_cluster.tag_list()), None) {
                return Err(refuse(format!(
                    "is not a cluster of environment `{}`",
                    ctx.env
                )));
            }
            cluster::leave_global(&reader_rds, global_id, reader, reader_id).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Kind for Instance {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let id = &inputs.instance_identifier;
        let rds = self.0.rds(&ctx.region);
        // No idempotency token; a resend of one that happened finds the
        // identifier taken.
        let request = self
            .0
            .rds_once(&ctx.region)
            .create_db_instance()
            .db_instance_identifier(id)
            .db_cluster_identifier(&inputs.cluster_identifier)
            .db_instance_class(&inputs.instance_class)
            .engine(&inputs.engine)
            .publicly_accessible(inputs.publicly_accessible)
            .set_tags(Some(create_tags(ctx, &inputs.tags)));
        create_or_find(
            self,
            ctx,
            inputs,
            "rds:CreateDBInstance",
            &["DBInstanceAlreadyExists"],
            || request.clone().send(),
        )
        .await?;
        let i = wait_available(&rds, id).await?;
        Ok(Applied {
            id: id.clone(),
            outputs: outputs(id, &i),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let Some(i) = describe(&self.0.rds(&ctx.region), id).await? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: Inputs {
                instance_identifier: id.to_owned(),
                cluster_identifier: i.db_cluster_identifier().unwrap_or_default().to_owned(),
                instance_class: i.db_instance_class().unwrap_or_default().to_owned(),
                engine: i.engine().unwrap_or_default().to_owned(),
                publicly_accessible: i.publicly_accessible().unwrap_or(false),
                tags: user_tags(i.tag_list()),
            },
            outputs: outputs(id, &i),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let rds = self.0.rds(&ctx.region);
        if prior.instance_class != inputs.instance_class {
            rds.modify_db_instance()
                .db_instance_identifier(id)
                .db_instance_class(&inputs.instance_class)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| api_error("rds:ModifyDBInstance", e))?;
        }
        let i = wait_available(&rds, id).await?;
        sync_tags(
            &rds,
            i.db_instance_arn().unwrap_or_default(),
            &prior.tags,
            &inputs.tags,
        )
        .await?;
        Ok(outputs(id, &i))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let id = &inputs.instance_identifier;
        live::<DbInstance>(&self.0.rds(&ctx.region), id).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let rds = self.0.rds(&ctx.region);
        let name = &inputs.instance_identifier;
        let Some(instance) = owned::<DbInstance>(ctx, &rds, "DB instance", id, name).await? else {
            return Ok(());
        };
        // An instance already `deleting` (a run stopped while it waited)
        // refuses another DeleteDBInstance with InvalidDBInstanceState
        // "... is already being deleted": only the wait is left.
        if instance.db_instance_status() != Some("deleting") {
            // InvalidDBClusterStateFault: the cluster busy for a while
            // (a member just detached), or the last instance of a writer
            // whose other instance began deleting after the check below
            // (the next attempt's check detaches the readers).
            let sent = retry_while(
                Duration::from_secs(5 * 60),
                |e| e.code.as_deref() == Some("InvalidDBClusterStateFault"),
                || async {
                    self.readers_leave_before_the_writers_last_instance(ctx, &rds, id, &instance)
                        .await?;
                    // Aurora keeps backups at the cluster level: an
                    // instance has no final snapshot of its own.
                    let result = rds
                        .delete_db_instance()
                        .db_instance_identifier(id)
                        .skip_final_snapshot(true)
                        .send()
                        .await;
                    match found(result, NOT_FOUND, "rds:DeleteDBInstance") {
                        Ok(None) => Ok(false),
                        Ok(Some(_)) => Ok(true),
                        Err(e) if already_being_deleted(&e) => Ok(true),
                        Err(e) => Err(e),
                    }
                },
            )
            .await?;
            if !sent {
                return Ok(());
            }
        }
        wait_deleted::<DbInstance>(&rds, "instance", id, RDS_WAIT).await
    }

    /// The environment's instances (by tag, or by the identifier drctl
    /// gives, `payment-<env>-<role>-<name>`), but those being deleted.
    async fn list(&self, scope: &ListScope) -> Listed {
        env_ids::<DbInstance>(&self.0.rds(&scope.region), &scope.env).await
    }
}
