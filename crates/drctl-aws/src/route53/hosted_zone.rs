//! `route53.hosted_zone`: a public hosted zone. Its id is the zone id
//! without the `/hostedzone/` prefix.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_route53::Client;
use aws_sdk_route53::types::{HostedZoneConfig, ResourceRecordSet, RrType, TagResourceType};
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use super::{caller_reference, change_tags, find_created, input_name, read_tags, sync_tags};
use crate::clients::Clients;
use crate::support::{
    Created, all_tags, api_error, attrs, create_once, found, opt_str, req_str, tolerate,
};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "route53.hosted_zone",
    force_new: &["name"],
    outputs: &["zone_id", "name_servers"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency {
        create: 2,
        update: 1,
        delete: 2,
        basis: "CreateHostedZone's change is not waited for",
    },
};

pub struct HostedZone(pub(crate) Arc<Clients>);

const GONE: &[&str] = &["NoSuchHostedZone"];

fn bare_id(id: &str) -> &str {
    id.strip_prefix("/hostedzone/").unwrap_or(id)
}

/// A domain name in the form to compare: AWS returns names fully qualified
/// and compares them case-insensitively.
fn bare_name(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
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

impl HostedZone {
    /// `(name, comment, name servers)`, or `None` when the zone is gone.
    async fn get(
        &self,
        client: &Client,
        id: &str,
    ) -> Result<Option<(String, String, Vec<String>)>, ProviderError> {
        let result = client.get_hosted_zone().id(id).send().await;
        let Some(out) = found(result, GONE, "route53:GetHostedZone")? else {
            return Ok(None);
        };
        let Some(zone) = out.hosted_zone() else {
            return Ok(None);
        };
        let comment = zone
            .config()
            .and_then(|c| c.comment())
            .unwrap_or_default()
            .to_owned();
        let servers = out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default();
        Ok(Some((zone.name.clone(), comment, servers)))
    }

    /// Every record set but the apex SOA and NS, which the zone owns;
    /// `None` when the zone is gone.
    async fn extra_record_sets(
        &self,
        client: &Client,
        id: &str,
        apex: &str,
    ) -> Result<Option<Vec<ResourceRecordSet>>, ProviderError> {
        let mut sets = Vec::new();
        let mut next: Option<(String, RrType, Option<String>)> = None;
        loop {
            let mut req = client.list_resource_record_sets().hosted_zone_id(id);
            if let Some((name, ty, ident)) = next.take() {
                req = req
                    .start_record_name(name)
                    .start_record_type(ty)
                    .set_start_record_identifier(ident);
            }
            let result = req.send().await;
            let Some(page) = found(result, GONE, "route53:ListResourceRecordSets")? else {
                return Ok(None);
            };
            sets.extend(
                page.resource_record_sets()
                    .iter()
                    .filter(|r| {
                        !(matches!(r.r#type, RrType::Soa | RrType::Ns)
                            && r.name.eq_ignore_ascii_case(apex))
                    })
                    .cloned(),
            );
            match (
                page.is_truncated(),
                page.next_record_name(),
                page.next_record_type(),
            ) {
                (true, Some(name), Some(ty)) => {
                    next = Some((
                        name.to_owned(),
                        ty.clone(),
                        page.next_record_identifier().map(str::to_owned),
                    ))
                }
                _ => return Ok(Some(sets)),
            }
        }
    }
}

#[async_trait]
impl Provider for HostedZone {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let client = self.0.route53();
        // The caller reference makes a resend of a create that happened
        // fail (HostedZoneAlreadyExists) rather than make a second zone:
        // `create_once` then looks the zone up.
        let request = self
            .0
            .route53_once()
            .create_hosted_zone()
            .name(req_str(ctx, inputs, "name")?)
            .caller_reference(caller_reference(ctx))
            .hosted_zone_config(
                HostedZoneConfig::builder()
                    .comment(opt_str(inputs, "comment").unwrap_or_default())
                    .build(),
            );
        let created = create_once(
            "route53:CreateHostedZone",
            &["HostedZoneAlreadyExists"],
            || request.clone().send(),
            || self.find(ctx, inputs),
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
                let servers = self
                    .get(&client, &id)
                    .await?
                    .map(|(_, _, servers)| servers)
                    .unwrap_or_default();
                (id, servers)
            }
        };
        // CreateHostedZone takes no tags: they follow at once.
        change_tags(
            &client,
            TagResourceType::Hostedzone,
            &id,
            all_tags(ctx, inputs),
            Vec::new(),
        )
        .await?;
        Ok(Applied {
            outputs: attrs([("zone_id", json!(id)), ("name_servers", json!(servers))]),
            id,
        })
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let client = self.0.route53();
        let Some((name, comment, servers)) = self.get(&client, id).await? else {
            return Ok(None);
        };
        Ok(Some(Observed {
            inputs: attrs([
                ("name", json!(input_name(&name, opt_str(prior, "name")))),
                ("comment", json!(comment)),
                (
                    "tags",
                    read_tags(&client, TagResourceType::Hostedzone, id).await?,
                ),
            ]),
            outputs: attrs([("zone_id", json!(id)), ("name_servers", json!(servers))]),
        }))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        id: &str,
        prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let client = self.0.route53();
        if prior.get("comment") != inputs.get("comment") {
            client
                .update_hosted_zone_comment()
                .id(id)
                .comment(opt_str(inputs, "comment").unwrap_or_default())
                .send()
                .await
                .map_err(|e| api_error("route53:UpdateHostedZoneComment", e))?;
        }
        sync_tags(&client, TagResourceType::Hostedzone, id, prior, inputs).await?;
        let (_, _, servers) = self.get(&client, id).await?.ok_or_else(|| {
            ProviderError::new(
                "route53:GetHostedZone",
                "hosted zone disappeared during update",
            )
        })?;
        Ok(attrs([
            ("zone_id", json!(id)),
            ("name_servers", json!(servers)),
        ]))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        // Zone names are not unique: the zones with this one are candidates.
        let client = self.0.route53();
        let name = req_str(ctx, inputs, "name")?;
        let wanted = bare_name(name);
        let mut listed = Vec::new();
        let mut next = (name.to_owned(), None::<String>);
        'pages: loop {
            let page = client
                .list_hosted_zones_by_name()
                .dns_name(&next.0)
                .set_hosted_zone_id(next.1.take())
                .send()
                .await
                .map_err(|e| api_error("route53:ListHostedZonesByName", e))?;
            // Listed in name order from the name asked for: the first other
            // name ends the zones with this one.
            for z in page.hosted_zones() {
                if bare_name(&z.name) != wanted {
                    break 'pages;
                }
                listed.push((bare_id(&z.id).to_owned(), z.caller_reference.clone()));
            }
            match (page.is_truncated(), page.next_dns_name()) {
                (true, Some(n)) => {
                    next = (n.to_owned(), page.next_hosted_zone_id().map(str::to_owned))
                }
                _ => break,
            }
        }
        find_created(&client, TagResourceType::Hostedzone, ctx, inputs, listed).await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let client = self.0.route53();
        let result = client.get_hosted_zone().id(id).send().await;
        let Some(zone) = found(result, GONE, "route53:GetHostedZone")?
            .and_then(|out| out.hosted_zone().cloned())
        else {
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
        let Some(foreign) = self.extra_record_sets(&client, id, &apex).await? else {
            return Ok(());
        };
        if !foreign.is_empty() {
            return Err(not_empty(id, &apex, &foreign));
        }
        let result = client.delete_hosted_zone().id(id).send().await;
        tolerate(result, GONE, "route53:DeleteHostedZone")
    }
}
