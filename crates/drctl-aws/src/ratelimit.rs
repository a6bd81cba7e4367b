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

/// The buckets a request of `operation` (an SDK operation name, e.g.
/// `DescribeSubnets`) of `service` (a client's name in `clients.rs`) takes
/// a token of, each with its rate: its own (the operation's, or its
/// group's), then, where AWS meters the whole service on top of that, the
/// service's ([`ceiling`]). Where AWS publishes no figure, a conservative
/// one: the service's requests share one bucket of [`UNPUBLISHED`].
pub fn buckets(service: &str, operation: &str) -> Vec<(Scope, Rate)> {
    let own = bucket(service, operation);
    match ceiling(service) {
        Some(all) if own.0 != all.0 => vec![own, all],
        _ => vec![own],
    }
}

/// The service-wide bucket every request of `service` also takes, where
/// AWS publishes one besides each operation's.
fn ceiling(service: &str) -> Option<(Scope, Rate)> {
    match service {
        // API Gateway: "Total operations: 10 requests per second with a
        // burst quota of 40 requests per second."
        "apigateway" => Some((Scope::Shared("total"), rate(40, 10.0))),
        // ELB: the account-level bucket, 40 tokens refilled at 10 per s,
        // which every ELB API action takes besides its category's.
        "elbv2" => Some((Scope::Shared("account"), rate(40, 10.0))),
        // AWS Backup: "Sum of All API Calls", 50 per s.
        "backup" => Some((Scope::Shared("sum"), rate(50, 50.0))),
        _ => None,
    }
}

/// A request's own bucket (see [`buckets`]). A figure AWS gives only as
/// requests per second is a bucket as large as one second of it; "1
/// request every N seconds" a bucket of 1 refilled at 1/N per s.
fn bucket(service: &str, operation: &str) -> (Scope, Rate) {
    let read = !crate::clients::mutates(operation);
    let each = Scope::Operation;
    match (service, operation) {
        // EC2: a bucket per API action; non-mutating 100 / 20 per s,
        // mutating 50 / 5 per s.
        ("ec2", _) if read => (each, rate(100, 20.0)),
        ("ec2", _) => (each, rate(50, 5.0)),
        // Route 53: every request of the account draws on one bucket of
        // 50 / 10 per s (per-operation buckets are as large or smaller
        // only for CreateHostedZone 40 / 2 and CreateHealthCheck 50 / 0.5).
        ("route53", "CreateHostedZone") => (each, rate(40, 2.0)),
        ("route53", "CreateHealthCheck") => (each, rate(50, 0.5)),
        ("route53", _) => (Scope::Shared("account"), rate(50, 10.0)),
        // CloudWatch: DescribeAlarms 9 TPS; DeleteAlarms and the other
        // alarm-state calls 3 TPS each.
        ("cloudwatch", "DescribeAlarms") => (each, rate(9, 9.0)),
        ("cloudwatch", "DeleteAlarms" | "DescribeAlarmHistory" | "SetAlarmState") => {
            (each, rate(3, 3.0))
        }
        // Lambda: GetFunction 100 per s; GetPolicy 15 per s; the rest of
        // the control plane 15 per s together.
        ("lambda", "GetFunction") => (each, rate(100, 100.0)),
        ("lambda", "GetPolicy") => (each, rate(15, 15.0)),
        ("lambda", _) => (Scope::Shared("control-plane"), rate(15, 15.0)),
        // Parameter Store's default throughput: 40 TPS shared by
        // GetParameter, GetParameters and PutParameter.
        ("ssm", "GetParameter" | "GetParameters" | "PutParameter") => {
            (Scope::Shared("parameter-throughput"), rate(40, 40.0))
        }
        // Secrets Manager: DescribeSecret 40,000 and GetSecretValue 10,000
        // per s; the control plane 50 per s per group of operations.
        ("secretsmanager", "DescribeSecret") => (each, rate(40_000, 40_000.0)),
        ("secretsmanager", "GetSecretValue") => (each, rate(10_000, 10_000.0)),
        ("secretsmanager", _) => (each, rate(50, 50.0)),
        // S3: 5,500 GET/HEAD and 3,500 PUT/COPY/POST/DELETE per s per
        // prefix; one bucket per client is below that.
        ("s3", _) if read => (Scope::Shared("read"), rate(5_500, 5_500.0)),
        ("s3", _) => (Scope::Shared("write"), rate(3_500, 3_500.0)),
        // API Gateway's fixed quotas for managing an API; every other
        // operation has only the total ([`ceiling`]). The blueprint's
        // APIs are Regional (CreateRestApi of an edge-optimized API: 1
        // every 30 s). The quotas of one call every 30 s (DeleteRestApi,
        // Create/Delete/UpdateDomainName) are left to AWS's answer: those
        // calls are sent again while throttled (docs/performance.md says
        // why).
        ("apigateway", "CreateDeployment") => (each, rate(1, 1.0 / 5.0)),
        ("apigateway", "CreateRestApi") => (each, rate(1, 1.0 / 3.0)),
        ("apigateway", "CreateResource" | "DeleteResource") => (each, rate(5, 5.0)),
        ("apigateway", "GetResources") => (each, rate(5, 2.5)),
        ("apigateway", _) => (Scope::Shared("total"), rate(40, 10.0)),
        // ELB: categories of actions, each a bucket (and the account's,
        // [`ceiling`]).
        ("elbv2", "CreateLoadBalancer" | "SetSubnets") => {
            (Scope::Shared("resource-intensive"), rate(10, 0.2))
        }
        ("elbv2", _) if read => (Scope::Shared("non-mutating"), rate(40, 10.0)),
        ("elbv2", _) => (Scope::Shared("mutating"), rate(20, 3.0)),
        // KMS: each operation its own quota, per s; 5 for one not listed.
        ("kms", "DescribeKey" | "ListResourceTags") => (each, rate(2_000, 2_000.0)),
        ("kms", "GetKeyPolicy" | "GetKeyRotationStatus") => (each, rate(1_000, 1_000.0)),
        ("kms", "ListAliases" | "ListKeys") => (each, rate(500, 500.0)),
        ("kms", "DeleteAlias" | "EnableKeyRotation" | "PutKeyPolicy" | "ScheduleKeyDeletion") => {
            (each, rate(15, 15.0))
        }
        ("kms", "TagResource") => (each, rate(10, 10.0)),
        ("kms", _) => (each, rate(5, 5.0)),
        // ECS: one bucket per category of actions.
        (
            "ecs",
            "CreateCluster"
            | "DeleteCluster"
            | "UpdateCluster"
            | "UpdateClusterSettings"
            | "PutClusterCapacityProviders",
        ) => (Scope::Shared("cluster-modify"), rate(20, 1.0)),
        ("ecs", "DescribeClusters" | "ListClusters") => {
            (Scope::Shared("cluster-read"), rate(50, 20.0))
        }
        ("ecs", "RegisterTaskDefinition" | "DeregisterTaskDefinition") => {
            (Scope::Shared("task-definition-modify"), rate(20, 1.0))
        }
        (
            "ecs",
            "DescribeTaskDefinition" | "ListTaskDefinitions" | "ListTaskDefinitionFamilies",
        ) => (Scope::Shared("task-definition-read"), rate(50, 20.0)),
        ("ecs", "DeleteTaskDefinitions") => {
            (Scope::Shared("task-definition-deletion"), rate(5, 1.0))
        }
        ("ecs", "CreateService" | "DeleteService" | "UpdateService") => {
            (Scope::Shared("service-modify"), rate(50, 5.0))
        }
        ("ecs", "DescribeServices" | "ListServices") => {
            (Scope::Shared("service-read"), rate(100, 20.0))
        }
        ("ecs", "DescribeTasks" | "ListTasks") => {
            (Scope::Shared("cluster-resource-read"), rate(100, 20.0))
        }
        // Step Functions: a bucket per action.
        ("sfn", "CreateStateMachine" | "UpdateStateMachine" | "DeleteStateMachine") => {
            (each, rate(100, 1.0))
        }
        ("sfn", "DescribeStateMachine") => (each, rate(200, 20.0)),
        ("sfn", "ListStateMachines") => (each, rate(100, 5.0)),
        // ACM: per operation, per s; 5 for one not listed.
        ("acm", "DeleteCertificate" | "DescribeCertificate" | "ListTagsForCertificate") => {
            (each, rate(10, 10.0))
        }
        ("acm", "ListCertificates") => (each, rate(8, 8.0)),
        ("acm", _) => (each, rate(5, 5.0)),
        // AWS Backup: per operation, per s (and the sum, [`ceiling`]); 5
        // for one not listed (CreateBackupVault, ListCopyJobs).
        ("backup", "DeleteRecoveryPoint") => (each, rate(10, 10.0)),
        ("backup", "GetBackupPlan" | "GetBackupSelection") => (each, rate(15, 15.0)),
        (
            "backup",
            "ListBackupJobs"
            | "ListBackupPlans"
            | "ListBackupSelections"
            | "ListBackupVaults"
            | "ListRecoveryPointsByBackupVault"
            | "ListTags",
        ) => (each, rate(20, 20.0)),
        ("backup", _) => (each, rate(5, 5.0)),
        // SNS: the actions whose pages give a rate.
        ("sns", "ListTopics" | "ListSubscriptionsByTopic") => (each, rate(30, 30.0)),
        ("sns", "Subscribe" | "Unsubscribe") => (each, rate(100, 100.0)),
        // DynamoDB: the two control-plane actions whose pages give a rate.
        ("dynamodb", "DescribeContinuousBackups" | "ListTagsOfResource") => (each, rate(10, 10.0)),
        // RDS: any API operation, 300 at once and 12 per s sustained.
        ("rds", _) => (Scope::Shared("account"), rate(300, 12.0)),
        // EventBridge: the control-plane APIs share 50 per s.
        ("eventbridge", _) => (Scope::Shared("control-plane"), rate(50, 50.0)),
        _ => (Scope::Shared("all"), UNPUBLISHED),
    }
}

/// The rate of a service (IAM; SNS and DynamoDB's other operations) whose
/// API rate limits AWS does not publish: all its requests in a region
/// share one bucket the size of Route 53's account-wide one, the smallest
/// general bucket AWS documents.
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
    /// The buckets a request of `operation` takes a token of, its own
    /// first ([`buckets`]).
    fn get(&self, service: &'static str, region: &str, operation: &str) -> Vec<Arc<TokenBucket>> {
        let mut all = self.buckets.lock().expect("rate buckets");
        buckets(service, operation)
            .into_iter()
            .map(|(scope, rate)| {
                let operation = match scope {
                    Scope::Operation => operation.to_owned(),
                    Scope::Shared(_) => String::new(),
                };
                Arc::clone(
                    all.entry((service, region.to_owned(), scope, operation))
                        .or_insert_with(|| Arc::new(TokenBucket::new(rate))),
                )
            })
            .collect()
    }
}

#[cfg(test)]
impl Buckets {
    /// How many requests of the bucket of `operation` were let through or
    /// promised a token.
    pub(crate) fn taken(&self, service: &'static str, region: &str, operation: &str) -> f64 {
        let own = &self.get(service, region, operation)[0];
        own.taken.load(std::sync::atomic::Ordering::Relaxed) as f64
    }

    /// Takes `n` tokens of the bucket of `operation` now, as `n` requests
    /// would.
    pub(crate) fn take(&self, service: &'static str, region: &str, operation: &str, n: usize) {
        let own = &self.get(service, region, operation)[0];
        for _ in 0..n {
            own.reserve(Instant::now());
        }
    }
}

/// The buckets a request waits on, recorded on it by [`RateLimit`].
#[derive(Clone, Debug)]
struct Due(Vec<Arc<TokenBucket>>);

impl Due {
    /// Takes a token of each bucket at `now` (all reserved at once, so no
    /// bucket's place in line is lost while another's is awaited); the
    /// time until the last is due.
    fn reserve(&self, now: Instant) -> Duration {
        self.0
            .iter()
            .map(|b| b.reserve(now))
            .max()
            .unwrap_or(Duration::ZERO)
    }

    async fn acquire(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

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
        let buckets = self.buckets.get(self.service, &self.region, operation);
        context.request_mut().add_extension(Due(buckets));
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
        let Some(due) = request.extension::<Due>().cloned() else {
            return self.0.call(request);
        };
        let guard = request.extension::<CheckBeforeSending>().cloned();
        let inner = self.0.clone();
        HttpConnectorFuture::new(async move {
            due.acquire().await;
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
        let own = |s, r, o| Arc::clone(&buckets.get(s, r, o)[0]);
        let a = own("ec2", "us-east-1", "DescribeSubnets");
        let same = |x: &Arc<TokenBucket>, y: &Arc<TokenBucket>| Arc::ptr_eq(x, y);
        assert!(same(&a, &own("ec2", "us-east-1", "DescribeSubnets")));
        assert!(!same(&a, &own("ec2", "us-east-2", "DescribeSubnets")));
        assert!(!same(&a, &own("ec2", "us-east-1", "DescribeVpcs")));
        // Route 53 meters the account: one bucket for its reads.
        let r = own("route53", "us-east-1", "GetHostedZone");
        assert!(same(
            &r,
            &own("route53", "us-east-1", "ListResourceRecordSets")
        ));
        // ECS meters categories of actions.
        let c = own("ecs", "us-east-1", "CreateCluster");
        assert!(same(&c, &own("ecs", "us-east-1", "DeleteCluster")));
        assert!(!same(
            &c,
            &own("ecs", "us-east-1", "RegisterTaskDefinition")
        ));
        // A service without published figures: one bucket for all.
        let i = own("iam", "us-east-1", "GetRole");
        assert!(same(&i, &own("iam", "us-east-1", "ListRoleTags")));
        let rate_of = |s, o| super::buckets(s, o)[0].1;
        assert_eq!(rate_of("route53", "GetHostedZone"), rate(50, 10.0));
        assert_eq!(rate_of("ec2", "CreateVpc"), rate(50, 5.0));
        assert_eq!(rate_of("kms", "CreateKey"), rate(5, 5.0));
        assert_eq!(rate_of("rds", "DescribeDBClusters"), rate(300, 12.0));
        assert_eq!(rate_of("iam", "GetRole"), UNPUBLISHED);
    }

    /// API Gateway meters each managing operation it lists and the total
    /// of all of them; a request takes a token of both, and waits for the
    /// later.
    #[test]
    fn a_request_takes_its_operations_token_and_its_services() {
        let buckets = Buckets::default();
        let due = |o| Due(buckets.get("apigateway", "us-east-1", o));
        let deploy = due("CreateDeployment");
        let read = due("GetRestApi");
        assert_eq!((deploy.0.len(), read.0.len()), (2, 1));
        assert!(Arc::ptr_eq(&deploy.0[1], &read.0[0]), "one total");
        let start = read.0[0].state.lock().unwrap().1;
        let ms = |d: Duration| d.as_millis();
        // The first deployment goes at once; the next one waits its own
        // bucket's refill, 1 every 5 s.
        assert_eq!(ms(deploy.reserve(start)), 0);
        assert_eq!(ms(deploy.reserve(start)), 5_000);
        // The total's 40 are spent (2 by the deployments): the 39th read
        // waits for the total's refill (10 per s), and so does a request
        // whose own bucket is full.
        let w: Vec<u128> = (0..39).map(|_| ms(read.reserve(start))).collect();
        assert!(w[..38].iter().all(|&m| m == 0), "{w:?}");
        assert_eq!(w[38], 100);
        assert_eq!(ms(due("CreateResource").reserve(start)), 200);
        // ELB: every action takes the account's bucket as well.
        assert_eq!(
            super::buckets("elbv2", "CreateLoadBalancer")[1].1,
            rate(40, 10.0)
        );
        assert_eq!(
            super::buckets("elbv2", "CreateLoadBalancer")[0].1,
            rate(10, 0.2)
        );
    }
}
