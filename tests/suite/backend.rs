//! The S3 state backend against the emulator: the conditional-write
//! protocol through the SDK, whole runs through the binary from separate
//! working directories, the crash sweep, and state push/pull.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use drctl_core::backend::Backend;
use drctl_core::journal::{Intent, IntentOp, JournalError};
use drctl_core::lock::{LockError, LockInfo};
use drctl_core::state::{self, ResourceState, State};
use drctl_core::store::{StateStore, StoreError};
use drctl_state_s3::{LeaseSettings, S3Backend, S3Location};
use drctl_tests::proxy::{Call, FaultProxy, Faults};
use drctl_tests::{
    ConnectionCounter, PRIMARY, Workspace, aws, emulator_for, leftovers, orphans_and_duplicates,
};
use predicates::prelude::*;

use crate::faults::{CRASH_POINTS, SWEEP_LANES, crash_sweep, text};

/// A new, empty state bucket (named without any env, so the inventory of
/// an env never lists it).
async fn state_bucket(aws: &drctl_aws::AwsContext, purpose: &str) -> String {
    crate::backend_replica::bucket_in(aws, PRIMARY, purpose).await
}

async fn object(aws: &drctl_aws::AwsContext, bucket: &str, key: &str) -> Option<Vec<u8>> {
    match aws
        .s3(PRIMARY)
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(out) => Some(out.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(_) => None,
    }
}

async fn keys(aws: &drctl_aws::AwsContext, bucket: &str) -> Vec<String> {
    let out = aws
        .s3(PRIMARY)
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

fn backend(aws: &drctl_aws::AwsContext, bucket: &str, env: &str) -> S3Backend {
    S3Backend::new(
        Arc::new(tokio::sync::OnceCell::new_with(Some(aws.clone()))),
        drctl_aws::Connection::default(),
        S3Location {
            bucket: bucket.into(),
            prefix: "team/payments".into(),
            region: PRIMARY.into(),
        },
        env,
    )
}

/// [`backend`] whose locks carry a lease of `secs` and name `host`.
fn leased(
    aws: &drctl_aws::AwsContext,
    bucket: &str,
    env: &str,
    host: &str,
    secs: u64,
) -> S3Backend {
    backend(aws, bucket, env).with_lease(LeaseSettings {
        duration: Duration::from_secs(secs),
        host: host.into(),
    })
}

/// The lease the tests that run drctl use: short, so that waiting for a
/// lapse takes seconds, yet four times the background renewal's period
/// (a third of the lease), so that a run on a machine the rest of the suite
/// keeps busy still renews in time (2 s lost an apply its own lease once
/// in a few full runs: every call refused, nothing written).
const LEASE: &str = "4";

/// Past [`LEASE`] by a second: a holder stopped this long has lost it.
const LEASE_LAPSED: Duration = Duration::from_secs(5);

fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// Waits (up to a minute) until `key` exists, written by the run `writer`;
/// a writer that ended first fails the wait with what it printed.
async fn wait_for_object(
    aws: &drctl_aws::AwsContext,
    bucket: &str,
    key: &str,
    writer: &mut std::process::Child,
) -> Vec<u8> {
    for _ in 0..600 {
        if let Some(bytes) = object(aws, bucket, key).await {
            return bytes;
        }
        if let Some(status) = writer.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(mut pipe) = writer.stderr.take() {
                std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
            }
            panic!("the run ended ({status}) before s3://{bucket}/{key} appeared: {stderr}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("s3://{bucket}/{key} never appeared");
}

fn resource(id: &str) -> ResourceState {
    ResourceState {
        kind: "ssm.parameter".into(),
        region: PRIMARY.into(),
        id: id.into(),
        inputs: Default::default(),
        outputs: Default::default(),
        dependencies: Default::default(),
    }
}

/// A lock object as another machine's drctl would leave it.
async fn lock_held_elsewhere(aws: &drctl_aws::AwsContext, bucket: &str, key: &str) -> LockInfo {
    let mut holder = LockInfo::for_this_process("apply");
    holder.host = "ci-runner-7".into();
    holder.pid = 4242;
    aws.s3(PRIMARY)
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(serde_json::to_vec(&holder).unwrap()))
        .send()
        .await
        .unwrap();
    holder
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_honours_conditional_puts() {
    let aws = aws(&emulator_for("s3-cond").endpoint).await;
    let bucket = state_bucket(&aws, "cond").await;
    let s3 = aws.s3(PRIMARY);
    let put = |body: &'static str| {
        s3.put_object()
            .bucket(&bucket)
            .key("k")
            .body(ByteStream::from_static(body.as_bytes()))
    };
    let first = put("1").if_none_match("*").send().await.unwrap();
    let err = put("2").if_none_match("*").send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 412);
    let err = put("2")
        .if_match("\"not-the-etag\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 412);
    let third = put("3")
        .if_match(first.e_tag().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(object(&aws, &bucket, "k").await.unwrap(), b"3");
    // If-Match on a key that does not exist: 404, not a write.
    let err = s3
        .put_object()
        .bucket(&bucket)
        .key("absent")
        .body(ByteStream::from_static(b"x"))
        .if_match(third.e_tag().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
    // Conditional deletes: only the version we name.
    let delete = |etag: &str| s3.delete_object().bucket(&bucket).key("k").if_match(etag);
    let err = delete(first.e_tag().unwrap()).send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 412);
    assert!(object(&aws, &bucket, "k").await.is_some());
    delete(third.e_tag().unwrap()).send().await.unwrap();
    assert!(object(&aws, &bucket, "k").await.is_none());
}

/// A lock object as another machine's drctl leaves it when it dies: a
/// lease of [`LEASE`] seconds that lapsed by its clock.
async fn lapsed_lock_elsewhere(aws: &drctl_aws::AwsContext, bucket: &str, key: &str) -> LockInfo {
    let mut holder = LockInfo::for_this_process("apply");
    holder.host = "ci-runner-7".into();
    holder.pid = 4242;
    holder.stamp_lease(Duration::ZERO);
    holder.lease_seconds = Some(LEASE.parse().unwrap());
    aws.s3(PRIMARY)
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(serde_json::to_vec(&holder).unwrap()))
        .send()
        .await
        .unwrap();
    holder
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lapsed_lease_is_taken_over_by_exactly_one_of_two_runs() {
    let aws = aws(&emulator_for("s3-lapse").endpoint).await;
    let bucket = state_bucket(&aws, "lapse").await;
    let env = "s3-lapse";
    let lock_key = "team/payments/s3-lapse.lock";
    let state_key = "team/payments/s3-lapse.json";
    backend(&aws, &bucket, env)
        .save(&mut State::new(env))
        .unwrap();
    let dead = lapsed_lock_elsewhere(&aws, &bucket, lock_key).await;

    let racers = [
        leased(&aws, &bucket, env, "ci-runner-8", 2),
        leased(&aws, &bucket, env, "ci-runner-9", 2),
    ];
    let results: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = racers
            .iter()
            .map(|b| scope.spawn(move || b.lock("apply")))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let winners: Vec<usize> = (0..2).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one taker wins: {results:?}");
    let w = winners[0];
    let mut results = results.into_iter();
    let (first, second) = (results.next().unwrap(), results.next().unwrap());
    let (winner, lost) = if w == 0 {
        (first, second)
    } else {
        (second, first)
    };
    let winner = winner.unwrap();
    assert_ne!(winner.info().id, dead.id);
    let Err(LockError::HeldRemote { holder, .. }) = &lost else {
        panic!("{lost:?}");
    };
    assert_eq!(holder.id, winner.info().id, "the loser names the winner");
    // The state was rewritten on takeover, so a write the dead holder had
    // in flight (conditional on the version it knew) would be refused: the
    // same document (serial included), one more trailing space.
    let fenced = object(&aws, &bucket, state_key).await.unwrap();
    assert_eq!(state::decode(&fenced).unwrap().serial, 1);
    assert!(
        fenced.ends_with(b"}\n "),
        "{}",
        String::from_utf8_lossy(&fenced)
    );

    // The winner renews its lease while it runs: well past the lease, its
    // lock is still refused to others, at once, and it still writes.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let body: LockInfo =
        serde_json::from_slice(&object(&aws, &bucket, lock_key).await.unwrap()).unwrap();
    assert_eq!(body.id, winner.info().id);
    assert!(body.renewals > 0, "renewed: {body:?}");
    let late = leased(&aws, &bucket, env, "ci-runner-10", 2);
    let err = late.lock("apply").unwrap_err();
    assert!(matches!(err, LockError::HeldRemote { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("its lease lapses 2 s after its last renewal"),
        "{err}"
    );
    let racer = &racers[w];
    let mut state = racer.load().unwrap().unwrap();
    racer.save(&mut state).unwrap();
    drop(winner);
    assert!(object(&aws, &bucket, lock_key).await.is_none(), "released");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_holder_that_lost_its_lease_writes_nothing_more() {
    let aws = aws(&emulator_for("s3-lost").endpoint).await;
    let bucket = state_bucket(&aws, "lost").await;
    let env = "s3-lost";
    let lock_key = "team/payments/s3-lost.lock";
    let state_key = "team/payments/s3-lost.json";
    let intent = |name: &str| Intent {
        id: 0,
        op: IntentOp::Create,
        address: format!("p/ssm.parameter/{name}").parse().unwrap(),
        region: PRIMARY.into(),
        inputs: Default::default(),
        resource_id: None,
        dependencies: Default::default(),
        token: String::new(),
    };

    // Taken over while it was paused (or cut off), as a run on another
    // host does once the lease lapsed: the next write of either kind is
    // refused, naming the new holder, and the lock is left to it.
    let one = leased(&aws, &bucket, env, "ci-runner-8", 2);
    let held = one.lock("apply").unwrap();
    assert!(one.load().unwrap().is_none());
    let mut state = State::new(env);
    one.save(&mut state).unwrap();
    let mut journal = one.begin();
    journal.record(&mut [intent("a")]).unwrap();
    let written = object(&aws, &bucket, state_key).await.unwrap();
    let taker = lock_held_elsewhere(&aws, &bucket, lock_key).await;
    // Past the time it may write without renewing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let err = one.save(&mut state).unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains("no longer holds the lock"), "{message}");
    assert!(
        message.contains("pid 4242 on host ci-runner-7"),
        "{message}"
    );
    let err = journal.record(&mut [intent("b")]).unwrap_err();
    assert!(matches!(err, JournalError::LeaseLost(_)), "{err}");
    assert!(matches!(
        journal.clear(&[1]),
        Err(JournalError::LeaseLost(_))
    ));
    assert_eq!(object(&aws, &bucket, state_key).await.unwrap(), written);
    assert_eq!(one.open_intents().unwrap().len(), 1);
    drop(held);
    let body: LockInfo =
        serde_json::from_slice(&object(&aws, &bucket, lock_key).await.unwrap()).unwrap();
    assert_eq!(body, taker, "the new holder's lock is left alone");
    one.force_unlock().unwrap();

    // Force-unlocked under a run: it stops too.
    let held = one.lock("apply").unwrap();
    leased(&aws, &bucket, env, "ci-runner-9", 2)
        .force_unlock()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let err = one.remove_journal().unwrap_err().to_string();
    assert!(err.contains("force-unlock"), "{err}");
    drop(held);
    assert!(object(&aws, &bucket, lock_key).await.is_none());
    assert_eq!(one.open_intents().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_holder_killed_on_another_host_is_taken_over_once_its_lease_lapses() {
    let proxy = FaultProxy::start(
        &emulator_for("s3-killed").endpoint,
        Faults::slow(Duration::from_millis(150)),
    )
    .await;
    let aws = aws(&emulator_for("s3-killed").endpoint).await;
    let bucket = state_bucket(&aws, "killed").await;
    let ws = Workspace::with_endpoint(
        "s3-killed",
        "primary_cidr = \"10.88.0.0/16\"\nsecondary_cidr = \"10.89.0.0/16\"",
        &proxy.endpoint,
    )
    .with_backend(&format!("s3://{bucket}/k"));
    let mut elsewhere = ws.spawn_with_env(
        &["apply", "--auto-approve"],
        std::process::Stdio::null(),
        &[
            ("DRCTL_HOST", "ci-runner-7"),
            ("DRCTL_LOCK_LEASE_SECONDS", LEASE),
        ],
    );
    // Killed mid-apply: some resources in state, some in flight.
    wait_for_object(&aws, &bucket, "k/s3-killed.json", &mut elsewhere).await;
    let pid = elsewhere.id();
    elsewhere.kill().unwrap();
    elsewhere.wait().unwrap();
    let left: LockInfo =
        serde_json::from_slice(&object(&aws, &bucket, "k/s3-killed.lock").await.unwrap()).unwrap();
    assert_eq!((left.pid, left.host.as_str()), (pid, "ci-runner-7"));
    assert_eq!(left.lease_seconds, Some(4));
    // Until its lease lapses by its own clock, the lock is refused at once.
    tokio::time::sleep(LEASE_LAPSED).await;

    // The next run, on this host, waits out the lease, takes the lock over
    // saying whose it was, recovers what the dead run left and finishes.
    proxy.set(Faults::none());
    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .env("DRCTL_LOCK_LEASE_SECONDS", LEASE)
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "took over the lock of `s3-killed` from pid {pid} on host ci-runner-7 (apply) since {}",
            left.started_at
        )));
    assert!(leftovers(&aws, "s3-killed").await.is_empty());
    assert_eq!(
        keys(&aws, &bucket).await,
        vec!["k/s3-killed.json", "k/s3-killed.json.backup"],
        "no lock and no journal left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_holder_that_lost_its_lease_does_not_write() {
    let proxy = FaultProxy::start(
        &emulator_for("s3-paused").endpoint,
        Faults::slow(Duration::from_millis(150)),
    )
    .await;
    let aws = aws(&emulator_for("s3-paused").endpoint).await;
    let bucket = state_bucket(&aws, "paused").await;
    let ws = Workspace::with_endpoint(
        "s3-paused",
        "primary_cidr = \"10.90.0.0/16\"\nsecondary_cidr = \"10.91.0.0/16\"",
        &proxy.endpoint,
    )
    .with_backend(&format!("s3://{bucket}/team/payments"));
    let lease = [("DRCTL_LOCK_LEASE_SECONDS", LEASE)];
    let mut paused = ws.spawn_with_env(
        &["apply", "--auto-approve"],
        std::process::Stdio::null(),
        &lease,
    );
    let state_key = "team/payments/s3-paused.json";
    wait_for_object(&aws, &bucket, state_key, &mut paused).await;
    send_signal(paused.id(), "-STOP");
    // Its lease lapses (by its clock, which is ours here).
    tokio::time::sleep(LEASE_LAPSED).await;

    // Its lease lapses; a run on another host takes the lock over.
    let taker = leased(&aws, &bucket, "s3-paused", "ci-runner-9", 2);
    let held = taker.lock("apply").unwrap();
    let fenced = object(&aws, &bucket, state_key).await.unwrap();

    // It wakes up: its next write is refused before it is made, and S3
    // would refuse one already under way (the state was rewritten on
    // takeover).
    send_signal(paused.id(), "-CONT");
    let out = paused.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no longer holds the lock"), "{stderr}");
    assert!(stderr.contains("on host ci-runner-9 (apply)"), "{stderr}");
    assert_eq!(
        object(&aws, &bucket, state_key).await.unwrap(),
        fenced,
        "the state is as the taker left it"
    );
    let body: LockInfo = serde_json::from_slice(
        &object(&aws, &bucket, "team/payments/s3-paused.lock")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        body.id,
        held.info().id,
        "the paused run left the lock alone"
    );

    // What it created is recovered from its journal by the next run.
    drop(held);
    proxy.set(Faults::none());
    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
    assert!(leftovers(&aws, "s3-paused").await.is_empty());
}

/// Whether `call` may change anything outside the state bucket: any call
/// but a read (an operation named Describe, Get, List, ... or a REST GET
/// or HEAD); the state backend's own calls (lock renewals, state and
/// journal writes, all conditional or lease-checked) are left out.
fn changes_outside(call: &Call, state_bucket: &str) -> bool {
    const READS: [&str; 9] = [
        "Describe", "Get", "List", "Head", "Lookup", "Search", "Scan", "Query", "BatchGet",
    ];
    let op = &call.operation;
    let read = match op.split_once(' ') {
        Some((method, _)) => matches!(method, "GET" | "HEAD"),
        None => READS.iter().any(|r| op.starts_with(r)),
    };
    !read && !op.is_empty() && !op.contains(state_bucket)
}

/// A run that loses its lease makes no further change in AWS: not the
/// rest of a job already running (an update, which a state write would
/// only have stopped after it finished), and nothing it had not started.
/// The run is paused (SIGSTOP, as a laptop lid closed or a VM frozen)
/// while its update's first call (PutParameter) is under way, held by the
/// proxy; another run takes the lock over; the paused run wakes up, gets
/// its answer, and its next call (AddTagsToResource) is refused before it
/// is sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_lost_its_lease_makes_no_further_aws_change() {
    let env = "s3-lease-stop";
    let proxy = FaultProxy::start(&emulator_for(env).endpoint, Faults::none()).await;
    let aws = aws(&emulator_for(env).endpoint).await;
    let bucket = state_bucket(&aws, "lease-stop").await;
    let cidrs = "primary_cidr = \"10.94.0.0/16\"\nsecondary_cidr = \"10.95.0.0/16\"";
    // The prefix [`backend`] uses, for the taker below.
    let ws = Workspace::with_endpoint(env, cidrs, &proxy.endpoint)
        .with_backend(&format!("s3://{bucket}/team/payments"));
    let target = ["--target", "primary/ssm.parameter/feature-flags"];
    ws.drctl(&[&["apply", "--auto-approve"][..], &target[..]].concat())
        .assert()
        .success();

    // The next run's work is one update of two calls: the value (a
    // feature flag in drctl.toml) and a tag (dropped from state, as if
    // someone removed it in AWS since).
    ws.write_config(&format!(
        "{cidrs}\nfeature_flags = {{ new_payment_flow = true }}"
    ));
    let state_key = format!("team/payments/{env}.json");
    let mut recorded = state::decode(&object(&aws, &bucket, &state_key).await.unwrap()).unwrap();
    let address: drctl_core::Address = "primary/ssm.parameter/feature-flags".parse().unwrap();
    let name = recorded.resources[&address].id.clone();
    let tags = recorded
        .resources
        .get_mut(&address)
        .unwrap()
        .inputs
        .get_mut("tags")
        .and_then(serde_json::Value::as_object_mut)
        .unwrap();
    let dropped = tags.keys().next().unwrap().clone();
    tags.remove(&dropped);
    aws.s3(PRIMARY)
        .put_object()
        .bucket(&bucket)
        .key(&state_key)
        .body(ByteStream::from(state::encode(&recorded)))
        .send()
        .await
        .unwrap();
    let tags_before = aws
        .ssm(PRIMARY)
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(&name)
        .send()
        .await
        .unwrap()
        .tag_list
        .unwrap_or_default();

    proxy.set(Faults {
        hold: Some(("PutParameter".into(), Duration::from_secs(8))),
        ..Faults::none()
    });
    let start = proxy.counts.calls.lock().unwrap().len();
    let run = ws.spawn_with_env(
        &[&["apply", "--auto-approve"][..], &target[..]].concat(),
        std::process::Stdio::piped(),
        &[("DRCTL_LOCK_LEASE_SECONDS", LEASE)],
    );
    let held_call = |calls: &[Call]| calls[start..].iter().any(|c| c.operation == "PutParameter");
    for _ in 0..600 {
        if held_call(&proxy.counts.calls.lock().unwrap()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        held_call(&proxy.counts.calls.lock().unwrap()),
        "{}",
        proxy.counts.call_log()
    );
    send_signal(run.id(), "-STOP");
    // Its lease lapses; a run on another host takes the lock over.
    tokio::time::sleep(LEASE_LAPSED).await;
    let taker = leased(&aws, &bucket, env, "ci-runner-9", 2);
    let held = taker.lock("apply").unwrap();
    let from = proxy.counts.calls.lock().unwrap().len();
    send_signal(run.id(), "-CONT");
    let out = run.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        text(&out),
        proxy.counts.call_log()
    );
    // The refused call names why: the job's error, on stdout with the
    // run's report.
    let said = text(&out);
    assert!(
        said.contains("ssm:AddTagsToResource")
            && said.contains("no longer holds the lock of environment `s3-lease-stop`"),
        "{said}\n{}",
        proxy.counts.call_log()
    );
    assert!(
        said.contains("on host ci-runner-9 (apply)")
            || said.contains("could not renew its lease in time"),
        "{said}"
    );

    let calls = proxy.counts.calls.lock().unwrap().clone();
    let after: Vec<&Call> = calls[from..]
        .iter()
        .filter(|c| changes_outside(c, &bucket))
        .collect();
    assert!(
        after.is_empty(),
        "changes after the lease was lost: {after:#?}\n{}",
        proxy.counts.call_log()
    );
    assert!(
        !calls.iter().any(|c| c.operation == "AddTagsToResource"),
        "{}",
        proxy.counts.call_log()
    );
    let tags_after = aws
        .ssm(PRIMARY)
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(&name)
        .send()
        .await
        .unwrap()
        .tag_list
        .unwrap_or_default();
    assert_eq!(tags_after, tags_before, "the tag was never written");

    // The next run recovers what the stopped one left and cleans up.
    drop(held);
    proxy.set(Faults::none());
    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
    assert!(leftovers(&aws, env).await.is_empty());
}

/// `drctl force-unlock` under a running holder, and another run takes the
/// free lock: taking it fences the state, so the old holder's next state
/// write is refused by S3 (conditional on the ETag it knew), it finds the
/// lock someone else's and stops (state, journal, and its AWS calls
/// through the lease guard), and the new holder's writes succeed.
#[tokio::test(flavor = "multi_thread")]
async fn a_force_unlocked_holder_is_fenced_by_the_next_acquire() {
    let aws = aws(&emulator_for("s3-fence").endpoint).await;
    let bucket = state_bucket(&aws, "fence").await;
    let env = "s3-fence";
    let state_key = "team/payments/s3-fence.json";
    let intent = |name: &str| Intent {
        id: 0,
        op: IntentOp::Create,
        address: format!("p/ssm.parameter/{name}").parse().unwrap(),
        region: PRIMARY.into(),
        inputs: Default::default(),
        resource_id: None,
        dependencies: Default::default(),
        token: String::new(),
    };
    // A lease far longer than the test: only the fence can stop it.
    let old = leased(&aws, &bucket, env, "ci-runner-8", 600);
    let new = leased(&aws, &bucket, env, "ci-runner-9", 600);

    let held_old = old.lock("apply").unwrap();
    assert!(old.load().unwrap().is_none());
    let mut state = State::new(env);
    old.save(&mut state).unwrap();
    let mut journal_old = old.begin();
    journal_old.record(&mut [intent("a")]).unwrap();

    let removed = new.force_unlock().unwrap().unwrap();
    assert_eq!(removed.id, held_old.info().id);
    let written = object(&aws, &bucket, state_key).await.unwrap();
    let held_new = new.lock("apply").unwrap();
    let fenced = object(&aws, &bucket, state_key).await.unwrap();

    // The old holder: refused by S3, then told why.
    let err = old.save(&mut state).unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err}");
    assert!(
        err.to_string().contains("pid") && err.to_string().contains("on host ci-runner-9 (apply)"),
        "{err}"
    );
    assert_eq!(state.serial, 1, "a failed write leaves the serial alone");
    assert_eq!(object(&aws, &bucket, state_key).await.unwrap(), fenced);
    // The fence: the same document, new bytes (one more trailing space),
    // so a new ETag.
    assert_ne!(fenced, written);
    assert_eq!(
        state::decode(&fenced).unwrap(),
        state::decode(&written).unwrap()
    );
    assert!(matches!(
        journal_old.record(&mut [intent("b")]),
        Err(JournalError::LeaseLost(_))
    ));
    let stopped = aws.lease_guard().check().unwrap_err().to_string();
    assert!(stopped.contains("on host ci-runner-9 (apply)"), "{stopped}");

    // The new holder: the state as the old one left it, at the same
    // serial (a plan saved before the fence still applies), and its writes
    // go on.
    let mut current = new.load().unwrap().unwrap();
    assert_eq!(current.serial, 1);
    new.save(&mut current).unwrap();
    assert_eq!(current.serial, 2);
    let mut mine = intent("c");
    new.begin().record(std::slice::from_mut(&mut mine)).unwrap();
    assert_eq!(mine.id, 2, "after the old holder's intent");
    assert_eq!(new.open_intents().unwrap().len(), 2);
    drop(journal_old);
    drop(held_old);
    let lock: LockInfo = serde_json::from_slice(
        &object(&aws, &bucket, "team/payments/s3-fence.lock")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(lock.id, held_new.info().id, "the old holder left it alone");
    new.save(&mut current).unwrap();
    new.remove_journal().unwrap();
    drop(held_new);
    assert_eq!(
        keys(&aws, &bucket).await,
        vec![
            "team/payments/s3-fence.json",
            "team/payments/s3-fence.json.backup"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn state_writes_are_conditional_and_a_lost_race_overwrites_nothing() {
    let aws = aws(&emulator_for("s3-race").endpoint).await;
    let bucket = state_bucket(&aws, "race").await;
    let key = "team/payments/s3-race.json";
    let ours = backend(&aws, &bucket, "s3-race");
    let theirs = backend(&aws, &bucket, "s3-race");

    // Both find no state; only the first may create it.
    assert!(ours.load().unwrap().is_none());
    assert!(theirs.load().unwrap().is_none());
    let mut mine = State::new("s3-race");
    mine.resources
        .insert("p/ssm.parameter/a".parse().unwrap(), resource("a"));
    ours.save(&mut mine).unwrap();
    let mut other = State::new("s3-race");
    let err = theirs.save(&mut other).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("nothing was overwritten"), "{err}");
    assert_eq!(other.serial, 0, "a failed write leaves the serial alone");

    // The other reads, then we write: its next write is refused and our
    // state is intact.
    let mut seen = theirs.load().unwrap().unwrap();
    let a2: drctl_core::Address = "p/ssm.parameter/b".parse().unwrap();
    mine.resources.insert(a2.clone(), resource("b"));
    ours.record(&mut mine, std::slice::from_ref(&a2)).unwrap();
    let written = object(&aws, &bucket, key).await.unwrap();
    seen.resources.clear();
    let err = theirs.save(&mut seen).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(object(&aws, &bucket, key).await.unwrap(), written);
    let stored = state::decode(&written).unwrap();
    assert_eq!(stored, mine);
    assert_eq!(stored.serial, 2);

    // A write out of band (another tool) between our read and our write.
    let mut edited = written.clone();
    edited.extend_from_slice(b"\n");
    aws.s3(PRIMARY)
        .put_object()
        .bucket(&bucket)
        .key(key)
        .body(ByteStream::from(edited.clone()))
        .send()
        .await
        .unwrap();
    let err = ours.save(&mut mine).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(mine.serial, 2);
    assert_eq!(object(&aws, &bucket, key).await.unwrap(), edited);

    // The first write of a process kept the state it found as the backup.
    let backup = object(&aws, &bucket, &format!("{key}.backup"))
        .await
        .expect("a backup object");
    assert_eq!(state::decode(&backup).unwrap().serial, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lock_and_the_journal_live_in_s3() {
    let aws = aws(&emulator_for("s3-lock").endpoint).await;
    let bucket = state_bucket(&aws, "lock").await;
    let one = backend(&aws, &bucket, "s3-lock");
    let two = backend(&aws, &bucket, "s3-lock");

    let held = one.lock("apply").unwrap();
    let err = two.lock("destroy").unwrap_err();
    let LockError::HeldRemote { holder, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(holder.id, held.info().id);
    let message = err.to_string();
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    assert!(message.contains("force-unlock --env s3-lock"), "{message}");
    drop(held);
    assert!(keys(&aws, &bucket).await.is_empty(), "released on drop");
    let held = two.lock("destroy").unwrap();
    let removed = one.force_unlock().unwrap().unwrap();
    assert_eq!(removed.id, held.info().id);
    assert!(one.force_unlock().unwrap().is_none());

    // A lock left by a process that died on this host is taken over;
    // one held on another machine is not.
    let mut dead = LockInfo::for_this_process("apply");
    dead.pid = 4_194_305;
    aws.s3(PRIMARY)
        .put_object()
        .bucket(&bucket)
        .key("team/payments/s3-lock.lock")
        .body(ByteStream::from(serde_json::to_vec(&dead).unwrap()))
        .send()
        .await
        .unwrap();
    let taken = one.lock("apply").unwrap();
    assert_ne!(taken.info().id, dead.id);
    drop(taken);
    lock_held_elsewhere(&aws, &bucket, "team/payments/s3-lock.lock").await;
    let err = one.lock("apply").unwrap_err().to_string();
    assert!(err.contains("ci-runner-7"), "{err}");
    one.force_unlock().unwrap();

    // Intents are objects, listed in the order they were recorded.
    let intent = |name: &str| Intent {
        id: 0,
        op: IntentOp::Create,
        address: format!("p/ssm.parameter/{name}").parse().unwrap(),
        region: PRIMARY.into(),
        inputs: Default::default(),
        resource_id: None,
        dependencies: Default::default(),
        token: String::new(),
    };
    let mut journal = one.begin();
    let mut recorded = Vec::new();
    for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"] {
        let mut i = intent(name);
        journal.record(std::slice::from_mut(&mut i)).unwrap();
        recorded.push(i);
    }
    journal.clear(&[recorded[1].id]).unwrap();
    recorded.remove(1);
    assert_eq!(two.open_intents().unwrap(), recorded);
    two.remove_journal().unwrap();
    assert!(one.open_intents().unwrap().is_empty());
    assert!(keys(&aws, &bucket).await.is_empty());
}

/// Every run's journal numbers its intents from 1, so two runs' intents
/// can share a key. An intent object is written only where none is
/// (PutObject `If-None-Match: *`, S3 API Reference): a run that lost the
/// lock (paused past its lease) never overwrites an intent of the run that
/// took the lock over, and says so.
#[tokio::test(flavor = "multi_thread")]
async fn an_intent_never_overwrites_another_runs_intent() {
    let aws = aws(&emulator_for("s3-intent").endpoint).await;
    let bucket = state_bucket(&aws, "intent").await;
    let one = backend(&aws, &bucket, "s3-intent");
    let two = backend(&aws, &bucket, "s3-intent");
    let intent = |name: &str| Intent {
        id: 0,
        op: IntentOp::Create,
        address: format!("p/ssm.parameter/{name}").parse().unwrap(),
        region: PRIMARY.into(),
        inputs: Default::default(),
        resource_id: None,
        dependencies: Default::default(),
        token: String::new(),
    };
    // Both runs start their journals (ids after every intent already
    // there: none yet), then the other one writes first.
    let mut ours = one.begin();
    let mut theirs = intent("theirs");
    two.begin()
        .record(std::slice::from_mut(&mut theirs))
        .unwrap();
    let key = "team/payments/s3-intent.journal/00000000000000000001.json";
    let written = object(&aws, &bucket, key).await.unwrap();
    let err = ours.record(&mut [intent("ours")]).unwrap_err();
    assert!(err.to_string().contains("exists already"), "{err}");
    assert_eq!(object(&aws, &bucket, key).await.unwrap(), written);
    assert_eq!(one.open_intents().unwrap(), vec![theirs]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_env_runs_on_the_s3_backend_and_writes_nothing_locally() {
    let aws = aws(&emulator_for("s3-full").endpoint).await;
    let bucket = state_bucket(&aws, "full").await;
    let url = format!("s3://{bucket}/team");
    let ws = Workspace::new(
        "s3-full",
        "primary_cidr = \"10.82.0.0/16\"\nsecondary_cidr = \"10.83.0.0/16\"",
    )
    .with_backend(&url);
    ws.drctl(&["apply", "--auto-approve"]).assert().success();
    let bytes = object(&aws, &bucket, "team/s3-full.json")
        .await
        .expect("the state object");
    let applied = state::decode(&bytes).expect("a valid state document");
    assert_eq!(applied.resources.len(), ws.resource_count());
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let problems = orphans_and_duplicates(&aws, &ws.env, &json).await;
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        keys(&aws, &bucket).await,
        vec!["team/s3-full.json", "team/s3-full.json.backup"],
        "no lock and no journal left once the apply is done"
    );
    ws.drctl(&["plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes"));
    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
    let left = leftovers(&aws, &ws.env).await;
    assert!(left.is_empty(), "{left:#?}");
    let destroyed =
        state::decode(&object(&aws, &bucket, "team/s3-full.json").await.unwrap()).unwrap();
    assert!(destroyed.resources.is_empty());
    assert_eq!(destroyed.lineage, applied.lineage);
    assert!(destroyed.serial > applied.serial);
    assert!(
        !ws.path("state").exists(),
        "nothing is written to the local state dir"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_working_directories_contend_for_one_s3_lock() {
    // Latency keeps the first apply busy long enough to be overlapped.
    let proxy = FaultProxy::start(
        &emulator_for("s3-two").endpoint,
        Faults::slow(Duration::from_millis(150)),
    )
    .await;
    let aws = aws(&emulator_for("s3-two").endpoint).await;
    let bucket = state_bucket(&aws, "two").await;
    let url = format!("s3://{bucket}/shared");
    let settings = "primary_cidr = \"10.84.0.0/16\"\nsecondary_cidr = \"10.85.0.0/16\"";
    let alice = Workspace::with_endpoint("s3-two", settings, &proxy.endpoint).with_backend(&url);
    let bob = Workspace::with_endpoint("s3-two", settings, &proxy.endpoint).with_backend(&url);
    assert_ne!(alice.dir.path(), bob.dir.path());

    let mut first = alice.spawn(&["apply", "--auto-approve"], std::process::Stdio::null());
    let lock_key = "shared/s3-two.lock";
    let s3 = aws.s3(PRIMARY);
    let mut lock_seen = false;
    for _ in 0..600 {
        if s3
            .head_object()
            .bucket(&bucket)
            .key(lock_key)
            .send()
            .await
            .is_ok()
        {
            lock_seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(lock_seen, "the first apply took the lock");
    bob.drctl(&["apply", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "locked by pid {}",
            first.id()
        )))
        .stderr(predicate::str::contains(format!(
            "s3://{bucket}/{lock_key}"
        )))
        .stderr(predicate::str::contains("with the same backend"));
    // Overlapped and refused: the rest needs no latency.
    proxy.set(Faults::none());
    assert!(
        first.wait().unwrap().success(),
        "the first apply is undisturbed"
    );
    // Bob sees what Alice applied, from his own directory.
    bob.drctl(&["plan", "--detailed-exitcode"]).assert().code(0);

    // A lock held on another machine: refused, then broken from Bob's
    // directory, which names who held it.
    lock_held_elsewhere(&aws, &bucket, lock_key).await;
    bob.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("pid 4242 on host ci-runner-7"));
    bob.drctl(&["force-unlock"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "held by pid 4242 on host ci-runner-7",
        ));
    bob.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
    assert!(leftovers(&aws, "s3-two").await.is_empty());
    assert!(!alice.path("state").exists() && !bob.path("state").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_sweep_against_the_s3_backend_converges() {
    // Each lane's state bucket lives in the emulator that lane uses.
    let mut urls = BTreeMap::new();
    for lane in 0..SWEEP_LANES {
        let env = format!("s3-sweep-{lane}");
        let aws = aws(&emulator_for(&env).endpoint).await;
        let bucket = state_bucket(&aws, "sweep").await;
        urls.insert(env, format!("s3://{bucket}/sweep"));
    }
    let dirs = Mutex::new(Vec::new());
    // Half the points of the local sweep, on the environment without its
    // databases, functions and containers (128 resources of 220): the local
    // sweep already crashes every kind of provider call; what this one adds
    // is where the backend's own calls fall (lock, state and journal
    // objects, before and after each wave of operations), which are spread
    // over the whole run and so met by any even spread of points.
    crash_sweep("s3-sweep", CRASH_POINTS / 2, |env, endpoint| {
        let ws = Workspace::with_endpoint(
            env,
            "primary_cidr = \"10.86.0.0/16\"\nsecondary_cidr = \"10.87.0.0/16\"\ndatabases_and_functions = false\ncontainers = false",
            endpoint,
        )
        .with_backend(&urls[env]);
        dirs.lock().unwrap().push(ws.path("state"));
        ws
    })
    .await;
    for dir in dirs.into_inner().unwrap() {
        assert!(!dir.exists(), "{} holds nothing", dir.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn state_push_and_pull_check_lineage_serial_and_lock() {
    let aws = aws(&emulator_for("s3-push").endpoint).await;
    let bucket = state_bucket(&aws, "push").await;
    let url = format!("s3://{bucket}/moved");
    let env = "s3-push";
    let key = "moved/s3-push.json";
    let here = Workspace::new(env, "").with_backend(&url);
    let there = Workspace::new(env, "").with_backend(&url);

    // A local state whose last change is only in the change log.
    let store = StateStore::new(here.path("state"), env);
    let mut before = State::new(env);
    let a: drctl_core::Address = "p/ssm.parameter/a".parse().unwrap();
    let b: drctl_core::Address = "p/ssm.parameter/b".parse().unwrap();
    before.resources.insert(a.clone(), resource("a"));
    store.record(&mut before, std::slice::from_ref(&a)).unwrap();
    before.resources.insert(b.clone(), resource("b"));
    store.record(&mut before, std::slice::from_ref(&b)).unwrap();
    assert!(store.log_path().exists());

    here.drctl(&["state", "push"])
        .assert()
        .success()
        .stdout(predicate::str::contains("2 resources, serial 3"));
    assert!(!store.log_path().exists(), "the log was folded first");
    let local = store.load().unwrap().unwrap();
    assert_eq!(local.serial, 3);
    let pushed = state::decode(&object(&aws, &bucket, key).await.unwrap()).unwrap();
    assert_eq!(pushed, local, "the change log went along");

    // Pulled from another directory.
    there.drctl(&["state", "pull"]).assert().success();
    let pulled_store = StateStore::new(there.path("state"), env);
    let pulled = pulled_store.load().unwrap().unwrap();
    assert_eq!(pulled, local);
    there
        .drctl(&["state", "pull"])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing to copy"));

    // Another history is refused, even with --force.
    let stranger = Workspace::new(env, "").with_backend(&url);
    let mut unrelated = State::new(env);
    StateStore::new(stranger.path("state"), env)
        .save(&mut unrelated)
        .unwrap();
    for args in [&["state", "push"][..], &["state", "push", "--force"]] {
        stranger
            .drctl(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("another state history"));
    }

    // An older copy is refused unless forced.
    let mut newer = local.clone();
    newer.resources.remove(&a);
    store.record(&mut newer, std::slice::from_ref(&a)).unwrap();
    here.drctl(&["state", "push"]).assert().success();
    let newer = store.load().unwrap().unwrap();
    there
        .drctl(&["state", "push"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "is at serial {}",
            newer.serial
        )))
        .stderr(predicate::str::contains("--force"));
    assert_eq!(
        state::decode(&object(&aws, &bucket, key).await.unwrap()).unwrap(),
        newer
    );
    there
        .drctl(&["state", "push", "--force"])
        .assert()
        .success();
    let forced = state::decode(&object(&aws, &bucket, key).await.unwrap()).unwrap();
    assert_eq!(forced.resources, pulled.resources);
    assert_eq!(
        forced.serial,
        newer.serial + 1,
        "newer than what it replaced"
    );
    assert_eq!(pulled_store.load().unwrap().unwrap().serial, pulled.serial);

    // A locked destination is refused, naming the holder.
    lock_held_elsewhere(&aws, &bucket, "moved/s3-push.lock").await;
    here.drctl(&["state", "push", "--force"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("ci-runner-7"));
    assert_eq!(
        state::decode(&object(&aws, &bucket, key).await.unwrap()).unwrap(),
        forced
    );
    here.drctl(&["force-unlock"]).assert().success();

    // Without a shared backend there is nothing to move.
    let mut lonely = Workspace::new(env, "");
    lonely.backend = None;
    lonely
        .drctl(&["state", "pull"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--backend s3://BUCKET/PREFIX"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_state_bucket_says_how_to_create_it() {
    let ws = Workspace::new("s3-nobucket", "").with_backend("s3://tfstate-never-created/x");
    ws.drctl(&["plan"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "aws s3 mb s3://tfstate-never-created --region us-east-1",
        ));
}

#[test]
fn bad_backend_settings_are_refused_before_any_api_call() {
    let counter = ConnectionCounter::start();
    let ws = Workspace::with_endpoint("s3-bad", "", &counter.endpoint);
    let mut flag = ws.drctl(&["plan", "--backend", "https://team-state/x"]);
    let o = flag.output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("--backend: `https://team-state/x` is not an S3 URL"),
        "{}",
        text(&o)
    );
    ws.drctl(&[
        "plan",
        "--backend",
        "s3://team-state/x",
        "--backend-region",
        "mars-1",
    ])
    .assert()
    .code(1)
    .stderr(predicate::str::contains(
        "--backend-region: unknown AWS region `mars-1`",
    ));
    for (var, value, says) in [
        (
            "DRCTL_LOCK_LEASE_SECONDS",
            "1",
            "DRCTL_LOCK_LEASE_SECONDS: `1` is not a lease drctl can use; set a whole number of seconds from 2 to 3600",
        ),
        ("DRCTL_HOST", " ", "DRCTL_HOST is set but empty"),
        (
            "DRCTL_AWS_READ_TIMEOUT_SECONDS",
            "0",
            "DRCTL_AWS_READ_TIMEOUT_SECONDS: `0` is not a timeout drctl can use; set a whole number of seconds from 1 to 600",
        ),
        (
            "DRCTL_AWS_READ_TIMEOUT_SECONDS",
            "30s",
            "DRCTL_AWS_READ_TIMEOUT_SECONDS: `30s` is not a timeout",
        ),
    ] {
        ws.drctl(&["plan", "--backend", "s3://team-state/x"])
            .env(var, value)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(says));
    }
    for (table, says) in [
        (
            "[backend]\nurl = \"s3://Team_State\"\n",
            "drctl.toml: `backend.url`: `Team_State` is not a valid S3 bucket name",
        ),
        (
            "[backend]\nurl = \"s3://team-state\"\nbuckit = \"x\"\n",
            "drctl.toml: `backend.buckit`: unknown key",
        ),
    ] {
        std::fs::write(ws.path("drctl.toml"), format!("{table}[env.s3-bad]\n")).unwrap();
        ws.drctl(&["apply", "--auto-approve"])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(says));
    }
    assert_eq!(counter.connections(), 0);
}
