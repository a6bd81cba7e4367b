//! S3 kinds.

pub mod bucket;
pub mod bucket_replication;

use std::sync::Arc;

use drctl_core::Providers;
use drctl_core::provider::KindSchema;

use crate::clients::Clients;
use crate::kind::Typed;

pub(crate) static KINDS: &[&KindSchema] = &[&bucket::SCHEMA, &bucket_replication::SCHEMA];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(Typed(bucket::Bucket(c.clone()))));
    providers.register(Arc::new(Typed(bucket_replication::BucketReplication(
        c.clone(),
    ))));
}
