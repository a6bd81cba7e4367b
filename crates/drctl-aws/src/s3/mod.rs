//! S3 kinds.

pub mod bucket;
pub mod bucket_replication;

use crate::kind::{Registration, kind};

pub(crate) static KINDS: &[Registration] = &[
    kind!(bucket, Bucket),
    kind!(bucket_replication, BucketReplication),
];
