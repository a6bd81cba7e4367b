//! Faults: a crash at any point of an apply or destroy, injected AWS
//! errors, two applies at once, and secrets. Every loop here is bounded;
//! crash points and fault seeds are printed so a failure can be replayed.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use drctl_tests::proxy::{FaultProxy, Faults};
use drctl_tests::{Workspace, aws, emulator_for, leftovers, orphans_and_duplicates, still_found};
use predicates::prelude::*;

const SETTINGS: &str = "primary_cidr = \"10.70.0.0/16\"\nsecondary_cidr = \"10.71.0.0/16\"";

pub(crate) fn run(ws: &Workspace, args: &[&str], crash_after: Option<usize>) -> Output {
    let mut cmd = ws.drctl(args);
    if let Some(n) = crash_after {
        cmd.env(drctl_aws::CRASH_ENV, n.to_string());
    }
    cmd.output().unwrap()
}

pub(crate) fn text(o: &Output) -> String {
    use std::os::unix::process::ExitStatusExt;
    let killed = match o.status.signal() {
        Some(9) => format!(
            " (SIGKILL: the run passed the harness's {} s limit, drctl_tests::RUN_LIMIT)",
            drctl_tests::RUN_LIMIT.as_secs()
        ),
        _ => String::new(),
    };
    format!(
        "status {:?}{killed}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The state (file, or S3 object read by `drctl show`), which must always
/// parse (never half-written).
pub(crate) fn state(ws: &Workspace) -> serde_json::Value {
    if ws.backend.is_some() {
        let o = ws.drctl(&["show", "--json"]).output().unwrap();
        assert!(o.status.success(), "the state always parses\n{}", text(&o));
        let doc: serde_json::Value =
            serde_json::from_slice(&o.stdout).expect("show --json prints a JSON document");
        return match &doc["state"] {
            serde_json::Value::Null => serde_json::json!({"resources": {}}),
            state => state.clone(),
        };
    }
    match std::fs::read(ws.state_path()) {
        Ok(bytes) => serde_json::from_slice(&bytes).expect("the state file always parses"),
        Err(_) => serde_json::json!({"resources": {}}),
    }
}

/// `args` succeeds within `attempts` runs (faults may fail a run; the next
/// one picks up from state and the journal).
fn eventually_succeeds(ws: &Workspace, args: &[&str], attempts: usize) -> Output {
    let mut last = None;
    for attempt in 1..=attempts {
        let o = run(ws, args, None);
        if o.status.success() {
            println!("{args:?} succeeded on run {attempt}");
            return o;
        }
        last = Some(o);
    }
    panic!(
        "{args:?} failed {attempts} times; last:\n{}",
        text(&last.unwrap())
    );
}

/// After a full apply: no drift, and the emulator holds exactly what state
/// records.
async fn assert_converged(ws: &Workspace, aws: &drctl_aws::AwsContext, context: &str) {
    let plan = run(ws, &["plan", "--refresh", "--detailed-exitcode"], None);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{context}: plan after recovery\n{}",
        text(&plan)
    );
    let state = state(ws);
    assert_eq!(
        state["resources"].as_object().unwrap().len(),
        ws.resource_count(),
        "{context}"
    );
    let problems = orphans_and_duplicates(aws, &ws.env, &state).await;
    assert!(problems.is_empty(), "{context}: {problems:#?}");
    assert!(
        journal_is_gone(ws, aws).await,
        "{context}: the journal is removed once settled"
    );
}

/// No journal file, or no journal object under the S3 backend's prefix.
async fn journal_is_gone(ws: &Workspace, aws: &drctl_aws::AwsContext) -> bool {
    match &ws.backend {
        None => !ws.path(&format!("state/{}.journal", ws.env)).exists(),
        Some(url) => {
            let url = drctl_blueprint::parse_s3_url(url).unwrap();
            let prefix = if url.prefix.is_empty() {
                format!("{}.journal/", ws.env)
            } else {
                format!("{}/{}.journal/", url.prefix, ws.env)
            };
            let out = aws
                .s3(drctl_tests::PRIMARY)
                .list_objects_v2()
                .bucket(&url.bucket)
                .prefix(prefix)
                .send()
                .await
                .unwrap();
            out.contents().is_empty()
        }
    }
}

fn points(total: usize, count: usize) -> Vec<usize> {
    let count = count.max(2);
    (0..count)
        .map(|i| 1 + i * (total.saturating_sub(1)) / (count - 1))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_sweep_over_apply_and_destroy_converges() {
    crash_sweep("crash-sweep", CRASH_POINTS, |env, endpoint| {
        Workspace::with_endpoint(env, SETTINGS, endpoint)
    })
    .await;
}

/// The crash points of the sweep over every provider call (16 in apply,
/// 6 in destroy); `DRCTL_CRASH_POINTS` sets another number for every sweep.
pub(crate) const CRASH_POINTS: usize = 22;

/// How many environments a crash sweep shares its points out to. They run
/// at once (each its own environment, so they never see each other's
/// resources), spread over the test binary's emulators.
pub(crate) const SWEEP_LANES: usize = 4;

/// One environment of a crash sweep, behind a proxy that counts its calls.
struct SweepLane {
    ws: Workspace,
    proxy: FaultProxy,
}

/// Crashes apply and destroy at points spread over each run, whatever
/// backend the workspaces keep state in; with the S3 backend its calls
/// count as crash points too. `make(env, endpoint)` makes the workspace of
/// each lane (`{base}-{lane}`), pointed at `endpoint`. Every point runs a
/// crashed run, the run that recovers, and the checks that it converged;
/// the points are shared out to `SWEEP_LANES` lanes that run at once.
/// `points_wanted` crash points in all (about 8 in 11 in apply), unless
/// `DRCTL_CRASH_POINTS` says otherwise.
pub(crate) async fn crash_sweep(
    base: &str,
    points_wanted: usize,
    make: impl Fn(&str, &str) -> Workspace,
) {
    let mut lanes = Vec::new();
    for lane in 0..SWEEP_LANES {
        let env = format!("{base}-{lane}");
        let proxy = FaultProxy::start(&emulator_for(&env).endpoint, Faults::none()).await;
        let ws = make(&env, &proxy.endpoint);
        lanes.push(SweepLane { ws, proxy });
    }
    let apply: &[&str] = &["apply", "--auto-approve"];
    let destroy: &[&str] = &["destroy", "--auto-approve", "--allow-data-loss"];

    // How many calls a whole apply and destroy make (lane 0 counts).
    let first = &lanes[0];
    let before = first.proxy.requests();
    assert!(run(&first.ws, apply, None).status.success());
    let apply_calls = first.proxy.requests() - before;
    let before = first.proxy.requests();
    assert!(run(&first.ws, destroy, None).status.success());
    let destroy_calls = first.proxy.requests() - before;

    let wanted: usize = std::env::var("DRCTL_CRASH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(points_wanted);
    let apply_points = points(apply_calls, wanted * 8 / 11);
    let destroy_points = points(destroy_calls, wanted - wanted * 8 / 11);
    println!(
        "crash sweep (state: {}): apply makes {apply_calls} calls, destroy {destroy_calls}; crashing apply after {apply_points:?} and destroy after {destroy_points:?}, over {SWEEP_LANES} environments at once",
        first.ws.backend.as_deref().unwrap_or("local")
    );

    // Lane i takes every SWEEP_LANES-th point of each list.
    let share = |all: &[usize], lane: usize| -> Vec<usize> {
        all.iter()
            .copied()
            .skip(lane)
            .step_by(SWEEP_LANES)
            .collect()
    };
    let crashed: usize = std::thread::scope(|scope| {
        let runs: Vec<_> = lanes
            .iter()
            .enumerate()
            .map(|(i, lane)| {
                let (apply_points, destroy_points) =
                    (share(&apply_points, i), share(&destroy_points, i));
                scope.spawn(move || sweep_lane(&lane.ws, &apply_points, &destroy_points))
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .sum()
    });
    println!(
        "crash sweep: {} crash points, {crashed} runs crashed, every one converged with no orphan and no duplicate",
        apply_points.len() + destroy_points.len()
    );
    assert!(
        crashed >= (apply_points.len() + destroy_points.len()) / 2,
        "the crash switch fired"
    );
}

/// The crash points of one lane, in turn; returns how many runs crashed.
/// An apply point starts from an empty environment and ends with it whole
/// and checked; a destroy point starts from it whole and ends with nothing
/// left. So the points alternate, each starting where the one before ended,
/// and a plain apply or destroy runs only where no point of that kind is
/// left to get there.
fn sweep_lane(ws: &Workspace, apply_points: &[usize], destroy_points: &[usize]) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let aws = rt.block_on(aws(&emulator_for(&ws.env).endpoint));
    let apply: &[&str] = &["apply", "--auto-approve"];
    let destroy: &[&str] = &["destroy", "--auto-approve", "--allow-data-loss"];
    let (mut applies, mut destroys) = (apply_points.iter(), destroy_points.iter());
    let mut crashed = 0;
    let mut whole = false;
    loop {
        if !whole {
            let Some(&k) = applies.next() else {
                if destroys.len() == 0 {
                    break;
                }
                assert!(run(ws, apply, None).status.success(), "{}: apply", ws.env);
                whole = true;
                continue;
            };
            let context = format!("{}: apply crashed after call {k}", ws.env);
            if !run(ws, apply, Some(k)).status.success() {
                crashed += 1;
            }
            let _ = state(ws);
            let again = run(ws, apply, None);
            assert!(
                again.status.success(),
                "{context}: the next apply\n{}",
                text(&again)
            );
            rt.block_on(assert_converged(ws, &aws, &context));
            whole = true;
        } else {
            let (context, crash) = match destroys.next() {
                Some(&k) => (
                    format!("{}: destroy crashed after call {k}", ws.env),
                    Some(k),
                ),
                None => (format!("{}: destroy", ws.env), None),
            };
            if let Some(k) = crash {
                if !run(ws, destroy, Some(k)).status.success() {
                    crashed += 1;
                }
                let _ = state(ws);
            }
            let again = run(ws, destroy, None);
            assert!(
                again.status.success(),
                "{context}: the next destroy\n{}",
                text(&again)
            );
            let left = rt.block_on(leftovers(&aws, &ws.env));
            assert!(left.is_empty(), "{context}: {left:#?}");
            assert_eq!(
                state(ws)["resources"].as_object().unwrap().len(),
                0,
                "{context}"
            );
            whole = false;
        }
    }
    crashed
}

/// The fault sequence's seed: `DRCTL_FAULT_SEED` to replay one, else the
/// clock.
fn fault_seed() -> u64 {
    std::env::var("DRCTL_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fifth_of_calls_faulted_apply_and_destroy_converge() {
    let seed = fault_seed();
    println!("fault injection: 20 % of calls, seed {seed} (replay with DRCTL_FAULT_SEED={seed})");
    let proxy = FaultProxy::start(
        &emulator_for("faults-20").endpoint,
        Faults {
            rate: 0.2,
            seed,
            ..Faults::none()
        },
    )
    .await;
    let ws = Workspace::with_endpoint(
        "faults-20",
        "primary_cidr = \"10.72.0.0/16\"\nsecondary_cidr = \"10.73.0.0/16\"",
        &proxy.endpoint,
    );
    let aws = aws(&emulator_for("faults-20").endpoint).await;
    // Several runs: at a 20 % fault rate, one call in 0.2^6 fails all six
    // attempts and stops its run, which the next run resumes. (While the
    // clients kept the SDK's retry quota, its token bucket ran dry within
    // one run over the 160-resource graph and eight runs were not enough.)
    eventually_succeeds(&ws, &["apply", "--auto-approve"], 3);
    let plan = eventually_succeeds(&ws, &["plan", "--refresh"], 3);
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("No changes."),
        "{}",
        text(&plan)
    );
    let problems = orphans_and_duplicates(&aws, &ws.env, &state(&ws)).await;
    assert!(problems.is_empty(), "seed {seed}: {problems:#?}");
    eventually_succeeds(&ws, &["destroy", "--auto-approve", "--allow-data-loss"], 3);
    let left = leftovers(&aws, &ws.env).await;
    assert!(left.is_empty(), "seed {seed}: {left:#?}");
    let c = &proxy.counts;
    use std::sync::atomic::Ordering::SeqCst;
    println!(
        "fault injection: {} requests, {} throttled, {} errors, {} dropped",
        c.requests.load(SeqCst),
        c.throttled.load(SeqCst),
        c.errors.load(SeqCst),
        c.dropped.load(SeqCst)
    );
    assert!(proxy.faults_injected() > 50, "faults were injected");
}

/// A fifth of the create calls reach the emulator, which acts, and their
/// responses are lost: the client sees a broken connection after AWS made
/// the resource. One apply must still converge with no duplicate (a resend
/// of a create without a token is preceded by a lookup; a create with a
/// token sends the same one again), and destroy must leave nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_fifth_of_create_responses_lost_after_the_fact_apply_converges_without_duplicates() {
    let seed = fault_seed();
    let lost = lost_answers_converge(
        "lost-creates",
        136,
        Faults {
            seed,
            lose_create_responses: 0.2,
            ..Faults::none()
        },
    )
    .await;
    assert!(
        lost.apply.len() >= 10,
        "responses were lost: {:?}",
        lost.apply
    );
}

/// A tenth of every mutating call's answers (creates, deletes, attaches,
/// modifies, record changes, tags) are lost after the emulator acted. Apply
/// and destroy must each converge on their first run: a resent delete of
/// what is gone succeeds, a resent attach or change finds it done, and
/// nothing is duplicated or left behind.
#[tokio::test(flavor = "multi_thread")]
async fn a_tenth_of_every_mutating_answer_lost_apply_and_destroy_converge_in_one_run() {
    let seed = fault_seed();
    let lost = lost_answers_converge(
        "lost-mutations",
        190,
        Faults {
            seed,
            lose_mutating_responses: 0.1,
            ..Faults::none()
        },
    )
    .await;
    assert!(
        lost.apply.len() >= 10,
        "answers were lost: {:?}",
        lost.apply
    );
    assert!(
        lost.destroy
            .iter()
            .any(|op| op.contains(":Delete") || op.contains(":DELETE")),
        "deletes' answers were lost: {:?}",
        lost.destroy
    );
}

/// The operations whose answers were lost, by run.
struct Lost {
    apply: Vec<String>,
    destroy: Vec<String>,
}

/// The full stack of `env` (CIDRs from `first_octet`) applied and destroyed
/// through a proxy losing answers after the fact as `faults` says: each
/// run succeeds on its first try, with no orphan or duplicate after apply,
/// no change in a refreshed plan, and nothing left after destroy.
async fn lost_answers_converge(env: &str, first_octet: u8, faults: Faults) -> Lost {
    let seed = faults.seed;
    println!("{env}: seed {seed} (replay with DRCTL_FAULT_SEED={seed})");
    let proxy = FaultProxy::start(&emulator_for(env).endpoint, faults).await;
    let ws = Workspace::with_endpoint(
        env,
        &format!(
            "primary_cidr = \"10.{first_octet}.0.0/16\"\nsecondary_cidr = \"10.{}.0.0/16\"",
            first_octet + 1
        ),
        &proxy.endpoint,
    );
    let aws = aws(&emulator_for(env).endpoint).await;
    let lost_so_far = || proxy.counts.lost_operations.lock().unwrap().clone();
    // One run: a lost answer is not an error the user has to rerun for.
    let o = run(&ws, &["apply", "--auto-approve"], None);
    let apply = lost_so_far();
    assert!(
        o.status.success(),
        "seed {seed}, lost {apply:?}:\n{}",
        text(&o)
    );
    let problems = orphans_and_duplicates(&aws, &ws.env, &state(&ws)).await;
    assert!(
        problems.is_empty(),
        "seed {seed}, lost {apply:?}: {problems:#?}"
    );
    let plan = run(&ws, &["plan", "--refresh"], None);
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("No changes."),
        "seed {seed}, lost {apply:?}:\n{}",
        text(&plan)
    );
    let applied = state(&ws);
    let o = run(
        &ws,
        &["destroy", "--auto-approve", "--allow-data-loss"],
        None,
    );
    let destroy = lost_so_far()[apply.len()..].to_vec();
    assert!(
        o.status.success(),
        "seed {seed}, lost {destroy:?}:\n{}",
        text(&o)
    );
    let mut left = leftovers(&aws, &ws.env).await;
    left.extend(still_found(&aws, &ws.env, &applied).await);
    assert!(left.is_empty(), "seed {seed}: {left:#?}");
    println!(
        "{env}: {} answers lost in apply, {} in destroy, of {} requests",
        apply.len(),
        destroy.len(),
        proxy.requests()
    );
    Lost { apply, destroy }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_apply_is_refused_while_one_runs() {
    // Latency keeps the first apply busy long enough to be overlapped.
    let proxy = FaultProxy::start(
        &emulator_for("two-applies").endpoint,
        Faults::slow(Duration::from_millis(150)),
    )
    .await;
    let ws = Workspace::with_endpoint(
        "two-applies",
        "primary_cidr = \"10.74.0.0/16\"\nsecondary_cidr = \"10.75.0.0/16\"",
        &proxy.endpoint,
    );
    let mut first = ws.spawn(&["apply", "--auto-approve"], std::process::Stdio::null());
    let lock = ws.path("state/two-applies.lock");
    assert!(
        drctl_tests::eventually(Duration::from_secs(60), || lock.exists()),
        "the first apply took the lock"
    );
    ws.drctl(&["apply", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "locked by pid {}",
            first.id()
        )))
        .stderr(predicate::str::contains("(apply) since"));
    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .code(1);
    // Overlapped and refused: the rest needs no latency.
    proxy.set(Faults::none());
    assert!(
        first.wait().unwrap().success(),
        "the first apply is undisturbed"
    );
    assert!(!lock.exists());
    assert_eq!(
        state(&ws)["resources"].as_object().unwrap().len(),
        ws.resource_count()
    );
    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
}

/// `GetSecretValue` straight from the emulator (Secrets Manager's JSON
/// protocol), to learn the password RDS generated.
fn secret_value(endpoint: &str, arn: &str) -> String {
    use std::io::{Read, Write};
    let body = serde_json::json!({ "SecretId": arn }).to_string();
    let host = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Target: secretsmanager.GetSecretValue\r\nContent-Type: application/x-amz-json-1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let json = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let parsed: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {response}"));
    parsed["SecretString"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_state_plans_journal_or_logs() {
    let canary = "drctl-canary-secret-key-7f3a9c";
    let ws = Workspace::new(
        "secrets",
        "primary_cidr = \"10.76.0.0/16\"\nsecondary_cidr = \"10.77.0.0/16\"",
    );
    // The most verbose drctl can be, with the SDK asked to print signed
    // request bodies (LOG_SIGNABLE_BODY) and every crate at TRACE, whose
    // request and response dumps carry the bodies: CreateDBCluster's
    // MasterUserPassword, GetSecretValue's answer.
    let mut logs = String::new();
    for args in [
        &["plan", "--out", "all.plan", "-vvv"][..],
        &["plan", "--json", "-vvv"],
        &["apply", "all.plan", "--auto-approve", "-vvv"],
    ] {
        let o = ws
            .drctl(args)
            .env("AWS_SECRET_ACCESS_KEY", canary)
            .env("RUST_LOG", "trace")
            .env("LOG_SIGNABLE_BODY", "true")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        logs.push_str(&text(&o));
    }
    let state = state(&ws);
    let cluster = &state["resources"]["primary/rds.cluster/payment"];
    let secret = &state["resources"]["primary/secretsmanager.secret/db-master"];
    let secret_arn = secret["outputs"]["arn"].as_str().unwrap();
    assert!(
        secret_arn.starts_with("arn:aws:secretsmanager:"),
        "{secret}"
    );
    // The cluster records which secret holds its password, nothing more.
    assert_eq!(
        cluster["inputs"]["master_password_secret_arn"],
        serde_json::json!(secret_arn),
        "{cluster}"
    );
    let value = secret_value(&ws.endpoint, secret_arn);
    let password: serde_json::Value = serde_json::from_str(&value).unwrap();
    let password = password["password"].as_str().unwrap_or_default().to_owned();
    assert!(password.len() >= 8, "Secrets Manager generated a password");
    // The password as the RDS Query body carries it, too.
    let encoded: String = password
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();

    // And as a debug dump of bytes prints them (`Bytes([112, 97, ...])`).
    let as_bytes = |s: &str| {
        s.bytes()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (password_bytes, encoded_bytes) = (as_bytes(&password), as_bytes(&encoded));
    for needle in [
        canary,
        password.as_str(),
        encoded.as_str(),
        password_bytes.as_str(),
        encoded_bytes.as_str(),
    ] {
        assert!(!logs.contains(needle), "a secret appears in drctl's output");
        for file in files_under(ws.dir.path()) {
            let content = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
            assert!(
                !content.contains(needle),
                "a secret appears in {}",
                file.display()
            );
        }
    }
    assert!(
        logs.contains("LOG_SIGNABLE_BODY is set: drctl ignores it"),
        "the operator is told"
    );
    // Drctl's own TRACE lines are kept; the SDK's stop at DEBUG.
    let sdk = |line: &&str| line.contains("aws_smithy_runtime::") || line.contains("aws_sigv4::");
    assert!(
        logs.lines().filter(sdk).any(|l| l.contains(" DEBUG ")),
        "SDK debug lines kept"
    );
    assert!(
        !logs.lines().filter(sdk).any(|l| l.contains(" TRACE ")),
        "no SDK trace line"
    );
    // No input is a password: only the secret's ARN.
    let text = serde_json::to_string(&state).unwrap().to_lowercase();
    assert!(
        !text.contains("\"master_user_password\""),
        "no password input"
    );
    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_random_moments_then_apply_converges() {
    let seed: u64 = std::env::var("DRCTL_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    // A little latency spreads the apply over a few seconds.
    let proxy = FaultProxy::start(
        &emulator_for("kill-9").endpoint,
        Faults::slow(Duration::from_millis(20)),
    )
    .await;
    let ws = Workspace::with_endpoint(
        "kill-9",
        "primary_cidr = \"10.78.0.0/16\"\nsecondary_cidr = \"10.79.0.0/16\"",
        &proxy.endpoint,
    );
    let aws = aws(&emulator_for("kill-9").endpoint).await;
    let mut x = seed | 1;
    let mut moments = Vec::new();
    for round in 0..3 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let after = Duration::from_millis(50 + x % 2500);
        moments.push(after.as_millis());
        let mut child = ws.spawn(&["apply", "--auto-approve"], std::process::Stdio::null());
        std::thread::sleep(after);
        let _ = std::process::Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status();
        let _ = child.wait();
        let _ = state(&ws);
        let context = format!(
            "kill -9 after {} ms (seed {seed}, round {round})",
            after.as_millis()
        );
        let again = run(&ws, &["apply", "--auto-approve"], None);
        assert!(again.status.success(), "{context}\n{}", text(&again));
        assert_converged(&ws, &aws, &context).await;
        assert!(
            run(
                &ws,
                &["destroy", "--auto-approve", "--allow-data-loss"],
                None
            )
            .status
            .success()
        );
    }
    println!(
        "kill -9: seed {seed}, killed after {moments:?} ms, each converged (replay with DRCTL_KILL_SEED={seed})"
    );
    assert!(leftovers(&aws, "kill-9").await.is_empty());
}

/// A create request still on its way when its process is killed lands
/// after the next run has looked for it: that run must neither lose it (an
/// orphan) nor make a second one. Recovery keeps the create as unconfirmed,
/// and the next create of the address sends the same idempotency token
/// (EC2 ClientToken), which returns the one resource whichever call lands
/// first; before, a new token made a second route table.
#[tokio::test(flavor = "multi_thread")]
async fn a_create_landing_after_the_next_run_looked_is_neither_lost_nor_duplicated() {
    const HOLD: Duration = Duration::from_secs(8);
    let env = "late-create";
    let proxy = FaultProxy::start(
        &emulator_for(env).endpoint,
        Faults {
            hold: Some(("Action=CreateRouteTable&".into(), HOLD)),
            ..Faults::none()
        },
    )
    .await;
    let ws = Workspace::with_endpoint(
        env,
        "primary_cidr = \"10.182.0.0/16\"\nsecondary_cidr = \"10.183.0.0/16\"\ndatabases_and_functions = false\ncontainers = false",
        &proxy.endpoint,
    );
    let aws = aws(&emulator_for(env).endpoint).await;
    let held = |p: &FaultProxy| p.counts.held.load(std::sync::atomic::Ordering::SeqCst);
    let released = |p: &FaultProxy| p.counts.released.load(std::sync::atomic::Ordering::SeqCst);

    // Killed while its first CreateRouteTable waits in the proxy.
    let mut child = ws.spawn(&["apply", "--auto-approve"], std::process::Stdio::null());
    assert!(
        drctl_tests::eventually(Duration::from_secs(120), || held(&proxy) > 0),
        "the apply reached CreateRouteTable"
    );
    let _ = std::process::Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let in_flight = held(&proxy);
    proxy.set(Faults::none());

    // The next apply looks before the held requests land (they wait HOLD
    // from when they arrived), creates the route tables itself, and the
    // held requests land during or after it.
    let again = run(&ws, &["apply", "--auto-approve"], None);
    assert!(again.status.success(), "{}", text(&again));
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains("its create was not found"),
        "recovery missed the held create(s), as intended: {stdout}"
    );
    assert!(
        drctl_tests::eventually(HOLD * 2, || released(&proxy) >= in_flight),
        "the held requests landed"
    );

    // Exactly the route tables state records; a plan finds nothing to do
    // and nothing is left in doubt.
    let plan = run(&ws, &["plan", "--refresh", "--detailed-exitcode"], None);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let state = state(&ws);
    let problems = orphans_and_duplicates(&aws, env, &state).await;
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        state["unconfirmed_creates"],
        serde_json::Value::Null,
        "{state:#}"
    );
    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
    assert!(leftovers(&aws, env).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permanent_error_fails_fast_and_only_its_dependents() {
    let proxy = FaultProxy::start(
        &emulator_for("permanent-error").endpoint,
        Faults {
            reject_ec2_action: Some("CreateNatGateway".into()),
            ..Faults::none()
        },
    )
    .await;
    let ws = Workspace::with_endpoint(
        "permanent-error",
        "primary_cidr = \"10.80.0.0/16\"\nsecondary_cidr = \"10.81.0.0/16\"",
        &proxy.endpoint,
    );
    // What fails (both gateways) and what depends on them, from the
    // blueprint: the rest is created.
    let graph = drctl_tests::blueprint_in(&ws.path("drctl.toml"), &ws.env);
    let total = graph.len();
    let gateways: Vec<drctl_core::Address> = graph
        .resources()
        .map(|r| r.address.clone())
        .filter(|a| a.kind() == "ec2.nat_gateway")
        .collect();
    let cut_off = drctl_tests::with_dependents(&graph, &gateways);
    ws.drctl(&["apply", "--auto-approve"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "error: primary/ec2.nat_gateway/payment: ec2:CreateNatGateway: InvalidParameterValue: rejected by the test proxy (request id: injected)",
        ))
        .stdout(predicate::str::contains(
            "primary/ec2.route/private-default: skipped, because primary/ec2.nat_gateway/payment failed",
        ))
        .stdout(predicate::str::contains(format!(
            "{} created, 0 updated, 0 replaced, 0 deleted, {} failed, {} skipped",
            total - cut_off.len(),
            gateways.len(),
            cut_off.len() - gateways.len()
        )));
    // Not retried: one request per gateway.
    assert_eq!(
        proxy
            .counts
            .rejected
            .load(std::sync::atomic::Ordering::SeqCst),
        gateways.len()
    );
    assert_eq!(
        state(&ws)["resources"].as_object().unwrap().len(),
        total - cut_off.len()
    );

    // Once the cause is gone the next apply finishes the rest.
    proxy.set(Faults::none());
    ws.drctl(&["apply", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "{} created",
            cut_off.len()
        )));
    let aws = aws(&emulator_for("permanent-error").endpoint).await;
    assert_converged(&ws, &aws, "after the permanent error").await;
    ws.drctl(&["destroy", "--auto-approve", "--allow-data-loss"])
        .assert()
        .success();
}

/// drctl's clients make six attempts of a call whatever the fault (a
/// throttle, a dropped connection, a 5xx whose body is not the service's
/// error document, as a load balancer's page): every attempt of one read
/// is faulted here, and all six are made.
#[tokio::test(flavor = "multi_thread")]
async fn a_5xx_without_an_error_document_is_retried() {
    let proxy = FaultProxy::start(
        &emulator_for("faults-5xx").endpoint,
        Faults {
            rate: 1.0,
            seed: 7,
            ..Faults::none()
        },
    )
    .await;
    // drctl's own configuration, through the proxy.
    let credentials =
        aws_sdk_sts::config::Credentials::new("testing", "testing", None, None, "test");
    let aws = drctl_aws::AwsContext::load_from(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .credentials_provider(credentials),
        &drctl_aws::Connection::to(Some(proxy.endpoint.clone())),
    )
    .await;
    let err = aws
        .apigateway(drctl_tests::PRIMARY)
        .get_base_path_mapping()
        .domain_name("api.example.com")
        .base_path("(none)")
        .send()
        .await
        .unwrap_err();
    use std::sync::atomic::Ordering::SeqCst;
    let c = &proxy.counts;
    println!(
        "throttled {} errors {} dropped {}",
        c.throttled.load(SeqCst),
        c.errors.load(SeqCst),
        c.dropped.load(SeqCst)
    );
    assert_eq!(proxy.requests(), 6, "{err:?}");
}
