//! DR operations through the drctl binary: status, failover (planned and
//! unplanned), failback, drill, and a failover killed at every AWS call.

use std::process::Output;
use std::sync::atomic::Ordering;
use std::time::Duration;

use drctl_aws::AwsContext;
use drctl_dr::Role;
use drctl_dr::routing::{self, WeightedRecord};
use drctl_tests::proxy::{Call, FaultProxy, Faults, Refused};
use drctl_tests::{ConnectionCounter, PRIMARY, SECONDARY, Workspace, aws, leftovers};
use predicates::prelude::*;
use serde_json::Value as Json;

fn json_of(out: &Output) -> Json {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `drctl status --json`, its exit code and document.
fn status(ws: &Workspace) -> (i32, Json) {
    let out = ws.drctl(&["status", "--json"]).output().unwrap();
    (out.status.code().unwrap(), json_of(&out))
}

/// Asserts the environment is ready with `role` serving and writing.
fn assert_serving(ws: &Workspace, role: &str, context: &str) {
    let (code, s) = status(ws);
    assert_eq!(code, 0, "{context}: {s:#}");
    assert_eq!(s["ready"], true, "{context}: {s:#}");
    assert_eq!(s["recorded_active_role"], role, "{context}");
    assert_eq!(s["traffic"]["serving_role"], role, "{context}");
    assert_eq!(s["database"]["writer_role"], role, "{context}");
    let weights: Vec<&Json> = s["traffic"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["weight"])
        .collect();
    // A fenced primary keeps its weight; Route 53 routes around it.
    let fenced = s["traffic"]["fence"]["fenced"] == true;
    let expected = if role == "primary" || fenced {
        [100, 0]
    } else {
        [0, 100]
    };
    assert_eq!(
        weights,
        expected.map(Json::from).iter().collect::<Vec<_>>(),
        "{context}"
    );
}

/// The AWS error code of a failed SDK call.
fn code<E: aws_sdk_rds::error::ProvideErrorMetadata, R>(
    e: &aws_sdk_rds::error::SdkError<E, R>,
) -> Option<String> {
    use aws_sdk_rds::error::ProvideErrorMetadata as _;
    e.code().map(str::to_owned)
}

/// The environment's state: the local file, or with `[backend]` in
/// drctl.toml the replica's copy (every write reaches it first).
pub(crate) fn state(ws: &Workspace) -> Json {
    if let Ok(bytes) = std::fs::read(ws.state_path()) {
        return serde_json::from_slice(&bytes).unwrap();
    }
    let (primary, replica) = s3_copies(ws);
    serde_json::from_slice(replica.as_ref().unwrap_or(&primary)).unwrap()
}

/// With `[backend]` in drctl.toml: the state object in the primary
/// bucket and in the replica (if any), without trailing whitespace (every
/// lock acquire fences the state by adding a trailing space: new bytes,
/// the same document).
fn s3_copies(ws: &Workspace) -> (Vec<u8>, Option<Vec<u8>>) {
    let config = drctl_blueprint::Config::load(&ws.path("drctl.toml")).unwrap();
    let backend = config.backend.expect("no local state and no [backend]");
    let endpoint = ws.endpoint.clone();
    let key = |url: &drctl_blueprint::S3Url| format!("{}/{}.json", url.prefix, ws.env);
    let get = |bucket: String, key: String, region: &'static str| {
        let endpoint = endpoint.clone();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async move {
                let out = aws(&endpoint)
                    .await
                    .s3(region)
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .unwrap();
                let bytes = out.body.collect().await.unwrap().into_bytes();
                bytes.trim_ascii_end().to_vec()
            })
        })
    };
    let primary = get(backend.url.bucket.clone(), key(&backend.url), PRIMARY);
    let replica = backend
        .replica_url
        .map(|url| get(url.bucket.clone(), key(&url), SECONDARY));
    (primary, replica)
}

/// Two new state buckets, one per region, named without the env (so its
/// inventory never lists them); returns the `[backend]` table.
async fn state_buckets(aws: &AwsContext, purpose: &str) -> String {
    let primary = crate::backend_replica::bucket_in(aws, PRIMARY, purpose).await;
    let replica = crate::backend_replica::bucket_in(aws, SECONDARY, purpose).await;
    format!("[backend]\nurl = \"s3://{primary}/team\"\nreplica_url = \"s3://{replica}/team\"\n\n")
}

/// Test-only setup: `AuroraGlobalDBRPOLag` datapoints of `seconds` for
/// the cluster `id` in `region`, one a minute from a minute ago on,
/// so that drctl's five-minute look-back finds one through a long test
/// (CloudWatch takes timestamps up to two hours ahead). On AWS, Aurora
/// publishes this metric and PutMetricData refuses an `AWS/` namespace
/// (CloudWatch API reference, PutMetricData); moto 5.2.5 accepts it.
/// With `source_region`, the datapoints also carry the `SourceRegion`
/// dimension: drctl finds the metric whatever the dimension set beside
/// `DBClusterIdentifier`.
async fn publish_lag(
    aws: &AwsContext,
    region: &str,
    id: &str,
    seconds: f64,
    minutes: u64,
    source_region: Option<&str>,
) {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    let start = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    let mut dimensions = vec![
        Dimension::builder()
            .name("DBClusterIdentifier")
            .value(id)
            .build(),
    ];
    if let Some(r) = source_region {
        dimensions.push(Dimension::builder().name("SourceRegion").value(r).build());
    }
    let data: Vec<MetricDatum> = (0..minutes)
        .map(|m| {
            MetricDatum::builder()
                .metric_name("AuroraGlobalDBRPOLag")
                .set_dimensions(Some(dimensions.clone()))
                .timestamp(DateTime::from(
                    start + std::time::Duration::from_secs(60 * m),
                ))
                .value(seconds * 1000.0)
                .unit(StandardUnit::Milliseconds)
                .build()
        })
        .collect();
    aws.cloudwatch(region)
        .put_metric_data()
        .namespace("AWS/RDS")
        .set_metric_data(Some(data))
        .send()
        .await
        .unwrap();
}

/// A lag of 0.5 s for both clusters of `env` for the next hour.
pub(crate) async fn lag_caught_up(aws: &AwsContext, env: &str) {
    publish_lag(
        aws,
        PRIMARY,
        &format!("payment-{env}-primary"),
        0.5,
        60,
        None,
    )
    .await;
    publish_lag(
        aws,
        SECONDARY,
        &format!("payment-{env}-secondary"),
        0.5,
        60,
        None,
    )
    .await;
}

/// Runs drctl with `args` through a proxy that forwards every call: its
/// output and the calls it made, in order.
async fn logged(ws: &Workspace, args: &[&str]) -> (Output, Vec<Call>) {
    let proxy = FaultProxy::start(&ws.endpoint, Faults::none()).await;
    let out = ws
        .drctl(args)
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .output()
        .unwrap();
    let calls = proxy.counts.calls.lock().unwrap().clone();
    (out, calls)
}

/// The index of the first call in `calls` that `is` matches.
fn first(calls: &[Call], is: impl Fn(&Call) -> bool) -> usize {
    calls
        .iter()
        .position(is)
        .unwrap_or_else(|| panic!("no such call in {calls:#?}"))
}

/// Route 53's ChangeResourceRecordSets (REST: `POST .../rrset`).
fn is_record_change(c: &Call) -> bool {
    c.operation.starts_with("POST /2013-04-01/hostedzone/") && c.operation.contains("/rrset")
}

/// Route 53's GetChange (REST: `GET /2013-04-01/change/ID`).
fn is_get_change(c: &Call) -> bool {
    c.operation.starts_with("GET /2013-04-01/change/")
}

/// The calls that ask AWS to move the writer.
fn writer_moves(calls: &[Call]) -> Vec<&Call> {
    calls
        .iter()
        .filter(|c| {
            c.operation == "SwitchoverGlobalCluster" || c.operation == "FailoverGlobalCluster"
        })
        .collect()
}

fn in_sync(ws: &Workspace, context: &str) {
    in_sync_at(ws, &[], context);
}

/// What a switch changes (the weighted records and the Aurora global
/// cluster), and what they depend on, agree with state, read back.
fn switched_parts_in_sync(ws: &Workspace, context: &str) {
    let targets = [
        "global/route53.record/api-*",
        "global/rds.global_cluster/payment",
        "*/rds.cluster/payment",
    ];
    in_sync_at(ws, &targets, context);
}

/// A refreshed plan (of `targets` and what they depend on; of everything
/// when there are none) changes nothing.
fn in_sync_at(ws: &Workspace, targets: &[&str], context: &str) {
    let mut args = vec!["plan", "--refresh", "--detailed-exitcode"];
    for t in targets {
        args.extend(["--target", t]);
    }
    let out = ws.drctl(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{context}: {}", text(&out));
}

/// Whether Route 53's health checkers would find the health check `id`
/// healthy, from its configuration: a calculated check by its children and
/// threshold, an alarm's by the alarm's state (ALARM: unhealthy), an
/// endpoint's as healthy (the emulator serves no endpoint to probe).
async fn health_check_passes(aws: &AwsContext, id: &str) -> bool {
    let got = aws
        .route53()
        .get_health_check()
        .health_check_id(id)
        .send()
        .await
        .unwrap();
    let config = got.health_check().unwrap().health_check_config().unwrap();
    match config.r#type().as_str() {
        "CALCULATED" => {
            let mut healthy = 0;
            for child in config.child_health_checks() {
                if Box::pin(health_check_passes(aws, child)).await {
                    healthy += 1;
                }
            }
            healthy >= config.health_threshold().unwrap_or(0)
        }
        "CLOUDWATCH_METRIC" => {
            let alarm = config.alarm_identifier().expect("an alarm identifier");
            let found = aws
                .cloudwatch(alarm.region().as_str())
                .describe_alarms()
                .alarm_names(alarm.name())
                .send()
                .await
                .unwrap();
            found.metric_alarms()[0].state_value().map(|s| s.as_str()) != Some("ALARM")
        }
        _ => true,
    }
}

/// An environment for DR operations, applied: state, journal and lock in
/// S3 with a replica in the secondary region (what an unplanned failover
/// runs on), and the Aurora lag caught up.
struct DrEnv {
    ws: Workspace,
    aws: AwsContext,
    /// The `[backend]` table and the environment's settings.
    backend: String,
    settings: String,
}

impl DrEnv {
    /// `env` in 10.`octet`.0.0/16 and the next /16; its state buckets are
    /// named for `purpose`.
    async fn applied(env: &str, octet: u8, purpose: &str) -> DrEnv {
        let settings = format!(
            "primary_cidr = \"10.{octet}.0.0/16\"\nsecondary_cidr = \"10.{}.0.0/16\"",
            octet + 1
        );
        let ws = Workspace::new(env, &settings);
        let aws = aws(&ws.endpoint).await;
        let backend = state_buckets(&aws, purpose).await;
        let dr = DrEnv {
            ws,
            aws,
            backend,
            settings,
        };
        dr.configure("");
        dr.ws.drctl(&["apply", "--auto-approve"]).assert().success();
        assert!(!dr.ws.state_path().exists(), "state is in S3");
        lag_caught_up(&dr.aws, env).await;
        dr
    }

    /// drctl.toml with `extra` settings for the environment.
    fn configure(&self, extra: &str) {
        let (backend, env, settings) = (&self.backend, &self.ws.env, &self.settings);
        std::fs::write(
            self.ws.path("drctl.toml"),
            format!("{backend}[env.{env}]\n{settings}\n{extra}"),
        )
        .unwrap()
    }

    /// Destroys it, leaving nothing behind.
    async fn destroy(&self) {
        self.ws
            .drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
            .assert()
            .success();
        let left = leftovers(&self.aws, &self.ws.env).await;
        assert!(left.is_empty(), "left behind: {left:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_planned_failover_failback_and_drills() {
    let dr = DrEnv::applied("dr-ops", 110, "drops").await;
    let (ws, aws) = (&dr.ws, &dr.aws);

    // Ready, the primary serving and writing; every part reported.
    assert_serving(ws, "primary", "after apply");
    let (_, s) = status(ws);
    assert_eq!(s["database"]["status"], "available");
    assert_eq!(s["database"]["members"].as_array().unwrap().len(), 2);
    assert_eq!(s["session_table"]["status"], "ACTIVE");
    assert_eq!(s["session_table"]["replicas"][0]["region"], SECONDARY);
    assert_eq!(s["session_table"]["replicas"][0]["status"], "ACTIVE");
    assert_eq!(s["s3_replication"]["rule_status"], "Enabled");
    assert_eq!(s["s3_replication"]["destination_versioning"], "Enabled");
    ws.drctl(&["status"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "primary (us-east-1) serves; weights primary 100, secondary 0",
        ))
        .stdout(predicate::str::contains("writer primary (us-east-1)"))
        .stdout(predicate::str::contains(
            "Ready: a switch to the secondary region can start.",
        ));

    // Backups: none yet; then a backup of the primary's table and its copy
    // to the secondary's vault, as the plan's rule makes them, are the
    // primary's last backup and copy.
    let backups = s["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 2, "{s:#}");
    assert_eq!(backups[0]["vault"], "payment-dr-ops-primary-backup");
    assert_eq!(
        backups[0]["copy_destination_vault"],
        "payment-dr-ops-secondary-backup"
    );
    assert_eq!(backups[1]["region"], SECONDARY);
    for b in backups {
        assert_eq!(
            (&b["last_backup"], &b["last_copy"]),
            (&Json::Null, &Json::Null)
        );
    }
    ws.drctl(&["status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("last backup   none yet"));
    let st = state(ws);
    let output = |a: &str, key: &str| {
        st["resources"][a]["outputs"][key]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let table = "arn:aws:dynamodb:us-east-1:123456789012:table/SessionTable-dr-ops";
    let role = output("primary/iam.role/backup", "arn");
    let backup = aws.backup(PRIMARY);
    let job = backup
        .start_backup_job()
        .backup_vault_name("payment-dr-ops-primary-backup")
        .resource_arn(table)
        .iam_role_arn(&role)
        .send()
        .await
        .unwrap();
    backup
        .start_copy_job()
        .recovery_point_arn(job.recovery_point_arn().unwrap())
        .source_backup_vault_name("payment-dr-ops-primary-backup")
        .destination_backup_vault_arn(output("secondary/backup.vault/payment", "arn"))
        .iam_role_arn(&role)
        .send()
        .await
        .unwrap();
    let (_, s) = status(ws);
    let primary = &s["backups"][0];
    assert_eq!(primary["last_backup"]["resource_arn"], table, "{s:#}");
    assert_eq!(
        primary["last_backup"]["recovery_point_arn"],
        job.recovery_point_arn().unwrap()
    );
    let copy = primary["last_copy"]["recovery_point_arn"].as_str().unwrap();
    assert!(copy.starts_with("arn:aws:backup:us-east-2:"), "{copy}");
    assert_eq!(s["backups"][1]["last_backup"], Json::Null);
    assert_eq!(s["ready"], true, "backups do not change readiness");
    ws.drctl(&["status"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "-> {}",
            job.recovery_point_arn().unwrap()
        )))
        .stdout(predicate::str::contains(format!(
            "-> {copy} (to payment-dr-ops-secondary-backup)"
        )));

    // The emulator's switchover refuses what AWS refuses.
    let st = state(ws);
    let arn = |a: &str| {
        st["resources"][a]["outputs"]["arn"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (primary_arn, secondary_arn) = (
        arn("primary/rds.cluster/payment"),
        arn("secondary/rds.cluster/payment"),
    );
    let rds = aws.rds(SECONDARY);
    let e = rds
        .switchover_global_cluster()
        .global_cluster_identifier("payment-global-dr-ops")
        .target_db_cluster_identifier(&primary_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InvalidDBClusterStateFault"));
    let e = rds
        .switchover_global_cluster()
        .global_cluster_identifier("payment-global-dr-nope")
        .target_db_cluster_identifier(&secondary_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("GlobalClusterNotFoundFault"));
    let e = rds
        .failover_global_cluster()
        .global_cluster_identifier("payment-global-dr-ops")
        .target_db_cluster_identifier(secondary_arn.replace("dr-ops", "dr-nope"))
        .allow_data_loss(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("DBClusterNotFoundFault"));
    let e = rds
        .failover_global_cluster()
        .global_cluster_identifier("payment-global-dr-ops")
        .target_db_cluster_identifier(&secondary_arn)
        .allow_data_loss(true)
        .switchover(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InvalidParameterCombination"));
    // The Aurora User Guide calls SwitchoverGlobalCluster in the primary
    // cluster's region: the emulator refuses it in another.
    let e = rds
        .switchover_global_cluster()
        .global_cluster_identifier("payment-global-dr-ops")
        .target_db_cluster_identifier(&secondary_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InvalidParameterValue"), "{e:?}");
    assert_serving(ws, "primary", "after refused switchovers");

    // Without a terminal and --auto-approve, nothing is switched.
    ws.drctl(&["failover"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a terminal"));
    assert_serving(ws, "primary", "after a refused prompt");

    // A planned failover refuses an environment that is not ready, and
    // changes nothing; an apply repairs it.
    aws.s3("us-east-1")
        .delete_bucket_replication()
        .bucket(
            st["resources"]["global/s3.bucket_replication/data"]["inputs"]["bucket"]
                .as_str()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    ws.drctl(&["status"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("has no replication configuration"));
    let before = s3_copies(ws);
    ws.drctl(&["failover", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "`dr-ops` is not ready for a planned failover; nothing was changed",
        ))
        .stderr(predicate::str::contains("has no replication configuration"))
        .stderr(predicate::str::contains("drctl failover --unplanned"));
    assert_eq!(s3_copies(ws), before);
    ws.drctl(&["apply", "--refresh", "--auto-approve"])
        .assert()
        .success();
    assert_serving(ws, "primary", "after the repair");

    // Planned failover: the secondary writes and takes the traffic; state
    // records it, so a refreshed plan has nothing to undo.
    let (out, calls) = logged(ws, &["failover", "--auto-approve"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    for line in [
        "Switch the Aurora global cluster payment-global-dr-ops over to payment-dr-ops-secondary (us-east-2): no data loss",
        "[3/3] Set the Route 53 weights of api.payment-dr-ops.example.com: primary 0, secondary 100...\n",
        "Failover of `dr-ops` complete",
        // Each wait is reported as it begins.
        "[1/3] waiting: Aurora global cluster payment-global-dr-ops, writer ",
        "[3/3] waiting: route53 change ",
    ] {
        assert!(stdout.contains(line), "{line:?} in:\n{stdout}");
    }
    // One SwitchoverGlobalCluster, in the primary's region (the Aurora
    // User Guide's procedure). AWS switches asynchronously: drctl moves
    // the traffic only once DescribeGlobalClusters shows the secondary the
    // writer and no switch in progress (the emulator shows the switch in
    // progress twice), and ends once GetChange says INSYNC (PENDING first).
    let moves = writer_moves(&calls);
    assert_eq!(moves.len(), 1, "{calls:#?}");
    assert_eq!(
        (moves[0].operation.as_str(), moves[0].region.as_str()),
        ("SwitchoverGlobalCluster", PRIMARY)
    );
    let switched = first(&calls, |c| c.operation == "SwitchoverGlobalCluster");
    let changed = first(&calls, is_record_change);
    let waits = calls[switched..changed]
        .iter()
        .filter(|c| c.operation == "DescribeGlobalClusters")
        .count();
    assert!(waits >= 3, "{waits} DescribeGlobalClusters: {calls:#?}");
    let polls = calls[changed..].iter().filter(|c| is_get_change(c)).count();
    assert!(polls >= 2, "{polls} GetChange: {calls:#?}");
    assert_serving(ws, "secondary", "after failover");
    let st = state(ws);
    assert_eq!(st["active_role"], "secondary");
    assert_eq!(st["format_version"], 5);
    let g = aws
        .rds("us-east-1")
        .describe_global_clusters()
        .global_cluster_identifier("payment-global-dr-ops")
        .send()
        .await
        .unwrap();
    let writers: Vec<&str> = g.global_clusters()[0]
        .global_cluster_members()
        .iter()
        .filter(|m| m.is_writer() == Some(true))
        .filter_map(|m| m.db_cluster_arn())
        .collect();
    assert_eq!(writers, [secondary_arn.as_str()]);
    in_sync(ws, "after failover");

    // Again: nothing to do.
    ws.drctl(&["failover", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Nothing to do"));

    // Failback restores the primary. Here AWS is already switching the
    // writer back (a switchover started elsewhere: the console, the
    // failover automation): AWS refuses a second one meanwhile, and
    // drctl waits for this one, asking for none.
    let switch_to = |arn: &str, region: &str| {
        aws.rds(region)
            .switchover_global_cluster()
            .global_cluster_identifier("payment-global-dr-ops")
            .target_db_cluster_identifier(arn)
            .send()
    };
    switch_to(&primary_arn, SECONDARY).await.unwrap();
    let e = switch_to(&primary_arn, SECONDARY).await.unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InvalidGlobalClusterStateFault"));
    let (out, calls) = logged(ws, &["failback", "--auto-approve"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout.contains("Wait for the switch AWS is making to payment-dr-ops-primary (us-east-1)")
            && stdout.contains("Failback of `dr-ops` complete"),
        "{stdout}"
    );
    assert!(writer_moves(&calls).is_empty(), "{calls:#?}");
    assert_serving(ws, "primary", "after failback");
    in_sync(ws, "after failback");

    // A switch AWS is making away from the target refuses the switch, which
    // asks nothing of AWS; once it is over, the failback moves the writer
    // back.
    switch_to(&secondary_arn, PRIMARY).await.unwrap();
    let (out, calls) = logged(ws, &["failback", "--auto-approve"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("a switchover or failover of Aurora global cluster payment-global-dr-ops is")
            && stderr.contains(&format!("to {secondary_arn}")),
        "{}",
        text(&out)
    );
    assert!(writer_moves(&calls).is_empty(), "{calls:#?}");
    let (_, s) = status(ws);
    assert_eq!(s["database"]["writer_role"], "secondary", "{s:#}");
    let (out, calls) = logged(ws, &["failback", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let moves = writer_moves(&calls);
    assert_eq!(
        moves
            .iter()
            .map(|c| (c.operation.as_str(), c.region.as_str()))
            .collect::<Vec<_>>(),
        [("SwitchoverGlobalCluster", SECONDARY)],
        "{calls:#?}"
    );
    assert_serving(ws, "primary", "after failing back again");
    in_sync(ws, "after failing back again");

    // A drill: failover then failback, each step timed, the RTO reported.
    ws.drctl(&["drill", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Drill of `dr-ops` complete."))
        .stdout(predicate::str::contains(
            "failover: Aurora writer to secondary",
        ))
        .stdout(predicate::str::contains(
            "failover: traffic to secondary: health check flipped",
        ))
        .stdout(predicate::str::contains("failback: fence lifted"))
        .stdout(predicate::str::contains(
            "Failover (RTO, to the health check flip)",
        ))
        .stdout(predicate::str::contains("Total"));
    assert_serving(ws, "primary", "after a drill");
    let out = ws
        .drctl(&["drill", "--auto-approve", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let report = json_of(&out);
    let phases: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "failover", "failover", "failover", "failback", "failback", "failback", "failback"
        ]
    );
    for key in ["failover_seconds", "failback_seconds", "total_seconds"] {
        assert!(report[key].as_f64().is_some(), "{key}: {report:#}");
    }
    // The fence leaves the weights alone: the failback has none to set.
    let skipped: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["skipped"] == true)
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["Route 53 traffic to primary"], "{report:#}");

    dr.destroy().await;
}

/// An unplanned failover with the primary region down, after an apply
/// the outage interrupted; then the failback.
#[tokio::test(flavor = "multi_thread")]
async fn an_unplanned_failover_with_the_primary_region_down_and_the_failback() {
    let dr = DrEnv::applied("dr-down", 114, "drdown").await;
    let (ws, aws) = (&dr.ws, &dr.aws);
    // An apply the outage interrupts: it adds the alarm e-mail's
    // subscriptions, whose creates reach AWS while the process dies
    // (SIGKILL); their intents stay open in the journal (both copies),
    // the primary region's among them, as does the primary's lock.
    dr.configure("alarm_email = \"oncall@example.com\"");
    let hold = FaultProxy::start(
        &ws.endpoint,
        Faults {
            hold: Some(("Action=Subscribe&".into(), Duration::from_secs(3))),
            ..Faults::none()
        },
    )
    .await;
    let mut apply = ws.spawn(
        &["apply", "--auto-approve", "--endpoint", &hold.endpoint],
        std::process::Stdio::null(),
    );
    let subscribes = || {
        hold.counts
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.operation == "Subscribe")
            .count()
    };
    assert!(
        drctl_tests::eventually(Duration::from_secs(300), || subscribes() == 2),
        "the apply never sent both Subscribe calls"
    );
    apply.kill().unwrap();
    apply.wait().unwrap();
    // The held requests reach AWS after the process died.
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Unplanned, with the primary region down: every request signed for
    // us-east-1 or for Route 53's API (whose control plane is there) goes
    // unanswered, the primary state bucket's included. The failover runs
    // on the state's replica, leaves the interrupted apply's intent in the
    // primary region open, and completes by the fence alone.
    let proxy = FaultProxy::start(
        &ws.endpoint,
        Faults {
            refuse: vec![Refused::region(PRIMARY), Refused::service("route53")],
            ..Faults::none()
        },
    )
    .await;
    let out = ws
        .drctl(&["failover", "--unplanned", "--auto-approve"])
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .output()
        .unwrap();
    let calls = proxy.counts.calls.lock().unwrap().clone();
    println!("Calls of `drctl failover --unplanned` with {PRIMARY} and Route 53 down:");
    for call in &calls {
        println!("  {call}");
    }
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("allowing the loss of writes not yet replicated")
            && stdout.contains("Fence the primary off"),
        "{stdout}"
    );
    for says in [
        "State: the replica s3://tfstate-drdown-",
        "the primary copy s3://tfstate-drdown-",
        "is not contacted",
        "fences the replica's state",
        "primary/sns.subscription/alarm-email: left open (us-east-1 is not called in this run)",
    ] {
        assert!(stdout.contains(says), "{says}: {stdout}");
    }
    assert!(!calls.is_empty());
    let down: Vec<&Call> = calls
        .iter()
        .filter(|c| c.region == PRIMARY || c.service == "route53" || c.refused)
        .collect();
    assert!(
        down.is_empty(),
        "calls to the failed region or Route 53: {down:#?}"
    );
    for op in ["FailoverGlobalCluster", "PutMetricData", "DescribeAlarms"] {
        assert!(
            calls
                .iter()
                .any(|c| c.operation == op && c.region == SECONDARY),
            "no {op} in {SECONDARY}: {calls:#?}"
        );
    }
    // The records' configuration now sends the traffic to the secondary:
    // the primary's record carries the calculated health check, one of
    // whose children follows the fence alarm, which is in ALARM.
    let st = state(ws);
    let route53 = aws.route53();
    let records = route53
        .list_resource_record_sets()
        .hosted_zone_id(
            st["resources"]["global/route53.record/api-primary"]["inputs"]["zone_id"]
                .as_str()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut weighted = Vec::new();
    for set in records.resource_record_sets() {
        let Some(id) = set.set_identifier() else {
            continue;
        };
        let role = if id.starts_with("primary") {
            Role::Primary
        } else {
            Role::Secondary
        };
        let healthy = match set.health_check_id() {
            None => true,
            Some(check) => health_check_passes(aws, check).await,
        };
        weighted.push(WeightedRecord {
            role,
            weight: set.weight().unwrap(),
            healthy,
        });
    }
    assert_eq!(weighted.len(), 2, "{weighted:?}");
    assert_eq!(
        routing::serving(&weighted),
        Some(Role::Secondary),
        "{weighted:?}"
    );
    assert_serving(ws, "secondary", "after an unplanned failover");
    let (_, s) = status(ws);
    assert_eq!(s["traffic"]["fence"]["fenced"], true, "{s:#}");
    assert_eq!(s["traffic"]["fence"]["state"], "ALARM", "{s:#}");
    // While the region is down, status reads the state's replica (the
    // primary bucket does not answer) and reports the failover. Here the
    // region's endpoints take each request and never answer (connections
    // held open, not dropped): every attempt ends at the read timeout,
    // shortened from 30 s, and status still ends, naming what it could
    // not read.
    let silent = FaultProxy::start(
        &ws.endpoint,
        Faults {
            silent: vec![Refused::region(PRIMARY), Refused::service("route53")],
            ..Faults::none()
        },
    )
    .await;
    let out = ws
        .drctl(&["status"])
        .env("AWS_ENDPOINT_URL", &silent.endpoint)
        .env("DRCTL_AWS_READ_TIMEOUT_SECONDS", "1")
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains("Recorded active role: secondary")
            && stdout.contains("cannot read")
            && stderr.contains("reading the replica"),
        "{}",
        text(&out)
    );
    assert!(silent.counts.refused.load(Ordering::SeqCst) > 0);

    // The switch is recorded in the replica alone so far.
    let (primary_copy, replica_copy) = s3_copies(ws);
    let recorded: Json = serde_json::from_slice(replica_copy.as_ref().unwrap()).unwrap();
    assert_eq!(
        (&recorded["active_role"], &recorded["fenced"]),
        (&Json::from("secondary"), &Json::from(true))
    );
    assert_ne!(Some(&primary_copy), replica_copy.as_ref());

    // The region answers again. The next run brings the primary copy up
    // to date and resolves the intent left open; the roles are swapped on
    // purpose and the fence moves the traffic, so a plan (reading
    // everything back from AWS) changes nothing: no weight, no writer.
    let out = ws
        .drctl(&["plan", "--refresh", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("primary/sns.subscription/alarm-email: created by the interrupted run"),
        "{plan}"
    );
    let (primary_copy, replica_copy) = s3_copies(ws);
    assert_eq!(Some(primary_copy), replica_copy, "both copies agree");
    let st = state(ws);
    assert_eq!(st["active_role"], "secondary");
    for role in ["primary", "secondary"] {
        assert!(
            st["resources"][format!("{role}/sns.subscription/alarm-email")].is_object(),
            "{role}'s subscription in state: {st:#}"
        );
    }
    // A drill starts from the primary serving, and says so.
    ws.drctl(&["drill", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "a drill starts with the primary region serving; run `drctl failback` first",
        ));
    assert_serving(ws, "secondary", "after a refused drill");
    // The failback lifts the fence.
    ws.drctl(&["failback", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Lift the fence"));
    assert_serving(ws, "primary", "after failing back");
    let (_, s) = status(ws);
    assert_eq!(s["traffic"]["fence"]["state"], "OK", "{s:#}");
    in_sync(ws, "after failing back");

    dr.destroy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failover_killed_at_any_call_completes_on_rerun() {
    let ws = Workspace::new(
        "dr-crash",
        "primary_cidr = \"10.112.0.0/16\"\nsecondary_cidr = \"10.113.0.0/16\"",
    );
    ws.drctl(&["apply", "--auto-approve"]).assert().success();
    lag_caught_up(&aws(&ws.endpoint).await, "dr-crash").await;

    // Killed after each AWS call in turn (the crash switch counts them)
    // until a run is short enough to finish: the re-run always completes
    // the failover, and the environment fails back cleanly.
    let mut saw_recorded_before_traffic = false;
    let mut k = 1;
    loop {
        let context = format!("failover killed after call {k}");
        let out = ws
            .drctl(&["failover", "--auto-approve"])
            .env(drctl_aws::CRASH_ENV, k.to_string())
            .output()
            .unwrap();
        if out.status.success() {
            assert!(k > 8, "{context}: a failover makes more calls than that");
            assert_serving(&ws, "secondary", &context);
            // Each killed run below reads back what a switch changes; the
            // whole environment is read back once, here.
            in_sync(&ws, &context);
            break;
        }
        // Whatever was done, the state file parses and status explains.
        let recorded = state(&ws)["active_role"] == "secondary";
        let (code, s) = status(&ws);
        if recorded && s["traffic"]["serving_role"] == "primary" {
            // State names the secondary, the weights have not moved: a
            // plan completes the failover rather than undoing it.
            saw_recorded_before_traffic = true;
            assert_eq!(code, 1, "{context}: {s:#}");
            ws.drctl(&["status"])
                .assert()
                .code(1)
                .stdout(predicate::str::contains(
                    "traffic goes to primary but state records secondary as active",
                ));
            ws.drctl(&["plan", "--detailed-exitcode"])
                .assert()
                .code(2)
                .stdout(predicate::str::contains("~ weight"));
        }
        let again = ws.drctl(&["failover", "--auto-approve"]).output().unwrap();
        assert!(
            again.status.success(),
            "{context}: the re-run: {}",
            text(&again)
        );
        if recorded {
            // Recorded: the re-run finds the record done; and the whole
            // failover done exactly when traffic had moved too.
            let stdout = String::from_utf8_lossy(&again.stdout);
            let expected = if s["traffic"]["serving_role"] == "secondary" {
                "Nothing to do"
            } else {
                "[2/3] Record secondary as the active role in state: already done"
            };
            assert!(stdout.contains(expected), "{context}: {}", text(&again));
        }
        // State agrees with AWS without a refresh, too.
        let plan = ws.drctl(&["plan", "--detailed-exitcode"]).output().unwrap();
        assert_eq!(plan.status.code(), Some(0), "{context}: {}", text(&plan));
        assert_serving(&ws, "secondary", &context);
        switched_parts_in_sync(&ws, &context);
        ws.drctl(&["failback", "--auto-approve"]).assert().success();
        assert_serving(&ws, "primary", &context);
        k += 1;
    }
    assert!(saw_recorded_before_traffic);
    ws.drctl(&["failback", "--auto-approve"]).assert().success();

    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
    let aws = aws(&ws.endpoint).await;
    let left = leftovers(&aws, "dr-crash").await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[test]
fn without_state_nothing_is_called() {
    let counter = ConnectionCounter::start();
    let ws = Workspace::with_endpoint("dr-none", "", &counter.endpoint);
    for args in [
        ["failover", "--auto-approve"],
        ["failback", "--auto-approve"],
        ["drill", "--auto-approve"],
        ["failover", "--plan"],
        ["drill", "--plan"],
    ] {
        ws.drctl(&args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "`dr-none` has no resources in state",
            ))
            .stderr(predicate::str::contains("drctl apply --env dr-none"));
    }
    ws.drctl(&["status"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("`dr-none` is not applied"));
    let out = ws.drctl(&["status", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let s = json_of(&out);
    assert_eq!(s["ready"], false);
    assert_eq!(s["database"], Json::Null);
    assert_eq!(counter.connections(), 0);
}

#[test]
fn a_drill_refuses_production() {
    let counter = ConnectionCounter::start();
    for (env, settings) in [("prod", ""), ("dr-live", "production = true")] {
        let ws = Workspace::with_endpoint(env, settings, &counter.endpoint);
        ws.drctl(&["drill", "--auto-approve"])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "`{env}` looks like a production environment"
            )));
    }
    let ws = Workspace::with_endpoint("dr-typo", "production = 1", &counter.endpoint);
    ws.drctl(&["drill", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "`env.dr-typo.production`: expected true or false, found integer",
        ));
    assert_eq!(counter.connections(), 0);
}

/// The check named `name` of `drctl status --json`.
fn check<'a>(s: &'a Json, name: &str) -> &'a Json {
    s["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks: {s:#}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {s:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn checks_gate_a_planned_failover_and_plan_changes_nothing() {
    let ws = Workspace::new(
        "dr-checks",
        "primary_cidr = \"10.150.0.0/16\"\nsecondary_cidr = \"10.151.0.0/16\"",
    );
    ws.drctl(&["apply", "--auto-approve"]).assert().success();
    let aws = aws(&ws.endpoint).await;

    // No lag datapoint: the lag is unknown, which is not ready.
    let (code, s) = status(&ws);
    assert_eq!(code, 1, "{s:#}");
    assert_eq!(s["ready"], false);
    assert_eq!(s["reasons"], Json::Array(vec![]), "{s:#}");
    let lag = check(&s, "aurora-replication-lag");
    assert_eq!(lag["value"], Json::Null, "{s:#}");
    assert_eq!(lag["ok"], false);
    assert_eq!(
        lag["subject"],
        "Aurora cluster payment-dr-checks-secondary (us-east-2), AuroraGlobalDBRPOLag"
    );
    ws.drctl(&["failover", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("check `aurora-replication-lag`"))
        .stderr(predicate::str::contains(
            "no AuroraGlobalDBRPOLag datapoint",
        ));

    // Caught up: every check passes, each with its measured value.
    lag_caught_up(&aws, "dr-checks").await;
    assert_serving(&ws, "primary", "lag caught up");
    let (_, s) = status(&ws);
    let names: Vec<&str> = s["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "readiness",
            "aurora-replication-lag",
            "dynamodb-replica",
            "target-alarms"
        ]
    );
    assert_eq!(check(&s, "aurora-replication-lag")["value"], 0.5);
    assert_eq!(check(&s, "aurora-replication-lag")["threshold"], 60);
    assert_eq!(check(&s, "dynamodb-replica")["value"], "ACTIVE");
    assert_eq!(check(&s, "target-alarms")["value"], Json::Array(vec![]));
    assert!(
        s["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true && c["remedy"].is_null())
    );

    // --plan lists the checks and the steps with their durations, and
    // changes nothing: no state write, writer and weights as they were.
    let before = std::fs::read(ws.state_path()).unwrap();
    ws.drctl(&["failover", "--plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Planned failover of `dr-checks` to the secondary region (us-east-2):"))
        .stdout(predicate::str::contains("aurora-replication-lag  0.5 s (expected: at most 60 s)"))
        .stdout(predicate::str::contains("1. Switch the Aurora global cluster payment-global-dr-checks over to payment-dr-checks-secondary (us-east-2): no data loss\n       expected: 1-5 min"))
        .stdout(predicate::str::contains("3. Set the Route 53 weights of api.payment-dr-checks.example.com: primary 0, secondary 100"))
        .stdout(predicate::str::contains("goal ≤ 3 min: met"))
        .stdout(predicate::str::contains("Nothing was changed. The failover would start now."));
    ws.drctl(&["failover", "--plan", "--unplanned"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(not gating: unplanned)"))
        .stdout(predicate::str::contains(
            "allowing the loss of writes not yet replicated\n       expected: 1-2 min",
        ))
        // The modelled recovery time, from the settings state records:
        // the fence published while Aurora promotes, and the goal.
        .stdout(predicate::str::contains(
            "(first as soon as AWS accepts step 1, while Aurora promotes)",
        ))
        .stdout(predicate::str::contains(
            "Recovery time (RTO) of an unplanned failover on AWS, modelled",
        ))
        .stdout(predicate::str::contains(
            "the fence alarm goes to ALARM (period 60 s, 1 datapoint to alarm)",
        ))
        .stdout(predicate::str::contains(
            "  Total: 2 min 15 s typical (32 s to 5 min 45 s) (database 1 min, traffic 2 min 10 s, at the same time)\n  goal ≤ 3 min: met\n",
        ))
        .stdout(predicate::str::contains(
            "Route 53 moves the traffic by itself in 2 min 5 s typical (1 min to 3 min 30 s) (checks every 30 s, unhealthy after 3 in a row",
        ));
    ws.drctl(&["drill", "--plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Planned failback of `dr-checks` to the primary region (us-east-1):",
        ))
        .stdout(predicate::str::contains(
            "Nothing was changed. The failover and failback would start now.",
        ));
    ws.drctl(&["failback", "--plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Record primary as the active role in state (already done)",
        ));
    assert_eq!(std::fs::read(ws.state_path()).unwrap(), before);
    assert_serving(&ws, "primary", "after the plans");

    // An alarm of the target region in ALARM refuses a planned failover,
    // naming the check and the way to clear it; nothing changes.
    let st = state(&ws);
    let alarm = st["resources"]["secondary/cloudwatch.alarm/api-5xx"]["inputs"]["alarm_name"]
        .as_str()
        .unwrap()
        .to_owned();
    let set_alarm = |value: aws_sdk_cloudwatch::types::StateValue| {
        aws.cloudwatch(SECONDARY)
            .set_alarm_state()
            .alarm_name(&alarm)
            .state_value(value)
            .state_reason("drctl suite")
            .send()
    };
    set_alarm(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .await
        .unwrap();
    ws.drctl(&["failover", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`dr-checks` is not ready for a planned failover; nothing was changed"))
        .stderr(predicate::str::contains(format!("check `target-alarms`: CloudWatch alarms of the environment in us-east-2 is {alarm} (expected: none in ALARM); to clear: the target region is unhealthy")))
        .stderr(predicate::str::contains(format!("--alarm-names {alarm}")))
        .stderr(predicate::str::contains("--skip-check target-alarms"));
    ws.drctl(&["failover", "--plan"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "would refuse now: check `target-alarms` fails",
        ));
    let (code, s) = status(&ws);
    assert_eq!(code, 1);
    assert_eq!(
        check(&s, "target-alarms")["value"],
        Json::from(vec![alarm.as_str()])
    );
    assert_eq!(check(&s, "target-alarms")["ok"], false);
    assert_eq!(std::fs::read(ws.state_path()).unwrap(), before);
    set_alarm(aws_sdk_cloudwatch::types::StateValue::Ok)
        .await
        .unwrap();
    assert_serving(&ws, "primary", "after the alarm refusal");

    // A lag above the threshold refuses; --skip-check lets it through.
    // (For the next hour: each minute's maximum is then 120 s. With the
    // SourceRegion dimension too, a second dimension set of the metric.)
    publish_lag(
        &aws,
        SECONDARY,
        "payment-dr-checks-secondary",
        120.0,
        60,
        Some(PRIMARY),
    )
    .await;
    ws.drctl(&["failover", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("check `aurora-replication-lag`: Aurora cluster payment-dr-checks-secondary (us-east-2), AuroraGlobalDBRPOLag is 120 s (expected: at most 60 s)"))
        .stderr(predicate::str::contains("max_replication_lag_seconds"));
    assert_eq!(std::fs::read(ws.state_path()).unwrap(), before);
    ws.drctl(&[
        "failover",
        "--auto-approve",
        "--skip-check",
        "aurora-replication-lag",
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains("Failover of `dr-checks` complete"));
    assert_serving(&ws, "secondary", "after a failover past the lag check");
    ws.drctl(&["failback", "--auto-approve"]).assert().success();
    let (code, s) = status(&ws);
    assert_eq!(code, 1, "the lag is still above the threshold: {s:#}");
    assert_eq!(s["traffic"]["serving_role"], "primary");
    assert_eq!(s["database"]["writer_role"], "primary");
    assert_eq!(check(&s, "aurora-replication-lag")["ok"], false);
    // Readiness cannot be skipped (a usage error, exit 1 like every error).
    ws.drctl(&["failover", "--skip-check", "readiness"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid value 'readiness'"));

    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
    let left = leftovers(&aws, "dr-checks").await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}
