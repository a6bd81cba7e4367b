//! `apigateway.deployment`: a snapshot of a REST API that stages serve.
//! Deployments are immutable, so this resource stands for a series of
//! them: its id is fixed at `<rest_api_id>/deployment`, an update creates
//! a new deployment, and `deployment_id` is always the newest one. The
//! deployments it created are those carrying its description.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_apigateway::Client;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::{NOT_FOUND, env_apis, under};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{api_error, attrs, found, found_items, tolerate};

pub static SCHEMA: KindSchema = KindSchema::new("apigateway.deployment", Latency::calls(2, 2, 1))
    .force_new(&["rest_api_id"])
    .outputs(&["deployment_id", "rest_api_id"])
    // An update creates a new deployment: references to it (the stage's)
    // are unknown until the update has run.
    .volatile_outputs(&["deployment_id"]);

pub struct Deployment(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    rest_api_id: String,
    /// What marks the deployments this resource made.
    #[serde(default)]
    description: String,
    /// Anything whose change means "deploy again" (the methods'
    /// fingerprints); drctl's state alone holds them.
    #[serde(default)]
    triggers: Json,
}

impl Inputs {
    fn id(&self) -> String {
        format!("{}/deployment", self.rest_api_id)
    }
}

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
    let call = client.get_deployments().rest_api_id(api).limit(500);
    let listed = call.into_paginator().items().send();
    let Some(all) = found_items(listed, NOT_FOUND, "apigateway:GetDeployments").await? else {
        return Ok(None);
    };
    Ok(Some(
        all.iter()
            .map(|d| {
                (
                    d.id().unwrap_or_default().to_owned(),
                    d.created_date().map(|t| t.secs()).unwrap_or(0),
                    d.description().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    ))
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
    async fn deploy(&self, ctx: &OpContext, inputs: &Inputs) -> Result<String, ProviderError> {
        let apigateway = self.0.apigateway(&ctx.region);
        let out = apigateway
            .create_deployment()
            .rest_api_id(&inputs.rest_api_id)
            .description(&inputs.description)
            .send()
            .await
            .map_err(|e| api_error("apigateway:CreateDeployment", e))?;
        Ok(out.id().unwrap_or_default().to_owned())
    }
}

#[async_trait]
impl Kind for Deployment {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let deployment = self.deploy(ctx, inputs).await?;
        Ok(Applied {
            id: inputs.id(),
            outputs: outputs(&inputs.rest_api_id, &deployment),
        })
    }

    async fn read(&self, ctx: &OpContext, _id: &str, prior: &Inputs) -> Read<Inputs> {
        let api = &prior.rest_api_id;
        let Some(all) = deployments(&self.0.apigateway(&ctx.region), api).await? else {
            return Ok(None);
        };
        // The newest of ours; on equal timestamps the one listed last.
        let newest = all
            .iter()
            .enumerate()
            .filter(|(_, (_, _, d))| *d == prior.description)
            .max_by_key(|(i, (_, created, _))| (*created, *i))
            .map(|(_, (id, _, _))| id.clone());
        let Some(deployment) = newest else {
            return Ok(None);
        };
        Ok(Some(Found {
            // Triggers exist only in drctl's state: nothing to observe.
            inputs: prior.clone(),
            outputs: outputs(api, &deployment),
        }))
    }

    async fn update(&self, ctx: &OpContext, _id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        // A change of triggers or description means "deploy again".
        let api = &inputs.rest_api_id;
        let deployment = self.deploy(ctx, inputs).await?;
        // Earlier deployments of ours that no stage serves any more: the one
        // the stage serves now stays until the stage has moved on.
        let descriptions = [prior.description.as_str(), inputs.description.as_str()];
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

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // Its deployments are those with its description (as in `read`).
        let all = deployments(&self.0.apigateway(&ctx.region), &inputs.rest_api_id).await?;
        Ok(all
            .is_some_and(|all| all.iter().any(|(_, _, d)| *d == inputs.description))
            .then(|| inputs.id()))
    }

    /// Not called: the delete reads the recorded `deployment_id`
    /// (`delete_recorded`).
    async fn delete(&self, ctx: &OpContext, _id: &str, _inputs: &Inputs) -> Done {
        Err(ProviderError::new(
            format!("delete {}", ctx.address),
            "needs the outputs state records",
        ))
    }

    async fn delete_recorded(
        &self,
        ctx: &OpContext,
        _id: &str,
        inputs: &Inputs,
        outputs: &Attributes,
    ) -> Done {
        let api = &inputs.rest_api_id;
        let client = self.0.apigateway(&ctx.region);
        if !super::confirm_api_owned(&client, ctx, api).await? {
            return Ok(());
        }
        prune(
            &client,
            api,
            &[inputs.description.as_str()],
            outputs.get("deployment_id").and_then(Json::as_str),
            None,
        )
        .await
    }

    /// `<api>/deployment` for each of the environment's APIs that has a
    /// deployment: the resource stands for the API's series of them.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = &self.0.apigateway(&scope.region);
        under(env_apis(&self.0, scope).await?, |api| async move {
            let any = deployments(client, &api)
                .await?
                .is_some_and(|d| !d.is_empty());
            Ok(any
                .then(|| format!("{api}/deployment"))
                .into_iter()
                .collect())
        })
        .await
    }
}
