//! State backends that live in AWS.

mod s3;

pub use s3::{LeaseSettings, S3Backend, S3Location, S3Lock};
