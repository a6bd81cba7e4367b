//! Client-side rate limiting: every request of every client waits for a
//! token of its (service, region, bucket) before it is sent, with the
//! bucket sizes and refill rates AWS publishes (the table in
//! `docs/performance.md`, "API rate limits"), so that a refresh, an apply
//! or a DR switch stays within them instead of being throttled and backing
//! off. The SDK's retries (adaptive backoff on throttling) stay behind it
//! for what the table does not know: another client of the same account.
//!
//! Two pieces: an interceptor that picks the bucket of each attempt (it
//! knows the operation's name) and records it on the request, and an HTTP
//! client around the SDK's default one that waits for a token of that
//! bucket before sending. Every attempt takes a token (AWS counts retries).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
use aws_smithy_types::config_bag::ConfigBag;
use std::time::Instant;

use crate::clients::CheckBeforeSending;

/// A bucket's size (the burst AWS admits at once) and refill rate (the
/// sustained requests per second).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub burst: u32,
    pub per_second: f64,
}

const fn rate(burst: u32, per_second: f64) -> Rate {
    Rate { burst, per_second }
}

/// Which requests share a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Each operation has its own bucket (EC2: "each API is evaluated
    /// individually").
    Operation,
    /// The operations named share one bucket (e.g. SSM's parameter
    /// throughput: GetParameter, GetParameters, PutParameter).
    Shared(&'static str),
}

/// The bucket of `operation` (an SDK operation name, e.g.
/// `DescribeSubnets`) of `service` (a client's name in `clients.rs`), and
/// its rate. Where AWS publishes no figure, a conservative one: the
/// service's requests share one bucket of [`UNPUBLISHED`].
pub fn bucket(service: &str, operation: &str) -> (Scope, Rate) {
    let read = !crate::clients::mutates(operation);
    match (service, operation) {
        // EC2: a bucket per API action; non-mutating 100 / 20 per s,
        // mutating 50 / 5 per s.
        ("ec2", _) if read => (Scope::Operation, rate(100, 20.0)),
        ("ec2", _) => (Scope::Operation, rate(50, 5.0)),
        // Route 53: every request of the account draws on one bucket of
        // 50 / 10 per s (per-operation buckets are as large or smaller
        // only for CreateHostedZone 40 / 2 and CreateHealthCheck 50 / 0.5).
        ("route53", "CreateHostedZone") => (Scope::Operation, rate(40, 2.0)),
        ("route53", "CreateHealthCheck") => (Scope::Operation, rate(50, 0.5)),
        ("route53", _) => (Scope::Shared("account"), rate(50, 10.0)),
        // CloudWatch: DescribeAlarms 9 TPS; DeleteAlarms and the other
        // alarm-state calls 3 TPS each.
        ("cloudwatch", "DescribeAlarms") => (Scope::Operation, rate(9, 9.0)),
        ("cloudwatch", "DeleteAlarms" | "DescribeAlarmHistory" | "SetAlarmState") => {
            (Scope::Operation, rate(3, 3.0))
        }
        // Lambda: GetFunction 100 per s; GetPolicy 15 per s; the rest of
        // the control plane 15 per s together.
        ("lambda", "GetFunction") => (Scope::Operation, rate(100, 100.0)),
        ("lambda", "GetPolicy") => (Scope::Operation, rate(15, 15.0)),
        ("lambda", _) => (Scope::Shared("control-plane"), rate(15, 15.0)),
        // Parameter Store's default throughput: 40 TPS shared by
        // GetParameter, GetParameters and PutParameter.
        ("ssm", "GetParameter" | "GetParameters" | "PutParameter") => {
            (Scope::Shared("parameter-throughput"), rate(40, 40.0))
        }
        // Secrets Manager: DescribeSecret 40,000 and GetSecretValue 10,000
        // per s; the control plane 50 per s per group of operations.
        ("secretsmanager", "DescribeSecret") => (Scope::Operation, rate(40_000, 40_000.0)),
        ("secretsmanager", "GetSecretValue") => (Scope::Operation, rate(10_000, 10_000.0)),
        ("secretsmanager", _) => (Scope::Operation, rate(50, 50.0)),
        // S3: 5,500 GET/HEAD and 3,500 PUT/COPY/POST/DELETE per s per
        // prefix; one bucket per client is below that.
        ("s3", _) if read => (Scope::Shared("read"), rate(5_500, 5_500.0)),
        ("s3", _) => (Scope::Shared("write"), rate(3_500, 3_500.0)),
        _ => (Scope::Shared("all"), UNPUBLISHED),
    }
}

/// The rate of a service whose API rate limits AWS does not publish (or
/// this table does not know yet): all its requests in a region share one
/// bucket the size of Route 53's account-wide one, the smallest general
/// bucket AWS documents.
pub const UNPUBLISHED: Rate = rate(50, 10.0);

/// A token bucket: `burst` tokens at first, refilled at `per_second`.
/// Taking a token reserves it: when none is left the taker is told how
/// long to wait for its turn, so callers are served in the order they
/// asked and the lock is never held across a wait.
#[derive(Debug)]
pub struct TokenBucket {
    rate: Rate,
    state: Mutex<(f64, Instant)>,
    /// Tokens taken so far (what the tests count).
    taken: std::sync::atomic::AtomicU64,
}

impl TokenBucket {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            state: Mutex::new((f64::from(rate.burst), Instant::now())),
            taken: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Takes a token at `now`; the time from `now` until it is due (zero
    /// when one is there).
    fn reserve(&self, now: Instant) -> Duration {
        self.taken
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut state = self.state.lock().expect("token bucket");
        let (tokens, since) = &mut *state;
        let refilled = now.saturating_duration_since(*since).as_secs_f64() * self.rate.per_second;
        *tokens = (*tokens + refilled).min(f64::from(self.rate.burst)) - 1.0;
        *since = (*since).max(now);
        if *tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-*tokens / self.rate.per_second)
        }
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The buckets of one AWS context (one account), by service, region and
/// scope; made on first use.
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    buckets: Mutex<HashMap<BucketKey, Arc<TokenBucket>>>,
}

/// Service, region, scope, and the operation when the scope is one.
type BucketKey = (&'static str, String, Scope, String);

impl Buckets {
    fn get(&self, service: &'static str, region: &str, operation: &str) -> Arc<TokenBucket> {
        let (scope, rate) = bucket(service, operation);
        let operation = match scope {
            Scope::Operation => operation.to_owned(),
            Scope::Shared(_) => String::new(),
        };
        let mut buckets = self.buckets.lock().expect("rate buckets");
        Arc::clone(
            buckets
                .entry((service, region.to_owned(), scope, operation))
                .or_insert_with(|| Arc::new(TokenBucket::new(rate))),
        )
    }
}

#[cfg(test)]
impl Buckets {
    /// How many requests of the bucket of `operation` were let through or
    /// promised a token.
    pub(crate) fn taken(&self, service: &'static str, region: &str, operation: &str) -> f64 {
        let bucket = self.get(service, region, operation);
        bucket.taken.load(std::sync::atomic::Ordering::Relaxed) as f64
    }

    /// Takes `n` tokens of the bucket of `operation` now, as `n` requests
    /// would.
    pub(crate) fn take(&self, service: &'static str, region: &str, operation: &str, n: usize) {
        let bucket = self.get(service, region, operation);
        for _ in 0..n {
            bucket.reserve(Instant::now());
        }
    }
}

/// The bucket a request waits on, recorded on it by [`RateLimit`].
#[derive(Clone, Debug)]
struct Due(Arc<TokenBucket>);

/// Picks each attempt's bucket from the operation's name.
#[derive(Debug)]
pub(crate) struct RateLimit {
    pub(crate) service: &'static str,
    pub(crate) region: String,
    pub(crate) buckets: Arc<Buckets>,
}

impl Intercept for RateLimit {
    fn name(&self) -> &'static str {
        "drctl-rate-limit"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or("", |m| m.name());
        let bucket = self.buckets.get(self.service, &self.region, operation);
        context.request_mut().add_extension(Due(bucket));
        Ok(())
    }
}

/// The SDK's default HTTP client, with each request waiting for the token
/// [`RateLimit`] recorded on it.
#[derive(Clone, Debug)]
pub(crate) struct Limited {
    inner: SharedHttpClient,
}

impl Limited {
    /// Around `inner`, or the SDK's default client for `behavior`; `None`
    /// when the SDK has none to offer (the clients then keep theirs,
    /// unlimited).
    pub(crate) fn client(
        inner: Option<SharedHttpClient>,
        behavior: BehaviorVersion,
    ) -> Option<SharedHttpClient> {
        let inner = inner.or_else(|| {
            let plugin =
                aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(behavior)?;
            plugin
                .runtime_components(&RuntimeComponentsBuilder::new("drctl-rate-limit"))
                .http_client()
        })?;
        Some(SharedHttpClient::new(Self { inner }))
    }
}

impl HttpClient for Limited {
    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }

    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitedConnector(
            self.inner.http_connector(settings, components),
        ))
    }
}

#[derive(Debug)]
struct LimitedConnector(SharedHttpConnector);

impl HttpConnector for LimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let Some(Due(bucket)) = request.extension::<Due>().cloned() else {
            return self.0.call(request);
        };
        let guard = request.extension::<CheckBeforeSending>().cloned();
        let inner = self.0.clone();
        HttpConnectorFuture::new(async move {
            bucket.acquire().await;
            // The lease may have been lost while the request waited: a
            // change is sent only while it is still held (not retried:
            // the error is no transient one).
            if let Some(CheckBeforeSending(guard)) = guard {
                guard
                    .check()
                    .map_err(|lost| ConnectorError::other(lost.into(), None))?;
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The waits of `n` takers of `bucket` who all ask at `at`, in order.
    fn waits(bucket: &TokenBucket, at: Instant, n: usize) -> Vec<u128> {
        (0..n).map(|_| bucket.reserve(at).as_millis()).collect()
    }

    #[test]
    fn a_bucket_admits_its_burst_at_once_then_refills_at_its_rate() {
        // EC2's non-mutating bucket: 100 at once, then 20 per second.
        let bucket = TokenBucket::new(rate(100, 20.0));
        let start = bucket.state.lock().unwrap().1;
        let w = waits(&bucket, start, 140);
        assert!(w[..100].iter().all(|&ms| ms == 0), "{:?}", &w[..100]);
        // The 101st waits one refill (50 ms), the 120th a second, the
        // 140th two: served in the order they asked.
        assert_eq!((w[100], w[119], w[139]), (50, 1_000, 2_000));
        // One second later, 20 more have come and been promised already.
        let later = start + Duration::from_secs(1);
        assert_eq!(bucket.reserve(later).as_millis(), 1_050);
        // Left alone, the bucket fills up again, to its size and no more.
        let idle = start + Duration::from_secs(60);
        let w = waits(&bucket, idle, 101);
        assert!(w[..100].iter().all(|&ms| ms == 0), "{:?}", &w[..100]);
        assert_eq!(w[100], 50);
    }

    #[test]
    fn a_slow_bucket_paces_every_request_after_its_burst() {
        // CloudWatch's DescribeAlarms: 9 per second.
        let bucket = TokenBucket::new(rate(9, 9.0));
        let start = bucket.state.lock().unwrap().1;
        let w = waits(&bucket, start, 12);
        assert_eq!(&w[8..], &[0, 111, 222, 333]);
    }

    #[test]
    fn buckets_are_per_region_and_per_operation_where_aws_meters_them_so() {
        let buckets = Buckets::default();
        let a = buckets.get("ec2", "us-east-1", "DescribeSubnets");
        let same = |x: &Arc<TokenBucket>, y: &Arc<TokenBucket>| Arc::ptr_eq(x, y);
        assert!(same(
            &a,
            &buckets.get("ec2", "us-east-1", "DescribeSubnets")
        ));
        assert!(!same(
            &a,
            &buckets.get("ec2", "us-east-2", "DescribeSubnets")
        ));
        assert!(!same(&a, &buckets.get("ec2", "us-east-1", "DescribeVpcs")));
        // Route 53 meters the account: one bucket for its reads.
        let r = buckets.get("route53", "us-east-1", "GetHostedZone");
        assert!(same(
            &r,
            &buckets.get("route53", "us-east-1", "ListResourceRecordSets")
        ));
        // A service without published figures: one bucket for all.
        let i = buckets.get("iam", "us-east-1", "GetRole");
        assert!(same(&i, &buckets.get("iam", "us-east-1", "ListRoleTags")));
        assert_eq!(bucket("route53", "GetHostedZone").1, rate(50, 10.0));
        assert_eq!(bucket("ec2", "CreateVpc").1, rate(50, 5.0));
        assert_eq!(bucket("iam", "GetRole").1, UNPUBLISHED);
    }
}
