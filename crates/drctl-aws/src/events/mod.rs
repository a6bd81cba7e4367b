//! EventBridge kinds.

pub mod rule;

use std::sync::Arc;

use drctl_core::Providers;
use drctl_core::provider::KindSchema;

use crate::clients::Clients;
use crate::kind::Typed;

pub(crate) static KINDS: &[&KindSchema] = &[&rule::SCHEMA];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(Typed(rule::Rule(c.clone()))));
}
