//! The command line on bad input: clear `error:` lines, exit 1, nothing
//! touched, and no API call (checked with a loopback connection counter).

use drctl_tests::{ConnectionCounter, Workspace, repo_root};
use predicates::prelude::*;

fn offline(env: &str, settings: &str) -> (Workspace, ConnectionCounter) {
    let counter = ConnectionCounter::start();
    let ws = Workspace::with_endpoint(env, settings, &counter.endpoint);
    (ws, counter)
}

#[test]
fn malformed_config_is_refused_before_any_api_call() {
    let cases: &[(&str, &str)] = &[
        (
            "primary_cidr = \"10.0.0.0/33\"",
            "`env.cli-bad.primary_cidr`: `10.0.0.0/33` is not an IPv4 CIDR",
        ),
        (
            "secondary_cidr = \"10.0.0.0/16\"",
            "`env.cli-bad.secondary_cidr`: `10.0.0.0/16` overlaps",
        ),
        (
            "primary_region = \"us-north-7\"",
            "`env.cli-bad.primary_region`: unknown AWS region",
        ),
        (
            "secondary_region = \"us-east-1\"",
            "must differ from the primary region",
        ),
        (
            "primary_cidr = [1, 2]",
            "expected a string like \"10.0.0.0/16\", found array",
        ),
        (
            "db_instance_clas = \"db.r6g.large\"",
            "unknown key; did you mean `db_instance_class`?",
        ),
        ("primary_cidr = \"10.0.0.0/16", "invalid TOML"),
    ];
    for (settings, expected) in cases {
        for command in [
            &["plan"][..],
            &["apply", "--auto-approve"],
            &["destroy", "--auto-approve"],
        ] {
            let (ws, counter) = offline("cli-bad", settings);
            ws.drctl(command)
                .assert()
                .code(1)
                .stderr(predicate::str::starts_with("error: drctl.toml: "))
                .stderr(predicate::str::contains(*expected));
            assert_eq!(
                counter.connections(),
                0,
                "{command:?} with {settings:?} called an API"
            );
            assert!(
                !ws.path("state").exists(),
                "state folder created on invalid input"
            );
        }
    }
}

#[test]
fn unknown_environment_and_missing_file_are_named() {
    let (ws, counter) = offline("cli-known", "");
    ws.drctl_bare(&["plan", "--env", "nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "`env.nope`: no environment `nope` is defined (defined: cli-known)",
        ));
    ws.drctl_bare(&["plan", "--env", "cli-known", "--config", "missing.toml"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: missing.toml: cannot read it",
        ));
    assert_eq!(counter.connections(), 0);
}

#[test]
fn usage_errors_exit_1_not_2() {
    let (ws, _) = offline("cli-usage", "");
    // 2 means "changes present" with --detailed-exitcode; usage errors must not look like it.
    ws.drctl(&["apply", "--parallelism", "0"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error:"));
    ws.drctl_bare(&["frobnicate"]).assert().code(1);
    ws.drctl_bare(&["--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("plan"));
}

#[test]
fn validate_and_graph_work_offline_on_the_repo_config() {
    let (ws, counter) = offline("cli-validate", "");
    std::fs::copy(repo_root().join("drctl.toml"), ws.path("drctl.toml")).unwrap();
    ws.drctl_bare(&["validate"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "env `dev`: {} resources, us-east-1 -> us-east-2",
            drctl_tests::blueprint_in(&repo_root().join("drctl.toml"), "dev").len()
        )));
    ws.drctl_bare(&["graph", "--env", "dev", "--format", "dot"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("digraph drctl {"))
        .stdout(predicate::str::contains(
            "\"primary/ec2.vpc/payment\" -> \"primary/ec2.subnet/public-a\"",
        ));
    // What a full apply waits for: the Aurora global database's chain,
    // ending with the secondary's reader (modelled figures, no AWS call).
    let out = ws
        .drctl_bare(&["graph", "--env", "dev", "--critical-path"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let chain: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    assert!(
        text.starts_with("Critical path of a full apply of `dev`: "),
        "{text}"
    );
    assert_eq!(
        chain,
        [
            "global/rds.global_cluster/payment",
            "primary/rds.cluster/payment",
            "primary/rds.instance/writer",
            "secondary/rds.cluster/payment",
            "secondary/rds.instance/reader",
        ],
        "{text}"
    );
    assert_eq!(counter.connections(), 0);
}

#[test]
fn corrupt_or_newer_state_is_refused_and_left_byte_identical() {
    for (content, expected) in [
        (&b"{\"format_version\": 1, \"lineage\": "[..], "not valid JSON"),
        (&br#"{"format_version": 9, "lineage": "x", "serial": 1, "env": "cli-state", "resources": {}}"#[..], "format version 9 is newer than this drctl supports"),
    ] {
        let (ws, counter) = offline("cli-state", "");
        std::fs::create_dir_all(ws.path("state")).unwrap();
        std::fs::write(ws.state_path(), content).unwrap();
        for command in [&["plan"][..], &["apply", "--auto-approve"], &["destroy", "--auto-approve"], &["show"]] {
            let out = ws.drctl(command).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(stderr.contains("state/cli-state.json is unusable"), "{stderr}");
            assert!(stderr.contains("left untouched"), "{stderr}");
            // Said once: the message names its cause, the chain does not
            // repeat it.
            assert_eq!(stderr.matches(expected).count(), 1, "{stderr}");
            assert_eq!(std::fs::read(ws.state_path()).unwrap(), content);
        }
        assert_eq!(counter.connections(), 0);
    }
}

#[test]
fn a_held_lock_refuses_apply_and_destroy_until_force_unlock() {
    let (ws, counter) = offline("cli-lock", "");
    let lock =
        drctl_core::lock::StateLock::acquire(&ws.path("state"), "cli-lock", "apply").unwrap();
    for command in [
        &["apply", "--auto-approve"][..],
        &["destroy", "--auto-approve"],
        &["plan", "--refresh"],
    ] {
        ws.drctl(command)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "locked by pid {}",
                std::process::id()
            )))
            .stderr(predicate::str::contains("(apply) since"))
            .stderr(predicate::str::contains(
                "drctl force-unlock --env cli-lock",
            ));
    }
    assert_eq!(counter.connections(), 0);
    std::mem::forget(lock); // as if its holder had been killed
    ws.drctl(&["force-unlock"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Removed the lock"));
    ws.drctl(&["force-unlock"])
        .assert()
        .success()
        .stdout(predicate::str::contains("was not locked"));
    assert!(!ws.path("state/cli-lock.lock").exists());
}

#[test]
fn apply_without_a_terminal_needs_auto_approve() {
    let ws = Workspace::new(
        "cli-approve",
        "primary_cidr = \"10.60.0.0/16\"\nsecondary_cidr = \"10.61.0.0/16\"",
    );
    ws.drctl(&["apply"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("pass --auto-approve"));
    assert!(!ws.state_path().exists(), "nothing was applied");
}

#[test]
fn init_writes_the_embedded_default_and_never_overwrites() {
    let (ws, counter) = offline("cli-init", "");
    std::fs::remove_file(ws.path("drctl.toml")).unwrap();
    ws.drctl_bare(&["init"]).assert().success();
    assert_eq!(
        std::fs::read_to_string(ws.path("drctl.toml")).unwrap(),
        std::fs::read_to_string(repo_root().join("drctl.toml")).unwrap()
    );
    ws.drctl_bare(&["init"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already exists; pass --force"));
    ws.drctl_bare(&["validate"]).assert().success();
    assert_eq!(counter.connections(), 0);
}

/// Without credentials a new user sees one `error:` line saying what to do,
/// and no SDK internals; `-v` shows where the SDK looked.
#[test]
fn without_credentials_one_clear_error_and_sdk_internals_only_with_v() {
    let (ws, counter) = offline("cli-no-creds", "");
    let home = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["plan"];
        args.extend_from_slice(extra);
        let out = ws
            .drctl(&args)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_CONFIG_FILE")
            .env_remove("AWS_SHARED_CREDENTIALS_FILE")
            .env("HOME", home.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8(out.stderr).unwrap()
    };
    let stderr = run(&[]);
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "error: cannot resolve the AWS account: no AWS credentials found: set AWS_PROFILE to a profile of ~/.aws/config (after `aws sso login` for an SSO profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; run with -v to see where drctl looked"
        ]
    );
    let verbose = run(&["-v"]);
    assert!(
        verbose.contains("the credential chain found nothing"),
        "{verbose}"
    );
    assert_eq!(counter.connections(), 0, "no API call without credentials");
}
