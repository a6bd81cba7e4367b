//! `route53.record`: one record set: a weighted alias (with a
//! `set_identifier`, a `weight` and an `alias`), a simple alias (an `alias`
//! alone), or a simple record (with a `ttl` and `records`, e.g. a
//! certificate's DNS validation CNAME). Its id is
//! `<zone_id>_<name>_<type>[_<set_identifier>]`; reads use the inputs.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::hosted_zone::extra_record_sets;
use super::{ZONE_GONE, bare, env_zones, input_name, wait_insync, walk_record_sets};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{attrs, found, invalid};

pub static SCHEMA: KindSchema = KindSchema::new(
    "route53.record",
    Latency {
        create: 60,
        update: 60,
        delete: 60,
        basis: "change INSYNC: Route 53 propagates to its servers within 60 s (Route 53 guide)",
    },
)
.force_new(&["zone_id", "name", "type", "set_identifier"])
.outputs(&["fqdn"]);

pub struct Record(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    zone_id: String,
    name: String,
    #[serde(rename = "type")]
    ty: String,
    /// A weighted record set's; `None` for a simple one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    set_identifier: Option<String>,
    /// A weighted record set's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weight: Option<i64>,
    /// A weighted record set's, or a simple alias's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alias: Option<Alias>,
    /// A simple record's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
    /// A simple record's values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    records: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    health_check_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    dns_name: String,
    hosted_zone_id: String,
    /// Default false; read back always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evaluate_target_health: Option<bool>,
}

/// The record set's identity, from the inputs.
struct Key<'a> {
    zone: &'a str,
    name: &'a str,
    ty: &'a str,
    /// `None` for a simple (not weighted) record set.
    ident: Option<&'a str>,
}

/// A record's id: `<zone_id>_<name>_<type>[_<set_identifier>]`.
fn record_id(zone: &str, name: &str, ty: &str, ident: Option<&str>) -> String {
    match ident {
        Some(i) => format!("{zone}_{name}_{ty}_{i}"),
        None => format!("{zone}_{name}_{ty}"),
    }
}

impl<'a> Key<'a> {
    fn of(inputs: &'a Inputs) -> Self {
        Key {
            zone: &inputs.zone_id,
            name: &inputs.name,
            ty: &inputs.ty,
            ident: inputs.set_identifier.as_deref(),
        }
    }

    fn id(&self) -> String {
        record_id(self.zone, self.name, self.ty, self.ident)
    }
}

pub(crate) fn build_err(
    op: &'static str,
) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> ProviderError {
    move |e| ProviderError::new(op, e.to_string())
}

fn record_set(ctx: &OpContext, inputs: &Inputs) -> Result<ResourceRecordSet, ProviderError> {
    let k = Key::of(inputs);
    let set = ResourceRecordSet::builder()
        .name(k.name)
        .r#type(RrType::from(k.ty));
    let alias = inputs.alias.as_ref().map(alias_target).transpose()?;
    let Some(ident) = k.ident else {
        if let Some(target) = alias {
            // A simple alias: an alias takes no TTL (the target's applies).
            return set
                .alias_target(target)
                .build()
                .map_err(build_err("route53:ResourceRecordSet"));
        }
        // A simple record: its values and TTL.
        let ttl = inputs
            .ttl
            .ok_or_else(|| invalid(ctx, "input `ttl` must be an integer"))?;
        let values = inputs
            .records
            .as_ref()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid(ctx, "input `records` must be a non-empty list of strings"))?;
        let records = values
            .iter()
            .map(|v| {
                ResourceRecord::builder()
                    .value(v)
                    .build()
                    .map_err(build_err("route53:ResourceRecord"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return set
            .ttl(ttl)
            .set_resource_records(Some(records))
            .build()
            .map_err(build_err("route53:ResourceRecordSet"));
    };
    let weight = inputs
        .weight
        .ok_or_else(|| invalid(ctx, "input `weight` must be an integer"))?;
    let target = alias.ok_or_else(|| invalid(ctx, "input `alias` must be an object"))?;
    set.set_identifier(ident)
        .weight(weight)
        .alias_target(target)
        .set_health_check_id(inputs.health_check_id.clone())
        .build()
        .map_err(build_err("route53:ResourceRecordSet"))
}

/// The `alias` input as an alias target.
fn alias_target(alias: &Alias) -> Result<AliasTarget, ProviderError> {
    AliasTarget::builder()
        .dns_name(&alias.dns_name)
        .hosted_zone_id(&alias.hosted_zone_id)
        .evaluate_target_health(alias.evaluate_target_health.unwrap_or(false))
        .build()
        .map_err(build_err("route53:AliasTarget"))
}

/// Submits one change and waits until it is INSYNC. `Ok(false)` when the
/// zone is gone.
pub(crate) async fn change(
    client: &Client,
    zone: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
) -> Result<bool, ProviderError> {
    let batch = ChangeBatch::builder()
        .changes(
            Change::builder()
                .action(action)
                .resource_record_set(set)
                .build()
                .map_err(build_err("route53:Change"))?,
        )
        .build()
        .map_err(build_err("route53:ChangeBatch"))?;
    let result = client
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await;
    let Some(out) = found(result, ZONE_GONE, "route53:ChangeResourceRecordSets")? else {
        return Ok(false);
    };
    if let Some(info) = out.change_info() {
        wait_insync(client, &info.id).await?;
    }
    Ok(true)
}

/// Deletes `current`, the record set as Route 53 holds it (a DELETE must
/// repeat its values exactly), from `zone`. Route 53 refuses it
/// (InvalidChangeBatch) when it is not found or does not match: a resend
/// after a lost answer (the set is gone), or a change made meanwhile;
/// `still_there` then says whether what was to be deleted is there still,
/// which makes the refusal an error.
pub(crate) async fn delete_set(
    client: &Client,
    zone: &str,
    current: ResourceRecordSet,
    still_there: impl std::future::Future<Output = Result<bool, ProviderError>>,
) -> Result<(), ProviderError> {
    match change(client, zone, ChangeAction::Delete, current).await {
        Ok(_) => Ok(()),
        Err(e) if e.code.as_deref() == Some("InvalidChangeBatch") => {
            if still_there.await? {
                Err(e)
            } else {
                Ok(())
            }
        }
        Err(e) => Err(e),
    }
}

/// The record set with this name, type and set identifier (none for a
/// simple record), if any.
async fn find_set(
    client: &Client,
    k: &Key<'_>,
) -> Result<Option<ResourceRecordSet>, ProviderError> {
    let sets = matching_sets(client, k.zone, k.name, k.ty, &[k.ident]).await?;
    Ok(sets.and_then(|mut s| s.pop().flatten()))
}

/// The record sets named `name` of type `ty` in `zone` with these set
/// identifiers, in the same order (`None` for one that does not exist);
/// `None` when the zone itself is gone.
pub(crate) async fn record_sets(
    client: &Client,
    zone: &str,
    name: &str,
    ty: &str,
    set_identifiers: &[&str],
) -> Result<Option<Vec<Option<ResourceRecordSet>>>, ProviderError> {
    let idents: Vec<Option<&str>> = set_identifiers.iter().map(|s| Some(*s)).collect();
    matching_sets(client, zone, name, ty, &idents).await
}

/// The simple record set (no set identifier) named `name` of type `ty` in
/// `zone`, if any; `None` when the zone itself is gone.
pub(crate) async fn simple_set(
    client: &Client,
    zone: &str,
    name: &str,
    ty: &str,
) -> Result<Option<Option<ResourceRecordSet>>, ProviderError> {
    let sets = matching_sets(client, zone, name, ty, &[None]).await?;
    Ok(sets.map(|mut s| s.pop().flatten()))
}

/// `record_sets`, where `None` asks for the simple record set (the one
/// without a set identifier).
async fn matching_sets(
    client: &Client,
    zone: &str,
    name: &str,
    ty: &str,
    set_identifiers: &[Option<&str>],
) -> Result<Option<Vec<Option<ResourceRecordSet>>>, ProviderError> {
    let wanted = bare(name);
    let mut sets: Vec<Option<ResourceRecordSet>> = vec![None; set_identifiers.len()];
    // Listed in order from the start name and type: the first other name
    // or type ends the search.
    let exists = walk_record_sets(client, zone, Some((name, RrType::from(ty))), |r| {
        if bare(&r.name) != wanted || r.r#type.as_str() != ty {
            return false;
        }
        if let Some(i) = set_identifiers
            .iter()
            .position(|s| r.set_identifier() == *s)
        {
            sets[i] = Some(r.clone());
        }
        true
    })
    .await?;
    Ok(exists.then_some(sets))
}

fn outputs(name: &str) -> Attributes {
    attrs([("fqdn", json!(name))])
}

impl Record {
    /// Upserts the record set the inputs describe.
    async fn upsert(&self, ctx: &OpContext, inputs: &Inputs) -> Result<(), ProviderError> {
        let zone = inputs.zone_id.as_str();
        upsert_set(&self.0.route53(), zone, zone, record_set(ctx, inputs)?).await
    }
}

/// Upserts `set` into `zone` (`what`: how the error names it), which must
/// exist.
pub(crate) async fn upsert_set(
    client: &Client,
    zone: &str,
    what: &str,
    set: ResourceRecordSet,
) -> Result<(), ProviderError> {
    if !change(client, zone, ChangeAction::Upsert, set).await? {
        return Err(ProviderError::new(
            "route53:ChangeResourceRecordSets",
            format!("hosted zone {what} does not exist"),
        )
        .with_code("NoSuchHostedZone"));
    }
    Ok(())
}

#[async_trait]
impl Kind for Record {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        self.upsert(ctx, inputs).await?;
        let k = Key::of(inputs);
        Ok(Applied {
            id: k.id(),
            outputs: outputs(k.name),
        })
    }

    async fn read(&self, _ctx: &OpContext, _id: &str, prior: &Inputs) -> Read<Inputs> {
        let k = Key::of(prior);
        let Some(r) = find_set(&self.0.route53(), &k).await? else {
            return Ok(None);
        };
        let alias = r.alias_target().map(|a| Alias {
            dns_name: bare(&a.dns_name),
            hosted_zone_id: a.hosted_zone_id.clone(),
            evaluate_target_health: Some(a.evaluate_target_health),
        });
        let weighted = r.set_identifier().is_some();
        let simple = !weighted && alias.is_none();
        Ok(Some(Found {
            inputs: Inputs {
                zone_id: k.zone.to_owned(),
                name: input_name(&r.name, Some(k.name)),
                ty: r.r#type.as_str().to_owned(),
                set_identifier: r.set_identifier().map(str::to_owned),
                weight: r.weight().filter(|_| weighted),
                alias,
                ttl: r.ttl().filter(|_| simple),
                records: simple.then(|| {
                    r.resource_records()
                        .iter()
                        .map(|v| bare(&v.value))
                        .collect()
                }),
                health_check_id: r.health_check_id().map(str::to_owned),
            },
            outputs: outputs(k.name),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _id: &str,
        _prior: &Inputs,
        inputs: &Inputs,
    ) -> Updated {
        self.upsert(ctx, inputs).await?;
        Ok(outputs(&inputs.name))
    }

    async fn find(&self, _ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // Name, type and set identifier identify a record set in its zone.
        let k = Key::of(inputs);
        Ok(find_set(&self.0.route53(), &k).await?.map(|_| k.id()))
    }

    async fn delete(&self, _ctx: &OpContext, _id: &str, inputs: &Inputs) -> Done {
        let k = Key::of(inputs);
        let client = self.0.route53();
        // A DELETE must repeat the record set's current values exactly.
        let Some(current) = find_set(&client, &k).await? else {
            return Ok(());
        };
        // Refused with the set there: changed meanwhile (an error).
        delete_set(&client, k.zone, current, async {
            Ok(find_set(&client, &k).await?.is_some())
        })
        .await
    }

    /// Records have no tags: those of the environment's hosted zones (by
    /// their `drctl:env` tag) but the apex SOA and NS, which are the
    /// zone's. Records drctl adds to a zone of the user's
    /// (`route53.existing_zone`) are not found this way.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.route53();
        let mut ids = Vec::new();
        for (zone, apex) in env_zones(&client, &scope.env).await? {
            let Some(sets) = extra_record_sets(&client, &zone, &apex).await? else {
                continue;
            };
            ids.extend(
                sets.iter().map(|r| {
                    record_id(&zone, &bare(&r.name), r.r#type.as_str(), r.set_identifier())
                }),
            );
        }
        Ok(ids)
    }
}
