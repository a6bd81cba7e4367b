//! State backends that live in AWS.

mod replicated;
mod s3;

pub use replicated::{Copy, Mode, ReplicatedBackend};
pub use s3::{LeaseSettings, S3Backend, S3Location, S3Lock};
