//! Any region pair works: drctl looks each region's Availability Zones up
//! (EC2 DescribeAvailabilityZones) instead of assuming `<region>a`, `b`,
//! `c`, records them in state, and keeps them. moto offers us-west-1 two
//! zones, and ap-northeast-1 three of which one is past `c`
//! (`ap-northeast-1a`, `c`, `d`), as AWS offers some accounts; its
//! CreateSubnet refuses a zone the region does not offer, as AWS does
//! (`tests/emulator/ext_ec2_zones.py`).

use std::collections::BTreeSet;

use drctl_tests::{ConnectionCounter, Workspace, aws, emulator_for, still_found};
use serde_json::{Value, json};

const PRIMARY: &str = "us-west-1";
const SECONDARY: &str = "ap-northeast-1";

/// The lookup through the real SDK client: only the region's
/// Availability Zones, in name order.
#[tokio::test(flavor = "multi_thread")]
async fn the_lookup_lists_the_zones_each_region_offers() {
    let aws = aws(&emulator_for("zones-lookup").endpoint).await;
    assert_eq!(
        aws.availability_zones(PRIMARY).await.unwrap(),
        ["us-west-1a", "us-west-1b"]
    );
    assert_eq!(
        aws.availability_zones(SECONDARY).await.unwrap(),
        ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
    );
    let east = aws.availability_zones("us-east-1").await.unwrap();
    assert_eq!(east.len(), 6, "{east:?}");
    assert!(east.iter().all(|z| z.starts_with("us-east-1")), "{east:?}");
}

/// The emulator's rule, as AWS answers: a subnet in a zone its region does
/// not offer (another region's, or one the account is not offered) is
/// InvalidParameterValue naming the zones it does offer.
#[tokio::test(flavor = "multi_thread")]
async fn a_subnet_in_a_zone_the_region_does_not_offer_is_refused() {
    let aws = aws(&emulator_for("zones-refused").endpoint).await;
    let ec2 = aws.ec2(PRIMARY);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.214.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    for (i, zone) in ["us-east-1a", "us-west-1c"].into_iter().enumerate() {
        let err = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.214.{i}.0/24"))
            .availability_zone(zone)
            .send()
            .await
            .expect_err(zone)
            .into_service_error();
        assert_eq!(err.meta().code(), Some("InvalidParameterValue"), "{zone}");
        assert!(
            err.meta().message().is_some_and(|m| m.contains(
                "Subnets can currently only be created in the following availability zones: us-west-1a, us-west-1b"
            )),
            "{zone}: {err:?}"
        );
    }
    ec2.delete_vpc().vpc_id(&vpc).send().await.unwrap();
}

/// The whole stack in a region with two zones and one whose zone names
/// are not `a`, `b`, `c`: a subnet per tier and zone, named after the
/// zone; the load balancer and the database span what the region offers;
/// the zones are recorded once, so the next plan makes no call; destroy
/// leaves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_two_zone_region_and_zones_past_c_plan_apply_and_destroy() {
    let env = "zones-pair";
    let ws = Workspace::new(
        env,
        &format!(
            "primary_region = \"{PRIMARY}\"\nsecondary_region = \"{SECONDARY}\"\nprimary_cidr = \"10.212.0.0/16\"\nsecondary_cidr = \"10.213.0.0/16\""
        ),
    );
    let plan = ws.drctl(&["plan", "--json"]).output().unwrap();
    assert!(plan.status.success(), "{plan:?}");
    let doc: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let subnets: BTreeSet<(String, String)> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["address"].as_str().unwrap().contains("/ec2.subnet/"))
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_owned(),
                c["inputs"]["availability_zone"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    let mut want = BTreeSet::new();
    for (role, region, zones) in [
        ("primary", PRIMARY, &["a", "b"][..]),
        ("secondary", SECONDARY, &["a", "c", "d"][..]),
    ] {
        for tier in ["public", "private", "isolated"] {
            for z in zones {
                want.insert((
                    format!("{role}/ec2.subnet/{tier}-{z}"),
                    format!("{region}{z}"),
                ));
            }
        }
    }
    assert_eq!(subnets, want);
    // A plan records nothing: the zones go into state with the apply.
    assert!(!ws.state_path().exists());

    ws.drctl(&["apply", "--auto-approve"]).assert().success();
    let state: Value = serde_json::from_slice(&std::fs::read(ws.state_path()).unwrap()).unwrap();
    assert_eq!(
        state["availability_zones"],
        json!({PRIMARY: ["us-west-1a", "us-west-1b"], SECONDARY: ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]})
    );

    // In AWS: each tier's subnets one per zone; the load balancer in both
    // of the primary's zones.
    let aws = aws(&ws.endpoint).await;
    let by_env = aws_sdk_ec2::types::Filter::builder()
        .name("tag:drctl:env")
        .values(env)
        .build();
    let found = aws
        .ec2(PRIMARY)
        .describe_subnets()
        .filters(by_env)
        .send()
        .await
        .unwrap();
    let mut zones: Vec<&str> = found
        .subnets()
        .iter()
        .filter_map(|s| s.availability_zone())
        .collect();
    zones.sort_unstable();
    assert_eq!(
        zones,
        [
            "us-west-1a",
            "us-west-1a",
            "us-west-1a",
            "us-west-1b",
            "us-west-1b",
            "us-west-1b"
        ]
    );
    let lbs = aws
        .elbv2(PRIMARY)
        .describe_load_balancers()
        .names(format!("payment-{env}-pri"))
        .send()
        .await
        .unwrap();
    let mut lb_zones: Vec<&str> = lbs.load_balancers()[0]
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name())
        .collect();
    lb_zones.sort_unstable();
    assert_eq!(lb_zones, ["us-west-1a", "us-west-1b"]);

    // Recorded and kept: the next plan changes nothing with every
    // endpoint unanswered (no lookup, no other call).
    let counter = ConnectionCounter::start();
    ws.drctl(&["plan", "--detailed-exitcode"])
        .env("AWS_ENDPOINT_URL", &counter.endpoint)
        .assert()
        .code(0);
    assert_eq!(counter.connections(), 0);

    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
    let left = still_found(&aws, env, &state).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}
