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

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::Tag;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HealthCheck, NetworkMode, PortMapping,
    TaskDefinition as AwsTaskDefinition, TaskDefinitionField, TaskDefinitionStatus,
    TransportProtocol,
};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{int_in, name_input};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{Created, TAG_ADDRESS, all_items, api_error, attrs, create_once, invalid};
use crate::tags::{Tags, from_sdk, in_env, made_for, retag, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new("ecs.task_definition", Latency::calls(1, 1, 1))
    .force_new(&["family"])
    .outputs(&["arn", "family", "revision"])
    .volatile_outputs(&["arn", "revision"]);

pub struct TaskDefinition(pub(crate) Arc<Clients>);

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    family: String,
    /// Task CPU units and memory (MiB), as strings: one of Fargate's
    /// combinations.
    cpu: String,
    memory: String,
    execution_role_arn: String,
    container_name: String,
    image: String,
    container_port: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    health_check: Option<Health>,
    #[serde(default)]
    tags: Tags,
}

/// The container's health check (ECS API Reference, HealthCheck).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Health {
    command: Vec<String>,
    interval: i64,
    timeout: i64,
    retries: i64,
    start_period: i64,
}

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

/// The checked inputs as the calls take them.
struct Checked {
    container_port: i32,
    health_check: Option<HealthCheck>,
}

fn health(ctx: &OpContext, h: &Health) -> Result<HealthCheck, ProviderError> {
    if !h
        .command
        .first()
        .is_some_and(|c| matches!(c.as_str(), "CMD" | "CMD-SHELL"))
    {
        return Err(invalid(
            ctx,
            "input `health_check.command` must be a list starting with \"CMD\" or \"CMD-SHELL\", e.g. [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"]",
        ));
    }
    // The bounds of the ECS API Reference, HealthCheck.
    HealthCheck::builder()
        .set_command(Some(h.command.clone()))
        .interval(int_in(ctx, "health_check.interval", h.interval, 5..=300)?)
        .timeout(int_in(ctx, "health_check.timeout", h.timeout, 2..=60)?)
        .retries(int_in(ctx, "health_check.retries", h.retries, 1..=10)?)
        .start_period(int_in(
            ctx,
            "health_check.start_period",
            h.start_period,
            0..=300,
        )?)
        .build()
        .map_err(|e| ProviderError::new("ecs:HealthCheck", e.to_string()))
}

fn check(ctx: &OpContext, inputs: &Inputs) -> Result<Checked, ProviderError> {
    for (key, value) in [
        ("cpu", &inputs.cpu),
        ("memory", &inputs.memory),
        ("container_name", &inputs.container_name),
        ("image", &inputs.image),
    ] {
        if value.is_empty() {
            return Err(invalid(
                ctx,
                format!("input `{key}` must be a non-empty string"),
            ));
        }
    }
    // Family: up to 255 letters, digits, `-` and `_` (RegisterTaskDefinition).
    name_input(ctx, "family", &inputs.family, "a family")?;
    let (cpu, memory) = (&inputs.cpu, &inputs.memory);
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
    let execution_role_arn = &inputs.execution_role_arn;
    if !execution_role_arn.starts_with("arn:") || !execution_role_arn.contains(":role/") {
        return Err(invalid(
            ctx,
            format!("input `execution_role_arn` is {execution_role_arn:?}, not an IAM role ARN"),
        ));
    }
    Ok(Checked {
        container_port: int_in(ctx, "container_port", inputs.container_port, 1..=65535)?,
        health_check: inputs
            .health_check
            .as_ref()
            .map(|h| health(ctx, h))
            .transpose()?,
    })
}

/// What a revision says, as inputs without tags (`None` when it is not
/// one drctl could have registered: several containers, say).
fn observed(td: &AwsTaskDefinition) -> Option<Inputs> {
    let [container] = td.container_definitions() else {
        return None;
    };
    let health_check = container.health_check().map(|h| Health {
        command: h.command().to_vec(),
        interval: h.interval().unwrap_or(30).into(),
        timeout: h.timeout().unwrap_or(5).into(),
        retries: h.retries().unwrap_or(3).into(),
        start_period: h.start_period().unwrap_or(0).into(),
    });
    let string = |v: Option<&str>| v.unwrap_or_default().to_owned();
    Some(Inputs {
        family: td.family()?.to_owned(),
        cpu: string(td.cpu()),
        memory: string(td.memory()),
        execution_role_arn: string(td.execution_role_arn()),
        container_name: string(container.name()),
        image: string(container.image()),
        container_port: container
            .port_mappings()
            .first()
            .and_then(|p| p.container_port())
            .unwrap_or(0)
            .into(),
        health_check,
        tags: Tags::new(),
    })
}

/// Whether a revision has the settings of `inputs` (tags aside: they
/// change without a new revision).
fn registers(td: &AwsTaskDefinition, inputs: &Inputs) -> bool {
    observed(td).is_some_and(|o| {
        o == Inputs {
            tags: Tags::new(),
            ..inputs.clone()
        }
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
) -> Result<Option<(AwsTaskDefinition, Tags)>, ProviderError> {
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
    let tags = from_sdk(out.tags());
    Ok(out
        .task_definition()
        .filter(|td| td.status() == Some(&TaskDefinitionStatus::Active))
        .cloned()
        .map(|td| (td, tags)))
}

/// The family of a revision's ARN (`...:task-definition/<family>:<n>`).
fn family_of(arn: &str) -> Option<&str> {
    let (_, rest) = arn.rsplit_once('/')?;
    rest.rsplit_once(':').map(|(family, _)| family)
}

/// The ACTIVE revisions' ARNs, of the families starting with `prefix`
/// (all with `None`).
async fn active_arns(client: &Client, prefix: Option<&str>) -> Result<Vec<String>, ProviderError> {
    let call = client
        .list_task_definitions()
        .set_family_prefix(prefix.map(str::to_owned))
        .status(TaskDefinitionStatus::Active);
    all_items(
        call.into_paginator().items().send(),
        "ecs:ListTaskDefinitions",
    )
    .await
}

/// The family's ACTIVE revisions' ARNs (ListTaskDefinitions filters by a
/// family prefix: others of a longer family name are left out).
async fn active_revisions(client: &Client, family: &str) -> Result<Vec<String>, ProviderError> {
    let arns = active_arns(client, Some(family)).await?;
    Ok(arns
        .into_iter()
        .filter(|arn| family_of(arn) == Some(family))
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
    /// Registers a revision of `inputs`, never twice for one call: after
    /// an unanswered call, the family's ACTIVE revision with this
    /// address's tags and these settings is the one it made.
    async fn register(
        &self,
        ctx: &OpContext,
        inputs: &Inputs,
        checked: Checked,
    ) -> Result<AwsTaskDefinition, ProviderError> {
        let client = self.0.ecs(&ctx.region);
        let container = ContainerDefinition::builder()
            .name(&inputs.container_name)
            .image(&inputs.image)
            .essential(true)
            .port_mappings(
                PortMapping::builder()
                    .container_port(checked.container_port)
                    .protocol(TransportProtocol::Tcp)
                    .build(),
            )
            .set_health_check(checked.health_check);
        let family = &inputs.family;
        let request = self
            .0
            .ecs_once(&ctx.region)
            .register_task_definition()
            .family(family)
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu(&inputs.cpu)
            .memory(&inputs.memory)
            .execution_role_arn(&inputs.execution_role_arn)
            .container_definitions(container.build())
            .set_tags(Some(to_sdk::<Tag>(with_identity(ctx, &inputs.tags))));
        let lookup = || async {
            Ok(match latest(&client, family).await? {
                Some((td, tags)) if made_for(ctx, &tags) && registers(&td, inputs) => {
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
            Created::Found(_) => {
                latest(&client, family)
                    .await?
                    .map(|(td, _)| td)
                    .ok_or_else(|| {
                        ProviderError::new(
                            "ecs:DescribeTaskDefinition",
                            format!("family {family}: its new revision is gone"),
                        )
                    })
            }
        }
    }
}

#[async_trait]
impl Kind for TaskDefinition {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let checked = check(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        if let Some((_, tags)) = latest(&client, &inputs.family).await?
            && !made_for(ctx, &tags)
        {
            return Err(ProviderError::new(
                format!("create {}", ctx.address),
                format!(
                    "the task definition family {} in {} has an ACTIVE revision drctl did not register for this address (its {TAG_ADDRESS} tag: {}); deregister its revisions (aws ecs deregister-task-definition) or rename this family",
                    inputs.family,
                    ctx.region,
                    tags.get(TAG_ADDRESS).map_or("none", String::as_str),
                ),
            )
            .with_code("TaskDefinitionExists"));
        }
        let td = self.register(ctx, inputs, checked).await?;
        Ok(Applied {
            id: inputs.family.clone(),
            outputs: outputs(&td),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let client = self.0.ecs(&ctx.region);
        let Some((td, tags)) = latest(&client, id).await? else {
            return Ok(None);
        };
        // Not a shape drctl registers: every setting differs.
        let observed = observed(&td).unwrap_or_else(|| Inputs {
            family: id.to_owned(),
            cpu: String::new(),
            memory: String::new(),
            execution_role_arn: String::new(),
            container_name: String::new(),
            image: String::new(),
            container_port: 0,
            health_check: None,
            tags: Tags::new(),
        });
        Ok(Some(Found {
            inputs: Inputs {
                tags: user_tags(tags),
                ..observed
            },
            outputs: outputs(&td),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let checked = check(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        if let Some((td, _)) = latest(&client, id).await?
            && registers(&td, inputs)
        {
            let arn = td.task_definition_arn().unwrap_or_default();
            retag(&client, arn, &prior.tags, &inputs.tags).await?;
            return Ok(outputs(&td));
        }
        let td = self.register(ctx, inputs, checked).await?;
        let new_arn = td.task_definition_arn().unwrap_or_default();
        let older: Vec<String> = active_revisions(&client, id)
            .await?
            .into_iter()
            .filter(|arn| arn != new_arn)
            .collect();
        retire(&client, &older).await?;
        Ok(outputs(&td))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        check(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        Ok(latest(&client, &inputs.family)
            .await?
            .filter(|(_, tags)| made_for(ctx, tags))
            .map(|_| inputs.family.clone()))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let client = self.0.ecs(&ctx.region);
        // The family's revisions go together: its latest one's tags (what
        // drctl registered last) say whose the family is.
        if let Some((_, tags)) = latest(&client, id).await? {
            let named = Some(inputs.family.as_str()).filter(|f| *f == id);
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

    /// The families with an ACTIVE revision whose latest is tagged (or,
    /// untagged, named) for the environment; deregistered revisions are
    /// gone.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.ecs(&scope.region);
        let mut families: Vec<String> = active_arns(&client, None)
            .await?
            .iter()
            .filter_map(|arn| family_of(arn).map(str::to_owned))
            .collect();
        families.sort();
        families.dedup();
        let mut ids = Vec::new();
        for family in families {
            if let Some((_, tags)) = latest(&client, &family).await?
                && in_env(&scope.env, &tags, Some(&family))
            {
                ids.push(family);
            }
        }
        Ok(ids)
    }
}
