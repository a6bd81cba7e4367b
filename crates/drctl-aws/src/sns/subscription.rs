//! `sns.subscription`: a topic subscription (the blueprint uses e-mail).
//!
//! An e-mail subscription stays "pending confirmation" until its recipient
//! confirms it, and AWS has no ARN for it until then. The id is the
//! subscription ARN when Subscribe returns one, else
//! `<topic_arn>|<protocol>|<endpoint>`, which a read resolves through
//! ListSubscriptionsByTopic.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sns::types::Subscription as SnsSubscription;
use drctl_core::{Applied, Attributes, KindSchema, Observed, OpContext, Provider, ProviderError};
use serde_json::json;

use crate::clients::Clients;
use crate::support::{api_error, attrs, found, req_str, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "sns.subscription",
    force_new: &["topic_arn", "protocol", "endpoint"],
    outputs: &["arn"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
};

pub struct Subscription(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["NotFound", "ResourceNotFound"];

/// What Subscribe returns for a subscription awaiting confirmation; the
/// `arn` output while the recipient has not confirmed.
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
    /// The subscription as listed on its topic; `None` when it (or its
    /// topic) is gone.
    async fn lookup(
        &self,
        ctx: &OpContext,
        key: &Key<'_>,
    ) -> Result<Option<SnsSubscription>, ProviderError> {
        let sns = self.0.sns(&ctx.region);
        let mut token: Option<String> = None;
        loop {
            let result = sns
                .list_subscriptions_by_topic()
                .topic_arn(key.topic_arn())
                .set_next_token(token.take())
                .send()
                .await;
            let Some(page) = found(result, NOT_FOUND, "sns:ListSubscriptionsByTopic")? else {
                return Ok(None);
            };
            let hit = page
                .subscriptions()
                .iter()
                .filter(|s| s.subscription_arn() != Some("Deleted"))
                .find(|s| key.matches(s));
            if let Some(s) = hit {
                return Ok(Some(s.clone()));
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(None),
            }
        }
    }
}

fn observed(s: &SnsSubscription) -> Observed {
    Observed {
        inputs: attrs([
            ("topic_arn", json!(s.topic_arn().unwrap_or_default())),
            ("protocol", json!(s.protocol().unwrap_or_default())),
            ("endpoint", json!(s.endpoint().unwrap_or_default())),
        ]),
        outputs: attrs([(
            "arn",
            json!(real_arn(s.subscription_arn()).unwrap_or(PENDING)),
        )]),
    }
}

#[async_trait]
impl Provider for Subscription {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let topic_arn = req_str(ctx, inputs, "topic_arn")?;
        let protocol = req_str(ctx, inputs, "protocol")?;
        let endpoint = req_str(ctx, inputs, "endpoint")?;
        let out = self
            .0
            .sns(&ctx.region)
            .subscribe()
            .topic_arn(topic_arn)
            .protocol(protocol)
            .endpoint(endpoint)
            .send()
            .await
            .map_err(|e| api_error("sns:Subscribe", e))?;
        Ok(match real_arn(out.subscription_arn()) {
            Some(arn) => Applied {
                id: arn.to_owned(),
                outputs: attrs([("arn", json!(arn))]),
            },
            None => Applied {
                id: format!("{topic_arn}|{protocol}|{endpoint}"),
                outputs: attrs([("arn", json!(PENDING))]),
            },
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(self
            .lookup(ctx, &parse_id(id))
            .await?
            .as_ref()
            .map(observed))
    }

    /// By topic, protocol and endpoint: the subscription's ARN, or while it
    /// awaits confirmation the same `<topic_arn>|<protocol>|<endpoint>` id
    /// create returns then.
    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let topic_arn = req_str(ctx, inputs, "topic_arn")?;
        let protocol = req_str(ctx, inputs, "protocol")?;
        let endpoint = req_str(ctx, inputs, "endpoint")?;
        let key = Key::Pending {
            topic_arn,
            protocol,
            endpoint,
        };
        Ok(self.lookup(ctx, &key).await?.map(|s| {
            real_arn(s.subscription_arn()).map_or_else(
                || format!("{topic_arn}|{protocol}|{endpoint}"),
                str::to_owned,
            )
        }))
    }

    /// Every input forces a replacement; only the outputs can have moved on
    /// (a pending subscription confirmed since).
    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
        _inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let found = self.lookup(ctx, &parse_id(id)).await?.ok_or_else(|| {
            ProviderError::new("sns:ListSubscriptionsByTopic", "subscription not found")
                .with_code("NotFound")
        })?;
        Ok(observed(&found).outputs)
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let arn = match parse_id(id) {
            Key::Arn(arn) => arn.to_owned(),
            key => match self.lookup(ctx, &key).await? {
                Some(s) => match real_arn(s.subscription_arn()) {
                    // Confirmed since it was created.
                    Some(arn) => arn.to_owned(),
                    // A subscription still pending confirmation cannot be
                    // deleted through the API; AWS expires it after three
                    // days, so it counts as gone.
                    None => return Ok(()),
                },
                None => return Ok(()),
            },
        };
        let result = self
            .0
            .sns(&ctx.region)
            .unsubscribe()
            .subscription_arn(arn)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "sns:Unsubscribe")
    }
}
