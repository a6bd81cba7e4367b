//! Destroy in any DR posture. After a failover (a planned switchover, or an
//! unplanned failover allowing data loss) without a failback, the writer of
//! the Aurora global database is the cluster of the secondary role, while
//! the state's dependencies, recorded at creation, delete the secondary
//! cluster before the primary's writer instance. AWS refuses to delete the
//! last instance of the writer cluster while the global database has
//! another member, and to detach the writer before its readers (Aurora User
//! Guide, "Deleting an Amazon Aurora global database", "Removing a cluster
//! from an Amazon Aurora global database"); the emulator refuses both
//! (`tests/emulator/ext_rds.py`). Destroy must leave nothing either way.

use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::dr::{lag_caught_up, state};
use drctl_aws::AwsContext;
use drctl_tests::proxy::{FaultProxy, Faults};
use drctl_tests::{PRIMARY, SECONDARY, Workspace, aws, leftovers};
use serde_json::Value as Json;

/// The ARNs of the global database's members, the writer's first.
async fn members(aws: &AwsContext, env: &str) -> Vec<(String, bool)> {
    let g = aws
        .rds(PRIMARY)
        .describe_global_clusters()
        .global_cluster_identifier(format!("payment-global-{env}"))
        .send()
        .await
        .unwrap();
    let mut members: Vec<(String, bool)> = g.global_clusters()[0]
        .global_cluster_members()
        .iter()
        .map(|m| {
            (
                m.db_cluster_arn().unwrap_or_default().to_owned(),
                m.is_writer() == Some(true),
            )
        })
        .collect();
    members.sort_by_key(|(_, writer)| !writer);
    members
}

/// Asserts the secondary role's cluster writes, the primary's reads.
async fn secondary_writes(ws: &Workspace, aws: &AwsContext, context: &str) {
    let st = state(ws);
    let arn = |role: &str| {
        st["resources"][format!("{role}/rds.cluster/payment")]["outputs"]["arn"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        members(aws, &ws.env).await,
        [(arn("secondary"), true), (arn("primary"), false)],
        "{context}"
    );
}

/// `drctl destroy`, which must succeed.
fn destroy(ws: &Workspace) {
    let out = ws
        .drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "destroy: status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The transaction functions write through the global writer endpoint,
/// which stays the same name across a failover. After a planned failover
/// the secondary writes: destroy detaches the primary (now a reader) before
/// it deletes the writer's last instance, and leaves nothing behind.
#[tokio::test(flavor = "multi_thread")]
async fn destroy_after_a_planned_failover_leaves_nothing() {
    let ws = Workspace::new(
        "dr-dsw",
        "primary_cidr = \"10.236.0.0/16\"\nsecondary_cidr = \"10.237.0.0/16\"",
    );
    ws.drctl(&["apply", "--auto-approve"]).assert().success();
    let aws = aws(&ws.endpoint).await;

    // The global writer endpoint, as DescribeGlobalClusters reports it, is
    // where both regions' transaction functions write.
    let endpoint =
        state(&ws)["resources"]["global/rds.global_cluster/payment"]["outputs"]["endpoint"]
            .as_str()
            .unwrap()
            .to_owned();
    assert!(
        endpoint.starts_with("payment-global-dr-dsw.global-")
            && endpoint.ends_with(".global.rds.amazonaws.com"),
        "{endpoint}"
    );
    for (role, region) in [("primary", PRIMARY), ("secondary", SECONDARY)] {
        let config = aws
            .lambda(region)
            .get_function_configuration()
            .function_name(format!("payment-dr-dsw-{role}-transaction"))
            .send()
            .await
            .unwrap();
        let variables = config.environment().unwrap().variables().unwrap();
        assert_eq!(variables["DB_WRITER_HOST"], endpoint, "{role}");
        let reader = state(&ws)["resources"][format!("{role}/rds.cluster/payment")]["outputs"]
            ["reader_endpoint"]
            .clone();
        assert_eq!(Json::from(variables["DB_HOST"].as_str()), reader, "{role}");
    }

    // State recorded by a drctl before the global `endpoint` output: a
    // plan reads the output once (no full refresh) and changes nothing;
    // the next locked run records it.
    let mut old: Json = state(&ws);
    old["resources"]["global/rds.global_cluster/payment"]["outputs"]
        .as_object_mut()
        .unwrap()
        .remove("endpoint");
    std::fs::write(ws.state_path(), serde_json::to_vec_pretty(&old).unwrap()).unwrap();
    let out = ws.drctl(&["plan", "--detailed-exitcode"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ws.drctl(&["apply", "--auto-approve"]).assert().success();
    assert_eq!(
        state(&ws)["resources"]["global/rds.global_cluster/payment"]["outputs"]["endpoint"],
        Json::from(endpoint.as_str())
    );

    lag_caught_up(&aws, "dr-dsw").await;
    ws.drctl(&["failover", "--auto-approve"]).assert().success();
    secondary_writes(&ws, &aws, "after the failover").await;
    // The same name after the failover: nothing of the functions changes.
    let g = aws
        .rds(SECONDARY)
        .describe_global_clusters()
        .global_cluster_identifier("payment-global-dr-dsw")
        .send()
        .await
        .unwrap();
    assert_eq!(g.global_clusters()[0].endpoint(), Some(endpoint.as_str()));

    destroy(&ws);
    let left = leftovers(&aws, "dr-dsw").await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// After an unplanned failover (the primary fenced off, the secondary the
/// writer): a destroy killed (kill -9) while its RemoveFromGlobalCluster of
/// the primary's cluster is on its way, which AWS carries out after the
/// process died, is finished by the next destroy, which leaves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn destroy_after_an_unplanned_failover_killed_at_the_detach_completes_on_rerun() {
    const HOLD: Duration = Duration::from_secs(3);
    let env = "dr-dun";
    let ws = Workspace::new(
        env,
        "primary_cidr = \"10.238.0.0/16\"\nsecondary_cidr = \"10.239.0.0/16\"",
    );
    ws.drctl(&["apply", "--auto-approve"]).assert().success();
    let aws = aws(&ws.endpoint).await;
    ws.drctl(&["failover", "--unplanned", "--auto-approve"])
        .assert()
        .success();
    secondary_writes(&ws, &aws, "after the unplanned failover").await;

    // AWS refuses to detach the writer while a reader is attached.
    let writer = members(&aws, env).await[0].0.clone();
    let e = aws
        .rds(SECONDARY)
        .remove_from_global_cluster()
        .global_cluster_identifier(format!("payment-global-{env}"))
        .db_cluster_identifier(&writer)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_rds::error::ProvideErrorMetadata::code(&e),
        Some("InvalidGlobalClusterStateFault"),
        "{e:?}"
    );

    // Killed while its RemoveFromGlobalCluster waits in the proxy; the
    // emulator detaches the reader once the process is gone.
    let proxy = FaultProxy::start(
        &ws.endpoint,
        Faults {
            hold: Some(("Action=RemoveFromGlobalCluster&".into(), HOLD)),
            ..Faults::none()
        },
    )
    .await;
    let held = |p: &FaultProxy| p.counts.held.load(Ordering::SeqCst);
    let released = |p: &FaultProxy| p.counts.released.load(Ordering::SeqCst);
    let mut child = ws.spawn(
        &[
            "destroy",
            "--auto-approve",
            "--allow-data-loss",
            "--endpoint",
            &proxy.endpoint,
        ],
        Stdio::from(std::fs::File::create(ws.path("killed-destroy.log")).unwrap()),
    );
    let started = std::time::Instant::now();
    while held(&proxy) == 0 {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let log = std::fs::read_to_string(ws.path("killed-destroy.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "destroy ended ({status}) before any RemoveFromGlobalCluster:\n{}\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no RemoveFromGlobalCluster within 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::process::Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(
        drctl_tests::eventually(HOLD * 4, || released(&proxy) >= held(&proxy)),
        "the held detach landed"
    );
    let after: Vec<String> = members(&aws, env)
        .await
        .into_iter()
        .map(|(arn, _)| arn)
        .collect();
    assert_eq!(after, [writer], "the reader was detached, the writer stays");

    destroy(&ws);
    let left = leftovers(&aws, env).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}
