//! Targeted, forced and refresh-only runs through the real binary
//! (`--target`, `--exclude`, `--replace`, `drctl refresh`, `plan
//! --refresh-only`), on the local and the S3 backend.

use drctl_core::state;
use drctl_tests::{PRIMARY, Workspace, aws, emulator_for, leftovers};
use predicates::prelude::*;
use serde_json::Value;

fn lean(env: &str, first_octet: u8) -> Workspace {
    Workspace::new(
        env,
        &format!(
            "primary_cidr = \"10.{first_octet}.0.0/16\"\nsecondary_cidr = \"10.{}.0.0/16\"\ndatabases_and_functions = false",
            first_octet + 1
        ),
    )
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn local_state(ws: &Workspace) -> state::State {
    state::decode(&std::fs::read(ws.state_path()).unwrap()).unwrap()
}

fn addresses(state: &state::State) -> Vec<String> {
    state.resources.keys().map(ToString::to_string).collect()
}

/// Sets the Name tag of `resource` (an EC2 id) out of drctl's sight.
async fn retag(aws: &drctl_aws::AwsContext, resource: &str, name: &str) {
    aws.ec2(PRIMARY)
        .create_tags()
        .resources(resource)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("Name")
                .value(name)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn targeted_excluded_replaced_and_refresh_only_runs() {
    let env = "tgt-local";
    let ws = lean(env, 160);
    let aws = aws(&ws.endpoint).await;

    // A targeted plan keeps what the targets depend on and says it is partial.
    let plan = ws
        .drctl(&["plan", "--target", "primary/ec2.subnet/public-*"])
        .output()
        .unwrap();
    assert!(plan.status.success(), "{plan:?}");
    let text = stdout_of(&plan);
    assert!(
        text.contains("Partial plan (--target primary/ec2.subnet/public-*)"),
        "{text}"
    );
    assert!(
        text.contains("Plan: 4 to add, 0 to change, 0 to destroy."),
        "{text}"
    );
    // A pattern that matches nothing is an error naming the closest address.
    ws.drctl(&["plan", "--target", "primary/ec2.subnet/public-x"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "`primary/ec2.subnet/public-x` matches no resource of this environment; did you mean `primary/ec2.subnet/public-a`?",
        ));
    ws.drctl(&["plan", "--exclude", "ec2.subnet/a"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("is not an address pattern"));

    // Apply with a target and an exclude: the VPC and two subnets only.
    ws.drctl(&[
        "apply",
        "--auto-approve",
        "--target",
        "primary/ec2.subnet/public-*",
        "--exclude",
        "primary/ec2.subnet/public-c",
    ])
    .assert()
    .success();
    assert_eq!(
        addresses(&local_state(&ws)),
        [
            "primary/ec2.subnet/public-a",
            "primary/ec2.subnet/public-b",
            "primary/ec2.vpc/payment"
        ]
    );

    // --replace makes a new subnet though nothing changed; a resource not
    // in state cannot be replaced.
    let before = local_state(&ws);
    let subnet: drctl_core::Address = "primary/ec2.subnet/public-a".parse().unwrap();
    let replaced = ws
        .drctl(&[
            "apply",
            "--auto-approve",
            "--target",
            "primary/ec2.subnet/public-a",
            "--replace",
            "primary/ec2.subnet/public-a",
        ])
        .output()
        .unwrap();
    assert!(replaced.status.success(), "{replaced:?}");
    assert!(
        stdout_of(&replaced).contains("must be replaced (requested with --replace)"),
        "{}",
        stdout_of(&replaced)
    );
    let after = local_state(&ws);
    assert_ne!(
        before.resources[&subnet].id, after.resources[&subnet].id,
        "a new subnet"
    );
    ws.drctl(&["plan", "--replace", "primary/ec2.subnet/public-c"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("not in state"));

    // Refresh records what changed outside drctl, and changes nothing in AWS.
    let b = &after.resources[&"primary/ec2.subnet/public-b".parse().unwrap()];
    retag(&aws, &b.id, "renamed-by-hand").await;
    let refreshed = ws.drctl(&["refresh"]).output().unwrap();
    assert!(refreshed.status.success(), "{refreshed:?}");
    let text = stdout_of(&refreshed);
    assert!(
        text.contains("# primary/ec2.subnet/public-b changed outside drctl"),
        "{text}"
    );
    assert!(text.contains("\"renamed-by-hand\""), "{text}");
    let recorded = local_state(&ws);
    assert_eq!(
        recorded.resources[&"primary/ec2.subnet/public-b".parse().unwrap()].inputs["tags"]["Name"],
        "renamed-by-hand"
    );
    assert!(recorded.serial > after.serial);
    // Nothing more to record; the plan shows what drctl would change back.
    let again = ws
        .drctl(&["plan", "--refresh-only", "--json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(doc["format_version"], drctl_core::plan::PLAN_FORMAT_VERSION);
    assert_eq!(doc["drift"], Value::Null, "{doc:#}");
    assert_eq!(doc["changes"], serde_json::json!([]));
    ws.drctl(&["plan", "--target", "primary/ec2.subnet/public-b"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"renamed-by-hand\""))
        .stdout(predicate::str::contains("will be updated in place"));
    let tags = aws
        .ec2(PRIMARY)
        .describe_tags()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("resource-id")
                .values(&b.id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("Name") && t.value() == Some("renamed-by-hand")),
        "refresh changed nothing in AWS"
    );
    // A targeted refresh reads the targets and what they depend on, as
    // Terraform's: public-b, renamed by hand again, is not read (state
    // keeps what it recorded) until a plan targets it.
    let b_address: drctl_core::Address = "primary/ec2.subnet/public-b".parse().unwrap();
    retag(&aws, &b.id, "renamed-again").await;
    ws.drctl(&[
        "plan",
        "--refresh",
        "--target",
        "primary/ec2.subnet/public-a",
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains("renamed-again").not());
    let name_of_b =
        |ws: &Workspace| local_state(ws).resources[&b_address].inputs["tags"]["Name"].clone();
    assert_eq!(name_of_b(&ws), "renamed-by-hand");
    ws.drctl(&[
        "plan",
        "--refresh",
        "--target",
        "primary/ec2.subnet/public-b",
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains("\"renamed-again\""));
    assert_eq!(name_of_b(&ws), "renamed-again");
    // A resource deleted outside drctl leaves state, listed as gone.
    aws.ec2(PRIMARY)
        .delete_subnet()
        .subnet_id(&b.id)
        .send()
        .await
        .unwrap();
    let gone = ws
        .drctl(&["plan", "--refresh-only", "--json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&gone.stdout).unwrap();
    assert_eq!(doc["drift"][0]["address"], "primary/ec2.subnet/public-b");
    assert_eq!(doc["drift"][0]["gone"], true);
    assert_eq!(
        addresses(&local_state(&ws)),
        ["primary/ec2.subnet/public-a", "primary/ec2.vpc/payment"]
    );

    ws.drctl(&["destroy", "--auto-approve"]).assert().success();
    assert!(leftovers(&aws, env).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn targeted_apply_and_refresh_on_the_s3_backend() {
    let env = "tgt-s3";
    let aws = aws(&emulator_for(env).endpoint).await;
    let bucket = format!(
        "tfstate-targeting-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    aws.s3(PRIMARY)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let ws = lean(env, 162).with_backend(&format!("s3://{bucket}/team"));
    ws.drctl(&[
        "apply",
        "--auto-approve",
        "--target",
        "primary/ec2.vpc/payment",
    ])
    .assert()
    .success();
    let read_state = || async {
        let object = aws
            .s3(PRIMARY)
            .get_object()
            .bucket(&bucket)
            .key(format!("team/{env}.json"))
            .send()
            .await
            .unwrap();
        let bytes = object.body.collect().await.unwrap().into_bytes();
        state::decode(&bytes).unwrap()
    };
    let applied = read_state().await;
    assert_eq!(addresses(&applied), ["primary/ec2.vpc/payment"]);
    let vpc = &applied.resources[&"primary/ec2.vpc/payment".parse().unwrap()];
    retag(&aws, &vpc.id, "vpc-renamed").await;
    ws.drctl(&["refresh"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "# primary/ec2.vpc/payment changed outside drctl",
        ));
    let recorded = read_state().await;
    assert_eq!(
        recorded.resources[&"primary/ec2.vpc/payment".parse().unwrap()].inputs["tags"]["Name"],
        "vpc-renamed"
    );
    ws.drctl(&["destroy", "--auto-approve"]).assert().success();
    assert!(leftovers(&aws, env).await.is_empty());
}
