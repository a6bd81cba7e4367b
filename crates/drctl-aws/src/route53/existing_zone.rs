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
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{HeldZone, bare, bare_id, get_zone, input_name};
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::attrs;

pub static SCHEMA: KindSchema = KindSchema::new(
    "route53.existing_zone",
    Latency {
        create: 1,
        update: 1,
        delete: 0,
        basis: "GetHostedZone; the user's zone is never deleted",
    },
)
.force_new(&["zone_id", "name"])
.outputs(&["zone_id", "name_servers", "hosted_zone"])
.kept_on_delete(&["hosted_zone"]);

pub struct ExistingZone(pub(crate) Arc<Clients>);

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// `hosted_zone_id` of drctl.toml (with or without `/hostedzone/`).
    zone_id: String,
    /// The environment's domain.
    name: String,
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
async fn checked(client: &Client, id: &str, name: &str) -> Result<HeldZone, ProviderError> {
    let wrong = |what: String| {
        ProviderError::new(
            "route53:GetHostedZone",
            format!(
                "hosted zone {id} (`hosted_zone_id`) {what}: set `hosted_zone_id` to the id of the public hosted zone of {name} (`aws route53 list-hosted-zones-by-name --dns-name {name}`), or remove it and drctl creates one"
            ),
        )
    };
    let Some(held) = get_zone(client, id).await? else {
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
impl Kind for ExistingZone {
    type Inputs = Inputs;

    async fn create(&self, _ctx: &OpContext, inputs: &Inputs) -> Made {
        let id = bare_id(&inputs.zone_id);
        let held = checked(&self.0.route53(), id, &inputs.name).await?;
        Ok(Applied {
            id: id.to_owned(),
            outputs: outputs(id, &inputs.name, &held.servers),
        })
    }

    async fn read(&self, _ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let Some(held) = get_zone(&self.0.route53(), id).await? else {
            return Ok(None);
        };
        let name = input_name(&held.name, Some(&prior.name));
        Ok(Some(Found {
            outputs: outputs(id, &name, &held.servers),
            inputs: Inputs {
                zone_id: prior.zone_id.clone(),
                name,
            },
        }))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        id: &str,
        _prior: &Inputs,
        inputs: &Inputs,
    ) -> Updated {
        // Every input forces a new resource: nothing to change in place.
        let held = checked(&self.0.route53(), id, &inputs.name).await?;
        Ok(outputs(id, &inputs.name, &held.servers))
    }

    async fn find(&self, _ctx: &OpContext, inputs: &Inputs) -> Lookup {
        let id = bare_id(&inputs.zone_id);
        let held = get_zone(&self.0.route53(), id).await?;
        Ok(held
            .filter(|h| !h.private && bare(&h.name) == bare(&inputs.name))
            .map(|_| id.to_owned()))
    }

    async fn delete(&self, _ctx: &OpContext, _id: &str, _inputs: &Inputs) -> Done {
        // The user's zone: drctl never deletes it.
        Ok(())
    }

    /// None: the zone is the user's, carries no mark of drctl or of the
    /// environment (drctl never tags or changes it), and is never deleted,
    /// so nothing of the environment is left in it by this kind (its
    /// records are `route53.record` resources).
    async fn list(&self, _scope: &ListScope) -> Listed {
        Ok(Vec::new())
    }
}
