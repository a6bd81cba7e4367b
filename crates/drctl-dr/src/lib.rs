//! The DR domain of drctl: `status`, `failover`, `failback` and `drill`
//! without their command lines, prompts or rendering (those are the
//! binary's).
//!
//! - [`cloud`]: the port, what DR asks of the cloud ([`Cloud`]) in its
//!   own words, and the plain data it gets back; `drctl_aws` implements
//!   it, the tests here fake it.
//! - [`Targets`]: what the operations act on, found in state under the
//!   addresses the blueprint exports (`drctl_blueprint::targets`).
//! - [`status`]: the DR status read from AWS, and the readiness rules.
//! - [`checks`]: the checks that gate a planned switch (pure rules).
//! - [`routing`]: which region Route 53 answers with, given weights and
//!   health (pure).
//! - [`switch`]: a switch's steps (pure, from what AWS and state hold) and
//!   the runner, which reports through a [`switch::Observer`] and changes
//!   state only through core's backend.
//! - [`drill`]: a failover and a failback in one run.
//! - [`rto`]: the recovery time of an unplanned failover on AWS, modelled
//!   from the blueprint's settings (pure).
//!
//! This crate does not depend on the provider crate: every cloud call
//! goes through [`Cloud`] (the AWS calls themselves are `drctl_aws::dr`'s).

pub mod checks;
pub mod cloud;
pub mod drill;
mod error;
pub mod routing;
pub mod rto;
pub mod status;
pub mod switch;
mod targets;
#[cfg(test)]
mod testing;

pub use cloud::{Cloud, WriterChange};
pub use drctl_blueprint::Role;
pub use error::DrError;
pub use targets::{ClusterTarget, Fence, RecordTarget, Targets, VaultTarget};
