//! `ecs.task_definition`: a Fargate task definition (awsvpc networking,
//! task-level CPU and memory) of one essential container that serves one
//! TCP port. Its id is the family; its current revision's ARN is an
//! output.
//!
//! Inputs: `family`, `cpu` and `memory` (strings, one of Fargate's
//! combinations), `execution_role_arn`, `container_name`, `image`,
//! `container_port`, optionally `health_check` (`{"command": [...],
//! "interval", "timeout", "retries", "start_period"}`), `tags`.
//!
//! A revision is immutable: a changed input registers a new revision
//! (RegisterTaskDefinition), whose ARN the update returns as a volatile
//! output, so a service referencing it is updated after it; the older
//! revisions of the family are deregistered then, and the family keeps one
//! ACTIVE revision, which a read describes (DescribeTaskDefinition of the
//! family gives the latest ACTIVE revision). Tags alone change with
//! TagResource.
//!
//! RegisterTaskDefinition takes no idempotency token and makes a new
//! revision each time: it goes through `create_once`, whose lookup finds a
//! revision the lost call registered (the family's ACTIVE revision with
//! this address's tags and the wanted settings). Delete deregisters the
//! family's ACTIVE revisions and deletes them (DeleteTaskDefinitions);
//! running tasks of a deregistered revision keep running (ECS API
//! Reference, DeregisterTaskDefinition).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HealthCheck, NetworkMode, PortMapping,
    TaskDefinition as AwsTaskDefinition, TaskDefinitionField, TaskDefinitionStatus,
    TransportProtocol,
};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use super::{ecs_tags, is_ours, sync_tags, tag_map};
use crate::clients::Clients;
use crate::support::{
    Created, TAG_ADDRESS, all_tags, api_error, attrs, create_once, invalid, observed_tags,
    only_known_inputs,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "ecs.task_definition",
    force_new: &["family"],
    outputs: &["arn", "family", "revision"],
    volatile_outputs: &["arn", "revision"],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct TaskDefinition(pub(crate) Arc<Clients>);

const KEYS: [&str; 9] = [
    "family",
    "cpu",
    "memory",
    "execution_role_arn",
    "container_name",
    "image",
    "container_port",
    "health_check",
    "tags",
];

/// Task-level CPU units and the memory (MiB) Fargate runs each with, on
/// Linux (ECS Developer Guide, "Amazon ECS task definition parameters for
/// Fargate", Task size): `(cpu, first, last, step)`.
pub const FARGATE_SIZES: [(u32, u32, u32, u32); 7] = [
    (256, 512, 2048, 0),
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122880, 8192),
];

/// Whether Fargate runs a task of `cpu` units with `memory` MiB.
pub fn fargate_size(cpu: u32, memory: u32) -> bool {
    FARGATE_SIZES.iter().any(|&(c, first, last, step)| {
        c == cpu
            && if step == 0 {
                // 256 CPU units: 512, 1024 or 2048 MiB.
                [512, 1024, 2048].contains(&memory)
            } else {
                (first..=last).contains(&memory) && (memory - first).is_multiple_of(step)
            }
    })
}

/// The container's health check (ECS API Reference, HealthCheck).
#[derive(Clone, Debug, PartialEq)]
struct Health {
    command: Vec<String>,
    interval: i32,
    timeout: i32,
    retries: i32,
    start_period: i32,
}

impl Health {
    fn to_json(&self) -> Json {
        json!({"command": self.command, "interval": self.interval, "timeout": self.timeout,
               "retries": self.retries, "start_period": self.start_period})
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Config {
    family: String,
    cpu: String,
    memory: String,
    execution_role_arn: String,
    container_name: String,
    image: String,
    container_port: i32,
    health_check: Option<Health>,
}

fn int_in(
    ctx: &OpContext,
    value: Option<&Json>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i32, ProviderError> {
    value
        .and_then(Json::as_i64)
        .filter(|n| range.contains(n))
        .map(|n| n as i32)
        .ok_or_else(|| {
            invalid(
                ctx,
                format!(
                    "input `{key}` must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

fn health(ctx: &OpContext, value: &Json) -> Result<Health, ProviderError> {
    let command: Vec<String> = value
        .get("command")
        .and_then(Json::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if command.is_empty() || !matches!(command[0].as_str(), "CMD" | "CMD-SHELL") {
        return Err(invalid(
            ctx,
            "input `health_check.command` must be a list starting with \"CMD\" or \"CMD-SHELL\", e.g. [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"]",
        ));
    }
    if let Some(key) = value.as_object().and_then(|m| {
        m.keys().find(|k| {
            !["command", "interval", "timeout", "retries", "start_period"].contains(&k.as_str())
        })
    }) {
        return Err(invalid(
            ctx,
            format!(
                "`health_check.{key}` is not a health check setting: use command, interval, timeout, retries, start_period"
            ),
        ));
    }
    // The bounds of the ECS API Reference, HealthCheck.
    Ok(Health {
        command,
        interval: int_in(ctx, value.get("interval"), "health_check.interval", 5..=300)?,
        timeout: int_in(ctx, value.get("timeout"), "health_check.timeout", 2..=60)?,
        retries: int_in(ctx, value.get("retries"), "health_check.retries", 1..=10)?,
        start_period: int_in(
            ctx,
            value.get("start_period"),
            "health_check.start_period",
            0..=300,
        )?,
    })
}

fn config(ctx: &OpContext, inputs: &Attributes) -> Result<Config, ProviderError> {
    only_known_inputs(ctx, inputs, &KEYS, "a task definition")?;
    let string = |key: &str| -> Result<String, ProviderError> {
        inputs
            .get(key)
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| invalid(ctx, format!("input `{key}` must be a non-empty string")))
    };
    let family = string("family")?;
    // Family: up to 255 letters, digits, `-` and `_` (RegisterTaskDefinition).
    if family.len() > 255
        || !family
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            ctx,
            format!(
                "input `family` is {family:?}: a family is up to 255 letters, digits, `-` or `_`"
            ),
        ));
    }
    let cpu = string("cpu")?;
    let memory = string("memory")?;
    let fits = match (cpu.parse::<u32>(), memory.parse::<u32>()) {
        (Ok(c), Ok(m)) => fargate_size(c, m),
        _ => false,
    };
    if !fits {
        return Err(invalid(
            ctx,
            format!(
                "`cpu` {cpu:?} with `memory` {memory:?} is not a Fargate task size: 256 with 512, 1024 or 2048; 512 with 1024-4096; 1024 with 2048-8192; 2048 with 4096-16384; 4096 with 8192-30720 (steps of 1024); 8192 with 16384-61440 (steps of 4096); 16384 with 32768-122880 (steps of 8192)"
            ),
        ));
    }
    let execution_role_arn = string("execution_role_arn")?;
    if !execution_role_arn.starts_with("arn:") || !execution_role_arn.contains(":role/") {
        return Err(invalid(
            ctx,
            format!("input `execution_role_arn` is {execution_role_arn:?}, not an IAM role ARN"),
        ));
    }
    let container_name = string("container_name")?;
    let image = string("image")?;
    let container_port = int_in(
        ctx,
        inputs.get("container_port"),
        "container_port",
        1..=65535,
    )?;
    let health_check = match inputs.get("health_check") {
        None => None,
        Some(v) => Some(health(ctx, v)?),
    };
    Ok(Config {
        family,
        cpu,
        memory,
        execution_role_arn,
        container_name,
        image,
        container_port,
        health_check,
    })
}

/// What a revision says, in the shape of `Config` (`None` when it is not
/// one drctl could have registered: several containers, say).
fn observed(td: &AwsTaskDefinition) -> Option<Config> {
    let [container] = td.container_definitions() else {
        return None;
    };
    let health_check = container.health_check().map(|h| Health {
        command: h.command().to_vec(),
        interval: h.interval().unwrap_or(30),
        timeout: h.timeout().unwrap_or(5),
        retries: h.retries().unwrap_or(3),
        start_period: h.start_period().unwrap_or(0),
    });
    Some(Config {
        family: td.family()?.to_owned(),
        cpu: td.cpu().unwrap_or_default().to_owned(),
        memory: td.memory().unwrap_or_default().to_owned(),
        execution_role_arn: td.execution_role_arn().unwrap_or_default().to_owned(),
        container_name: container.name().unwrap_or_default().to_owned(),
        image: container.image().unwrap_or_default().to_owned(),
        container_port: container
            .port_mappings()
            .first()
            .and_then(|p| p.container_port())
            .unwrap_or(0),
        health_check,
    })
}

fn outputs(td: &AwsTaskDefinition) -> Attributes {
    attrs([
        ("arn", json!(td.task_definition_arn().unwrap_or_default())),
        ("family", json!(td.family().unwrap_or_default())),
        ("revision", json!(td.revision())),
    ])
}

/// The family's latest ACTIVE revision and its tags; `None` when the
/// family has none.
async fn latest(
    client: &Client,
    family: &str,
) -> Result<Option<(AwsTaskDefinition, BTreeMap<String, String>)>, ProviderError> {
    let result = client
        .describe_task_definition()
        .task_definition(family)
        .include(TaskDefinitionField::Tags)
        .send()
        .await;
    let out = match result {
        Ok(out) => out,
        // ECS answers ClientException "Unable to describe task definition"
        // for a family without an ACTIVE revision.
        Err(e) if crate::support::has_code(&e, &["ClientException"]) => return Ok(None),
        Err(e) => return Err(api_error("ecs:DescribeTaskDefinition", e)),
    };
    let tags = tag_map(out.tags());
    Ok(out
        .task_definition()
        .filter(|td| td.status() == Some(&TaskDefinitionStatus::Active))
        .cloned()
        .map(|td| (td, tags)))
}

/// The family's ACTIVE revisions' ARNs (ListTaskDefinitions filters by a
/// family prefix: others of a longer family name are left out).
async fn active_revisions(client: &Client, family: &str) -> Result<Vec<String>, ProviderError> {
    let list = client.list_task_definitions().family_prefix(family);
    let arns: Vec<String> = list
        .status(TaskDefinitionStatus::Active)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| api_error("ecs:ListTaskDefinitions", e))?;
    Ok(arns
        .into_iter()
        .filter(|arn| {
            arn.rsplit_once('/')
                .and_then(|(_, rest)| rest.rsplit_once(':'))
                .is_some_and(|(f, _)| f == family)
        })
        .collect())
}

/// Deregisters `arns` and deletes them (DeleteTaskDefinitions takes only
/// INACTIVE revisions, at most 10 a call).
async fn retire(client: &Client, arns: &[String]) -> Result<(), ProviderError> {
    for arn in arns {
        let result = client
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await;
        crate::support::tolerate(result, &["ClientException"], "ecs:DeregisterTaskDefinition")?;
    }
    for chunk in arns.chunks(10) {
        let out = client
            .delete_task_definitions()
            .set_task_definitions(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| api_error("ecs:DeleteTaskDefinitions", e))?;
        // A revision already deleted or not found is gone: what we want.
        if let Some(f) = out
            .failures()
            .iter()
            .find(|f| !f.reason().is_some_and(|r| r.contains("does not exist")))
        {
            return Err(ProviderError::new(
                "ecs:DeleteTaskDefinitions",
                format!(
                    "{}: {}",
                    f.arn().unwrap_or("?"),
                    f.reason().unwrap_or("no reason given")
                ),
            ));
        }
    }
    Ok(())
}

impl TaskDefinition {
    /// Registers a revision of `config`, never twice for one call: after
    /// an unanswered call, the family's ACTIVE revision with this
    /// address's tags and these settings is the one it made.
    async fn register(
        &self,
        ctx: &OpContext,
        config: &Config,
        inputs: &Attributes,
    ) -> Result<AwsTaskDefinition, ProviderError> {
        let client = self.0.ecs(&ctx.region);
        let mut container = ContainerDefinition::builder()
            .name(&config.container_name)
            .image(&config.image)
            .essential(true)
            .port_mappings(
                PortMapping::builder()
                    .container_port(config.container_port)
                    .protocol(TransportProtocol::Tcp)
                    .build(),
            );
        if let Some(h) = &config.health_check {
            container = container.health_check(
                HealthCheck::builder()
                    .set_command(Some(h.command.clone()))
                    .interval(h.interval)
                    .timeout(h.timeout)
                    .retries(h.retries)
                    .start_period(h.start_period)
                    .build()
                    .map_err(|e| ProviderError::new("ecs:HealthCheck", e.to_string()))?,
            );
        }
        let request = self
            .0
            .ecs_once(&ctx.region)
            .register_task_definition()
            .family(&config.family)
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu(&config.cpu)
            .memory(&config.memory)
            .execution_role_arn(&config.execution_role_arn)
            .container_definitions(container.build())
            .set_tags(Some(ecs_tags(all_tags(ctx, inputs))));
        let lookup = || async {
            Ok(match latest(&client, &config.family).await? {
                Some((td, tags))
                    if is_ours(ctx, &tags) && observed(&td).as_ref() == Some(config) =>
                {
                    td.task_definition_arn().map(str::to_owned)
                }
                _ => None,
            })
        };
        let created = create_once(
            "ecs:RegisterTaskDefinition",
            &[],
            || request.clone().send(),
            lookup,
        )
        .await?;
        match created {
            Created::Sent(out) => out.task_definition().cloned().ok_or_else(|| {
                ProviderError::new(
                    "ecs:RegisterTaskDefinition",
                    "no task definition in the response",
                )
            }),
            Created::Found(_) => latest(&client, &config.family)
                .await?
                .map(|(td, _)| td)
                .ok_or_else(|| {
                    ProviderError::new(
                        "ecs:DescribeTaskDefinition",
                        format!("family {}: its new revision is gone", config.family),
                    )
                }),
        }
    }
}

#[async_trait]
impl Provider for TaskDefinition {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        if let Some((_, tags)) = latest(&client, &config.family).await?
            && !is_ours(ctx, &tags)
        {
            return Err(ProviderError::new(
                format!("create {}", ctx.address),
                format!(
                    "the task definition family {} in {} has an ACTIVE revision drctl did not register for this address (its {TAG_ADDRESS} tag: {}); deregister its revisions (aws ecs deregister-task-definition) or rename this family",
                    config.family,
                    ctx.region,
                    tags.get(TAG_ADDRESS).map_or("none", String::as_str),
                ),
            )
            .with_code("TaskDefinitionExists"));
        }
        let td = self.register(ctx, &config, inputs).await?;
        Ok(Applied {
            id: config.family.clone(),
            outputs: outputs(&td),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let client = self.0.ecs(&ctx.region);
        let Some((td, tags)) = latest(&client, id).await? else {
            return Ok(None);
        };
        let Some(c) = observed(&td) else {
            // Not a shape drctl registers: every setting differs.
            return Ok(Some(Observed {
                inputs: attrs([("family", json!(id)), ("tags", observed_tags(tags))]),
                outputs: outputs(&td),
            }));
        };
        let mut inputs = attrs([
            ("family", json!(c.family)),
            ("cpu", json!(c.cpu)),
            ("memory", json!(c.memory)),
            ("execution_role_arn", json!(c.execution_role_arn)),
            ("container_name", json!(c.container_name)),
            ("image", json!(c.image)),
            ("container_port", json!(c.container_port)),
            ("tags", observed_tags(tags)),
        ]);
        if let Some(h) = &c.health_check {
            inputs.insert("health_check".into(), h.to_json());
        }
        Ok(Some(Observed {
            inputs,
            outputs: outputs(&td),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        let current = latest(&client, id).await?;
        let same = current
            .as_ref()
            .is_some_and(|(td, _)| observed(td).as_ref() == Some(&config));
        if same {
            let (td, _) = current.expect("checked");
            sync_tags(
                &client,
                td.task_definition_arn().unwrap_or_default(),
                prior,
                inputs,
            )
            .await?;
            return Ok(outputs(&td));
        }
        let td = self.register(ctx, &config, inputs).await?;
        let new_arn = td.task_definition_arn().unwrap_or_default();
        let older: Vec<String> = active_revisions(&client, id)
            .await?
            .into_iter()
            .filter(|arn| arn != new_arn)
            .collect();
        retire(&client, &older).await?;
        Ok(outputs(&td))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        Ok(latest(&client, &config.family)
            .await?
            .filter(|(_, tags)| is_ours(ctx, tags))
            .map(|_| config.family))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let client = self.0.ecs(&ctx.region);
        // The family's revisions go together: its latest one's tags (what
        // drctl registered last) say whose the family is.
        if let Some((_, tags)) = latest(&client, id).await? {
            let named = crate::support::opt_str(inputs, "family").filter(|f| *f == id);
            crate::support::confirm_owned(
                ctx,
                "delete",
                &format!("task definition family {id}"),
                &tags,
                named,
            )?;
        }
        let arns = active_revisions(&client, id).await?;
        retire(&client, &arns).await
    }
}
