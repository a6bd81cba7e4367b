//! `kms.alias`: an alias (`alias/<name>`) of a key in one region. Its id is
//! the alias name. The name is unique in the region, which makes create
//! idempotent: an AlreadyExistsException for an alias that already points
//! at the wanted key is success (a resend after a lost response).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::types::AliasListEntry;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::NOT_FOUND;
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{
    api_error, attrs, confirm_owned, has_code, invalid, name_embeds_env, tolerate,
};

pub static SCHEMA: KindSchema = KindSchema::new("kms.alias", Latency::calls(1, 1, 1))
    .force_new(&["alias_name"])
    .outputs(&["alias_name", "alias_arn"]);

pub struct Alias(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// `alias/<name>`: the id.
    alias_name: String,
    /// The key id (not its ARN: ListAliases reports the id).
    target_key_id: String,
}

/// The alias name, checked before any call (KMS API reference,
/// CreateAlias: `alias/` then letters, digits, `/_-`; `alias/aws/` is
/// reserved for AWS managed keys; at most 256 characters).
fn alias_name<'a>(ctx: &OpContext, inputs: &'a Inputs) -> Result<&'a str, ProviderError> {
    let name = inputs.alias_name.as_str();
    let rest = name.strip_prefix("alias/");
    let valid = rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with("aws/")
            && r.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
    }) && name.len() <= 256;
    if !valid {
        return Err(invalid(
            ctx,
            format!(
                "input `alias_name` is {name:?}: an alias is `alias/` followed by letters, digits, `/`, `_` or `-`, not `alias/aws/...` (reserved for AWS managed keys)"
            ),
        ));
    }
    Ok(name)
}

/// The alias `name` of the region, if it exists.
async fn lookup(client: &Client, name: &str) -> Result<Option<AliasListEntry>, ProviderError> {
    // Pages are fetched only until the alias turns up.
    let mut aliases = client.list_aliases().into_paginator().items().send();
    while let Some(a) = aliases.next().await {
        let a = a.map_err(|e| api_error("kms:ListAliases", e))?;
        if a.alias_name() == Some(name) {
            return Ok(Some(a));
        }
    }
    Ok(None)
}

fn outputs(a: &AliasListEntry) -> Attributes {
    attrs([
        ("alias_name", json!(a.alias_name().unwrap_or_default())),
        ("alias_arn", json!(a.alias_arn().unwrap_or_default())),
    ])
}

#[async_trait]
impl Kind for Alias {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let name = alias_name(ctx, inputs)?;
        let target = inputs.target_key_id.as_str();
        let client = self.0.kms(&ctx.region);
        let result = client
            .create_alias()
            .alias_name(name)
            .target_key_id(target)
            .send()
            .await;
        if let Err(e) = result {
            if !has_code(&e, &["AlreadyExistsException"]) {
                return Err(api_error("kms:CreateAlias", e));
            }
            // Ours if it already points at the key (a resend); another
            // key's alias is not taken over.
            let existing = lookup(&client, name).await?;
            if existing.as_ref().and_then(|a| a.target_key_id()) != Some(target) {
                return Err(ProviderError::new(
                    "kms:CreateAlias",
                    format!(
                        "alias {name} already exists in {} for key {}: delete it or choose another environment name",
                        ctx.region,
                        existing
                            .as_ref()
                            .and_then(|a| a.target_key_id())
                            .unwrap_or("(unknown)")
                    ),
                )
                .with_code("AlreadyExistsException"));
            }
        }
        let created = lookup(&client, name).await?.ok_or_else(|| {
            ProviderError::new(
                "kms:ListAliases",
                format!("alias {name} not listed after create"),
            )
        })?;
        Ok(Applied {
            id: name.to_owned(),
            outputs: outputs(&created),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let Some(a) = lookup(&self.0.kms(&ctx.region), id).await? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: Inputs {
                alias_name: id.to_owned(),
                target_key_id: a.target_key_id().unwrap_or_default().to_owned(),
            },
            outputs: outputs(&a),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, _prior: &Inputs, inputs: &Inputs) -> Updated {
        let client = self.0.kms(&ctx.region);
        client
            .update_alias()
            .alias_name(id)
            .target_key_id(&inputs.target_key_id)
            .send()
            .await
            .map_err(|e| api_error("kms:UpdateAlias", e))?;
        let a = lookup(&client, id)
            .await?
            .ok_or_else(|| ProviderError::new("kms:ListAliases", format!("alias {id} is gone")))?;
        Ok(outputs(&a))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let name = alias_name(ctx, inputs)?;
        let found = lookup(&self.0.kms(&ctx.region), name).await?;
        Ok(found
            .filter(|a| a.target_key_id() == Some(inputs.target_key_id.as_str()))
            .map(|_| name.to_owned()))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        // An alias has no tags: its name, drctl's and the environment's
        // (`alias/payment-<env>`), proves it this environment's.
        let named = Some(inputs.alias_name.as_str()).filter(|n| *n == id);
        confirm_owned(
            ctx,
            "delete",
            &format!("KMS alias {id}"),
            &Default::default(),
            named,
        )?;
        let kms = self.0.kms(&ctx.region);
        let result = kms.delete_alias().alias_name(id).send().await;
        tolerate(result, NOT_FOUND, "kms:DeleteAlias")
    }

    /// An alias has no tags: the environment's are those named for it
    /// (`alias/payment-<env>`, the blueprint's name).
    async fn list(&self, scope: &ListScope) -> Listed {
        let kms = self.0.kms(&scope.region);
        let mut aliases = kms.list_aliases().into_paginator().items().send();
        let mut ids = Vec::new();
        while let Some(a) = aliases.next().await {
            let a = a.map_err(|e| api_error("kms:ListAliases", e))?;
            if let Some(name) = a.alias_name()
                && name
                    .strip_prefix("alias/")
                    .is_some_and(|n| name_embeds_env(n, &scope.env))
            {
                ids.push(name.to_owned());
            }
        }
        Ok(ids)
    }
}
