//! Step Functions kinds.

pub mod state_machine;

use std::sync::Arc;

use drctl_core::Providers;
use drctl_core::provider::KindSchema;

use crate::clients::Clients;
use crate::kind::Typed;

pub(crate) static KINDS: &[&KindSchema] = &[&state_machine::SCHEMA];

pub(crate) fn register(providers: &mut Providers, c: &Arc<Clients>) {
    providers.register(Arc::new(Typed(state_machine::StateMachine(c.clone()))));
}
