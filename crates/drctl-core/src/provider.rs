//! The provider contract: what the engine asks of each resource kind.
//! Implementations live outside the core (drctl-aws; a fake in tests).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::address::Address;
use crate::value::Attributes;

/// Static facts about a kind that the planner needs without calling anything.
#[derive(Debug)]
pub struct KindSchema {
    pub kind: &'static str,
    /// Inputs whose change cannot be applied in place.
    pub force_new: &'static [&'static str],
    /// Outputs other resources may reference.
    pub outputs: &'static [&'static str],
    /// Outputs an in-place update may change (e.g. a new deployment id);
    /// references to them are unknown until the update has run.
    pub volatile_outputs: &'static [&'static str],
    /// Deleting or replacing it destroys data (a database, a table, a
    /// bucket): refused unless the operator allows data loss.
    pub holds_data: bool,
    /// Outputs naming what a delete leaves behind on purpose (a final
    /// snapshot): the plan shows them with the delete or replace, so the
    /// operator sees what will remain. An empty value leaves nothing.
    pub kept_on_delete: &'static [&'static str],
    /// How long its operations take on real AWS: the latency model's row.
    pub latency: Latency,
}

/// A kind's create, update and delete on real AWS, waits included, in
/// seconds: typical durations, not limits, and what they rest on (short
/// form; docs/performance.md has the sources in full). The model behind
/// `latency_model` and `drctl graph --critical-path`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    pub create: u32,
    pub update: u32,
    pub delete: u32,
    pub basis: &'static str,
}

impl Latency {
    /// What a kind of one to a few control-plane calls rests on (each well
    /// under a second: the emulator benchmark's per-call latency, rounded
    /// up).
    pub const CALLS: &'static str = "API calls only, no wait";

    /// A kind whose operations are API calls only, with no wait.
    pub const fn calls(create: u32, update: u32, delete: u32) -> Self {
        Latency {
            create,
            update,
            delete,
            basis: Self::CALLS,
        }
    }

    pub fn durations(&self) -> crate::simulate::OpDurations {
        let secs = |s: u32| std::time::Duration::from_secs(s.into());
        crate::simulate::OpDurations {
            create: secs(self.create),
            update: secs(self.update),
            delete: secs(self.delete),
        }
    }
}

/// A schema is written as `KindSchema::new(kind, latency)` followed by what
/// the kind has: most kinds force nothing new but their name, hold no data
/// and keep nothing on delete, and say only what differs.
impl KindSchema {
    /// A kind with nothing forced new, no outputs, no data and nothing kept.
    pub const fn new(kind: &'static str, latency: Latency) -> Self {
        KindSchema {
            kind,
            force_new: &[],
            outputs: &[],
            volatile_outputs: &[],
            holds_data: false,
            kept_on_delete: &[],
            latency,
        }
    }

    pub const fn force_new(self, inputs: &'static [&'static str]) -> Self {
        KindSchema {
            force_new: inputs,
            ..self
        }
    }

    pub const fn outputs(self, outputs: &'static [&'static str]) -> Self {
        KindSchema { outputs, ..self }
    }

    pub const fn volatile_outputs(self, outputs: &'static [&'static str]) -> Self {
        KindSchema {
            volatile_outputs: outputs,
            ..self
        }
    }

    /// Deleting or replacing it destroys data.
    pub const fn holds_data(self) -> Self {
        KindSchema {
            holds_data: true,
            ..self
        }
    }

    pub const fn kept_on_delete(self, outputs: &'static [&'static str]) -> Self {
        KindSchema {
            kept_on_delete: outputs,
            ..self
        }
    }

    pub fn forces_replacement(&self, input: &str) -> bool {
        self.force_new.contains(&input)
    }
}

/// Where planners and validators look up kinds.
pub trait SchemaSource {
    fn schema(&self, kind: &str) -> Option<&KindSchema>;
}

/// Who and where an operation is for: providers tag and name with it.
#[derive(Clone, Debug)]
pub struct OpContext {
    pub env: String,
    pub address: Address,
    pub region: String,
    /// A create's idempotency token: unique to its journal intent, so the
    /// same across every resend of that create (a lost response, a re-run
    /// recovering it) and different for a later create of the same
    /// address. 32 lowercase hex digits; `None` outside creates.
    pub token: Option<String>,
}

/// Where [`Provider::list`] looks: one environment in one region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListScope {
    pub env: String,
    pub region: String,
}

/// The provider-side identity and outputs of an existing resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub id: String,
    pub outputs: Attributes,
}

/// What a read finds: current inputs (same shape as desired) and outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub inputs: Attributes,
    pub outputs: Attributes,
}

/// A failed provider call, with the service's error code when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderError {
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
}

impl ProviderError {
    pub fn new(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            operation: operation.into(),
            code: None,
            message: message.into(),
        }
    }
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{}: {code}: {}", self.operation, self.message),
            None => write!(f, "{}: {}", self.operation, self.message),
        }
    }
}

impl std::error::Error for ProviderError {}

/// Create, read, update and delete for one resource kind.
#[async_trait]
pub trait Provider: Send + Sync {
    fn schema(&self) -> &KindSchema;

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError>;

    /// `Ok(None)` when the resource no longer exists.
    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        prior_inputs: &Attributes,
    ) -> Result<Option<Observed>, ProviderError>;

    /// Applies the changed non-replacing inputs; returns the new outputs.
    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior_inputs: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError>;

    /// Finds the resource a create with `inputs` in this context made, if
    /// it exists: by its deterministic name, or by its `drctl:address` tag
    /// where AWS names it. Crash recovery adopts what this returns.
    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError>;

    /// Deleting something already gone succeeds.
    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        outputs: &Attributes,
    ) -> Result<(), ProviderError>;

    /// The ids (as state records them) of everything of this kind that
    /// `scope`'s environment has in its region: what carries the
    /// environment's tags, or a name drctl derives for it. What a destroy
    /// must leave empty.
    async fn list(&self, scope: &ListScope) -> Result<Vec<String>, ProviderError>;
}

/// Providers by kind; drctl-aws fills one, unit tests fill another.
#[derive(Clone, Default)]
pub struct Providers {
    by_kind: BTreeMap<String, Arc<dyn Provider>>,
}

impl Providers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the provider of its schema's kind.
    ///
    /// # Panics
    /// When that kind has a provider already: two providers of one kind
    /// are a programming error that a map would hide (the later one would
    /// silently win).
    pub fn register(&mut self, provider: Arc<dyn Provider>) {
        let kind = provider.schema().kind;
        let previous = self.by_kind.insert(kind.to_owned(), provider);
        assert!(previous.is_none(), "two providers of kind `{kind}`");
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Provider>> {
        self.by_kind.get(kind)
    }

    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.by_kind.keys().map(String::as_str)
    }
}

impl SchemaSource for Providers {
    fn schema(&self, kind: &str) -> Option<&KindSchema> {
        self.by_kind.get(kind).map(|p| p.schema())
    }
}

/// Schemas alone, for planning without providers (e.g. `drctl plan` offline).
#[derive(Default)]
pub struct Schemas(pub BTreeMap<&'static str, &'static KindSchema>);

impl Schemas {
    /// # Panics
    /// When two schemas name the same kind (a programming error).
    pub fn from_list(list: &[&'static KindSchema]) -> Self {
        let mut by_kind = BTreeMap::new();
        for schema in list {
            let previous = by_kind.insert(schema.kind, *schema);
            assert!(previous.is_none(), "two schemas of kind `{}`", schema.kind);
        }
        Schemas(by_kind)
    }
}

impl SchemaSource for Schemas {
    fn schema(&self, kind: &str) -> Option<&KindSchema> {
        self.0.get(kind).copied()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testing::{MemoryProvider, THING};

    /// A map would keep the later of two providers of a kind and hide the
    /// mistake; the registry refuses it.
    #[test]
    #[should_panic(expected = "two providers of kind `mem.thing`")]
    fn a_kind_registered_twice_is_refused() {
        let mut providers = Providers::new();
        providers.register(Arc::new(MemoryProvider::with_delay(Duration::ZERO)));
        providers.register(Arc::new(MemoryProvider::with_delay(Duration::ZERO)));
    }

    #[test]
    #[should_panic(expected = "two schemas of kind `mem.thing`")]
    fn a_schema_listed_twice_is_refused() {
        Schemas::from_list(&[&THING, &THING]);
    }
}
