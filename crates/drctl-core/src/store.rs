//! The local state store: `<dir>/<env>.json`, its backup, written
//! atomically, and `<dir>/<env>.json.log`, the changes since that snapshot.
//!
//! Rewriting the whole snapshot after every finished resource costs O(n)
//! per resource (measured: 16 ms at 10,000 resources). So a run appends one
//! fsync'd line per finished resource to the log instead, and rewrites the
//! snapshot (and drops the log) when the log has grown as large as the
//! snapshot, and at the end of the run: amortised O(1) per resource.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use thiserror::Error;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::address::Address;
use crate::fsutil::{
    AppendError, AppendFile, JsonLinesError, append_line, open_append, read_json_lines, sync_dir,
    write_atomic,
};
use crate::state::{self, DecodeError, ResourceState, State};

/// One line of the change log: a resource's new record, or its removal.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    lineage: Uuid,
    serial: u64,
    address: Address,
    resource: Option<ResourceState>,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("state file {path} cannot be read: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "state file {path} is unusable: {source}. It was left untouched; restore it from {backup} or fix it by hand"
    )]
    Decode {
        path: PathBuf,
        backup: PathBuf,
        source: DecodeError,
    },
    #[error(
        "state file {path} belongs to environment `{found}`, not `{expected}`; check --env and --state-dir"
    )]
    WrongEnv {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("cannot write state file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "state change log {path} line {line} is unusable ({reason}). It was left untouched; move it aside to continue from the snapshot {snapshot} (the journal's recovery adopts what the lost changes created)"
    )]
    Log {
        path: PathBuf,
        line: usize,
        reason: String,
        snapshot: PathBuf,
    },
    /// A remote backend could not be read or written.
    #[error("state {location}: {reason}")]
    Remote { location: String, reason: String },
    /// A conditional write found a state that is not the one this run read.
    #[error(
        "state {location} was changed by someone else since this run read it; nothing was overwritten. Check who else runs drctl on this environment (every writer should hold the lock), then run again"
    )]
    Conflict { location: String },
    /// The run lost its lock to another run (a shared backend's lease).
    #[error(transparent)]
    LeaseLost(#[from] crate::lock::LeaseLost),
}

/// The state of one environment in a folder.
#[derive(Clone, Debug)]
pub struct StateStore {
    dir: PathBuf,
    env: String,
    /// Set when an append to the log left a partial line it could not cut
    /// off: changes then go to the snapshot (which drops the log) instead.
    log_torn: Arc<AtomicBool>,
}

impl StateStore {
    pub fn new(dir: impl Into<PathBuf>, env: &str) -> Self {
        Self {
            dir: dir.into(),
            env: env.to_owned(),
            log_torn: Arc::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn env(&self) -> &str {
        &self.env
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.env))
    }

    pub fn backup_path(&self) -> PathBuf {
        self.dir.join(format!("{}.json.backup", self.env))
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.json.log", self.env))
    }

    /// The stored state, or `None` if the environment has none yet.
    pub fn load(&self) -> Result<Option<State>, StoreError> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::Read { path, source }),
        };
        let state = state::decode(&bytes).map_err(|source| StoreError::Decode {
            path: path.clone(),
            backup: self.backup_path(),
            source,
        })?;
        if state.env != self.env {
            return Err(StoreError::WrongEnv {
                path,
                found: state.env,
                expected: self.env.clone(),
            });
        }
        let mut state = state;
        self.replay(&mut state)?;
        Ok(Some(state))
    }

    /// Applies the log's changes newer than the snapshot. A torn last line
    /// (the process died while appending it) is ignored.
    fn replay(&self, state: &mut State) -> Result<(), StoreError> {
        let path = self.log_path();
        let changes: Vec<Change> = match read_json_lines(&path) {
            Ok(Some(changes)) => changes,
            Ok(None) => return Ok(()),
            Err(JsonLinesError::Io(source)) => return Err(StoreError::Read { path, source }),
            Err(JsonLinesError::Corrupt { line, reason }) => {
                return Err(StoreError::Log {
                    path,
                    line,
                    reason,
                    snapshot: self.path(),
                });
            }
        };
        for change in changes {
            // Changes of another lineage or already in the snapshot (a
            // crash between rewriting it and dropping the log) are skipped.
            if change.lineage != state.lineage || change.serial <= state.serial {
                continue;
            }
            match change.resource {
                Some(r) => state.resources.insert(change.address, r),
                None => state.resources.remove(&change.address),
            };
            state.serial = change.serial;
        }
        Ok(())
    }

    /// Records the changes of the resources at `addresses` (each one's
    /// current record in `state`, or its absence) by appending one line each
    /// to the log, in one write and one fsync; rewrites the snapshot when
    /// there is none yet or the log has outgrown it.
    pub fn record(&self, state: &mut State, addresses: &[Address]) -> Result<(), StoreError> {
        self.record_with(state, addresses, |path| Ok(Box::new(open_append(path)?)))
    }

    /// [`Self::record`], appending through the file `open` gives.
    fn record_with(
        &self,
        state: &mut State,
        addresses: &[Address],
        open: impl FnOnce(&Path) -> io::Result<Box<dyn AppendFile>>,
    ) -> Result<(), StoreError> {
        if addresses.is_empty() {
            return Ok(());
        }
        let snapshot = self.path();
        let Ok(snapshot_len) = fs::metadata(&snapshot).map(|m| m.len()) else {
            return self.save(state);
        };
        // A log this run could not cut a partial line off is not appended
        // to again: the snapshot records the change and drops the log.
        if self.log_torn.load(Ordering::SeqCst) {
            return self.save(state);
        }
        let path = self.log_path();
        let write_err = |source| StoreError::Write {
            path: path.clone(),
            source,
        };
        // One serial per change, as when each was recorded alone: a reader
        // that finds only a prefix of these lines (killed in the write)
        // applies that prefix.
        let mut lines = Vec::new();
        for (serial, address) in (state.serial + 1..).zip(addresses) {
            let change = Change {
                lineage: state.lineage,
                serial,
                address: address.clone(),
                resource: state.resources.get(address).cloned(),
            };
            lines.extend(serde_json::to_vec(&change).expect("changes serialise"));
            lines.push(b'\n');
        }
        let mut file = open(&path).map_err(write_err)?;
        let log_len = match append_line(file.as_mut(), &lines) {
            Ok(len) => len,
            Err(e) => {
                if matches!(e, AppendError::Torn { .. }) {
                    self.log_torn.store(true, Ordering::SeqCst);
                }
                return Err(write_err(e.into_io()));
            }
        };
        state.serial += addresses.len() as u64;
        if log_len > snapshot_len.max(64 * 1024) {
            self.save(state)?;
        }
        Ok(())
    }

    /// The stored state, or a fresh one (not yet written) for a new environment.
    pub fn load_or_new(&self) -> Result<State, StoreError> {
        Ok(self.load()?.unwrap_or_else(|| State::new(&self.env)))
    }

    /// Bumps the serial and replaces the file atomically, keeping the
    /// previous version as `<env>.json.backup`.
    pub fn save(&self, state: &mut State) -> Result<(), StoreError> {
        let path = self.path();
        let write_err = |source| StoreError::Write {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(&self.dir).map_err(write_err)?;
        state.serial += 1;
        let bytes = state::encode(state);
        if path.exists() {
            self.keep_backup().map_err(write_err)?;
        }
        write_atomic(&path, &bytes).map_err(|e| {
            state.serial -= 1;
            write_err(e)
        })?;
        // Everything the log held is in the snapshot now.
        match fs::remove_file(self.log_path()) {
            Ok(()) => sync_dir(&self.dir).map_err(write_err)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(write_err(e)),
        }
        self.log_torn.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Folds the log into the snapshot, if there is a log.
    pub fn compact(&self, state: &mut State) -> Result<(), StoreError> {
        if self.log_path().exists() {
            self.save(state)?;
        }
        Ok(())
    }

    /// Points the backup at the current file's bytes without copying them.
    fn keep_backup(&self) -> io::Result<()> {
        let tmp = self.dir.join(format!(
            ".{}.json.backup.{}.tmp",
            self.env,
            std::process::id()
        ));
        let _ = fs::remove_file(&tmp);
        if fs::hard_link(self.path(), &tmp).is_err() {
            fs::copy(self.path(), &tmp)?;
        }
        fs::rename(&tmp, self.backup_path())?;
        sync_dir(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_is_atomic_versioned_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path(), "dev");
        assert!(store.load().unwrap().is_none());
        let mut s = store.load_or_new().unwrap();
        store.save(&mut s).unwrap();
        assert_eq!(s.serial, 1);
        store.save(&mut s).unwrap();
        assert_eq!(store.load().unwrap().unwrap().serial, 2);
        let backup = state::decode(&fs::read(store.backup_path()).unwrap()).unwrap();
        assert_eq!(backup.serial, 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(store.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temp files are left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn corrupt_and_newer_files_are_refused_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path(), "dev");
        for bytes in [
            b"{\"format_version\": 1, \"lineage\"".to_vec(),
            br#"{"format_version": 7, "future": true}"#.to_vec(),
        ] {
            fs::write(store.path(), &bytes).unwrap();
            let err = store.load().unwrap_err();
            assert!(err.to_string().contains("dev.json"), "{err}");
            assert!(err.to_string().contains("left untouched"), "{err}");
            assert_eq!(fs::read(store.path()).unwrap(), bytes);
        }
    }

    fn resource(id: &str) -> ResourceState {
        ResourceState {
            kind: "t.a".into(),
            region: "r1".into(),
            id: id.into(),
            inputs: Default::default(),
            outputs: Default::default(),
            dependencies: Default::default(),
        }
    }

    #[test]
    fn changes_are_logged_replayed_and_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path(), "dev");
        let mut s = State::new("dev");
        let a: Address = "p/t.a/a".parse().unwrap();
        let b: Address = "p/t.a/b".parse().unwrap();
        // No snapshot yet: the first change writes one.
        s.resources.insert(a.clone(), resource("a-1"));
        store.record(&mut s, std::slice::from_ref(&a)).unwrap();
        assert!(!store.log_path().exists());
        s.resources.insert(b.clone(), resource("b-1"));
        store.record(&mut s, std::slice::from_ref(&b)).unwrap();
        s.resources.remove(&a);
        store.record(&mut s, std::slice::from_ref(&a)).unwrap();
        assert!(store.log_path().exists());
        assert_eq!(s.serial, 3);
        // The snapshot alone is older; loading replays the log.
        assert_eq!(
            state::decode(&fs::read(store.path()).unwrap())
                .unwrap()
                .serial,
            1
        );
        assert_eq!(store.load().unwrap().unwrap(), s);
        // A torn last line is ignored.
        {
            use std::io::Write;
            let mut f = fs::OpenOptions::new()
                .append(true)
                .open(store.log_path())
                .unwrap();
            f.write_all(b"{\"lineage\":\"").unwrap();
        }
        assert_eq!(store.load().unwrap().unwrap(), s);
        store.compact(&mut s).unwrap();
        assert!(!store.log_path().exists());
        assert_eq!(store.load().unwrap().unwrap(), s);
    }

    #[test]
    fn a_corrupt_log_line_is_refused_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path(), "dev");
        let mut s = State::new("dev");
        store.save(&mut s).unwrap();
        fs::write(store.log_path(), "garbage\n{}\n").unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("dev.json.log line 1"), "{err}");
    }

    #[test]
    fn another_envs_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::new("other");
        StateStore::new(dir.path(), "other").save(&mut s).unwrap();
        fs::rename(dir.path().join("other.json"), dir.path().join("dev.json")).unwrap();
        let err = StateStore::new(dir.path(), "dev").load().unwrap_err();
        assert!(matches!(err, StoreError::WrongEnv { .. }), "{err}");
    }

    /// A disk that fills during an append to the change log: the partial
    /// line is cut off, the next change appends after the last whole one,
    /// and the state loads with both recorded changes.
    #[test]
    fn a_failed_log_append_leaves_no_partial_line_before_the_next() {
        use crate::fsutil::testing::FailsPartWay;
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path(), "dev");
        let mut s = State::new("dev");
        store.save(&mut s).unwrap();
        let [a, b, c]: [Address; 3] = ["p/t.a/a", "p/t.a/b", "p/t.a/c"].map(|x| x.parse().unwrap());
        s.resources.insert(a.clone(), resource("a-1"));
        store.record(&mut s, std::slice::from_ref(&a)).unwrap();
        s.resources.insert(b.clone(), resource("b-1"));
        let err = store
            .record_with(&mut s, std::slice::from_ref(&b), |p| {
                Ok(Box::new(FailsPartWay::after(p, 30)))
            })
            .unwrap_err();
        assert!(err.to_string().contains("dev.json.log"), "{err}");
        assert!(err.to_string().contains("No space left"), "{err}");
        // Not recorded: the run stops here; a later change is recorded.
        s.resources.remove(&b);
        s.resources.insert(c.clone(), resource("c-1"));
        store.record(&mut s, std::slice::from_ref(&c)).unwrap();
        let loaded = store.load().unwrap().unwrap();
        assert_eq!(loaded, s);
        assert_eq!(
            loaded.resources.keys().collect::<Vec<_>>(),
            vec![&a, &c],
            "both recorded changes"
        );
    }

    /// When the partial line cannot be cut off, the store stops appending
    /// to that log: the next change rewrites the snapshot, which drops it.
    #[test]
    fn a_log_with_a_partial_line_that_stays_is_not_appended_to() {
        use crate::fsutil::testing::FailsPartWay;
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path(), "dev");
        let mut s = State::new("dev");
        store.save(&mut s).unwrap();
        let [a, b, c]: [Address; 3] = ["p/t.a/a", "p/t.a/b", "p/t.a/c"].map(|x| x.parse().unwrap());
        s.resources.insert(a.clone(), resource("a-1"));
        store.record(&mut s, std::slice::from_ref(&a)).unwrap();
        s.resources.insert(b.clone(), resource("b-1"));
        store
            .record_with(&mut s, std::slice::from_ref(&b), |p| {
                let mut f = FailsPartWay::after(p, 30);
                f.truncate_fails = true;
                Ok(Box::new(f))
            })
            .unwrap_err();
        s.resources.insert(c.clone(), resource("c-1"));
        store.record(&mut s, std::slice::from_ref(&c)).unwrap();
        assert!(!store.log_path().exists(), "the snapshot took over");
        assert_eq!(store.load().unwrap().unwrap(), s);
        // And the log is used again afterwards.
        s.resources.remove(&a);
        store.record(&mut s, std::slice::from_ref(&a)).unwrap();
        assert!(store.log_path().exists());
        assert_eq!(store.load().unwrap().unwrap(), s);
    }

    /// A run killed while appending leaves a torn last line; the next run
    /// appends after the last whole line, not after the torn one.
    #[test]
    fn a_torn_tail_of_a_killed_run_is_dropped_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path(), "dev");
        let mut s = State::new("dev");
        store.save(&mut s).unwrap();
        let a: Address = "p/t.a/a".parse().unwrap();
        let b: Address = "p/t.a/b".parse().unwrap();
        s.resources.insert(a.clone(), resource("a-1"));
        store.record(&mut s, std::slice::from_ref(&a)).unwrap();
        {
            use std::io::Write;
            let mut f = fs::OpenOptions::new()
                .append(true)
                .open(store.log_path())
                .unwrap();
            f.write_all(b"{\"lineage\":\"").unwrap();
        }
        let mut next = store.load().unwrap().unwrap();
        assert_eq!(next, s);
        next.resources.insert(b.clone(), resource("b-1"));
        store.record(&mut next, std::slice::from_ref(&b)).unwrap();
        assert_eq!(store.load().unwrap().unwrap(), next);
    }
}
