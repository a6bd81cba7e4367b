//! `cloudwatch.dashboard`: a dashboard whose `body` is a JSON object (the
//! API takes and returns it as a string). Its id is the name.

use std::sync::Arc;

use async_trait::async_trait;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{
    all_items, api_error, attrs, confirm_owned, found, invalid, name_embeds_env, tolerate,
};

pub static SCHEMA: KindSchema = KindSchema::new("cloudwatch.dashboard", Latency::calls(1, 1, 1))
    .force_new(&["dashboard_name"])
    .outputs(&["arn", "dashboard_name"]);

pub struct Dashboard(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    dashboard_name: String,
    /// A JSON object (the dashboard body document).
    body: Json,
}

/// GetDashboard and DeleteDashboards answer `ResourceNotFound`
/// (DashboardNotFoundError) for a missing dashboard.
const NOT_FOUND: &[&str] = &["ResourceNotFound"];

impl Dashboard {
    async fn put(&self, ctx: &OpContext, inputs: &Inputs) -> Result<(), ProviderError> {
        let body = Some(&inputs.body)
            .filter(|b| b.is_object())
            .ok_or_else(|| invalid(ctx, "input `body` must be a JSON object"))?;
        let cloudwatch = self.0.cloudwatch(&ctx.region);
        let out = cloudwatch
            .put_dashboard()
            .dashboard_name(&inputs.dashboard_name)
            .dashboard_body(body.to_string())
            .send()
            .await
            .map_err(|e| api_error("cloudwatch:PutDashboard", e))?;
        // AWS saves a dashboard despite validation messages (it may then
        // not display correctly); the apply goes on, and says so.
        for m in out.dashboard_validation_messages() {
            tracing::warn!(
                address = %ctx.address,
                path = m.data_path().unwrap_or("body"),
                "cloudwatch:PutDashboard: {}",
                m.message().unwrap_or_default()
            );
        }
        Ok(())
    }

    /// `(arn, body)`; `None` when the dashboard is gone.
    async fn get(
        &self,
        ctx: &OpContext,
        name: &str,
    ) -> Result<Option<(String, Json)>, ProviderError> {
        let cloudwatch = self.0.cloudwatch(&ctx.region);
        let result = cloudwatch.get_dashboard().dashboard_name(name).send().await;
        let Some(out) = found(result, NOT_FOUND, "cloudwatch:GetDashboard")? else {
            return Ok(None);
        };
        let body = serde_json::from_str(out.dashboard_body().unwrap_or("{}")).map_err(|e| {
            ProviderError::new(
                "cloudwatch:GetDashboard",
                format!("dashboard body is not JSON: {e}"),
            )
        })?;
        Ok(Some((
            out.dashboard_arn().unwrap_or_default().to_owned(),
            body,
        )))
    }

    async fn outputs(&self, ctx: &OpContext, name: &str) -> Result<Attributes, ProviderError> {
        let (arn, _) = self.get(ctx, name).await?.ok_or_else(|| {
            ProviderError::new(
                "cloudwatch:GetDashboard",
                format!("dashboard {name} not found"),
            )
            .with_code("ResourceNotFound")
        })?;
        Ok(outputs(&arn, name))
    }
}

fn outputs(arn: &str, name: &str) -> Attributes {
    attrs([("arn", json!(arn)), ("dashboard_name", json!(name))])
}

#[async_trait]
impl Kind for Dashboard {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let name = inputs.dashboard_name.as_str();
        self.put(ctx, inputs).await?;
        Ok(Applied {
            id: name.to_owned(),
            outputs: self.outputs(ctx, name).await?,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        Ok(self.get(ctx, id).await?.map(|(arn, body)| Found {
            inputs: Inputs {
                dashboard_name: id.to_owned(),
                body,
            },
            outputs: outputs(&arn, id),
        }))
    }

    /// Dashboard names are unique per account and region, and the id is the
    /// name.
    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let name = inputs.dashboard_name.as_str();
        Ok(self.get(ctx, name).await?.map(|_| name.to_owned()))
    }

    async fn update(&self, ctx: &OpContext, id: &str, _prior: &Inputs, inputs: &Inputs) -> Updated {
        // PutDashboard overwrites the whole body.
        self.put(ctx, inputs).await?;
        self.outputs(ctx, id).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        // A dashboard has no tags: its name, drctl's and the
        // environment's, proves it this environment's.
        let named = Some(inputs.dashboard_name.as_str()).filter(|n| *n == id);
        confirm_owned(
            ctx,
            "delete",
            &format!("dashboard {id}"),
            &Default::default(),
            named,
        )?;
        let cloudwatch = self.0.cloudwatch(&ctx.region);
        let result = cloudwatch
            .delete_dashboards()
            .dashboard_names(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "cloudwatch:DeleteDashboards")
    }

    /// A dashboard has no tags: the environment's are those named for it.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.cloudwatch(&scope.region);
        let dashboards = client.list_dashboards().into_paginator().items().send();
        let dashboards = all_items(dashboards, "cloudwatch:ListDashboards").await?;
        Ok(dashboards
            .iter()
            .filter_map(|d| d.dashboard_name())
            .filter(|name| name_embeds_env(name, &scope.env))
            .map(str::to_owned)
            .collect())
    }
}
