//! drctl's engine: resources and their addresses, the desired graph, the
//! planner, plan and state documents, the state store and lock, and the
//! executor. It knows nothing about AWS: providers plug in through
//! [`provider::Provider`].

pub mod address;
pub mod backend;
pub mod executor;
mod fsutil;
pub mod graph;
pub mod import;
pub mod journal;
pub mod lease;
pub mod lock;
pub mod operations;
pub mod plan;
pub mod planner;
pub mod provider;
pub mod queue;
pub mod recovery;
pub mod refresh;
pub mod resource;
pub mod simulate;
pub mod state;
pub mod store;
pub mod synthetic;
pub mod targeting;
pub mod value;
pub mod waiting;

/// The in-memory provider, for tests of the engine and of the layers
/// above it (tests/suite/ops.rs). Always built: behind a feature, the
/// suite's selection would compile drctl-core, and all above it, twice.
pub mod testing;

pub use address::{Address, Reference};
pub use fsutil::write_atomic;
pub use graph::{DesiredGraph, GraphError};
pub use plan::{Action, Plan, PlanOperation, ResourceChange};
pub use provider::{
    Applied, KindSchema, Latency, ListScope, Observed, OpContext, Provider, ProviderError,
    Providers, SchemaSource,
};
pub use resource::ResourceSpec;
pub use state::{ResourceState, State};
pub use value::{Attributes, Value};
