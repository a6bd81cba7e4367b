//! An in-memory provider for unit tests of the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::provider::{
    Applied, KindSchema, ListScope, Observed, OpContext, Provider, ProviderError,
};
use crate::value::Attributes;

pub static THING: KindSchema = KindSchema {
    kind: "mem.thing",
    force_new: &["parent", "fixed"],
    outputs: &["id", "name"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: crate::provider::Latency::calls(1, 1, 1),
};

/// Stores objects in a map; can be told to fail for given names and to take
/// time, and records call order and peak concurrency.
#[derive(Default)]
pub struct MemoryProvider {
    pub objects: Mutex<BTreeMap<String, Attributes>>,
    pub fail_names: Mutex<BTreeSet<String>>,
    /// Names whose deletes fail (their reads do not).
    pub fail_deletes: Mutex<BTreeSet<String>>,
    /// The idempotency token each create was sent with, by address.
    pub create_tokens: Mutex<BTreeMap<String, Option<String>>>,
    pub delay: Duration,
    /// When set, `find` matches on this input alone (as AWS kinds find by
    /// name or tag), not on every input.
    pub find_by: Mutex<Option<String>>,
    pub calls: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    pub peak_in_flight: AtomicUsize,
    next_id: AtomicUsize,
}

impl MemoryProvider {
    pub fn with_delay(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }

    async fn enter(&self, call: String, ctx: &OpContext) -> Result<(), ProviderError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        self.calls.lock().unwrap().push(call.clone());
        crate::waiting::report(format!("{call}: waiting"));
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.fail_names.lock().unwrap().contains(ctx.address.name()) {
            return Err(ProviderError::new(call, "injected failure").with_code("Injected"));
        }
        Ok(())
    }
}

#[async_trait]
impl Provider for MemoryProvider {
    fn schema(&self) -> &KindSchema {
        &THING
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        self.enter(format!("create {}", ctx.address), ctx).await?;
        self.create_tokens
            .lock()
            .unwrap()
            .insert(ctx.address.to_string(), ctx.token.clone());
        let id = format!("thing-{}", self.next_id.fetch_add(1, Ordering::SeqCst));
        self.objects
            .lock()
            .unwrap()
            .insert(id.clone(), inputs.clone());
        Ok(Applied {
            outputs: Attributes::from([
                ("id".into(), id.clone().into()),
                ("name".into(), ctx.address.name().into()),
            ]),
            id,
        })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        self.enter(format!("read {}", ctx.address), ctx).await?;
        Ok(self.objects.lock().unwrap().get(id).map(|inputs| Observed {
            inputs: inputs.clone(),
            outputs: Attributes::from([("id".into(), id.into())]),
        }))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
        inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        self.enter(format!("update {}", ctx.address), ctx).await?;
        self.objects
            .lock()
            .unwrap()
            .insert(id.into(), inputs.clone());
        Ok(Attributes::from([
            ("id".into(), id.into()),
            ("name".into(), ctx.address.name().into()),
        ]))
    }

    async fn find(
        &self,
        _ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        let by = self.find_by.lock().unwrap().clone();
        Ok(self
            .objects
            .lock()
            .unwrap()
            .iter()
            .find(|(_, stored)| match &by {
                Some(input) => stored.get(input) == inputs.get(input),
                None => *stored == inputs,
            })
            .map(|(id, _)| id.clone()))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _i: &Attributes,
        _o: &Attributes,
    ) -> Result<(), ProviderError> {
        self.enter(format!("delete {}", ctx.address), ctx).await?;
        if self
            .fail_deletes
            .lock()
            .unwrap()
            .contains(ctx.address.name())
        {
            return Err(ProviderError::new("delete", "injected failure").with_code("Injected"));
        }
        self.objects.lock().unwrap().remove(id);
        Ok(())
    }

    /// Every object: the map knows no environments or regions.
    async fn list(&self, _scope: &ListScope) -> Result<Vec<String>, ProviderError> {
        Ok(self.objects.lock().unwrap().keys().cloned().collect())
    }
}
