//! `apigateway.rest_api`: a REST API with its endpoint type and tags. Its id
//! is the API id.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    NOT_FOUND, Own, all_apis, confirm, create_tags, env_apis, gone, made_for, replaced, sync_tags,
    user_tags,
};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, adopt, create_or_find};
use crate::support::{Created, api_error, attrs, found, retry_while, the_one, tolerate};

pub static SCHEMA: KindSchema = KindSchema::new(
    "apigateway.rest_api",
    Latency {
        create: 1,
        update: 1,
        delete: 2,
        basis: "DeleteRestApi limited to one per 30 s per account",
    },
)
.force_new(&["endpoint_type"])
.outputs(&[
    "id",
    "root_resource_id",
    "execution_arn",
    "regional_domain_name",
]);

pub struct RestApi(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    #[serde(default)]
    description: String,
    /// `REGIONAL`, `EDGE` or `PRIVATE`.
    endpoint_type: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// How long a DeleteRestApi refused by the account's quota (one call every
/// 30 s per account, not adjustable: "Amazon API Gateway quotas") is sent
/// again. A destroy deletes each region's API at once, and other
/// environments of the account may be tearing down theirs: ten minutes is
/// twenty turns of the quota.
pub(crate) const DELETE_QUOTA_LIMIT: Duration = Duration::from_secs(10 * 60);

pub(crate) fn arn(region: &str, id: &str) -> String {
    format!("arn:aws:apigateway:{region}::/restapis/{id}")
}

impl RestApi {
    async fn outputs(
        &self,
        ctx: &OpContext,
        id: &str,
        root_resource_id: &str,
    ) -> Result<Attributes, ProviderError> {
        let account = self.0.account_id().await?;
        let region = &ctx.region;
        Ok(attrs([
            ("id", json!(id)),
            ("root_resource_id", json!(root_resource_id)),
            (
                "execution_arn",
                json!(format!("arn:aws:execute-api:{region}:{account}:{id}")),
            ),
            (
                "regional_domain_name",
                json!(format!("{id}.execute-api.{region}.amazonaws.com")),
            ),
        ]))
    }
}

#[async_trait]
impl Kind for RestApi {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        // CreateRestApi takes no idempotency token and names are not
        // unique: a blind resend would make a second API.
        let request = self
            .0
            .apigateway_once(&ctx.region)
            .create_rest_api()
            .name(&inputs.name)
            .description(&inputs.description)
            .endpoint_configuration(
                EndpointConfiguration::builder()
                    .types(EndpointType::from(inputs.endpoint_type.as_str()))
                    .build(),
            )
            .set_tags(Some(create_tags(ctx, &inputs.tags)));
        let created = create_or_find(self, ctx, inputs, "apigateway:CreateRestApi", &[], || {
            request.clone().send()
        })
        .await?;
        match created {
            Created::Sent(out) => {
                let id = out.id().unwrap_or_default().to_owned();
                let outputs = self
                    .outputs(ctx, &id, out.root_resource_id().unwrap_or_default())
                    .await?;
                Ok(Applied { id, outputs })
            }
            Created::Found(id) => adopt(self, ctx, id, inputs).await,
        }
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let apigateway = self.0.apigateway(&ctx.region);
        let result = apigateway.get_rest_api().rest_api_id(id).send().await;
        let Some(api) = found(result, NOT_FOUND, "apigateway:GetRestApi")? else {
            return Ok(None);
        };
        let endpoint_type = api
            .endpoint_configuration()
            .and_then(|c| c.types().first())
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default();
        Ok(Some(Found {
            inputs: Inputs {
                name: api.name().unwrap_or_default().to_owned(),
                description: api.description().unwrap_or_default().to_owned(),
                endpoint_type,
                tags: user_tags(api.tags()),
            },
            outputs: self
                .outputs(ctx, id, api.root_resource_id().unwrap_or_default())
                .await?,
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let client = self.0.apigateway(&ctx.region);
        let ops = replaced([
            ("/name", &prior.name, &inputs.name),
            ("/description", &prior.description, &inputs.description),
        ]);
        if !ops.is_empty() {
            client
                .update_rest_api()
                .rest_api_id(id)
                .set_patch_operations(Some(ops))
                .send()
                .await
                .map_err(|e| api_error("apigateway:UpdateRestApi", e))?;
        }
        sync_tags(&client, &arn(&ctx.region, id), &prior.tags, &inputs.tags).await?;
        let read = self
            .read(ctx, id, inputs)
            .await?
            .ok_or_else(|| gone("apigateway:GetRestApi", "REST API"))?;
        Ok(read.outputs)
    }

    async fn find(&self, ctx: &OpContext, _inputs: &Inputs) -> Lookup {
        // Names are not unique and API Gateway cannot filter by one:
        // GetRestApis lists every API with its tags, which identify ours
        // (the create call sets them; the name may change in place).
        let apis = all_apis(&self.0.apigateway(&ctx.region)).await?;
        the_one(
            ctx,
            apis.iter()
                .filter(|a| made_for(ctx, a.tags()))
                .filter_map(|a| a.id().map(str::to_owned)),
        )
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let client = self.0.apigateway(&ctx.region);
        let result = client.get_rest_api().rest_api_id(id).send().await;
        let Some(api) = found(result, NOT_FOUND, "apigateway:GetRestApi")? else {
            return Ok(());
        };
        confirm(ctx, &format!("REST API {id}"), api.tags, Own)?;
        // DeleteRestApi is limited to one call every 30 s per account, more
        // than the SDK's own retries wait for when both regions tear down.
        retry_while(
            DELETE_QUOTA_LIMIT,
            |e| e.code.as_deref() == Some("TooManyRequestsException"),
            || async {
                let result = client.delete_rest_api().rest_api_id(id).send().await;
                tolerate(result, NOT_FOUND, "apigateway:DeleteRestApi")
            },
        )
        .await
    }

    /// The APIs carrying the environment's `drctl:env` tag (the create
    /// call sets it).
    async fn list(&self, scope: &ListScope) -> Listed {
        env_apis(&self.0, scope).await
    }
}
