//! `route53.existing_zone`: a public hosted zone the user already has
//! (`hosted_zone_id` in drctl.toml), used instead of one drctl creates.
//! drctl checks it (it exists, is public, and is the zone of `name`) and
//! adds its own records to it as `route53.record` resources, which destroy
//! deletes; the zone itself is never changed or deleted: its delete calls
//! nothing, and a plan that deletes it shows the zone among what the delete
//! leaves (`kept_on_delete`). Its delegation is the user's too. Its id is
//! the zone id.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_route53::Client;
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::json;

use super::input_name;
use crate::clients::Clients;
use crate::support::{attrs, found, req_str};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "route53.existing_zone",
    force_new: &["zone_id", "name"],
    outputs: &["zone_id", "name_servers", "hosted_zone"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &["hosted_zone"],
    latency: Latency {
        create: 1,
        update: 1,
        delete: 0,
        basis: "GetHostedZone; the user's zone is never deleted",
    },
};

pub struct ExistingZone(pub(crate) Arc<Clients>);

/// The zone as GetHostedZone shows it.
struct Held {
    name: String,
    private: bool,
    servers: Vec<String>,
}

fn bare(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

fn bare_id(id: &str) -> &str {
    id.strip_prefix("/hostedzone/").unwrap_or(id)
}

async fn get(client: &Client, id: &str) -> Result<Option<Held>, ProviderError> {
    let result = client.get_hosted_zone().id(id).send().await;
    let Some(out) = found(result, &["NoSuchHostedZone"], "route53:GetHostedZone")? else {
        return Ok(None);
    };
    let Some(zone) = out.hosted_zone() else {
        return Ok(None);
    };
    Ok(Some(Held {
        name: zone.name.clone(),
        private: zone.config().is_some_and(|c| c.private_zone()),
        servers: out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default(),
    }))
}

fn outputs(id: &str, name: &str, servers: &[String]) -> Attributes {
    attrs([
        ("zone_id", json!(id)),
        ("name_servers", json!(servers)),
        (
            "hosted_zone",
            json!(format!(
                "{id} ({name}): yours (`hosted_zone_id`), never deleted by drctl"
            )),
        ),
    ])
}

/// The zone `id` as the zone of `name`: an error naming what is wrong and
/// the setting to change otherwise.
async fn checked(client: &Client, id: &str, name: &str) -> Result<Held, ProviderError> {
    let wrong = |what: String| {
        ProviderError::new(
            "route53:GetHostedZone",
            format!(
                "hosted zone {id} (`hosted_zone_id`) {what}: set `hosted_zone_id` to the id of the public hosted zone of {name} (`aws route53 list-hosted-zones-by-name --dns-name {name}`), or remove it and drctl creates one"
            ),
        )
    };
    let Some(held) = get(client, id).await? else {
        return Err(wrong("does not exist in this account".into()).with_code("NoSuchHostedZone"));
    };
    if held.private {
        return Err(wrong(format!(
            "is private ({}): ACM validates certificates through public DNS, which never reaches a private zone",
            bare(&held.name)
        ))
        .with_code("InvalidInput"));
    }
    if bare(&held.name) != bare(name) {
        return Err(wrong(format!(
            "is the zone of {}, not of {name} (`domain`)",
            bare(&held.name)
        ))
        .with_code("InvalidInput"));
    }
    Ok(held)
}

#[async_trait]
impl Provider for ExistingZone {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let id = bare_id(req_str(ctx, inputs, "zone_id")?);
        let name = req_str(ctx, inputs, "name")?;
        let held = checked(&self.0.route53(), id, name).await?;
        Ok(Applied {
            id: id.to_owned(),
            outputs: outputs(id, name, &held.servers),
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(held) = get(&self.0.route53(), id).await? else {
            return Ok(None);
        };
        let name = input_name(&held.name, prior.get("name").and_then(|v| v.as_str()));
        let zone_id = req_str(ctx, prior, "zone_id")?;
        Ok(Some(Observed {
            inputs: attrs([("zone_id", json!(zone_id)), ("name", json!(name))]),
            outputs: outputs(id, &name, &held.servers),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        // Every input forces a new resource: nothing to change in place.
        let name = req_str(ctx, inputs, "name")?;
        let held = checked(&self.0.route53(), id, name).await?;
        Ok(outputs(id, name, &held.servers))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let id = bare_id(req_str(ctx, inputs, "zone_id")?);
        let name = req_str(ctx, inputs, "name")?;
        let held = get(&self.0.route53(), id).await?;
        Ok(held
            .filter(|h| !h.private && bare(&h.name) == bare(name))
            .map(|_| id.to_owned()))
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        _id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        // The user's zone: drctl never deletes it.
        Ok(())
    }
}
