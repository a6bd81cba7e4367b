//! `route53.delegation`: the NS record that delegates the environment's
//! domain to the hosted zone drctl created for it, written into the
//! closest parent hosted zone the account holds, so that public DNS, and
//! so ACM's DNS validation, reaches the zone with no manual step (Route 53
//! Developer Guide, "Creating a subdomain that uses Amazon Route 53 as the
//! DNS service without migrating the parent domain"). Without such a zone
//! there is nothing drctl can write: the registrar of the domain, or the
//! DNS service of its parent domain, must list the zone's name servers
//! ("Making Amazon Route 53 the DNS service for an existing domain"); the
//! resource then writes nothing, and the certificate validation waits and
//! the plan say which name servers to set.
//!
//! Inputs: `name` (the delegated domain, the zone's name) and
//! `name_servers` (the zone's). Outputs: `parent_zone_id` and
//! `parent_zone_name` (empty when no parent zone is in the account) and
//! `name_servers`. Its id is the delegated name: the parent zone is found
//! again by name (crash recovery, refresh) and recorded in the outputs, so
//! destroy deletes exactly the record it wrote. A delegation already in the
//! parent zone with other name servers is someone else's (another zone of
//! that name, another DNS service): create refuses to take it over, and
//! delete leaves a record that no longer lists the name servers drctl
//! wrote.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_route53::Client;
use aws_sdk_route53::types::{ChangeAction, ResourceRecord, ResourceRecordSet, RrType};
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::record::{build_err, change, delete_set, simple_set, upsert_set};
use super::{bare, bare_id, env_zones, get_zone, zones_named};
use crate::clients::{AwsContext, AwsError, Clients};
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{attrs, invalid, opt_str};

pub static SCHEMA: KindSchema = KindSchema::new(
    "route53.delegation",
    Latency {
        create: 60,
        update: 60,
        delete: 60,
        basis: "parent zone lookup, then the NS change INSYNC (Route 53 guide: within 60 s); none without a parent zone",
    },
)
.force_new(&["name"])
.outputs(&["parent_zone_id", "parent_zone_name", "name_servers"]);

pub struct Delegation(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The delegated domain: the zone's name, and the id.
    name: String,
    /// The zone's name servers.
    name_servers: Vec<String>,
}

impl Inputs {
    /// The name servers, checked before any call: a non-empty list.
    fn servers(&self, ctx: &OpContext) -> Result<Vec<String>, ProviderError> {
        if self.name_servers.is_empty() {
            return Err(invalid(
                ctx,
                "input `name_servers` must be a non-empty list of names",
            ));
        }
        Ok(self.name_servers.iter().map(|s| bare(s)).collect())
    }
}

/// The delegation's TTL. Every hosted zone drctl creates gets new name
/// servers (a destroy and apply, a replaced zone), and resolvers keep a
/// delegation this long: short, so a new zone is reached within minutes.
/// Route 53's Developer Guide ("Best practices for Amazon Route 53 DNS")
/// suggests longer ones for delegations that rarely change.
const TTL: i64 = 300;

/// A public hosted zone of the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Zone {
    pub id: String,
    /// Bare: no trailing dot, lower case.
    pub name: String,
}

/// Name servers as a set, to compare a record with what drctl writes.
fn server_set(servers: &[String]) -> std::collections::BTreeSet<String> {
    servers.iter().map(|s| bare(s)).collect()
}

fn same(a: &[String], b: &[String]) -> bool {
    server_set(a) == server_set(b)
}

/// The public hosted zones of the account named `name`.
async fn public_zones_named(client: &Client, name: &str) -> Result<Vec<Zone>, ProviderError> {
    let zones = zones_named(client, name).await?;
    Ok(zones
        .into_iter()
        .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
        .map(|z| Zone {
            id: bare_id(&z.id).to_owned(),
            name: bare(&z.name),
        })
        .collect())
}

/// The closest parent domain of `name` the account holds a public hosted
/// zone for: each parent, longest first, down to the second-level domain
/// (Route 53 makes no zone for a top-level domain, CreateHostedZone). Two
/// public zones of that name are an error: only one of them can be the one
/// public DNS reaches, and drctl cannot tell which.
pub(crate) async fn parent_zone(
    client: &Client,
    name: &str,
) -> Result<Option<Zone>, ProviderError> {
    let name = bare(name);
    let labels: Vec<&str> = name.split('.').collect();
    for start in 1..labels.len().saturating_sub(1) {
        let candidate = labels[start..].join(".");
        let mut zones = public_zones_named(client, &candidate).await?;
        match zones.len() {
            0 => continue,
            1 => return Ok(zones.pop()),
            _ => {
                let ids: Vec<&str> = zones.iter().map(|z| z.id.as_str()).collect();
                return Err(ProviderError::new(
                    "route53:ListHostedZonesByName",
                    format!(
                        "the account holds {} public hosted zones named {candidate} ({}): drctl cannot tell which one public DNS uses, so it does not delegate {name} from either; delete the one not in use, or delegate {name} yourself and set `hosted_zone_id` to its zone",
                        zones.len(),
                        ids.join(", ")
                    ),
                )
                .with_code("AmbiguousParentZone"));
            }
        }
    }
    Ok(None)
}

/// The name servers the NS record set `name` of `zone` lists (`None`
/// without one, or when the zone is gone).
async fn delegation_in(
    client: &Client,
    zone: &str,
    name: &str,
) -> Result<Option<Vec<String>>, ProviderError> {
    let set = simple_set(client, zone, name, "NS").await?.flatten();
    Ok(set.map(|s| {
        s.resource_records()
            .iter()
            .map(|r| bare(&r.value))
            .collect()
    }))
}

/// Whether a public hosted zone named `name` with the name servers
/// `servers` exists: what a delegation the registrar makes points at. It
/// stands for that delegation in the account (`read`, `find`), which
/// otherwise holds nothing of it.
async fn zone_with(client: &Client, name: &str, servers: &[String]) -> Result<bool, ProviderError> {
    for zone in public_zones_named(client, name).await? {
        if get_zone(client, &zone.id)
            .await?
            .is_some_and(|held| same(&held.servers, servers))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The NS record set delegating `name` to `servers`.
fn ns_set(name: &str, servers: &[String]) -> Result<ResourceRecordSet, ProviderError> {
    let records = servers
        .iter()
        .map(|s| {
            ResourceRecord::builder()
                .value(s)
                .build()
                .map_err(build_err("route53:ResourceRecord"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Ns)
        .ttl(TTL)
        .set_resource_records(Some(records))
        .build()
        .map_err(build_err("route53:ResourceRecordSet"))
}

fn outputs(parent: Option<&Zone>, servers: &[String]) -> Attributes {
    attrs([
        (
            "parent_zone_id",
            json!(parent.map_or("", |p| p.id.as_str())),
        ),
        (
            "parent_zone_name",
            json!(parent.map_or("", |p| p.name.as_str())),
        ),
        ("name_servers", json!(servers)),
    ])
}

/// The refusal to take over a delegation someone else made.
fn taken(name: &str, parent: &Zone, listed: &[String]) -> ProviderError {
    ProviderError::new(
        "route53:ChangeResourceRecordSets",
        format!(
            "hosted zone {} ({}) already delegates {name} to other name servers ({}): drctl does not take over a delegation it did not write (destroy would remove it); if it points at a zone of yours, set `hosted_zone_id` to that zone, else delete that NS record from {} and run `drctl apply` again",
            parent.name,
            parent.id,
            listed.join(", "),
            parent.name
        ),
    )
    .with_code("DelegationExists")
}

/// Writes the delegation of `name` to `servers` into `parent`: CREATE, so
/// that a record written meanwhile by anyone else is refused by Route 53
/// (InvalidChangeBatch) rather than overwritten; a refusal of a record
/// that lists `servers` is this create's own, resent after a lost response.
async fn create_in(
    client: &Client,
    parent: &Zone,
    name: &str,
    servers: &[String],
) -> Result<(), ProviderError> {
    let gone = || {
        ProviderError::new(
            "route53:ChangeResourceRecordSets",
            format!(
                "hosted zone {} ({}) disappeared while drctl wrote the delegation of {name} into it",
                parent.name, parent.id
            ),
        )
        .with_code("NoSuchHostedZone")
    };
    match change(
        client,
        &parent.id,
        ChangeAction::Create,
        ns_set(name, servers)?,
    )
    .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(gone()),
        Err(e) if e.code.as_deref() == Some("InvalidChangeBatch") => {
            match delegation_in(client, &parent.id, name).await? {
                Some(listed) if same(&listed, servers) => Ok(()),
                Some(listed) => Err(taken(name, parent, &listed)),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

#[async_trait]
impl Kind for Delegation {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let name = inputs.name.as_str();
        let servers = inputs.servers(ctx)?;
        let client = self.0.route53();
        let Some(parent) = parent_zone(&client, name).await? else {
            // Only the registrar can delegate: nothing to write.
            return Ok(Applied {
                id: name.to_owned(),
                outputs: outputs(None, &servers),
            });
        };
        match delegation_in(&client, &parent.id, name).await? {
            // An earlier attempt of this create wrote it.
            Some(listed) if same(&listed, &servers) => {}
            Some(listed) => return Err(taken(name, &parent, &listed)),
            None => create_in(&client, &parent, name, &servers).await?,
        }
        Ok(Applied {
            id: name.to_owned(),
            outputs: outputs(Some(&parent), &servers),
        })
    }

    async fn read(&self, ctx: &OpContext, _id: &str, prior: &Inputs) -> Read<Inputs> {
        let name = prior.name.as_str();
        let servers = prior.servers(ctx)?;
        let client = self.0.route53();
        let Some(parent) = parent_zone(&client, name).await? else {
            // The registrar's: nothing of it in the account but the zone it
            // points at, gone with that zone.
            if !zone_with(&client, name, &servers).await? {
                return Ok(None);
            }
            return Ok(Some(Found {
                inputs: prior.clone(),
                outputs: outputs(None, &servers),
            }));
        };
        // Gone, or a parent zone the account did not hold at create: the
        // next apply writes it.
        let Some(listed) = delegation_in(&client, &parent.id, name).await? else {
            return Ok(None);
        };
        // The same name servers read back as given (order, case, dots).
        let mut inputs = prior.clone();
        if !same(&listed, &servers) {
            inputs.name_servers = listed;
        }
        Ok(Some(Found {
            inputs,
            outputs: outputs(Some(&parent), &servers),
        }))
    }

    async fn update(&self, ctx: &OpContext, _id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let name = inputs.name.as_str();
        let servers = inputs.servers(ctx)?;
        let before = prior.servers(ctx).unwrap_or_default();
        let client = self.0.route53();
        let Some(parent) = parent_zone(&client, name).await? else {
            return Ok(outputs(None, &servers));
        };
        match delegation_in(&client, &parent.id, name).await? {
            None => create_in(&client, &parent, name, &servers).await?,
            Some(listed) if same(&listed, &servers) => {}
            // drctl's own record, with the zone's earlier name servers.
            Some(listed) if same(&listed, &before) => {
                let zone = format!("{} ({})", parent.name, parent.id);
                upsert_set(&client, &parent.id, &zone, ns_set(name, &servers)?).await?;
            }
            Some(listed) => return Err(taken(name, &parent, &listed)),
        }
        Ok(outputs(Some(&parent), &servers))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // Only a record listing these name servers is this create's.
        // Without a parent zone the create wrote nothing: it is done while
        // the zone it delegates to exists (as `read` sees it).
        let name = inputs.name.as_str();
        let servers = inputs.servers(ctx)?;
        let client = self.0.route53();
        let Some(parent) = parent_zone(&client, name).await? else {
            let done = zone_with(&client, name, &servers).await?;
            return Ok(done.then(|| name.to_owned()));
        };
        let listed = delegation_in(&client, &parent.id, name).await?;
        Ok(listed
            .filter(|l| same(l, &servers))
            .map(|_| name.to_owned()))
    }

    /// Not called: the delete reads the recorded `parent_zone_id`
    /// (`delete_recorded`).
    async fn delete(&self, ctx: &OpContext, _id: &str, _inputs: &Inputs) -> Done {
        Err(ProviderError::new(
            format!("delete {}", ctx.address),
            "needs the outputs state records",
        ))
    }

    async fn delete_recorded(
        &self,
        ctx: &OpContext,
        _id: &str,
        inputs: &Inputs,
        outputs: &Attributes,
    ) -> Done {
        let name = inputs.name.as_str();
        let Some(parent) = opt_str(outputs, "parent_zone_id").filter(|p| !p.is_empty()) else {
            // The registrar's delegation: not drctl's to remove.
            return Ok(());
        };
        let servers = inputs.servers(ctx)?;
        let client = self.0.route53();
        // A DELETE repeats the record set's current values exactly; one that
        // no longer lists what drctl wrote is someone else's now.
        let Some(current) = simple_set(&client, parent, name, "NS").await?.flatten() else {
            return Ok(());
        };
        let listed: Vec<String> = current
            .resource_records()
            .iter()
            .map(|r| bare(&r.value))
            .collect();
        if !same(&listed, &servers) {
            return Ok(());
        }
        // Refused with drctl's record there: changed meanwhile (an error).
        delete_set(&client, parent, current, async {
            let listed = delegation_in(&client, parent, name).await?;
            Ok(listed.is_some_and(|l| same(&l, &servers)))
        })
        .await
    }

    /// A delegation is named for the zone it delegates: one per hosted
    /// zone of the environment (by its `drctl:env` tag) that is delegated,
    /// as `read` sees it: by an NS record for its name in the closest
    /// parent zone of the account (whatever name servers it lists: read
    /// shows them as drift), or, without such a zone, by the registrar
    /// (there while the zone is).
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.route53();
        let mut names = Vec::new();
        for (_, apex) in env_zones(&client, &scope.env).await? {
            let name = bare(&apex);
            let delegated = match parent_zone(&client, &name).await? {
                None => true,
                Some(parent) => delegation_in(&client, &parent.id, &name).await?.is_some(),
            };
            if delegated {
                names.push(name);
            }
        }
        Ok(names)
    }
}

/// What public DNS needs for ACM to validate a certificate through the
/// hosted zone of `zone` (its id `zone_id`, its name servers `servers`,
/// unknown before the zone exists) when no hosted zone of the account is a
/// parent of it: the registrar's delegation.
pub(crate) fn registrar_advice(
    zone: &str,
    zone_id: Option<&str>,
    servers: Option<&[String]>,
) -> String {
    let which = zone_id.map_or_else(
        || "its hosted zone".to_owned(),
        |id| format!("hosted zone {id}"),
    );
    match servers.filter(|s| !s.is_empty()) {
        Some(servers) => format!(
            "no hosted zone of this account is a parent of {zone}, so drctl cannot delegate it: ACM reads the validation records through public DNS, which reaches {which} only once the registrar of {zone} (or the DNS service of its parent domain) lists its name servers: set them there: {}",
            servers.join(", ")
        ),
        None => format!(
            "no hosted zone of this account is a parent of {zone}, so drctl cannot delegate it: ACM reads the validation records through public DNS, which reaches {which} only once the registrar of {zone} (or the DNS service of its parent domain) lists its name servers; apply creates the zone and names them while it waits for the certificates (and `drctl plan` names them from then on)"
        ),
    }
}

/// The advice a certificate validation wait shows from its `dns` input
/// (`{"zone", "zone_id", "name_servers", "parent_zone", "parent_zone_id"}`;
/// the parent keys only for a zone drctl created and delegates): how public
/// DNS reaches the zone holding the validation record, and what to do.
pub(crate) fn validation_advice(dns: &Json) -> Option<String> {
    let zone = dns.get("zone")?.as_str()?;
    let zone_id = dns.get("zone_id").and_then(Json::as_str);
    let servers: Option<Vec<String>> = dns.get("name_servers").and_then(Json::as_array).map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    });
    let listed = servers
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| s.join(", "))
        .unwrap_or_else(|| "its name servers".to_owned());
    let id = zone_id.unwrap_or("of the domain");
    Some(
        match dns
            .get("parent_zone")
            .map(|p| p.as_str().unwrap_or_default())
        {
            None => format!(
                "hosted zone {id} ({zone}) is yours (`hosted_zone_id`): ACM reads the validation records through public DNS, which reaches it only if the registrar of {zone}, or the zone of its parent domain, lists its name servers: {listed}"
            ),
            Some("") => registrar_advice(zone, zone_id, servers.as_deref()),
            Some(parent) => {
                let parent_id = dns
                    .get("parent_zone_id")
                    .and_then(Json::as_str)
                    .unwrap_or_default();
                format!(
                    "{zone} is delegated to hosted zone {id} ({listed}) by an NS record in hosted zone {parent} ({parent_id}) of this account: ACM reads the validation records through public DNS, which reaches them only if {parent} is itself delegated (its registrar, or its parent domain's zone, lists the name servers of {parent_id})"
                )
            }
        },
    )
}

/// [`validation_advice`] in a few words, for the wait's progress reports
/// (the timeout error has it in full): the name servers to set, or the
/// delegation public DNS goes through.
pub(crate) fn validation_hint(dns: &Json) -> Option<String> {
    let zone = dns.get("zone")?.as_str()?;
    let id = dns
        .get("zone_id")
        .and_then(Json::as_str)
        .unwrap_or("of the domain");
    let listed = dns
        .get("name_servers")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "its name servers".to_owned());
    Some(
        match dns
            .get("parent_zone")
            .map(|p| p.as_str().unwrap_or_default())
        {
            None => format!(
                "public DNS reaches your hosted zone {id} only through its delegation to {listed}"
            ),
            Some("") => format!(
                "no parent zone of {zone} in this account: set the name servers of hosted zone {id} at the registrar of {zone}: {listed}"
            ),
            Some(parent) => format!(
                "public DNS reaches hosted zone {id} through its delegation in hosted zone {parent}"
            ),
        },
    )
}

impl AwsContext {
    /// What a plan says about the DNS of the environment's `domain`
    /// (docs/operations.md, "DNS delegation"): with `hosted_zone_id`, that
    /// drctl uses that zone and never deletes it (or why it cannot);
    /// otherwise the parent hosted zone of the account apply writes the
    /// delegation into, or, without one, which name servers to set at the
    /// registrar (`name_servers`: the zone's, once it exists).
    pub async fn dns_note(
        &self,
        domain: &str,
        hosted_zone_id: Option<&str>,
        name_servers: Option<&[String]>,
    ) -> Result<String, AwsError> {
        let client = self.route53();
        let failed = |e: ProviderError| AwsError(format!("cannot check the DNS of {domain}: {e}"));
        if let Some(id) = hosted_zone_id {
            let Some(zone) = get_zone(&client, id).await.map_err(failed)? else {
                return Ok(format!(
                    "DNS: hosted zone {id} (`hosted_zone_id`) does not exist in this account: apply fails at it; set `hosted_zone_id` to the id of the public hosted zone of {domain}, or remove it and drctl creates one"
                ));
            };
            if bare(&zone.name) != bare(domain) || zone.private {
                return Ok(format!(
                    "DNS: hosted zone {id} (`hosted_zone_id`) is {}{}, not the public zone of {domain}: apply fails at it; set `hosted_zone_id` to the id of the public hosted zone of {domain}",
                    bare(&zone.name),
                    if zone.private { " (private)" } else { "" },
                ));
            }
            let servers = zone.servers;
            return Ok(format!(
                "DNS: drctl uses your hosted zone {id} ({domain}, `hosted_zone_id`): it adds its records there, removes them on destroy, and never deletes the zone. ACM validates the certificates through public DNS, which reaches the zone only if the registrar of {domain}, or the zone of its parent domain, lists its name servers: {}",
                servers.join(", ")
            ));
        }
        match parent_zone(&client, domain).await.map_err(failed)? {
            None => Ok(format!(
                "DNS: {} (docs/operations.md, \"DNS delegation\")",
                registrar_advice(domain, None, name_servers)
            )),
            Some(parent) => {
                let listed = delegation_in(&client, &parent.id, domain)
                    .await
                    .map_err(failed)?;
                Ok(match listed {
                    Some(listed) if !name_servers.is_some_and(|s| same(&listed, s)) => {
                        format!(
                            "DNS: hosted zone {} ({}) of this account already delegates {domain} to name servers drctl did not write ({}): apply will not take that delegation over, and ACM validates through it: if it points at a zone of yours, set `hosted_zone_id` to that zone, else delete that NS record",
                            parent.name,
                            parent.id,
                            listed.join(", ")
                        )
                    }
                    _ => format!(
                        "DNS: apply delegates {domain} to its hosted zone with an NS record in hosted zone {} ({}) of this account, so ACM validates the certificates with no manual step; destroy removes that record and nothing else from {}",
                        parent.name, parent.id, parent.name
                    ),
                })
            }
        }
    }
}
