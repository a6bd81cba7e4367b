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
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};

use super::lookup::{delete_owned, describe_id, ec2_resource, find_one, list_env};
use super::{id_output, sync_tags, tag_spec};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{invalid, tolerate};
use crate::tags::{Tags, from_sdk, user_tags};

pub static SCHEMA: KindSchema = KindSchema::new(
    "ec2.security_group",
    Latency {
        create: 2,
        update: 2,
        delete: 2,
        basis: "the functions' group: see FUNCTION_ENI_RELEASE",
    },
)
.force_new(&["name", "description", "vpc_id"])
.outputs(&["security_group_id"]);

pub struct SecurityGroup(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    description: String,
    vpc_id: String,
    /// Rules by name.
    #[serde(default)]
    ingress: Rules,
    #[serde(default)]
    egress: Rules,
    #[serde(default)]
    tags: Tags,
}

type Rules = BTreeMap<String, Rule>;

/// One rule: a protocol (`-1` for all, which takes no ports), its ports,
/// and exactly one source (or destination, for egress).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cidr_block: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_security_group_id: Option<String>,
}

const NOT_FOUND: &[&str] = &["InvalidGroup.NotFound", "InvalidGroupId.NotFound"];

ec2_resource! {
    types::SecurityGroup, "ec2:DescribeSecurityGroups", NOT_FOUND,
    describe_security_groups, set_group_ids, set_filters, security_groups, group_id, paged
}
const UNMANAGED: &str = "unmanaged-";

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Ingress,
    Egress,
}

impl Inputs {
    fn rules(&self, dir: Direction) -> &Rules {
        match dir {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

/// The AWS form of one named rule.
fn permission(ctx: &OpContext, name: &str, rule: &Rule) -> Result<IpPermission, ProviderError> {
    let protocol = rule.protocol.as_str();
    let description = (!name.starts_with(UNMANAGED)).then(|| name.to_owned());
    let mut p = IpPermission::builder().ip_protocol(protocol);
    if protocol != "-1" {
        let port = |k: &str, v: Option<i64>| {
            v.map(|n| n as i32)
                .ok_or_else(|| invalid(ctx, format!("rule `{name}` needs `{k}`")))
        };
        p = p
            .from_port(port("from_port", rule.from_port)?)
            .to_port(port("to_port", rule.to_port)?);
    }
    match (
        rule.cidr_block.as_deref(),
        rule.source_security_group_id.as_deref(),
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
fn observed_rules(perms: &[IpPermission]) -> Rules {
    let mut out = Rules::new();
    for p in perms {
        let protocol = p.ip_protocol().unwrap_or("-1");
        let (from, to) = if protocol == "-1" {
            (0, 0)
        } else {
            (p.from_port().unwrap_or(0), p.to_port().unwrap_or(0))
        };
        let mut add = |cidr: Option<&str>, group: Option<&str>, description: Option<&str>| {
            let source = cidr.or(group).unwrap_or_default();
            let name = match description {
                Some(d) if !d.is_empty() => d.to_owned(),
                _ => format!("{UNMANAGED}{protocol}-{from}-{to}-{source}"),
            };
            let rule = Rule {
                protocol: protocol.to_owned(),
                from_port: Some(from.into()),
                to_port: Some(to.into()),
                cidr_block: cidr.map(str::to_owned),
                source_security_group_id: group.map(str::to_owned),
            };
            out.insert(name, rule);
        };
        for r in p.ip_ranges() {
            add(Some(r.cidr_ip().unwrap_or_default()), None, r.description());
        }
        for g in p.user_id_group_pairs() {
            add(
                None,
                Some(g.group_id().unwrap_or_default()),
                g.description(),
            );
        }
    }
    out
}

/// Authorizes (`grant`) or revokes one named rule. Authorizing a rule
/// that is there (InvalidPermission.Duplicate), or revoking one that is
/// not (InvalidPermission.NotFound), finds the end state made: an update
/// sent again.
async fn change(
    client: &Client,
    ctx: &OpContext,
    id: &str,
    (dir, grant): (Direction, bool),
    name: &str,
    rule: &Rule,
) -> Result<(), ProviderError> {
    let done: &[&str] = if grant {
        &["InvalidPermission.Duplicate"]
    } else {
        &["InvalidPermission.NotFound"]
    };
    let perm = permission(ctx, name, rule)?;
    match (dir, grant) {
        (Direction::Ingress, true) => {
            let call = client.authorize_security_group_ingress().group_id(id);
            let result = call.ip_permissions(perm).send().await;
            tolerate(result, done, "ec2:AuthorizeSecurityGroupIngress")
        }
        (Direction::Egress, true) => {
            let call = client.authorize_security_group_egress().group_id(id);
            let result = call.ip_permissions(perm).send().await;
            tolerate(result, done, "ec2:AuthorizeSecurityGroupEgress")
        }
        (Direction::Ingress, false) => {
            let call = client.revoke_security_group_ingress().group_id(id);
            let result = call.ip_permissions(perm).send().await;
            tolerate(result, done, "ec2:RevokeSecurityGroupIngress")
        }
        (Direction::Egress, false) => {
            let call = client.revoke_security_group_egress().group_id(id);
            let result = call.ip_permissions(perm).send().await;
            tolerate(result, done, "ec2:RevokeSecurityGroupEgress")
        }
    }
}

/// Revokes changed or removed rules, then authorizes new or changed ones.
async fn sync_rules(
    client: &Client,
    ctx: &OpContext,
    id: &str,
    prior: &Inputs,
    inputs: &Inputs,
) -> Result<(), ProviderError> {
    for dir in [Direction::Ingress, Direction::Egress] {
        let had = prior.rules(dir);
        let want = inputs.rules(dir);
        for (name, rule) in had {
            if want.get(name) != Some(rule) {
                change(client, ctx, id, (dir, false), name, rule).await?;
            }
        }
        for (name, rule) in want {
            if had.get(name) != Some(rule) {
                change(client, ctx, id, (dir, true), name, rule).await?;
            }
        }
    }
    Ok(())
}

fn outputs(id: &str) -> Attributes {
    id_output("security_group_id", id)
}

#[async_trait]
impl Kind for SecurityGroup {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let client = self.0.ec2(&ctx.region);
        // CreateSecurityGroup takes no idempotency token; a resend of one
        // that happened finds its name taken in the VPC.
        let once = self.0.ec2_once(&ctx.region);
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "ec2:CreateSecurityGroup",
            &["InvalidGroup.Duplicate"],
            || {
                once.create_security_group()
                    .group_name(&inputs.name)
                    .description(&inputs.description)
                    .vpc_id(&inputs.vpc_id)
                    .tag_specifications(tag_spec(ctx, &inputs.tags, ResourceType::SecurityGroup))
                    .send()
            },
        )
        .await?;
        let id = created.id("ec2:CreateSecurityGroup", "group id", |out| out.group_id())?;
        // AWS adds an allow-all egress rule to every new group; drctl owns
        // the rules, so start from none.
        let default_egress = Rule {
            protocol: "-1".into(),
            from_port: Some(0),
            to_port: Some(0),
            cidr_block: Some("0.0.0.0/0".into()),
            source_security_group_id: None,
        };
        let prior = Inputs {
            name: inputs.name.clone(),
            description: inputs.description.clone(),
            vpc_id: inputs.vpc_id.clone(),
            ingress: Rules::new(),
            egress: [(format!("{UNMANAGED}-1-0-0-0.0.0.0/0"), default_egress)].into(),
            tags: Tags::new(),
        };
        super::on_new(|| sync_rules(&client, ctx, &id, &prior, inputs)).await?;
        Ok(Applied {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let ec2 = self.0.ec2(&ctx.region);
        let Some(g) = describe_id::<types::SecurityGroup>(&ec2, id).await? else {
            return Ok(None);
        };
        let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
        Ok(Some(Found {
            inputs: Inputs {
                name: text(g.group_name()),
                description: text(g.description()),
                vpc_id: text(g.vpc_id()),
                ingress: observed_rules(g.ip_permissions()),
                egress: observed_rules(g.ip_permissions_egress()),
                tags: user_tags(from_sdk(g.tags())),
            },
            outputs: outputs(id),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let client = self.0.ec2(&ctx.region);
        // A group adopted from an interrupted run may be seconds old.
        super::on_new(|| sync_rules(&client, ctx, id, prior, inputs)).await?;
        sync_tags(&client, ctx, id, &prior.tags, &inputs.tags).await?;
        Ok(outputs(id))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // Group names are unique per VPC.
        let filter = |name: &str, value: &str| {
            aws_sdk_ec2::types::Filter::builder()
                .name(name)
                .values(value)
                .build()
        };
        let filters = vec![
            filter("group-name", &inputs.name),
            filter("vpc-id", &inputs.vpc_id),
        ];
        let ec2 = self.0.ec2(&ctx.region);
        find_one::<types::SecurityGroup>(&ec2, ctx, filters, |_| true).await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let ec2 = self.0.ec2(&ctx.region);
        let delete = super::delete_when_unused(|| async {
            let result = ec2.delete_security_group().group_id(id).send().await;
            tolerate(result, NOT_FOUND, "ec2:DeleteSecurityGroup")
        });
        delete_owned::<types::SecurityGroup>(&ec2, ctx, id, "security group", delete).await
    }

    async fn list(&self, scope: &ListScope) -> Listed {
        let ec2 = self.0.ec2(&scope.region);
        list_env::<types::SecurityGroup>(&ec2, &scope.env, |_| true).await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::{IpPermission, IpRange, UserIdGroupPair};
    use serde_json::json;

    use super::*;

    #[test]
    fn rules_read_back_in_the_blueprint_shape() {
        let pg = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(5432)
            .to_port(5432)
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id("sg-1")
                    .description("postgres-from-lambda")
                    .build(),
            )
            .build();
        let all = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        let rules = observed_rules(&[pg, all]);
        let written = json!({
            "postgres-from-lambda": {"protocol": "tcp", "from_port": 5432, "to_port": 5432, "source_security_group_id": "sg-1"},
            "unmanaged--1-0-0-0.0.0.0/0": {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_block": "0.0.0.0/0"},
        });
        assert_eq!(serde_json::to_value(&rules).unwrap(), written);
        assert_eq!(serde_json::from_value::<Rules>(written).unwrap(), rules);
    }
}
