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
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Map, Value as Json, json};

use crate::clients::Clients;
use crate::support::{
    all_tags, api_error, attrs, found, invalid, observed_tags, opt_str, req_str, tolerate,
};
use crate::tags::{arn_tag_api, sync_tags};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "cloudwatch.alarm",
    force_new: &["alarm_name"],
    outputs: &["arn", "alarm_name"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct Alarm(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["ResourceNotFound", "ResourceNotFoundException"];

fn tag(k: String, v: String) -> Tag {
    Tag::builder().key(k).value(v).build()
}

arn_tag_api!(Client, "cloudwatch", |set: BTreeMap<_, _>| {
    Ok::<_, ProviderError>(set.into_iter().map(|(k, v)| tag(k, v)).collect::<Vec<_>>())
});

/// A JSON object's field, for messages naming where it was expected.
fn field<'a>(
    ctx: &OpContext,
    obj: &'a Map<String, Json>,
    at: &str,
    key: &str,
) -> Result<&'a Json, ProviderError> {
    obj.get(key)
        .ok_or_else(|| invalid(ctx, format!("`{at}` needs `{key}`")))
}

fn str_field<'a>(
    ctx: &OpContext,
    obj: &'a Map<String, Json>,
    at: &str,
    key: &str,
) -> Result<&'a str, ProviderError> {
    field(ctx, obj, at, key)?
        .as_str()
        .ok_or_else(|| invalid(ctx, format!("`{at}.{key}` must be a string")))
}

fn int(ctx: &OpContext, v: &Json, at: &str) -> Result<i32, ProviderError> {
    v.as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| invalid(ctx, format!("`{at}` must be an integer")))
}

fn int_field(
    ctx: &OpContext,
    obj: &Map<String, Json>,
    at: &str,
    key: &str,
) -> Result<i32, ProviderError> {
    int(ctx, field(ctx, obj, at, key)?, &format!("{at}.{key}"))
}

fn dimensions(
    ctx: &OpContext,
    obj: &Map<String, Json>,
    at: &str,
) -> Result<Vec<Dimension>, ProviderError> {
    let Some(dims) = obj.get("dimensions") else {
        return Ok(Vec::new());
    };
    let dims = dims
        .as_object()
        .ok_or_else(|| invalid(ctx, format!("`{at}.dimensions` must be an object")))?;
    dims.iter()
        .map(|(name, value)| {
            let value = value.as_str().ok_or_else(|| {
                invalid(ctx, format!("`{at}.dimensions.{name}` must be a string"))
            })?;
            Ok(Dimension::builder().name(name).value(value).build())
        })
        .collect()
}

fn dimensions_json(dims: &[Dimension]) -> Json {
    Json::Object(
        dims.iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_owned(),
                    json!(d.value().unwrap_or_default()),
                )
            })
            .collect(),
    )
}

fn string_list(
    ctx: &OpContext,
    inputs: &Attributes,
    key: &str,
) -> Result<Vec<String>, ProviderError> {
    let Some(v) = inputs.get(key) else {
        return Ok(Vec::new());
    };
    v.as_array()
        .and_then(|a| a.iter().map(|s| s.as_str().map(str::to_owned)).collect())
        .ok_or_else(|| invalid(ctx, format!("input `{key}` must be an array of strings")))
}

fn sorted(list: &[String]) -> Json {
    let mut list = list.to_vec();
    list.sort();
    json!(list)
}

fn metric_query(ctx: &OpContext, q: &Json, at: &str) -> Result<MetricDataQuery, ProviderError> {
    let q = q
        .as_object()
        .ok_or_else(|| invalid(ctx, format!("`{at}` must be an object")))?;
    let return_data = field(ctx, q, at, "return_data")?
        .as_bool()
        .ok_or_else(|| invalid(ctx, format!("`{at}.return_data` must be a boolean")))?;
    let mut b = MetricDataQuery::builder()
        .id(str_field(ctx, q, at, "id")?)
        .return_data(return_data);
    if let Some(e) = q.get("expression") {
        b = b.expression(
            e.as_str()
                .ok_or_else(|| invalid(ctx, format!("`{at}.expression` must be a string")))?,
        );
    }
    if let Some(l) = q.get("label") {
        b = b.label(
            l.as_str()
                .ok_or_else(|| invalid(ctx, format!("`{at}.label` must be a string")))?,
        );
    }
    if let Some(s) = q.get("metric_stat") {
        let at = format!("{at}.metric_stat");
        let s = s
            .as_object()
            .ok_or_else(|| invalid(ctx, format!("`{at}` must be an object")))?;
        let metric = Metric::builder()
            .namespace(str_field(ctx, s, &at, "namespace")?)
            .metric_name(str_field(ctx, s, &at, "metric_name")?)
            .set_dimensions(Some(dimensions(ctx, s, &at)?))
            .build();
        b = b.metric_stat(
            MetricStat::builder()
                .metric(metric)
                .stat(str_field(ctx, s, &at, "stat")?)
                .period(int_field(ctx, s, &at, "period")?)
                .build(),
        );
    }
    Ok(b.build())
}

fn metric_query_json(q: &MetricDataQuery) -> Json {
    let mut o = Map::new();
    o.insert("id".into(), json!(q.id().unwrap_or_default()));
    if let Some(e) = q.expression() {
        o.insert("expression".into(), json!(e));
    }
    if let Some(l) = q.label() {
        o.insert("label".into(), json!(l));
    }
    // ReturnData defaults to true when a query does not say.
    o.insert("return_data".into(), json!(q.return_data().unwrap_or(true)));
    if let Some(s) = q.metric_stat() {
        let m = s.metric();
        o.insert(
            "metric_stat".into(),
            json!({
                "namespace": m.and_then(Metric::namespace).unwrap_or_default(),
                "metric_name": m.and_then(Metric::metric_name).unwrap_or_default(),
                "dimensions": dimensions_json(m.map(Metric::dimensions).unwrap_or_default()),
                "stat": s.stat().unwrap_or_default(),
                "period": s.period().unwrap_or_default(),
            }),
        );
    }
    Json::Object(o)
}

/// The PutMetricAlarm request for `inputs`, without tags (AWS ignores
/// Tags when the call updates an existing alarm).
fn put_request(
    client: &Client,
    ctx: &OpContext,
    inputs: &Attributes,
) -> Result<PutMetricAlarmFluentBuilder, ProviderError> {
    let threshold = match inputs.get("threshold") {
        Some(Json::Number(n)) if n.is_f64() => n.as_f64().unwrap_or_default(),
        _ => {
            return Err(invalid(
                ctx,
                "input `threshold` must be a JSON float (e.g. 5.0, not 5)",
            ));
        }
    };
    let evaluation_periods = int(
        ctx,
        inputs.get("evaluation_periods").unwrap_or(&Json::Null),
        "evaluation_periods",
    )?;
    let mut req = client
        .put_metric_alarm()
        .alarm_name(req_str(ctx, inputs, "alarm_name")?)
        .comparison_operator(ComparisonOperator::from(req_str(
            ctx,
            inputs,
            "comparison_operator",
        )?))
        .threshold(threshold)
        .evaluation_periods(evaluation_periods)
        .set_alarm_actions(Some(string_list(ctx, inputs, "alarm_actions")?))
        .set_ok_actions(Some(string_list(ctx, inputs, "ok_actions")?))
        .set_alarm_description(opt_str(inputs, "alarm_description").map(str::to_owned))
        .set_treat_missing_data(opt_str(inputs, "treat_missing_data").map(str::to_owned));
    if let Some(d) = inputs.get("datapoints_to_alarm") {
        req = req.datapoints_to_alarm(int(ctx, d, "datapoints_to_alarm")?);
    }
    match (inputs.get("metric"), inputs.get("metrics")) {
        (Some(m), None) => {
            let m = m
                .as_object()
                .ok_or_else(|| invalid(ctx, "input `metric` must be an object"))?;
            req = req
                .namespace(str_field(ctx, m, "metric", "namespace")?)
                .metric_name(str_field(ctx, m, "metric", "metric_name")?)
                .set_dimensions(Some(dimensions(ctx, m, "metric")?))
                .statistic(Statistic::from(str_field(ctx, m, "metric", "statistic")?))
                .period(int_field(ctx, m, "metric", "period")?);
        }
        (None, Some(ms)) => {
            let ms = ms
                .as_array()
                .ok_or_else(|| invalid(ctx, "input `metrics` must be an array"))?;
            let queries = ms
                .iter()
                .enumerate()
                .map(|(i, q)| metric_query(ctx, q, &format!("metrics[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            req = req.set_metrics(Some(queries));
        }
        _ => {
            return Err(invalid(
                ctx,
                "an alarm needs exactly one of `metric` and `metrics`",
            ));
        }
    }
    Ok(req)
}

/// The inputs an alarm reads back as, without `tags`.
fn alarm_inputs(a: &MetricAlarm) -> Attributes {
    let mut i = attrs([
        ("alarm_name", json!(a.alarm_name().unwrap_or_default())),
        (
            "comparison_operator",
            json!(
                a.comparison_operator()
                    .map(|c| c.as_str())
                    .unwrap_or_default()
            ),
        ),
        ("threshold", json!(a.threshold().unwrap_or_default())),
        (
            "evaluation_periods",
            json!(a.evaluation_periods().unwrap_or_default()),
        ),
        ("alarm_actions", sorted(a.alarm_actions())),
        ("ok_actions", sorted(a.ok_actions())),
    ]);
    if let Some(d) = a.alarm_description() {
        i.insert("alarm_description".into(), json!(d));
    }
    if let Some(d) = a.datapoints_to_alarm() {
        i.insert("datapoints_to_alarm".into(), json!(d));
    }
    if let Some(t) = a.treat_missing_data() {
        i.insert("treat_missing_data".into(), json!(t));
    }
    if a.metrics().is_empty() {
        i.insert(
            "metric".into(),
            json!({
                "namespace": a.namespace().unwrap_or_default(),
                "metric_name": a.metric_name().unwrap_or_default(),
                "dimensions": dimensions_json(a.dimensions()),
                "statistic": a.statistic().map(|s| s.as_str()).unwrap_or_default(),
                "period": a.period().unwrap_or_default(),
            }),
        );
    } else {
        i.insert(
            "metrics".into(),
            Json::Array(a.metrics().iter().map(metric_query_json).collect()),
        );
    }
    i
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
        let out = self
            .0
            .cloudwatch(&ctx.region)
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
impl Provider for Alarm {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let name = req_str(ctx, inputs, "alarm_name")?;
        let client = self.0.cloudwatch(&ctx.region);
        put_request(&client, ctx, inputs)?
            .set_tags(Some(
                all_tags(ctx, inputs)
                    .into_iter()
                    .map(|(k, v)| tag(k, v))
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| api_error("cloudwatch:PutMetricAlarm", e))?;
        let alarm = self.described(ctx, name).await?;
        Ok(Applied {
            id: name.to_owned(),
            outputs: outputs(&alarm),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(alarm) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let result = self
            .0
            .cloudwatch(&ctx.region)
            .list_tags_for_resource()
            .resource_arn(alarm.alarm_arn().unwrap_or_default())
            .send()
            .await;
        let Some(tags) = found(result, NOT_FOUND, "cloudwatch:ListTagsForResource")? else {
            return Ok(None);
        };
        let tags = tags.tags().iter().map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        });
        let mut inputs = alarm_inputs(&alarm);
        inputs.insert("tags".into(), observed_tags(tags));
        Ok(Some(Observed {
            inputs,
            outputs: outputs(&alarm),
        }))
    }

    /// Alarm names are unique per account and region, and the id is the name.
    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let name = req_str(ctx, inputs, "alarm_name")?;
        Ok(self.describe(ctx, name).await?.map(|_| name.to_owned()))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let client = self.0.cloudwatch(&ctx.region);
        let without_tags = |a: &Attributes| {
            let mut a = a.clone();
            a.remove("tags");
            a
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
        sync_tags(&client, arn, prior, inputs).await?;
        Ok(outputs(&alarm))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let Some(alarm) = self.describe(ctx, id).await? else {
            return Ok(());
        };
        let result = self
            .0
            .cloudwatch(&ctx.region)
            .list_tags_for_resource()
            .resource_arn(alarm.alarm_arn().unwrap_or_default())
            .send()
            .await;
        let Some(tags) = found(result, NOT_FOUND, "cloudwatch:ListTagsForResource")? else {
            return Ok(());
        };
        let tags = crate::support::tag_map(
            tags.tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
        );
        let named = opt_str(inputs, "alarm_name").filter(|n| *n == id);
        crate::support::confirm_owned(ctx, "delete", &format!("alarm {id}"), &tags, named)?;
        // DeleteAlarms of a missing alarm fails with ResourceNotFound.
        let result = self
            .0
            .cloudwatch(&ctx.region)
            .delete_alarms()
            .alarm_names(id)
            .send()
            .await;
        tolerate(result, NOT_FOUND, "cloudwatch:DeleteAlarms")
    }
}
