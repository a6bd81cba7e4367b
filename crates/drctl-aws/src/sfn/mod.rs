//! Step Functions kinds.

use std::sync::Arc;

use drctl_core::Providers;
use drctl_core::provider::KindSchema;

use crate::clients::Clients;

pub(crate) static KINDS: &[&KindSchema] = &[];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    let _ = (providers, c);
}
