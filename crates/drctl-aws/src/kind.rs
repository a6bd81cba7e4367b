//! Each kind in one place. A kind's file declares its [`KindSchema`]
//! (with its latency row), its inputs as a serde struct, and its six
//! operations over that struct; [`Typed`] adapts it to the engine's
//! untyped [`Provider`].
//!
//! The struct is the kind's contract with the blueprint: inputs are parsed
//! into it before any call, so an unknown input (the struct refuses unknown
//! fields) or a mistyped one is refused naming the resource and the input;
//! and what a read finds goes back out through the same struct, so create
//! and read speak the same shape. A field the blueprint may leave out is an
//! `Option` skipped when `None`, so a read of a resource made without it
//! reports no key the plan would see as drift.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use drctl_core::{
    Applied, Attributes, KindSchema, ListScope, Observed, OpContext, Provider, ProviderError,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clients::Clients;
use crate::support::{Created, create_once, invalid};

/// What a read of a kind finds: its inputs as the kind's struct, and its
/// outputs.
pub(crate) struct Found<I> {
    pub inputs: I,
    pub outputs: Attributes,
}

/// What each of a kind's operations returns (see [`Kind`]).
pub(crate) type Made = Result<Applied, ProviderError>;
pub(crate) type Read<I> = Result<Option<Found<I>>, ProviderError>;
pub(crate) type Updated = Result<Attributes, ProviderError>;
pub(crate) type Lookup = Result<Option<String>, ProviderError>;
pub(crate) type Done = Result<(), ProviderError>;
pub(crate) type Listed = Result<Vec<String>, ProviderError>;

/// Create, read, update, find, delete and list of one kind, over its typed
/// inputs. See [`Provider`] for what each operation promises.
#[async_trait]
pub(crate) trait Kind: Send + Sync + 'static {
    type Inputs: Serialize + DeserializeOwned + Send + Sync;

    async fn create(&self, ctx: &OpContext, inputs: &Self::Inputs) -> Made;

    /// `Ok(None)` when the resource no longer exists. `prior` is what state
    /// records.
    async fn read(&self, ctx: &OpContext, id: &str, prior: &Self::Inputs) -> Read<Self::Inputs>;

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior: &Self::Inputs,
        inputs: &Self::Inputs,
    ) -> Updated;

    async fn find(&self, ctx: &OpContext, inputs: &Self::Inputs) -> Lookup;

    /// Deletes `id`, whose inputs state records as `inputs`.
    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Self::Inputs) -> Done;

    /// The engine's delete, with the outputs state records too: most kinds
    /// need none of them ([`Kind::delete`]); a kind whose delete reads one
    /// (a deployment's id, a delegation's parent zone) implements this.
    async fn delete_recorded(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Self::Inputs,
        _outputs: &Attributes,
    ) -> Done {
        self.delete(ctx, id, inputs).await
    }

    async fn list(&self, scope: &ListScope) -> Listed;
}

/// A [`Kind`] as the engine's [`Provider`], with its schema.
pub(crate) struct Typed<K> {
    kind: K,
    schema: &'static KindSchema,
}

impl<K> Typed<K> {
    pub fn new(kind: K, schema: &'static KindSchema) -> Self {
        Typed { kind, schema }
    }
}

/// One kind in its service's `KINDS` table: its schema (planning needs no
/// AWS) and how its provider is made over the run's clients.
pub(crate) struct Registration {
    pub schema: &'static KindSchema,
    pub make: fn(&Arc<Clients>) -> Arc<dyn Provider>,
}

/// `kind!(module, Type)`: the registration of the kind `module::Type` (a
/// tuple struct over the clients) whose schema is `module::SCHEMA`.
macro_rules! kind {
    ($module:ident, $kind:ident) => {
        $crate::kind::Registration {
            schema: &$module::SCHEMA,
            make: |clients| {
                std::sync::Arc::new($crate::kind::Typed::new(
                    $module::$kind(std::sync::Arc::clone(clients)),
                    &$module::SCHEMA,
                ))
            },
        }
    };
}
pub(crate) use kind;

/// The desired inputs of a create, update or find, refused before any call
/// when they do not fit the kind's struct.
fn desired<I: DeserializeOwned>(
    ctx: &OpContext,
    kind: &str,
    inputs: &Attributes,
) -> Result<I, ProviderError> {
    parse(inputs).map_err(|e| invalid(ctx, misfit(kind, &e)))
}

/// Why inputs do not fit, in the blueprint's words: which input, and the
/// fix.
fn misfit(kind: &str, e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let message = e.inner().to_string();
    // serde: "unknown field `x`, expected one of `a`, `b`" (or "expected `a`").
    if let Some(rest) = message.strip_prefix("unknown field ")
        && let Some((field, expected)) = rest.split_once(", expected ")
    {
        let expected = expected.strip_prefix("one of ").unwrap_or(expected);
        return format!("unknown input {field}: remove it; {kind} takes {expected}");
    }
    if let Some(field) = message.strip_prefix("missing field ") {
        return format!("missing input {field}: {kind} needs it");
    }
    format!("input `{}`: {message}", e.path())
}

/// The inputs state records for the resource (read and delete): they were
/// written through the same struct, so a misfit means a state file edited
/// by hand or written by another drctl version.
fn recorded<I: DeserializeOwned>(
    ctx: &OpContext,
    kind: &str,
    inputs: &Attributes,
) -> Result<I, ProviderError> {
    parse(inputs).map_err(|e| {
        ProviderError::new(
            ctx.address.to_string(),
            format!(
                "the inputs the state records for it do not fit: {}; correct that input of `{}` in the state file, or restore the state from its backup",
                misfit(kind, &e),
                ctx.address
            ),
        )
        .with_code("InvalidState")
    })
}

fn parse<I: DeserializeOwned>(
    inputs: &Attributes,
) -> Result<I, serde_path_to_error::Error<serde_json::Error>> {
    let object: serde_json::Map<String, serde_json::Value> =
        inputs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    serde_path_to_error::deserialize(serde_json::Value::Object(object))
}

/// The inputs a read found, as the engine's attributes.
fn attributes<I: Serialize>(ctx: &OpContext, inputs: &I) -> Result<Attributes, ProviderError> {
    match serde_json::to_value(inputs) {
        Ok(serde_json::Value::Object(map)) => Ok(map.into_iter().collect()),
        Ok(other) => Err(ProviderError::new(
            ctx.address.to_string(),
            format!("a read's inputs are not an object: {other}"),
        )),
        Err(e) => Err(ProviderError::new(
            ctx.address.to_string(),
            format!("a read's inputs cannot be recorded: {e}"),
        )),
    }
}

#[async_trait]
impl<K: Kind> Provider for Typed<K> {
    fn schema(&self) -> &KindSchema {
        self.schema
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        self.kind
            .create(ctx, &desired(ctx, self.schema.kind, inputs)?)
            .await
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        prior_inputs: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let prior = recorded(ctx, self.schema.kind, prior_inputs)?;
        let Some(found) = self.kind.read(ctx, id, &prior).await? else {
            return Ok(None);
        };
        Ok(Some(Observed {
            inputs: attributes(ctx, &found.inputs)?,
            outputs: found.outputs,
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        prior_inputs: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        let prior = recorded(ctx, self.schema.kind, prior_inputs)?;
        let inputs = desired(ctx, self.schema.kind, inputs)?;
        self.kind.update(ctx, id, &prior, &inputs).await
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        self.kind
            .find(ctx, &desired(ctx, self.schema.kind, inputs)?)
            .await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
        outputs: &Attributes,
    ) -> Result<(), ProviderError> {
        let recorded = recorded(ctx, self.schema.kind, inputs)?;
        self.kind.delete_recorded(ctx, id, &recorded, outputs).await
    }

    async fn list(&self, scope: &ListScope) -> Result<Vec<String>, ProviderError> {
        self.kind.list(scope).await
    }
}

/// [`create_once`] for a kind: after a create whose answer was lost, the
/// kind's own [`Kind::find`] over the same inputs looks for what it made.
pub(crate) async fn create_or_find<K, T, E, S, SF>(
    kind: &K,
    ctx: &OpContext,
    inputs: &K::Inputs,
    operation: &str,
    exists: &[&str],
    send: S,
) -> Result<Created<T>, ProviderError>
where
    K: Kind,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    S: FnMut() -> SF,
    SF: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    create_once(operation, exists, send, || kind.find(ctx, inputs)).await
}

impl<T> Created<T> {
    /// What a create made: from its own response by `sent`, or, for one
    /// found after its answer was lost, as a read finds it now.
    pub(crate) async fn applied<K: Kind>(
        self,
        kind: &K,
        ctx: &OpContext,
        inputs: &K::Inputs,
        sent: impl FnOnce(T) -> Made,
    ) -> Made {
        match self {
            Created::Sent(out) => sent(out),
            Created::Found(id) => adopt(kind, ctx, id, inputs).await,
        }
    }
}

/// A resource an unanswered create made, found again (`Created::Found`):
/// its id and the outputs a read gives now.
pub(crate) async fn adopt<K: Kind>(
    kind: &K,
    ctx: &OpContext,
    id: String,
    inputs: &K::Inputs,
) -> Result<Applied, ProviderError> {
    let found = kind.read(ctx, &id, inputs).await?.ok_or_else(|| {
        ProviderError::new(
            format!("read {}", ctx.address),
            format!("{id}, found after its create's answer was lost, is gone"),
        )
    })?;
    Ok(Applied {
        id,
        outputs: found.outputs,
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;
    use crate::support::unit_test_ctx;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inputs {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u32>,
    }

    fn of(value: serde_json::Value) -> Attributes {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn an_unknown_or_mistyped_input_is_refused_naming_it() {
        let ctx = unit_test_ctx("primary/kms.alias/payment");
        let refused = |value| desired::<Inputs>(&ctx, "x.thing", &of(value)).unwrap_err();
        let e = refused(json!({"name": "a", "colour": "red"}));
        assert_eq!(e.code.as_deref(), Some("InvalidInput"));
        assert_eq!(
            e.message,
            "unknown input `colour`: remove it; x.thing takes `name` or `size`"
        );
        assert_eq!(
            refused(json!({"name": "a", "size": "big"})).message,
            "input `size`: invalid type: string \"big\", expected u32"
        );
        assert_eq!(
            refused(json!({"size": 1})).message,
            "missing input `name`: x.thing needs it"
        );
    }

    #[test]
    fn inputs_round_trip_without_keys_the_blueprint_left_out() {
        let ctx = unit_test_ctx("primary/kms.alias/payment");
        for value in [json!({"name": "a"}), json!({"name": "a", "size": 3})] {
            let inputs: Inputs = desired(&ctx, "x.thing", &of(value.clone())).unwrap();
            assert_eq!(attributes(&ctx, &inputs).unwrap(), of(value));
        }
    }

    #[test]
    fn recorded_inputs_that_do_not_fit_name_the_state_fix() {
        let ctx = unit_test_ctx("primary/kms.alias/payment");
        let e = recorded::<Inputs>(&ctx, "kms.alias", &of(json!({"size": 1}))).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("InvalidState"));
        assert!(e.message.contains("missing input `name`"), "{e}");
        assert!(
            e.message
                .contains("of `primary/kms.alias/payment` in the state file"),
            "{e}"
        );
    }
}
