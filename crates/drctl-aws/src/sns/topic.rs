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
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{all_items, api_error, attrs, confirm_owned, found, invalid, tolerate};
use crate::tags::{
    ReadTags, arn_tag_api, checked, in_env, retag, to_sdk, user_tags, with_identity,
};

pub static SCHEMA: KindSchema = KindSchema::new("sns.topic", Latency::calls(1, 1, 1))
    .force_new(&["name"])
    .outputs(&["arn", "name"]);

pub struct Topic(pub(crate) Arc<Clients>);

/// GetTopicAttributes answers `NotFound`; the tagging calls `ResourceNotFound`.
const NOT_FOUND: &[&str] = &["NotFound", "ResourceNotFound"];

arn_tag_api!(aws_sdk_sns::Client, "sns", checked::<Tag>, gone: NOT_FOUND);

/// The topic name is the ARN's last segment.
fn name_of(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// Refuses a change to a topic's subscription (`ctx`'s address) unless
/// the topic is this environment's: a subscription has no tags. `false`
/// when the topic is gone (its subscriptions with it).
pub(crate) async fn confirm_topic_owned(
    sns: &aws_sdk_sns::Client,
    ctx: &OpContext,
    arn: &str,
) -> Result<bool, ProviderError> {
    let Some(tags) = sns.read_tags(arn).await? else {
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

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kms_master_key_id: Option<String>,
    /// A topic access policy document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy: Option<Json>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Topic attributes drctl sets, in the order they are set.
#[derive(Clone, Copy, PartialEq)]
enum Attribute {
    DisplayName,
    KmsMasterKeyId,
    Policy,
}

impl Attribute {
    const ALL: [Attribute; 3] = [
        Attribute::DisplayName,
        Attribute::KmsMasterKeyId,
        Attribute::Policy,
    ];

    fn name(self) -> &'static str {
        match self {
            Attribute::DisplayName => "DisplayName",
            Attribute::KmsMasterKeyId => "KmsMasterKeyId",
            Attribute::Policy => "Policy",
        }
    }

    /// The value as SNS takes it: the policy document serialised, the rest
    /// as strings; empty when unset (SNS's default for each).
    fn value(self, ctx: &OpContext, inputs: &Inputs) -> Result<String, ProviderError> {
        Ok(match self {
            Attribute::DisplayName => inputs.display_name.clone().unwrap_or_default(),
            Attribute::KmsMasterKeyId => inputs.kms_master_key_id.clone().unwrap_or_default(),
            Attribute::Policy => match &inputs.policy {
                None => String::new(),
                Some(doc @ Json::Object(_)) => doc.to_string(),
                Some(_) => {
                    return Err(invalid(
                        ctx,
                        "input `policy` must be a JSON object (a topic access policy)",
                    ));
                }
            },
        })
    }
}

/// CreateTopic's attributes: those set, empty ones left out.
fn create_attributes(
    ctx: &OpContext,
    inputs: &Inputs,
) -> Result<Option<HashMap<String, String>>, ProviderError> {
    let mut set = HashMap::new();
    for a in Attribute::ALL {
        let value = a.value(ctx, inputs)?;
        if !value.is_empty() {
            set.insert(a.name().to_owned(), value);
        }
    }
    Ok(Some(set).filter(|s| !s.is_empty()))
}

fn outputs(arn: &str) -> Attributes {
    attrs([("arn", json!(arn)), ("name", json!(name_of(arn)))])
}

/// The ARNs of the region's topics, listed.
pub(crate) async fn topic_arns(sns: &aws_sdk_sns::Client) -> Result<Vec<String>, ProviderError> {
    let topics = sns.list_topics().into_paginator().items().send();
    let topics = all_items(topics, "sns:ListTopics").await?;
    Ok(topics
        .iter()
        .filter_map(|t| t.topic_arn().map(str::to_owned))
        .collect())
}

/// The ARNs of the environment's topics in the region: those its tag
/// claims, or without drctl tags named for it.
pub(crate) async fn env_topics(
    sns: &aws_sdk_sns::Client,
    scope: &ListScope,
) -> Result<Vec<String>, ProviderError> {
    let mut ours = Vec::new();
    for arn in topic_arns(sns).await? {
        // Listed, then deleted before its tags were read: gone.
        let Some(tags) = sns.read_tags(&arn).await? else {
            continue;
        };
        if in_env(&scope.env, &tags, Some(name_of(&arn))) {
            ours.push(arn);
        }
    }
    Ok(ours)
}

#[async_trait]
impl Kind for Topic {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let attributes = create_attributes(ctx, inputs)?;
        let tags = to_sdk::<Tag>(with_identity(ctx, &inputs.tags))?;
        let sns = self.0.sns(&ctx.region);
        let out = sns
            .create_topic()
            .name(&inputs.name)
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

    async fn read(&self, ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let sns = self.0.sns(&ctx.region);
        let result = sns.get_topic_attributes().topic_arn(id).send().await;
        let Some(out) = found(result, NOT_FOUND, "sns:GetTopicAttributes")? else {
            return Ok(None);
        };
        let attribute = |a: Attribute| {
            out.attributes()
                .and_then(|m| m.get(a.name()))
                .cloned()
                .unwrap_or_default()
        };
        let key = attribute(Attribute::KmsMasterKeyId);
        let Some(tags) = sns.read_tags(id).await? else {
            return Ok(None);
        };
        // Every topic has a policy; only one drctl set is its to show.
        let policy = match prior.policy {
            Some(_) => Some(
                serde_json::from_str(&attribute(Attribute::Policy)).map_err(|e| {
                    ProviderError::new(
                        "sns:GetTopicAttributes",
                        format!("topic policy is not JSON: {e}"),
                    )
                })?,
            ),
            None => None,
        };
        Ok(Some(Found {
            inputs: Inputs {
                name: name_of(id).to_owned(),
                display_name: Some(attribute(Attribute::DisplayName)),
                kms_master_key_id: Some(key)
                    .filter(|k| !k.is_empty() || prior.kms_master_key_id.is_some()),
                policy,
                tags: user_tags(tags),
            },
            outputs: outputs(id),
        }))
    }

    /// Topic names are unique per account and region: the topic listed
    /// with this name, its ARN being what CreateTopic returned.
    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let sns = self.0.sns(&ctx.region);
        // Pages are fetched only until the topic turns up.
        let mut topics = sns.list_topics().into_paginator().items().send();
        while let Some(topic) = topics.next().await {
            let topic = topic.map_err(|e| api_error("sns:ListTopics", e))?;
            if let Some(arn) = topic.topic_arn().filter(|arn| name_of(arn) == inputs.name) {
                return Ok(Some(arn.to_owned()));
            }
        }
        Ok(None)
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        // Every input is checked before the first call.
        create_attributes(ctx, inputs)?;
        let sns = self.0.sns(&ctx.region);
        for a in Attribute::ALL {
            let value = a.value(ctx, inputs)?;
            if a.value(ctx, prior).ok().as_ref() == Some(&value) {
                continue;
            }
            // A policy dropped from the inputs is left as it is: SNS has
            // no call that restores the default one.
            if a == Attribute::Policy && inputs.policy.is_none() {
                continue;
            }
            sns.set_topic_attributes()
                .topic_arn(id)
                .attribute_name(a.name())
                .attribute_value(value)
                .send()
                .await
                .map_err(|e| api_error("sns:SetTopicAttributes", e))?;
        }
        retag(&sns, id, &prior.tags, &inputs.tags).await?;
        Ok(outputs(id))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let sns = self.0.sns(&ctx.region);
        let Some(tags) = sns.read_tags(id).await? else {
            return Ok(());
        };
        let named = Some(name_of(id)).filter(|n| *n == inputs.name);
        confirm_owned(ctx, "delete", &format!("topic {id}"), &tags, named)?;
        // DeleteTopic of a missing topic succeeds on AWS; NotFound is mapped
        // all the same.
        let result = sns.delete_topic().topic_arn(id).send().await;
        tolerate(result, NOT_FOUND, "sns:DeleteTopic")
    }

    /// By the `drctl:env` tag (SNS has no tag filter on ListTopics), or a
    /// name drctl derives for the environment.
    async fn list(&self, scope: &ListScope) -> Listed {
        env_topics(&self.0.sns(&scope.region), scope).await
    }
}
