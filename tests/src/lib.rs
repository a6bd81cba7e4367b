//! The test harness: an AWS-API emulator on a loopback port, the `drctl`
//! binary, and throwaway working directories.
//!
//! By default moto servers (tests/emulator; venv created by `tests/run` in
//! `DRCTL_VENV`, default tests/emulator/.venv) are started by the test
//! binary on free ports, a few of them so that tests spread over every core
//! ([`emulator_for`]). Each exits when the test binary does: its standard
//! input is a pipe held by this process, and the launcher stops at
//! end-of-file, so even a killed test run leaves no server behind.
//! `DRCTL_TEST_ENDPOINT=http://...` uses that endpoint instead (a
//! LocalStack container, say) and starts nothing.
//!
//! `DRCTL_TEST_EMULATOR=localstack` selects LocalStack (host mode, venv in
//! `DRCTL_LOCALSTACK_VENV`, default tests/emulator/.venv-localstack, made by
//! `tests/run`) with the same launcher contract; with `DRCTL_TEST_ENDPOINT`
//! it says which emulator serves that endpoint. LocalStack's community
//! edition serves a subset of drctl's services offline: see
//! [`EmulatorKind::serves`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub mod proxy;

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

/// Which AWS-API emulator the suite runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmulatorKind {
    Moto,
    LocalStack,
}

impl EmulatorKind {
    /// From `DRCTL_TEST_EMULATOR` (`moto`, the default, or `localstack`).
    pub fn from_env() -> EmulatorKind {
        match std::env::var("DRCTL_TEST_EMULATOR").as_deref() {
            Ok("localstack") => EmulatorKind::LocalStack,
            Ok("moto") | Ok("") | Err(_) => EmulatorKind::Moto,
            Ok(other) => panic!("DRCTL_TEST_EMULATOR={other}: expected `moto` or `localstack`"),
        }
    }

    /// Whether the emulator carries every AWS rule of `tests/emulator/ext_*.py`
    /// (moto, which they extend). LocalStack carries only those
    /// `localstack_extensions.py` applies, so a test's assertion about such
    /// a rule itself (that the emulator refuses what AWS refuses) runs only
    /// where the rule is enforced; what drctl does runs everywhere.
    pub fn enforces_extension_rules(self) -> bool {
        matches!(self, EmulatorKind::Moto)
    }

    /// Whether this emulator serves `service` (an SDK service name such as
    /// `rds`). moto serves all of drctl's; LocalStack 4.4.0's community
    /// edition has no RDS, ECS, ELBv2 or AWS Backup, and its DynamoDB and Lambda
    /// download their engines at first use, which fails offline.
    pub fn serves(self, service: &str) -> bool {
        match self {
            EmulatorKind::Moto => true,
            EmulatorKind::LocalStack => !matches!(
                service,
                "rds" | "dynamodb" | "lambda" | "ecs" | "elasticloadbalancingv2" | "backup"
            ),
        }
    }

    /// `(venv variable, default venv, launcher)` of this emulator.
    fn launcher(self) -> (&'static str, &'static str, &'static str) {
        match self {
            EmulatorKind::Moto => (
                "DRCTL_VENV",
                "tests/emulator/.venv",
                "tests/emulator/launch.py",
            ),
            EmulatorKind::LocalStack => (
                "DRCTL_LOCALSTACK_VENV",
                "tests/emulator/.venv-localstack",
                "tests/emulator/launch_localstack.py",
            ),
        }
    }
}

/// A running emulator.
pub struct Emulator {
    pub endpoint: String,
    pub kind: EmulatorKind,
    child: Mutex<Option<(Child, ChildStdin)>>,
}

impl Emulator {
    /// Starts an emulator of our own (the kind `DRCTL_TEST_EMULATOR` names)
    /// on a free loopback port.
    pub fn start() -> Emulator {
        let kind = EmulatorKind::from_env();
        let (venv_var, default_venv, launcher) = kind.launcher();
        let venv = std::env::var_os(venv_var)
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(default_venv));
        let python = venv.join("bin/python");
        assert!(
            python.exists(),
            "{} not found: run `tests/run` (it creates the emulator's venv), or set DRCTL_TEST_ENDPOINT",
            python.display()
        );
        let mut child = Command::new(&python)
            .arg(repo_root().join(launcher))
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
            kind,
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

    /// Declares `domain` registered at a registrar that lists the name
    /// servers of its hosted zone, so that public DNS (and ACM's DNS
    /// validation) reaches the zone of that name (tests/emulator/
    /// ext_route53.py, "Public DNS"). moto only: the rule is drctl's
    /// extension of it. Fails the test if an emulator of our own refuses.
    pub fn register_domain(&self, domain: &str) {
        self.registrar("POST", domain);
    }

    /// Undoes [`Self::register_domain`].
    pub fn unregister_domain(&self, domain: &str) {
        self.registrar("DELETE", domain);
    }

    fn registrar(&self, method: &str, domain: &str) {
        if self.kind != EmulatorKind::Moto {
            return;
        }
        let answer = registrar_call(&self.endpoint, method, domain);
        // An endpoint of someone else's (DRCTL_TEST_ENDPOINT) may run moto
        // without drctl's extensions, which issue certificates anyway.
        if let Err(e) = answer
            && self.is_local()
        {
            panic!("the emulator did not {method} the registered domain {domain}: {e}");
        }
    }
}

/// One call to the emulator's registrar (`/moto-api/drctl/registered-domains`).
fn registrar_call(endpoint: &str, method: &str, domain: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    let host = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("{endpoint} is not an http:// endpoint"))?
        .trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "{method} /moto-api/drctl/registered-domains HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{domain}",
        domain.len()
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    match answer.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ => Err(answer.lines().next().unwrap_or_default().to_owned()),
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How many emulators of our own this test binary runs at most. One moto
/// server is one Python process, which uses one core at most (its GIL);
/// tests spread over several so the suite uses every core. LocalStack is
/// heavier and its lane small: one. `DRCTL_TEST_EMULATORS` overrides.
fn pool_size() -> usize {
    if let Some(n) = std::env::var("DRCTL_TEST_EMULATORS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return n.max(1);
    }
    match EmulatorKind::from_env() {
        EmulatorKind::Moto => std::thread::available_parallelism()
            .map(|n| n.get() + 1)
            .unwrap_or(3),
        EmulatorKind::LocalStack => 1,
    }
}

struct Pool {
    slots: Vec<OnceLock<Emulator>>,
    /// Which slot each group uses, given round-robin at its first use.
    assigned: Mutex<BTreeMap<String, usize>>,
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// The emulator of `group` if [`emulator_for`] has started it; never
/// starts one.
fn started_emulator_for(group: &str) -> Option<&'static Emulator> {
    let pool = POOL.get()?;
    let slot = *pool.assigned.lock().unwrap().get(group)?;
    pool.slots[slot].get()
}

/// The emulator of `group` (a test's environment name, say): the same one
/// for every call with that group, so a test and the drctl runs it checks
/// see the same resources. Groups are spread round-robin over the pool;
/// each emulator starts at its first use and exits with the test binary.
/// `DRCTL_TEST_ENDPOINT=http://...` makes that endpoint the only one.
pub fn emulator_for(group: &str) -> &'static Emulator {
    let external = std::env::var("DRCTL_TEST_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    let pool = POOL.get_or_init(|| {
        let size = if external.is_some() { 1 } else { pool_size() };
        Pool {
            slots: (0..size).map(|_| OnceLock::new()).collect(),
            assigned: Mutex::new(BTreeMap::new()),
        }
    });
    let slot = {
        let mut assigned = pool.assigned.lock().unwrap();
        let next = assigned.len() % pool.slots.len();
        *assigned.entry(group.to_owned()).or_insert(next)
    };
    pool.slots[slot].get_or_init(|| match external {
        Some(endpoint) => Emulator {
            endpoint,
            kind: EmulatorKind::from_env(),
            child: Mutex::new(None),
        },
        None => Emulator::start(),
    })
}

/// How long one drctl run of a test may take before the harness kills it
/// (SIGKILL): a run that waits on something that never comes fails the
/// test instead of hanging the suite.
pub const RUN_LIMIT: Duration = Duration::from_secs(600);

/// The `drctl` binary of this build (DRCTL_BIN overrides).
pub fn drctl_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("DRCTL_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/suite-<hash> (a test) or
    // target/<profile>/apply_bench (a binary) -> target/<profile>/drctl
    let exe = std::env::current_exe().expect("test binary path");
    let mut dir = exe.parent().expect("target dir");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().expect("target dir");
    }
    let bin = dir.join(format!("drctl{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: build it first (`cargo build --workspace`)",
        bin.display()
    );
    // The crash tests need the crash hook, which only a build with the
    // test crate's features has; checked once per test binary.
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let out = Command::new(&bin).arg("--version").output().expect("drctl --version");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("crash hook"),
            "{} was built without the tests' crash hook (`cargo build -p drctl` leaves it out): \
             build it with `cargo build --workspace` (or `cargo build -p drctl -F drctl-aws/crash-hook`)",
            bin.display()
        );
    });
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

/// The blueprint of `env` as a drctl.toml whose `[env.<env>]` body is
/// `settings` expands it (the defaults for what it leaves out): what tests
/// count resources against, instead of numbers written into them.
pub fn blueprint(env: &str, settings: &str) -> drctl_core::DesiredGraph {
    let text = format!("[env.{env}]\n{settings}\n");
    let config = drctl_blueprint::Config::parse(Path::new("drctl.toml"), &text)
        .unwrap_or_else(|e| panic!("test settings of `{env}`: {e}"));
    expand(&config, env)
}

/// The blueprint of `env` in the drctl.toml at `path`.
pub fn blueprint_in(path: &Path, env: &str) -> drctl_core::DesiredGraph {
    let config =
        drctl_blueprint::Config::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    expand(&config, env)
}

fn expand(config: &drctl_blueprint::Config, env: &str) -> drctl_core::DesiredGraph {
    let settings = config
        .env(env)
        .unwrap_or_else(|e| panic!("environment `{env}`: {e}"));
    let specs = drctl_blueprint::Blueprint {
        env,
        settings,
        account_id: "123456789012",
        weighted: drctl_blueprint::Role::Primary,
        zones: drctl_blueprint::Zones::placeholders(settings),
    }
    .resources();
    drctl_core::DesiredGraph::new(specs).expect("the blueprint is a graph")
}

/// How many resources the blueprint of `env` with `settings` has.
pub fn resource_count(env: &str, settings: &str) -> usize {
    blueprint(env, settings).len()
}

/// How many resources the blueprint has with every default (the full
/// environment `drctl init` writes).
pub fn full_resource_count() -> usize {
    resource_count("dev", "")
}

/// `addresses` and every resource that depends on one of them, directly or
/// not: what an apply skips when they fail.
pub fn with_dependents(
    graph: &drctl_core::DesiredGraph,
    addresses: &[drctl_core::Address],
) -> BTreeSet<drctl_core::Address> {
    let mut reached: BTreeSet<drctl_core::Address> = addresses.iter().cloned().collect();
    loop {
        let more: Vec<drctl_core::Address> = graph
            .resources()
            .map(|r| r.address.clone())
            .filter(|a| !reached.contains(a))
            .filter(|a| graph.dependencies(a).iter().any(|d| reached.contains(d)))
            .collect();
        if more.is_empty() {
            return reached;
        }
        reached.extend(more);
    }
}

/// A temporary working directory with a drctl.toml, and `drctl` commands
/// that run in it against an endpoint.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub env: String,
    pub endpoint: String,
    /// `--backend URL` for every command (state in S3); local when `None`.
    pub backend: Option<String>,
}

impl Workspace {
    /// `settings` is the body of `[env.<env>]`. The environment's domain
    /// is registered at the emulator's registrar (see `with_endpoint`).
    pub fn new(env: &str, settings: &str) -> Workspace {
        Self::with_endpoint(env, settings, &emulator_for(env).endpoint)
    }

    /// A workspace against `endpoint` (the emulator of `env`, a fault proxy
    /// in front of it, a connection counter). Once the emulator of `env`
    /// runs ([`emulator_for`]), the environment's domain is registered at
    /// its registrar ([`Emulator::register_domain`]): ACM validates the
    /// certificates through the zone drctl creates, as on an account whose
    /// registrar points at it. [`Self::unregistered`] leaves that out.
    pub fn with_endpoint(env: &str, settings: &str, endpoint: &str) -> Workspace {
        let ws = Self::unregistered_at(env, settings, endpoint);
        if let Some(emulator) = started_emulator_for(env) {
            ws.register_at(emulator);
        }
        ws
    }

    /// A workspace against the emulator of `env` whose domain no registrar
    /// delegates: ACM validates its certificates only through a delegation
    /// the test (or drctl) makes.
    pub fn unregistered(env: &str, settings: &str) -> Workspace {
        Self::unregistered_at(env, settings, &emulator_for(env).endpoint)
    }

    fn unregistered_at(env: &str, settings: &str, endpoint: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let ws = Workspace {
            dir,
            env: env.to_owned(),
            endpoint: endpoint.to_owned(),
            backend: None,
        };
        ws.write_config(settings);
        ws
    }

    /// The environment's domain as drctl.toml sets it (by default
    /// `payment-<env>.example.com`); `None` when the file does not parse.
    pub fn domain(&self) -> Option<String> {
        let config = drctl_blueprint::Config::load(&self.path("drctl.toml")).ok()?;
        Some(config.env(&self.env).ok()?.domain.clone())
    }

    /// How many resources this workspace's drctl.toml gives its
    /// environment (see [`blueprint`]).
    pub fn resource_count(&self) -> usize {
        blueprint_in(&self.path("drctl.toml"), &self.env).len()
    }

    /// Registers the environment's domain at `emulator`'s registrar.
    pub fn register_at(&self, emulator: &Emulator) {
        if let Some(domain) = self.domain() {
            emulator.register_domain(&domain);
        }
    }

    /// Every command of this workspace keeps state in `url` (`s3://...`).
    pub fn with_backend(mut self, url: &str) -> Workspace {
        self.backend = Some(url.to_owned());
        self
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

    /// `drctl ARGS --env ENV` started in the background, for tests that
    /// interrupt or overlap runs; output goes to `stdout`, stderr is piped.
    pub fn spawn(&self, args: &[&str], stdout: Stdio) -> Child {
        self.spawn_with_env(args, stdout, &[])
    }

    /// [`Self::spawn`] with more environment variables.
    pub fn spawn_with_env(&self, args: &[&str], stdout: Stdio, vars: &[(&str, &str)]) -> Child {
        Command::new(drctl_bin())
            .envs(vars.iter().copied())
            .current_dir(self.dir.path())
            .args(args)
            .args(["--env", &self.env])
            .args(self.backend_args())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start drctl")
    }

    fn backend_args(&self) -> Vec<String> {
        match &self.backend {
            Some(url) => vec!["--backend".into(), url.clone()],
            None => Vec::new(),
        }
    }

    /// `drctl ARGS` without `--env`.
    pub fn drctl_bare(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(drctl_bin());
        cmd.current_dir(self.dir.path())
            .args(args)
            .args(self.backend_args())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            .env_remove("AWS_PROFILE")
            .env_remove("RUST_LOG")
            .timeout(RUN_LIMIT);
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

/// Everything of `env` in the emulator, by drctl kind, as the ids drctl's
/// state records: what each kind's own `list` finds (the `drctl:env` tag,
/// or the names drctl derives) in both regions, global services included.
/// Derived from the providers, so every kind is covered with no list here
/// to edit. Kinds of services the emulator does not serve are passed over.
pub async fn inventory(aws: &AwsContext, env: &str) -> BTreeMap<String, BTreeSet<String>> {
    let providers = drctl_aws::providers(aws);
    let emulator = EmulatorKind::from_env();
    let listed = providers
        .kinds()
        .filter(|kind| emulator.serves(sdk_service(kind)))
        .flat_map(|kind| {
            // IAM and Route 53 are global: either region lists the same.
            let regions: &[&str] = match sdk_service(kind) {
                "iam" | "route53" => &[PRIMARY],
                _ => &[PRIMARY, SECONDARY],
            };
            regions.iter().map(move |region| (kind, *region))
        })
        .map(|(kind, region)| {
            let provider = providers.get(kind).expect("a listed kind");
            let scope = drctl_core::ListScope {
                env: env.to_owned(),
                region: region.to_owned(),
            };
            async move {
                let ids = provider.list(&scope).await;
                let ids = ids.unwrap_or_else(|e| panic!("listing {kind} in {region}: {e}"));
                (kind.to_owned(), ids)
            }
        });
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (kind, ids) in futures::future::join_all(listed).await {
        found.entry(kind).or_default().extend(ids);
    }
    found.retain(|_, ids| !ids.is_empty());
    found
}

/// The SDK's name of a kind's service, as [`EmulatorKind::serves`] takes it.
fn sdk_service(kind: &str) -> &str {
    match kind.split('.').next().unwrap_or(kind) {
        "elbv2" => "elasticloadbalancingv2",
        "events" => "eventbridge",
        service => service,
    }
}

/// Everything of `env` still in the emulator, one line per resource.
pub async fn leftovers(aws: &AwsContext, env: &str) -> Vec<String> {
    inventory(aws, env)
        .await
        .into_iter()
        .flat_map(|(kind, ids)| ids.into_iter().map(move |id| format!("{kind} {id}")))
        .collect()
}

/// What each resource of a state file's kind `find` says now: `(address,
/// id in state, the lookup's answer)`.
async fn look_up_state(
    aws: &AwsContext,
    env: &str,
    state: &serde_json::Value,
) -> Vec<(String, String, Result<Option<String>, String>)> {
    let providers = drctl_aws::providers(aws);
    let mut answers = Vec::new();
    for (address, r) in state["resources"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.iter())
    {
        let kind = r["kind"].as_str().unwrap_or_default();
        let id = r["id"].as_str().unwrap_or_default().to_owned();
        let answer = match providers.get(kind) {
            None => Err(format!("no provider for kind {kind}")),
            Some(provider) => {
                let ctx = drctl_core::OpContext {
                    env: env.to_owned(),
                    address: address.parse().unwrap(),
                    region: r["region"].as_str().unwrap_or_default().to_owned(),
                    token: None,
                };
                let inputs: drctl_core::Attributes =
                    serde_json::from_value(r["inputs"].clone()).unwrap_or_default();
                provider
                    .find(&ctx, &inputs)
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        answers.push((address.clone(), id, answer));
    }
    answers
}

/// After a destroy: the resources of a state file (taken before it) that
/// their kind's `find` still finds, one line each. Derived from the
/// providers, so every kind is covered.
pub async fn still_found(aws: &AwsContext, env: &str, state: &serde_json::Value) -> Vec<String> {
    let mut left = Vec::new();
    for (address, _, answer) in look_up_state(aws, env, state).await {
        match answer {
            Ok(None) => {}
            Ok(Some(id)) => left.push(format!("{address}: {id} still exists")),
            Err(e) => left.push(format!("{address}: {e}")),
        }
    }
    left
}

/// Compares AWS (the emulator) with a state file, two ways:
/// - through the providers themselves: each resource in state is looked up
///   with its kind's `find`, which must return exactly the id state has
///   (a second resource with the same identity is a `DuplicateResource`
///   error, a missing one `None`); so a new kind is checked as soon as it
///   has a provider, with no list here to edit;
/// - through `inventory`, which lists what carries the env's tags or names:
///   anything listed that state does not have is an orphan.
///
/// Returns the mismatches.
pub async fn orphans_and_duplicates(
    aws: &AwsContext,
    env: &str,
    state: &serde_json::Value,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut recorded: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in state["resources"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        let kind = r["kind"].as_str().unwrap_or_default().to_owned();
        let id = r["id"].as_str().unwrap_or_default().to_owned();
        recorded.entry(kind).or_default().insert(id);
    }
    for (address, id, answer) in look_up_state(aws, env, state).await {
        match answer {
            Ok(Some(found)) if found == id => {}
            Ok(Some(found)) => {
                problems.push(format!("{address}: state has {id}, a lookup finds {found}"))
            }
            Ok(None) => problems.push(format!("{address}: {id} is in state, not in AWS")),
            Err(e) => problems.push(format!("{address}: {e}")),
        }
    }
    for (kind, ids) in inventory(aws, env).await {
        let in_state = recorded.get(&kind).cloned().unwrap_or_default();
        for id in ids.difference(&in_state) {
            problems.push(format!(
                "orphan or duplicate {kind} {id}: in the emulator, not in state"
            ));
        }
    }
    problems
}
