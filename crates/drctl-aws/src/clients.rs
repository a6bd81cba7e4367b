//! AWS configuration and per-region SDK clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
use thiserror::Error;

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

/// Shared AWS configuration (credentials, endpoint, retries) from the
/// standard aws-config chain, plus an optional endpoint override.
#[derive(Clone)]
pub struct AwsContext {
    clients: Arc<Clients>,
}

impl AwsContext {
    /// Loads configuration from the environment; `endpoint` overrides
    /// `AWS_ENDPOINT_URL` (e.g. an emulator).
    pub async fn load(endpoint: Option<&str>) -> Self {
        Self::load_from(aws_config::defaults(BehaviorVersion::latest()), endpoint).await
    }

    /// drctl's configuration (home region, retries, `endpoint`) over what
    /// `loader` sets (credentials, for a test).
    pub async fn load_from(loader: aws_config::ConfigLoader, endpoint: Option<&str>) -> Self {
        let mut loader = loader
            .region(Region::new(GLOBAL_REGION))
            // Throttling and transient 5xx are retried with exponential
            // backoff and jitter by the SDK's standard strategy.
            .retry_config(RetryConfig::standard().with_max_attempts(6));
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
        }
        Self::from_sdk_config(loader.load().await)
    }

    /// Wraps a configuration built by the caller (credentials, endpoint,
    /// retries as they chose).
    pub fn from_sdk_config(base: SdkConfig) -> Self {
        // A custom endpoint rarely serves virtual-hosted bucket names.
        let path_style =
            base.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        Self {
            clients: Arc::new(Clients {
                base,
                path_style,
                cache: Mutex::default(),
                account: tokio::sync::OnceCell::new(),
            }),
        }
    }

    pub(crate) fn clients(&self) -> Arc<Clients> {
        Arc::clone(&self.clients)
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
    path_style: bool,
    cache: Mutex<HashMap<(&'static str, String), AnyClient>>,
    account: tokio::sync::OnceCell<String>,
}

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
                    self.cached(stringify!($service), region, || {
                        $sdk::Client::from_conf(
                            $sdk::config::Builder::from(&self.base)
                                .region(Region::new(region.to_owned()))
                                .retry_partition(retry_partition(stringify!($service)))
                                .interceptor(crate::crash::CrashSwitch)
                                .build(),
                        )
                    })
                }

                #[allow(dead_code)]
                pub(crate) fn $once(&self, region: &str) -> $sdk::Client {
                    self.cached(stringify!($once), region, || {
                        $sdk::Client::from_conf(
                            $sdk::config::Builder::from(&self.base)
                                .region(Region::new(region.to_owned()))
                                .retry_config(RetryConfig::disabled())
                                .interceptor(crate::crash::CrashSwitch)
                                .build(),
                        )
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
    pub(crate) fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        self.cached("s3", region, || {
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&self.base)
                    .region(Region::new(region.to_owned()))
                    .retry_partition(retry_partition("s3"))
                    .interceptor(crate::crash::CrashSwitch)
                    .force_path_style(self.path_style)
                    .build(),
            )
        })
    }

    /// IAM is global: one endpoint, whatever the resource's region.
    pub(crate) fn iam(&self) -> aws_sdk_iam::Client {
        self.cached("iam", GLOBAL_REGION, || {
            aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&self.base)
                    .region(Region::new(GLOBAL_REGION))
                    .retry_partition(retry_partition("iam"))
                    .interceptor(crate::crash::CrashSwitch)
                    .build(),
            )
        })
    }

    /// IAM without the SDK's retries (see `regional_clients!`).
    pub(crate) fn iam_once(&self) -> aws_sdk_iam::Client {
        self.cached("iam_once", GLOBAL_REGION, || {
            aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&self.base)
                    .region(Region::new(GLOBAL_REGION))
                    .retry_config(RetryConfig::disabled())
                    .interceptor(crate::crash::CrashSwitch)
                    .build(),
            )
        })
    }

    /// Route 53 without the SDK's retries (see `regional_clients!`).
    pub(crate) fn route53_once(&self) -> aws_sdk_route53::Client {
        self.cached("route53_once", GLOBAL_REGION, || {
            aws_sdk_route53::Client::from_conf(
                aws_sdk_route53::config::Builder::from(&self.base)
                    .region(Region::new(GLOBAL_REGION))
                    .retry_config(RetryConfig::disabled())
                    .interceptor(crate::crash::CrashSwitch)
                    .build(),
            )
        })
    }

    /// Route 53 is global too.
    pub(crate) fn route53(&self) -> aws_sdk_route53::Client {
        self.cached("route53", GLOBAL_REGION, || {
            aws_sdk_route53::Client::from_conf(
                aws_sdk_route53::config::Builder::from(&self.base)
                    .region(Region::new(GLOBAL_REGION))
                    .retry_partition(retry_partition("route53"))
                    .interceptor(crate::crash::CrashSwitch)
                    .build(),
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
