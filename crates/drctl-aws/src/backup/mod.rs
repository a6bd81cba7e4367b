//! AWS Backup kinds: a vault per region, a plan whose rule backs up into
//! it and copies to the other region's vault, and the plan's selection of
//! what to back up.

pub mod plan;
pub mod selection;
pub mod vault;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_backup::Client;
use drctl_core::ProviderError;

use crate::kind::{Registration, kind};
use crate::support::{found, sent};
use crate::tags::TagApi;

pub(crate) static KINDS: &[Registration] = &[
    kind!(vault, Vault),
    kind!(plan, Plan),
    kind!(selection, Selection),
];

/// What AWS Backup answers for a vault, plan or selection that does not
/// exist (AWS Backup API Reference, "Errors" of each Get/Describe/Delete).
pub(crate) const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

/// The tags of a vault or plan by its ARN; `None` when it is gone.
pub(crate) async fn tags_of(
    client: &Client,
    arn: &str,
) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
    let mut tags = BTreeMap::new();
    let mut pages = client.list_tags().resource_arn(arn).into_paginator().send();
    while let Some(page) = pages.next().await {
        let Some(out) = found(page, NOT_FOUND, "backup:ListTags")? else {
            return Ok(None);
        };
        tags.extend(out.tags.into_iter().flatten());
    }
    Ok(Some(tags))
}

/// The ARN of a vault or plan just described (`arn`) and its tags;
/// `None` when it is gone.
pub(crate) async fn with_tags(
    client: &Client,
    arn: Option<&str>,
) -> Result<Option<(String, BTreeMap<String, String>)>, ProviderError> {
    let arn = arn.unwrap_or_default().to_owned();
    Ok(tags_of(client, &arn).await?.map(|tags| (arn, tags)))
}

/// TagResource / UntagResource on a vault's or plan's ARN.
#[async_trait::async_trait]
impl TagApi for Client {
    async fn tag(&self, arn: &str, set: BTreeMap<String, String>) -> Result<(), ProviderError> {
        let tags = set.into_iter().collect::<HashMap<_, _>>();
        let call = self.tag_resource().resource_arn(arn).set_tags(Some(tags));
        sent(call.send().await, "backup:TagResource")
    }

    async fn untag(&self, arn: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        let call = self
            .untag_resource()
            .resource_arn(arn)
            .set_tag_key_list(Some(keys));
        sent(call.send().await, "backup:UntagResource")
    }
}

/// Whether `name` fits AWS Backup's vault, plan, rule and selection names:
/// 1 (2 for vaults) to 50 letters, digits, `-`, `_` (and `.` where
/// `dot`) (AWS Backup API Reference, CreateBackupVault `backupVaultName`
/// `^[a-zA-Z0-9\-\_]{2,50}$`; BackupPlanInput, BackupRuleInput and
/// BackupSelection: "1 to 50 alphanumeric or '-_.' characters").
pub(crate) fn valid_name(name: &str, min: usize, dot: bool) -> bool {
    (min..=50).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || (dot && c == '.'))
}
