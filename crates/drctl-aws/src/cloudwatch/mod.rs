//! CloudWatch kinds.

pub mod alarm;
pub mod dashboard;

use std::sync::Arc;

use drctl_core::Providers;
use drctl_core::provider::KindSchema;

use crate::clients::Clients;
use crate::kind::Typed;

pub(crate) static KINDS: &[&KindSchema] = &[&alarm::SCHEMA, &dashboard::SCHEMA];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(Typed(alarm::Alarm(c.clone()))));
    providers.register(Arc::new(Typed(dashboard::Dashboard(c.clone()))));
}
