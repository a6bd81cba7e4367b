//! `elbv2.load_balancer`: an application load balancer. Its id is the ARN.
//!
//! Inputs: `name` (at most 32 letters, digits and `-`), `scheme`
//! (`internet-facing` or `internal`), `subnet_ids` (two or more, in
//! different zones), `security_group_ids`, `tags`. Outputs: `arn`,
//! `arn_suffix` (`app/<name>/<id>`, the CloudWatch dimension),
//! `dns_name`, `zone_id`.
//!
//! CreateLoadBalancer is idempotent by name: "If you attempt to create
//! multiple load balancers with the same name and settings, each call
//! succeeds" (ELB API Reference, CreateLoadBalancer), so the SDK's retries
//! after a lost answer return the first one; a create refuses an ALB of
//! that name that drctl did not make for this address. Create waits for
//! `active`; delete waits until the ALB is gone. AWS releases the ALB's
//! network interfaces minutes after that: the security group and subnet
//! deletes that follow retry DependencyViolation (`ec2::delete_when_unused`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::Tag;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer as AwsLoadBalancer, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum,
};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Described, Key, arn_suffix, find_named, id_list, list_named, refuse_taken, tags_of};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{all_items, api_error, attrs, found, invalid, wait_for};
use crate::tags::{Tags, retag, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new(
    "elbv2.load_balancer",
    Latency {
        create: 180,
        update: 2,
        delete: 30,
        basis: "active after 2-4 min (TF 10 min)",
    },
)
.force_new(&["name", "scheme"])
.outputs(&["arn", "arn_suffix", "dns_name", "zone_id"]);

pub struct LoadBalancer(pub(crate) Arc<Clients>);

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    /// `internet-facing` or `internal`.
    scheme: String,
    /// Two or more, in different zones; sorted by a read.
    subnet_ids: Vec<String>,
    security_group_ids: Vec<String>,
    #[serde(default)]
    tags: Tags,
}
const NOT_FOUND: &[&str] = &["LoadBalancerNotFound"];
/// An ALB is usually active within a few minutes (the Terraform AWS
/// provider waits up to 10).
const ACTIVE_LIMIT: Duration = Duration::from_secs(10 * 60);
const DELETE_LIMIT: Duration = Duration::from_secs(10 * 60);

/// ELB API Reference, CreateLoadBalancer `Name`: at most 32 characters,
/// letters, digits and hyphens, not starting or ending with a hyphen, not
/// starting with `internal-`.
pub fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.starts_with("internal-")
}

/// The inputs as the calls take them, checked before any call.
struct Config {
    scheme: LoadBalancerSchemeEnum,
    subnet_ids: Vec<String>,
    security_group_ids: Vec<String>,
}

fn config(ctx: &OpContext, inputs: &Inputs) -> Result<Config, ProviderError> {
    let name = &inputs.name;
    if !valid_name(name) {
        return Err(invalid(
            ctx,
            format!(
                "input `name` is {name:?}: a load balancer name is 1 to 32 letters, digits or `-`, not starting or ending with `-` nor starting with `internal-`"
            ),
        ));
    }
    let scheme = match inputs.scheme.as_str() {
        "internet-facing" => LoadBalancerSchemeEnum::InternetFacing,
        "internal" => LoadBalancerSchemeEnum::Internal,
        other => {
            return Err(invalid(
                ctx,
                format!("input `scheme` is {other:?}: use `internet-facing` or `internal`"),
            ));
        }
    };
    // An application load balancer needs subnets in two zones at least.
    Ok(Config {
        scheme,
        subnet_ids: id_list(ctx, "subnet_ids", &inputs.subnet_ids, 2)?,
        security_group_ids: id_list(ctx, "security_group_ids", &inputs.security_group_ids, 1)?,
    })
}

fn outputs(lb: &AwsLoadBalancer) -> Attributes {
    let arn = lb.load_balancer_arn().unwrap_or_default();
    attrs([
        ("arn", json!(arn)),
        ("arn_suffix", json!(arn_suffix(arn))),
        ("dns_name", json!(lb.dns_name().unwrap_or_default())),
        (
            "zone_id",
            json!(lb.canonical_hosted_zone_id().unwrap_or_default()),
        ),
    ])
}

#[async_trait]
impl Described for AwsLoadBalancer {
    fn arn(&self) -> Option<&str> {
        self.load_balancer_arn()
    }
    fn name(&self) -> Option<&str> {
        self.load_balancer_name()
    }
    async fn describe(client: &Client, key: Key<'_>) -> Result<Option<Self>, ProviderError> {
        let request = client.describe_load_balancers();
        let request = match key {
            Key::Name(name) => request.names(name),
            Key::Arn(arn) => request.load_balancer_arns(arn),
        };
        let found = found(request.send().await, NOT_FOUND, DESCRIBE)?;
        Ok(found.and_then(|out| out.load_balancers().first().cloned()))
    }
    async fn all(client: &Client) -> Result<Vec<Self>, ProviderError> {
        let pages = client.describe_load_balancers().into_paginator();
        all_items(pages.items().send(), DESCRIBE).await
    }
}

const DESCRIBE: &str = "elasticloadbalancing:DescribeLoadBalancers";

async fn by_arn(client: &Client, arn: &str) -> Result<Option<AwsLoadBalancer>, ProviderError> {
    AwsLoadBalancer::describe(client, Key::Arn(arn)).await
}

impl LoadBalancer {
    async fn wait_active(
        &self,
        client: &Client,
        arn: &str,
    ) -> Result<AwsLoadBalancer, ProviderError> {
        wait_for(
            &format!("load balancer {arn} active"),
            ACTIVE_LIMIT,
            || async {
                let Some(lb) = by_arn(client, arn).await? else {
                    return Ok(Err("not found".to_owned()));
                };
                let state = lb.state().and_then(|s| s.code());
                match state {
                    Some(LoadBalancerStateEnum::Active) => Ok(Ok(lb)),
                    Some(LoadBalancerStateEnum::Failed | LoadBalancerStateEnum::ActiveImpaired) => {
                        Err(ProviderError::new(
                            "elasticloadbalancing:DescribeLoadBalancers",
                            format!(
                                "load balancer {arn} is {}: {}",
                                state.map_or("?", |s| s.as_str()),
                                lb.state()
                                    .and_then(|s| s.reason())
                                    .unwrap_or("no reason given")
                            ),
                        ))
                    }
                    other => Ok(Err(other.map_or("in no state", |s| s.as_str()).to_owned())),
                }
            },
        )
        .await
    }
}

#[async_trait]
impl Kind for LoadBalancer {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let config = config(ctx, inputs)?;
        let name = &inputs.name;
        let client = self.0.elbv2(&ctx.region);
        let existing = AwsLoadBalancer::describe(&client, Key::Name(name)).await?;
        refuse_taken(
            &client,
            ctx,
            ("a load balancer named", name),
            existing.as_ref().and_then(|lb| lb.load_balancer_arn()),
            |arn| format!("delete it (aws elbv2 delete-load-balancer --load-balancer-arn {arn}) or rename this one"),
        )
        .await?;
        // An unanswered create is looked up (`find`: by name or port and
        // identity tags) before it is sent again.
        let request = self
            .0
            .elbv2_once(&ctx.region)
            .create_load_balancer()
            .name(name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(config.scheme)
            .ip_address_type(IpAddressType::Ipv4)
            .set_subnets(Some(config.subnet_ids))
            .set_security_groups(Some(config.security_group_ids))
            .set_tags(Some(to_sdk::<Tag>(with_identity(ctx, &inputs.tags))));
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "elasticloadbalancing:CreateLoadBalancer",
            &[],
            || request.clone().send(),
        )
        .await?;
        let arn = created.id(
            "elasticloadbalancing:CreateLoadBalancer",
            "load balancer",
            |out| {
                out.load_balancers()
                    .first()
                    .and_then(|lb| lb.load_balancer_arn())
            },
        )?;
        let lb = self.wait_active(&client, &arn).await?;
        Ok(Applied {
            id: arn,
            outputs: outputs(&lb),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let client = self.0.elbv2(&ctx.region);
        let Some(lb) = by_arn(&client, id).await? else {
            return Ok(None);
        };
        let Some(tags) = tags_of(&client, id).await? else {
            return Ok(None);
        };
        let mut subnet_ids: Vec<String> = lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id().map(str::to_owned))
            .collect();
        subnet_ids.sort();
        let mut security_group_ids = lb.security_groups().to_vec();
        security_group_ids.sort();
        Ok(Some(Found {
            inputs: Inputs {
                name: lb.load_balancer_name().unwrap_or_default().to_owned(),
                scheme: lb.scheme().map_or("", |s| s.as_str()).to_owned(),
                subnet_ids,
                security_group_ids,
                tags: user_tags(tags),
            },
            outputs: outputs(&lb),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let config = config(ctx, inputs)?;
        let client = self.0.elbv2(&ctx.region);
        if prior.subnet_ids != inputs.subnet_ids {
            client
                .set_subnets()
                .load_balancer_arn(id)
                .set_subnets(Some(config.subnet_ids))
                .send()
                .await
                .map_err(|e| api_error("elasticloadbalancing:SetSubnets", e))?;
        }
        if prior.security_group_ids != inputs.security_group_ids {
            client
                .set_security_groups()
                .load_balancer_arn(id)
                .set_security_groups(Some(config.security_group_ids))
                .send()
                .await
                .map_err(|e| api_error("elasticloadbalancing:SetSecurityGroups", e))?;
        }
        retag(&client, id, &prior.tags, &inputs.tags).await?;
        let lb = self.wait_active(&client, id).await?;
        Ok(outputs(&lb))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        config(ctx, inputs)?;
        find_named::<AwsLoadBalancer>(&self.0.elbv2(&ctx.region), ctx, &inputs.name).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let client = self.0.elbv2(&ctx.region);
        if !super::confirm_owned(&client, ctx, "load balancer", id).await? {
            return Ok(());
        }
        // Deleting an ALB that is gone succeeds (ELB API Reference,
        // DeleteLoadBalancer); its listeners go with it.
        let result = client
            .delete_load_balancer()
            .load_balancer_arn(id)
            .send()
            .await;
        crate::support::tolerate(result, NOT_FOUND, "elasticloadbalancing:DeleteLoadBalancer")?;
        wait_for(
            &format!("load balancer {id} deleted"),
            DELETE_LIMIT,
            || async {
                Ok(match by_arn(&client, id).await? {
                    None => Ok(()),
                    Some(lb) => Err(lb
                        .state()
                        .and_then(|s| s.code())
                        .map_or("still listed", |s| s.as_str())
                        .to_owned()),
                })
            },
        )
        .await
    }

    /// The load balancers tagged (or, untagged, named) for the
    /// environment; a deleted one is no longer described.
    async fn list(&self, scope: &ListScope) -> Listed {
        list_named::<AwsLoadBalancer>(&self.0.elbv2(&scope.region), &scope.env).await
    }
}
