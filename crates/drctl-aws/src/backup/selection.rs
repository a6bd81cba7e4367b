//! `backup.selection`: what a backup plan backs up (resources by ARN) and
//! the role AWS Backup assumes to do it. Its id is
//! `<plan id>/<selection id>`: every call about a selection names both.
//!
//! Inputs: `plan_id`, `name`, `iam_role_arn`, `resources` (ARNs, a set).
//! AWS Backup has no call that changes a selection, so every input
//! replaces it. Selections take no tags.
//!
//! CreateBackupSelection takes `CreatorRequestId` (AWS Backup API
//! Reference, CreateBackupSelection): drctl sends the create's token,
//! through `create_once`: after an unanswered create the selection is
//! looked up by name in its plan (`find`) before any resend. A role
//! created a moment ago may not be assumable by AWS Backup yet: the create
//! is retried while AWS says so.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_backup::Client;
use aws_sdk_backup::types::BackupSelection;
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use super::{NOT_FOUND, valid_name};
use crate::clients::Clients;
use crate::support::{
    Created, attrs, create_once, create_token, found, invalid, only_known_inputs, retry_while,
    the_one,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "backup.selection",
    force_new: &["plan_id", "name", "iam_role_arn", "resources"],
    outputs: &["selection_id"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct Selection(pub(crate) Arc<Clients>);

/// How long a create waits for a new role to be assumable (IAM is
/// eventually consistent; the Terraform AWS provider waits 2 minutes).
const ROLE_PROPAGATION: Duration = Duration::from_secs(120);

const KEYS: [&str; 4] = ["plan_id", "name", "iam_role_arn", "resources"];

struct Config {
    plan_id: String,
    name: String,
    iam_role_arn: String,
    resources: BTreeSet<String>,
}

fn config(ctx: &OpContext, inputs: &Attributes) -> Result<Config, ProviderError> {
    only_known_inputs(ctx, inputs, &KEYS, "a backup selection")?;
    let plan_id = match inputs.get("plan_id").and_then(Json::as_str) {
        Some(p) if !p.is_empty() && !p.contains('/') => p.to_owned(),
        other => {
            return Err(invalid(
                ctx,
                format!(
                    "input `plan_id` is {other:?}: give the plan's id (`backup.plan` output `plan_id`)"
                ),
            ));
        }
    };
    let name = match inputs.get("name").and_then(Json::as_str) {
        Some(n) if valid_name(n, 1, true) => n.to_owned(),
        other => {
            return Err(invalid(
                ctx,
                format!(
                    "input `name` is {other:?}: a selection name is 1 to 50 letters, digits, `-`, `_` or `.`"
                ),
            ));
        }
    };
    let iam_role_arn = match inputs.get("iam_role_arn").and_then(Json::as_str) {
        Some(a) if a.starts_with("arn:") && a.contains(":role/") => a.to_owned(),
        other => {
            return Err(invalid(
                ctx,
                format!(
                    "input `iam_role_arn` is {other:?}, not an IAM role ARN (`arn:aws:iam::<account>:role/<name>`)"
                ),
            ));
        }
    };
    let resources: Option<BTreeSet<String>> =
        inputs.get("resources").and_then(Json::as_array).map(|l| {
            l.iter()
                .filter_map(Json::as_str)
                .filter(|a| a.starts_with("arn:"))
                .map(str::to_owned)
                .collect()
        });
    let count = inputs
        .get("resources")
        .and_then(Json::as_array)
        .map_or(0, Vec::len);
    let resources = match resources {
        Some(r) if !r.is_empty() && r.len() == count => r,
        _ => {
            return Err(invalid(
                ctx,
                "input `resources` must be a non-empty list of ARNs (the Aurora cluster's, the table's)",
            ));
        }
    };
    Ok(Config {
        plan_id,
        name,
        iam_role_arn,
        resources,
    })
}

fn split(id: &str) -> Option<(&str, &str)> {
    id.split_once('/')
}

impl Selection {
    /// The ids of the selections of `plan_id` named `name`; empty when the
    /// plan is gone.
    async fn named(
        &self,
        client: &Client,
        plan_id: &str,
        name: &str,
    ) -> Result<Vec<String>, ProviderError> {
        let mut ids = Vec::new();
        let list = client.list_backup_selections().backup_plan_id(plan_id);
        let mut selections = list.into_paginator().items().send();
        while let Some(s) = selections.next().await {
            let Some(s) = found(s, NOT_FOUND, "backup:ListBackupSelections")? else {
                return Ok(ids);
            };
            if s.selection_name() == Some(name)
                && let Some(id) = s.selection_id()
            {
                ids.push(format!("{plan_id}/{id}"));
            }
        }
        Ok(ids)
    }
}

#[async_trait]
impl Provider for Selection {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let config = config(ctx, inputs)?;
        let selection = BackupSelection::builder()
            .selection_name(&config.name)
            .iam_role_arn(&config.iam_role_arn)
            .set_resources(Some(config.resources.iter().cloned().collect()))
            .build()
            .map_err(|e| ProviderError::new("backup:BackupSelection", e.to_string()))?;
        let request = self
            .0
            .backup_once(&ctx.region)
            .create_backup_selection()
            .backup_plan_id(&config.plan_id)
            .backup_selection(selection)
            .creator_request_id(create_token(ctx));
        let created = retry_while(
            ROLE_PROPAGATION,
            |e| {
                e.code.as_deref() == Some("InvalidParameterValueException")
                    && e.message.to_lowercase().contains("assume")
            },
            || {
                create_once(
                    "backup:CreateBackupSelection",
                    &[],
                    || request.clone().send(),
                    || self.find(ctx, inputs),
                )
            },
        )
        .await?;
        let id = match created {
            Created::Sent(out) => format!(
                "{}/{}",
                config.plan_id,
                out.selection_id().unwrap_or_default()
            ),
            Created::Found(id) => id,
        };
        let (_, selection_id) = split(&id).unwrap_or(("", &id));
        Ok(Applied {
            outputs: attrs([("selection_id", json!(selection_id))]),
            id: id.clone(),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some((plan_id, selection_id)) = split(id) else {
            return Ok(None);
        };
        let client = self.0.backup(&ctx.region);
        let result = client
            .get_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(selection_id)
            .send()
            .await;
        let Some(out) = found(result, NOT_FOUND, "backup:GetBackupSelection")? else {
            return Ok(None);
        };
        let Some(selection) = out.backup_selection() else {
            return Ok(None);
        };
        let resources: BTreeSet<&str> = selection.resources().iter().map(String::as_str).collect();
        Ok(Some(Observed {
            inputs: attrs([
                ("plan_id", json!(plan_id)),
                ("name", json!(selection.selection_name())),
                ("iam_role_arn", json!(selection.iam_role_arn())),
                ("resources", json!(resources)),
            ]),
            outputs: attrs([("selection_id", json!(selection_id))]),
        }))
    }

    /// Every input replaces a selection: nothing changes in place.
    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        config(ctx, inputs)?;
        let (_, selection_id) = split(id).unwrap_or(("", id));
        Ok(attrs([("selection_id", json!(selection_id))]))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        the_one(
            ctx,
            self.named(&client, &config.plan_id, &config.name).await?,
        )
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let Some((plan_id, selection_id)) = split(id) else {
            return Ok(());
        };
        let client = self.0.backup(&ctx.region);
        if !super::plan::confirm_plan_owned(&client, ctx, plan_id, false).await? {
            return Ok(());
        }
        let result = client
            .delete_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(selection_id)
            .send()
            .await;
        found(result, NOT_FOUND, "backup:DeleteBackupSelection").map(|_| ())
    }
}
