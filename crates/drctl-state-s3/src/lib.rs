//! drctl's state backend in S3: state, change journal and a leased lock as
//! objects of a bucket (`S3Backend`), optionally copied to a bucket in
//! another region (`ReplicatedBackend`) so that a failover finds state,
//! lock and journal when the primary region is gone.
//!
//! It implements [`drctl_core::backend::Backend`] and talks to S3 through
//! the state client of a [`drctl_aws::AwsContext`] (the same credentials
//! and retries as the providers, but outside the lease guard: renewing the
//! lease must work once it is lost). docs/state-format.md, "S3 backend",
//! describes the objects.

mod replicated;
mod s3;

pub use replicated::{Copy, Mode, ReplicatedBackend};
pub use s3::{LeaseSettings, S3Backend, S3Location, S3Lock};
