//! `rds.instance`: an Aurora DB instance in a cluster. Its id is the
//! instance identifier.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::DbInstance;
use drctl_core::{Applied, Attributes, KindSchema, Observed, OpContext, Provider, ProviderError};
use serde_json::json;

use super::{RDS_WAIT, create_tags, sync_tags, tags_json};
use crate::clients::Clients;
use crate::support::{api_error, attrs, bool_or, create_once, found, req_str, wait_for};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "rds.instance",
    force_new: &[
        "instance_identifier",
        "cluster_identifier",
        "engine",
        "publicly_accessible",
    ],
    outputs: &["arn", "instance_identifier", "endpoint"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
};

pub struct Instance(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["DBInstanceNotFound", "DBInstanceNotFoundFault"];

async fn describe(rds: &Client, id: &str) -> Result<Option<DbInstance>, ProviderError> {
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
    wait_for(&format!("instance {id} available"), RDS_WAIT, || async {
        Ok(match describe(rds, id).await? {
            Some(i)
                if i.db_instance_status() == Some("available")
                    && i.pending_modified_values()
                        .is_none_or(|p| p.db_instance_class().is_none()) =>
            {
                Ok(i)
            }
            Some(i) => Err(i.db_instance_status().unwrap_or("unknown").to_owned()),
            None => Err("not found".to_owned()),
        })
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

#[async_trait]
impl Provider for Instance {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let id = req_str(ctx, inputs, "instance_identifier")?;
        let rds = self.0.rds(&ctx.region);
        // No idempotency token; a resend of one that happened finds the
        // identifier taken.
        let request = self
            .0
            .rds_once(&ctx.region)
            .create_db_instance()
            .db_instance_identifier(id)
            .db_cluster_identifier(req_str(ctx, inputs, "cluster_identifier")?)
            .db_instance_class(req_str(ctx, inputs, "instance_class")?)
            .engine(req_str(ctx, inputs, "engine")?)
            .publicly_accessible(bool_or(inputs, "publicly_accessible", false))
            .set_tags(Some(create_tags(ctx, inputs)));
        create_once(
            "rds:CreateDBInstance",
            &["DBInstanceAlreadyExists"],
            || request.clone().send(),
            || self.find(ctx, inputs),
        )
        .await?;
        let i = wait_available(&rds, id).await?;
        Ok(Applied {
            id: id.to_owned(),
            outputs: outputs(id, &i),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(i) = describe(&self.0.rds(&ctx.region), id).await? else {
            return Ok(None);
        };
        Ok(Some(Observed {
            inputs: attrs([
                ("instance_identifier", json!(id)),
                (
                    "cluster_identifier",
                    json!(i.db_cluster_identifier().unwrap_or_default()),
                ),
                (
                    "instance_class",
                    json!(i.db_instance_class().unwrap_or_default()),
                ),
                ("engine", json!(i.engine().unwrap_or_default())),
                (
                    "publicly_accessible",
                    json!(i.publicly_accessible().unwrap_or(false)),
                ),
                ("tags", tags_json(i.tag_list())),
            ]),
            outputs: outputs(id, &i),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let rds = self.0.rds(&ctx.region);
        if prior.get("instance_class") != inputs.get("instance_class") {
            rds.modify_db_instance()
                .db_instance_identifier(id)
                .db_instance_class(req_str(ctx, inputs, "instance_class")?)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| api_error("rds:ModifyDBInstance", e))?;
        }
        let i = wait_available(&rds, id).await?;
        sync_tags(&rds, i.db_instance_arn().unwrap_or_default(), prior, inputs).await?;
        Ok(outputs(id, &i))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let id = req_str(ctx, inputs, "instance_identifier")?;
        Ok(describe(&self.0.rds(&ctx.region), id)
            .await?
            .filter(|i| i.db_instance_status() != Some("deleting"))
            .map(|_| id.to_owned()))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let rds = self.0.rds(&ctx.region);
        let Some(instance) = describe(&rds, id).await? else {
            return Ok(());
        };
        // An instance already `deleting` (a run stopped while it waited)
        // refuses another DeleteDBInstance with InvalidDBInstanceState
        // "... is already being deleted": only the wait is left.
        if instance.db_instance_status() != Some("deleting") {
            // Aurora keeps backups at the cluster level: an instance has
            // no final snapshot of its own.
            let result = rds
                .delete_db_instance()
                .db_instance_identifier(id)
                .skip_final_snapshot(true)
                .send()
                .await;
            match found(result, NOT_FOUND, "rds:DeleteDBInstance") {
                Ok(None) => return Ok(()),
                Ok(Some(_)) => {}
                Err(e) if already_being_deleted(&e) => {}
                Err(e) => return Err(e),
            }
        }
        wait_for(&format!("instance {id} deleted"), RDS_WAIT, || async {
            Ok(match describe(&rds, id).await? {
                None => Ok(()),
                Some(i) => Err(i.db_instance_status().unwrap_or("unknown").to_owned()),
            })
        })
        .await
    }
}
