//! `apigateway.stage`: a named stage serving one deployment, with
//! stage-wide throttling (method settings `*/*`) and tags. Its id is
//! `<rest_api_id>/<stage_name>`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_apigateway::operation::get_stage::GetStageOutput;
use aws_sdk_apigateway::types::PatchOperation;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Number, json};

use super::{
    NOT_FOUND, Own, confirm, create_tags, env_apis, replace, sync_tags, under, user_tags,
    whole_number,
};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{api_error, attrs, found, invalid, tolerate};

pub static SCHEMA: KindSchema = KindSchema::new("apigateway.stage", Latency::calls(2, 2, 1))
    .force_new(&["rest_api_id", "stage_name"])
    .outputs(&["invoke_url", "stage_name", "arn"]);

pub struct Stage(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    rest_api_id: String,
    stage_name: String,
    deployment_id: String,
    /// Requests per second, stage-wide; null where the account's defaults
    /// apply (what a read of a stage without settings finds).
    #[serde(default)]
    throttling_rate_limit: Option<Number>,
    #[serde(default)]
    throttling_burst_limit: Option<Number>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

const RATE: &str = "/*/*/throttling/rateLimit";
const BURST: &str = "/*/*/throttling/burstLimit";

fn arn(region: &str, api: &str, stage: &str) -> String {
    format!("arn:aws:apigateway:{region}::/restapis/{api}/stages/{stage}")
}

fn outputs(region: &str, api: &str, stage: &str) -> Attributes {
    attrs([
        (
            "invoke_url",
            json!(format!(
                "https://{api}.execute-api.{region}.amazonaws.com/{stage}"
            )),
        ),
        ("stage_name", json!(stage)),
        ("arn", json!(arn(region, api, stage))),
    ])
}

/// The patch operations that bring the stage from `prior` to `inputs`
/// (everything when `prior` is `None`).
fn patches(
    ctx: &OpContext,
    prior: Option<&Inputs>,
    inputs: &Inputs,
) -> Result<Vec<PatchOperation>, ProviderError> {
    let mut ops = Vec::new();
    if prior.is_some_and(|p| p.deployment_id != inputs.deployment_id) {
        ops.push(replace("/deploymentId", &inputs.deployment_id));
    }
    for (key, path, was, is) in [
        (
            "throttling_rate_limit",
            RATE,
            prior.map(|p| &p.throttling_rate_limit),
            &inputs.throttling_rate_limit,
        ),
        (
            "throttling_burst_limit",
            BURST,
            prior.map(|p| &p.throttling_burst_limit),
            &inputs.throttling_burst_limit,
        ),
    ] {
        if was != Some(is) {
            let value = is
                .as_ref()
                .ok_or_else(|| invalid(ctx, format!("input `{key}` must be a number")))?;
            ops.push(replace(path, value.to_string()));
        }
    }
    Ok(ops)
}

impl Stage {
    async fn get(
        &self,
        ctx: &OpContext,
        api: &str,
        stage: &str,
    ) -> Result<Option<GetStageOutput>, ProviderError> {
        let apigateway = self.0.apigateway(&ctx.region);
        let result = apigateway
            .get_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .send()
            .await;
        found(result, NOT_FOUND, "apigateway:GetStage")
    }

    async fn patch(
        &self,
        ctx: &OpContext,
        api: &str,
        stage: &str,
        ops: Vec<PatchOperation>,
    ) -> Result<(), ProviderError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.0
            .apigateway(&ctx.region)
            .update_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .set_patch_operations(Some(ops))
            .send()
            .await
            .map_err(|e| api_error("apigateway:UpdateStage", e))?;
        Ok(())
    }
}

#[async_trait]
impl Kind for Stage {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let (api, stage) = (&inputs.rest_api_id, &inputs.stage_name);
        let ops = patches(ctx, None, inputs)?;
        // CreateStage takes no idempotency token; a resend of one that
        // happened finds the stage name taken (ConflictException).
        let request = self
            .0
            .apigateway_once(&ctx.region)
            .create_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .deployment_id(&inputs.deployment_id)
            .set_tags(Some(create_tags(ctx, &inputs.tags)));
        create_or_find(
            self,
            ctx,
            inputs,
            "apigateway:CreateStage",
            &["ConflictException"],
            || request.clone().send(),
        )
        .await?;
        // Method settings exist only once the stage does.
        self.patch(ctx, api, stage, ops).await?;
        Ok(Applied {
            id: format!("{api}/{stage}"),
            outputs: outputs(&ctx.region, api, stage),
        })
    }

    async fn read(&self, ctx: &OpContext, _id: &str, prior: &Inputs) -> Read<Inputs> {
        let (api, stage) = (&prior.rest_api_id, &prior.stage_name);
        let Some(out) = self.get(ctx, api, stage).await? else {
            return Ok(None);
        };
        // Without stage-wide settings the account's defaults apply: no
        // value drctl set, so null (an update sets them again).
        let all = out.method_settings().and_then(|m| m.get("*/*"));
        Ok(Some(Found {
            inputs: Inputs {
                rest_api_id: api.clone(),
                stage_name: stage.clone(),
                deployment_id: out.deployment_id().unwrap_or_default().to_owned(),
                throttling_rate_limit: all.map(|s| whole_number(s.throttling_rate_limit)),
                throttling_burst_limit: all.map(|s| Number::from(s.throttling_burst_limit)),
                tags: user_tags(out.tags()),
            },
            outputs: outputs(&ctx.region, api, stage),
        }))
    }

    async fn update(&self, ctx: &OpContext, _id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let (api, stage) = (&inputs.rest_api_id, &inputs.stage_name);
        self.patch(ctx, api, stage, patches(ctx, Some(prior), inputs)?)
            .await?;
        sync_tags(
            &self.0.apigateway(&ctx.region),
            &arn(&ctx.region, api, stage),
            &prior.tags,
            &inputs.tags,
        )
        .await?;
        Ok(outputs(&ctx.region, api, stage))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let (api, stage) = (&inputs.rest_api_id, &inputs.stage_name);
        let out = self.get(ctx, api, stage).await?;
        Ok(out.map(|_| format!("{api}/{stage}")))
    }

    async fn delete(&self, ctx: &OpContext, _id: &str, inputs: &Inputs) -> Done {
        let (api, stage) = (&inputs.rest_api_id, &inputs.stage_name);
        let Some(out) = self.get(ctx, api, stage).await? else {
            return Ok(());
        };
        confirm(
            ctx,
            &format!("stage {stage} of REST API {api}"),
            out.tags,
            Own,
        )?;
        let apigateway = self.0.apigateway(&ctx.region);
        let result = apigateway
            .delete_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "apigateway:DeleteStage")
    }

    /// The stages of the environment's APIs.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = &self.0.apigateway(&scope.region);
        under(env_apis(&self.0, scope).await?, |api| async move {
            let result = client.get_stages().rest_api_id(&api).send().await;
            let out = found(result, NOT_FOUND, "apigateway:GetStages")?;
            Ok(out
                .iter()
                .flat_map(|o| o.item())
                .filter_map(|s| s.stage_name())
                .map(|s| format!("{api}/{s}"))
                .collect())
        })
        .await
    }
}
