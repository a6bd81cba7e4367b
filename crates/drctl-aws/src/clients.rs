//! AWS configuration and per-region SDK clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use thiserror::Error;

#[derive(Debug, Error)]
#[error("{0}")]
pub struct AwsError(pub String);

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
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
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
                ec2: Mutex::default(),
                s3: Mutex::default(),
                ssm: Mutex::default(),
            }),
        }
    }

    pub(crate) fn clients(&self) -> Arc<Clients> {
        Arc::clone(&self.clients)
    }

    /// The account the credentials belong to (STS GetCallerIdentity).
    pub async fn account_id(&self) -> Result<String, AwsError> {
        let sts = aws_sdk_sts::Client::new(&self.clients.base);
        let out = sts.get_caller_identity().send().await.map_err(|e| {
            AwsError(format!(
                "sts:GetCallerIdentity failed: {}",
                crate::support::error_chain(&e)
            ))
        })?;
        out.account
            .ok_or_else(|| AwsError("sts:GetCallerIdentity returned no account".into()))
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        self.clients.ec2(region)
    }
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        self.clients.s3(region)
    }
    pub fn ssm(&self, region: &str) -> aws_sdk_ssm::Client {
        self.clients.ssm(region)
    }
}

/// One client per (service, region), built on first use and then shared.
pub(crate) struct Clients {
    base: SdkConfig,
    path_style: bool,
    ec2: Mutex<HashMap<String, aws_sdk_ec2::Client>>,
    s3: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    ssm: Mutex<HashMap<String, aws_sdk_ssm::Client>>,
}

impl Clients {
    pub(crate) fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let mut m = self.ec2.lock().expect("client cache");
        m.entry(region.to_owned())
            .or_insert_with(|| {
                let conf = aws_sdk_ec2::config::Builder::from(&self.base)
                    .region(Region::new(region.to_owned()))
                    .build();
                aws_sdk_ec2::Client::from_conf(conf)
            })
            .clone()
    }

    pub(crate) fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let mut m = self.s3.lock().expect("client cache");
        m.entry(region.to_owned())
            .or_insert_with(|| {
                let conf = aws_sdk_s3::config::Builder::from(&self.base)
                    .region(Region::new(region.to_owned()))
                    .force_path_style(self.path_style)
                    .build();
                aws_sdk_s3::Client::from_conf(conf)
            })
            .clone()
    }

    pub(crate) fn ssm(&self, region: &str) -> aws_sdk_ssm::Client {
        let mut m = self.ssm.lock().expect("client cache");
        m.entry(region.to_owned())
            .or_insert_with(|| {
                let conf = aws_sdk_ssm::config::Builder::from(&self.base)
                    .region(Region::new(region.to_owned()))
                    .build();
                aws_sdk_ssm::Client::from_conf(conf)
            })
            .clone()
    }
}
