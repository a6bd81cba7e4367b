//! The operator experience through the real binary on the emulator:
//! `output`, `--json` reports, `show --json`, `--timeline`, `graph`
//! formats, colour and `--quiet`, and `bootstrap`.

use std::collections::BTreeMap;

use drctl_tests::{Workspace, aws, leftovers};
use predicates::prelude::*;
use serde_json::Value;

/// The lean stack (no Aurora, DynamoDB or Lambda) in its own CIDRs.
fn lean(env: &str, first_octet: u8) -> Workspace {
    Workspace::new(
        env,
        &format!(
            "primary_cidr = \"10.{first_octet}.0.0/16\"\nsecondary_cidr = \"10.{}.0.0/16\"\ndatabases_and_functions = false\ncontainers = false",
            first_octet + 1
        ),
    )
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Checks a run report of `operation` over `count` operations, all
/// succeeded with `action`; returns the addresses it names.
fn check_report(
    doc: &Value,
    env: &str,
    operation: &str,
    action: &str,
    count: usize,
) -> Vec<String> {
    assert_eq!(doc["format_version"], 1, "{doc:#}");
    assert_eq!(doc["env"], env);
    assert_eq!(doc["operation"], operation);
    assert_eq!(doc["status"], "complete");
    assert!(doc["elapsed_ms"].is_u64());
    let ops = doc["operations"].as_array().expect("operations array");
    assert_eq!(ops.len(), count);
    let mut addresses = Vec::new();
    for op in ops {
        let address = op["address"].as_str().expect("address string");
        assert_eq!(op["action"], action, "{op}");
        assert_eq!(op["status"], "succeeded", "{op}");
        let (start, end) = (op["start_ms"].as_u64(), op["end_ms"].as_u64());
        assert!(
            matches!((start, end), (Some(s), Some(e)) if s <= e),
            "timings of {op}"
        );
        assert!(op["region"].is_string() && op["critical"].is_boolean());
        addresses.push(address.to_owned());
    }
    let summary_key = if action == "create" {
        "created"
    } else {
        "deleted"
    };
    assert_eq!(doc["summary"][summary_key], count);
    assert_eq!(doc["summary"]["failed"], 0);
    let critical = doc["critical_path"].as_array().expect("critical path");
    assert!(!critical.is_empty());
    for step in critical {
        assert!(addresses.iter().any(|a| step["address"] == a.as_str()));
    }
    addresses
}

#[tokio::test(flavor = "multi_thread")]
async fn json_reports_timeline_show_and_output_on_a_lean_env() {
    let env = "ux-lean";
    let ws = lean(env, 126);
    let count = ws.resource_count();

    // Before any apply: show says the state does not exist, output refuses.
    let show = ws.drctl(&["show", "--json"]).output().unwrap();
    assert!(show.status.success());
    let doc: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["env"], env);
    assert_eq!(doc["exists"], false);
    assert!(doc["state"].is_null());
    for args in [
        &["output"][..],
        &["output", "--json"],
        &["output", "primary_bucket"],
    ] {
        ws.drctl(args)
            .assert()
            .code(1)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(format!(
                "no state for `{env}`: run `drctl apply --env {env}`"
            )));
    }

    // Not a terminal: no ANSI escapes even without NO_COLOR.
    let plan = ws.drctl(&["plan"]).env_remove("NO_COLOR").output().unwrap();
    assert!(plan.status.success());
    let text = stdout_of(&plan);
    assert!(text.contains(&format!("Plan: {count} to add, 0 to change, 0 to destroy.")));
    assert!(text.contains("+ primary/ec2.vpc/payment"), "{text}");
    assert!(!text.contains('\x1b'), "ANSI escape in plain output");
    ws.drctl(&["plan", "--no-color"])
        .env_remove("NO_COLOR")
        .assert()
        .success()
        .stdout(
            predicate::str::contains(format!("Plan: {count} to add"))
                .and(predicate::str::contains("\x1b").not()),
        );

    // plan --json: the plan document alone on stdout.
    let plan = ws.drctl(&["plan", "--json"]).output().unwrap();
    assert!(plan.status.success());
    let doc: Value = serde_json::from_slice(&plan.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["format_version"], drctl_core::plan::PLAN_FORMAT_VERSION);
    assert_eq!(doc["env"], env);
    assert_eq!(doc["operation"], "apply");
    assert!(doc["state_lineage"].is_null());
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), count);
    assert!(changes.iter().all(|c| c["action"] == "create"));
    let subnet = changes
        .iter()
        .find(|c| c["address"] == "primary/ec2.subnet/public-a")
        .unwrap();
    assert_eq!(subnet["region"], "us-east-1");
    assert!(
        subnet["depends_on"]
            .as_array()
            .unwrap()
            .contains(&Value::from("primary/ec2.vpc/payment"))
    );

    // apply --json: the report alone on stdout, plan and progress on stderr.
    let timeline = ws.path("apply.svg");
    let apply = ws
        .drctl(&[
            "apply",
            "--auto-approve",
            "--json",
            "--timeline",
            timeline.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = stderr_of(&apply);
    assert!(apply.status.success(), "{err}");
    let report: Value = serde_json::from_slice(&apply.stdout).expect("stdout is one JSON document");
    let addresses = check_report(&report, env, "apply", "create", count);
    assert!(addresses.contains(&"primary/ec2.vpc/payment".to_owned()));
    assert!(err.contains(&format!("Plan: {count} to add")), "{err}");
    assert!(err.contains("primary/ec2.vpc/payment: Creation complete after"));
    assert!(err.contains("Apply complete after"));

    // The timeline: well-formed SVG, one bar per operation, the critical
    // path marked with its own class.
    let svg = std::fs::read_to_string(&timeline).unwrap();
    let xml = roxmltree::Document::parse(&svg).expect("the timeline is XML");
    assert_eq!(xml.root_element().tag_name().name(), "svg");
    let groups = |class: &str| {
        xml.descendants()
            .filter(|n| n.attribute("class") == Some(class))
            .count()
    };
    let critical = groups("op critical");
    assert_eq!(groups("op") + critical, count);
    assert_eq!(
        critical,
        report["critical_path"].as_array().unwrap().len(),
        "the SVG and the report disagree on the critical path"
    );
    let bars = xml
        .descendants()
        .filter(|n| {
            n.has_tag_name("g") && n.attribute("class").is_some_and(|c| c.starts_with("op"))
        })
        .filter(|g| g.children().any(|c| c.has_tag_name("rect")))
        .count();
    assert_eq!(bars, count);

    // show --json after: the state document itself.
    let show = ws.drctl(&["show", "--json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(doc["exists"], true);
    assert_eq!(doc["state"]["env"], env);
    assert_eq!(doc["state"]["resources"].as_object().unwrap().len(), count);

    // output: every output the lean stack has, as text, JSON and bare.
    let listing = ws.drctl(&["output"]).output().unwrap();
    assert!(listing.status.success());
    let listing = stdout_of(&listing);
    let json = ws.drctl(&["output", "--json"]).output().unwrap();
    let outputs: BTreeMap<String, Value> = serde_json::from_slice(&json.stdout).unwrap();
    let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "hosted_zone_id",
            "primary_api_url",
            "primary_bucket",
            "secondary_api_url",
            "secondary_bucket"
        ],
        "the lean stack has no global cluster or table"
    );
    for (name, output) in &outputs {
        let value = output["value"].as_str().expect("a string value");
        assert!(!value.is_empty());
        assert!(output["region"].is_string() && output["address"].is_string());
        assert!(
            listing.lines().any(|l| l
                .split_once(" = ")
                .is_some_and(|(n, v)| n.trim_end() == name && v == value)),
            "{name} missing from:\n{listing}"
        );
        ws.drctl(&["output", name])
            .assert()
            .success()
            .stdout(format!("{value}\n"));
    }
    assert_eq!(
        outputs["primary_bucket"]["address"],
        "primary/s3.bucket/data"
    );
    let state: Value = serde_json::from_slice(&std::fs::read(ws.state_path()).unwrap()).unwrap();
    assert_eq!(
        outputs["primary_bucket"]["value"],
        state["resources"]["primary/s3.bucket/data"]["outputs"]["bucket"]
    );
    ws.drctl(&["output", "api_url"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no output named `api_url`; the outputs are: primary_api_url, secondary_api_url, hosted_zone_id, global_cluster_id, primary_bucket, secondary_bucket, session_table",
        ));
    ws.drctl(&["output", "session_table"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "global/dynamodb.table/session is not in the state of `ux-lean`",
        ));

    // destroy --json: a delete report; progress on stderr.
    let destroy = ws
        .drctl(&["destroy", "--auto-approve", "--allow-data-loss", "--json"])
        .output()
        .unwrap();
    let err = stderr_of(&destroy);
    assert!(destroy.status.success(), "{err}");
    let report: Value =
        serde_json::from_slice(&destroy.stdout).expect("stdout is one JSON document");
    let deleted = check_report(&report, env, "destroy", "delete", count);
    let mut created = addresses;
    created.sort();
    let mut deleted = deleted;
    deleted.sort();
    assert_eq!(created, deleted);
    assert!(err.contains("Destruction complete after"));
    let left = leftovers(&aws(&ws.endpoint).await, env).await;
    assert!(left.is_empty(), "left behind: {left:#?}");

    // With nothing to do, --json still prints an (empty) report.
    let again = ws
        .drctl(&["destroy", "--auto-approve", "--json"])
        .output()
        .unwrap();
    assert!(again.status.success());
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["operations"].as_array().unwrap().len(), 0);
}

#[test]
fn json_runs_need_auto_approve() {
    let ws = lean("ux-json-approve", 122);
    for command in ["apply", "destroy"] {
        ws.drctl(&[command, "--json"])
            .assert()
            .code(1)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains("pass --auto-approve too"));
    }
    assert!(!ws.state_path().exists());
}

#[test]
fn graph_prints_mermaid_and_dot() {
    let ws = lean("ux-graph", 124);
    let mermaid = ws
        .drctl(&["graph", "--format", "mermaid"])
        .output()
        .unwrap();
    assert!(mermaid.status.success());
    let text = stdout_of(&mermaid);
    assert!(text.starts_with("flowchart"), "{text}");
    // Node ids are opaque: map them back to the addresses they label.
    let mut ids = BTreeMap::new();
    for line in text.lines() {
        if let Some((id, rest)) = line.trim().split_once("[\"")
            && !id.starts_with("subgraph")
        {
            ids.insert(rest.trim_end_matches("\"]").to_owned(), id.to_owned());
        }
    }
    assert_eq!(ids.len(), ws.resource_count(), "one node per resource");
    let edge = format!(
        "{} --> {}",
        ids["primary/ec2.vpc/payment"], ids["primary/ec2.subnet/public-a"]
    );
    assert!(text.lines().any(|l| l.trim() == edge), "no edge `{edge}`");
    ws.drctl(&["graph", "--format", "dot"])
        .assert()
        .success()
        .stdout(
            predicate::str::starts_with("digraph drctl {").and(predicate::str::contains(
                "\"primary/ec2.vpc/payment\" -> \"primary/ec2.subnet/public-a\"",
            )),
        );
}

const COMMENTED: &str = "# Our environments.\n# Keep this comment.\n\n[env.ux-keep] # the first one\nprimary_cidr = \"10.126.0.0/16\"   # odd spacing kept\nsecondary_cidr = \"10.127.0.0/16\"\ndatabases_and_functions = false\ncontainers = false\n# A comment after the last table stays above the new one.\n";

#[test]
fn bootstrap_appends_keeps_comments_and_never_overwrites() {
    let ws = Workspace::new("ux-keep", "");
    std::fs::write(ws.path("drctl.toml"), COMMENTED).unwrap();
    let args = [
        "bootstrap",
        "ux-boot",
        "--primary-cidr",
        "10.128.0.0/16",
        "--secondary-cidr",
        "10.129.0.0/16",
        "--domain",
        "ux-boot.example.internal",
    ];
    ws.drctl_bare(&args)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Added `[env.ux-boot]` to drctl.toml.",
        ))
        .stdout(predicate::str::contains(
            "to add, 0 to change, 0 to destroy.",
        ));
    let written = std::fs::read_to_string(ws.path("drctl.toml")).unwrap();
    assert!(
        written.starts_with(COMMENTED),
        "existing text changed:\n{written}"
    );
    let added = &written[COMMENTED.len()..];
    assert_eq!(
        added,
        "\n[env.ux-boot]\nprimary_cidr = \"10.128.0.0/16\"\nsecondary_cidr = \"10.129.0.0/16\"\ndomain = \"ux-boot.example.internal\"\n"
    );
    ws.drctl_bare(&["validate"]).assert().success();

    // The same settings again: nothing written, exit 0.
    ws.drctl_bare(&args)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "already in drctl.toml with these settings; nothing written",
        ));
    assert_eq!(
        std::fs::read_to_string(ws.path("drctl.toml")).unwrap(),
        written
    );

    // Other settings: refused, naming each differing key.
    ws.drctl_bare(&[
        "bootstrap",
        "ux-boot",
        "--primary-cidr",
        "10.130.0.0/16",
        "--domain",
        "other.example.internal",
        "--secondary-cidr",
        "10.129.0.0/16",
    ])
    .assert()
    .code(1)
    .stderr(predicate::str::contains(
        "environment `ux-boot` already exists with other settings",
    ))
    .stderr(predicate::str::contains(
        "primary_cidr (is \"10.128.0.0/16\", asked \"10.130.0.0/16\")",
    ))
    .stderr(predicate::str::contains(
        "domain (is \"ux-boot.example.internal\", asked \"other.example.internal\")",
    ))
    .stderr(predicate::str::contains("secondary_cidr").not());
    assert_eq!(
        std::fs::read_to_string(ws.path("drctl.toml")).unwrap(),
        written
    );

    // An invalid CIDR: refused, the file untouched.
    ws.drctl_bare(&["bootstrap", "ux-bad", "--primary-cidr", "10.131.0.0/33"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("drctl.toml"))
        .stderr(predicate::str::contains(
            "`env.ux-bad.primary_cidr`: `10.131.0.0/33` is not an IPv4 CIDR",
        ));
    assert_eq!(
        std::fs::read_to_string(ws.path("drctl.toml")).unwrap(),
        written
    );
    assert!(
        !ws.path("state").join("ux-boot.json").exists(),
        "bootstrap without --apply applied"
    );
}

#[test]
fn bootstrap_creates_the_file_when_absent() {
    let ws = Workspace::new("ux-fresh", "");
    std::fs::remove_file(ws.path("drctl.toml")).unwrap();
    ws.drctl_bare(&[
        "bootstrap",
        "ux-fresh",
        "--primary-cidr",
        "10.132.0.0/16",
        "--secondary-cidr",
        "10.133.0.0/16",
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains(
        "Created `[env.ux-fresh]` in drctl.toml.",
    ));
    let written = std::fs::read_to_string(ws.path("drctl.toml")).unwrap();
    assert!(written.starts_with("# drctl environments."), "{written}");
    assert!(written.contains("[env.ux-fresh]\nprimary_cidr = \"10.132.0.0/16\"\n"));
    ws.drctl_bare(&["validate"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "env `ux-fresh`: {} resources",
            ws.resource_count()
        )));
}

/// The scripted path end to end on the full stack: bootstrap --apply, the
/// outputs only the full stack has, then a quiet destroy.
#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_apply_outputs_and_quiet_destroy_on_the_full_stack() {
    let env = "ux-full";
    let ws = Workspace::new(env, "");
    std::fs::remove_file(ws.path("drctl.toml")).unwrap();
    let bootstrap = ws
        .drctl_bare(&[
            "bootstrap",
            env,
            "--primary-cidr",
            "10.134.0.0/16",
            "--secondary-cidr",
            "10.135.0.0/16",
            "--apply",
            "--auto-approve",
            "--quiet",
        ])
        .output()
        .unwrap();
    let out = stdout_of(&bootstrap);
    assert!(
        bootstrap.status.success(),
        "{out}\n{}",
        stderr_of(&bootstrap)
    );
    let count = ws.resource_count();
    assert!(out.contains(&format!("Plan: {count} to add, 0 to change, 0 to destroy.")));
    assert!(out.contains("Apply complete after"), "{out}");
    // --quiet: the summary but no per-resource lines.
    assert!(!out.contains("Creation complete"), "{out}");
    assert!(!out.contains("Creating..."), "{out}");

    let json = ws.drctl(&["output", "--json"]).output().unwrap();
    let outputs: BTreeMap<String, Value> = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(outputs.len(), 7, "{outputs:#?}");
    ws.drctl(&["output", "global_cluster_id"])
        .assert()
        .success()
        .stdout(format!(
            "{}\n",
            outputs["global_cluster_id"]["value"].as_str().unwrap()
        ));
    assert!(
        outputs["session_table"]["value"]
            .as_str()
            .unwrap()
            .contains(env)
    );

    let destroy = ws
        .drctl(&["destroy", "--auto-approve", "--allow-data-loss", "--quiet"])
        .output()
        .unwrap();
    let out = stdout_of(&destroy);
    assert!(destroy.status.success(), "{out}\n{}", stderr_of(&destroy));
    assert!(out.contains(&format!("{count} deleted, 0 failed")), "{out}");
    assert!(!out.contains("Destruction complete"), "{out}");
    assert!(!out.contains("Destroying..."), "{out}");
    let left = leftovers(&aws(&ws.endpoint).await, env).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// Off a terminal (a CI log), an operation still running says so every
/// heartbeat, with for how long: here a route table whose create AWS takes
/// longer than a heartbeat to answer (the proxy holds the call).
#[tokio::test(flavor = "multi_thread")]
async fn a_long_create_prints_a_still_creating_line_off_a_terminal() {
    use drctl_tests::emulator_for;
    use drctl_tests::proxy::{FaultProxy, Faults};
    let env = "ux-heartbeat";
    let proxy = FaultProxy::start(
        &emulator_for(env).endpoint,
        Faults {
            hold: Some((
                "Action=CreateRouteTable&".into(),
                std::time::Duration::from_secs(26),
            )),
            ..Faults::none()
        },
    )
    .await;
    let ws = Workspace::with_endpoint(
        env,
        "primary_cidr = \"10.196.0.0/16\"\nsecondary_cidr = \"10.197.0.0/16\"\ndatabases_and_functions = false\ncontainers = false",
        &proxy.endpoint,
    );
    let out = ws
        .drctl(&[
            "apply",
            "--auto-approve",
            "--target",
            "primary/ec2.route_table/private",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("primary/ec2.route_table/private: Still creating... ["),
        "{text}"
    );
    assert!(text.contains(" elapsed]"), "{text}");
    ws.drctl(&["destroy", "--auto-approve"]).assert().success();
    let left = leftovers(&aws(&emulator_for(env).endpoint).await, env).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}
