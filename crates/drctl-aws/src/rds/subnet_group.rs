//! `rds.db_subnet_group`: the private subnets an Aurora cluster's instances
//! are placed in. Its id is the name (RDS keeps names in lower case).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::DbSubnetGroup;
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use super::{create_tags, list_tags, sorted_strings, sync_tags};
use crate::clients::Clients;
use crate::support::{Created, api_error, attrs, create_once, found, req_str, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "rds.db_subnet_group",
    force_new: &["name"],
    outputs: &["name", "arn"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    // CreateDBSubnetGroup and DeleteDBSubnetGroup return at once; neither
    // drctl nor the provider's aws_db_subnet_group waits on a status
    // (internal/service/rds/subnet_group.go).
    latency: Latency {
        create: 1,
        update: 1,
        delete: 1,
        basis: "API calls only, no wait (nor in TF's aws_db_subnet_group)",
    },
};

pub struct SubnetGroup(pub(crate) Arc<Clients>);

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
impl Provider for SubnetGroup {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let name = req_str(ctx, inputs, "name")?;
        // No idempotency token; a resend of one that happened finds the
        // name taken.
        let request = self
            .0
            .rds_once(&ctx.region)
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(req_str(ctx, inputs, "description")?)
            .set_subnet_ids(Some(sorted_strings(inputs, "subnet_ids")))
            .set_tags(Some(create_tags(ctx, inputs)));
        let created = create_once(
            "rds:CreateDBSubnetGroup",
            &["DBSubnetGroupAlreadyExists"],
            || request.clone().send(),
            || self.find(ctx, inputs),
        )
        .await?;
        let outputs = match created {
            Created::Sent(out) => {
                let g = out
                    .db_subnet_group()
                    .ok_or_else(|| gone("rds:CreateDBSubnetGroup", name))?;
                outputs(name, g)
            }
            Created::Found(_) => {
                self.read(ctx, name, inputs)
                    .await?
                    .ok_or_else(|| gone("rds:DescribeDBSubnetGroups", name))?
                    .outputs
            }
        };
        Ok(Applied {
            id: name.to_owned(),
            outputs,
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let rds = self.0.rds(&ctx.region);
        let Some(g) = describe(&rds, id).await? else {
            return Ok(None);
        };
        let mut subnets: Vec<&str> = g
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier())
            .collect();
        subnets.sort_unstable();
        let tags = list_tags(&rds, g.db_subnet_group_arn().unwrap_or_default()).await?;
        Ok(Some(Observed {
            inputs: attrs([
                ("name", json!(id)),
                (
                    "description",
                    json!(g.db_subnet_group_description().unwrap_or_default()),
                ),
                ("subnet_ids", json!(subnets)),
                ("tags", tags),
            ]),
            outputs: outputs(id, &g),
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
        if prior.get("description") != inputs.get("description")
            || sorted_strings(prior, "subnet_ids") != sorted_strings(inputs, "subnet_ids")
        {
            // ModifyDBSubnetGroup replaces the whole subnet list.
            rds.modify_db_subnet_group()
                .db_subnet_group_name(id)
                .db_subnet_group_description(req_str(ctx, inputs, "description")?)
                .set_subnet_ids(Some(sorted_strings(inputs, "subnet_ids")))
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
            prior,
            inputs,
        )
        .await?;
        Ok(outputs(id, &g))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        // A subnet group has no transitional states: it exists or not.
        let name = req_str(ctx, inputs, "name")?;
        Ok(describe(&self.0.rds(&ctx.region), name)
            .await?
            .map(|_| name.to_owned()))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let rds = self.0.rds(&ctx.region);
        let Some(g) = describe(&rds, id).await? else {
            return Ok(());
        };
        let tags = super::tag_list(&rds, g.db_subnet_group_arn().unwrap_or_default()).await?;
        super::confirm_owned(
            ctx,
            &format!("DB subnet group {id}"),
            &tags,
            id,
            inputs,
            "name",
        )?;
        let result = self
            .0
            .rds(&ctx.region)
            .delete_db_subnet_group()
            .db_subnet_group_name(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "rds:DeleteDBSubnetGroup")
    }
}
