//! `ecs.cluster`: an ECS cluster for Fargate services, with its Container
//! Insights setting. Its id is the name.
//!
//! Inputs: `name`, `container_insights` (`enabled`, `enhanced` or
//! `disabled`), `tags`.
//!
//! Cluster names are unique per region and account, so a create sent
//! again after a lost answer cannot make a second one; AWS answers the
//! repeated CreateCluster with the existing cluster. A create refuses a
//! cluster of that name that drctl did not make for this address. A
//! deleted cluster stays listed as INACTIVE for a while: it reads as gone.
//! AWS refuses to delete a cluster that still has services or tasks
//! (ClusterContainsServicesException / ClusterContainsTasksException); the
//! graph deletes the service first, and delete waits out the moments
//! after a service's deletion while ECS still counts it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::Tag;
use aws_sdk_ecs::types::{Cluster as AwsCluster, ClusterField, ClusterSetting, ClusterSettingName};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::name_input;
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{TAG_ADDRESS, all_items, api_error, attrs, invalid};
use crate::tags::{Tags, from_sdk, in_env, made_for, retag, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new("ecs.cluster", Latency::calls(3, 2, 5))
    .force_new(&["name"])
    .outputs(&["arn", "name"]);

pub struct Cluster(pub(crate) Arc<Clients>);

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    /// `enabled`, `enhanced` or `disabled` (left out: `disabled`); a read
    /// always reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    container_insights: Option<String>,
    #[serde(default)]
    tags: Tags,
}

const INSIGHTS: [&str; 3] = ["enabled", "enhanced", "disabled"];
/// How long a delete waits for ECS to let go of the cluster's services
/// and tasks (a service just deleted drains for a while).
const DELETE_LIMIT: Duration = Duration::from_secs(10 * 60);

/// The Container Insights setting, checked before any call. Cluster
/// names: 1 to 255 letters, digits, `-` and `_` (ECS API Reference,
/// CreateCluster `clusterName`).
fn insights<'a>(ctx: &OpContext, inputs: &'a Inputs) -> Result<&'a str, ProviderError> {
    name_input(ctx, "name", &inputs.name, "a cluster name")?;
    match inputs.container_insights.as_deref() {
        None => Ok("disabled"),
        Some(s) if INSIGHTS.contains(&s) => Ok(s),
        Some(other) => Err(invalid(
            ctx,
            format!(
                "input `container_insights` is {other:?}: use one of {}",
                INSIGHTS.join(", ")
            ),
        )),
    }
}

fn insights_setting(value: &str) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(value)
        .build()
}

fn outputs(c: &AwsCluster) -> Attributes {
    attrs([
        ("arn", json!(c.cluster_arn().unwrap_or_default())),
        ("name", json!(c.cluster_name().unwrap_or_default())),
    ])
}

/// Whether a described cluster is live (ACTIVE or PROVISIONING): a
/// deleted one stays listed as INACTIVE for a while.
fn live(c: &AwsCluster) -> bool {
    c.status() != Some("INACTIVE")
}

/// The live cluster named `name`, with its tags and settings; `None` when
/// there is none or it is INACTIVE.
pub(crate) async fn describe(
    client: &Client,
    name: &str,
) -> Result<Option<AwsCluster>, ProviderError> {
    Ok(describe_all(client, vec![name.to_owned()])
        .await?
        .into_iter()
        .next())
}

/// The live clusters among `clusters` (names or ARNs, at most 100), with
/// their tags and settings.
async fn describe_all(
    client: &Client,
    clusters: Vec<String>,
) -> Result<Vec<AwsCluster>, ProviderError> {
    let out = client
        .describe_clusters()
        .set_clusters(Some(clusters))
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .send()
        .await
        .map_err(|e| api_error("ecs:DescribeClusters", e))?;
    Ok(out.clusters().iter().filter(|c| live(c)).cloned().collect())
}

/// The live clusters of environment `env` in `client`'s region: tagged
/// for it, or named for it.
pub(crate) async fn of_env(client: &Client, env: &str) -> Result<Vec<AwsCluster>, ProviderError> {
    let arns: Vec<String> = all_items(
        client.list_clusters().into_paginator().items().send(),
        "ecs:ListClusters",
    )
    .await?;
    let mut clusters = Vec::new();
    for chunk in arns.chunks(100) {
        for c in describe_all(client, chunk.to_vec()).await? {
            if in_env(env, &from_sdk(c.tags()), c.cluster_name()) {
                clusters.push(c);
            }
        }
    }
    Ok(clusters)
}

#[async_trait]
impl Kind for Cluster {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let insights = insights(ctx, inputs)?;
        let name = &inputs.name;
        let client = self.0.ecs(&ctx.region);
        if let Some(existing) = describe(&client, name).await? {
            let tags = from_sdk(existing.tags());
            if !made_for(ctx, &tags) {
                return Err(ProviderError::new(
                    format!("create {}", ctx.address),
                    format!(
                        "an ECS cluster named {name} already exists in {} and drctl did not create it for this address (its {TAG_ADDRESS} tag: {}); delete it (aws ecs delete-cluster --cluster {name}) or rename this one",
                        ctx.region,
                        tags.get(TAG_ADDRESS).map_or("none", String::as_str),
                    ),
                )
                .with_code("ClusterExists"));
            }
        }
        // Sent again after a lost answer, CreateCluster returns the
        // cluster of that name: the SDK's retries are safe.
        // An unanswered create is looked up (`find`: by name or port and
        // identity tags) before it is sent again.
        let request = self
            .0
            .ecs_once(&ctx.region)
            .create_cluster()
            .cluster_name(name)
            .settings(insights_setting(insights))
            .set_tags(Some(to_sdk::<Tag>(with_identity(ctx, &inputs.tags))));
        let created = create_or_find(self, ctx, inputs, "ecs:CreateCluster", &[], || {
            request.clone().send()
        })
        .await?;
        created
            .applied(self, ctx, inputs, |out| {
                let cluster = out.cluster().ok_or_else(|| {
                    ProviderError::new("ecs:CreateCluster", "no cluster in the response")
                })?;
                Ok(Applied {
                    id: name.clone(),
                    outputs: outputs(cluster),
                })
            })
            .await
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let client = self.0.ecs(&ctx.region);
        let Some(cluster) = describe(&client, id).await? else {
            return Ok(None);
        };
        let insights = cluster
            .settings()
            .iter()
            .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
            .and_then(|s| s.value())
            .unwrap_or("disabled");
        Ok(Some(Found {
            inputs: Inputs {
                name: cluster.cluster_name().unwrap_or(id).to_owned(),
                container_insights: Some(insights.to_owned()),
                tags: user_tags(from_sdk(cluster.tags())),
            },
            outputs: outputs(&cluster),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let insights = insights(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        // UpdateCluster takes the settings too (ECS API Reference).
        if prior.container_insights != inputs.container_insights {
            client
                .update_cluster()
                .cluster(id)
                .settings(insights_setting(insights))
                .send()
                .await
                .map_err(|e| api_error("ecs:UpdateCluster", e))?;
        }
        let cluster = describe(&client, id).await?.ok_or_else(|| {
            ProviderError::new("ecs:DescribeClusters", format!("cluster {id} is gone"))
        })?;
        let arn = cluster.cluster_arn().unwrap_or_default();
        retag(&client, arn, &prior.tags, &inputs.tags).await?;
        Ok(outputs(&cluster))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        insights(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        Ok(describe(&client, &inputs.name)
            .await?
            .filter(|c| made_for(ctx, &from_sdk(c.tags())))
            .map(|_| inputs.name.clone()))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let client = self.0.ecs(&ctx.region);
        let Some(cluster) = describe(&client, id).await? else {
            return Ok(());
        };
        let name = cluster.cluster_name().unwrap_or(id);
        super::confirm_owned(
            ctx,
            &format!("ECS cluster {id}"),
            cluster.tags(),
            name,
            &inputs.name,
        )?;
        crate::support::retry_while(
            DELETE_LIMIT,
            |e| {
                matches!(
                    e.code.as_deref(),
                    Some("ClusterContainsServicesException" | "ClusterContainsTasksException")
                )
            },
            || async {
                match client.delete_cluster().cluster(id).send().await {
                    Ok(_) => Ok(()),
                    Err(e) if crate::support::has_code(&e, &["ClusterNotFoundException"]) => Ok(()),
                    Err(e) => Err(api_error("ecs:DeleteCluster", e)),
                }
            },
        )
        .await
    }

    /// The live clusters tagged (or named) for the environment, by name.
    async fn list(&self, scope: &ListScope) -> Listed {
        let clusters = of_env(&self.0.ecs(&scope.region), &scope.env).await?;
        Ok(clusters
            .iter()
            .filter_map(|c| c.cluster_name().map(str::to_owned))
            .collect())
    }
}
