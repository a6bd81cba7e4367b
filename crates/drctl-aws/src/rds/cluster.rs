//! `rds.cluster`: an Aurora PostgreSQL cluster that is a member of a global
//! database. Its id is the cluster identifier.
//!
//! The primary cluster has `master_username` and
//! `manage_master_user_password: true`: RDS generates the password and keeps
//! it in Secrets Manager, so drctl never sees one (the secret's ARN is an
//! output). The secondary has neither and joins the global cluster as a
//! reader. An encrypted secondary in another region needs a KMS key of its
//! own region, given as the optional `kms_key_id` (e.g. "alias/aws/rds").

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::DbCluster;
use drctl_core::{Applied, Attributes, KindSchema, Observed, OpContext, Provider, ProviderError};
use serde_json::{Value as Json, json};

use super::{RDS_WAIT, create_tags, sorted_strings, sync_tags, tags_json};
use crate::clients::Clients;
use crate::support::{
    api_error, attrs, bool_or, found, invalid, opt_str, req_str, retry_while, tolerate, wait_for,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "rds.cluster",
    force_new: &[
        "cluster_identifier",
        "engine",
        "global_cluster_identifier",
        "db_subnet_group_name",
        "storage_encrypted",
        "master_username",
        "manage_master_user_password",
        "kms_key_id",
    ],
    outputs: &[
        "arn",
        "cluster_identifier",
        "endpoint",
        "reader_endpoint",
        "master_user_secret_arn",
    ],
    volatile_outputs: &[],
    holds_data: true,
};

pub struct Cluster(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["DBClusterNotFoundFault"];

fn req_int(ctx: &OpContext, inputs: &Attributes, key: &str) -> Result<i32, ProviderError> {
    inputs
        .get(key)
        .and_then(Json::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| invalid(ctx, format!("input `{key}` must be an integer")))
}

async fn describe(rds: &Client, id: &str) -> Result<Option<DbCluster>, ProviderError> {
    let result = rds
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await;
    let out = found(result, NOT_FOUND, "rds:DescribeDBClusters")?;
    Ok(out.and_then(|o| o.db_clusters().first().cloned()))
}

/// The global cluster that has the cluster with this ARN as a member.
/// DescribeGlobalClusters answers for every region from any region.
async fn global_membership(rds: &Client, arn: &str) -> Result<Option<String>, ProviderError> {
    let mut marker: Option<String> = None;
    loop {
        let out = rds
            .describe_global_clusters()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| api_error("rds:DescribeGlobalClusters", e))?;
        for g in out.global_clusters() {
            if g.global_cluster_members()
                .iter()
                .any(|m| m.db_cluster_arn() == Some(arn))
            {
                return Ok(g.global_cluster_identifier().map(str::to_owned));
            }
        }
        match out.marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => return Ok(None),
        }
    }
}

/// Whether a change drctl makes is still pending (right after
/// ModifyDBCluster the status may still read `available`).
fn pending(c: &DbCluster) -> bool {
    c.pending_modified_values()
        .is_some_and(|p| p.engine_version().is_some() || p.backup_retention_period().is_some())
}

/// Waits until the cluster is `available` with nothing of drctl's pending.
async fn wait_available(rds: &Client, id: &str) -> Result<DbCluster, ProviderError> {
    wait_for(&format!("cluster {id} available"), RDS_WAIT, || async {
        Ok(match describe(rds, id).await? {
            Some(c) if c.status() == Some("available") && !pending(&c) => Ok(c),
            Some(c) => Err(c.status().unwrap_or("unknown").to_owned()),
            None => Err("not found".to_owned()),
        })
    })
    .await
}

fn outputs(id: &str, c: &DbCluster) -> Attributes {
    attrs([
        ("arn", json!(c.db_cluster_arn().unwrap_or_default())),
        ("cluster_identifier", json!(id)),
        ("endpoint", json!(c.endpoint().unwrap_or_default())),
        (
            "reader_endpoint",
            json!(c.reader_endpoint().unwrap_or_default()),
        ),
        (
            "master_user_secret_arn",
            json!(
                c.master_user_secret()
                    .and_then(|s| s.secret_arn())
                    .unwrap_or_default()
            ),
        ),
    ])
}

#[async_trait]
impl Provider for Cluster {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let id = req_str(ctx, inputs, "cluster_identifier")?;
        let rds = self.0.rds(&ctx.region);
        let mut req = rds
            .create_db_cluster()
            .db_cluster_identifier(id)
            .engine(req_str(ctx, inputs, "engine")?)
            .engine_version(req_str(ctx, inputs, "engine_version")?)
            .set_global_cluster_identifier(
                opt_str(inputs, "global_cluster_identifier").map(str::to_owned),
            )
            .db_subnet_group_name(req_str(ctx, inputs, "db_subnet_group_name")?)
            .set_vpc_security_group_ids(Some(sorted_strings(inputs, "vpc_security_group_ids")))
            .storage_encrypted(bool_or(inputs, "storage_encrypted", false))
            .backup_retention_period(req_int(ctx, inputs, "backup_retention_period")?)
            .preferred_backup_window(req_str(ctx, inputs, "preferred_backup_window")?)
            .set_kms_key_id(opt_str(inputs, "kms_key_id").map(str::to_owned))
            .set_tags(Some(create_tags(ctx, inputs)));
        if let Some(user) = opt_str(inputs, "master_username") {
            // drctl keeps passwords out of inputs and state: only an
            // RDS-managed master password is supported.
            if !bool_or(inputs, "manage_master_user_password", false) {
                return Err(invalid(
                    ctx,
                    "`master_username` needs `manage_master_user_password: true`",
                ));
            }
            req = req.master_username(user).manage_master_user_password(true);
        }
        req.send()
            .await
            .map_err(|e| api_error("rds:CreateDBCluster", e))?;
        let c = wait_available(&rds, id).await?;
        Ok(Applied {
            id: id.to_owned(),
            outputs: outputs(id, &c),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let rds = self.0.rds(&ctx.region);
        let Some(c) = describe(&rds, id).await? else {
            return Ok(None);
        };
        let global = global_membership(&rds, c.db_cluster_arn().unwrap_or_default()).await?;
        let mut groups: Vec<&str> = c
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect();
        groups.sort_unstable();
        let mut inputs = attrs([
            ("cluster_identifier", json!(id)),
            ("engine", json!(c.engine().unwrap_or_default())),
            (
                "engine_version",
                json!(c.engine_version().unwrap_or_default()),
            ),
            ("global_cluster_identifier", json!(global)),
            (
                "db_subnet_group_name",
                json!(c.db_subnet_group().unwrap_or_default()),
            ),
            ("vpc_security_group_ids", json!(groups)),
            (
                "storage_encrypted",
                json!(c.storage_encrypted().unwrap_or(false)),
            ),
            (
                "backup_retention_period",
                json!(c.backup_retention_period().unwrap_or(0)),
            ),
            (
                "preferred_backup_window",
                json!(c.preferred_backup_window().unwrap_or_default()),
            ),
            ("tags", tags_json(c.tag_list())),
        ]);
        // The secondary has no master user of its own: these keys exist
        // only where the inputs had them.
        if prior.contains_key("master_username") {
            inputs.insert(
                "master_username".into(),
                json!(c.master_username().unwrap_or_default()),
            );
        }
        if prior.contains_key("manage_master_user_password") {
            inputs.insert(
                "manage_master_user_password".into(),
                json!(c.master_user_secret().is_some()),
            );
        }
        // AWS reports the key's ARN whatever form (alias, id) was given.
        if let Some(key) = prior.get("kms_key_id") {
            inputs.insert("kms_key_id".into(), key.clone());
        }
        Ok(Some(Observed {
            inputs,
            outputs: outputs(id, &c),
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
        let changed = |k: &str| prior.get(k) != inputs.get(k);
        let mut req = rds
            .modify_db_cluster()
            .db_cluster_identifier(id)
            .apply_immediately(true);
        let mut any = false;
        if sorted_strings(prior, "vpc_security_group_ids")
            != sorted_strings(inputs, "vpc_security_group_ids")
        {
            req = req
                .set_vpc_security_group_ids(Some(sorted_strings(inputs, "vpc_security_group_ids")));
            any = true;
        }
        if changed("backup_retention_period") {
            req = req.backup_retention_period(req_int(ctx, inputs, "backup_retention_period")?);
            any = true;
        }
        if changed("preferred_backup_window") {
            req = req.preferred_backup_window(req_str(ctx, inputs, "preferred_backup_window")?);
            any = true;
        }
        if changed("engine_version") {
            req = req.engine_version(req_str(ctx, inputs, "engine_version")?);
            any = true;
        }
        if any {
            req.send()
                .await
                .map_err(|e| api_error("rds:ModifyDBCluster", e))?;
        }
        let c = wait_available(&rds, id).await?;
        sync_tags(&rds, c.db_cluster_arn().unwrap_or_default(), prior, inputs).await?;
        Ok(outputs(id, &c))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let id = req_str(ctx, inputs, "cluster_identifier")?;
        Ok(describe(&self.0.rds(&ctx.region), id)
            .await?
            .filter(|c| c.status() != Some("deleting"))
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
        let Some(c) = describe(&rds, id).await? else {
            return Ok(());
        };
        let arn = c.db_cluster_arn().unwrap_or_default().to_owned();
        // A member cannot be deleted; it leaves its global cluster first
        // (secondaries before the primary, by the delete order).
        if let Some(global) = global_membership(&rds, &arn).await? {
            let result = rds
                .remove_from_global_cluster()
                .global_cluster_identifier(&global)
                .db_cluster_identifier(&arn)
                .send()
                .await;
            tolerate(
                result,
                &["GlobalClusterNotFoundFault"],
                "rds:RemoveFromGlobalCluster",
            )?;
            wait_for(
                &format!("cluster {id} detached from {global}"),
                RDS_WAIT,
                || async {
                    if global_membership(&rds, &arn).await?.is_some() {
                        return Ok(Err("still a member".to_owned()));
                    }
                    Ok(match describe(&rds, id).await? {
                        Some(c) if c.status() == Some("available") => Ok(()),
                        Some(c) => Err(c.status().unwrap_or("unknown").to_owned()),
                        None => Ok(()),
                    })
                },
            )
            .await?;
        }
        // Right after a detach RDS may still report the cluster busy.
        let deleted = retry_while(
            Duration::from_secs(5 * 60),
            |e| e.code.as_deref() == Some("InvalidDBClusterStateFault"),
            || async {
                let result = rds
                    .delete_db_cluster()
                    .db_cluster_identifier(id)
                    .skip_final_snapshot(true)
                    .send()
                    .await;
                Ok(found(result, NOT_FOUND, "rds:DeleteDBCluster")?.is_some())
            },
        )
        .await?;
        if !deleted {
            return Ok(());
        }
        wait_for(&format!("cluster {id} deleted"), RDS_WAIT, || async {
            Ok(match describe(&rds, id).await? {
                None => Ok(()),
                Some(c) => Err(c.status().unwrap_or("unknown").to_owned()),
            })
        })
        .await
    }
}
