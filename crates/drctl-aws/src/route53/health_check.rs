//! `route53.health_check`: a Route 53 health check. Its id is the health
//! check id. Three kinds, by the `type` input (which forces replacement,
//! as Route 53 cannot change a check's type):
//!
//! - `HTTP` / `HTTPS`: probes `fqdn`:`port` at `resource_path` every
//!   `request_interval` seconds (10 or 30; fixed at creation) and fails
//!   after `failure_threshold` (1 to 10) failures in a row.
//! - `CALCULATED`: healthy while at least `health_threshold` (0 to 256) of
//!   `child_health_check_ids` (1 to 256 ids of other health checks; a set:
//!   order is not significant) are healthy.
//! - `CLOUDWATCH_METRIC`: unhealthy while the CloudWatch alarm
//!   `alarm_name` of `alarm_region` is in ALARM; while it lacks data,
//!   `insufficient_data_health_status` (`Healthy`, `Unhealthy` or
//!   `LastKnownStatus`) says what the check is.
//!
//! Every kind takes `tags`. The inputs of one type are checked before any
//! call: a missing one, or one of another type, is refused naming the key
//! and the fix (Route 53 refuses them too, after the fact: InvalidInput).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_route53::types::{
    AlarmIdentifier, CloudWatchRegion, HealthCheckConfig, HealthCheckType,
    InsufficientDataHealthStatus, TagResourceType,
};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{caller_reference, change_tags, find_created, read_tags, sync_tags, tagged_for_env};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{Created, all_items, api_error, attrs, found, invalid, tolerate};
use crate::tags::with_identity;

pub static SCHEMA: KindSchema = KindSchema::new("route53.health_check", Latency::calls(1, 1, 1))
    .force_new(&["type", "request_interval"])
    .outputs(&["health_check_id"]);

pub struct HealthCheck(pub(crate) Arc<Clients>);

/// The inputs of every type: which ones a check takes depends on `type`,
/// checked by [`config`] before any call.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// Optional to the struct so that [`config`] names what is wrong with
    /// a missing one as with a wrong one; read back always.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    ty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fqdn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure_threshold: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    child_health_check_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    health_threshold: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alarm_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alarm_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    insufficient_data_health_status: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl Inputs {
    /// The type-specific inputs given.
    fn given(&self) -> Vec<&'static str> {
        [
            ("fqdn", self.fqdn.is_some()),
            ("port", self.port.is_some()),
            ("resource_path", self.resource_path.is_some()),
            ("request_interval", self.request_interval.is_some()),
            ("failure_threshold", self.failure_threshold.is_some()),
            (
                "child_health_check_ids",
                self.child_health_check_ids.is_some(),
            ),
            ("health_threshold", self.health_threshold.is_some()),
            ("alarm_region", self.alarm_region.is_some()),
            ("alarm_name", self.alarm_name.is_some()),
            (
                "insufficient_data_health_status",
                self.insufficient_data_health_status.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect()
    }
}

const GONE: &[&str] = &["NoSuchHealthCheck"];

/// The inputs of each type (beside `type` and `tags`), with what each is.
const ENDPOINT_KEYS: &[(&str, &str)] = &[
    ("fqdn", "the host name to probe"),
    ("port", "1 to 65535"),
    ("resource_path", "the path to request"),
    ("request_interval", "10 or 30 seconds"),
    ("failure_threshold", "1 to 10"),
];
const CALCULATED_KEYS: &[(&str, &str)] = &[
    (
        "child_health_check_ids",
        "the ids of 1 to 256 other health checks",
    ),
    (
        "health_threshold",
        "how many of them must be healthy, 0 to 256",
    ),
];
const METRIC_KEYS: &[(&str, &str)] = &[
    ("alarm_region", "the CloudWatch alarm's region"),
    ("alarm_name", "the CloudWatch alarm's name"),
    (
        "insufficient_data_health_status",
        "Healthy, Unhealthy or LastKnownStatus",
    ),
];

/// The types drctl manages and their inputs.
const TYPES: &[(&str, &[(&str, &str)])] = &[
    ("HTTP", ENDPOINT_KEYS),
    ("HTTPS", ENDPOINT_KEYS),
    ("CALCULATED", CALCULATED_KEYS),
    ("CLOUDWATCH_METRIC", METRIC_KEYS),
];

/// A health check's settings, checked.
#[derive(Debug, Clone, PartialEq)]
enum Config {
    Endpoint {
        https: bool,
        fqdn: String,
        port: i32,
        resource_path: String,
        request_interval: i32,
        failure_threshold: i32,
    },
    Calculated {
        children: Vec<String>,
        health_threshold: i32,
    },
    Metric {
        alarm_region: String,
        alarm_name: String,
        insufficient_data: String,
    },
}

fn describe(keys: &[(&str, &str)]) -> String {
    keys.iter()
        .map(|(k, what)| format!("`{k}` ({what})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The inputs' settings, or an error naming the input at fault and what
/// to do. No call is made before this passes.
fn config(ctx: &OpContext, inputs: &Inputs) -> Result<Config, ProviderError> {
    let names: Vec<&str> = TYPES.iter().map(|(t, _)| *t).collect();
    let ty = inputs.ty.as_deref().ok_or_else(|| {
        invalid(
            ctx,
            format!(
                "input `type` must be one of {}; it says which other inputs the health check takes",
                names.join(", ")
            ),
        )
    })?;
    let Some((_, keys)) = TYPES.iter().find(|(t, _)| *t == ty) else {
        return Err(invalid(
            ctx,
            format!(
                "input `type` is {ty:?}: drctl manages health checks of type {}",
                names.join(", ")
            ),
        ));
    };
    // Every input is some type's (the struct refuses any other).
    for key in inputs.given() {
        if keys.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let owner = TYPES
            .iter()
            .filter(|(_, ks)| ks.iter().any(|(k, _)| *k == key))
            .map(|(t, _)| *t)
            .collect::<Vec<_>>();
        return Err(invalid(
            ctx,
            format!(
                "input `{key}` is for health checks of type {}, not {ty}: remove it, or set `type` to {}",
                owner.join(" or "),
                owner[0]
            ),
        ));
    }
    let missing = |key: &str| {
        invalid(
            ctx,
            format!(
                "input `{key}` is missing: a {ty} health check takes {}",
                describe(keys)
            ),
        )
    };
    let string = |key: &str, v: &Option<String>, max: usize| -> Result<String, ProviderError> {
        let v = v.as_deref().ok_or_else(|| missing(key))?;
        if !v.is_empty() && v.chars().count() <= max {
            return Ok(v.to_owned());
        }
        Err(invalid(
            ctx,
            format!(
                "input `{key}` must be a string of 1 to {max} characters, not {}",
                json!(v)
            ),
        ))
    };
    let int = |key: &str,
               v: Option<i64>,
               allowed: &[std::ops::RangeInclusive<i64>]|
     -> Result<i32, ProviderError> {
        let n = v.ok_or_else(|| missing(key))?;
        if allowed.iter().any(|r| r.contains(&n)) {
            return Ok(n as i32);
        }
        let ranges: Vec<String> = allowed
            .iter()
            .map(|r| {
                if r.start() == r.end() {
                    r.start().to_string()
                } else {
                    format!("{} to {}", r.start(), r.end())
                }
            })
            .collect();
        Err(invalid(
            ctx,
            format!(
                "input `{key}` must be an integer, {}, not {n}",
                ranges.join(" or ")
            ),
        ))
    };
    Ok(match ty {
        "HTTP" | "HTTPS" => Config::Endpoint {
            https: ty == "HTTPS",
            fqdn: string("fqdn", &inputs.fqdn, 255)?,
            port: int("port", inputs.port, &[1..=65535])?,
            // Route 53 takes "/" and longer paths; the API's limit is 255.
            resource_path: string("resource_path", &inputs.resource_path, 255)?,
            // HealthCheckConfig: RequestInterval 10 or 30 (a fast or a
            // standard check); FailureThreshold 1 to 10.
            request_interval: int(
                "request_interval",
                inputs.request_interval,
                &[10..=10, 30..=30],
            )?,
            failure_threshold: int("failure_threshold", inputs.failure_threshold, &[1..=10])?,
        },
        "CALCULATED" => {
            let key = "child_health_check_ids";
            let children = inputs
                .child_health_check_ids
                .clone()
                .ok_or_else(|| missing(key))?;
            let fits = |s: &String| !s.is_empty() && s.len() <= 64;
            if children.is_empty() || children.len() > 256 || !children.iter().all(fits) {
                return Err(invalid(
                    ctx,
                    format!(
                        "input `{key}` must be a list of 1 to 256 health check ids, not {}",
                        json!(children)
                    ),
                ));
            }
            let distinct: BTreeSet<&String> = children.iter().collect();
            if distinct.len() != children.len() {
                return Err(invalid(
                    ctx,
                    format!(
                        "input `{key}` names a health check twice: {}; list each once",
                        json!(children)
                    ),
                ));
            }
            Config::Calculated {
                children,
                health_threshold: int("health_threshold", inputs.health_threshold, &[0..=256])?,
            }
        }
        _ => {
            let alarm_region = string("alarm_region", &inputs.alarm_region, 64)?;
            let known = CloudWatchRegion::values();
            if !known.contains(&alarm_region.as_str()) {
                return Err(invalid(
                    ctx,
                    format!(
                        "input `alarm_region` is {alarm_region:?}, which Route 53 does not take for a CloudWatch alarm (AlarmIdentifier Region): use one of {}",
                        known.join(", ")
                    ),
                ));
            }
            let insufficient_data = string(
                "insufficient_data_health_status",
                &inputs.insufficient_data_health_status,
                64,
            )?;
            let statuses = InsufficientDataHealthStatus::values();
            if !statuses.contains(&insufficient_data.as_str()) {
                return Err(invalid(
                    ctx,
                    format!(
                        "input `insufficient_data_health_status` is {insufficient_data:?}: use one of {}",
                        statuses.join(", ")
                    ),
                ));
            }
            Config::Metric {
                alarm_region,
                alarm_name: string("alarm_name", &inputs.alarm_name, 256)?,
                insufficient_data,
            }
        }
    })
}

fn outputs(id: &str) -> Attributes {
    attrs([("health_check_id", json!(id))])
}

fn alarm_identifier(region: &str, name: &str) -> Result<AlarmIdentifier, ProviderError> {
    AlarmIdentifier::builder()
        .region(CloudWatchRegion::from(region))
        .name(name)
        .build()
        .map_err(|e| ProviderError::new("route53:AlarmIdentifier", e.to_string()))
}

/// The ids as a set (they are one to Route 53).
fn id_set(ids: &[String]) -> BTreeSet<&str> {
    ids.iter().map(String::as_str).collect()
}

/// The child ids as the `child_health_check_ids` input: in `prior`'s order
/// when they are the same set (so a refresh shows no change), else as
/// Route 53 lists them.
fn children_input(observed: &[String], prior: &Inputs) -> Vec<String> {
    match &prior.child_health_check_ids {
        Some(p) if p.len() == observed.len() && id_set(p) == id_set(observed) => p.clone(),
        _ => observed.to_vec(),
    }
}

#[async_trait]
impl Kind for HealthCheck {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let config = match config(ctx, inputs)? {
            Config::Endpoint {
                https,
                fqdn,
                port,
                resource_path,
                request_interval,
                failure_threshold,
            } => HealthCheckConfig::builder()
                .r#type(if https {
                    HealthCheckType::Https
                } else {
                    HealthCheckType::Http
                })
                .fully_qualified_domain_name(fqdn)
                .port(port)
                .resource_path(resource_path)
                .request_interval(request_interval)
                .failure_threshold(failure_threshold),
            // Port, RequestInterval, FailureThreshold and MeasureLatency
            // are for endpoint checks only (HealthCheckConfig: "Don't
            // specify a value for Port when you specify a value for Type of
            // CLOUDWATCH_METRIC or CALCULATED"; Route 53 refuses the others
            // too), so they are never sent for these two.
            Config::Calculated {
                children,
                health_threshold,
            } => HealthCheckConfig::builder()
                .r#type(HealthCheckType::Calculated)
                .set_child_health_checks(Some(children))
                // Sent even when 0: Route 53 refuses a CALCULATED check
                // without it ("must have a health threshold specified").
                .health_threshold(health_threshold),
            Config::Metric {
                alarm_region,
                alarm_name,
                insufficient_data,
            } => HealthCheckConfig::builder()
                .r#type(HealthCheckType::CloudwatchMetric)
                .alarm_identifier(alarm_identifier(&alarm_region, &alarm_name)?)
                .insufficient_data_health_status(InsufficientDataHealthStatus::from(
                    insufficient_data.as_str(),
                )),
        }
        .build()
        .map_err(|e| ProviderError::new("route53:HealthCheckConfig", e.to_string()))?;
        let client = self.0.route53();
        // The caller reference makes a resend of a create that happened
        // return the same health check (or fail with
        // HealthCheckAlreadyExists): never a second one.
        let request = self
            .0
            .route53_once()
            .create_health_check()
            .caller_reference(caller_reference(ctx))
            .health_check_config(config);
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "route53:CreateHealthCheck",
            &["HealthCheckAlreadyExists"],
            || request.clone().send(),
        )
        .await?;
        let id = match created {
            Created::Sent(out) => out.health_check().map(|h| h.id.clone()).unwrap_or_default(),
            Created::Found(id) => id,
        };
        // CreateHealthCheck takes no tags: they follow at once.
        change_tags(
            &client,
            TagResourceType::Healthcheck,
            &id,
            with_identity(ctx, &inputs.tags),
            Vec::new(),
        )
        .await?;
        Ok(Applied {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(&self, _ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let client = self.0.route53();
        let result = client.get_health_check().health_check_id(id).send().await;
        let Some(out) = found(result, GONE, "route53:GetHealthCheck")? else {
            return Ok(None);
        };
        let Some(c) = out.health_check().and_then(|h| h.health_check_config()) else {
            return Ok(None);
        };
        // Only the inputs of the check's type, so that a refresh of an
        // unchanged check shows no change.
        let mut inputs = Inputs {
            ty: Some(c.r#type().as_str().to_owned()),
            ..Inputs::default()
        };
        let int = |n: Option<i32>| n.map(i64::from);
        match c.r#type() {
            HealthCheckType::Http | HealthCheckType::Https => {
                inputs.fqdn = c.fully_qualified_domain_name().map(str::to_owned);
                inputs.port = int(c.port());
                inputs.resource_path = c.resource_path().map(str::to_owned);
                inputs.request_interval = int(c.request_interval());
                inputs.failure_threshold = int(c.failure_threshold());
            }
            HealthCheckType::Calculated => {
                inputs.child_health_check_ids =
                    Some(children_input(c.child_health_checks(), prior));
                inputs.health_threshold = int(c.health_threshold());
            }
            HealthCheckType::CloudwatchMetric => {
                let alarm = c.alarm_identifier();
                inputs.alarm_region = alarm.map(|a| a.region().as_str().to_owned());
                inputs.alarm_name = alarm.map(|a| a.name().to_owned());
                inputs.insufficient_data_health_status = c
                    .insufficient_data_health_status()
                    .map(|s| s.as_str().to_owned());
            }
            // A type drctl does not manage: `type` alone, which differs
            // from the inputs and so plans a replacement.
            _ => {}
        }
        inputs.tags = read_tags(&client, TagResourceType::Healthcheck, id).await?;
        Ok(Some(Found {
            inputs,
            outputs: outputs(id),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let new = config(ctx, inputs)?;
        let client = self.0.route53();
        // UpdateHealthCheck takes the fields of each type that can change
        // (not Type nor RequestInterval, which force a replacement), and
        // changes only those it is given: send the changed ones.
        let mut request = client.update_health_check().health_check_id(id);
        let mut any = false;
        match new {
            Config::Endpoint {
                fqdn,
                port,
                resource_path,
                failure_threshold,
                ..
            } => {
                if prior.fqdn != inputs.fqdn {
                    request = request.fully_qualified_domain_name(fqdn);
                    any = true;
                }
                if prior.port != inputs.port {
                    request = request.port(port);
                    any = true;
                }
                if prior.resource_path != inputs.resource_path {
                    request = request.resource_path(resource_path);
                    any = true;
                }
                if prior.failure_threshold != inputs.failure_threshold {
                    request = request.failure_threshold(failure_threshold);
                    any = true;
                }
            }
            Config::Calculated {
                children,
                health_threshold,
            } => {
                let before = prior.child_health_check_ids.as_deref().unwrap_or_default();
                if id_set(before) != id_set(&children) {
                    // The whole new list replaces the old one.
                    request = request.set_child_health_checks(Some(children));
                    any = true;
                }
                if prior.health_threshold != inputs.health_threshold {
                    request = request.health_threshold(health_threshold);
                    any = true;
                }
            }
            Config::Metric {
                alarm_region,
                alarm_name,
                insufficient_data,
            } => {
                // AlarmIdentifier takes both region and name.
                if prior.alarm_region != inputs.alarm_region
                    || prior.alarm_name != inputs.alarm_name
                {
                    request =
                        request.alarm_identifier(alarm_identifier(&alarm_region, &alarm_name)?);
                    any = true;
                }
                if prior.insufficient_data_health_status != inputs.insufficient_data_health_status {
                    request = request.insufficient_data_health_status(
                        InsufficientDataHealthStatus::from(insufficient_data.as_str()),
                    );
                    any = true;
                }
            }
        }
        if any {
            request
                .send()
                .await
                .map_err(|e| api_error("route53:UpdateHealthCheck", e))?;
        }
        sync_tags(
            &client,
            TagResourceType::Healthcheck,
            id,
            &prior.tags,
            &inputs.tags,
        )
        .await?;
        Ok(outputs(id))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // Health checks have no name: every one is a candidate.
        let client = self.0.route53();
        let listed = self
            .all(&client)
            .await?
            .into_iter()
            .map(|h| (h.id, h.caller_reference));
        find_created(
            &client,
            TagResourceType::Healthcheck,
            ctx,
            &inputs.tags,
            listed,
        )
        .await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let client = self.0.route53();
        let result = client.get_health_check().health_check_id(id).send().await;
        let Some(check) = found(result, GONE, "route53:GetHealthCheck")?
            .and_then(|out| out.health_check().cloned())
        else {
            return Ok(());
        };
        super::confirm_owned(
            &client,
            TagResourceType::Healthcheck,
            ctx,
            &format!("health check {id}"),
            id,
            check.caller_reference(),
        )
        .await?;
        let result = self
            .0
            .route53()
            .delete_health_check()
            .health_check_id(id)
            .send()
            .await;
        tolerate(result, GONE, "route53:DeleteHealthCheck")
    }

    /// The environment's health checks, by their `drctl:env` tag.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.route53();
        let ids = self.all(&client).await?.into_iter().map(|h| h.id).collect();
        tagged_for_env(&client, TagResourceType::Healthcheck, &scope.env, ids).await
    }
}

impl HealthCheck {
    /// Every health check of the account.
    async fn all(
        &self,
        client: &aws_sdk_route53::Client,
    ) -> Result<Vec<aws_sdk_route53::types::HealthCheck>, ProviderError> {
        all_items(
            client.list_health_checks().into_paginator().items().send(),
            "route53:ListHealthChecks",
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value as Json;

    use super::*;

    fn ctx() -> OpContext {
        crate::support::unit_test_ctx("global/route53.health_check/primary")
    }

    fn inputs(v: Json) -> Inputs {
        serde_json::from_value(v).unwrap()
    }

    fn refused(v: Json) -> String {
        config(&ctx(), &inputs(v)).unwrap_err().message
    }

    /// UpdateHealthCheck takes neither `Type` nor `RequestInterval` ("you
    /// can't change the value of RequestInterval", HealthCheckConfig): the
    /// planner replaces a check whose type or interval changed instead of
    /// sending an update that could not apply it.
    #[test]
    fn type_and_interval_changes_replace_the_check() {
        for input in ["type", "request_interval"] {
            assert!(SCHEMA.forces_replacement(input), "{input}");
        }
        for input in ["failure_threshold", "resource_path", "fqdn", "tags"] {
            assert!(!SCHEMA.forces_replacement(input), "{input}");
        }
    }

    #[test]
    fn each_type_takes_its_own_inputs() {
        let https = config(
            &ctx(),
            &inputs(
                json!({"type": "HTTPS", "fqdn": "a.example.com", "port": 443,
                "resource_path": "/prod/health", "request_interval": 30, "failure_threshold": 3,
                "tags": {"Name": "h"}}),
            ),
        )
        .unwrap();
        assert!(matches!(
            https,
            Config::Endpoint {
                https: true,
                port: 443,
                ..
            }
        ));
        let calculated = config(
            &ctx(),
            &inputs(
                json!({"type": "CALCULATED", "child_health_check_ids": ["a", "b"],
                "health_threshold": 0}),
            ),
        )
        .unwrap();
        assert_eq!(
            calculated,
            Config::Calculated {
                children: vec!["a".into(), "b".into()],
                health_threshold: 0
            }
        );
        let metric = config(
            &ctx(),
            &inputs(
                json!({"type": "CLOUDWATCH_METRIC", "alarm_region": "us-east-2",
                "alarm_name": "fence", "insufficient_data_health_status": "LastKnownStatus"}),
            ),
        )
        .unwrap();
        assert!(matches!(metric, Config::Metric { .. }));
    }

    #[test]
    fn a_missing_input_or_one_of_another_type_is_named_with_the_fix() {
        let m = refused(json!({"type": "CALCULATED", "child_health_check_ids": ["a"]}));
        assert!(m.contains("input `health_threshold` is missing"), "{m}");
        assert!(m.contains("0 to 256"), "{m}");
        let m = refused(
            json!({"type": "CALCULATED", "child_health_check_ids": ["a"],
            "health_threshold": 1, "port": 443}),
        );
        assert!(
            m.contains("input `port` is for health checks of type HTTP or HTTPS, not CALCULATED"),
            "{m}"
        );
        assert!(m.contains("remove it"), "{m}");
        let m = refused(
            json!({"type": "HTTPS", "fqdn": "a", "port": 443, "resource_path": "/",
            "request_interval": 30, "failure_threshold": 3, "alarm_name": "x"}),
        );
        assert!(
            m.contains("`alarm_name` is for health checks of type CLOUDWATCH_METRIC"),
            "{m}"
        );
        // An input no type takes is refused by the struct (the adapter
        // words it "unknown input `alarm`: remove it; ...").
        let m = serde_json::from_value::<Inputs>(json!({"type": "CLOUDWATCH_METRIC",
            "alarm_name": "x", "insufficient_data_health_status": "Healthy", "alarm": 1}))
        .unwrap_err()
        .to_string();
        assert!(m.contains("unknown field `alarm`"), "{m}");
        let m = refused(json!({"type": "TCP"}));
        assert!(
            m.contains("HTTP, HTTPS, CALCULATED, CLOUDWATCH_METRIC"),
            "{m}"
        );
    }

    #[test]
    fn values_are_checked_against_the_api_limits() {
        let calc = |children: Json, threshold: Json| {
            refused(
                json!({"type": "CALCULATED", "child_health_check_ids": children,
                "health_threshold": threshold}),
            )
        };
        assert!(calc(json!([]), json!(1)).contains("1 to 256 health check ids"));
        assert!(calc(json!(["a", "a"]), json!(1)).contains("names a health check twice"));
        assert!(calc(json!(["a"]), json!(257)).contains("0 to 256"));
        let metric = |region: &str, status: &str| {
            refused(json!({"type": "CLOUDWATCH_METRIC", "alarm_region": region,
                "alarm_name": "fence", "insufficient_data_health_status": status}))
        };
        assert!(metric("mars-1", "Healthy").contains("`alarm_region` is \"mars-1\""));
        assert!(metric("us-east-2", "Sick").contains("Healthy, LastKnownStatus, Unhealthy"));
        let m = refused(
            json!({"type": "HTTPS", "fqdn": "a", "port": 443, "resource_path": "/",
            "request_interval": 15, "failure_threshold": 3}),
        );
        assert!(
            m.contains("`request_interval` must be an integer, 10 or 30"),
            "{m}"
        );
    }

    #[test]
    fn child_ids_read_back_in_the_prior_order_when_the_set_is_the_same() {
        let prior = inputs(json!({"child_health_check_ids": ["b", "a"]}));
        let observed = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(children_input(&observed, &prior), ["b", "a"]);
        let other = vec!["a".to_owned(), "c".to_owned()];
        assert_eq!(children_input(&other, &prior), ["a", "c"]);
    }
}
