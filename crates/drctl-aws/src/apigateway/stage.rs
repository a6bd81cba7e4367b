//! `apigateway.stage`: a named stage serving one deployment, with
//! stage-wide throttling (method settings `*/*`) and tags. Its id is
//! `<rest_api_id>/<stage_name>`.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_apigateway::types::PatchOperation;
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use super::{NOT_FOUND, number_text, replace, sync_tags, whole_number};
use crate::clients::Clients;
use crate::support::{
    all_tags, api_error, attrs, create_once, found, invalid, observed_tags, req_str, tolerate,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "apigateway.stage",
    force_new: &["rest_api_id", "stage_name"],
    outputs: &["invoke_url", "stage_name", "arn"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(2, 2, 1),
};

pub struct Stage(pub(crate) Arc<Clients>);

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
    prior: Option<&Attributes>,
    inputs: &Attributes,
) -> Result<Vec<PatchOperation>, ProviderError> {
    let changed = |k: &str| prior.is_none_or(|p| p.get(k) != inputs.get(k));
    let mut ops = Vec::new();
    if prior.is_some() && changed("deployment_id") {
        ops.push(replace(
            "/deploymentId",
            req_str(ctx, inputs, "deployment_id")?,
        ));
    }
    for (key, path) in [
        ("throttling_rate_limit", RATE),
        ("throttling_burst_limit", BURST),
    ] {
        if changed(key) {
            let value = inputs
                .get(key)
                .and_then(number_text)
                .ok_or_else(|| invalid(ctx, format!("input `{key}` must be a number")))?;
            ops.push(replace(path, value));
        }
    }
    Ok(ops)
}

impl Stage {
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
impl Provider for Stage {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let api = req_str(ctx, inputs, "rest_api_id")?;
        let stage = req_str(ctx, inputs, "stage_name")?;
        let ops = patches(ctx, None, inputs)?;
        // CreateStage takes no idempotency token; a resend of one that
        // happened finds the stage name taken (ConflictException).
        let request = self
            .0
            .apigateway_once(&ctx.region)
            .create_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .deployment_id(req_str(ctx, inputs, "deployment_id")?)
            .set_tags(Some(all_tags(ctx, inputs).into_iter().collect()));
        create_once(
            "apigateway:CreateStage",
            &["ConflictException"],
            || request.clone().send(),
            || self.find(ctx, inputs),
        )
        .await?;
        // Method settings exist only once the stage does.
        self.patch(ctx, api, stage, ops).await?;
        Ok(Applied {
            id: format!("{api}/{stage}"),
            outputs: outputs(&ctx.region, api, stage),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        _id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let api = req_str(ctx, prior, "rest_api_id")?;
        let stage = req_str(ctx, prior, "stage_name")?;
        let result = self
            .0
            .apigateway(&ctx.region)
            .get_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .send()
            .await;
        let Some(out) = found(result, NOT_FOUND, "apigateway:GetStage")? else {
            return Ok(None);
        };
        // Without stage-wide settings the account's defaults apply: no
        // value drctl set, so null (an update sets them again).
        let all = out.method_settings().and_then(|m| m.get("*/*"));
        let rate = all.map_or(Json::Null, |s| whole_number(s.throttling_rate_limit));
        let burst = all.map_or(Json::Null, |s| json!(s.throttling_burst_limit));
        Ok(Some(Observed {
            inputs: attrs([
                ("rest_api_id", json!(api)),
                ("stage_name", json!(stage)),
                (
                    "deployment_id",
                    json!(out.deployment_id().unwrap_or_default()),
                ),
                ("throttling_rate_limit", rate),
                ("throttling_burst_limit", burst),
                (
                    "tags",
                    observed_tags(out.tags().cloned().unwrap_or_default()),
                ),
            ]),
            outputs: outputs(&ctx.region, api, stage),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let api = req_str(ctx, inputs, "rest_api_id")?;
        let stage = req_str(ctx, inputs, "stage_name")?;
        self.patch(ctx, api, stage, patches(ctx, Some(prior), inputs)?)
            .await?;
        sync_tags(
            &self.0.apigateway(&ctx.region),
            &arn(&ctx.region, api, stage),
            prior,
            inputs,
        )
        .await?;
        Ok(outputs(&ctx.region, api, stage))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let api = req_str(ctx, inputs, "rest_api_id")?;
        let stage = req_str(ctx, inputs, "stage_name")?;
        let result = self
            .0
            .apigateway(&ctx.region)
            .get_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .send()
            .await;
        let out = found(result, NOT_FOUND, "apigateway:GetStage")?;
        Ok(out.map(|_| format!("{api}/{stage}")))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        _id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let api = req_str(ctx, inputs, "rest_api_id")?;
        let stage = req_str(ctx, inputs, "stage_name")?;
        let client = self.0.apigateway(&ctx.region);
        let result = client
            .get_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .send()
            .await;
        let Some(out) = found(result, NOT_FOUND, "apigateway:GetStage")? else {
            return Ok(());
        };
        crate::support::confirm_owned(
            ctx,
            "delete",
            &format!("stage {stage} of REST API {api}"),
            &crate::support::tag_map(out.tags.unwrap_or_default()),
            None,
        )?;
        let result = self
            .0
            .apigateway(&ctx.region)
            .delete_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "apigateway:DeleteStage")
    }
}
