//! EC2 networking kinds.

pub mod eip;
pub mod internet_gateway;
pub(crate) mod lookup;
pub mod nat_gateway;
pub mod route;
pub mod route_table;
pub mod route_table_association;
pub mod security_group;
pub mod subnet;
pub mod vpc;
pub mod vpc_endpoint;
pub mod vpc_peering_connection;
pub mod vpc_peering_connection_accepter;

use crate::kind::{Registration, kind};

pub(crate) static KINDS: &[Registration] = &[
    kind!(vpc, Vpc),
    kind!(subnet, Subnet),
    kind!(internet_gateway, InternetGateway),
    kind!(route_table, RouteTable),
    kind!(route, Route),
    kind!(route_table_association, RouteTableAssociation),
    kind!(security_group, SecurityGroup),
    kind!(eip, Eip),
    kind!(nat_gateway, NatGateway),
    kind!(vpc_endpoint, VpcEndpoint),
    kind!(vpc_peering_connection, VpcPeeringConnection),
    kind!(
        vpc_peering_connection_accepter,
        VpcPeeringConnectionAccepter
    ),
];

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use drctl_core::{Attributes, OpContext, ProviderError};
use serde_json::json;

use crate::support::{TAG_ADDRESS, TAG_ENV, api_error, attrs, sent, tag_changes};
use crate::tags::{TagApi, Tags, from_sdk, to_sdk, with_identity};

/// The outputs of a kind whose only output is its id, under `key`.
pub(crate) fn id_output(key: &str, id: &str) -> Attributes {
    attrs([(key, json!(id))])
}

/// Tags applied in the create call itself, so a resource is never untagged
/// (crash recovery finds resources by their `drctl:address` tag).
pub(crate) fn tag_spec(ctx: &OpContext, tags: &Tags, ty: ResourceType) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(ty)
        .set_tags(Some(to_sdk::<Tag>(with_identity(ctx, tags))))
        .build()
}

/// Filters selecting the resource drctl tagged for this address and env:
/// how resources with AWS-generated ids are found again after a crash.
pub(crate) fn identity_filters(ctx: &OpContext) -> Vec<aws_sdk_ec2::types::Filter> {
    vec![
        aws_sdk_ec2::types::Filter::builder()
            .name(format!("tag:{TAG_ADDRESS}"))
            .values(ctx.address.to_string())
            .build(),
        aws_sdk_ec2::types::Filter::builder()
            .name(format!("tag:{TAG_ENV}"))
            .values(ctx.env.clone())
            .build(),
    ]
}

/// Refuses the delete of the EC2 resource `what` (`VPC vpc-0abc`) unless
/// `tags`, as its describe returned them, show it is this environment's
/// (`support::confirm_owned`): EC2 ids are AWS's, so only the `drctl:*`
/// tags prove it.
pub(crate) fn confirm_owned(
    ctx: &OpContext,
    what: &str,
    tags: &[Tag],
) -> Result<(), ProviderError> {
    crate::support::confirm_owned(ctx, "delete", what, &from_sdk(tags), None)
}

/// How long a delete waits out DependencyViolation. Lambda deletes the
/// network interfaces of a deleted VPC function only later: users report
/// 20 to 45 minutes (the latency model takes 30), so 20 (Terraform's
/// subnet default) is too short; 50 covers the reported worst case.
pub(crate) const IN_USE_LIMIT: std::time::Duration = std::time::Duration::from_secs(50 * 60);

/// Deletes a VPC, subnet, route table or security group, retrying
/// DependencyViolation for up to [`IN_USE_LIMIT`]: the interfaces of a
/// deleted VPC function still hold it. Past the limit the error says what
/// to look for.
pub(crate) async fn delete_when_unused<F, Fut>(delete: F) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), ProviderError>>,
{
    crate::support::retry_while(
        IN_USE_LIMIT,
        |e| e.code.as_deref() == Some("DependencyViolation"),
        delete,
    )
    .await
    .map_err(|e| {
        if e.code.as_deref() == Some("DependencyViolation") {
            let message = format!(
                "{}; still in use after {} minutes: look for network interfaces in it \
                 (`aws ec2 describe-network-interfaces`), such as a deleted load \
                 balancer's or VPC function's; an `available` one described \
                 `AWS Lambda VPC ENI-...` whose function is gone can be deleted by hand",
                e.message,
                IN_USE_LIMIT.as_secs() / 60
            );
            ProviderError { message, ..e }
        } else {
            e
        }
    })
}

/// Runs a call on a resource just created, retrying the `*.NotFound` AWS
/// answers while the new id has not reached every EC2 endpoint yet ("Eventual
/// consistency in the Amazon EC2 API", EC2 Developer Guide).
pub(crate) async fn on_new<T, F, Fut>(call: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    crate::support::retry_while(
        std::time::Duration::from_secs(120),
        |e| e.code.as_deref().is_some_and(|c| c.ends_with(".NotFound")),
        call,
    )
    .await
}

/// Applies the difference between the old and new `tags` inputs. A
/// resource without a `drctl:env` tag (one `drctl import` adopted by id)
/// takes this address's `drctl:*` tags with that change, so that its
/// delete can later prove it this environment's; a resource that has one
/// keeps it, whoever's it is.
pub(crate) async fn sync_tags(
    client: &Client,
    ctx: &OpContext,
    id: &str,
    old: &Tags,
    new: &Tags,
) -> Result<(), ProviderError> {
    let (mut set, remove) = tag_changes(old, new);
    if !set.is_empty() || !remove.is_empty() {
        let claimed = client
            .describe_tags()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("resource-id")
                    .values(id)
                    .build(),
            )
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("key")
                    .values(TAG_ENV)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeTags", e))?;
        if claimed.tags().is_empty() {
            set = with_identity(ctx, &set);
        }
    }
    crate::tags::apply(client, id, set, remove).await
}

/// CreateTags / DeleteTags on one resource id.
#[async_trait::async_trait]
impl TagApi for Client {
    async fn tag(&self, id: &str, set: Tags) -> Result<(), ProviderError> {
        let call = self
            .create_tags()
            .resources(id)
            .set_tags(Some(to_sdk::<Tag>(set)));
        sent(call.send().await, "ec2:CreateTags")
    }

    async fn untag(&self, id: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        // A tag without a value removes the key whatever its value.
        let tags = keys.into_iter().map(|k| Tag::builder().key(k).build());
        let call = self
            .delete_tags()
            .resources(id)
            .set_tags(Some(tags.collect()));
        sent(call.send().await, "ec2:DeleteTags")
    }
}
