//! `sns.topic`: a standard topic with a display name. Its id is the ARN.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sns::types::Tag;
use drctl_core::{Applied, Attributes, KindSchema, Observed, OpContext, Provider, ProviderError};
use serde_json::json;

use crate::clients::Clients;
use crate::support::{
    all_tags, api_error, attrs, found, observed_tags, opt_str, req_str, tag_changes, tolerate,
    user_tags,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "sns.topic",
    force_new: &["name"],
    outputs: &["arn", "name"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
};

pub struct Topic(pub(crate) Arc<Clients>);

/// GetTopicAttributes answers `NotFound`; the tagging calls `ResourceNotFound`.
const NOT_FOUND: &[&str] = &["NotFound", "ResourceNotFound"];

fn tag(k: String, v: String) -> Result<Tag, ProviderError> {
    Tag::builder()
        .key(k)
        .value(v)
        .build()
        .map_err(|e| ProviderError::new("sns:Tag", e.to_string()))
}

/// The topic name is the ARN's last segment.
fn name_of(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// The DisplayName attribute, left out when empty (the topic's default).
fn display_name(inputs: &Attributes) -> Option<HashMap<String, String>> {
    opt_str(inputs, "display_name")
        .filter(|d| !d.is_empty())
        .map(|d| HashMap::from([("DisplayName".to_owned(), d.to_owned())]))
}

fn outputs(arn: &str) -> Attributes {
    attrs([("arn", json!(arn)), ("name", json!(name_of(arn)))])
}

#[async_trait]
impl Provider for Topic {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let name = req_str(ctx, inputs, "name")?;
        let tags = all_tags(ctx, inputs)
            .into_iter()
            .map(|(k, v)| tag(k, v))
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .0
            .sns(&ctx.region)
            .create_topic()
            .name(name)
            .set_attributes(display_name(inputs))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| api_error("sns:CreateTopic", e))?;
        let arn = out
            .topic_arn()
            .ok_or_else(|| ProviderError::new("sns:CreateTopic", "no topic ARN in the response"))?;
        Ok(Applied {
            id: arn.to_owned(),
            outputs: outputs(arn),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let sns = self.0.sns(&ctx.region);
        let result = sns.get_topic_attributes().topic_arn(id).send().await;
        let Some(out) = found(result, NOT_FOUND, "sns:GetTopicAttributes")? else {
            return Ok(None);
        };
        let display_name = out
            .attributes()
            .and_then(|a| a.get("DisplayName"))
            .cloned()
            .unwrap_or_default();
        let result = sns.list_tags_for_resource().resource_arn(id).send().await;
        let Some(tags) = found(result, NOT_FOUND, "sns:ListTagsForResource")? else {
            return Ok(None);
        };
        let tags = tags
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()));
        Ok(Some(Observed {
            inputs: attrs([
                ("name", json!(name_of(id))),
                ("display_name", json!(display_name)),
                ("tags", observed_tags(tags)),
            ]),
            outputs: outputs(id),
        }))
    }

    /// Topic names are unique per account and region: the topic listed
    /// with this name, its ARN being what CreateTopic returned.
    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let name = req_str(ctx, inputs, "name")?;
        let sns = self.0.sns(&ctx.region);
        let mut token: Option<String> = None;
        loop {
            let page = sns
                .list_topics()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| api_error("sns:ListTopics", e))?;
            let found = page
                .topics()
                .iter()
                .filter_map(|t| t.topic_arn())
                .find(|arn| name_of(arn) == name);
            if let Some(arn) = found {
                return Ok(Some(arn.to_owned()));
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(None),
            }
        }
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let sns = self.0.sns(&ctx.region);
        if prior.get("display_name") != inputs.get("display_name") {
            sns.set_topic_attributes()
                .topic_arn(id)
                .attribute_name("DisplayName")
                .attribute_value(opt_str(inputs, "display_name").unwrap_or(""))
                .send()
                .await
                .map_err(|e| api_error("sns:SetTopicAttributes", e))?;
        }
        let (set, remove) = tag_changes(&user_tags(prior), &user_tags(inputs));
        if !set.is_empty() {
            sns.tag_resource()
                .resource_arn(id)
                .set_tags(Some(
                    set.into_iter()
                        .map(|(k, v)| tag(k, v))
                        .collect::<Result<_, _>>()?,
                ))
                .send()
                .await
                .map_err(|e| api_error("sns:TagResource", e))?;
        }
        if !remove.is_empty() {
            sns.untag_resource()
                .resource_arn(id)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| api_error("sns:UntagResource", e))?;
        }
        Ok(outputs(id))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        // DeleteTopic of a missing topic succeeds on AWS; NotFound is mapped
        // all the same.
        let result = self
            .0
            .sns(&ctx.region)
            .delete_topic()
            .topic_arn(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "sns:DeleteTopic")
    }
}
