//! `route53.hosted_zone`: a public hosted zone. Its id is the zone id
//! without the `/hostedzone/` prefix.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_route53::Client;
use aws_sdk_route53::types::{HostedZoneConfig, ResourceRecordSet, RrType, TagResourceType};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    ZONE_GONE, bare_id, caller_reference, change_tags, env_zones, find_created, get_zone,
    input_name, read_tags, sync_tags, walk_record_sets, zones_named,
};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{Created, api_error, attrs, tolerate};
use crate::tags::with_identity;

pub static SCHEMA: KindSchema = KindSchema::new(
    "route53.hosted_zone",
    Latency {
        create: 2,
        update: 1,
        delete: 2,
        basis: "CreateHostedZone's change is not waited for",
    },
)
.force_new(&["name"])
.outputs(&["zone_id", "name_servers"]);

pub struct HostedZone(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    /// Read back always (empty without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

fn outputs(id: &str, servers: &[String]) -> Attributes {
    attrs([("zone_id", json!(id)), ("name_servers", json!(servers))])
}

/// The error of a zone that still holds records drctl did not create: the
/// first few by name and type, and what to do.
fn not_empty(id: &str, apex: &str, foreign: &[ResourceRecordSet]) -> ProviderError {
    const SHOWN: usize = 10;
    let listed: Vec<String> = foreign
        .iter()
        .take(SHOWN)
        .map(|r| match r.set_identifier() {
            Some(ident) => format!("{} {} ({ident})", r.name, r.r#type.as_str()),
            None => format!("{} {}", r.name, r.r#type.as_str()),
        })
        .collect();
    let more = foreign.len().saturating_sub(SHOWN);
    ProviderError::new(
        "route53:DeleteHostedZone",
        format!(
            "hosted zone {apex} ({id}) still holds {} record set(s) drctl did not create: {}{}; drctl does not delete them: delete them yourself (Route 53 console, or `aws route53 change-resource-record-sets`) and run `drctl destroy` again",
            foreign.len(),
            listed.join(", "),
            if more > 0 { format!(", and {more} more") } else { String::new() }
        ),
    )
    .with_code("HostedZoneNotEmpty")
}

/// Every record set of zone `id` but the apex SOA and NS, which the zone
/// owns; `None` when the zone is gone.
pub(crate) async fn extra_record_sets(
    client: &Client,
    id: &str,
    apex: &str,
) -> Result<Option<Vec<ResourceRecordSet>>, ProviderError> {
    let mut sets = Vec::new();
    let exists = walk_record_sets(client, id, None, |r| {
        if !(matches!(r.r#type, RrType::Soa | RrType::Ns) && r.name.eq_ignore_ascii_case(apex)) {
            sets.push(r.clone());
        }
        true
    })
    .await?;
    Ok(exists.then_some(sets))
}

#[async_trait]
impl Kind for HostedZone {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let client = self.0.route53();
        // The caller reference makes a resend of a create that happened
        // fail (HostedZoneAlreadyExists) rather than make a second zone:
        // `create_once` then looks the zone up.
        let request = self
            .0
            .route53_once()
            .create_hosted_zone()
            .name(&inputs.name)
            .caller_reference(caller_reference(ctx))
            .hosted_zone_config(
                HostedZoneConfig::builder()
                    .comment(inputs.comment.as_deref().unwrap_or_default())
                    .build(),
            );
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "route53:CreateHostedZone",
            &["HostedZoneAlreadyExists"],
            || request.clone().send(),
        )
        .await?;
        let (id, servers) = match created {
            Created::Sent(out) => (
                bare_id(out.hosted_zone().map(|z| z.id.as_str()).unwrap_or_default()).to_owned(),
                out.delegation_set()
                    .map(|d| d.name_servers().to_vec())
                    .unwrap_or_default(),
            ),
            Created::Found(id) => {
                let servers = get_zone(&client, &id)
                    .await?
                    .map(|z| z.servers)
                    .unwrap_or_default();
                (id, servers)
            }
        };
        // CreateHostedZone takes no tags: they follow at once.
        change_tags(
            &client,
            TagResourceType::Hostedzone,
            &id,
            with_identity(ctx, &inputs.tags),
            Vec::new(),
        )
        .await?;
        Ok(Applied {
            outputs: outputs(&id, &servers),
            id,
        })
    }

    async fn read(&self, _ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let client = self.0.route53();
        let Some(zone) = get_zone(&client, id).await? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: Inputs {
                name: input_name(&zone.name, Some(&prior.name)),
                comment: Some(zone.comment),
                tags: read_tags(&client, TagResourceType::Hostedzone, id).await?,
            },
            outputs: outputs(id, &zone.servers),
        }))
    }

    async fn update(&self, _ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let client = self.0.route53();
        if prior.comment != inputs.comment {
            client
                .update_hosted_zone_comment()
                .id(id)
                .comment(inputs.comment.as_deref().unwrap_or_default())
                .send()
                .await
                .map_err(|e| api_error("route53:UpdateHostedZoneComment", e))?;
        }
        sync_tags(
            &client,
            TagResourceType::Hostedzone,
            id,
            &prior.tags,
            &inputs.tags,
        )
        .await?;
        let zone = get_zone(&client, id).await?.ok_or_else(|| {
            ProviderError::new(
                "route53:GetHostedZone",
                "hosted zone disappeared during update",
            )
        })?;
        Ok(outputs(id, &zone.servers))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // Zone names are not unique: the zones with this one are candidates.
        let client = self.0.route53();
        let listed = zones_named(&client, &inputs.name)
            .await?
            .into_iter()
            .map(|z| (bare_id(&z.id).to_owned(), z.caller_reference));
        find_created(
            &client,
            TagResourceType::Hostedzone,
            ctx,
            &inputs.tags,
            listed,
        )
        .await
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let client = self.0.route53();
        let Some(zone) = get_zone(&client, id).await? else {
            return Ok(());
        };
        let apex = zone.name.clone();
        super::confirm_owned(
            &client,
            TagResourceType::Hostedzone,
            ctx,
            &format!("hosted zone {id} ({apex})"),
            id,
            &zone.caller_reference,
        )
        .await?;
        // drctl's own records are `route53.record` resources, deleted before
        // the zone; the apex SOA and NS go with the zone. Anything else was
        // put there by someone else (mail, domain verification, certificate
        // validation): it is not drctl's to delete, and Route 53 refuses to
        // delete a zone that holds it (HostedZoneNotEmpty). The listing
        // includes changes still PENDING, so a record drctl has just deleted
        // is not among them.
        let Some(foreign) = extra_record_sets(&client, id, &apex).await? else {
            return Ok(());
        };
        if !foreign.is_empty() {
            return Err(not_empty(id, &apex, &foreign));
        }
        let result = client.delete_hosted_zone().id(id).send().await;
        tolerate(result, ZONE_GONE, "route53:DeleteHostedZone")
    }

    /// The environment's zones, by their `drctl:env` tag (a zone whose
    /// create stopped before its tagging call is left out: the next
    /// apply's `find` adopts and tags it).
    async fn list(&self, scope: &ListScope) -> Listed {
        let zones = env_zones(&self.0.route53(), &scope.env).await?;
        Ok(zones.into_iter().map(|(id, _)| id).collect())
    }
}
