//! Lambda kinds.

pub mod function;
pub mod permission;

use std::sync::Arc;

use drctl_core::Providers;
use drctl_core::provider::KindSchema;

use crate::clients::Clients;
use crate::kind::Typed;

pub(crate) static KINDS: &[&KindSchema] = &[&function::SCHEMA, &permission::SCHEMA];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(Typed(function::Function(c.clone()))));
    providers.register(Arc::new(Typed(permission::Permission(c.clone()))));
}
