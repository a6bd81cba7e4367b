//! What a plan says about the DNS of the environment's domain: ACM
//! validates the certificates through public DNS, which reaches the hosted
//! zone only through its delegation (docs/operations.md, "DNS
//! delegation"). Said at once, before anything is created, whenever the
//! plan creates or changes the zone, its delegation or a certificate's
//! validation: where apply delegates the domain, or which name servers to
//! set at the registrar, or that the user's zone stays.

use drctl_blueprint::targets;
use drctl_core::State;
use drctl_core::plan::{Action, Plan};

use crate::workspace::Workspace;

/// The kinds whose change makes the plan speak about DNS.
const DNS_KINDS: [&str; 4] = [
    "route53.hosted_zone",
    "route53.existing_zone",
    "route53.delegation",
    "acm.certificate_validation",
];

/// The name servers of the environment's zone, as state records them.
fn name_servers(state: &State) -> Option<Vec<String>> {
    [targets::hosted_zone(), targets::existing_zone()]
        .iter()
        .filter_map(|a| state.resources.get(a))
        .find_map(|r| {
            let servers: Vec<String> = r
                .outputs
                .get("name_servers")?
                .as_array()?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            (!servers.is_empty()).then_some(servers)
        })
}

/// The DNS note of `plan` (made against `state`), if it has one. A failed
/// lookup is reported in the note, never fatal: the plan stands without
/// it.
pub async fn dns_note(ws: &Workspace, plan: &Plan, state: &State) -> Option<String> {
    let touches_dns = plan
        .changes
        .iter()
        .any(|c| c.action != Action::NoOp && DNS_KINDS.contains(&c.address.kind()));
    if !touches_dns {
        return None;
    }
    let settings = &ws.settings;
    let servers = name_servers(state);
    let text = ws
        .platform()
        .dns_note(
            &settings.domain,
            settings.hosted_zone_id.as_deref(),
            servers.as_deref(),
        )
        .await;
    Some(match text {
        Ok(text) => text,
        Err(e) => format!("DNS: {e}"),
    })
}
