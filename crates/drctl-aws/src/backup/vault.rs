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
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{NOT_FOUND, tags_of, valid_name, with_tags};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{api_error, attrs, create_token, found, has_code, invalid, wait_for};
use crate::tags::{Tags, in_env, made_for, retag, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new("backup.vault", Latency::calls(2, 1, 2))
    .force_new(&["name", "encryption_key_arn"])
    .outputs(&["arn", "name"])
    .holds_data();

pub struct Vault(pub(crate) Arc<Clients>);

/// How long delete waits for the vault's recovery points to go: a backup
/// or copy still running finishes within its rule's completion window
/// before its recovery point can be deleted.
const EMPTY_LIMIT: Duration = Duration::from_secs(60 * 60);

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    /// A customer-managed key's ARN; left out, AWS Backup's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encryption_key_arn: Option<String>,
    #[serde(default)]
    tags: Tags,
}

/// The vault's settings, checked before any call.
fn check(ctx: &OpContext, inputs: &Inputs) -> Result<(), ProviderError> {
    let name = &inputs.name;
    if !valid_name(name, 2, false) {
        return Err(invalid(
            ctx,
            format!(
                "input `name` is {name:?}: a backup vault name is 2 to 50 letters, digits, `-` or `_`"
            ),
        ));
    }
    match &inputs.encryption_key_arn {
        Some(arn) if !(arn.starts_with("arn:") && arn.contains(":kms:")) => Err(invalid(
            ctx,
            format!(
                "input `encryption_key_arn` is {arn:?}, not a KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`)"
            ),
        )),
        _ => Ok(()),
    }
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
}

#[async_trait]
impl Kind for Vault {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        check(ctx, inputs)?;
        let name = &inputs.name;
        let client = self.0.backup(&ctx.region);
        let request = self
            .0
            .backup_once(&ctx.region)
            .create_backup_vault()
            .backup_vault_name(name)
            .set_encryption_key_arn(inputs.encryption_key_arn.clone())
            .set_backup_vault_tags(Some(with_identity(ctx, &inputs.tags).into_iter().collect()))
            .creator_request_id(create_token(ctx));
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "backup:CreateBackupVault",
            &["AlreadyExistsException"],
            || request.clone().send(),
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
                            "a backup vault named {name} already exists in {} and drctl did not create it for this address; delete it (aws backup delete-backup-vault --backup-vault-name {name}, once empty) or rename this one",
                            ctx.region
                        ),
                    )
                    .with_code("AlreadyExistsException"));
                }
            }
            Err(e) => return Err(e),
        }
        let arn = self
            .describe(&client, name)
            .await?
            .and_then(|v| v.backup_vault_arn().map(str::to_owned))
            .ok_or_else(|| {
                ProviderError::new(
                    "backup:DescribeBackupVault",
                    format!("vault {name}, just created, is not there"),
                )
            })?;
        Ok(Applied {
            id: name.clone(),
            outputs: outputs(&arn, name),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let client = self.0.backup(&ctx.region);
        let Some(vault) = self.describe(&client, id).await? else {
            return Ok(None);
        };
        let Some((arn, tags)) = with_tags(&client, vault.backup_vault_arn()).await? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: Inputs {
                name: id.to_owned(),
                encryption_key_arn: vault.encryption_key_arn().map(str::to_owned),
                tags: user_tags(tags),
            },
            outputs: outputs(&arn, id),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        check(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        let vault = self.describe(&client, id).await?.ok_or_else(|| {
            ProviderError::new(
                "backup:DescribeBackupVault",
                format!("vault {id} disappeared during update"),
            )
        })?;
        let arn = vault.backup_vault_arn().unwrap_or_default().to_owned();
        retag(&client, &arn, &prior.tags, &inputs.tags).await?;
        Ok(outputs(&arn, id))
    }

    /// Vault names are unique per account and region: the vault of this
    /// name, if it carries this address's identity tags.
    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        check(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        let Some(vault) = self.describe(&client, &inputs.name).await? else {
            return Ok(None);
        };
        let arn = vault.backup_vault_arn().unwrap_or_default();
        let tags = tags_of(&client, arn).await?.unwrap_or_default();
        Ok(made_for(ctx, &tags).then(|| inputs.name.clone()))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let client = self.0.backup(&ctx.region);
        // Emptying deletes recovery points: the claim is checked first.
        let Some(vault) = self.describe(&client, id).await? else {
            return Ok(());
        };
        let Some((_, tags)) = with_tags(&client, vault.backup_vault_arn()).await? else {
            return Ok(());
        };
        let named = Some(inputs.name.as_str()).filter(|n| *n == id);
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

    /// The vaults tagged (or, untagged, named) for the environment.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.backup(&scope.region);
        let mut vaults = client.list_backup_vaults().into_paginator().items().send();
        let mut ids = Vec::new();
        while let Some(v) = vaults.next().await {
            let v = v.map_err(|e| api_error("backup:ListBackupVaults", e))?;
            let (Some(name), Some(arn)) = (v.backup_vault_name(), v.backup_vault_arn()) else {
                continue;
            };
            if let Some(tags) = tags_of(&client, arn).await?
                && in_env(&scope.env, &tags, Some(name))
            {
                ids.push(name.to_owned());
            }
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(v: serde_json::Value) -> String {
        let ctx = crate::support::unit_test_ctx("primary/backup.vault/payment");
        let inputs: Inputs = match serde_json::from_value(v) {
            Ok(inputs) => inputs,
            Err(e) => return e.to_string(),
        };
        match check(&ctx, &inputs) {
            Ok(()) => panic!("accepted"),
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
            refused(json!({"name": "payment-dev", "key": "x"})).contains("unknown field `key`")
        );
    }
}
