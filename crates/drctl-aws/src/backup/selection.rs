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
use drctl_core::{Applied, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{NOT_FOUND, valid_name};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{Created, attrs, create_token, found, invalid, retry_while, the_one};

pub static SCHEMA: KindSchema = KindSchema::new("backup.selection", Latency::calls(1, 1, 1))
    .force_new(&["plan_id", "name", "iam_role_arn", "resources"])
    .outputs(&["selection_id"]);

pub struct Selection(pub(crate) Arc<Clients>);

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The plan's id (`backup.plan` output `plan_id`).
    plan_id: String,
    name: String,
    iam_role_arn: String,
    /// ARNs, a set: a read gives them sorted.
    resources: Vec<String>,
}

/// How long a create waits for a new role to be assumable (IAM is
/// eventually consistent; the Terraform AWS provider waits 2 minutes).
const ROLE_PROPAGATION: Duration = Duration::from_secs(120);

/// The resources, as a set; the inputs checked before any call.
fn resources(ctx: &OpContext, inputs: &Inputs) -> Result<BTreeSet<String>, ProviderError> {
    let plan_id = &inputs.plan_id;
    if plan_id.is_empty() || plan_id.contains('/') {
        return Err(invalid(
            ctx,
            format!(
                "input `plan_id` is {plan_id:?}: give the plan's id (`backup.plan` output `plan_id`)"
            ),
        ));
    }
    let name = &inputs.name;
    if !valid_name(name, 1, true) {
        return Err(invalid(
            ctx,
            format!(
                "input `name` is {name:?}: a selection name is 1 to 50 letters, digits, `-`, `_` or `.`"
            ),
        ));
    }
    let role = &inputs.iam_role_arn;
    if !(role.starts_with("arn:") && role.contains(":role/")) {
        return Err(invalid(
            ctx,
            format!(
                "input `iam_role_arn` is {role:?}, not an IAM role ARN (`arn:aws:iam::<account>:role/<name>`)"
            ),
        ));
    }
    let set: BTreeSet<String> = inputs.resources.iter().cloned().collect();
    if set.is_empty()
        || set.len() != inputs.resources.len()
        || set.iter().any(|a| !a.starts_with("arn:"))
    {
        return Err(invalid(
            ctx,
            "input `resources` must be a non-empty list of ARNs (the Aurora cluster's, the table's)",
        ));
    }
    Ok(set)
}

fn split(id: &str) -> Option<(&str, &str)> {
    id.split_once('/')
}

impl Selection {
    /// The ids (`<plan id>/<selection id>`) of the selections of `plan_id`
    /// that `keep` takes by name; empty when the plan is gone.
    async fn of_plan(
        &self,
        client: &Client,
        plan_id: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, ProviderError> {
        let mut ids = Vec::new();
        let list = client.list_backup_selections().backup_plan_id(plan_id);
        let mut selections = list.into_paginator().items().send();
        while let Some(s) = selections.next().await {
            let Some(s) = found(s, NOT_FOUND, "backup:ListBackupSelections")? else {
                return Ok(ids);
            };
            if s.selection_name().is_some_and(&keep)
                && let Some(id) = s.selection_id()
            {
                ids.push(format!("{plan_id}/{id}"));
            }
        }
        Ok(ids)
    }
}

#[async_trait]
impl Kind for Selection {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let resources = resources(ctx, inputs)?;
        let selection = BackupSelection::builder()
            .selection_name(&inputs.name)
            .iam_role_arn(&inputs.iam_role_arn)
            .set_resources(Some(resources.into_iter().collect()))
            .build()
            .map_err(|e| ProviderError::new("backup:BackupSelection", e.to_string()))?;
        let request = self
            .0
            .backup_once(&ctx.region)
            .create_backup_selection()
            .backup_plan_id(&inputs.plan_id)
            .backup_selection(selection)
            .creator_request_id(create_token(ctx));
        let created = retry_while(
            ROLE_PROPAGATION,
            |e| {
                e.code.as_deref() == Some("InvalidParameterValueException")
                    && e.message.to_lowercase().contains("assume")
            },
            || {
                create_or_find(
                    self,
                    ctx,
                    inputs,
                    "backup:CreateBackupSelection",
                    &[],
                    || request.clone().send(),
                )
            },
        )
        .await?;
        let id = match created {
            Created::Sent(out) => format!(
                "{}/{}",
                inputs.plan_id,
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

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
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
        let resources: BTreeSet<String> = selection.resources().iter().cloned().collect();
        Ok(Some(Found {
            inputs: Inputs {
                plan_id: plan_id.to_owned(),
                name: selection.selection_name().to_owned(),
                iam_role_arn: selection.iam_role_arn().to_owned(),
                resources: resources.into_iter().collect(),
            },
            outputs: attrs([("selection_id", json!(selection_id))]),
        }))
    }

    /// Every input replaces a selection: nothing changes in place.
    async fn update(&self, ctx: &OpContext, id: &str, _prior: &Inputs, inputs: &Inputs) -> Updated {
        resources(ctx, inputs)?;
        let (_, selection_id) = split(id).unwrap_or(("", id));
        Ok(attrs([("selection_id", json!(selection_id))]))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        resources(ctx, inputs)?;
        let client = self.0.backup(&ctx.region);
        let named = |n: &str| n == inputs.name;
        the_one(ctx, self.of_plan(&client, &inputs.plan_id, named).await?)
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
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

    /// The selections of the environment's plans: a selection has no
    /// tags, its plan is the environment's.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.backup(&scope.region);
        let plans = super::plan::Plan(self.0.clone()).list(scope).await?;
        let mut ids = Vec::new();
        for plan_id in plans {
            ids.extend(self.of_plan(&client, &plan_id, |_| true).await?);
        }
        Ok(ids)
    }
}
