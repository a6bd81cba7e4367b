//! `drctl import`: an environment part-built without drctl (through the
//! SDK, some names not drctl's) is adopted with an import file and by
//! drctl's names, then planned: no create for what exists, updates where
//! the settings differ. (Built with the Rust SDK rather than boto3: what
//! matters is that drctl did not make them.)

use drctl_core::state;
use drctl_tests::{PRIMARY, Workspace, aws, leftovers};
use predicates::prelude::*;
use serde_json::Value;

const ENV: &str = "imp-legacy";

#[tokio::test(flavor = "multi_thread")]
async fn existing_resources_are_adopted_by_file_and_by_name_then_planned() {
    let ws = Workspace::new(
        ENV,
        "primary_cidr = \"10.164.0.0/16\"\nsecondary_cidr = \"10.165.0.0/16\"\ndatabases_and_functions = false",
    );
    let aws = aws(&ws.endpoint).await;
    let ec2 = aws.ec2(PRIMARY);
    // A VPC and a subnet named another tool's way (no drctl tags).
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.164.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.164.0.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap()
        .subnet
        .unwrap()
        .subnet_id
        .unwrap();
    // A parameter under drctl's name, with another value.
    let parameter = format!("/payment/{ENV}/primary/feature-flags");
    aws.ssm(PRIMARY)
        .put_parameter()
        .name(&parameter)
        .value("{\"legacy\":true}")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let file = ws.path("import.txt");
    std::fs::write(
        &file,
        format!(
            "# From the legacy stack\nprimary/ec2.vpc/payment = \"{vpc}\"\nprimary/ec2.subnet/public-a = \"{subnet}\"\n"
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();

    // A bad file is refused before any call, naming the line.
    std::fs::write(ws.path("bad.txt"), "primary/ec2.vpc/nope = \"vpc-1\"\n").unwrap();
    ws.drctl(&["import", "--file", ws.path("bad.txt").to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "bad.txt:1: `primary/ec2.vpc/nope` is not a resource of this environment",
        ));

    // --dry-run lists what would be adopted and what is missing, writes nothing.
    let adopted = [
        "primary/ec2.vpc/payment",
        "primary/ec2.subnet/public-a",
        "primary/ssm.parameter/feature-flags",
    ];
    let dry = ws
        .drctl(&["import", "--file", file, "--dry-run"])
        .output()
        .unwrap();
    assert!(dry.status.success(), "{dry:?}");
    let text = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(text.contains("Would adopt 3 resource(s):"), "{text}");
    assert!(
        text.contains(&format!(
            "primary/ec2.vpc/payment  {vpc}  (named in the import file)"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "primary/ssm.parameter/feature-flags  {parameter}  (found by name or tags)"
        )),
        "{text}"
    );
    // What needs a resource that does not exist yet cannot be looked up.
    assert!(
        text.contains("primary/sns.topic/alarms  (needs primary/kms.key/payment, not found)"),
        "{text}"
    );
    assert!(text.contains("Not found ("), "{text}");
    assert!(text.contains("Nothing was written (--dry-run)."), "{text}");
    assert!(!ws.state_path().exists());

    ws.drctl(&["import", "--file", file]).assert().success();
    let imported = state::decode(&std::fs::read(ws.state_path()).unwrap()).unwrap();
    let mut names: Vec<String> = imported.resources.keys().map(ToString::to_string).collect();
    names.sort();
    let mut want: Vec<String> = adopted.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want);

    // The plan creates none of them, and updates them to the configuration.
    let plan = ws.drctl(&["plan", "--json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let changes = doc["changes"].as_array().unwrap();
    for address in adopted {
        let change = changes.iter().find(|c| c["address"] == address).unwrap();
        assert_eq!(change["action"], "update", "{address}: {change:#}");
    }
    let creates = changes.iter().filter(|c| c["action"] == "create").count();
    assert_eq!(creates, changes.len() - adopted.len());

    // Apply converges on what was adopted; destroy leaves nothing.
    ws.drctl(&["apply", "--auto-approve"]).assert().success();
    ws.drctl(&["plan", "--detailed-exitcode"]).assert().code(0);
    let tags = ec2.describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
    let vpc_tags = tags.vpcs()[0].tags();
    assert!(
        vpc_tags
            .iter()
            .any(|t| t.key() == Some("Name")
                && t.value() == Some(&format!("payment-{ENV}-primary-vpc"))),
        "the adopted VPC took the configuration's tags: {vpc_tags:?}"
    );

    // A destroy stopped mid-way leaves intents in the journal: import only
    // reads, so it refuses (writing nothing) and names what resolves them.
    let destroy = ["destroy", "--auto-approve", "--allow-data-loss"];
    let journal = ws.path(&format!("state/{ENV}.journal"));
    for crash_after in [40, 30, 20, 50, 60] {
        crate::faults::run(&ws, &destroy, Some(crash_after));
        if journal.exists() {
            break;
        }
    }
    assert!(journal.exists(), "a crashed destroy left a journal");
    let before = (
        std::fs::read(&journal).unwrap(),
        std::fs::read(ws.state_path()).unwrap(),
    );
    for args in [&["import", "--dry-run"][..], &["import"]] {
        ws.drctl(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "run `drctl plan --env {ENV}` first"
            )));
    }
    let after = (
        std::fs::read(&journal).unwrap(),
        std::fs::read(ws.state_path()).unwrap(),
    );
    assert!(before == after, "import wrote nothing");
    ws.drctl(&destroy).assert().success();
    assert!(leftovers(&aws, ENV).await.is_empty());
}
