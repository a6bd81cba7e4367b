//! `rds.db_subnet_group`: the private subnets an Aurora cluster's instances
//! are placed in. Its id is the name (RDS keeps names in lower case).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::DbSubnetGroup;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{create_tags, sorted, sync_tags, tag_list, user_tags};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{all_items, api_error, attrs, found, has_code_in, tolerate};
use crate::tags::{from_sdk, in_env};

pub static SCHEMA: KindSchema = KindSchema::new(
    "rds.db_subnet_group",
    // CreateDBSubnetGroup and DeleteDBSubnetGroup return at once; neither
    // drctl nor the provider's aws_db_subnet_group waits on a status
    // (internal/service/rds/subnet_group.go).
    Latency {
        create: 1,
        update: 1,
        delete: 1,
        basis: "API calls only, no wait (nor in TF's aws_db_subnet_group)",
    },
)
.force_new(&["name"])
.outputs(&["name", "arn"]);

pub struct SubnetGroup(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The id (RDS keeps it in lower case).
    name: String,
    description: String,
    #[serde(default)]
    subnet_ids: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

const NOT_FOUND: &[&str] = &["DBSubnetGroupNotFoundFault"];

async fn describe(rds: &Client, name: &str) -> Result<Option<DbSubnetGroup>, ProviderError> {
    let result = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await;
    let out = found(result, NOT_FOUND, "rds:DescribeDBSubnetGroups")?;
    Ok(out.and_then(|o| o.db_subnet_groups().first().cloned()))
}

fn outputs(name: &str, g: &DbSubnetGroup) -> Attributes {
    attrs([
        ("name", json!(name)),
        ("arn", json!(g.db_subnet_group_arn().unwrap_or_default())),
    ])
}

fn gone(op: &str, name: &str) -> ProviderError {
    ProviderError::new(op, format!("DB subnet group {name} not found")).with_code("NotFound")
}

#[async_trait]
impl Kind for SubnetGroup {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let name = &inputs.name;
        // No idempotency token; a resend of one that happened finds the
        // name taken.
        let request = self
            .0
            .rds_once(&ctx.region)
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(&inputs.description)
            .set_subnet_ids(Some(sorted(&inputs.subnet_ids)))
            .set_tags(Some(create_tags(ctx, &inputs.tags)));
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "rds:CreateDBSubnetGroup",
            &["DBSubnetGroupAlreadyExists"],
            || request.clone().send(),
        )
        .await?;
        created
            .applied(self, ctx, inputs, |out| {
                let g = out
                    .db_subnet_group()
                    .ok_or_else(|| gone("rds:CreateDBSubnetGroup", name))?;
                Ok(Applied {
                    id: name.clone(),
                    outputs: outputs(name, g),
                })
            })
            .await
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let rds = self.0.rds(&ctx.region);
        let Some(g) = describe(&rds, id).await? else {
            return Ok(None);
        };
        let subnets: Vec<String> = g
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier().map(str::to_owned))
            .collect();
        let tags = tag_list(&rds, g.db_subnet_group_arn().unwrap_or_default()).await?;
        Ok(Some(Found {
            inputs: Inputs {
                name: id.to_owned(),
                description: g
                    .db_subnet_group_description()
                    .unwrap_or_default()
                    .to_owned(),
                subnet_ids: sorted(&subnets),
                tags: user_tags(&tags),
            },
            outputs: outputs(id, &g),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let rds = self.0.rds(&ctx.region);
        if prior.description != inputs.description
            || sorted(&prior.subnet_ids) != sorted(&inputs.subnet_ids)
        {
            // ModifyDBSubnetGroup replaces the whole subnet list.
            rds.modify_db_subnet_group()
                .db_subnet_group_name(id)
                .db_subnet_group_description(&inputs.description)
                .set_subnet_ids(Some(sorted(&inputs.subnet_ids)))
                .send()
                .await
                .map_err(|e| api_error("rds:ModifyDBSubnetGroup", e))?;
        }
        let g = describe(&rds, id)
            .await?
            .ok_or_else(|| gone("rds:DescribeDBSubnetGroups", id))?;
        sync_tags(
            &rds,
            g.db_subnet_group_arn().unwrap_or_default(),
            &prior.tags,
            &inputs.tags,
        )
        .await?;
        Ok(outputs(id, &g))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // A subnet group has no transitional states: it exists or not.
        let name = &inputs.name;
        Ok(describe(&self.0.rds(&ctx.region), name)
            .await?
            .map(|_| name.clone()))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let rds = self.0.rds(&ctx.region);
        let Some(g) = describe(&rds, id).await? else {
            return Ok(());
        };
        let tags = tag_list(&rds, g.db_subnet_group_arn().unwrap_or_default()).await?;
        super::confirm_owned(
            ctx,
            &format!("DB subnet group {id}"),
            &tags,
            id,
            &inputs.name,
        )?;
        let result = rds
            .delete_db_subnet_group()
            .db_subnet_group_name(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "rds:DeleteDBSubnetGroup")
    }

    /// The groups carrying the environment's `drctl:env` tag or, without
    /// one, named for it (`payment-<env>-...`). DescribeDBSubnetGroups
    /// shows no tags: each group's are read.
    async fn list(&self, scope: &ListScope) -> Listed {
        let rds = self.0.rds(&scope.region);
        let call = rds.describe_db_subnet_groups();
        let groups: Vec<DbSubnetGroup> = all_items(
            call.into_paginator().items().send(),
            "rds:DescribeDBSubnetGroups",
        )
        .await?;
        let mut ids = Vec::new();
        for g in &groups {
            let tags = match tag_list(&rds, g.db_subnet_group_arn().unwrap_or_default()).await {
                Ok(tags) => tags,
                // Listed, then deleted before its tags were read: gone.
                Err(e) if has_code_in(&e, NOT_FOUND) => continue,
                Err(e) => return Err(e),
            };
            if in_env(&scope.env, &from_sdk(&tags), g.db_subnet_group_name()) {
                ids.extend(g.db_subnet_group_name().map(str::to_owned));
            }
        }
        Ok(ids)
    }
}
