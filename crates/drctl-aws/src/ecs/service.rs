//! `ecs.service`: a Fargate service behind an ALB target group, in awsvpc
//! mode without public IPs. Its id is the service ARN.
//!
//! Inputs: `name`, `cluster` (the cluster's ARN), `task_definition` (a
//! revision's ARN), `desired_count`, `subnet_ids`, `security_group_ids`,
//! `target_group_arn`, `container_name`, `container_port`,
//! `health_check_grace_period_seconds`, `tags`.
//!
//! CreateService carries the create's idempotency token as `clientToken`
//! (ECS API Reference, CreateService): sent again after a lost answer, it
//! returns the service the first call made. ECS refuses a service whose
//! target group has no load balancer, so the blueprint makes it depend on
//! the listener. Create and update wait for the services-stable state of
//! the AWS CLI's waiter (one deployment, as many tasks running as
//! desired), failing early on a failed rollout.
//!
//! Delete scales the service to zero and waits until its tasks have
//! stopped (a Fargate task's network interface is released when it
//! stops), deletes it, and waits until it is INACTIVE, so the subnets and
//! security groups the graph deletes next are free.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::Tag;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DesiredStatus, LaunchType, LoadBalancer,
    NetworkConfiguration, Service as AwsService, ServiceField,
};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{int_in, name_input};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{api_error, attrs, create_token, found_items, invalid, wait_for};
use crate::tags::{Tags, from_sdk, made_for, retag, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new(
    "ecs.service",
    Latency {
        create: 240,
        update: 240,
        delete: 180,
        basis: "steady state: Fargate tasks pulled, started and healthy behind the target group; delete drains (TF 20 min)",
    },
)
.force_new(&[
    "name",
    "cluster",
    "target_group_arn",
    "container_name",
    "container_port",
])
.outputs(&["arn", "name"]);

pub struct Service(pub(crate) Arc<Clients>);

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    /// The cluster's ARN.
    cluster: String,
    /// A revision's ARN.
    task_definition: String,
    desired_count: i64,
    /// Sorted by a read; the call takes them sorted too.
    subnet_ids: Vec<String>,
    security_group_ids: Vec<String>,
    target_group_arn: String,
    container_name: String,
    container_port: i64,
    health_check_grace_period_seconds: i64,
    #[serde(default)]
    tags: Tags,
}

/// How long a create or update waits for the service to be stable: new
/// Fargate tasks pull their image and pass the target group's health
/// checks within minutes (the Terraform AWS provider waits up to 20).
const STABLE_LIMIT: Duration = Duration::from_secs(15 * 60);
/// How long a delete waits for the tasks to stop and the service to go
/// INACTIVE: the target group's deregistration delay comes first.
const DRAIN_LIMIT: Duration = Duration::from_secs(15 * 60);
const NOT_FOUND: &[&str] = &[
    "ServiceNotFoundException",
    "ServiceNotActiveException",
    "ClusterNotFoundException",
];

/// The inputs as the calls take them, checked before any call.
#[derive(Clone, Debug, PartialEq)]
struct Config {
    desired_count: i32,
    subnet_ids: Vec<String>,
    security_group_ids: Vec<String>,
    container_port: i32,
    grace_period: i32,
}

fn config(ctx: &OpContext, inputs: &Inputs) -> Result<Config, ProviderError> {
    let non_empty = |key: &str, value: &str| -> Result<(), ProviderError> {
        if value.is_empty() {
            return Err(invalid(
                ctx,
                format!("input `{key}` must be a non-empty string"),
            ));
        }
        Ok(())
    };
    let strings = |key: &str, list: &[String], most: usize| -> Result<Vec<String>, ProviderError> {
        if !(1..=most).contains(&list.len()) {
            return Err(invalid(
                ctx,
                format!("input `{key}` must be a list of 1 to {most} ids"),
            ));
        }
        let mut l = list.to_vec();
        l.sort();
        Ok(l)
    };
    name_input(ctx, "name", &inputs.name, "a service name")?;
    non_empty("cluster", &inputs.cluster)?;
    non_empty("container_name", &inputs.container_name)?;
    let task_definition = &inputs.task_definition;
    if !task_definition.contains(":task-definition/") {
        return Err(invalid(
            ctx,
            format!(
                "input `task_definition` is {task_definition:?}: give a revision's ARN (the task definition's `arn` output)"
            ),
        ));
    }
    let target_group_arn = &inputs.target_group_arn;
    if !target_group_arn.contains(":targetgroup/") {
        return Err(invalid(
            ctx,
            format!("input `target_group_arn` is {target_group_arn:?}, not a target group ARN"),
        ));
    }
    Ok(Config {
        // ECS API Reference, CreateService: awsvpc takes up to 16 subnets
        // and 5 security groups.
        desired_count: int_in(ctx, "desired_count", inputs.desired_count, 0..=5000)?,
        subnet_ids: strings("subnet_ids", &inputs.subnet_ids, 16)?,
        security_group_ids: strings("security_group_ids", &inputs.security_group_ids, 5)?,
        container_port: int_in(ctx, "container_port", inputs.container_port, 1..=65535)?,
        grace_period: int_in(
            ctx,
            "health_check_grace_period_seconds",
            inputs.health_check_grace_period_seconds,
            0..=2_147_483_647,
        )?,
    })
}

fn network(config: &Config) -> Result<NetworkConfiguration, ProviderError> {
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(config.subnet_ids.clone()))
                .set_security_groups(Some(config.security_group_ids.clone()))
                // Private subnets: the tasks reach the internet through
                // the NAT gateway, and only the ALB reaches them.
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .map_err(|e| ProviderError::new("ecs:AwsVpcConfiguration", e.to_string()))?,
        )
        .build())
}

fn outputs(s: &AwsService) -> Attributes {
    attrs([
        ("arn", json!(s.service_arn().unwrap_or_default())),
        ("name", json!(s.service_name().unwrap_or_default())),
    ])
}

/// The service `service` (name or ARN) of `cluster`, whatever its status;
/// `None` when ECS does not know it.
async fn describe(
    client: &Client,
    cluster: &str,
    service: &str,
) -> Result<Option<AwsService>, ProviderError> {
    Ok(describe_all(client, cluster, vec![service.to_owned()])
        .await?
        .into_iter()
        .next())
}

/// The services among `services` (names or ARNs, at most 10) of
/// `cluster`, whatever their status; none when the cluster is gone.
async fn describe_all(
    client: &Client,
    cluster: &str,
    services: Vec<String>,
) -> Result<Vec<AwsService>, ProviderError> {
    let result = client
        .describe_services()
        .cluster(cluster)
        .set_services(Some(services))
        .include(ServiceField::Tags)
        .send()
        .await;
    let out = match result {
        Ok(out) => out,
        Err(e) if crate::support::has_code(&e, &["ClusterNotFoundException"]) => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(api_error("ecs:DescribeServices", e)),
    };
    Ok(out.services().to_vec())
}

fn active(s: &AwsService) -> bool {
    s.status() == Some("ACTIVE")
}

/// The cluster named in a service ARN (`...:service/<cluster>/<name>`),
/// for a read, which gets the id only.
fn cluster_of(arn: &str) -> Option<&str> {
    let path = arn.split_once(":service/")?.1;
    path.split_once('/').map(|(cluster, _)| cluster)
}

/// The cluster a service is in: the `cluster` input state records, else
/// the one its ARN names.
fn cluster_for<'a>(
    ctx: &OpContext,
    id: &'a str,
    inputs: &'a Inputs,
    action: &str,
) -> Result<&'a str, ProviderError> {
    Some(inputs.cluster.as_str())
        .filter(|c| !c.is_empty())
        .or_else(|| cluster_of(id))
        .ok_or_else(|| invalid(ctx, format!("service {id}: no cluster to {action}")))
}

impl Service {
    /// Waits for the services-stable state: ACTIVE, one deployment, as
    /// many tasks running as desired; a failed rollout fails at once.
    async fn wait_stable(
        &self,
        client: &Client,
        cluster: &str,
        arn: &str,
    ) -> Result<AwsService, ProviderError> {
        wait_for(&format!("service {arn} stable"), STABLE_LIMIT, || async {
            let Some(s) = describe(client, cluster, arn).await? else {
                return Err(ProviderError::new(
                    "ecs:DescribeServices",
                    format!("service {arn} disappeared while waiting for it to be stable"),
                ));
            };
            if !active(&s) {
                return Err(ProviderError::new(
                    "ecs:DescribeServices",
                    format!(
                        "service {arn} is {} while waiting for it to be stable",
                        s.status().unwrap_or("?")
                    ),
                ));
            }
            if let Some(failed) = s.deployments().iter().find(|d| {
                d.rollout_state() == Some(&aws_sdk_ecs::types::DeploymentRolloutState::Failed)
            }) {
                return Err(ProviderError::new(
                    "ecs:DescribeServices",
                    format!(
                        "service {arn}: deployment {} failed: {}",
                        failed.id().unwrap_or("?"),
                        failed.rollout_state_reason().unwrap_or("no reason given")
                    ),
                )
                .with_code("DeploymentFailed"));
            }
            let deployments = s.deployments().len();
            if deployments == 1 && s.running_count() == s.desired_count() {
                Ok(Ok(s))
            } else {
                Ok(Err(format!(
                    "{deployments} deployment(s), {} of {} tasks running",
                    s.running_count(),
                    s.desired_count()
                )))
            }
        })
        .await
    }

    /// Waits until the service's tasks have stopped, not only left
    /// RUNNING: a Fargate task holds its network interface until STOPPED.
    async fn wait_tasks_stopped(
        &self,
        client: &Client,
        cluster: &str,
        name: &str,
    ) -> Result<(), ProviderError> {
        wait_for(
            &format!("tasks of service {name} stopped"),
            DRAIN_LIMIT,
            || async {
                let mut task_arns = Vec::new();
                for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
                    let result = client
                        .list_tasks()
                        .cluster(cluster)
                        .service_name(name)
                        .desired_status(status)
                        .send()
                        .await;
                    match result {
                        Ok(out) => task_arns.extend(out.task_arns().iter().cloned()),
                        Err(e) if crate::support::has_code(&e, NOT_FOUND) => return Ok(Ok(())),
                        Err(e) => return Err(api_error("ecs:ListTasks", e)),
                    }
                }
                let mut running = 0;
                for chunk in task_arns.chunks(100) {
                    let out = client
                        .describe_tasks()
                        .cluster(cluster)
                        .set_tasks(Some(chunk.to_vec()))
                        .send()
                        .await
                        .map_err(|e| api_error("ecs:DescribeTasks", e))?;
                    running += out
                        .tasks()
                        .iter()
                        .filter(|t| t.last_status() != Some("STOPPED"))
                        .count();
                }
                Ok(if running == 0 {
                    Ok(())
                } else {
                    Err(format!("{running} task(s) not stopped"))
                })
            },
        )
        .await
    }
}

#[async_trait]
impl Kind for Service {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let config = config(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        let load_balancer = LoadBalancer::builder()
            .target_group_arn(&inputs.target_group_arn)
            .container_name(&inputs.container_name)
            .container_port(config.container_port)
            .build();
        // The same token on every resend of this create: ECS returns the
        // service the first call made instead of refusing the name.
        // An unanswered create is looked up (`find`: by name or port and
        // identity tags) before it is sent again.
        let request = self
            .0
            .ecs_once(&ctx.region)
            .create_service()
            .cluster(&inputs.cluster)
            .service_name(&inputs.name)
            .task_definition(&inputs.task_definition)
            .desired_count(config.desired_count)
            .launch_type(LaunchType::Fargate)
            .network_configuration(network(&config)?)
            .load_balancers(load_balancer)
            .health_check_grace_period_seconds(config.grace_period)
            .client_token(create_token(ctx))
            .set_tags(Some(to_sdk::<Tag>(with_identity(ctx, &inputs.tags))));
        let created = create_or_find(self, ctx, inputs, "ecs:CreateService", &[], || {
            request.clone().send()
        })
        .await?;
        let arn = created.id("ecs:CreateService", "service", |out| {
            out.service().and_then(|s| s.service_arn())
        })?;
        let service = self.wait_stable(&client, &inputs.cluster, &arn).await?;
        Ok(Applied {
            id: arn,
            outputs: outputs(&service),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let client = self.0.ecs(&ctx.region);
        let cluster = cluster_for(ctx, id, prior, "describe it in")?;
        let Some(s) = describe(&client, cluster, id).await?.filter(active) else {
            return Ok(None);
        };
        let vpc = s
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration());
        let mut subnet_ids = vpc.map(|v| v.subnets().to_vec()).unwrap_or_default();
        let mut security_group_ids = vpc
            .map(|v| v.security_groups().to_vec())
            .unwrap_or_default();
        subnet_ids.sort();
        security_group_ids.sort();
        let lb = s.load_balancers().first();
        let string = |v: Option<&str>| v.unwrap_or_default().to_owned();
        Ok(Some(Found {
            inputs: Inputs {
                name: string(s.service_name()),
                cluster: string(s.cluster_arn()),
                task_definition: string(s.task_definition()),
                desired_count: s.desired_count().into(),
                subnet_ids,
                security_group_ids,
                target_group_arn: string(lb.and_then(|l| l.target_group_arn())),
                container_name: string(lb.and_then(|l| l.container_name())),
                container_port: lb.and_then(|l| l.container_port()).unwrap_or(0).into(),
                health_check_grace_period_seconds: s
                    .health_check_grace_period_seconds()
                    .unwrap_or(0)
                    .into(),
                tags: user_tags(from_sdk(s.tags())),
            },
            outputs: outputs(&s),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let config = config(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        // What UpdateService changes in place.
        let settings = |i: &Inputs| {
            (
                i.task_definition.clone(),
                i.desired_count,
                i.subnet_ids.clone(),
                i.security_group_ids.clone(),
                i.health_check_grace_period_seconds,
            )
        };
        if settings(prior) != settings(inputs) {
            client
                .update_service()
                .cluster(&inputs.cluster)
                .service(id)
                .task_definition(&inputs.task_definition)
                .desired_count(config.desired_count)
                .network_configuration(network(&config)?)
                .health_check_grace_period_seconds(config.grace_period)
                .send()
                .await
                .map_err(|e| api_error("ecs:UpdateService", e))?;
        }
        retag(&client, id, &prior.tags, &inputs.tags).await?;
        let service = self.wait_stable(&client, &inputs.cluster, id).await?;
        Ok(outputs(&service))
    }

    /// Service names are unique per cluster: the ACTIVE service of this
    /// name, if it carries this address's identity tags.
    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        config(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        Ok(describe(&client, &inputs.cluster, &inputs.name)
            .await?
            .filter(|s| active(s) && made_for(ctx, &from_sdk(s.tags())))
            .and_then(|s| s.service_arn().map(str::to_owned)))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let client = self.0.ecs(&ctx.region);
        let cluster = cluster_for(ctx, id, inputs, "delete it from")?;
        let Some(service) = describe(&client, cluster, id).await? else {
            return Ok(());
        };
        let name = service.service_name().unwrap_or_default().to_owned();
        if active(&service) {
            super::confirm_owned(
                ctx,
                &format!("ECS service {id}"),
                service.tags(),
                &name,
                &inputs.name,
            )?;
            // DeleteService refuses a service scaled above zero (without
            // `force`, which would leave its tasks to stop on their own).
            let result = client
                .update_service()
                .cluster(cluster)
                .service(id)
                .desired_count(0)
                .send()
                .await;
            crate::support::tolerate(result, NOT_FOUND, "ecs:UpdateService")?;
            self.wait_tasks_stopped(&client, cluster, &name).await?;
            let result = client
                .delete_service()
                .cluster(cluster)
                .service(id)
                .send()
                .await;
            crate::support::tolerate(result, NOT_FOUND, "ecs:DeleteService")?;
        }
        // DRAINING until ECS has let go of it, then INACTIVE.
        wait_for(&format!("service {id} inactive"), DRAIN_LIMIT, || async {
            Ok(match describe(&client, cluster, id).await? {
                Some(s) if s.status() != Some("INACTIVE") => {
                    Err(s.status().unwrap_or("?").to_owned())
                }
                _ => Ok(()),
            })
        })
        .await?;
        self.wait_tasks_stopped(&client, cluster, &name).await
    }

    /// The services (ACTIVE or DRAINING) of the environment's clusters:
    /// a service is its cluster's.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.ecs(&scope.region);
        let mut ids = Vec::new();
        for cluster in super::cluster::of_env(&client, &scope.env).await? {
            let arn = cluster.cluster_arn().unwrap_or_default();
            let call = client.list_services().cluster(arn);
            let listed = call.into_paginator().items().send();
            // A cluster deleted since it was listed has no services.
            let Some(listed) = found_items(listed, NOT_FOUND, "ecs:ListServices").await? else {
                continue;
            };
            for chunk in listed.chunks(10) {
                let services = describe_all(&client, arn, chunk.to_vec()).await?;
                ids.extend(
                    services
                        .iter()
                        .filter(|s| s.status() != Some("INACTIVE"))
                        .filter_map(|s| s.service_arn().map(str::to_owned)),
                );
            }
        }
        Ok(ids)
    }
}
