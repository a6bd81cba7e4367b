//! `ssm.parameter`: a plain `String` parameter. Its id is the name.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging, Tag};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use crate::clients::Clients;
use crate::support::{
    NOT_RECORDED, all_tags, api_error, attrs, confirm_owned, create_once, found, invalid,
    observed_tags, opt_str, req_str, sent, tag_map, tolerate,
};
use crate::tags::{TagApi, sync_tags};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "ssm.parameter",
    force_new: &["name"],
    outputs: &["name", "arn", "version"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct Parameter(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["ParameterNotFound"];

fn parameter_type(ctx: &OpContext, inputs: &Attributes) -> Result<ParameterType, ProviderError> {
    // SecureString values would land in state as plain inputs; drctl keeps
    // secrets out of state, so only plain parameters are managed here.
    match req_str(ctx, inputs, "type")? {
        "String" => Ok(ParameterType::String),
        "StringList" => Ok(ParameterType::StringList),
        other => Err(invalid(
            ctx,
            format!("parameter type `{other}` is not supported (String, StringList)"),
        )),
    }
}

fn tag(k: String, v: String) -> Result<Tag, ProviderError> {
    Tag::builder()
        .key(k)
        .value(v)
        .build()
        .map_err(|e| ProviderError::new("ssm:Tag", e.to_string()))
}

/// AddTagsToResource / RemoveTagsFromResource on a parameter's name:
/// parameters are the only SSM resource drctl tags.
#[async_trait]
impl TagApi for aws_sdk_ssm::Client {
    async fn tag(&self, name: &str, set: BTreeMap<String, String>) -> Result<(), ProviderError> {
        let tags = set.into_iter().map(|(k, v)| tag(k, v));
        let call = self.add_tags_to_resource().resource_id(name);
        let call = call.resource_type(ResourceTypeForTagging::Parameter);
        let call = call.set_tags(Some(tags.collect::<Result<_, _>>()?));
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
        let result = self
            .0
            .ssm(&ctx.region)
            .get_parameter()
            .name(name)
            .send()
            .await;
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
        ctx: &OpContext,
        name: &str,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let out = self
            .0
            .ssm(&ctx.region)
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await
            .map_err(|e| api_error("ssm:ListTagsForResource", e))?;
        Ok(tag_map(out.tag_list().iter().map(|t| (t.key(), t.value()))))
    }
}

#[async_trait]
impl Provider for Parameter {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let name = req_str(ctx, inputs, "name")?;
        let tags = all_tags(ctx, inputs)
            .into_iter()
            .map(|(k, v)| tag(k, v))
            .collect::<Result<Vec<_>, _>>()?;
        // PutParameter takes no idempotency token; a resend of one that
        // happened (no Overwrite) finds the name taken.
        let request = self
            .0
            .ssm_once(&ctx.region)
            .put_parameter()
            .name(name)
            .value(req_str(ctx, inputs, "value")?)
            .r#type(parameter_type(ctx, inputs)?)
            .set_tags(Some(tags));
        create_once(
            "ssm:PutParameter",
            &["ParameterAlreadyExists"],
            || request.clone().send(),
            || self.find(ctx, inputs),
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

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some((outputs, value, ty)) = self.outputs(ctx, id).await? else {
            return Ok(None);
        };
        // drctl writes String and StringList parameters only: one made a
        // SecureString outside drctl holds a secret (GetParameter returns
        // its ciphertext, still not for state), so its value is not
        // recorded; the type's drift shows and the apply writes drctl's
        // value back.
        let value = if ty == "SecureString" {
            json!(NOT_RECORDED)
        } else {
            json!(value)
        };
        let tags = self.tags(ctx, id).await?;
        Ok(Some(Observed {
            inputs: attrs([
                ("name", json!(id)),
                ("type", json!(ty)),
                ("value", json!(value)),
                ("tags", observed_tags(tags)),
            ]),
            outputs,
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let ssm = self.0.ssm(&ctx.region);
        if prior.get("value") != inputs.get("value") || prior.get("type") != inputs.get("type") {
            ssm.put_parameter()
                .name(id)
                .value(req_str(ctx, inputs, "value")?)
                .r#type(parameter_type(ctx, inputs)?)
                .overwrite(true)
                .send()
                .await
                .map_err(|e| api_error("ssm:PutParameter", e))?;
        }
        sync_tags(&ssm, id, prior, inputs).await?;
        let (outputs, _, _) = self.outputs(ctx, id).await?.ok_or_else(|| {
            ProviderError::new("ssm:GetParameter", "parameter disappeared during update")
        })?;
        Ok(outputs)
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let name = req_str(ctx, inputs, "name")?;
        Ok(self.outputs(ctx, name).await?.map(|_| name.to_owned()))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        if self.outputs(ctx, id).await?.is_none() {
            return Ok(());
        }
        let tags = self.tags(ctx, id).await?;
        let named = opt_str(inputs, "name").filter(|n| *n == id);
        confirm_owned(ctx, "delete", &format!("parameter {id}"), &tags, named)?;
        let result = self
            .0
            .ssm(&ctx.region)
            .delete_parameter()
            .name(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "ssm:DeleteParameter")
    }
}
