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
use aws_sdk_ecs::types::{Cluster as AwsCluster, ClusterField, ClusterSetting, ClusterSettingName};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use super::{ecs_tags, is_ours, sync_tags, tag_map};
use crate::clients::Clients;
use crate::support::{
    Created, TAG_ADDRESS, adopt, all_tags, api_error, attrs, create_once, invalid, observed_tags,
    only_known_inputs,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "ecs.cluster",
    force_new: &["name"],
    outputs: &["arn", "name"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(3, 2, 5),
};

pub struct Cluster(pub(crate) Arc<Clients>);

const KEYS: [&str; 3] = ["name", "container_insights", "tags"];
const INSIGHTS: [&str; 3] = ["enabled", "enhanced", "disabled"];
/// How long a delete waits for ECS to let go of the cluster's services
/// and tasks (a service just deleted drains for a while).
const DELETE_LIMIT: Duration = Duration::from_secs(10 * 60);

struct Config {
    name: String,
    insights: String,
}

/// Cluster names: 1 to 255 letters, digits, `-` and `_` (ECS API
/// Reference, CreateCluster `clusterName`).
fn config(ctx: &OpContext, inputs: &Attributes) -> Result<Config, ProviderError> {
    only_known_inputs(ctx, inputs, &KEYS, "an ECS cluster")?;
    let name = match inputs.get("name").and_then(Json::as_str) {
        Some(n)
            if (1..=255).contains(&n.len())
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            n.to_owned()
        }
        other => {
            return Err(invalid(
                ctx,
                format!(
                    "input `name` is {other:?}: a cluster name is 1 to 255 letters, digits, `-` or `_`"
                ),
            ));
        }
    };
    let insights = match inputs.get("container_insights") {
        None => "disabled".to_owned(),
        Some(Json::String(s)) if INSIGHTS.contains(&s.as_str()) => s.clone(),
        Some(other) => {
            return Err(invalid(
                ctx,
                format!(
                    "input `container_insights` is {other}: use one of {}",
                    INSIGHTS.join(", ")
                ),
            ));
        }
    };
    Ok(Config { name, insights })
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

/// The live (ACTIVE or PROVISIONING) cluster named `name`, with its tags
/// and settings; `None` when there is none or it is INACTIVE.
pub(crate) async fn describe(
    client: &Client,
    name: &str,
) -> Result<Option<AwsCluster>, ProviderError> {
    let out = client
        .describe_clusters()
        .clusters(name)
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .send()
        .await
        .map_err(|e| api_error("ecs:DescribeClusters", e))?;
    Ok(out
        .clusters()
        .iter()
        .find(|c| c.status() != Some("INACTIVE"))
        .cloned())
}

#[async_trait]
impl Provider for Cluster {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        if let Some(existing) = describe(&client, &config.name).await? {
            let tags = tag_map(existing.tags());
            if !is_ours(ctx, &tags) {
                return Err(ProviderError::new(
                    format!("create {}", ctx.address),
                    format!(
                        "an ECS cluster named {} already exists in {} and drctl did not create it for this address (its {TAG_ADDRESS} tag: {}); delete it (aws ecs delete-cluster --cluster {}) or rename this one",
                        config.name,
                        ctx.region,
                        tags.get(TAG_ADDRESS).map_or("none", String::as_str),
                        config.name
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
            .cluster_name(&config.name)
            .settings(insights_setting(&config.insights))
            .set_tags(Some(ecs_tags(all_tags(ctx, inputs))));
        let created = create_once(
            "ecs:CreateCluster",
            &[],
            || request.clone().send(),
            || self.find(ctx, inputs),
        )
        .await?;
        let out = match created {
            Created::Sent(out) => out,
            Created::Found(id) => return adopt(self, ctx, id, inputs).await,
        };
        let cluster = out
            .cluster()
            .ok_or_else(|| ProviderError::new("ecs:CreateCluster", "no cluster in the response"))?;
        Ok(Applied {
            id: config.name.clone(),
            outputs: outputs(cluster),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
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
        Ok(Some(Observed {
            inputs: attrs([
                ("name", json!(cluster.cluster_name().unwrap_or(id))),
                ("container_insights", json!(insights)),
                ("tags", observed_tags(tag_map(cluster.tags()))),
            ]),
            outputs: outputs(&cluster),
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
        // UpdateCluster takes the settings too (ECS API Reference).
        if prior.get("container_insights") != inputs.get("container_insights") {
            client
                .update_cluster()
                .cluster(id)
                .settings(insights_setting(&config.insights))
                .send()
                .await
                .map_err(|e| api_error("ecs:UpdateCluster", e))?;
        }
        let cluster = describe(&client, id).await?.ok_or_else(|| {
            ProviderError::new("ecs:DescribeClusters", format!("cluster {id} is gone"))
        })?;
        sync_tags(
            &client,
            cluster.cluster_arn().unwrap_or_default(),
            prior,
            inputs,
        )
        .await?;
        Ok(outputs(&cluster))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let config = config(ctx, inputs)?;
        let client = self.0.ecs(&ctx.region);
        Ok(describe(&client, &config.name)
            .await?
            .filter(|c| is_ours(ctx, &tag_map(c.tags())))
            .map(|_| config.name))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
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
            inputs,
            "name",
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
}
