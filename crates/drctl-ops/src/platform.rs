//! What the operations ask of the cloud besides the providers: who the
//! credentials are, the regions' Availability Zones, the DNS note, and the
//! DR port. [`Aws`] is the real one; tests give a fake.

use std::sync::Arc;

use async_trait::async_trait;
use drctl_aws::{AwsContext, Connection};
use drctl_core::Providers;
use tokio::sync::OnceCell;

use crate::error::PlatformError;

#[async_trait]
pub trait Platform: Send + Sync {
    /// The AWS account of the credentials (STS).
    async fn account_id(&self) -> Result<String, PlatformError>;
    /// The Availability Zones `region` offers.
    async fn availability_zones(&self, region: &str) -> Result<Vec<String>, PlatformError>;
    /// The provider registry of the run (built once, by the workspace).
    async fn providers(&self) -> Providers;
    /// What a plan says about the DNS of `domain` (`drctl_aws`'s wording).
    async fn dns_note(
        &self,
        domain: &str,
        hosted_zone_id: Option<&str>,
        name_servers: Option<&[String]>,
    ) -> Result<String, PlatformError>;
    /// The port the DR switches and status act through.
    async fn dr(&self) -> Result<&dyn drctl_dr::Cloud, PlatformError>;
}

/// AWS, its context loaded at the first call (commands that never call
/// AWS never load it). The state backend shares the context.
pub struct Aws {
    pub(crate) context: Arc<OnceCell<AwsContext>>,
    pub(crate) connection: Connection,
}

impl Aws {
    pub fn new(connection: Connection) -> Self {
        Self {
            context: Arc::new(OnceCell::new()),
            connection,
        }
    }

    pub async fn context(&self) -> &AwsContext {
        self.context
            .get_or_init(|| AwsContext::load(&self.connection))
            .await
    }
}

#[async_trait]
impl Platform for Aws {
    async fn account_id(&self) -> Result<String, PlatformError> {
        Ok(self.context().await.account_id().await?)
    }

    async fn availability_zones(&self, region: &str) -> Result<Vec<String>, PlatformError> {
        Ok(self.context().await.availability_zones(region).await?)
    }

    async fn providers(&self) -> Providers {
        drctl_aws::providers(self.context().await)
    }

    async fn dns_note(
        &self,
        domain: &str,
        hosted_zone_id: Option<&str>,
        name_servers: Option<&[String]>,
    ) -> Result<String, PlatformError> {
        Ok(self
            .context()
            .await
            .dns_note(domain, hosted_zone_id, name_servers)
            .await?)
    }

    async fn dr(&self) -> Result<&dyn drctl_dr::Cloud, PlatformError> {
        Ok(self.context().await)
    }
}
