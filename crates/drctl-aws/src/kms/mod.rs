//! KMS kinds: a region's customer-managed key and its alias.

pub mod alias;
pub mod key;

use std::sync::Arc;

use drctl_core::Providers;
use drctl_core::provider::KindSchema;

use crate::clients::Clients;
use crate::kind::Typed;

pub(crate) static KINDS: &[&KindSchema] = &[&key::SCHEMA, &alias::SCHEMA];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(key::Key(c.clone())));
    providers.register(Arc::new(Typed(alias::Alias(c.clone()))));
}

/// KMS answers these for a key or alias that does not exist.
pub(crate) const NOT_FOUND: &[&str] = &["NotFoundException"];
