//! Where an environment's state, intent journal and lock live. The binary
//! runs the same code whatever the backend: [`LocalBackend`] (a folder,
//! the default) here, and the S3 backend in drctl-aws.
//!
//! The methods are synchronous, like [`StateSink`] and [`IntentLog`] which
//! the executor calls between provider calls: the local backend fsyncs, and
//! a remote backend waits for its request (the executor runs both off the
//! async workers; a remote backend must itself do so for calls made from
//! async code, e.g. with `tokio::task::block_in_place`). Every write is
//! therefore durable when the method returns, which is what the journal's
//! and state's ordering guarantees rely on.

use std::path::PathBuf;
use std::sync::Arc;

use crate::address::Address;
use crate::executor::StateSink;
use crate::journal::{Intent, IntentLog, Journal, JournalError};
use crate::lock::{self, LockError, LockInfo, StateLock};
use crate::state::State;
use crate::store::{StateStore, StoreError};

/// A held state lock; released when dropped.
pub trait HeldLock: Send + std::fmt::Debug {
    fn info(&self) -> &LockInfo;
}

impl HeldLock for StateLock {
    fn info(&self) -> &LockInfo {
        StateLock::info(self)
    }
}

/// State, journal and lock of one environment.
pub trait Backend: Send + Sync {
    /// Where the state lives, for messages (a path or a URL).
    fn location(&self) -> String;
    /// The stored state (with every recorded change), or `None` if the
    /// environment has none yet.
    fn load(&self) -> Result<Option<State>, StoreError>;
    /// Whether a state document exists.
    fn exists(&self) -> Result<bool, StoreError>;
    /// Bumps the serial and stores `state` as a whole, atomically.
    fn save(&self, state: &mut State) -> Result<(), StoreError>;
    /// Durably records the change of one resource (its record in `state`,
    /// or its absence); bumps the serial.
    fn record(&self, state: &mut State, changed: &Address) -> Result<(), StoreError>;
    /// End of a run: folds whatever `record` kept aside into the snapshot.
    fn compact(&self, state: &mut State) -> Result<(), StoreError>;
    /// Takes the environment's lock, or names its holder.
    fn lock(&self, operation: &str) -> Result<Box<dyn HeldLock>, LockError>;
    /// Removes the lock whoever holds it; returns the holder it removed.
    fn force_unlock(&self) -> Result<Option<LockInfo>, LockError>;
    /// The intents an interrupted run left open, in the order recorded.
    fn open_intents(&self) -> Result<Vec<Intent>, JournalError>;
    /// A journal for a run (open intents must have been resolved first).
    fn begin(&self) -> Box<dyn IntentLog + Send>;
    /// Removes the journal once nothing in it is open.
    fn remove_journal(&self) -> Result<(), JournalError>;
    /// After a recovery that could not reach every region: the journal
    /// keeps exactly `open` (removed when empty).
    fn retain_journal(&self, open: &[Intent]) -> Result<(), JournalError>;
    /// Whether a locked run has something to put right here (e.g. copies
    /// of the state that disagree), which the lock does when taken: a
    /// command that would not lock otherwise locks for it.
    fn needs_repair(&self) -> Result<bool, StoreError> {
        Ok(false)
    }
}

/// The executor's [`StateSink`] over any backend.
pub struct BackendSink(pub Arc<dyn Backend>);

impl StateSink for BackendSink {
    fn persist(&mut self, state: &mut State, changed: &Address) -> Result<(), StoreError> {
        self.0.record(state, changed)
    }
    fn finish(&mut self, state: &mut State) -> Result<(), StoreError> {
        self.0.compact(state)
    }
}

/// A folder: `<dir>/<env>.json` (+ `.backup`, `.log`), `<env>.journal`,
/// `<env>.lock`, as described in docs/state-format.md.
#[derive(Clone, Debug)]
pub struct LocalBackend {
    store: StateStore,
}

impl LocalBackend {
    pub fn new(dir: impl Into<PathBuf>, env: &str) -> Self {
        Self {
            store: StateStore::new(dir, env),
        }
    }

    pub fn store(&self) -> &StateStore {
        &self.store
    }
}

impl Backend for LocalBackend {
    fn location(&self) -> String {
        self.store.path().display().to_string()
    }
    fn load(&self) -> Result<Option<State>, StoreError> {
        self.store.load()
    }
    fn exists(&self) -> Result<bool, StoreError> {
        Ok(self.store.path().exists())
    }
    fn save(&self, state: &mut State) -> Result<(), StoreError> {
        self.store.save(state)
    }
    fn record(&self, state: &mut State, changed: &Address) -> Result<(), StoreError> {
        self.store.record(state, changed)
    }
    fn compact(&self, state: &mut State) -> Result<(), StoreError> {
        self.store.compact(state)
    }
    fn lock(&self, operation: &str) -> Result<Box<dyn HeldLock>, LockError> {
        Ok(Box::new(StateLock::acquire(
            self.store.dir(),
            self.store.env(),
            operation,
        )?))
    }
    fn force_unlock(&self) -> Result<Option<LockInfo>, LockError> {
        lock::force_unlock(self.store.dir(), self.store.env())
    }
    fn open_intents(&self) -> Result<Vec<Intent>, JournalError> {
        Journal::open_intents(self.store.dir(), self.store.env())
    }
    fn begin(&self) -> Box<dyn IntentLog + Send> {
        Box::new(Journal::begin(self.store.dir(), self.store.env()))
    }
    fn remove_journal(&self) -> Result<(), JournalError> {
        Journal::remove(self.store.dir(), self.store.env())
    }
    fn retain_journal(&self, open: &[Intent]) -> Result<(), JournalError> {
        Journal::retain(self.store.dir(), self.store.env(), open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::IntentOp;

    #[test]
    fn the_local_backend_keeps_the_local_files() {
        let dir = tempfile::tempdir().unwrap();
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path(), "dev"));
        assert!(backend.load().unwrap().is_none());
        assert!(!backend.exists().unwrap());

        let held = backend.lock("apply").unwrap();
        assert!(dir.path().join("dev.lock").exists());
        assert!(matches!(
            backend.lock("destroy"),
            Err(LockError::Held { .. })
        ));
        drop(held);
        assert!(!dir.path().join("dev.lock").exists());

        let mut state = State::new("dev");
        let mut sink = BackendSink(Arc::clone(&backend));
        let address: Address = "p/t.a/a".parse().unwrap();
        sink.persist(&mut state, &address).unwrap();
        sink.persist(&mut state, &address).unwrap();
        assert!(dir.path().join("dev.json.log").exists());
        sink.finish(&mut state).unwrap();
        assert!(!dir.path().join("dev.json.log").exists());
        assert_eq!(backend.load().unwrap().unwrap(), state);

        let mut journal = backend.begin();
        let mut intent = Intent {
            id: 0,
            op: IntentOp::Delete,
            address,
            region: "r1".into(),
            inputs: Default::default(),
            resource_id: Some("x".into()),
            dependencies: Default::default(),
            token: String::new(),
        };
        journal.record(&mut intent).unwrap();
        assert_eq!(backend.open_intents().unwrap(), vec![intent]);
        backend.remove_journal().unwrap();
        assert!(!dir.path().join("dev.journal").exists());
        let held = backend.lock("apply").unwrap();
        std::mem::forget(held);
        assert!(backend.force_unlock().unwrap().is_some());
    }
}
