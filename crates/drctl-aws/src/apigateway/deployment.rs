//! `apigateway.deployment`: a snapshot of a REST API that stages serve.
//! Deployments are immutable, so this resource stands for a series of
//! them: its id is fixed at `<rest_api_id>/deployment`, an update creates
//! a new deployment, and `deployment_id` is always the newest one. The
//! deployments it created are those carrying its description.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_apigateway::Client;
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use super::NOT_FOUND;
use crate::clients::Clients;
use crate::support::{api_error, attrs, found, opt_str, req_str, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "apigateway.deployment",
    force_new: &["rest_api_id"],
    outputs: &["deployment_id", "rest_api_id"],
    // An update creates a new deployment: references to it (the stage's)
    // are unknown until the update has run.
    volatile_outputs: &["deployment_id"],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(2, 2, 1),
};

pub struct Deployment(pub(crate) Arc<Clients>);

fn outputs(api: &str, deployment: &str) -> Attributes {
    attrs([
        ("deployment_id", json!(deployment)),
        ("rest_api_id", json!(api)),
    ])
}

/// `(id, created, description)` of every deployment of the API, in the
/// order the API lists them; `None` when the API is gone.
async fn deployments(
    client: &Client,
    api: &str,
) -> Result<Option<Vec<(String, i64, String)>>, ProviderError> {
    let mut all = Vec::new();
    let mut position: Option<String> = None;
    loop {
        let result = client
            .get_deployments()
            .rest_api_id(api)
            .limit(500)
            .set_position(position.clone())
            .send()
            .await;
        let Some(page) = found(result, NOT_FOUND, "apigateway:GetDeployments")? else {
            return Ok(None);
        };
        all.extend(page.items().iter().map(|d| {
            (
                d.id().unwrap_or_default().to_owned(),
                d.created_date().map(|t| t.secs()).unwrap_or(0),
                d.description().unwrap_or_default().to_owned(),
            )
        }));
        match page.position() {
            Some(p) if !p.is_empty() && Some(p) != position.as_deref() => {
                position = Some(p.to_owned())
            }
            _ => return Ok(Some(all)),
        }
    }
}

/// The deployment ids some stage of the API serves.
async fn in_use(client: &Client, api: &str) -> Result<Option<BTreeSet<String>>, ProviderError> {
    let result = client.get_stages().rest_api_id(api).send().await;
    let out = found(result, NOT_FOUND, "apigateway:GetStages")?;
    Ok(out.map(|o| {
        o.item()
            .iter()
            .filter_map(|s| s.deployment_id().map(str::to_owned))
            .collect()
    }))
}

/// Deletes this resource's deployments (by description, plus `also`) that
/// no stage serves, except `keep`. A deployment a stage still serves
/// cannot be deleted on AWS; it goes once the stage moves on or is gone.
async fn prune(
    client: &Client,
    api: &str,
    descriptions: &[&str],
    also: Option<&str>,
    keep: Option<&str>,
) -> Result<(), ProviderError> {
    let (Some(all), Some(used)) = (deployments(client, api).await?, in_use(client, api).await?)
    else {
        return Ok(());
    };
    for (id, _, description) in all {
        let ours = descriptions.contains(&description.as_str()) || also == Some(id.as_str());
        if !ours || used.contains(&id) || keep == Some(id.as_str()) {
            continue;
        }
        let result = client
            .delete_deployment()
            .rest_api_id(api)
            .deployment_id(&id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "apigateway:DeleteDeployment")?;
    }
    Ok(())
}

impl Deployment {
    async fn deploy(&self, ctx: &OpContext, inputs: &Attributes) -> Result<String, ProviderError> {
        let out = self
            .0
            .apigateway(&ctx.region)
            .create_deployment()
            .rest_api_id(req_str(ctx, inputs, "rest_api_id")?)
            .description(opt_str(inputs, "description").unwrap_or_default())
            .send()
            .await
            .map_err(|e| api_error("apigateway:CreateDeployment", e))?;
        Ok(out.id().unwrap_or_default().to_owned())
    }
}

#[async_trait]
impl Provider for Deployment {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let api = req_str(ctx, inputs, "rest_api_id")?;
        let deployment = self.deploy(ctx, inputs).await?;
        Ok(Applied {
            id: format!("{api}/deployment"),
            outputs: outputs(api, &deployment),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        _id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let api = req_str(ctx, prior, "rest_api_id")?;
        let description = opt_str(prior, "description").unwrap_or_default();
        let Some(all) = deployments(&self.0.apigateway(&ctx.region), api).await? else {
            return Ok(None);
        };
        // The newest of ours; on equal timestamps the one listed last.
        let newest = all
            .iter()
            .enumerate()
            .filter(|(_, (_, _, d))| d == description)
            .max_by_key(|(i, (_, created, _))| (*created, *i))
            .map(|(_, (id, _, _))| id.clone());
        let Some(deployment) = newest else {
            return Ok(None);
        };
        Ok(Some(Observed {
            inputs: attrs([
                ("rest_api_id", json!(api)),
                ("description", json!(description)),
                // Triggers exist only in drctl's state: nothing to observe.
                (
                    "triggers",
                    prior.get("triggers").cloned().unwrap_or(Json::Null),
                ),
            ]),
            outputs: outputs(api, &deployment),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        // A change of triggers or description means "deploy again".
        let api = req_str(ctx, inputs, "rest_api_id")?;
        let deployment = self.deploy(ctx, inputs).await?;
        // Earlier deployments of ours that no stage serves any more: the one
        // the stage serves now stays until the stage has moved on.
        let descriptions = [
            opt_str(prior, "description").unwrap_or_default(),
            opt_str(inputs, "description").unwrap_or_default(),
        ];
        prune(
            &self.0.apigateway(&ctx.region),
            api,
            &descriptions,
            None,
            Some(&deployment),
        )
        .await?;
        Ok(outputs(api, &deployment))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        // Its deployments are those with its description (as in `read`).
        let api = req_str(ctx, inputs, "rest_api_id")?;
        let description = opt_str(inputs, "description").unwrap_or_default();
        let all = deployments(&self.0.apigateway(&ctx.region), api).await?;
        Ok(all
            .is_some_and(|all| all.iter().any(|(_, _, d)| d == description))
            .then(|| format!("{api}/deployment")))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        _id: &str,
        inputs: &Attributes,
        outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let api = req_str(ctx, inputs, "rest_api_id")?;
        if !super::confirm_api_owned(&self.0.apigateway(&ctx.region), ctx, api).await? {
            return Ok(());
        }
        prune(
            &self.0.apigateway(&ctx.region),
            api,
            &[opt_str(inputs, "description").unwrap_or_default()],
            opt_str(outputs, "deployment_id"),
            None,
        )
        .await
    }
}
