//! SNS kinds.

pub mod subscription;
pub mod topic;

use std::sync::Arc;

use drctl_core::Providers;
use drctl_core::provider::KindSchema;

use crate::clients::Clients;
use crate::kind::Typed;

pub(crate) static KINDS: &[&KindSchema] = &[&topic::SCHEMA, &subscription::SCHEMA];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(Typed(topic::Topic(c.clone()))));
    providers.register(Arc::new(Typed(subscription::Subscription(c.clone()))));
}
