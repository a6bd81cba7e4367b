//! AWS configuration and per-region SDK clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use drctl_core::lease::Guard;
use thiserror::Error;

use crate::ratelimit::{Buckets, Limited, RateLimit};

/// A client of the SDK crate `$sdk` for `$region`, built: the shared
/// configuration, the tests' crash switch, the SDK's retries (`Sdk`, in
/// `$service`'s partition) or none (`Off`), the lease check unless the
/// client is the state backend's (`Unchecked`), any `$setting`s (path
/// style), and `$service`'s rate limit in that region (an interceptor that
/// picks the bucket, and the HTTP client that waits for its token), with
/// the SDK's check of stalled uploads off ([`downloads_checked`]).
macro_rules! client {
    ($clients:expr, $sdk:ident, $service:expr, $region:expr, $retries:ident, $lease:ident $(, $setting:ident($($arg:expr),*))*) => {{
        let conf = $sdk::config::Builder::from(&$clients.base)
            .region(Region::new($region.to_owned()))
            .interceptor(crate::crash::CrashSwitch);
        let conf = match Retries::$retries {
            Retries::Sdk => conf.retry_partition(retry_partition($service)),
            Retries::Off => conf.retry_config(RetryConfig::disabled()),
        };
        let conf = match Lease::$lease {
            Lease::Checked => conf.interceptor($clients.lease_check()),
            Lease::Unchecked => conf,
        };
        let mut conf = conf
            $(.$setting($($arg),*))*
            .stalled_stream_protection(downloads_checked())
            .interceptor($clients.rate_limit($service, $region));
        conf.set_http_client($clients.http.clone());
        $sdk::Client::from_conf(conf.build())
    }};
}

/// The SDK's stalled-stream protection for response bodies only. Its
/// upload check takes a request body that is not read for 5 s for a
/// stalled server and fails the attempt, and a request waiting for its
/// rate limit's token has not been read yet: every wait over 5 s (a
/// second CreateDomainName within 30 s, a burst of Route 53 health checks)
/// failed as a stalled upload and was retried, taking another token.
/// What the upload check guarded, a server that stops reading, the read
/// timeout bounds ([`Connection::read_timeout`]: it covers sending the
/// request as well as the wait for the answer).
fn downloads_checked() -> StalledStreamProtectionConfig {
    StalledStreamProtectionConfig::enabled()
        .upload_enabled(false)
        .build()
}

/// A client's retries: the SDK's, or none for creates that take no
/// idempotency token (`support::create_once` decides whether to resend).
enum Retries {
    Sdk,
    Off,
}

/// Whether a client's changes ask the lease first.
enum Lease {
    Checked,
    Unchecked,
}

#[derive(Debug, Error)]
#[error("{0}")]
pub struct AwsError(pub String);

/// Region used for the global services (IAM, Route 53) in the commercial
/// partition.
pub const GLOBAL_REGION: &str = "us-east-1";

/// The retry partition of `service`'s clients: six attempts with
/// exponential backoff and jitter (the configuration's retry mode), and no
/// client-side retry quota. The standard mode's quota (a token bucket of
/// 500 per partition, 5 per retried error) is spent within one apply of a
/// large graph under sustained throttling, after which every error fails
/// at once and the apply stops part way; Terraform's AWS provider turns it
/// off for the same reason (aws-sdk-go-base, `ratelimit.None`).
fn retry_partition(service: &'static str) -> RetryPartition {
    RetryPartition::custom(service)
        .token_bucket(TokenBucket::unlimited())
        .build()
}

/// How drctl reaches AWS: an endpoint override (an emulator; `None` for
/// AWS's own endpoints) and how long a request waits for its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub endpoint: Option<String>,
    /// How long an attempt waits, once its request is sent, for the
    /// response to begin; then it fails as a timeout, which the SDK's
    /// retries treat as transient. Without it, an endpoint that accepts
    /// the connection and never answers (a region in an outage, a
    /// network that drops the replies) holds the request forever: the
    /// SDK sets a connect timeout only.
    pub read_timeout: Duration,
}

impl Connection {
    /// 30 s: the AWS SDK for Java 2.x's default socket timeout; every call
    /// drctl makes is a control-plane request answered in seconds (no
    /// long poll, no large download), while botocore's 60 s would double
    /// what an operator waits per attempt in an outage.
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// The SDK's own connect timeout (behavior versions from 2026-01-12),
    /// kept: a timeout configuration given replaces the SDK's whole.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

    /// AWS's endpoints, or `endpoint`, with the default read timeout.
    pub fn to(endpoint: Option<String>) -> Self {
        Self {
            endpoint,
            read_timeout: Self::DEFAULT_READ_TIMEOUT,
        }
    }

    fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(Self::CONNECT_TIMEOUT)
            .read_timeout(self.read_timeout)
            .build()
    }
}

impl Default for Connection {
    fn default() -> Self {
        Self::to(None)
    }
}

/// Shared AWS configuration (credentials, endpoint, retries) from the
/// standard aws-config chain, plus an optional endpoint override.
#[derive(Clone)]
pub struct AwsContext {
    clients: Arc<Clients>,
}

impl AwsContext {
    /// Loads configuration from the environment, reached as `connection`
    /// says (an endpoint override, e.g. an emulator; how long an answer
    /// may take). The binary's context: its clients obey the process's
    /// lease guard ([`Guard::process`]), which its backend installs its
    /// lock in and its executor checks too.
    pub async fn load(connection: &Connection) -> Self {
        let base = Self::config(aws_config::defaults(BehaviorVersion::latest()), connection).await;
        Self::with_guard(base, Guard::process().clone())
    }

    /// drctl's configuration (home region, retries, timeouts, endpoint)
    /// over what `loader` sets (credentials, for a test), with a lease
    /// guard of its own.
    pub async fn load_from(loader: aws_config::ConfigLoader, connection: &Connection) -> Self {
        Self::from_sdk_config(Self::config(loader, connection).await)
    }

    async fn config(loader: aws_config::ConfigLoader, connection: &Connection) -> SdkConfig {
        let mut loader = loader
            .region(Region::new(GLOBAL_REGION))
            // Throttling and transient 5xx are retried with exponential
            // backoff and jitter by the SDK's standard strategy.
            .retry_config(RetryConfig::standard().with_max_attempts(6))
            .timeout_config(connection.timeouts());
        if let Some(url) = &connection.endpoint {
            loader = loader.endpoint_url(url);
        }
        loader.load().await
    }

    /// Wraps a configuration built by the caller (credentials, endpoint,
    /// retries as they chose), with a lease guard of its own: a test that
    /// runs several holders in one process gives each its context.
    pub fn from_sdk_config(base: SdkConfig) -> Self {
        Self::with_guard(base, Guard::new())
    }

    fn with_guard(base: SdkConfig, guard: Guard) -> Self {
        // A custom endpoint rarely serves virtual-hosted bucket names.
        let path_style =
            base.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let http = Limited::client(
            base.http_client(),
            base.behavior_version()
                .unwrap_or_else(aws_config::BehaviorVersion::latest),
        );
        Self {
            clients: Arc::new(Clients {
                base,
                http,
                buckets: Arc::default(),
                path_style,
                cache: Mutex::default(),
                account: tokio::sync::OnceCell::new(),
                guard,
            }),
        }
    }

    pub(crate) fn clients(&self) -> Arc<Clients> {
        Arc::clone(&self.clients)
    }

    /// A context whose endpoint refuses every connection (nothing listens
    /// on port 1), without retries: a request that is sent fails to
    /// connect, and one the lease check refuses fails before that. For
    /// tests of what drctl does when AWS cannot be reached.
    pub async fn unreachable() -> AwsContext {
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:1")
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .retry_config(RetryConfig::disabled())
            .load()
            .await;
        AwsContext::from_sdk_config(conf)
    }

    /// S3 in `region` for a state backend's own objects (state, journal,
    /// lock): see [`Clients::s3_state`].
    pub fn state_s3(&self, region: &str) -> aws_sdk_s3::Client {
        self.clients().s3_state(region)
    }

    /// The lease guard every mutating request of this context's clients
    /// (but the state backend's own) checks first; a backend that takes a
    /// lock through this context installs its lease here.
    pub fn lease_guard(&self) -> &Guard {
        &self.clients.guard
    }

    /// The account the credentials belong to (STS GetCallerIdentity).
    pub async fn account_id(&self) -> Result<String, AwsError> {
        // Credentials first: when none are found, say what to do in one
        // line; where the SDK looked is for `-v` only.
        if let Some(provider) = self.clients.base.credentials_provider() {
            use aws_sdk_sts::config::ProvideCredentials;
            if let Err(e) = provider.provide_credentials().await {
                tracing::info!(
                    "the credential chain found nothing: {}",
                    crate::support::error_chain(&e)
                );
                return Err(AwsError(NO_CREDENTIALS.into()));
            }
        }
        let sts = aws_sdk_sts::Client::new(&self.clients.base);
        let out = sts.get_caller_identity().send().await.map_err(|e| {
            AwsError(format!(
                "sts:GetCallerIdentity failed (check the credentials, the network and --endpoint): {}",
                crate::support::error_chain(&e)
            ))
        })?;
        out.account
            .ok_or_else(|| AwsError("sts:GetCallerIdentity returned no account".into()))
    }
}

const NO_CREDENTIALS: &str = "no AWS credentials found: set AWS_PROFILE to a profile of ~/.aws/config (after `aws sso login` for an SSO profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; run with -v to see where drctl looked";

/// A client of some service, type-erased for the cache.
type AnyClient = Arc<dyn std::any::Any + Send + Sync>;

/// One client per (service, region), built on first use and then shared.
pub(crate) struct Clients {
    base: SdkConfig,
    /// The HTTP client of every service client: the SDK's, waiting for
    /// each request's token of `buckets` (`ratelimit`).
    http: Option<SharedHttpClient>,
    buckets: Arc<Buckets>,
    path_style: bool,
    cache: Mutex<HashMap<(&'static str, String), AnyClient>>,
    account: tokio::sync::OnceCell<String>,
    guard: Guard,
}

/// Refuses every request that is not a read while a lease installed in
/// `guard` is lost: a run that lost its lock makes no further change in
/// AWS, whatever job asked (creates, updates, deletes, DR calls). Checked
/// before serialization, which fails the call at once as a construction
/// failure (never retried, never taken for a request AWS may have seen),
/// and before each attempt, so a retry the SDK would send after the loss
/// is not sent either (that one surfaces as a dispatch failure, which the
/// SDK does not retry; a create resent after it is refused at
/// serialization).
#[derive(Debug)]
struct LeaseCheck {
    guard: Guard,
}

/// Operations that only read, by name prefix (as AWS names them: every
/// Describe/Get/List/Head... call of every service drctl uses reads).
const READS: &[&str] = &[
    "Describe", "Get", "List", "Head", "Lookup", "Search", "Scan", "Query", "BatchGet",
];

/// Whether `operation` (an SDK operation name, e.g. `PutParameter`) may
/// change anything.
pub(crate) fn mutates(operation: &str) -> bool {
    !READS.iter().any(|r| operation.starts_with(r))
}

impl LeaseCheck {
    fn check(&self, cfg: &ConfigBag) -> Result<(), BoxError> {
        // An operation without its name is treated as a change.
        let mutating = cfg.load::<Metadata>().is_none_or(|m| mutates(m.name()));
        if mutating {
            self.guard.check()?;
        }
        Ok(())
    }
}

impl Intercept for LeaseCheck {
    fn name(&self) -> &'static str {
        "drctl-lease-check"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.check(cfg)
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.check(cfg)
    }

    /// A change may then wait for its rate limit's token (ratelimit.rs):
    /// the guard goes with the request, to be asked again once the token
    /// is there, right before it is sent.
    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Metadata>().is_none_or(|m| mutates(m.name())) {
            context
                .request_mut()
                .add_extension(CheckBeforeSending(self.guard.clone()));
        }
        Ok(())
    }
}

/// On a change's request: the lease guard to ask once more right before
/// it is sent (after any wait for a rate limit's token).
#[derive(Clone, Debug)]
pub(crate) struct CheckBeforeSending(pub(crate) Guard);

impl Clients {
    /// The caller's account id (STS), fetched once; for ARNs the APIs do
    /// not return (e.g. API Gateway's execute-api ARN).
    pub(crate) async fn account_id(&self) -> Result<String, drctl_core::ProviderError> {
        self.account
            .get_or_try_init(|| async {
                let out = aws_sdk_sts::Client::new(&self.base)
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| crate::support::api_error("sts:GetCallerIdentity", e))?;
                out.account.ok_or_else(|| {
                    drctl_core::ProviderError::new(
                        "sts:GetCallerIdentity",
                        "no account in the response",
                    )
                })
            })
            .await
            .cloned()
    }
}

impl Clients {
    fn cached<C: Clone + Send + Sync + 'static>(
        &self,
        service: &'static str,
        region: &str,
        make: impl FnOnce() -> C,
    ) -> C {
        let mut cache = self.cache.lock().expect("client cache");
        let entry = cache
            .entry((service, region.to_owned()))
            .or_insert_with(|| Arc::new(make()));
        entry
            .downcast_ref::<C>()
            .expect("one client type per service")
            .clone()
    }
}

/// `Clients::<service>(region)` and `AwsContext::<service>(region)` for a
/// regional service with the default configuration, and
/// `Clients::<service>_once(region)`: the same without the SDK's retries,
/// for creates that take no idempotency token (`support::create_once`
/// decides whether to send those again).
macro_rules! regional_clients {
    ($($service:ident, $once:ident => $sdk:ident),* $(,)?) => {
        impl Clients {
            $(
                pub(crate) fn $service(&self, region: &str) -> $sdk::Client {
                    let service = stringify!($service);
                    self.cached(service, region, || {
                        client!(self, $sdk, service, region, Sdk, Checked)
                    })
                }

                #[allow(dead_code)]
                pub(crate) fn $once(&self, region: &str) -> $sdk::Client {
                    self.cached(stringify!($once), region, || {
                        client!(self, $sdk, stringify!($service), region, Off, Checked)
                    })
                }
            )*
        }
        impl AwsContext {
            $(
                pub fn $service(&self, region: &str) -> $sdk::Client {
                    self.clients.$service(region)
                }
            )*
        }
    };
}

regional_clients! {
    acm, acm_once => aws_sdk_acm,
    ec2, ec2_once => aws_sdk_ec2,
    ssm, ssm_once => aws_sdk_ssm,
    rds, rds_once => aws_sdk_rds,
    dynamodb, dynamodb_once => aws_sdk_dynamodb,
    lambda, lambda_once => aws_sdk_lambda,
    apigateway, apigateway_once => aws_sdk_apigateway,
    sns, sns_once => aws_sdk_sns,
    sfn, sfn_once => aws_sdk_sfn,
    cloudwatch, cloudwatch_once => aws_sdk_cloudwatch,
    secretsmanager, secretsmanager_once => aws_sdk_secretsmanager,
    kms, kms_once => aws_sdk_kms,
    eventbridge, eventbridge_once => aws_sdk_eventbridge,
    ecs, ecs_once => aws_sdk_ecs,
    elbv2, elbv2_once => aws_sdk_elasticloadbalancingv2,
    backup, backup_once => aws_sdk_backup,
}

impl Clients {
    fn rate_limit(&self, service: &'static str, region: &str) -> RateLimit {
        RateLimit {
            service,
            region: region.to_owned(),
            buckets: Arc::clone(&self.buckets),
        }
    }

    fn lease_check(&self) -> LeaseCheck {
        LeaseCheck {
            guard: self.guard.clone(),
        }
    }

    pub(crate) fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        self.cached("s3", region, || {
            client!(
                self,
                aws_sdk_s3,
                "s3",
                region,
                Sdk,
                Checked,
                force_path_style(self.path_style)
            )
        })
    }

    /// S3 for the state backend's own objects (state, journal, lock): not
    /// under the lease check, since renewing the lease and finding out who
    /// took it must still work once it is lost, and every write there
    /// checks the lease itself (or is conditional on it).
    pub(crate) fn s3_state(&self, region: &str) -> aws_sdk_s3::Client {
        self.cached("s3_state", region, || {
            client!(
                self,
                aws_sdk_s3,
                "s3",
                region,
                Sdk,
                Unchecked,
                force_path_style(self.path_style)
            )
        })
    }

    /// IAM is global: one endpoint, whatever the resource's region.
    pub(crate) fn iam(&self) -> aws_sdk_iam::Client {
        self.cached("iam", GLOBAL_REGION, || {
            client!(self, aws_sdk_iam, "iam", GLOBAL_REGION, Sdk, Checked)
        })
    }

    /// IAM without the SDK's retries (see `regional_clients!`).
    pub(crate) fn iam_once(&self) -> aws_sdk_iam::Client {
        self.cached("iam_once", GLOBAL_REGION, || {
            client!(self, aws_sdk_iam, "iam", GLOBAL_REGION, Off, Checked)
        })
    }

    /// Route 53 is global too.
    pub(crate) fn route53(&self) -> aws_sdk_route53::Client {
        self.cached("route53", GLOBAL_REGION, || {
            client!(
                self,
                aws_sdk_route53,
                "route53",
                GLOBAL_REGION,
                Sdk,
                Checked
            )
        })
    }

    /// Route 53 without the SDK's retries (see `regional_clients!`).
    pub(crate) fn route53_once(&self) -> aws_sdk_route53::Client {
        self.cached("route53_once", GLOBAL_REGION, || {
            client!(
                self,
                aws_sdk_route53,
                "route53",
                GLOBAL_REGION,
                Off,
                Checked
            )
        })
    }
}

impl AwsContext {
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        self.clients.s3(region)
    }
    pub fn iam(&self) -> aws_sdk_iam::Client {
        self.clients.iam()
    }
    pub fn route53(&self) -> aws_sdk_route53::Client {
        self.clients.route53()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use aws_sdk_s3::error::SdkError;
    use drctl_core::lease::Lease;
    use drctl_core::lock::LeaseLost;

    use super::*;
    use crate::support::error_chain;

    struct Switch(AtomicBool);

    impl Lease for Switch {
        fn check(&self) -> Result<(), LeaseLost> {
            if self.0.load(Ordering::SeqCst) {
                return Err(LeaseLost {
                    env: "dev".into(),
                    location: "s3://state/dev.lock".into(),
                    what: "its lease lapsed and pid 4242 on host ci-runner-9 (apply) took the lock over".into(),
                });
            }
            Ok(())
        }
    }

    fn refused<E, R>(err: &SdkError<E, R>) -> bool
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + 'static,
    {
        matches!(err, SdkError::ConstructionFailure(_))
            && error_chain(err).contains("no longer holds the lock of environment `dev`")
    }

    /// Fails unless the call was refused before it was sent, naming the
    /// lost lease.
    fn assert_refused<T, E, R>(result: Result<T, SdkError<E, R>>)
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + 'static,
    {
        let Err(err) = result else {
            panic!("the call was not refused");
        };
        assert!(refused(&err), "{}", error_chain(&err));
    }

    /// Fails unless the call was sent (and found nobody listening).
    fn assert_sent<T, E: std::fmt::Debug, R: std::fmt::Debug>(result: Result<T, SdkError<E, R>>) {
        let Err(err) = result else {
            panic!("the call found somebody listening");
        };
        assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    }

    /// An endpoint that takes the request and never answers (a region in
    /// an outage) fails the attempt after the read timeout, as a timeout:
    /// the SDK sets a connect timeout only, and without a read timeout
    /// the call would wait forever. The silent endpoint holds every
    /// connection open until the test ends.
    #[tokio::test]
    async fn a_request_nobody_answers_fails_after_the_read_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((connection, _)) = listener.accept().await {
                held.push(connection);
            }
        });
        let loader = aws_config::defaults(BehaviorVersion::latest()).credentials_provider(
            aws_sdk_sts::config::Credentials::new("AKIDTEST", "secret", None, None, "test"),
        );
        let connection = Connection {
            endpoint: Some(endpoint),
            read_timeout: Duration::from_secs(1),
        };
        let ctx = AwsContext::load_from(loader, &connection).await;
        // One attempt (the client of creates without a token); the bound
        // only turns a hang into a failure here, it times nothing.
        let call = ctx.clients.iam_once().list_roles().send();
        let result = tokio::time::timeout(Duration::from_secs(300), call)
            .await
            .expect("a request nobody answers is still waiting after 300 s");
        silent.abort();
        let Err(err) = result else {
            panic!("the silent endpoint answered");
        };
        assert!(
            matches!(&err, SdkError::DispatchFailure(f) if f.is_timeout())
                || matches!(&err, SdkError::TimeoutError(_)),
            "{}",
            error_chain(&err)
        );
    }

    /// Once the lease is lost, every call that is not a read fails before
    /// it is sent, naming why, whatever the service; reads still go out
    /// (recovery and messages need them), and the state backend's own
    /// client (renewals, finding the new holder) is not checked.
    #[tokio::test]
    async fn a_lost_lease_refuses_every_mutating_call_before_it_is_sent() {
        let ctx = AwsContext::unreachable().await;
        let lease = Arc::new(Switch(AtomicBool::new(false)));
        let _installed = ctx.lease_guard().install(lease.clone());
        let s3 = ctx.s3("us-east-1");
        let ssm = ctx.ssm("us-east-1");
        let put = || s3.put_object().bucket("b").key("k").send();

        // Held: the request is sent (and finds nobody listening).
        assert_sent(put().await);

        lease.0.store(true, Ordering::SeqCst);
        assert_refused(put().await);
        assert_refused(
            ssm.put_parameter()
                .name("n")
                .value("v")
                .overwrite(true)
                .send()
                .await,
        );
        assert_refused(ssm.add_tags_to_resource().resource_id("n").send().await);
        assert_refused(ctx.iam().delete_role().role_name("r").send().await);

        // Reads are sent.
        assert_sent(s3.get_object().bucket("b").key("k").send().await);
        assert_sent(ssm.get_parameter().name("n").send().await);
        // The state backend's client is not under the check.
        assert_sent(
            ctx.clients()
                .s3_state("us-east-1")
                .put_object()
                .bucket("b")
                .key("k")
                .send()
                .await,
        );
        // Another context (another run in this process) is not affected.
        let other = AwsContext::unreachable().await;
        assert_sent(
            other
                .s3("us-east-1")
                .put_object()
                .bucket("b")
                .key("k")
                .send()
                .await,
        );
    }

    /// Every attempt of every client takes a token of its bucket, the
    /// `_once` clients' included (they share their service's buckets).
    #[tokio::test]
    async fn each_attempt_takes_a_token_of_its_service_and_region() {
        let ctx = AwsContext::unreachable().await;
        let clients = ctx.clients();
        assert!(clients.http.is_some(), "the SDK's client, rate limited");
        for _ in 0..3 {
            let _ = ctx.ssm("us-east-2").get_parameter().name("n").send().await;
        }
        let _ = clients
            .ssm_once("us-east-2")
            .put_parameter()
            .name("n")
            .value("v")
            .send()
            .await;
        let _ = ctx.iam().get_role().role_name("r").send().await;
        let taken = |s, r, o| clients.buckets.taken(s, r, o).round();
        // GetParameter and PutParameter share Parameter Store's bucket.
        assert_eq!(taken("ssm", "us-east-2", "GetParameter"), 4.0);
        assert_eq!(taken("ssm", "us-east-1", "GetParameter"), 0.0);
        assert_eq!(taken("iam", GLOBAL_REGION, "GetRole"), 1.0);
    }

    /// A request with a body that waits for its rate limit's token longer
    /// than the SDK's stalled-upload grace period (5 s) is still sent: it
    /// fails here only because nothing listens, not as a stalled upload.
    #[tokio::test]
    async fn a_request_waiting_for_its_token_is_not_taken_for_a_stalled_upload() {
        let ctx = AwsContext::unreachable().await;
        let clients = ctx.clients();
        // CreateHealthCheck: 50 at once, then one every 2 s. Three over
        // the burst: the next request waits 8 s.
        clients
            .buckets
            .take("route53", GLOBAL_REGION, "CreateHealthCheck", 53);
        let err = ctx
            .route53()
            .create_health_check()
            .caller_reference("r")
            .send()
            .await
            .expect_err("nothing listens");
        let chain = error_chain(&err);
        assert!(
            matches!(&err, SdkError::DispatchFailure(f) if f.is_io()),
            "{chain}"
        );
        assert!(!chain.contains("throughput"), "{chain}");
    }

    /// A change that waits for its rate limit's token while the lease is
    /// lost is not sent: the guard is asked again once the token is there.
    /// The endpoint counts connections and closes each at once.
    #[tokio::test]
    async fn a_change_waiting_for_its_token_is_not_sent_once_the_lease_is_lost() {
        use std::sync::atomic::AtomicUsize;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .load()
            .await;
        let ctx = AwsContext::from_sdk_config(conf);
        let lease = Arc::new(Switch(AtomicBool::new(false)));
        let _installed = ctx.lease_guard().install(lease.clone());
        // One attempt per call (the `_once` client).
        let cloudwatch = ctx.clients().cloudwatch_once("us-east-1");
        let set_state = move || {
            cloudwatch
                .set_alarm_state()
                .alarm_name("a")
                .state_value(aws_sdk_cloudwatch::types::StateValue::Ok)
                .state_reason("test")
                .send()
        };
        // SetAlarmState's bucket holds 3 and refills 3 per s: with 6
        // taken, the next request waits more than a second for its token;
        // the lease is lost meanwhile.
        ctx.clients()
            .buckets
            .take("cloudwatch", "us-east-1", "SetAlarmState", 6);
        let waiting = tokio::spawn(set_state());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        lease.0.store(true, Ordering::SeqCst);
        let err = waiting.await.unwrap().unwrap_err();
        let chain = error_chain(&err);
        assert!(chain.contains("took the lock over"), "{chain}");
        assert_eq!(connections.load(Ordering::SeqCst), 0, "sent: {chain}");
    }

    #[test]
    fn reads_are_told_from_changes_by_name() {
        for read in [
            "DescribeInstances",
            "GetParameter",
            "ListObjectsV2",
            "HeadObject",
            "GetCallerIdentity",
            "Query",
            "Scan",
            "BatchGetItem",
        ] {
            assert!(!mutates(read), "{read}");
        }
        for change in [
            "PutParameter",
            "AddTagsToResource",
            "CreateVpc",
            "DeleteRole",
            "ModifyDBCluster",
            "UpdateFunctionCode",
            "ChangeResourceRecordSets",
            "FailoverGlobalCluster",
            "Invoke",
            "StartExecution",
        ] {
            assert!(mutates(change), "{change}");
        }
    }
}
