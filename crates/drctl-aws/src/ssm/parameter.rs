//! `ssm.parameter`: a plain `String` parameter. Its id is the name.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType, ResourceTypeForTagging, Tag};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{
    NOT_RECORDED, TAG_ENV, api_error, attrs, confirm_owned, found, has_code_in, invalid,
    name_embeds_env, sent, tolerate,
};
use crate::tags::{TagApi, from_sdk, retag, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new("ssm.parameter", Latency::calls(1, 1, 1))
    .force_new(&["name"])
    .outputs(&["name", "arn", "version"]);

pub struct Parameter(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The id.
    name: String,
    /// `String` or `StringList`; a read may find `SecureString`.
    #[serde(rename = "type")]
    ty: String,
    /// A read of a SecureString records `support::NOT_RECORDED` instead.
    value: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

const NOT_FOUND: &[&str] = &["ParameterNotFound"];

fn parameter_type(ctx: &OpContext, inputs: &Inputs) -> Result<ParameterType, ProviderError> {
    // SecureString values would land in state as plain inputs; drctl keeps
    // secrets out of state, so only plain parameters are managed here.
    match inputs.ty.as_str() {
        "String" => Ok(ParameterType::String),
        "StringList" => Ok(ParameterType::StringList),
        other => Err(invalid(
            ctx,
            format!("parameter type `{other}` is not supported (String, StringList)"),
        )),
    }
}

/// AddTagsToResource / RemoveTagsFromResource on a parameter's name:
/// parameters are the only SSM resource drctl tags.
#[async_trait]
impl TagApi for aws_sdk_ssm::Client {
    async fn tag(&self, name: &str, set: BTreeMap<String, String>) -> Result<(), ProviderError> {
        let call = self.add_tags_to_resource().resource_id(name);
        let call = call.resource_type(ResourceTypeForTagging::Parameter);
        let call = call.set_tags(Some(to_sdk::<Tag>(set)?));
        sent(call.send().await, "ssm:AddTagsToResource")
    }

    async fn untag(&self, name: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        let call = self.remove_tags_from_resource().resource_id(name);
        let call = call.resource_type(ResourceTypeForTagging::Parameter);
        sent(
            call.set_tag_keys(Some(keys)).send().await,
            "ssm:RemoveTagsFromResource",
        )
    }
}

impl Parameter {
    async fn outputs(
        &self,
        ctx: &OpContext,
        name: &str,
    ) -> Result<Option<(Attributes, String, String)>, ProviderError> {
        let ssm = self.0.ssm(&ctx.region);
        let result = ssm.get_parameter().name(name).send().await;
        let Some(out) = found(result, NOT_FOUND, "ssm:GetParameter")? else {
            return Ok(None);
        };
        let Some(p) = out.parameter() else {
            return Ok(None);
        };
        let outputs = attrs([
            ("name", json!(name)),
            ("arn", json!(p.arn())),
            ("version", json!(p.version())),
        ]);
        let ty = p
            .r#type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default();
        Ok(Some((
            outputs,
            p.value().unwrap_or_default().to_owned(),
            ty,
        )))
    }
}

impl Parameter {
    async fn tags(
        &self,
        region: &str,
        name: &str,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let out = self
            .0
            .ssm(region)
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await
            .map_err(|e| api_error("ssm:ListTagsForResource", e))?;
        Ok(from_sdk(out.tag_list()))
    }
}

impl Parameter {
    /// The names of the region's parameters, all or those `filter` selects.
    async fn names(
        &self,
        region: &str,
        filter: Option<ParameterStringFilter>,
    ) -> Result<Vec<String>, ProviderError> {
        let call = self.0.ssm(region).describe_parameters();
        let call = call.set_parameter_filters(filter.map(|f| vec![f]));
        let pages: Vec<_> = call.into_paginator().send().collect().await;
        let mut names = Vec::new();
        for page in pages {
            let page = page.map_err(|e| api_error("ssm:DescribeParameters", e))?;
            names.extend(
                page.parameters()
                    .iter()
                    .filter_map(|p| p.name())
                    .map(str::to_owned),
            );
        }
        Ok(names)
    }
}

#[async_trait]
impl Kind for Parameter {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let name = inputs.name.as_str();
        let tags = to_sdk::<Tag>(with_identity(ctx, &inputs.tags))?;
        // PutParameter takes no idempotency token; a resend of one that
        // happened (no Overwrite) finds the name taken.
        let request = self
            .0
            .ssm_once(&ctx.region)
            .put_parameter()
            .name(name)
            .value(&inputs.value)
            .r#type(parameter_type(ctx, inputs)?)
            .set_tags(Some(tags));
        create_or_find(
            self,
            ctx,
            inputs,
            "ssm:PutParameter",
            &["ParameterAlreadyExists"],
            || request.clone().send(),
        )
        .await?;
        let (outputs, _, _) = self.outputs(ctx, name).await?.ok_or_else(|| {
            ProviderError::new(
                "ssm:GetParameter",
                "parameter not found right after creation",
            )
        })?;
        Ok(Applied {
            id: name.to_owned(),
            outputs,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let Some((outputs, value, ty)) = self.outputs(ctx, id).await? else {
            return Ok(None);
        };
        // drctl writes String and StringList parameters only: one made a
        // SecureString outside drctl holds a secret (GetParameter returns
        // its ciphertext, still not for state), so its value is not
        // recorded; the type's drift shows and the apply writes drctl's
        // value back.
        let value = if ty == "SecureString" {
            NOT_RECORDED.to_owned()
        } else {
            value
        };
        let tags = user_tags(self.tags(&ctx.region, id).await?);
        Ok(Some(Found {
            inputs: Inputs {
                name: id.to_owned(),
                ty,
                value,
                tags,
            },
            outputs,
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let ssm = self.0.ssm(&ctx.region);
        if prior.value != inputs.value || prior.ty != inputs.ty {
            ssm.put_parameter()
                .name(id)
                .value(&inputs.value)
                .r#type(parameter_type(ctx, inputs)?)
                .overwrite(true)
                .send()
                .await
                .map_err(|e| api_error("ssm:PutParameter", e))?;
        }
        retag(&ssm, id, &prior.tags, &inputs.tags).await?;
        let (outputs, _, _) = self.outputs(ctx, id).await?.ok_or_else(|| {
            ProviderError::new("ssm:GetParameter", "parameter disappeared during update")
        })?;
        Ok(outputs)
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let name = inputs.name.as_str();
        Ok(self.outputs(ctx, name).await?.map(|_| name.to_owned()))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        if self.outputs(ctx, id).await?.is_none() {
            return Ok(());
        }
        let tags = self.tags(&ctx.region, id).await?;
        let named = Some(inputs.name.as_str()).filter(|n| *n == id);
        confirm_owned(ctx, "delete", &format!("parameter {id}"), &tags, named)?;
        let ssm = self.0.ssm(&ctx.region);
        let result = ssm.delete_parameter().name(id).send().await;
        tolerate(result, NOT_FOUND, "ssm:DeleteParameter")
    }

    /// The parameters tagged with the environment, and those without a
    /// `drctl:env` tag whose names embed it (adopted by name, as delete
    /// accepts them).
    async fn list(&self, scope: &ListScope) -> Listed {
        let by_env = ParameterStringFilter::builder()
            .key(format!("tag:{TAG_ENV}"))
            .option("Equals")
            .values(&scope.env)
            .build()
            .map_err(|e| ProviderError::new("ssm:DescribeParameters", e.to_string()))?;
        let mut names = self.names(&scope.region, Some(by_env)).await?;
        for name in self.names(&scope.region, None).await? {
            if names.contains(&name) || !name_embeds_env(&name, &scope.env) {
                continue;
            }
            match self.tags(&scope.region, &name).await {
                Ok(tags) if !tags.contains_key(TAG_ENV) => names.push(name),
                Ok(_) => {}
                // Deleted since it was listed.
                Err(e) if has_code_in(&e, NOT_FOUND) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The input keys are the blueprint's (`type`, not the field's name),
    /// and a SecureString's not-recorded value round-trips.
    #[test]
    fn inputs_keep_the_blueprint_keys() {
        let recorded = json!({"name": "/payment/dev/primary/flags", "type": "SecureString",
                              "value": NOT_RECORDED, "tags": {"Name": "flags"}});
        let inputs: Inputs = serde_json::from_value(recorded.clone()).unwrap();
        assert_eq!(serde_json::to_value(&inputs).unwrap(), recorded);
    }
}
