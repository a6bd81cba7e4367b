//! `backup.vault`: an AWS Backup vault of one region, encrypted with a
//! customer-managed KMS key. Its id is the name.
//!
//! Inputs: `name`, `encryption_key_arn` (both fixed at creation: AWS
//! Backup has no call that changes them), `tags`.
//!
//! CreateBackupVault takes `CreatorRequestId`, "a unique string that
//! identifies the request and allows failed requests to be retried without
//! the risk of running the operation twice" (AWS Backup API Reference,
//! CreateBackupVault): drctl sends the create's token, through
//! `create_once`: after an unanswered create the vault is looked up by
//! name (unique per account and region) and adopted when it carries this
//! address's `drctl:*` tags; a name taken by another vault is refused.
//!
//! A vault holding recovery points is data. AWS refuses to delete a vault
//! that is not empty ("A vault can be deleted only if it is empty",
//! DeleteBackupVault): delete removes its recovery points first
//! (ListRecoveryPointsByBackupVault, DeleteRecoveryPoint), waits until
//! none is listed, then deletes the vault. A recovery point whose backup
//! or copy is still running cannot be deleted yet: delete waits for it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_backup::Client;
use aws_sdk_backup::operation::describe_backup_vault::DescribeBackupVaultOutput;
use aws_sdk_backup::types::RecoveryPointStatus;
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use super::{NOT_FOUND, retag, tags_of, valid_name};
use crate::clients::Clients;
use crate::support::{
    TAG_ADDRESS, TAG_ENV, all_tags, api_error, attrs, create_once, create_token, found, has_code,
    invalid, observed_tags, only_known_inputs, user_tags, wait_for,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "backup.vault",
    force_new: &["name", "encryption_key_arn"],
    outputs: &["arn", "name"],
    volatile_outputs: &[],
    holds_data: true,
    kept_on_delete: &[],
    latency: Latency::calls(2, 1, 2),
};

pub struct Vault(pub(crate) Arc<Clients>);

/// How long delete waits for the vault's recovery points to go: a backup
/// or copy still running finishes within its rule's completion window
/// before its recovery point can be deleted.
const EMPTY_LIMIT: Duration = Duration::from_secs(60 * 60);

const KEYS: [&str; 3] = ["name", "encryption_key_arn", "tags"];

/// The vault's settings, checked before any call.
struct Config {
    name: String,
    encryption_key_arn: Option<String>,
}

fn config(ctx: &OpContext, inputs: &Attributes) -> Result<Config, ProviderError> {
    only_known_inputs(ctx, inputs, &KEYS, "a backup vault")?;
    let name = match inputs.get("name").and_then(Json::as_str) {
        Some(n) if valid_name(n, 2, false) => n.to_owned(),
        other => {
            return Err(invalid(
                ctx,
                format!(
                    "input `name` is {}: a backup vault name is 2 to 50 letters, digits, `-` or `_`",
                    other.map_or("missing".to_owned(), |n| format!("{n:?}"))
                ),
            ));
        }
    };
    let encryption_key_arn = match inputs.get("encryption_key_arn") {
        None => None,
        Some(Json::String(arn)) if arn.starts_with("arn:") && arn.contains(":kms:") => {
            Some(arn.clone())
        }
        Some(other) => {
            return Err(invalid(
                ctx,
                format!(
                    "input `encryption_key_arn` is {other}, not a KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`)"
                ),
            ));
        }
    };
    Ok(Config {
        name,
        encryption_key_arn,
    })
}

fn outputs(arn: &str, name: &str) -> Attributes {
    attrs([("arn", json!(arn)), ("name", json!(name))])
}

/// A recovery point of the vault and whether it can be deleted now.
struct Point {
    arn: String,
    status: Option<RecoveryPointStatus>,
}

impl Point {
    /// DeleteRecoveryPoint of a point still being made (its job running)
    /// or already being deleted does nothing useful: wait for it.
    fn deletable(&self) -> bool {
        !matches!(
            self.status,
            Some(RecoveryPointStatus::Creating | RecoveryPointStatus::Deleting)
        )
    }
}

impl Vault {
    async fn describe(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<Option<DescribeBackupVaultOutput>, ProviderError> {
        let result = client
            .describe_backup_vault()
            .backup_vault_name(name)
            .send()
            .await;
        found(result, NOT_FOUND, "backup:DescribeBackupVault")
    }

    /// The vault's recovery points; `None` when the vault is gone.
    async fn points(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<Option<Vec<Point>>, ProviderError> {
        let mut points = Vec::new();
        let list = client
            .list_recovery_points_by_backup_vault()
            .backup_vault_name(name);
        let mut listed = list.into_paginator().items().send();
        while let Some(p) = listed.next().await {
            let Some(p) = found(p, NOT_FOUND, "backup:ListRecoveryPointsByBackupVault")? else {
                return Ok(None);
            };
            if let Some(arn) = p.recovery_point_arn() {
                let status = p.status().cloned();
                points.push(Point {
                    arn: arn.to_owned(),
                    status,
                });
            }
        }
        Ok(Some(points))
    }

    /// Whether the vault of this name carries this address's identity.
    async fn ours(
        &self,
        ctx: &OpContext,
        client: &Client,
        arn: &str,
    ) -> Result<bool, ProviderError> {
        let tags = tags_of(client, arn).await?.unwrap_or_default();
        Ok(tags.get(TAG_ENV) == Some(&ctx.env)
            && tags.get(TAG_ADDRESS) == Some(&ctx.address.to_string()))
    }
}

#[async_trait]
impl Provider for Vault {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        let request = self
            .0
            .backup_once(&ctx.region)
            .create_backup_vault()
            .backup_vault_name(&config.name)
            .set_encryption_key_arn(config.encryption_key_arn.clone())
            .set_backup_vault_tags(Some(all_tags(ctx, inputs).into_iter().collect()))
            .creator_request_id(create_token(ctx));
        let created = create_once(
            "backup:CreateBackupVault",
            &["AlreadyExistsException"],
            || request.clone().send(),
            || self.find(ctx, inputs),
        )
        .await;
        match created {
            Ok(_) => {}
            // The name is taken, and not by a vault drctl made for this
            // address (`find` would have adopted that one).
            Err(e) if e.code.as_deref() == Some("AlreadyExistsException") => {
                if self.find(ctx, inputs).await?.is_none() {
                    return Err(ProviderError::new(
                        format!("create {}", ctx.address),
                        format!(
                            "a backup vault named {} already exists in {} and drctl did not create it for this address; delete it (aws backup delete-backup-vault --backup-vault-name {}, once empty) or rename this one",
                            config.name, ctx.region, config.name
                        ),
                    )
                    .with_code("AlreadyExistsException"));
                }
            }
            Err(e) => return Err(e),
        }
        let arn = self
            .describe(&client, &config.name)
            .await?
            .and_then(|v| v.backup_vault_arn().map(str::to_owned))
            .ok_or_else(|| {
                ProviderError::new(
                    "backup:DescribeBackupVault",
                    format!("vault {}, just created, is not there", config.name),
                )
            })?;
        Ok(Applied {
            id: config.name.clone(),
            outputs: outputs(&arn, &config.name),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let client = self.0.backup(&ctx.region);
        let Some(vault) = self.describe(&client, id).await? else {
            return Ok(None);
        };
        let arn = vault.backup_vault_arn().unwrap_or_default().to_owned();
        let Some(tags) = tags_of(&client, &arn).await? else {
            return Ok(None);
        };
        let mut inputs = attrs([("name", json!(id)), ("tags", observed_tags(tags))]);
        if let Some(key) = vault.encryption_key_arn() {
            inputs.insert("encryption_key_arn".into(), json!(key));
        }
        Ok(Some(Observed {
            inputs,
            outputs: outputs(&arn, id),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        config(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        let vault = self.describe(&client, id).await?.ok_or_else(|| {
            ProviderError::new(
                "backup:DescribeBackupVault",
                format!("vault {id} disappeared during update"),
            )
        })?;
        let arn = vault.backup_vault_arn().unwrap_or_default().to_owned();
        retag(&client, &arn, &user_tags(prior), &user_tags(inputs)).await?;
        Ok(outputs(&arn, id))
    }

    /// Vault names are unique per account and region: the vault of this
    /// name, if it carries this address's identity tags.
    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        let Some(vault) = self.describe(&client, &config.name).await? else {
            return Ok(None);
        };
        let ours = self
            .ours(ctx, &client, vault.backup_vault_arn().unwrap_or_default())
            .await?;
        Ok(ours.then_some(config.name))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let client = self.0.backup(&ctx.region);
        // Emptying deletes recovery points: the claim is checked first.
        let Some(vault) = self.describe(&client, id).await? else {
            return Ok(());
        };
        let Some(tags) = tags_of(&client, vault.backup_vault_arn().unwrap_or_default()).await?
        else {
            return Ok(());
        };
        let named = crate::support::opt_str(inputs, "name").filter(|n| *n == id);
        crate::support::confirm_owned(ctx, "delete", &format!("backup vault {id}"), &tags, named)?;
        wait_for(
            &format!("backup vault {id} emptied and deleted"),
            EMPTY_LIMIT,
            || async {
                let Some(points) = self.points(&client, id).await? else {
                    return Ok(Ok(()));
                };
                if points.is_empty() {
                    let result = client
                        .delete_backup_vault()
                        .backup_vault_name(id)
                        .send()
                        .await;
                    return match result {
                        Ok(_) => Ok(Ok(())),
                        Err(e) if has_code(&e, NOT_FOUND) => Ok(Ok(())),
                        // A recovery point made since the listing (a
                        // scheduled backup, a copy landing): empty again.
                        Err(e) if has_code(&e, &["InvalidRequestException"]) => Ok(Err(format!(
                            "not empty: {}",
                            api_error("backup:DeleteBackupVault", e)
                        ))),
                        Err(e) => Err(api_error("backup:DeleteBackupVault", e)),
                    };
                }
                let mut waiting = Vec::new();
                for point in &points {
                    if !point.deletable() {
                        waiting.push(format!(
                            "{} ({})",
                            point.arn,
                            point
                                .status
                                .as_ref()
                                .map_or("?", RecoveryPointStatus::as_str)
                        ));
                        continue;
                    }
                    let result = client
                        .delete_recovery_point()
                        .backup_vault_name(id)
                        .recovery_point_arn(&point.arn)
                        .send()
                        .await;
                    match result {
                        Ok(_) => {}
                        Err(e) if has_code(&e, NOT_FOUND) => {}
                        // AWS refuses to delete a recovery point it cannot
                        // delete yet (a job still using it): try again.
                        Err(e) if has_code(&e, &["InvalidRequestException"]) => {
                            waiting.push(format!(
                                "{} ({})",
                                point.arn,
                                api_error("backup:DeleteRecoveryPoint", e)
                            ))
                        }
                        Err(e) => return Err(api_error("backup:DeleteRecoveryPoint", e)),
                    }
                }
                Ok(Err(if waiting.is_empty() {
                    format!("{} recovery point(s) being deleted", points.len())
                } else {
                    format!(
                        "{} recovery point(s) that cannot be deleted yet: {}",
                        waiting.len(),
                        waiting.join(", ")
                    )
                }))
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> OpContext {
        crate::support::unit_test_ctx("primary/backup.vault/payment")
    }

    fn refused(v: Json) -> String {
        match config(&ctx(), &serde_json::from_value(v).unwrap()) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn invalid_inputs_are_named_with_the_fix() {
        assert!(refused(json!({"name": "a"})).contains("2 to 50"));
        assert!(refused(json!({"name": "payment.dev"})).contains("input `name`"));
        assert!(
            refused(json!({"name": "payment-dev", "encryption_key_arn": "alias/x"}))
                .contains("KMS key ARN")
        );
        assert!(
            refused(json!({"name": "payment-dev", "key": "x"})).contains("unknown input `key`")
        );
    }
}
