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
use std::sync::{Arc, Mutex};

use crate::address::Address;
use crate::executor::StateSink;
use crate::journal::{Intent, IntentLog, Journal, JournalError};
use crate::lease::{Guard, InstalledLease, Lease};
use crate::lock::{self, LeaseLost, LockError, LockInfo, StateLock};
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
    /// Durably records the change of the resources at `changed` (each one's
    /// record in `state`, or its absence), all in one write; bumps the
    /// serial.
    fn record(&self, state: &mut State, changed: &[Address]) -> Result<(), StoreError>;
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
    fn persist(&mut self, state: &mut State, changed: &[Address]) -> Result<(), StoreError> {
        self.0.record(state, changed)
    }
    fn finish(&mut self, state: &mut State) -> Result<(), StoreError> {
        self.0.compact(state)
    }
}

/// A folder: `<dir>/<env>.json` (+ `.backup`, `.log`), `<env>.journal`,
/// `<env>.lock`, as described in docs/state-format.md.
///
/// While this backend holds the lock, every write of state or journal
/// first checks that the lock file still names this run (force-unlock may
/// have removed it and another run taken it), and the lock is installed in
/// the lease guard, so the run's AWS calls stop too.
#[derive(Clone, Debug)]
pub struct LocalBackend {
    store: StateStore,
    guard: Guard,
    /// The lock this backend holds, while it holds one.
    held: Arc<Mutex<Option<Arc<LocalLease>>>>,
}

impl LocalBackend {
    pub fn new(dir: impl Into<PathBuf>, env: &str) -> Self {
        Self {
            store: StateStore::new(dir, env),
            guard: Guard::process().clone(),
            held: Arc::default(),
        }
    }

    /// Installs this backend's locks in `guard` instead of the process's
    /// (a test that runs several holders in one process).
    pub fn with_guard(mut self, guard: Guard) -> Self {
        self.guard = guard;
        self
    }

    pub fn store(&self) -> &StateStore {
        &self.store
    }

    /// The held lock is still ours, if one is held: a write without the
    /// lock (e.g. `state push` into a folder, a test of the store) is not
    /// checked.
    fn check_held(&self) -> Result<(), LeaseLost> {
        let held = self.held.lock().expect("held lock").clone();
        held.map_or(Ok(()), |lease| lease.check())
    }
}

/// A local lock as a lease: held while the lock file names this run. A
/// local lock has no expiry; it is lost only when someone removes or
/// replaces the file (`drctl force-unlock`).
#[derive(Debug)]
struct LocalLease {
    path: PathBuf,
    env: String,
    id: uuid::Uuid,
}

impl Lease for LocalLease {
    fn check(&self) -> Result<(), LeaseLost> {
        let lost = |what: String| LeaseLost {
            env: self.env.clone(),
            location: self.path.display().to_string(),
            what,
        };
        match std::fs::read(&self.path) {
            Ok(bytes) => match serde_json::from_slice::<LockInfo>(&bytes) {
                Ok(holder) if holder.id == self.id => Ok(()),
                Ok(holder) => Err(lost(format!(
                    "the lock file now names {holder} (it was force-unlocked and taken by another run)"
                ))),
                Err(e) => Err(lost(format!(
                    "the lock file no longer reads as a lock ({e})"
                ))),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(lost(
                "the lock file was removed (`drctl force-unlock`)".into(),
            )),
            Err(e) => Err(lost(format!("the lock file cannot be read ({e})"))),
        }
    }
}

/// The lock a [`LocalBackend`] holds: uninstalled from the guard and
/// forgotten by the backend, then the file removed, when dropped.
#[derive(Debug)]
struct LocalLock {
    held: Arc<Mutex<Option<Arc<LocalLease>>>>,
    _installed: InstalledLease,
    lock: StateLock,
}

impl HeldLock for LocalLock {
    fn info(&self) -> &LockInfo {
        self.lock.info()
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        let mut held = self.held.lock().expect("held lock");
        if held.as_ref().is_some_and(|l| l.id == self.lock.info().id) {
            *held = None;
        }
    }
}

/// A local journal whose writes first check the lock is still this run's.
struct CheckedJournal {
    journal: Journal,
    lease: Option<Arc<LocalLease>>,
}

impl CheckedJournal {
    fn check(&self) -> Result<(), LeaseLost> {
        self.lease.as_ref().map_or(Ok(()), |l| l.check())
    }
}

impl IntentLog for CheckedJournal {
    fn record(&mut self, intents: &mut [Intent]) -> Result<(), JournalError> {
        self.check()?;
        self.journal.record(intents)
    }
    fn clear(&mut self, ids: &[u64]) -> Result<(), JournalError> {
        self.check()?;
        self.journal.clear(ids)
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
        self.check_held()?;
        self.store.save(state)
    }
    fn record(&self, state: &mut State, changed: &[Address]) -> Result<(), StoreError> {
        self.check_held()?;
        self.store.record(state, changed)
    }
    fn compact(&self, state: &mut State) -> Result<(), StoreError> {
        self.check_held()?;
        self.store.compact(state)
    }
    fn lock(&self, operation: &str) -> Result<Box<dyn HeldLock>, LockError> {
        let lock = StateLock::acquire(self.store.dir(), self.store.env(), operation)?;
        let lease = Arc::new(LocalLease {
            path: self.store.dir().join(format!("{}.lock", self.store.env())),
            env: self.store.env().to_owned(),
            id: lock.info().id,
        });
        *self.held.lock().expect("held lock") = Some(Arc::clone(&lease));
        Ok(Box::new(LocalLock {
            held: Arc::clone(&self.held),
            _installed: self.guard.install(lease),
            lock,
        }))
    }
    fn force_unlock(&self) -> Result<Option<LockInfo>, LockError> {
        lock::force_unlock(self.store.dir(), self.store.env())
    }
    fn open_intents(&self) -> Result<Vec<Intent>, JournalError> {
        Journal::open_intents(self.store.dir(), self.store.env())
    }
    fn begin(&self) -> Box<dyn IntentLog + Send> {
        Box::new(CheckedJournal {
            journal: Journal::begin(self.store.dir(), self.store.env()),
            lease: self.held.lock().expect("held lock").clone(),
        })
    }
    fn remove_journal(&self) -> Result<(), JournalError> {
        self.check_held()?;
        Journal::remove(self.store.dir(), self.store.env())
    }
    fn retain_journal(&self, open: &[Intent]) -> Result<(), JournalError> {
        self.check_held()?;
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
        // Its own guard: a lock this test leaks would otherwise stay in the
        // process's guard, lost, for every other test of this binary.
        let backend: Arc<dyn Backend> =
            Arc::new(LocalBackend::new(dir.path(), "dev").with_guard(Guard::new()));
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
        sink.persist(&mut state, std::slice::from_ref(&address))
            .unwrap();
        sink.persist(&mut state, std::slice::from_ref(&address))
            .unwrap();
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
        journal.record(std::slice::from_mut(&mut intent)).unwrap();
        assert_eq!(backend.open_intents().unwrap(), vec![intent]);
        backend.remove_journal().unwrap();
        assert!(!dir.path().join("dev.journal").exists());
        let held = backend.lock("apply").unwrap();
        std::mem::forget(held);
        assert!(backend.force_unlock().unwrap().is_some());
    }

    fn intent(name: &str) -> Intent {
        Intent {
            id: 0,
            op: IntentOp::Create,
            address: format!("p/ssm.parameter/{name}").parse().unwrap(),
            region: "r1".into(),
            inputs: Default::default(),
            resource_id: None,
            dependencies: Default::default(),
            token: String::new(),
        }
    }

    /// Force-unlock under a running holder, and another run takes the
    /// lock: the old holder's next state or journal write fails naming the
    /// new holder (before it is made), its lease guard stops its AWS calls,
    /// and the new holder's writes succeed.
    #[test]
    fn a_force_unlocked_holder_writes_nothing_more_and_the_new_holder_does() {
        let dir = tempfile::tempdir().unwrap();
        let (guard_a, guard_b) = (Guard::new(), Guard::new());
        let a = LocalBackend::new(dir.path(), "dev").with_guard(guard_a.clone());
        let b = LocalBackend::new(dir.path(), "dev").with_guard(guard_b.clone());

        let held_a = a.lock("apply").unwrap();
        let mut state = State::new("dev");
        a.save(&mut state).unwrap();
        let mut journal_a = a.begin();
        journal_a.record(&mut [intent("a")]).unwrap();
        assert!(guard_a.check().is_ok());

        let removed = b.force_unlock().unwrap().unwrap();
        assert_eq!(removed.id, held_a.info().id);
        let err = guard_a.check().unwrap_err().to_string();
        assert!(err.contains("the lock file was removed"), "{err}");
        let held_b = b.lock("apply").unwrap();
        let holder = format!("pid {} on host", held_b.info().pid);

        let before = std::fs::read(dir.path().join("dev.json")).unwrap();
        let mut stale = state.clone();
        let err = a.save(&mut stale).unwrap_err();
        assert!(matches!(err, StoreError::LeaseLost(_)), "{err}");
        assert!(err.to_string().contains(&holder), "{err}");
        let address: Address = "p/ssm.parameter/a".parse().unwrap();
        assert!(matches!(
            a.record(&mut stale, std::slice::from_ref(&address)),
            Err(StoreError::LeaseLost(_))
        ));
        assert_eq!(std::fs::read(dir.path().join("dev.json")).unwrap(), before);
        assert!(matches!(
            journal_a.record(&mut [intent("b")]),
            Err(JournalError::LeaseLost(_))
        ));
        assert!(matches!(
            a.remove_journal(),
            Err(JournalError::LeaseLost(_))
        ));
        let err = guard_a.check().unwrap_err().to_string();
        assert!(err.contains(&holder), "{err}");
        assert!(guard_b.check().is_ok());

        // The new holder reads what the old one wrote and writes on.
        let mut current = b.load().unwrap().unwrap();
        b.save(&mut current).unwrap();
        let mut journal_b = b.begin();
        let mut next = intent("c");
        journal_b.record(std::slice::from_mut(&mut next)).unwrap();
        journal_b.clear(&[next.id]).unwrap();
        // The old holder's release leaves the new holder's lock alone.
        drop(journal_a);
        drop(held_a);
        assert!(guard_b.check().is_ok());
        b.save(&mut current).unwrap();
        drop(held_b);
        assert!(!dir.path().join("dev.lock").exists());
    }
}
