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
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Map, Value as Json, json};

use super::{input_name, wait_insync};
use crate::clients::Clients;
use crate::support::{attrs, found, invalid, opt_str, req_str};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "route53.record",
    force_new: &["zone_id", "name", "type", "set_identifier"],
    outputs: &["fqdn"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency {
        create: 60,
        update: 60,
        delete: 60,
        basis: "change INSYNC: Route 53 propagates to its servers within 60 s (Route 53 guide)",
    },
};

pub struct Record(pub(crate) Arc<Clients>);

const ZONE_GONE: &[&str] = &["NoSuchHostedZone"];

/// The record set's identity, from the inputs.
struct Key<'a> {
    zone: &'a str,
    name: &'a str,
    ty: &'a str,
    /// `None` for a simple (not weighted) record set.
    ident: Option<&'a str>,
}

impl<'a> Key<'a> {
    fn of(ctx: &OpContext, inputs: &'a Attributes) -> Result<Self, ProviderError> {
        Ok(Key {
            zone: req_str(ctx, inputs, "zone_id")?,
            name: req_str(ctx, inputs, "name")?,
            ty: req_str(ctx, inputs, "type")?,
            ident: opt_str(inputs, "set_identifier"),
        })
    }

    fn id(&self) -> String {
        match self.ident {
            Some(i) => format!("{}_{}_{}_{i}", self.zone, self.name, self.ty),
            None => format!("{}_{}_{}", self.zone, self.name, self.ty),
        }
    }
}

pub(crate) fn build_err(
    op: &'static str,
) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> ProviderError {
    move |e| ProviderError::new(op, e.to_string())
}

/// A DNS name as AWS may return it (fully qualified, any case) in the form
/// inputs use.
fn bare(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

fn record_set(ctx: &OpContext, inputs: &Attributes) -> Result<ResourceRecordSet, ProviderError> {
    let k = Key::of(ctx, inputs)?;
    let set = ResourceRecordSet::builder()
        .name(k.name)
        .r#type(RrType::from(k.ty));
    let alias = inputs
        .get("alias")
        .map(|_| alias_target(ctx, inputs))
        .transpose()?;
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
            .get("ttl")
            .and_then(Json::as_i64)
            .ok_or_else(|| invalid(ctx, "input `ttl` must be an integer"))?;
        let values = inputs
            .get("records")
            .and_then(Json::as_array)
            .and_then(|a| a.iter().map(Json::as_str).collect::<Option<Vec<_>>>())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid(ctx, "input `records` must be a non-empty list of strings"))?;
        let records = values
            .into_iter()
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
        .get("weight")
        .and_then(Json::as_i64)
        .ok_or_else(|| invalid(ctx, "input `weight` must be an integer"))?;
    let target = alias.ok_or_else(|| invalid(ctx, "input `alias` must be an object"))?;
    set.set_identifier(ident)
        .weight(weight)
        .alias_target(target)
        .set_health_check_id(opt_str(inputs, "health_check_id").map(str::to_owned))
        .build()
        .map_err(build_err("route53:ResourceRecordSet"))
}

/// The `alias` input as an alias target.
fn alias_target(ctx: &OpContext, inputs: &Attributes) -> Result<AliasTarget, ProviderError> {
    let alias = inputs
        .get("alias")
        .and_then(Json::as_object)
        .ok_or_else(|| invalid(ctx, "input `alias` must be an object"))?;
    let field = |key: &str| {
        alias
            .get(key)
            .and_then(Json::as_str)
            .ok_or_else(|| invalid(ctx, format!("input `alias.{key}` must be a string")))
    };
    AliasTarget::builder()
        .dns_name(field("dns_name")?)
        .hosted_zone_id(field("hosted_zone_id")?)
        .evaluate_target_health(
            alias
                .get("evaluate_target_health")
                .and_then(Json::as_bool)
                .unwrap_or(false),
        )
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

/// The record set with this name, type and set identifier (none for a
/// simple record), if any.
async fn find(client: &Client, k: &Key<'_>) -> Result<Option<ResourceRecordSet>, ProviderError> {
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
    let mut next = (name.to_owned(), RrType::from(ty), None::<String>);
    loop {
        let result = client
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(&next.0)
            .start_record_type(next.1.clone())
            .set_start_record_identifier(next.2.clone())
            .send()
            .await;
        let Some(page) = found(result, ZONE_GONE, "route53:ListResourceRecordSets")? else {
            return Ok(None);
        };
        // Listed in order from the start name and type: the first other
        // name or type ends the search.
        for r in page.resource_record_sets() {
            if bare(&r.name) != wanted || r.r#type.as_str() != ty {
                return Ok(Some(sets));
            }
            if let Some(i) = set_identifiers
                .iter()
                .position(|s| r.set_identifier() == *s)
            {
                sets[i] = Some(r.clone());
            }
        }
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(n), Some(t)) => {
                next = (
                    n.to_owned(),
                    t.clone(),
                    page.next_record_identifier().map(str::to_owned),
                )
            }
            _ => return Ok(Some(sets)),
        }
    }
}

fn outputs(name: &str) -> Attributes {
    attrs([("fqdn", json!(name))])
}

#[async_trait]
impl Provider for Record {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let k = Key::of(ctx, inputs)?;
        let client = self.0.route53();
        if !change(
            &client,
            k.zone,
            ChangeAction::Upsert,
            record_set(ctx, inputs)?,
        )
        .await?
        {
            return Err(ProviderError::new(
                "route53:ChangeResourceRecordSets",
                format!("hosted zone {} does not exist", k.zone),
            )
            .with_code("NoSuchHostedZone"));
        }
        Ok(Applied {
            id: k.id(),
            outputs: outputs(k.name),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        _id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let k = Key::of(ctx, prior)?;
        let Some(r) = find(&self.0.route53(), &k).await? else {
            return Ok(None);
        };
        let alias = r.alias_target().map_or(Json::Null, |a| {
            json!({
                "dns_name": bare(&a.dns_name),
                "hosted_zone_id": a.hosted_zone_id,
                "evaluate_target_health": a.evaluate_target_health,
            })
        });
        let mut inputs: Map<String, Json> = Map::new();
        inputs.insert("zone_id".into(), json!(k.zone));
        inputs.insert("name".into(), json!(input_name(&r.name, Some(k.name))));
        inputs.insert("type".into(), json!(r.r#type.as_str()));
        if let Some(ident) = r.set_identifier() {
            inputs.insert("set_identifier".into(), json!(ident));
            inputs.insert("weight".into(), json!(r.weight()));
            inputs.insert("alias".into(), alias);
        } else if !alias.is_null() {
            inputs.insert("alias".into(), alias);
        } else {
            inputs.insert("ttl".into(), json!(r.ttl()));
            let values: Vec<String> = r
                .resource_records()
                .iter()
                .map(|v| bare(&v.value))
                .collect();
            inputs.insert("records".into(), json!(values));
        }
        if let Some(h) = r.health_check_id() {
            inputs.insert("health_check_id".into(), json!(h));
        }
        Ok(Some(Observed {
            inputs: inputs.into_iter().collect(),
            outputs: outputs(k.name),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _id: &str,
        _prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let k = Key::of(ctx, inputs)?;
        if !change(
            &self.0.route53(),
            k.zone,
            ChangeAction::Upsert,
            record_set(ctx, inputs)?,
        )
        .await?
        {
            return Err(ProviderError::new(
                "route53:ChangeResourceRecordSets",
                format!("hosted zone {} does not exist", k.zone),
            )
            .with_code("NoSuchHostedZone"));
        }
        Ok(outputs(k.name))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        // Name, type and set identifier identify a record set in its zone.
        let k = Key::of(ctx, inputs)?;
        Ok(find(&self.0.route53(), &k).await?.map(|_| k.id()))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        _id: &str,
        inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let k = Key::of(ctx, inputs)?;
        let client = self.0.route53();
        // A DELETE must repeat the record set's current values exactly.
        let Some(current) = find(&client, &k).await? else {
            return Ok(());
        };
        match change(&client, k.zone, ChangeAction::Delete, current).await {
            Ok(_) => Ok(()),
            // Refused as "not found" or as not matching: a resend after a
            // lost answer (the set is gone), or a change made meanwhile
            // (the set is there with other values: an error).
            Err(e) if e.code.as_deref() == Some("InvalidChangeBatch") => {
                match find(&client, &k).await? {
                    None => Ok(()),
                    Some(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}
