//! Saved plans are checked, not trusted: `drctl apply FILE` makes the plan
//! again from drctl.toml and the state, and refuses a file whose changes,
//! data-loss marks, settings or digest differ, before any AWS call.

use std::collections::BTreeMap;
use std::time::Duration;

use drctl_core::plan::{self, Plan};
use drctl_core::state::{self, ResourceState, State};
use drctl_tests::{ConnectionCounter, PRIMARY, SECONDARY, Workspace, leftovers};
use predicates::prelude::*;

/// An environment without databases, functions or containers.
fn lean(first_octet: u8) -> String {
    format!(
        "primary_cidr = \"10.{first_octet}.0.0/16\"\nsecondary_cidr = \"10.{}.0.0/16\"\ndatabases_and_functions = false\ncontainers = false",
        first_octet + 1
    )
}

/// A state written by the test: account and zones recorded (so neither
/// `plan` nor `apply` needs AWS before its checks) and both regions'
/// Aurora clusters, which a lean drctl.toml no longer declares: its plan
/// deletes them, and those deletes destroy data.
fn write_state_with_databases(ws: &Workspace) -> Vec<u8> {
    let mut s = State::new(&ws.env);
    s.serial = 3;
    s.account_id = Some("123456789012".into());
    for region in [PRIMARY, SECONDARY] {
        s.availability_zones.insert(
            region.into(),
            ["a", "b", "c"].map(|z| format!("{region}{z}")).to_vec(),
        );
    }
    for (role, region) in [("primary", PRIMARY), ("secondary", SECONDARY)] {
        s.resources.insert(
            format!("{role}/rds.cluster/payment").parse().unwrap(),
            ResourceState {
                kind: "rds.cluster".into(),
                region: region.into(),
                id: format!("payment-{}-{role}", ws.env),
                inputs: BTreeMap::from([("engine".to_string(), "aurora-postgresql".into())]),
                outputs: Default::default(),
                dependencies: Default::default(),
            },
        );
    }
    let bytes = state::encode(&s);
    std::fs::create_dir_all(ws.path("state")).unwrap();
    std::fs::write(ws.state_path(), &bytes).unwrap();
    bytes
}

fn read_plan(ws: &Workspace, name: &str) -> Plan {
    plan::decode(&std::fs::read(ws.path(&format!("plans/{name}"))).unwrap()).unwrap()
}

fn write_plan(ws: &Workspace, name: &str, plan: &Plan) {
    std::fs::write(ws.path(&format!("plans/{name}")), plan::encode(plan)).unwrap();
}

/// Long enough for a run that makes no call; a run that calls the
/// counter (which never answers) is stopped by it and so fails.
const NO_CALL_LIMIT: Duration = Duration::from_secs(60);

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The measured case (a plan to drop the databases, its data-loss marks
/// cleared by hand, applied without --allow-data-loss) and a plan made
/// from another drctl.toml: both refused, naming what differs, with no
/// connection to AWS and the state untouched.
#[test]
fn a_saved_plan_that_differs_from_the_plan_made_now_is_refused_before_any_call() {
    let counter = ConnectionCounter::start();
    let ws = Workspace::with_endpoint("plan-check", &lean(180), &counter.endpoint);
    let state_bytes = write_state_with_databases(&ws);
    ws.drctl(&["plan", "--target", "*/rds.cluster/*", "--out", "drop.plan"])
        .timeout(NO_CALL_LIMIT)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Plan: 0 to add, 0 to change, 2 to destroy.",
        ));
    let made = read_plan(&ws, "drop.plan");
    assert_eq!(made.format_version, plan::PLAN_FORMAT_VERSION);
    assert!(made.digest.is_some());
    assert_eq!(made.data_loss().count(), 2, "{made:?}");

    // The marks cleared by hand.
    let mut edited = made.clone();
    for c in &mut edited.changes {
        c.data_loss = false;
    }
    write_plan(&ws, "edited.plan", &edited);
    let refused = ws
        .drctl(&["apply", "plans/edited.plan", "--auto-approve"])
        .timeout(NO_CALL_LIMIT)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let err = stderr_of(&refused);
    for expected in [
        "is not the plan drctl makes now from drctl.toml and the state (serial 3); nothing was changed",
        "its content does not match its digest: it was changed after `drctl plan` wrote it",
        "`primary/rds.cluster/payment`: the plan says its delete destroys no data; made now, it destroys data",
        "`secondary/rds.cluster/payment`: the plan says its delete destroys no data; made now, it destroys data",
        "Make a new plan with `drctl plan --env plan-check --out FILE`",
    ] {
        assert!(err.contains(expected), "{expected}\n---\n{err}");
    }

    // The same, its digest computed again by whoever edited it: the
    // recomputed marks still differ.
    let mut resealed = edited.clone();
    let digest = resealed.digest.as_mut().unwrap();
    digest.document = plan::sha256_json(&Plan {
        digest: None,
        ..edited.clone()
    });
    write_plan(&ws, "resealed.plan", &resealed);
    let refused = ws
        .drctl(&["apply", "plans/resealed.plan", "--auto-approve"])
        .timeout(NO_CALL_LIMIT)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let err = stderr_of(&refused);
    assert!(
        err.contains("`primary/rds.cluster/payment`: the plan says its delete destroys no data"),
        "{err}"
    );
    assert!(!err.contains("does not match its digest"), "{err}");

    // The untouched plan is refused by the data-loss guard, on the marks
    // made now.
    ws.drctl(&["apply", "plans/drop.plan", "--auto-approve"])
        .timeout(NO_CALL_LIMIT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the plan would destroy data held by primary/rds.cluster/payment (delete), secondary/rds.cluster/payment (delete); nothing was changed",
        ));

    // A plan of an older drctl (no digest) is refused: make a new one.
    let mut doc: serde_json::Value = serde_json::from_slice(&plan::encode(&made)).unwrap();
    doc["format_version"] = 3.into();
    doc.as_object_mut().unwrap().remove("digest");
    std::fs::write(ws.path("plans/old.plan"), doc.to_string()).unwrap();
    ws.drctl(&[
        "apply",
        "plans/old.plan",
        "--auto-approve",
        "--allow-data-loss",
    ])
    .timeout(NO_CALL_LIMIT)
    .assert()
    .code(1)
    .stderr(predicate::str::contains(
        "it carries no digest of what it was made from (plan format 3",
    ))
    .stderr(predicate::str::contains("Make a new plan"));

    // Made from another drctl.toml: the same deletes, but the settings
    // (and so the declared resources) differ, and are named.
    ws.write_config(&lean(182));
    ws.drctl(&["apply", "plans/drop.plan", "--auto-approve", "--allow-data-loss"])
        .timeout(NO_CALL_LIMIT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "it was made from other settings of `[env.plan-check]` than drctl.toml gives now: `primary_cidr`, `secondary_cidr` differ",
        ))
        .stderr(predicate::str::contains(
            "the resources drctl.toml and this drctl declare differ from those it was made from",
        ));

    assert_eq!(counter.connections(), 0, "no call to AWS");
    assert_eq!(
        std::fs::read(ws.state_path()).unwrap(),
        state_bytes,
        "state untouched"
    );
}

/// An untouched saved plan still applies: a targeted one (a VPC), made
/// for an environment with no state yet (account and zones it looked up
/// are in the plan).
#[tokio::test(flavor = "multi_thread")]
async fn an_untouched_saved_plan_applies() {
    let ws = Workspace::new("plan-apply", &lean(184));
    let aws = drctl_tests::aws(&ws.endpoint).await;
    ws.drctl(&[
        "plan",
        "--target",
        "primary/ec2.vpc/payment",
        "--out",
        "vpc.plan",
    ])
    .assert()
    .success();
    ws.drctl(&["apply", "vpc.plan", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 created"));
    let s = state::decode(&std::fs::read(ws.state_path()).unwrap()).unwrap();
    assert_eq!(
        s.resources
            .keys()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["primary/ec2.vpc/payment"]
    );
    // A forced replacement, saved and applied: made again the same way.
    ws.drctl(&[
        "plan",
        "--target",
        "primary/ec2.vpc/payment",
        "--replace",
        "primary/ec2.vpc/payment",
        "--out",
        "replace.plan",
    ])
    .assert()
    .success();
    ws.drctl(&["apply", "replace.plan", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 replaced"));
    let replaced = state::decode(&std::fs::read(ws.state_path()).unwrap()).unwrap();
    let vpc: drctl_core::Address = "primary/ec2.vpc/payment".parse().unwrap();
    assert_ne!(replaced.resources[&vpc].id, s.resources[&vpc].id);
    ws.drctl(&["destroy", "--auto-approve"]).assert().success();
    assert_eq!(leftovers(&aws, &ws.env).await, Vec::<String>::new());
}
