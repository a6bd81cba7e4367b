//! The replicated S3 backend against the emulator, through the SDK: the
//! write order, reading the newer copy, a replica that is down, the
//! unplanned failover's run on the replica alone (fenced), the stale
//! holder it fences off, and a true conflict with its way out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use drctl_aws::AwsContext;
use drctl_core::backend::Backend;
use drctl_core::journal::{Intent, IntentOp};
use drctl_core::state::{self, State};
use drctl_state_s3::{Copy, LeaseSettings, ReplicatedBackend, S3Backend, S3Location};
use drctl_tests::proxy::{Call, FaultProxy, Faults, Refused};
use drctl_tests::{ConnectionCounter, PRIMARY, SECONDARY, Workspace, aws, emulator_for};

const PREFIX: &str = "team/payments";

/// A new, empty bucket in `region`, named without any env (so the
/// inventory of an env never lists it).
pub(crate) async fn bucket_in(aws: &AwsContext, region: &str, purpose: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let bucket = format!(
        "tfstate-{purpose}-{}-{nanos}",
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let mut create = aws.s3(region).create_bucket().bucket(&bucket);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create.send().await.unwrap();
    bucket
}

/// The primary bucket (us-east-1) and the replica (us-east-2).
struct Buckets {
    primary: String,
    replica: String,
}

impl Buckets {
    async fn new(aws: &AwsContext, purpose: &str) -> Buckets {
        Buckets {
            primary: bucket_in(aws, PRIMARY, purpose).await,
            replica: bucket_in(aws, SECONDARY, purpose).await,
        }
    }

    /// A replicated backend of `env` reached through `aws`, whose locks
    /// name `host`.
    fn backend(&self, aws: &AwsContext, env: &str, host: &str) -> ReplicatedBackend {
        let one = |bucket: &str, region: &str| {
            S3Backend::new(
                Arc::new(tokio::sync::OnceCell::new_with(Some(aws.clone()))),
                drctl_aws::Connection::default(),
                S3Location {
                    bucket: bucket.into(),
                    prefix: PREFIX.into(),
                    region: region.into(),
                },
                env,
            )
            .with_lease(LeaseSettings {
                duration: Duration::from_secs(30),
                host: host.into(),
            })
        };
        ReplicatedBackend::new(
            one(&self.primary, PRIMARY),
            one(&self.replica, SECONDARY),
            env,
        )
    }
}

/// The state object in `bucket`: its bytes and its synced-serial metadata.
async fn copy(aws: &AwsContext, region: &str, bucket: &str, env: &str) -> (Vec<u8>, Option<u64>) {
    let out = aws
        .s3(region)
        .get_object()
        .bucket(bucket)
        .key(format!("{PREFIX}/{env}.json"))
        .send()
        .await
        .unwrap();
    let synced = out
        .metadata()
        .and_then(|m| m.get("drctl-synced-serial"))
        .map(|v| v.parse().unwrap());
    (
        out.body.collect().await.unwrap().into_bytes().to_vec(),
        synced,
    )
}

fn decoded(bytes: &[u8]) -> State {
    state::decode(bytes).unwrap()
}

/// Stores `state` in `bucket` as a run that wrote only that copy would.
async fn put_copy(aws: &AwsContext, region: &str, bucket: &str, state: &State, synced: u64) {
    aws.s3(region)
        .put_object()
        .bucket(bucket)
        .key(format!("{PREFIX}/{}.json", state.env))
        .metadata("drctl-synced-serial", synced.to_string())
        .body(ByteStream::from(state::encode(state)))
        .send()
        .await
        .unwrap();
}

fn state_puts(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.operation.starts_with("PUT ") && c.operation.ends_with(".json"))
        .filter(|c| !c.operation.contains(".journal/"))
        .map(|c| c.region.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn state_goes_to_the_replica_first_and_the_newer_copy_is_read() {
    let emulator = &emulator_for("s3-replica").endpoint;
    let direct = aws(emulator).await;
    let buckets = Buckets::new(&direct, "order").await;
    let env = "s3-order";
    let proxy = FaultProxy::start(emulator, Faults::none()).await;
    let through = aws(&proxy.endpoint).await;
    let backend = buckets.backend(&through, env, "ci-runner-1");

    let held = backend.lock("apply").unwrap();
    assert!(backend.load().unwrap().is_none());
    let mut state = State::new(env);
    backend.save(&mut state).unwrap();
    backend.save(&mut state).unwrap();
    // Each write: the replica's region, then the primary's.
    let calls = proxy.counts.calls.lock().unwrap().clone();
    assert_eq!(
        state_puts(&calls),
        [SECONDARY, PRIMARY, SECONDARY, PRIMARY],
        "{calls:#?}"
    );
    let (p, p_synced) = copy(&direct, PRIMARY, &buckets.primary, env).await;
    let (r, r_synced) = copy(&direct, SECONDARY, &buckets.replica, env).await;
    assert_eq!(p, r);
    assert_eq!((p_synced, r_synced), (Some(2), Some(2)));

    // Journal intents go to both, under one id.
    let mut journal = backend.begin();
    let mut intent = Intent {
        id: 0,
        op: IntentOp::Create,
        address: "primary/ssm.parameter/a".parse().unwrap(),
        region: PRIMARY.into(),
        inputs: Default::default(),
        resource_id: None,
        dependencies: Default::default(),
        token: String::new(),
    };
    journal.record(std::slice::from_mut(&mut intent)).unwrap();
    assert_eq!(backend.open_intents().unwrap(), vec![intent.clone()]);
    assert_eq!(
        backend.primary().open_intents().unwrap(),
        vec![intent.clone()]
    );
    assert_eq!(
        backend.replica().open_intents().unwrap(),
        vec![intent.clone()]
    );
    // Kept open (a recovery that could not reach its region), the next
    // run's ids follow it.
    backend
        .retain_journal(std::slice::from_ref(&intent))
        .unwrap();
    let mut next = Intent {
        address: "primary/ssm.parameter/b".parse().unwrap(),
        ..intent.clone()
    };
    backend
        .begin()
        .record(std::slice::from_mut(&mut next))
        .unwrap();
    assert_eq!(next.id, intent.id + 1);
    backend.remove_journal().unwrap();
    assert!(backend.open_intents().unwrap().is_empty());
    drop(held);

    // A run that died between the replica's write and the primary's: the
    // replica is newer, and what every reader takes.
    let mut newer = decoded(&r);
    newer.serial += 1;
    newer.active_role = Some("secondary".into());
    put_copy(&direct, SECONDARY, &buckets.replica, &newer, newer.serial).await;
    let fresh = buckets.backend(&direct, env, "ci-runner-2");
    assert_eq!(fresh.load().unwrap().unwrap(), newer);
    assert!(fresh.needs_repair().unwrap());
    // The next locked run brings the primary up to date.
    let held = fresh.lock("plan").unwrap();
    drop(held);
    assert!(!fresh.needs_repair().unwrap());
    let (p, _) = copy(&direct, PRIMARY, &buckets.primary, env).await;
    assert_eq!(decoded(&p), newer);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_that_is_down_is_caught_up_when_it_answers_again() {
    let emulator = &emulator_for("s3-replica").endpoint;
    let direct = aws(emulator).await;
    let buckets = Buckets::new(&direct, "down").await;
    let env = "s3-down";
    let mut state = State::new(env);
    {
        let backend = buckets.backend(&direct, env, "ci-runner-1");
        let _held = backend.lock("apply").unwrap();
        backend.save(&mut state).unwrap();
    }
    // The secondary region does not answer: the run goes on with the
    // primary copy alone.
    let proxy = FaultProxy::start(
        emulator,
        Faults {
            refuse: vec![Refused::region(SECONDARY)],
            ..Faults::none()
        },
    )
    .await;
    let through = aws(&proxy.endpoint).await;
    let backend = buckets.backend(&through, env, "ci-runner-1");
    let held = backend.lock("apply").unwrap();
    let mut state = backend.load().unwrap().unwrap();
    state.active_role = Some("primary".into());
    backend.save(&mut state).unwrap();
    backend.save(&mut state).unwrap();
    drop(held);
    let (p, p_synced) = copy(&direct, PRIMARY, &buckets.primary, env).await;
    let (r, _) = copy(&direct, SECONDARY, &buckets.replica, env).await;
    assert_eq!(decoded(&p).serial, 3);
    assert_eq!(decoded(&r).serial, 1);
    assert_eq!(p_synced, Some(1), "the last serial both copies hold");

    let backend = buckets.backend(&direct, env, "ci-runner-1");
    assert!(backend.needs_repair().unwrap());
    drop(backend.lock("plan").unwrap());
    let (r, r_synced) = copy(&direct, SECONDARY, &buckets.replica, env).await;
    // Read again: taking the lock fenced the primary (its bytes, not its
    // content) before copying it over the replica.
    let (p, _) = copy(&direct, PRIMARY, &buckets.primary, env).await;
    assert_eq!(r, p);
    assert_eq!(r_synced, Some(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unplanned_failover_runs_on_the_replica_alone_and_fences_a_stale_holder() {
    let emulator = &emulator_for("s3-replica").endpoint;
    let direct = aws(emulator).await;
    let buckets = Buckets::new(&direct, "fence").await;
    let env = "s3-fence";

    // A run that holds the primary's lock and has read state.
    let stale = buckets.backend(&direct, env, "ci-runner-1");
    let stale_lock = stale.lock("apply").unwrap();
    let mut stale_state = State::new(env);
    stale.save(&mut stale_state).unwrap();

    // The primary region goes down; the failover never calls it.
    let proxy = FaultProxy::start(
        emulator,
        Faults {
            refuse: vec![Refused::region(PRIMARY)],
            ..Faults::none()
        },
    )
    .await;
    let through = aws(&proxy.endpoint).await;
    let failover = buckets.backend(&through, env, "ci-runner-2").replica_only();
    let held = failover.lock("failover").unwrap();
    let mut state = failover.load().unwrap().unwrap();
    state.active_role = Some("secondary".into());
    state.fenced = true;
    failover.save(&mut state).unwrap();
    let calls = proxy.counts.calls.lock().unwrap().clone();
    assert!(
        calls.iter().all(|c| c.region == SECONDARY && !c.refused),
        "{calls:#?}"
    );
    // A normal run meanwhile waits for the failover.
    let err = buckets
        .backend(&direct, env, "ci-runner-3")
        .lock("apply")
        .unwrap_err()
        .to_string();
    assert!(err.contains("failover"), "{err}");
    drop(held);

    // The stale holder's next write is refused at the replica, and it
    // writes nothing to the primary either.
    let (p_before, _) = copy(&direct, PRIMARY, &buckets.primary, env).await;
    stale_state.active_role = Some("primary".into());
    let err = stale.save(&mut stale_state).unwrap_err().to_string();
    assert!(
        err.contains("the state replica changed since this run read it"),
        "{err}"
    );
    assert_eq!(
        copy(&direct, PRIMARY, &buckets.primary, env).await.0,
        p_before
    );
    let (r, _) = copy(&direct, SECONDARY, &buckets.replica, env).await;
    assert_eq!(decoded(&r).active_role.as_deref(), Some("secondary"));
    drop(stale_lock);

    // The region is back: the next run reconciles; both copies agree.
    let next = buckets.backend(&direct, env, "ci-runner-1");
    drop(next.lock("plan").unwrap());
    let loaded = next.load().unwrap().unwrap();
    assert_eq!(loaded.active_role.as_deref(), Some("secondary"));
    assert!(loaded.fenced);
    assert_eq!(
        copy(&direct, PRIMARY, &buckets.primary, env).await.0,
        copy(&direct, SECONDARY, &buckets.replica, env).await.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_that_both_changed_stop_the_run_until_one_is_kept() {
    let emulator = &emulator_for("s3-replica").endpoint;
    let direct = aws(emulator).await;
    let buckets = Buckets::new(&direct, "conflict").await;
    let env = "s3-conflict";
    let backend = buckets.backend(&direct, env, "ci-runner-1");
    let mut state = State::new(env);
    {
        let _held = backend.lock("apply").unwrap();
        backend.save(&mut state).unwrap();
    }
    // The primary alone (a run that could not reach the replica), and the
    // replica alone (an unplanned failover), from serial 1.
    let mut primary_side = state.clone();
    primary_side.serial = 3;
    primary_side.account_id = Some("123456789012".into());
    put_copy(&direct, PRIMARY, &buckets.primary, &primary_side, 1).await;
    let mut replica_side = state.clone();
    replica_side.serial = 2;
    replica_side.active_role = Some("secondary".into());
    put_copy(&direct, SECONDARY, &buckets.replica, &replica_side, 1).await;

    for err in [
        backend.load().unwrap_err().to_string(),
        backend.lock("apply").unwrap_err().to_string(),
    ] {
        for says in [
            "the two copies of the state disagree",
            "both changed since they last agreed (at serial 1)",
            "serial 3",
            "serial 2",
            "active role secondary",
            "drctl state keep --env s3-conflict --copy primary",
        ] {
            assert!(err.contains(says), "{says}: {err}");
        }
    }
    // Nothing was dropped: both copies are as they were.
    assert_eq!(
        decoded(&copy(&direct, PRIMARY, &buckets.primary, env).await.0),
        primary_side
    );
    assert_eq!(
        decoded(&copy(&direct, SECONDARY, &buckets.replica, env).await.0),
        replica_side
    );
    // The operator keeps the replica's.
    let serial = backend.keep(Copy::Replica).unwrap();
    assert_eq!(serial, 4);
    let kept = backend.load().unwrap().unwrap();
    assert_eq!(kept.active_role.as_deref(), Some("secondary"));
    assert_eq!(kept.serial, 4);
    assert!(!backend.needs_repair().unwrap());
    drop(backend.lock("apply").unwrap());
}

#[test]
fn a_replica_in_the_primary_buckets_region_is_refused_before_any_call() {
    let counter = ConnectionCounter::start();
    let ws = Workspace::with_endpoint("s3-same", "", &counter.endpoint);
    std::fs::write(
        ws.path("drctl.toml"),
        "[backend]\nurl = \"s3://team-state/p\"\nreplica_url = \"s3://team-state-copy/p\"\nreplica_region = \"us-east-1\"\n\n[env.s3-same]\n",
    )
    .unwrap();
    for args in [
        &["plan"][..],
        &["failover", "--unplanned", "--auto-approve"],
    ] {
        let out = ws.drctl(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("drctl.toml: `[backend]` (or --backend-replica-region) for `s3-same`: `replica_region`: the replica s3://team-state-copy/p would be in us-east-1, the primary bucket's region")
                && err.contains("Put the replica in the environment's other region (us-east-2)"),
            "{err}"
        );
    }
    let out = ws.drctl_bare(&["validate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the primary bucket's region"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The flags say the same.
    let out = ws
        .drctl(&[
            "plan",
            "--backend",
            "s3://team-state/p",
            "--backend-replica",
            "s3://team-state/p",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a replica must be another bucket"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(counter.connections(), 0, "no API call");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_plan_warn_when_state_lives_only_in_the_primary_region() {
    let emulator = &emulator_for("s3-replica").endpoint;
    let direct = aws(emulator).await;
    let buckets = Buckets::new(&direct, "warn").await;
    let env = "s3-warn";
    let ws = Workspace::with_endpoint(env, "", emulator);
    // State whose failover automation was deployed in the primary region.
    let mut state = State::new(env);
    state.resources.insert(
        "global/sfn.state_machine/failover".parse().unwrap(),
        drctl_core::state::ResourceState {
            kind: "sfn.state_machine".into(),
            region: PRIMARY.into(),
            id: "arn:aws:states:us-east-1:123456789012:stateMachine:x".into(),
            inputs: Default::default(),
            outputs: Default::default(),
            dependencies: Default::default(),
        },
    );
    state.serial = 1;
    put_copy(&direct, PRIMARY, &buckets.primary, &state, 1).await;
    let single = format!("s3://{}/{PREFIX}", buckets.primary);
    let out = ws
        .drctl(&["status", "--backend", &single])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for says in [
        "What a failover needs that an outage of the primary region would take:",
        &format!(
            "warning: state, its journal and its lock live only in {single} in us-east-1, the primary region"
        ),
        "Add a replica in the other region: `replica_url = \"s3://BUCKET/PREFIX\"`",
        "warning: the failover automation global/sfn.state_machine/failover runs in us-east-1",
    ] {
        assert!(text.contains(says), "{says}: {text}");
    }
    let out = ws
        .drctl(&["status", "--json", "--backend", &single])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["control_plane_warnings"].as_array().unwrap().len(),
        2,
        "{doc:#}"
    );
    let out = ws.drctl(&["plan", "--backend", &single]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: state, its journal and its lock live only in"),
        "{err}"
    );
    // With a replica, only the automation is left to warn about.
    let out = ws
        .drctl(&[
            "status",
            "--json",
            "--backend",
            &single,
            "--backend-replica",
            &format!("s3://{}/{PREFIX}", buckets.replica),
        ])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = doc["control_plane_warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{doc:#}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("failover automation")
    );
    // Local state: on this machine only.
    let out = ws.drctl(&["status"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("on this machine only"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
