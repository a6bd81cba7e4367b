//! `ec2.security_group`: a security group with its rules inline.
//!
//! Rules are maps keyed by name: `{"postgres-from-lambda": {"protocol":
//! "tcp", "from_port": 5432, "to_port": 5432, "source_security_group_id":
//! "sg-..."}}`. The name is stored as the rule's AWS description, so a read
//! maps rules back to their names; a rule added out of band shows up as
//! `unmanaged-...` and is revoked by the next apply.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{self, IpPermission, IpRange, ResourceType, UserIdGroupPair};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Map, Value as Json, json};

use super::lookup::{describe_id, ec2_resource, find_one, owned};
use super::{sync_tags, tag_spec, tags_json};
use crate::clients::Clients;
use crate::support::{attrs, create_once, invalid, req_str, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "ec2.security_group",
    force_new: &["name", "description", "vpc_id"],
    outputs: &["security_group_id"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency {
        create: 2,
        update: 2,
        delete: 2,
        basis: "the functions' group: see FUNCTION_ENI_RELEASE",
    },
};

pub struct SecurityGroup(pub(crate) Arc<Clients>);

const NOT_FOUND: &[&str] = &["InvalidGroup.NotFound", "InvalidGroupId.NotFound"];

ec2_resource! {
    types::SecurityGroup, "ec2:DescribeSecurityGroups", NOT_FOUND,
    describe_security_groups, set_group_ids, set_filters, security_groups, group_id
}
const UNMANAGED: &str = "unmanaged-";

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn key(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

fn rules(inputs: &Attributes, dir: Direction) -> BTreeMap<String, Json> {
    inputs
        .get(dir.key())
        .and_then(Json::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The AWS form of one named rule.
fn permission(ctx: &OpContext, name: &str, rule: &Json) -> Result<IpPermission, ProviderError> {
    let protocol = rule
        .get("protocol")
        .and_then(Json::as_str)
        .ok_or_else(|| invalid(ctx, format!("rule `{name}` needs a `protocol`")))?;
    let description = (!name.starts_with(UNMANAGED)).then(|| name.to_owned());
    let mut p = IpPermission::builder().ip_protocol(protocol);
    if protocol != "-1" {
        let port = |k: &str| {
            rule.get(k)
                .and_then(Json::as_i64)
                .map(|n| n as i32)
                .ok_or_else(|| invalid(ctx, format!("rule `{name}` needs `{k}`")))
        };
        p = p.from_port(port("from_port")?).to_port(port("to_port")?);
    }
    match (
        rule.get("cidr_block").and_then(Json::as_str),
        rule.get("source_security_group_id").and_then(Json::as_str),
    ) {
        (Some(cidr), None) => {
            p = p.ip_ranges(
                IpRange::builder()
                    .cidr_ip(cidr)
                    .set_description(description)
                    .build(),
            );
        }
        (None, Some(group)) => {
            p = p.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(group)
                    .set_description(description)
                    .build(),
            );
        }
        _ => {
            return Err(invalid(
                ctx,
                format!(
                    "rule `{name}` needs exactly one of `cidr_block`, `source_security_group_id`"
                ),
            ));
        }
    }
    Ok(p.build())
}

/// Named rules from AWS's grouped permissions.
fn observed_rules(perms: &[IpPermission]) -> Json {
    let mut out = Map::new();
    for p in perms {
        let protocol = p.ip_protocol().unwrap_or("-1");
        let (from, to) = if protocol == "-1" {
            (0, 0)
        } else {
            (p.from_port().unwrap_or(0), p.to_port().unwrap_or(0))
        };
        let mut add = |source_key: &str, source: &str, description: Option<&str>| {
            let name = match description {
                Some(d) if !d.is_empty() => d.to_owned(),
                _ => format!("{UNMANAGED}{protocol}-{from}-{to}-{source}"),
            };
            out.insert(
                name,
                json!({"protocol": protocol, "from_port": from, "to_port": to, source_key: source}),
            );
        };
        for r in p.ip_ranges() {
            add(
                "cidr_block",
                r.cidr_ip().unwrap_or_default(),
                r.description(),
            );
        }
        for g in p.user_id_group_pairs() {
            add(
                "source_security_group_id",
                g.group_id().unwrap_or_default(),
                g.description(),
            );
        }
    }
    Json::Object(out)
}

async fn authorize(
    client: &Client,
    ctx: &OpContext,
    id: &str,
    dir: Direction,
    name: &str,
    rule: &Json,
) -> Result<(), ProviderError> {
    let perm = permission(ctx, name, rule)?;
    let duplicate = &["InvalidPermission.Duplicate"];
    match dir {
        Direction::Ingress => tolerate(
            client
                .authorize_security_group_ingress()
                .group_id(id)
                .ip_permissions(perm)
                .send()
                .await,
            duplicate,
            "ec2:AuthorizeSecurityGroupIngress",
        ),
        Direction::Egress => tolerate(
            client
                .authorize_security_group_egress()
                .group_id(id)
                .ip_permissions(perm)
                .send()
                .await,
            duplicate,
            "ec2:AuthorizeSecurityGroupEgress",
        ),
    }
}

async fn revoke(
    client: &Client,
    ctx: &OpContext,
    id: &str,
    dir: Direction,
    name: &str,
    rule: &Json,
) -> Result<(), ProviderError> {
    let perm = permission(ctx, name, rule)?;
    let gone = &["InvalidPermission.NotFound"];
    match dir {
        Direction::Ingress => tolerate(
            client
                .revoke_security_group_ingress()
                .group_id(id)
                .ip_permissions(perm)
                .send()
                .await,
            gone,
            "ec2:RevokeSecurityGroupIngress",
        ),
        Direction::Egress => tolerate(
            client
                .revoke_security_group_egress()
                .group_id(id)
                .ip_permissions(perm)
                .send()
                .await,
            gone,
            "ec2:RevokeSecurityGroupEgress",
        ),
    }
}

/// Revokes changed or removed rules, then authorizes new or changed ones.
async fn sync_rules(
    client: &Client,
    ctx: &OpContext,
    id: &str,
    prior: &Attributes,
    inputs: &Attributes,
) -> Result<(), ProviderError> {
    for dir in [Direction::Ingress, Direction::Egress] {
        let had = rules(prior, dir);
        let want = rules(inputs, dir);
        for (name, rule) in &had {
            if want.get(name) != Some(rule) {
                revoke(client, ctx, id, dir, name, rule).await?;
            }
        }
        for (name, rule) in &want {
            if had.get(name) != Some(rule) {
                authorize(client, ctx, id, dir, name, rule).await?;
            }
        }
    }
    Ok(())
}

fn outputs(id: &str) -> Attributes {
    attrs([("security_group_id", json!(id))])
}

#[async_trait]
impl Provider for SecurityGroup {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let client = self.0.ec2(&ctx.region);
        let (name, description, vpc) = (
            req_str(ctx, inputs, "name")?,
            req_str(ctx, inputs, "description")?,
            req_str(ctx, inputs, "vpc_id")?,
        );
        // CreateSecurityGroup takes no idempotency token; a resend of one
        // that happened finds its name taken in the VPC.
        let once = self.0.ec2_once(&ctx.region);
        let created = create_once(
            "ec2:CreateSecurityGroup",
            &["InvalidGroup.Duplicate"],
            || {
                once.create_security_group()
                    .group_name(name)
                    .description(description)
                    .vpc_id(vpc)
                    .tag_specifications(tag_spec(ctx, inputs, ResourceType::SecurityGroup))
                    .send()
            },
            || self.find(ctx, inputs),
        )
        .await?;
        let id = created.id("ec2:CreateSecurityGroup", "group id", |out| out.group_id())?;
        // AWS adds an allow-all egress rule to every new group; drctl owns
        // the rules, so start from none.
        let default_egress =
            json!({"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_block": "0.0.0.0/0"});
        let prior = attrs([(
            "egress",
            json!({ format!("{UNMANAGED}-1-0-0-0.0.0.0/0"): default_egress }),
        )]);
        super::on_new(|| sync_rules(&client, ctx, &id, &prior, inputs)).await?;
        Ok(Applied {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let ec2 = self.0.ec2(&ctx.region);
        let Some(g) = describe_id::<types::SecurityGroup>(&ec2, id).await? else {
            return Ok(None);
        };
        Ok(Some(Observed {
            inputs: attrs([
                ("name", json!(g.group_name())),
                ("description", json!(g.description())),
                ("vpc_id", json!(g.vpc_id())),
                ("ingress", observed_rules(g.ip_permissions())),
                ("egress", observed_rules(g.ip_permissions_egress())),
                ("tags", tags_json(g.tags())),
            ]),
            outputs: outputs(id),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let client = self.0.ec2(&ctx.region);
        // A group adopted from an interrupted run may be seconds old.
        super::on_new(|| sync_rules(&client, ctx, id, prior, inputs)).await?;
        sync_tags(&client, ctx, id, prior, inputs).await?;
        Ok(outputs(id))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        // Group names are unique per VPC.
        let filter = |name: &str, value: &str| {
            aws_sdk_ec2::types::Filter::builder()
                .name(name)
                .values(value)
                .build()
        };
        let filters = vec![
            filter("group-name", req_str(ctx, inputs, "name")?),
            filter("vpc-id", req_str(ctx, inputs, "vpc_id")?),
        ];
        let ec2 = self.0.ec2(&ctx.region);
        find_one::<types::SecurityGroup>(&ec2, ctx, filters, |_| true).await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let ec2 = self.0.ec2(&ctx.region);
        let what = "security group";
        if owned::<types::SecurityGroup>(&ec2, ctx, id, what)
            .await?
            .is_none()
        {
            return Ok(());
        }
        super::delete_when_unused(|| async {
            let result = ec2.delete_security_group().group_id(id).send().await;
            tolerate(result, NOT_FOUND, "ec2:DeleteSecurityGroup")
        })
        .await
    }
}
