//! The test harness: an AWS-API emulator on a loopback port, the `drctl`
//! binary, and throwaway working directories.
//!
//! By default a moto server (tests/emulator; venv created by `tests/run` in
//! `DRCTL_VENV`, default tests/emulator/.venv) is
//! started once per test binary on a free port. It exits when the test
//! binary does: its standard input is a pipe held by this process, and the
//! launcher stops at end-of-file, so even a killed test run leaves no server
//! behind. `DRCTL_TEST_ENDPOINT=http://...` uses that endpoint instead (a
//! LocalStack container, say) and starts nothing.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use drctl_aws::AwsContext;

pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";
pub const PRIMARY: &str = "us-east-1";
pub const SECONDARY: &str = "us-east-2";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repo")
        .to_owned()
}

/// A running emulator.
pub struct Emulator {
    pub endpoint: String,
    child: Mutex<Option<(Child, ChildStdin)>>,
}

impl Emulator {
    /// Starts a moto server of our own on a free loopback port.
    pub fn start() -> Emulator {
        let venv = std::env::var_os("DRCTL_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("tests/emulator/.venv"));
        let python = venv.join("bin/python");
        assert!(
            python.exists(),
            "{} not found: run `tests/run` (it creates the emulator's venv), or set DRCTL_TEST_ENDPOINT",
            python.display()
        );
        let mut child = Command::new(&python)
            .arg(repo_root().join("tests/emulator/launch.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let stdin = child.stdin.take().expect("piped");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let port: u16 = match lines.next() {
            Some(Ok(line)) if line.starts_with("PORT ") => {
                line[5..].trim().parse().expect("port number")
            }
            other => {
                let _ = child.kill();
                panic!("the emulator did not start: {other:?}");
            }
        };
        Emulator {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Mutex::new(Some((child, stdin))),
        }
    }

    /// Stops the server by its process id and waits for it.
    pub fn stop(&self) {
        if let Some((mut child, stdin)) = self.child.lock().unwrap().take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            drop(stdin);
            let _ = child.wait();
        }
    }

    pub fn is_local(&self) -> bool {
        self.child.lock().unwrap().is_some()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The emulator shared by every test of this binary.
pub fn emulator() -> &'static Emulator {
    static SHARED: OnceLock<Emulator> = OnceLock::new();
    SHARED.get_or_init(|| match std::env::var("DRCTL_TEST_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Emulator {
            endpoint,
            child: Mutex::new(None),
        },
        _ => Emulator::start(),
    })
}

/// The `drctl` binary of this build (DRCTL_BIN overrides).
pub fn drctl_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("DRCTL_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/suite-<hash> -> target/<profile>/drctl
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join(format!("drctl{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: build it first (`cargo build -p drctl`)",
        bin.display()
    );
    bin
}

/// AWS access for checking the emulator's contents from tests.
pub async fn aws(endpoint: &str) -> AwsContext {
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(PRIMARY))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            ACCESS_KEY,
            SECRET_KEY,
            None,
            None,
            "drctl-tests",
        ))
        .load()
        .await;
    AwsContext::from_sdk_config(conf)
}

/// A temporary working directory with a drctl.toml, and `drctl` commands
/// that run in it against an endpoint.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub env: String,
    pub endpoint: String,
}

impl Workspace {
    /// `settings` is the body of `[env.<env>]`.
    pub fn new(env: &str, settings: &str) -> Workspace {
        Self::with_endpoint(env, settings, &emulator().endpoint)
    }

    pub fn with_endpoint(env: &str, settings: &str, endpoint: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let ws = Workspace {
            dir,
            env: env.to_owned(),
            endpoint: endpoint.to_owned(),
        };
        ws.write_config(settings);
        ws
    }

    pub fn write_config(&self, settings: &str) {
        std::fs::write(
            self.path("drctl.toml"),
            format!("[env.{}]\n{settings}\n", self.env),
        )
        .unwrap();
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn state_path(&self) -> PathBuf {
        self.path(&format!("state/{}.json", self.env))
    }

    /// `drctl ARGS --env ENV` in the workspace.
    pub fn drctl(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.drctl_bare(args);
        cmd.args(["--env", &self.env]);
        cmd
    }

    /// `drctl ARGS` without `--env`.
    pub fn drctl_bare(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(drctl_bin());
        cmd.current_dir(self.dir.path())
            .args(args)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            .env_remove("AWS_PROFILE")
            .env_remove("RUST_LOG")
            .timeout(Duration::from_secs(600));
        cmd
    }
}

/// A loopback listener that accepts and counts connections, answering
/// nothing: proof that a command made no API call.
pub struct ConnectionCounter {
    pub endpoint: String,
    count: Arc<AtomicUsize>,
}

impl ConnectionCounter {
    pub fn start() -> ConnectionCounter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&count);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stream.is_ok() {
                    c.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        ConnectionCounter { endpoint, count }
    }

    pub fn connections(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// Polls `f` until it returns true or `limit` passes.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// Everything of `env` still in the emulator, in both regions and the
/// global services: resources found by their `drctl:env` tag or by the
/// deterministic names the blueprint gives them.
pub async fn leftovers(aws: &AwsContext, env: &str) -> Vec<String> {
    use aws_sdk_ec2::types::Filter;
    let mut found = Vec::new();
    let named = |n: &str| {
        n.contains(&format!("-{env}-"))
            || n.ends_with(&format!("-{env}"))
            || n.contains(&format!("/{env}/"))
    };
    for region in [PRIMARY, SECONDARY] {
        let ec2 = aws.ec2(region);
        let by_env = || Filter::builder().name("tag:drctl:env").values(env).build();
        let vpcs = ec2.describe_vpcs().filters(by_env()).send().await.unwrap();
        found.extend(
            vpcs.vpcs()
                .iter()
                .map(|v| format!("{region} vpc {:?}", v.vpc_id())),
        );
        let subnets = ec2
            .describe_subnets()
            .filters(by_env())
            .send()
            .await
            .unwrap();
        found.extend(
            subnets
                .subnets()
                .iter()
                .map(|s| format!("{region} subnet {:?}", s.subnet_id())),
        );
        let igws = ec2
            .describe_internet_gateways()
            .filters(by_env())
            .send()
            .await
            .unwrap();
        found.extend(
            igws.internet_gateways()
                .iter()
                .map(|g| format!("{region} igw {:?}", g.internet_gateway_id())),
        );
        let rts = ec2
            .describe_route_tables()
            .filters(by_env())
            .send()
            .await
            .unwrap();
        found.extend(
            rts.route_tables()
                .iter()
                .map(|t| format!("{region} route table {:?}", t.route_table_id())),
        );
        let sgs = ec2
            .describe_security_groups()
            .filters(by_env())
            .send()
            .await
            .unwrap();
        found.extend(
            sgs.security_groups()
                .iter()
                .map(|g| format!("{region} security group {:?}", g.group_id())),
        );
        let eips = ec2
            .describe_addresses()
            .filters(by_env())
            .send()
            .await
            .unwrap();
        found.extend(
            eips.addresses()
                .iter()
                .map(|a| format!("{region} eip {:?}", a.allocation_id())),
        );
        // Filtered here: moto ignores tag filters on DescribeNatGateways.
        let nats = ec2.describe_nat_gateways().send().await.unwrap();
        found.extend(
            nats.nat_gateways()
                .iter()
                .filter(|n| {
                    n.tags()
                        .iter()
                        .any(|t| t.key() == Some("drctl:env") && t.value() == Some(env))
                })
                .filter(|n| n.state().is_some_and(|s| s.as_str() != "deleted"))
                .map(|n| format!("{region} nat gateway {:?}", n.nat_gateway_id())),
        );
        let endpoints = ec2
            .describe_vpc_endpoints()
            .filters(by_env())
            .send()
            .await
            .unwrap();
        found.extend(
            endpoints
                .vpc_endpoints()
                .iter()
                .filter(|e| {
                    e.state()
                        .is_some_and(|s| !s.as_str().eq_ignore_ascii_case("deleted"))
                })
                .map(|e| format!("{region} vpc endpoint {:?}", e.vpc_endpoint_id())),
        );
        let ssm = aws.ssm(region);
        let params = ssm
            .get_parameters_by_path()
            .path(format!("/payment/{env}/"))
            .recursive(true)
            .send()
            .await
            .unwrap();
        found.extend(
            params
                .parameters()
                .iter()
                .map(|p| format!("{region} parameter {:?}", p.name())),
        );
        let rds = aws.rds(region);
        let clusters = rds.describe_db_clusters().send().await.unwrap();
        found.extend(
            clusters
                .db_clusters()
                .iter()
                .filter_map(|c| c.db_cluster_identifier())
                .filter(|n| named(n))
                .map(|n| format!("{region} db cluster {n}")),
        );
        let instances = rds.describe_db_instances().send().await.unwrap();
        found.extend(
            instances
                .db_instances()
                .iter()
                .filter_map(|i| i.db_instance_identifier())
                .filter(|n| named(n))
                .map(|n| format!("{region} db instance {n}")),
        );
        let groups = rds.describe_db_subnet_groups().send().await.unwrap();
        found.extend(
            groups
                .db_subnet_groups()
                .iter()
                .filter_map(|g| g.db_subnet_group_name())
                .filter(|n| named(n))
                .map(|n| format!("{region} db subnet group {n}")),
        );
        let globals = rds.describe_global_clusters().send().await.unwrap();
        found.extend(
            globals
                .global_clusters()
                .iter()
                .filter_map(|g| g.global_cluster_identifier())
                .filter(|n| named(n))
                .map(|n| format!("{region} global cluster {n}")),
        );
        let tables = aws.dynamodb(region).list_tables().send().await.unwrap();
        found.extend(
            tables
                .table_names()
                .iter()
                .filter(|n| named(n))
                .map(|n| format!("{region} table {n}")),
        );
        let functions = aws.lambda(region).list_functions().send().await.unwrap();
        found.extend(
            functions
                .functions()
                .iter()
                .filter_map(|f| f.function_name())
                .filter(|n| named(n))
                .map(|n| format!("{region} function {n}")),
        );
        let apis = aws.apigateway(region).get_rest_apis().send().await.unwrap();
        found.extend(
            apis.items()
                .iter()
                .filter_map(|a| a.name())
                .filter(|n| named(n))
                .map(|n| format!("{region} rest api {n}")),
        );
        let topics = aws.sns(region).list_topics().send().await.unwrap();
        found.extend(
            topics
                .topics()
                .iter()
                .filter_map(|t| t.topic_arn())
                .filter(|n| named(n))
                .map(|n| format!("{region} topic {n}")),
        );
        let cw = aws.cloudwatch(region);
        let alarms = cw.describe_alarms().send().await.unwrap();
        found.extend(
            alarms
                .metric_alarms()
                .iter()
                .filter_map(|a| a.alarm_name())
                .filter(|n| named(n))
                .map(|n| format!("{region} alarm {n}")),
        );
        let dashboards = cw.list_dashboards().send().await.unwrap();
        found.extend(
            dashboards
                .dashboard_entries()
                .iter()
                .filter_map(|d| d.dashboard_name())
                .filter(|n| named(n))
                .map(|n| format!("{region} dashboard {n}")),
        );
        let machines = aws.sfn(region).list_state_machines().send().await.unwrap();
        found.extend(
            machines
                .state_machines()
                .iter()
                .map(|m| m.name())
                .filter(|n| named(n))
                .map(|n| format!("{region} state machine {n}")),
        );
    }
    let roles = aws.iam().list_roles().send().await.unwrap();
    found.extend(
        roles
            .roles()
            .iter()
            .map(|r| r.role_name())
            .filter(|n| named(n))
            .map(|n| format!("role {n}")),
    );
    let route53 = aws.route53();
    let zones = route53.list_hosted_zones().send().await.unwrap();
    found.extend(
        zones
            .hosted_zones()
            .iter()
            .map(|z| z.name())
            .filter(|n| n.contains(&format!("payment-{env}.")))
            .map(|n| format!("hosted zone {n}")),
    );
    let checks = route53.list_health_checks().send().await.unwrap();
    for check in checks.health_checks() {
        let tags = route53
            .list_tags_for_resource()
            .resource_type(aws_sdk_route53::types::TagResourceType::Healthcheck)
            .resource_id(check.id())
            .send()
            .await
            .unwrap();
        let ours = tags
            .resource_tag_set()
            .into_iter()
            .flat_map(|t| t.tags())
            .any(|t| t.key() == Some("drctl:env") && t.value() == Some(env));
        if ours {
            found.push(format!("health check {}", check.id()));
        }
    }
    let buckets = aws.s3(PRIMARY).list_buckets().send().await.unwrap();
    found.extend(
        buckets
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .filter(|n| n.contains(&format!("-{env}-")))
            .map(|n| format!("bucket {n}")),
    );
    found
}
