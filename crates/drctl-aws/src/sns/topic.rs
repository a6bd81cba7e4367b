//! `sns.topic`: a standard topic with a display name. Its id is the ARN.
//!
//! `kms_master_key_id` encrypts it at rest with a customer key: whoever
//! publishes to it (CloudWatch alarms, EventBridge rules) then needs
//! kms:GenerateDataKey* and kms:Decrypt on that key, through the key's
//! policy (SNS Developer Guide, "Encryption at rest", key management).
//! `policy` replaces the topic's default access policy; without it the
//! default stays, unread.

use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sns::types::Tag;
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use crate::clients::Clients;
use crate::support::{
    all_tags, api_error, attrs, confirm_owned, found, invalid, observed_tags, opt_str, req_str,
    tag_map, tolerate,
};
use crate::tags::{arn_tag_api, sync_tags};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "sns.topic",
    force_new: &["name"],
    outputs: &["arn", "name"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
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

arn_tag_api!(aws_sdk_sns::Client, "sns", |set: BTreeMap<_, _>| {
    set.into_iter()
        .map(|(k, v)| tag(k, v))
        .collect::<Result<Vec<_>, _>>()
});

/// The topic name is the ARN's last segment.
fn name_of(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// The topic's tags; `None` when it is gone.
async fn topic_tags(
    sns: &aws_sdk_sns::Client,
    arn: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>, ProviderError> {
    let result = sns.list_tags_for_resource().resource_arn(arn).send().await;
    Ok(found(result, NOT_FOUND, "sns:ListTagsForResource")?
        .map(|out| tag_map(out.tags().iter().map(|t| (t.key(), t.value())))))
}

/// Refuses a change to a topic's subscription (`ctx`'s address) unless
/// the topic is this environment's: a subscription has no tags. `false`
/// when the topic is gone (its subscriptions with it).
pub(crate) async fn confirm_topic_owned(
    sns: &aws_sdk_sns::Client,
    ctx: &OpContext,
    arn: &str,
) -> Result<bool, ProviderError> {
    let Some(tags) = topic_tags(sns, arn).await? else {
        return Ok(false);
    };
    crate::support::confirm_parent_owned(
        ctx,
        "delete",
        &format!("topic {arn}"),
        &tags,
        Some(name_of(arn)),
    )?;
    Ok(true)
}

/// Inputs that are topic attributes, and the attribute each is.
const ATTRIBUTES: [(&str, &str); 3] = [
    ("display_name", "DisplayName"),
    ("kms_master_key_id", "KmsMasterKeyId"),
    ("policy", "Policy"),
];

/// The value of the topic attribute for `input`, as SNS takes it: the
/// policy document serialised, the rest as strings; empty when unset
/// (SNS's default for each).
fn attribute(ctx: &OpContext, inputs: &Attributes, input: &str) -> Result<String, ProviderError> {
    match inputs.get(input) {
        None | Some(Json::Null) => Ok(String::new()),
        Some(Json::String(s)) if input != "policy" => Ok(s.clone()),
        Some(doc @ Json::Object(_)) if input == "policy" => Ok(doc.to_string()),
        Some(_) if input == "policy" => Err(invalid(
            ctx,
            "input `policy` must be a JSON object (a topic access policy)",
        )),
        Some(_) => Err(invalid(ctx, format!("input `{input}` must be a string"))),
    }
}

/// CreateTopic's attributes: those set, empty ones left out.
fn create_attributes(
    ctx: &OpContext,
    inputs: &Attributes,
) -> Result<Option<HashMap<String, String>>, ProviderError> {
    let mut set = HashMap::new();
    for (input, name) in ATTRIBUTES {
        let value = attribute(ctx, inputs, input)?;
        if !value.is_empty() {
            set.insert(name.to_owned(), value);
        }
    }
    Ok(Some(set).filter(|s| !s.is_empty()))
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
        let attributes = create_attributes(ctx, inputs)?;
        let tags = all_tags(ctx, inputs)
            .into_iter()
            .map(|(k, v)| tag(k, v))
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .0
            .sns(&ctx.region)
            .create_topic()
            .name(name)
            .set_attributes(attributes)
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
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let sns = self.0.sns(&ctx.region);
        let result = sns.get_topic_attributes().topic_arn(id).send().await;
        let Some(out) = found(result, NOT_FOUND, "sns:GetTopicAttributes")? else {
            return Ok(None);
        };
        let attribute = |name: &str| {
            out.attributes()
                .and_then(|a| a.get(name))
                .cloned()
                .unwrap_or_default()
        };
        let display_name = attribute("DisplayName");
        let key = attribute("KmsMasterKeyId");
        let result = sns.list_tags_for_resource().resource_arn(id).send().await;
        let Some(tags) = found(result, NOT_FOUND, "sns:ListTagsForResource")? else {
            return Ok(None);
        };
        let tags = tags
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()));
        let mut inputs = attrs([
            ("name", json!(name_of(id))),
            ("display_name", json!(display_name)),
            ("tags", observed_tags(tags)),
        ]);
        if !key.is_empty() || prior.get("kms_master_key_id").is_some() {
            inputs.insert("kms_master_key_id".into(), json!(key));
        }
        // Every topic has a policy; only one drctl set is its to show.
        if prior.get("policy").is_some_and(|p| !p.is_null()) {
            let text = attribute("Policy");
            let doc: Json = serde_json::from_str(&text).map_err(|e| {
                ProviderError::new(
                    "sns:GetTopicAttributes",
                    format!("topic policy is not JSON: {e}"),
                )
            })?;
            inputs.insert("policy".into(), doc);
        }
        Ok(Some(Observed {
            inputs,
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
        // Pages are fetched only until the topic turns up.
        let mut topics = sns.list_topics().into_paginator().items().send();
        while let Some(topic) = topics.next().await {
            let topic = topic.map_err(|e| api_error("sns:ListTopics", e))?;
            if let Some(arn) = topic.topic_arn().filter(|arn| name_of(arn) == name) {
                return Ok(Some(arn.to_owned()));
            }
        }
        Ok(None)
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        // Every input is checked before the first call.
        create_attributes(ctx, inputs)?;
        let sns = self.0.sns(&ctx.region);
        for (input, name) in ATTRIBUTES {
            if prior.get(input) == inputs.get(input) {
                continue;
            }
            // A policy dropped from the inputs is left as it is: SNS has
            // no call that restores the default one.
            if input == "policy" && inputs.get(input).is_none_or(Json::is_null) {
                continue;
            }
            sns.set_topic_attributes()
                .topic_arn(id)
                .attribute_name(name)
                .attribute_value(attribute(ctx, inputs, input)?)
                .send()
                .await
                .map_err(|e| api_error("sns:SetTopicAttributes", e))?;
        }
        sync_tags(&sns, id, prior, inputs).await?;
        Ok(outputs(id))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let Some(tags) = topic_tags(&self.0.sns(&ctx.region), id).await? else {
            return Ok(());
        };
        let named = opt_str(inputs, "name")
            .filter(|n| *n == name_of(id))
            .map(|_| name_of(id));
        confirm_owned(ctx, "delete", &format!("topic {id}"), &tags, named)?;
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
