//! The drctl binary end to end against the emulator.

use drctl_tests::{PRIMARY, SECONDARY, Workspace, aws, leftovers};
use predicates::prelude::*;

/// A fresh plan of `count` resources (exit 2 with --detailed-exitcode),
/// its apply, then no changes with and without reading everything back.
/// Returns the first plan's text.
fn create_from_nothing(ws: &Workspace, count: usize) -> String {
    let plan = ws
        .drctl(&["plan", "--detailed-exitcode"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains(format!(
            "Plan: {count} to add, 0 to change, 0 to destroy."
        )))
        .get_output()
        .stdout
        .clone();
    ws.drctl(&["apply", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "{count} created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 skipped"
        )));
    ws.drctl(&["plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes."));
    ws.drctl(&["plan", "--refresh", "--detailed-exitcode"])
        .assert()
        .code(0);
    String::from_utf8(plan).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_apply_noop_update_destroy_leaves_nothing() {
    let ws = Workspace::new(
        "e2e-slice",
        "primary_cidr = \"10.30.0.0/16\"\nsecondary_cidr = \"10.31.0.0/16\"",
    );

    let count = ws.resource_count();
    let plan = create_from_nothing(&ws, count);
    assert!(plan.contains("+ primary/ec2.vpc/payment (us-east-1)"));
    assert!(plan.contains("(known after apply)"));

    // State: versioned, 0600, one entry per resource, no lock left.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.state_path()).unwrap()).unwrap();
    assert_eq!(state["format_version"], 5);
    // The zones each region offered, looked up once and kept.
    assert_eq!(state["availability_zones"]["us-east-1"][0], "us-east-1a");
    assert_eq!(state["availability_zones"]["us-east-2"][2], "us-east-2c");
    assert_eq!(state["resources"].as_object().unwrap().len(), count);
    assert!(
        state["serial"].as_u64().unwrap() >= count as u64,
        "state is written after every resource"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(ws.state_path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    assert!(!ws.path("state/e2e-slice.lock").exists());

    // A changed setting gives exactly that update, in both regions.
    ws.write_config(
        "primary_cidr = \"10.30.0.0/16\"\nsecondary_cidr = \"10.31.0.0/16\"\nfeature_flags = { new_payment_flow = true }",
    );
    let plan = ws
        .drctl(&["plan", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let plan: serde_json::Value = serde_json::from_slice(&plan).unwrap();
    let changed: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no_op")
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed,
        [
            "primary/ssm.parameter/feature-flags",
            "secondary/ssm.parameter/feature-flags"
        ]
    );
    ws.drctl(&["plan", "--out", "flags.plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Plan: 0 to add, 2 to change, 0 to destroy.",
        ))
        .stdout(predicate::str::contains(
            r#"~ value = "{\"new_payment_flow\":false}" -> "{\"new_payment_flow\":true}""#,
        ));
    ws.drctl(&["apply", "flags.plan", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 created, 2 updated"));
    // The same saved plan again is stale.
    ws.drctl(&["apply", "flags.plan", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: stale plan"));
    ws.drctl(&["plan", "--refresh", "--detailed-exitcode"])
        .assert()
        .code(0);

    // Data is protected: without --allow-data-loss destroy refuses and
    // changes nothing.
    let before = std::fs::read(ws.state_path()).unwrap();
    let refused = ws
        .drctl(&["destroy", "--auto-approve"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "# global/dynamodb.table/session will be destroyed (its data is lost: needs --allow-data-loss)",
        ))
        .stderr(predicate::str::contains("would destroy data held by"))
        .stderr(predicate::str::contains("global/rds.global_cluster/payment (delete)"))
        .stderr(predicate::str::contains("primary/s3.bucket/data (delete)"))
        .stderr(predicate::str::contains("pass --allow-data-loss"));
    assert_eq!(std::fs::read(ws.state_path()).unwrap(), before);
    // Each Aurora cluster's delete names the final snapshot it leaves.
    let plan = String::from_utf8_lossy(&refused.get_output().stdout).into_owned();
    let marker = "# leaves final_snapshot_identifier = \"";
    let snapshot = |role: &str| {
        let name_prefix = format!("payment-e2e-slice-{role}-final-");
        plan.match_indices(marker)
            .map(|(i, _)| {
                let rest = &plan[i + marker.len()..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
            .find(|n| n.starts_with(&name_prefix))
            .unwrap_or_else(|| panic!("{role}:\n{plan}"))
    };
    let final_snapshots = [("primary", PRIMARY), ("secondary", SECONDARY)]
        .map(|(role, region)| (snapshot(role), role, region));
    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "{count} deleted, 0 failed"
        )));
    // ... and leaves it.
    let aws = aws(&ws.endpoint).await;
    for (name, role, region) in &final_snapshots {
        let found = aws
            .rds(region)
            .describe_db_cluster_snapshots()
            .db_cluster_identifier(format!("payment-e2e-slice-{role}"))
            .snapshot_type("manual")
            .send()
            .await
            .unwrap();
        let ids: Vec<&str> = found
            .db_cluster_snapshots()
            .iter()
            .filter_map(|s| s.db_cluster_snapshot_identifier())
            .collect();
        assert_eq!(ids, vec![name.as_str()], "{role}");
        // ... under a key destroy kept, not one it scheduled for deletion:
        // a snapshot whose key is deleted can never be restored.
        let key = found.db_cluster_snapshots()[0]
            .kms_key_id()
            .unwrap_or_else(|| panic!("{role}: the final snapshot is encrypted"));
        assert_eq!(
            key_state(&aws, region, key).await,
            Some(aws_sdk_kms::types::KeyState::Enabled),
            "{role}: {key}"
        );
        assert!(
            plan.contains(&format!("# leaves retained_key_arn = \"{key}\"")),
            "{role}: the plan shows the key it keeps:\n{plan}"
        );
    }
    // The master password's secret, in its recovery window, is readable
    // too: its key is kept (its replica's is the secondary's, seen above).
    let secret = aws
        .secretsmanager(PRIMARY)
        .describe_secret()
        .secret_id("payment-e2e-slice-primary-db-master")
        .send()
        .await
        .unwrap();
    assert!(secret.deleted_date().is_some(), "scheduled for deletion");
    let key = secret.kms_key_id().expect("a customer key");
    assert_eq!(
        key_state(&aws, PRIMARY, key).await,
        Some(aws_sdk_kms::types::KeyState::Enabled)
    );
    ws.drctl(&["show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("is empty"));

    let left = leftovers(&aws, "e2e-slice").await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_shown_by_refresh_and_repaired_by_apply() {
    let ws = Workspace::new(
        "e2e-drift",
        "primary_cidr = \"10.40.0.0/16\"\nsecondary_cidr = \"10.41.0.0/16\"",
    );
    ws.drctl(&["apply", "--auto-approve"]).assert().success();
    let aws = aws(&ws.endpoint).await;
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.state_path()).unwrap()).unwrap();
    let id = |a: &str| state["resources"][a]["id"].as_str().unwrap().to_owned();

    // Out of band: a changed parameter, a deleted subnet (with its
    // association).
    aws.ssm("us-east-2")
        .put_parameter()
        .name("/payment/e2e-drift/secondary/feature-flags")
        .value("{}")
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let ec2 = aws.ec2("us-east-1");
    ec2.disassociate_route_table()
        .association_id(id("primary/ec2.route_table_association/isolated-b"))
        .send()
        .await
        .unwrap();
    ec2.delete_subnet()
        .subnet_id(id("primary/ec2.subnet/isolated-b"))
        .send()
        .await
        .unwrap();

    // An extra rule on the database security group, a deleted function.
    aws.ec2("us-east-2")
        .authorize_security_group_ingress()
        .group_id(id("secondary/ec2.security_group/db"))
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(5432)
                .to_port(5432)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    aws.lambda("us-east-2")
        .delete_function()
        .function_name(id("secondary/lambda.function/notification"))
        .send()
        .await
        .unwrap();

    ws.drctl(&["plan", "--refresh", "--detailed-exitcode"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains(
            "primary/ec2.subnet/isolated-b: no longer exists",
        ))
        .stdout(predicate::str::contains(
            "secondary/ec2.security_group/db: changed outside drctl",
        ))
        .stdout(
            predicate::str::contains(r#"- unmanaged-tcp-5432-5432-0.0.0.0/0"#).or(
                predicate::str::contains("unmanaged-tcp-5432-5432-0.0.0.0/0"),
            ),
        )
        .stdout(predicate::str::contains(
            "secondary/lambda.function/notification: no longer exists",
        ))
        // Its permission went with it.
        .stdout(predicate::str::contains(
            "secondary/lambda.permission/notification-api: no longer exists",
        ))
        .stdout(predicate::str::contains(
            "secondary/ssm.parameter/feature-flags: changed outside drctl",
        ))
        // The subnet and its association come back; the parameter is reset,
        // and the DB subnet group takes the new subnet's id. The function's
        // ARN is unknown until it is re-created, so the method using it,
        // the deployment and the stage are planned as updates; at apply
        // they resolve to no change.
        .stdout(predicate::str::contains(
            "~ primary/rds.db_subnet_group/payment",
        ))
        .stdout(predicate::str::contains(
            "Plan: 4 to add, 6 to change, 0 to destroy.",
        ));
    ws.drctl(&["apply", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains("4 created, 3 updated"));
    ws.drctl(&["plan", "--refresh", "--detailed-exitcode"])
        .assert()
        .code(0);

    // With --json, stdout is the plan document alone; notes go to stderr.
    aws.ssm("us-east-1")
        .put_parameter()
        .name("/payment/e2e-drift/primary/feature-flags")
        .value("{}")
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let out = ws
        .drctl(&["plan", "--refresh", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let plan: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    let updates: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "update")
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(updates, ["primary/ssm.parameter/feature-flags"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("primary/ssm.parameter/feature-flags: changed outside drctl")
    );
    ws.drctl(&["apply", "--auto-approve"]).assert().success();

    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
    assert!(leftovers(&aws, "e2e-drift").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_cleanly_and_the_next_apply_converges() {
    use std::io::{BufRead, BufReader};
    let ws = Workspace::new(
        "e2e-sigint",
        "primary_cidr = \"10.42.0.0/16\"\nsecondary_cidr = \"10.43.0.0/16\"",
    );
    let mut child = ws.spawn(
        &["apply", "--auto-approve", "--parallelism", "2"],
        std::process::Stdio::piped(),
    );
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Interrupt once the first resource has been created.
    for line in lines.by_ref() {
        if line.unwrap().contains("Creation complete") {
            break;
        }
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "stdout: {rest:#?}\nstderr: {stderr}"
    );
    assert!(stderr.contains("Interrupt received"), "{stderr}");
    assert!(
        rest.iter().any(|l| l.contains("not started (stopped)")),
        "{rest:#?}"
    );
    assert!(
        !ws.path("state/e2e-sigint.lock").exists(),
        "the lock is released"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.state_path()).unwrap()).unwrap();
    let saved = state["resources"].as_object().unwrap().len();
    let count = ws.resource_count();
    assert!((1..count).contains(&saved), "{saved} resources saved");

    // The next apply creates exactly the rest: no duplicates.
    ws.drctl(&["apply", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "{} created",
            count - saved
        )));
    ws.drctl(&["plan", "--refresh", "--detailed-exitcode"])
        .assert()
        .code(0);
    let aws = aws(&ws.endpoint).await;
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.state_path()).unwrap()).unwrap();
    let problems = drctl_tests::orphans_and_duplicates(&aws, "e2e-sigint", &state).await;
    assert!(problems.is_empty(), "{problems:#?}");
    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
    assert!(leftovers(&aws, "e2e-sigint").await.is_empty());
}

/// The part of the stack every emulator serves (no Aurora, DynamoDB or
/// Lambda): run on moto in the main lane and on LocalStack in its lane, so
/// two independent emulators check the same lifecycle.
#[tokio::test(flavor = "multi_thread")]
async fn without_databases_and_functions_plan_apply_noop_destroy() {
    let ws = Workspace::new(
        "e2e-lean",
        "primary_cidr = \"10.44.0.0/16\"\nsecondary_cidr = \"10.45.0.0/16\"\ndatabases_and_functions = false\ncontainers = false",
    );
    let count = ws.resource_count();
    let plan = create_from_nothing(&ws, count);
    for left_out in ["rds.", "lambda.", "dynamodb.table"] {
        assert!(!plan.contains(left_out), "{left_out} is in the plan");
    }

    let aws = aws(&ws.endpoint).await;
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.state_path()).unwrap()).unwrap();
    assert_eq!(state["resources"].as_object().unwrap().len(), count);
    let problems = drctl_tests::orphans_and_duplicates(&aws, "e2e-lean", &state).await;
    assert!(problems.is_empty(), "{problems:#?}");

    // The buckets hold data: destroy needs --allow-data-loss.
    ws.drctl(&["destroy", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("primary/s3.bucket/data (delete)"));
    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "{count} deleted, 0 failed"
        )));
    let left = leftovers(&aws, "e2e-lean").await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// The state of the KMS key `key` (an id or ARN) in `region`.
async fn key_state(
    aws: &drctl_aws::AwsContext,
    region: &str,
    key: &str,
) -> Option<aws_sdk_kms::types::KeyState> {
    aws.kms(region)
        .describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .and_then(|m| m.key_state().cloned())
}
