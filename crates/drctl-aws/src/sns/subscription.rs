//! `sns.subscription`: a topic subscription (the blueprint uses e-mail).
//!
//! An e-mail subscription stays pending confirmation until its recipient
//! follows the link SNS mails; AWS deletes it if that has not happened
//! within three days. Subscribe is asked for the subscription's ARN even
//! while it is pending (ReturnSubscriptionArn), and the id is that ARN;
//! GetSubscriptionAttributes reads a pending subscription like a confirmed
//! one (`PendingConfirmation` says which). ListSubscriptionsByTopic shows no
//! ARN for a pending one, so `find` returns `<topic_arn>|<protocol>|<endpoint>`
//! for it, which a read resolves through that listing (as for ids recorded
//! before drctl asked for the ARN).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sns::types::Subscription as SnsSubscription;
use drctl_core::{Applied, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Updated};
use crate::support::{api_error, attrs, found, has_code, retry_while};

pub static SCHEMA: KindSchema = KindSchema::new("sns.subscription", Latency::calls(1, 1, 1))
    .force_new(&["topic_arn", "protocol", "endpoint"])
    .outputs(&["arn", "pending_confirmation"]);

pub struct Subscription(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    topic_arn: String,
    protocol: String,
    endpoint: String,
}

type Observed = Found<Inputs>;

const NOT_FOUND: &[&str] = &["NotFound", "ResourceNotFound"];

/// The `arn` output of a subscription found pending under an id without
/// its ARN (what Subscribe returns without ReturnSubscriptionArn).
const PENDING: &str = "pending confirmation";

/// Where to find a subscription: by ARN, or by its topic, protocol and
/// endpoint while it has no ARN.
enum Key<'a> {
    Arn(&'a str),
    Pending {
        topic_arn: &'a str,
        protocol: &'a str,
        endpoint: &'a str,
    },
}

fn parse_id(id: &str) -> Key<'_> {
    let mut parts = id.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(topic_arn), Some(protocol), Some(endpoint)) => Key::Pending {
            topic_arn,
            protocol,
            endpoint,
        },
        _ => Key::Arn(id),
    }
}

impl Key<'_> {
    /// A subscription ARN is its topic's ARN plus `:<uuid>`.
    fn topic_arn(&self) -> &str {
        match self {
            Key::Arn(arn) => arn.rsplit_once(':').map_or(*arn, |(t, _)| t),
            Key::Pending { topic_arn, .. } => topic_arn,
        }
    }

    fn matches(&self, s: &SnsSubscription) -> bool {
        match self {
            Key::Arn(arn) => s.subscription_arn() == Some(*arn),
            Key::Pending {
                protocol, endpoint, ..
            } => s.protocol() == Some(*protocol) && s.endpoint() == Some(*endpoint),
        }
    }
}

/// A real ARN, or `None` for the placeholders ListSubscriptionsByTopic
/// shows instead ("PendingConfirmation", "Deleted").
fn real_arn(arn: Option<&str>) -> Option<&str> {
    arn.filter(|a| a.starts_with("arn:"))
}

impl Subscription {
    /// The subscription's attributes by its ARN; `None` when it is gone
    /// (unsubscribed, expired unconfirmed, or its topic deleted).
    async fn attributes(
        &self,
        ctx: &OpContext,
        arn: &str,
    ) -> Result<Option<HashMap<String, String>>, ProviderError> {
        let sns = self.0.sns(&ctx.region);
        let result = sns
            .get_subscription_attributes()
            .subscription_arn(arn)
            .send()
            .await;
        Ok(found(result, NOT_FOUND, "sns:GetSubscriptionAttributes")?
            .map(|o| o.attributes().cloned().unwrap_or_default()))
    }

    async fn observe(&self, ctx: &OpContext, id: &str) -> Result<Option<Observed>, ProviderError> {
        Ok(match parse_id(id) {
            Key::Arn(arn) => self
                .attributes(ctx, arn)
                .await?
                .map(|a| observed_attributes(arn, &a)),
            key => self.lookup(ctx, &key).await?.as_ref().map(observed),
        })
    }

    /// The subscription as listed on its topic; `None` when it (or its
    /// topic) is gone.
    async fn lookup(
        &self,
        ctx: &OpContext,
        key: &Key<'_>,
    ) -> Result<Option<SnsSubscription>, ProviderError> {
        let sns = self.0.sns(&ctx.region);
        let list = sns.list_subscriptions_by_topic().topic_arn(key.topic_arn());
        // Pages are fetched only until the subscription turns up.
        let mut subscriptions = list.into_paginator().items().send();
        while let Some(s) = subscriptions.next().await {
            let Some(s) = found(s, NOT_FOUND, "sns:ListSubscriptionsByTopic")? else {
                return Ok(None);
            };
            if s.subscription_arn() != Some("Deleted") && key.matches(&s) {
                return Ok(Some(s));
            }
        }
        Ok(None)
    }
}

/// The id of a subscription as listed on its topic: its ARN, or while it
/// is pending `<topic_arn>|<protocol>|<endpoint>`.
fn listed_id(s: &SnsSubscription) -> String {
    real_arn(s.subscription_arn()).map_or_else(
        || {
            format!(
                "{}|{}|{}",
                s.topic_arn().unwrap_or_default(),
                s.protocol().unwrap_or_default(),
                s.endpoint().unwrap_or_default()
            )
        },
        str::to_owned,
    )
}

fn inputs(topic_arn: Option<&str>, protocol: Option<&str>, endpoint: Option<&str>) -> Inputs {
    Inputs {
        topic_arn: topic_arn.unwrap_or_default().to_owned(),
        protocol: protocol.unwrap_or_default().to_owned(),
        endpoint: endpoint.unwrap_or_default().to_owned(),
    }
}

/// A subscription as listed on its topic (no ARN while it is pending).
fn observed(s: &SnsSubscription) -> Observed {
    let arn = real_arn(s.subscription_arn());
    Observed {
        inputs: inputs(s.topic_arn(), s.protocol(), s.endpoint()),
        outputs: attrs([
            ("arn", json!(arn.unwrap_or(PENDING))),
            ("pending_confirmation", json!(arn.is_none())),
        ]),
    }
}

/// A subscription from its GetSubscriptionAttributes.
fn observed_attributes(arn: &str, a: &HashMap<String, String>) -> Observed {
    let get = |k: &str| a.get(k).map(String::as_str).unwrap_or_default();
    Observed {
        inputs: inputs(
            Some(get("TopicArn")),
            Some(get("Protocol")),
            Some(get("Endpoint")),
        ),
        outputs: attrs([
            ("arn", json!(arn)),
            (
                "pending_confirmation",
                json!(get("PendingConfirmation") == "true"),
            ),
        ]),
    }
}

#[async_trait]
impl Kind for Subscription {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let sns = self.0.sns(&ctx.region);
        let out = sns
            .subscribe()
            .topic_arn(&inputs.topic_arn)
            .protocol(&inputs.protocol)
            .endpoint(&inputs.endpoint)
            // The ARN even while the subscription awaits confirmation.
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(|e| api_error("sns:Subscribe", e))?;
        let arn = real_arn(out.subscription_arn()).ok_or_else(|| {
            ProviderError::new(
                "sns:Subscribe",
                format!(
                    "no subscription ARN returned (got {:?})",
                    out.subscription_arn()
                ),
            )
        })?;
        // A new subscription may take a moment to be readable (the
        // Terraform AWS provider retries this read too).
        let observed = retry_while(
            Duration::from_secs(60),
            |e| e.code.as_deref() == Some("NotFound"),
            || async {
                self.attributes(ctx, arn).await?.ok_or_else(|| {
                    ProviderError::new("sns:GetSubscriptionAttributes", "subscription not found")
                        .with_code("NotFound")
                })
            },
        )
        .await?;
        Ok(Applied {
            id: arn.to_owned(),
            outputs: observed_attributes(arn, &observed).outputs,
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Inputs,
    ) -> Result<Option<Observed>, ProviderError> {
        self.observe(ctx, id).await
    }

    /// By topic, protocol and endpoint: the subscription's ARN, or while it
    /// awaits confirmation the same `<topic_arn>|<protocol>|<endpoint>` id
    /// create returns then.
    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let key = Key::Pending {
            topic_arn: &inputs.topic_arn,
            protocol: &inputs.protocol,
            endpoint: &inputs.endpoint,
        };
        Ok(self.lookup(ctx, &key).await?.as_ref().map(listed_id))
    }

    /// Every input forces a replacement; only the outputs can have moved on
    /// (a pending subscription confirmed since).
    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Inputs,
        _inputs: &Inputs,
    ) -> Updated {
        let found = self.observe(ctx, id).await?.ok_or_else(|| {
            ProviderError::new("sns:GetSubscriptionAttributes", "subscription not found")
                .with_code("NotFound")
        })?;
        Ok(found.outputs)
    }

    /// Unsubscribes. A subscription still pending confirmation cannot be
    /// unsubscribed (InvalidParameter, "Cannot unsubscribe a subscription
    /// that is pending confirmation"): AWS deletes it when three days pass
    /// unconfirmed, so it is left to expire and counts as deleted, as the
    /// Terraform AWS provider and CloudFormation treat it.
    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let sns = self.0.sns(&ctx.region);
        let arn = match parse_id(id) {
            Key::Arn(arn) => arn.to_owned(),
            key => match self.lookup(ctx, &key).await? {
                Some(s) => match real_arn(s.subscription_arn()) {
                    // Confirmed since it was created.
                    Some(arn) => arn.to_owned(),
                    // Pending, and listed without the ARN to ask for.
                    None => return Ok(()),
                },
                None => return Ok(()),
            },
        };
        // A subscription has no tags: its topic (the ARN's first part)
        // proves it this environment's.
        let topic = arn.rsplit_once(':').map_or(arn.as_str(), |(t, _)| t);
        if !super::topic::confirm_topic_owned(&sns, ctx, topic).await? {
            return Ok(());
        }
        let result = sns.unsubscribe().subscription_arn(&arn).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if has_code(&e, NOT_FOUND) => Ok(()),
            // Refused: pending confirmation, if its attributes say so.
            Err(e) if has_code(&e, &["InvalidParameter"]) => {
                match self.attributes(ctx, &arn).await? {
                    None => Ok(()),
                    Some(a) if a.get("PendingConfirmation").map(String::as_str) == Some("true") => {
                        Ok(())
                    }
                    Some(_) => Err(api_error("sns:Unsubscribe", e)),
                }
            }
            Err(e) => Err(api_error("sns:Unsubscribe", e)),
        }
    }

    /// A subscription has no tags: those on the environment's topics.
    async fn list(&self, scope: &ListScope) -> Listed {
        let sns = self.0.sns(&scope.region);
        let mut ids = Vec::new();
        for topic in super::topic::env_topics(&sns, scope).await? {
            let list = sns.list_subscriptions_by_topic().topic_arn(&topic);
            let mut subscriptions = list.into_paginator().items().send();
            while let Some(s) = subscriptions.next().await {
                // The topic deleted since it was listed: its subscriptions with it.
                let Some(s) = found(s, NOT_FOUND, "sns:ListSubscriptionsByTopic")? else {
                    break;
                };
                if s.subscription_arn() != Some("Deleted") {
                    ids.push(listed_id(&s));
                }
            }
        }
        Ok(ids)
    }
}
