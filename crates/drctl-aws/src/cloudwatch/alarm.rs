//! `cloudwatch.alarm`: a metric alarm on one metric (`metric`) or on a
//! metric-math expression over several (`metrics`). Its id is the name.
//!
//! Shapes, as inputs and as a read returns them:
//! - `threshold` is always a JSON float (`5.0`, not `5`): AWS keeps a
//!   double, and one representation keeps a refresh free of false drift.
//!   An integer is refused.
//! - `evaluation_periods`, `datapoints_to_alarm` and the periods are JSON
//!   integers; `alarm_actions` and `ok_actions` are sorted arrays, always
//!   present (possibly empty), as is `tags`.
//! - `alarm_description`, `datapoints_to_alarm` and `treat_missing_data`
//!   are optional and read back only when AWS has them.
//! - `metric`: `{"namespace", "metric_name", "dimensions": {name: value},
//!   "statistic", "period"}`; `metrics`: `[{"id", "expression"?, "label"?,
//!   "return_data", "metric_stat"?: {"namespace", "metric_name",
//!   "dimensions", "stat", "period"}}]` in the given order.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::operation::put_metric_alarm::builders::PutMetricAlarmFluentBuilder;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricAlarm, MetricDataQuery, MetricStat, Statistic, Tag,
};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value as Json, json};

use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{api_error, attrs, invalid, tolerate};
use crate::tags::{
    ReadTags, arn_tag_api, checked, in_env, retag, to_sdk, user_tags, with_identity,
};

pub static SCHEMA: KindSchema = KindSchema::new("cloudwatch.alarm", Latency::calls(1, 1, 1))
    .force_new(&["alarm_name"])
    .outputs(&["arn", "alarm_name"]);

pub struct Alarm(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["ResourceNotFound", "ResourceNotFoundException"];

arn_tag_api!(Client, "cloudwatch", checked::<Tag>, gone: NOT_FOUND);

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    alarm_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alarm_description: Option<String>,
    comparison_operator: String,
    #[serde(deserialize_with = "float")]
    threshold: f64,
    evaluation_periods: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    datapoints_to_alarm: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    treat_missing_data: Option<String>,
    #[serde(default)]
    alarm_actions: Vec<String>,
    #[serde(default)]
    ok_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metric: Option<SingleMetric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metrics: Option<Vec<Query>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// `metric`: the one metric an alarm watches.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SingleMetric {
    namespace: String,
    metric_name: String,
    #[serde(default)]
    dimensions: BTreeMap<String, String>,
    statistic: String,
    period: i32,
}

/// One of `metrics`: a metric or an expression over the others.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Query {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    return_data: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metric_stat: Option<QueryStat>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct QueryStat {
    namespace: String,
    metric_name: String,
    #[serde(default)]
    dimensions: BTreeMap<String, String>,
    stat: String,
    period: i32,
}

/// A JSON float, refusing an integer: one representation of the
/// threshold keeps a refresh free of false drift.
fn float<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match Json::deserialize(d)? {
        Json::Number(n) if n.is_f64() => Ok(n.as_f64().unwrap_or_default()),
        _ => Err(D::Error::custom("must be a JSON float (e.g. 5.0, not 5)")),
    }
}

fn dimensions(dims: &BTreeMap<String, String>) -> Vec<Dimension> {
    dims.iter()
        .map(|(name, value)| Dimension::builder().name(name).value(value).build())
        .collect()
}

fn dimensions_map(dims: &[Dimension]) -> BTreeMap<String, String> {
    dims.iter()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_owned(),
                d.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn sorted(list: &[String]) -> Vec<String> {
    let mut list = list.to_vec();
    list.sort();
    list
}

fn metric_query(q: &Query) -> MetricDataQuery {
    let stat = q.metric_stat.as_ref().map(|s| {
        let metric = Metric::builder()
            .namespace(&s.namespace)
            .metric_name(&s.metric_name)
            .set_dimensions(Some(dimensions(&s.dimensions)))
            .build();
        MetricStat::builder()
            .metric(metric)
            .stat(&s.stat)
            .period(s.period)
            .build()
    });
    MetricDataQuery::builder()
        .id(&q.id)
        .return_data(q.return_data)
        .set_expression(q.expression.clone())
        .set_label(q.label.clone())
        .set_metric_stat(stat)
        .build()
}

fn query_of(q: &MetricDataQuery) -> Query {
    Query {
        id: q.id().unwrap_or_default().to_owned(),
        expression: q.expression().map(str::to_owned),
        label: q.label().map(str::to_owned),
        // ReturnData defaults to true when a query does not say.
        return_data: q.return_data().unwrap_or(true),
        metric_stat: q.metric_stat().map(|s| {
            let m = s.metric();
            QueryStat {
                namespace: m.and_then(Metric::namespace).unwrap_or_default().to_owned(),
                metric_name: m
                    .and_then(Metric::metric_name)
                    .unwrap_or_default()
                    .to_owned(),
                dimensions: dimensions_map(m.map(Metric::dimensions).unwrap_or_default()),
                stat: s.stat().unwrap_or_default().to_owned(),
                period: s.period().unwrap_or_default(),
            }
        }),
    }
}

/// The PutMetricAlarm request for `inputs`, without tags (AWS ignores
/// Tags when the call updates an existing alarm).
fn put_request(
    client: &Client,
    ctx: &OpContext,
    inputs: &Inputs,
) -> Result<PutMetricAlarmFluentBuilder, ProviderError> {
    let req = client
        .put_metric_alarm()
        .alarm_name(&inputs.alarm_name)
        .comparison_operator(ComparisonOperator::from(
            inputs.comparison_operator.as_str(),
        ))
        .threshold(inputs.threshold)
        .evaluation_periods(inputs.evaluation_periods)
        .set_alarm_actions(Some(inputs.alarm_actions.clone()))
        .set_ok_actions(Some(inputs.ok_actions.clone()))
        .set_alarm_description(inputs.alarm_description.clone())
        .set_treat_missing_data(inputs.treat_missing_data.clone())
        .set_datapoints_to_alarm(inputs.datapoints_to_alarm);
    match (&inputs.metric, &inputs.metrics) {
        (Some(m), None) => Ok(req
            .namespace(&m.namespace)
            .metric_name(&m.metric_name)
            .set_dimensions(Some(dimensions(&m.dimensions)))
            .statistic(Statistic::from(m.statistic.as_str()))
            .period(m.period)),
        (None, Some(ms)) => Ok(req.set_metrics(Some(ms.iter().map(metric_query).collect()))),
        _ => Err(invalid(
            ctx,
            "an alarm needs exactly one of `metric` and `metrics`",
        )),
    }
}

/// The inputs an alarm reads back as, with `tags`.
fn alarm_inputs(a: &MetricAlarm, tags: BTreeMap<String, String>) -> Inputs {
    let metric = a.metrics().is_empty().then(|| SingleMetric {
        namespace: a.namespace().unwrap_or_default().to_owned(),
        metric_name: a.metric_name().unwrap_or_default().to_owned(),
        dimensions: dimensions_map(a.dimensions()),
        statistic: a
            .statistic()
            .map(|s| s.as_str())
            .unwrap_or_default()
            .to_owned(),
        period: a.period().unwrap_or_default(),
    });
    Inputs {
        alarm_name: a.alarm_name().unwrap_or_default().to_owned(),
        alarm_description: a.alarm_description().map(str::to_owned),
        comparison_operator: a
            .comparison_operator()
            .map(|c| c.as_str())
            .unwrap_or_default()
            .to_owned(),
        threshold: a.threshold().unwrap_or_default(),
        evaluation_periods: a.evaluation_periods().unwrap_or_default(),
        datapoints_to_alarm: a.datapoints_to_alarm(),
        treat_missing_data: a.treat_missing_data().map(str::to_owned),
        alarm_actions: sorted(a.alarm_actions()),
        ok_actions: sorted(a.ok_actions()),
        metrics: metric
            .is_none()
            .then(|| a.metrics().iter().map(query_of).collect()),
        metric,
        tags,
    }
}

fn outputs(a: &MetricAlarm) -> Attributes {
    attrs([
        ("arn", json!(a.alarm_arn().unwrap_or_default())),
        ("alarm_name", json!(a.alarm_name().unwrap_or_default())),
    ])
}

impl Alarm {
    async fn describe(
        &self,
        ctx: &OpContext,
        name: &str,
    ) -> Result<Option<MetricAlarm>, ProviderError> {
        let cloudwatch = self.0.cloudwatch(&ctx.region);
        let out = cloudwatch
            .describe_alarms()
            .alarm_names(name)
            .send()
            .await
            .map_err(|e| api_error("cloudwatch:DescribeAlarms", e))?;
        Ok(out
            .metric_alarms()
            .iter()
            .find(|a| a.alarm_name() == Some(name))
            .cloned())
    }

    async fn described(&self, ctx: &OpContext, name: &str) -> Result<MetricAlarm, ProviderError> {
        self.describe(ctx, name).await?.ok_or_else(|| {
            ProviderError::new(
                "cloudwatch:DescribeAlarms",
                format!("alarm {name} not found"),
            )
            .with_code("ResourceNotFound")
        })
    }
}

#[async_trait]
impl Kind for Alarm {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let name = inputs.alarm_name.as_str();
        let client = self.0.cloudwatch(&ctx.region);
        put_request(&client, ctx, inputs)?
            .set_tags(Some(to_sdk::<Tag>(with_identity(ctx, &inputs.tags))))
            .send()
            .await
            .map_err(|e| api_error("cloudwatch:PutMetricAlarm", e))?;
        let alarm = self.described(ctx, name).await?;
        Ok(Applied {
            id: name.to_owned(),
            outputs: outputs(&alarm),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let Some(alarm) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let client = self.0.cloudwatch(&ctx.region);
        let arn = alarm.alarm_arn().unwrap_or_default();
        let Some(tags) = client.read_tags(arn).await? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: alarm_inputs(&alarm, user_tags(tags)),
            outputs: outputs(&alarm),
        }))
    }

    /// Alarm names are unique per account and region, and the id is the name.
    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let name = inputs.alarm_name.as_str();
        Ok(self.describe(ctx, name).await?.map(|_| name.to_owned()))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let client = self.0.cloudwatch(&ctx.region);
        let without_tags = |a: &Inputs| Inputs {
            tags: BTreeMap::new(),
            ..a.clone()
        };
        if without_tags(prior) != without_tags(inputs) {
            // PutMetricAlarm replaces the whole definition.
            put_request(&client, ctx, inputs)?
                .send()
                .await
                .map_err(|e| api_error("cloudwatch:PutMetricAlarm", e))?;
        }
        let alarm = self.described(ctx, id).await?;
        let arn = alarm.alarm_arn().unwrap_or_default();
        retag(&client, arn, &prior.tags, &inputs.tags).await?;
        Ok(outputs(&alarm))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let Some(alarm) = self.describe(ctx, id).await? else {
            return Ok(());
        };
        let client = self.0.cloudwatch(&ctx.region);
        let Some(tags) = client
            .read_tags(alarm.alarm_arn().unwrap_or_default())
            .await?
        else {
            return Ok(());
        };
        let named = Some(inputs.alarm_name.as_str()).filter(|n| *n == id);
        crate::support::confirm_owned(ctx, "delete", &format!("alarm {id}"), &tags, named)?;
        // DeleteAlarms of a missing alarm fails with ResourceNotFound.
        let result = client.delete_alarms().alarm_names(id).send().await;
        tolerate(result, NOT_FOUND, "cloudwatch:DeleteAlarms")
    }

    /// The region's metric alarms claimed by the `drctl:env` tag
    /// (DescribeAlarms has no tag filter), or named for the environment.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.cloudwatch(&scope.region);
        let mut pages = client.describe_alarms().into_paginator().send();
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| api_error("cloudwatch:DescribeAlarms", e))?;
            for alarm in page.metric_alarms() {
                let (Some(name), Some(arn)) = (alarm.alarm_name(), alarm.alarm_arn()) else {
                    continue;
                };
                // Listed, then deleted before its tags were read: gone.
                if let Some(tags) = client.read_tags(arn).await?
                    && in_env(&scope.env, &tags, Some(name))
                {
                    ids.push(name.to_owned());
                }
            }
        }
        Ok(ids)
    }
}
