//! DNS delegation end to end (docs/operations.md, "DNS delegation"): ACM
//! validates the certificates through public DNS, which reaches the zone
//! of the environment's domain only through its delegation. The emulator
//! enforces it (tests/emulator/ext_route53.py, "Public DNS"): these
//! workspaces' domains are not registered, so only the delegation each
//! test sets up makes ACM issue.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use drctl_aws::AwsContext;
use drctl_tests::{RUN_LIMIT, Workspace, aws, emulator_for, leftovers};
use predicates::prelude::*;
use serde_json::Value;

/// The part of the stack every emulator serves, in `10.<first_octet>` and
/// the next range, with more settings.
fn lean(first_octet: u8, more: &str) -> String {
    format!(
        "primary_cidr = \"10.{first_octet}.0.0/16\"\nsecondary_cidr = \"10.{}.0.0/16\"\ndatabases_and_functions = false\ncontainers = false\n{more}",
        first_octet + 1
    )
}

fn state(ws: &Workspace) -> Value {
    serde_json::from_slice(&std::fs::read(ws.state_path()).unwrap()).unwrap()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The name servers state records for the zone at `address`, sorted.
fn recorded_servers(ws: &Workspace, address: &str) -> Vec<String> {
    let mut servers: Vec<String> = state(ws)["resources"][address]["outputs"]["name_servers"]
        .as_array()
        .unwrap_or_else(|| panic!("{address} has no name servers in state"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    servers.sort();
    servers
}

/// A public hosted zone made directly, as its owner would: its id.
async fn zone(aws: &AwsContext, name: &str) -> String {
    let out = aws
        .route53()
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("owner-{name}"))
        .send()
        .await
        .unwrap();
    let id = out.hosted_zone().unwrap().id();
    id.strip_prefix("/hostedzone/").unwrap_or(id).to_owned()
}

/// The ids of the hosted zones named `name`.
async fn zones_named(aws: &AwsContext, name: &str) -> Vec<String> {
    let out = aws
        .route53()
        .list_hosted_zones_by_name()
        .dns_name(name)
        .send()
        .await
        .unwrap();
    out.hosted_zones()
        .iter()
        .filter(|z| z.name().trim_end_matches('.') == name)
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_owned())
        .collect()
}

/// The record sets of the zone other than its apex SOA and NS, as
/// `name type values` (values sorted, without trailing dots).
async fn others_in(aws: &AwsContext, zone_id: &str) -> Vec<String> {
    let out = aws
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap();
    let sets = out.resource_record_sets();
    let apex = sets
        .iter()
        .find(|r| r.r#type == RrType::Soa)
        .map(|r| r.name.clone())
        .unwrap();
    sets.iter()
        .filter(|r| !(matches!(r.r#type, RrType::Soa | RrType::Ns) && r.name == apex))
        .map(|r| {
            let mut values: Vec<String> = r
                .resource_records()
                .iter()
                .map(|v| v.value.trim_end_matches('.').to_owned())
                .collect();
            values.sort();
            format!(
                "{} {} {}",
                r.name.trim_end_matches('.'),
                r.r#type.as_str(),
                values.join(",")
            )
        })
        .collect()
}

/// Someone else's TXT record at the zone's apex.
async fn their_txt(aws: &AwsContext, zone_id: &str, name: &str) -> String {
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Txt)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value("\"verification=theirs\"")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    aws.route53()
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Create)
                        .resource_record_set(set)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    format!("{name} TXT \"verification=theirs\"")
}

/// A first apply in an account that holds the parent zone of `domain`
/// issues its certificates with no manual step: drctl writes the NS record
/// delegating `domain` to its new zone into the parent zone, and destroy
/// removes that record and nothing else from it.
#[tokio::test(flavor = "multi_thread")]
async fn a_parent_zone_of_the_account_gets_the_delegation_and_destroy_removes_only_it() {
    let env = "dns-parent";
    let parent = "dns-parent.example.net";
    let domain = format!("payment.{parent}");
    let ws = Workspace::unregistered(env, &lean(220, &format!("domain = \"{domain}\"")));
    let aws = aws(&ws.endpoint).await;
    let parent_id = zone(&aws, parent).await;
    let theirs = their_txt(&aws, &parent_id, parent).await;
    // The registrar of the parent domain lists the parent zone's name
    // servers; nothing delegates `domain` yet.
    emulator_for(env).register_domain(parent);

    let plan = ws.drctl(&["plan"]).output().unwrap();
    assert!(plan.status.success());
    let text = stdout(&plan);
    assert!(
        text.contains("+ global/route53.delegation/payment"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "DNS: apply delegates {domain} to its hosted zone with an NS record in hosted zone {parent} ({parent_id}) of this account"
        )),
        "{text}"
    );

    ws.drctl(&["apply", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "{} created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped",
            ws.resource_count()
        )));
    let servers = recorded_servers(&ws, "global/route53.hosted_zone/payment");
    let delegation = &state(&ws)["resources"]["global/route53.delegation/payment"];
    assert_eq!(delegation["outputs"]["parent_zone_id"], parent_id.as_str());
    assert_eq!(
        others_in(&aws, &parent_id).await,
        // In DNS name order: the parent's apex first.
        [theirs.clone(), format!("{domain} NS {}", servers.join(","))]
    );
    // Nothing left to do, and so nothing to say about DNS.
    ws.drctl(&["plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains("No changes.").and(predicate::str::contains("DNS:").not()),
        );

    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("global/route53.delegation/payment").and(
                predicate::str::contains(format!("{} deleted, 0 failed", ws.resource_count())),
            ),
        );
    assert_eq!(others_in(&aws, &parent_id).await, [theirs]);
    assert_eq!(zones_named(&aws, parent).await, [parent_id]);
    assert!(zones_named(&aws, &domain).await.is_empty());
    let left = leftovers(&aws, env).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// A zone the user already has (`hosted_zone_id`) is used: none is
/// created, drctl's records go into it and leave with destroy, and the
/// zone stays, as the destroy plan says.
#[tokio::test(flavor = "multi_thread")]
async fn an_existing_zone_is_used_not_created_and_kept_on_destroy() {
    let env = "dns-existing";
    let domain = "zone-dns-existing.example.net";
    let aws = aws(&emulator_for(env).endpoint).await;
    let zone_id = zone(&aws, domain).await;
    // `Workspace::new` registers the domain: its registrar lists the
    // user's zone's name servers, as for a zone in use.
    let ws = Workspace::new(
        env,
        &lean(
            222,
            &format!("domain = \"{domain}\"\nhosted_zone_id = \"{zone_id}\""),
        ),
    );

    let plan = ws.drctl(&["plan"]).output().unwrap();
    assert!(plan.status.success());
    let text = stdout(&plan);
    assert!(
        text.contains("+ global/route53.existing_zone/payment"),
        "{text}"
    );
    assert!(!text.contains("route53.hosted_zone/payment"), "{text}");
    assert!(!text.contains("route53.delegation"), "{text}");
    assert!(
        text.contains(&format!("DNS: drctl uses your hosted zone {zone_id}")),
        "{text}"
    );
    assert!(text.contains("never deletes the zone"), "{text}");

    ws.drctl(&["apply", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "{} created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped",
            ws.resource_count()
        )));
    assert_eq!(zones_named(&aws, domain).await, vec![zone_id.clone()]);
    let records = others_in(&aws, &zone_id).await;
    assert_eq!(records.len(), 5, "drctl's records: {records:#?}");

    let destroy = ws
        .drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .output()
        .unwrap();
    let text = stdout(&destroy);
    assert!(destroy.status.success(), "{text}");
    assert!(text.contains("# leaves hosted_zone"), "{text}");
    assert!(
        text.contains(&format!("{zone_id} ({domain}): yours")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} deleted, 0 failed", ws.resource_count())),
        "{text}"
    );
    // The zone stays, without anything drctl put in it.
    assert_eq!(zones_named(&aws, domain).await, vec![zone_id.clone()]);
    assert!(others_in(&aws, &zone_id).await.is_empty());
    let left = leftovers(&aws, env).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
    aws.route53()
        .delete_hosted_zone()
        .id(&zone_id)
        .send()
        .await
        .unwrap();
}

/// Without a parent zone in the account, plan and apply say at once which
/// name servers to set at the registrar (once the zone exists), and the
/// apply waits for the certificates until the registrar delegates the
/// domain: here the test's registrar, part way through the wait.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_parent_zone_plan_and_apply_name_the_name_servers_for_the_registrar() {
    let env = "dns-registrar";
    let domain = format!("payment-{env}.example.com");
    let ws = Workspace::unregistered(env, &lean(224, ""));
    let aws = aws(&ws.endpoint).await;
    let advice = format!("no hosted zone of this account is a parent of {domain}");

    // Before the zone exists: which name servers is not known yet.
    let plan = ws.drctl(&["plan"]).output().unwrap();
    assert!(plan.status.success());
    let text = stdout(&plan);
    assert!(text.contains(&advice), "{text}");
    assert!(
        text.contains(&format!("the registrar of {domain}")),
        "{text}"
    );
    assert!(
        text.contains("apply creates the zone and names them"),
        "{text}"
    );

    // The zone (and its delegation, which writes nothing) alone: from then
    // on the plan names the name servers.
    ws.drctl(&[
        "apply",
        "--auto-approve",
        "--target",
        "global/route53.delegation/payment",
    ])
    .assert()
    .success();
    let delegation = &state(&ws)["resources"]["global/route53.delegation/payment"];
    assert_eq!(delegation["outputs"]["parent_zone_id"], "");
    let servers = recorded_servers(&ws, "global/route53.hosted_zone/payment");
    // As state records them, in the advice's order.
    let held: Vec<String> =
        state(&ws)["resources"]["global/route53.hosted_zone/payment"]["outputs"]["name_servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
    let listed = format!("set them there: {}", held.join(", "));
    assert_eq!(servers.len(), 4);
    let plan = ws.drctl(&["plan"]).output().unwrap();
    let text = stdout(&plan);
    assert!(text.contains(&advice) && text.contains(&listed), "{text}");

    // The apply says it before it starts, then waits for the certificates.
    let mut child = ws.spawn(&["apply", "--auto-approve"], Stdio::piped());
    let lines = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let start = Instant::now();
    while !seen.contains(&listed) {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => seen.push_str(&format!("{line}\n")),
            Err(e) => {
                let _ = child.kill();
                panic!("no advice naming the name servers ({e}); the apply said:\n{seen}");
            }
        }
    }
    assert!(seen.contains(&advice), "{seen}");
    // The certificates are requested and wait: ACM does not see their
    // validation record, which is in a zone nothing delegates to.
    let acm = aws.acm(drctl_tests::PRIMARY);
    loop {
        let listed = acm
            .list_certificates()
            .certificate_statuses(aws_sdk_acm::types::CertificateStatus::PendingValidation)
            .send()
            .await
            .unwrap();
        let ours = listed
            .certificate_summary_list()
            .iter()
            .filter(|c| c.domain_name().is_some_and(|d| d.ends_with(&domain)))
            .count();
        // `api.<domain>` and the probe's name.
        if ours == 2 {
            break;
        }
        if start.elapsed() > Duration::from_secs(240) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("the certificates were not requested; the apply said:\n{seen}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(child.try_wait().unwrap().is_none(), "the apply waits");

    // The registrar of the domain now lists the zone's name servers.
    emulator_for(env).register_domain(&domain);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            panic!("the apply did not finish");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    reader.join().unwrap();
    seen.extend(rx.try_iter().map(|l| format!("{l}\n")));
    assert!(status.success(), "{seen}");
    assert!(seen.contains("0 failed, 0 skipped"), "{seen}");

    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
    let left = leftovers(&aws, env).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}
