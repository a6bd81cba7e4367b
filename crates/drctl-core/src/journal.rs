//! The intent journal, `<dir>/<env>.journal`: one fsync'd JSON line before
//! every create and delete call, one after state has recorded its outcome.
//! An intent without its `cleared` line is an operation whose result may
//! not be in state (the process died in between); `recovery` resolves it
//! on the next run by looking the resource up.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::address::Address;
use crate::fsutil::{JsonLinesError, read_json_lines, sync_dir, write_atomic};
use crate::value::Attributes;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentOp {
    Create,
    Delete,
}

/// An operation about to be sent to a provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    pub id: u64,
    pub op: IntentOp,
    pub address: Address,
    pub region: String,
    /// Create: the resolved inputs sent (names, parents: enough to find it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: Attributes,
    /// Delete: the provider id being deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub dependencies: BTreeSet<Address>,
    /// Create: the idempotency token sent with it (`OpContext::token`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
}

/// A new idempotency token: the clock in nanoseconds and a hash of what
/// the create is for, so two creates never share one.
pub fn new_token(env: &str, address: &Address) -> String {
    use std::hash::BuildHasher;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // RandomState is seeded per process: two processes starting the same
    // create in the same nanosecond still differ.
    let hash = std::collections::hash_map::RandomState::new().hash_one((
        env,
        address.to_string(),
        std::process::id(),
    ));
    format!("{nanos:016x}{hash:016x}")
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
enum Entry {
    Intent(Intent),
    Cleared { id: u64 },
}

#[derive(Debug, Error)]
pub enum JournalError {
    #[error(
        "journal {path} line {line} is unusable ({reason}). It was left untouched; it lists operations that may not be in state: inspect it, then move it aside to continue"
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("cannot use journal {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// A remote backend's journal could not be read or written.
    #[error("journal {location}: {reason}")]
    Remote { location: String, reason: String },
    /// The run lost its lock to another run (a shared backend's lease).
    #[error(transparent)]
    LeaseLost(#[from] crate::lock::LeaseLost),
}

/// Where the executor writes intents.
pub trait IntentLog {
    /// Durably records `intent` (its id is assigned here) before the call.
    fn record(&mut self, intent: &mut Intent) -> Result<(), JournalError>;
    /// Durably marks an intent as settled in state.
    fn clear(&mut self, id: u64) -> Result<(), JournalError>;
}

/// The journal file of one environment.
pub struct Journal {
    path: PathBuf,
    file: Option<File>,
    next_id: u64,
}

pub fn journal_path(dir: &Path, env: &str) -> PathBuf {
    dir.join(format!("{env}.journal"))
}

impl Journal {
    /// The intents of `<dir>/<env>.journal` that were never cleared. A torn
    /// last line (the process died while appending it) is ignored: its call
    /// was never made.
    pub fn open_intents(dir: &Path, env: &str) -> Result<Vec<Intent>, JournalError> {
        let path = journal_path(dir, env);
        let entries: Vec<Entry> = match read_json_lines(&path) {
            Ok(entries) => entries.unwrap_or_default(),
            Err(JsonLinesError::Io(source)) => return Err(JournalError::Io { path, source }),
            Err(JsonLinesError::Corrupt { line, reason }) => {
                return Err(JournalError::Corrupt { path, line, reason });
            }
        };
        let mut open: BTreeMap<u64, Intent> = BTreeMap::new();
        for entry in entries {
            match entry {
                Entry::Intent(intent) => {
                    open.insert(intent.id, intent);
                }
                Entry::Cleared { id } => {
                    open.remove(&id);
                }
            }
        }
        Ok(open.into_values().collect())
    }

    /// Starts a journal for a run. Open intents of an earlier run must have
    /// been resolved first (`recovery::recover`); those recovery left open
    /// (in a region it could not reach) stay, and this run's ids follow
    /// theirs.
    pub fn begin(dir: &Path, env: &str) -> Journal {
        let last = Self::open_intents(dir, env)
            .ok()
            .and_then(|open| open.iter().map(|i| i.id).max())
            .unwrap_or(0);
        Journal {
            path: journal_path(dir, env),
            file: None,
            next_id: last + 1,
        }
    }

    /// Leaves exactly `open` in the journal (atomically rewritten), or
    /// removes it when `open` is empty.
    pub fn retain(dir: &Path, env: &str, open: &[Intent]) -> Result<(), JournalError> {
        if open.is_empty() {
            return Self::remove(dir, env);
        }
        let path = journal_path(dir, env);
        let mut bytes = Vec::new();
        for intent in open {
            bytes.extend(serde_json::to_vec(&Entry::Intent(intent.clone())).expect("serialises"));
            bytes.push(b'\n');
        }
        write_atomic(&path, &bytes).map_err(|source| JournalError::Io { path, source })
    }

    /// Removes the journal once nothing in it is open.
    pub fn remove(dir: &Path, env: &str) -> Result<(), JournalError> {
        let path = journal_path(dir, env);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(dir).map_err(|source| JournalError::Io { path, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(JournalError::Io { path, source }),
        }
    }

    fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let io_err = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        if self.file.is_none() {
            let mut opts = OpenOptions::new();
            opts.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let f = opts.open(&self.path).map_err(io_err)?;
            if let Some(dir) = self.path.parent() {
                sync_dir(dir).map_err(io_err)?;
            }
            self.file = Some(f);
        }
        let mut line = serde_json::to_vec(entry).expect("journal entries serialise");
        line.push(b'\n');
        let f = self.file.as_mut().expect("opened above");
        f.write_all(&line).map_err(io_err)?;
        f.sync_data().map_err(io_err)
    }
}

impl IntentLog for Journal {
    fn record(&mut self, intent: &mut Intent) -> Result<(), JournalError> {
        intent.id = self.next_id;
        self.next_id += 1;
        self.append(&Entry::Intent(intent.clone()))
    }

    fn clear(&mut self, id: u64) -> Result<(), JournalError> {
        self.append(&Entry::Cleared { id })
    }
}

/// A log that keeps nothing, for runs without a journal (unit tests).
pub struct NoJournal;

impl IntentLog for NoJournal {
    fn record(&mut self, _intent: &mut Intent) -> Result<(), JournalError> {
        Ok(())
    }
    fn clear(&mut self, _id: u64) -> Result<(), JournalError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(address: &str, op: IntentOp) -> Intent {
        Intent {
            id: 0,
            op,
            address: address.parse().unwrap(),
            region: "r1".into(),
            inputs: Attributes::from([("name".to_string(), "n".into())]),
            resource_id: None,
            dependencies: BTreeSet::new(),
            token: String::new(),
        }
    }

    #[test]
    fn uncleared_intents_are_open_and_a_torn_tail_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::begin(dir.path(), "dev");
        let mut a = intent("p/t.a/a", IntentOp::Create);
        let mut b = intent("p/t.a/b", IntentOp::Delete);
        j.record(&mut a).unwrap();
        j.record(&mut b).unwrap();
        j.clear(a.id).unwrap();
        let open = Journal::open_intents(dir.path(), "dev").unwrap();
        assert_eq!(open, vec![b.clone()]);
        // A crash in the middle of an append leaves a partial last line.
        let path = journal_path(dir.path(), "dev");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"event\":\"intent\",\"id\":3,\"op\":\"cre")
            .unwrap();
        assert_eq!(Journal::open_intents(dir.path(), "dev").unwrap(), vec![b]);
        Journal::remove(dir.path(), "dev").unwrap();
        assert!(Journal::open_intents(dir.path(), "dev").unwrap().is_empty());
    }

    #[test]
    fn a_corrupt_line_in_the_middle_is_refused_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(dir.path(), "dev");
        fs::write(
            &path,
            "{\"event\":\"cleared\",\"id\":1}\ngarbage\n{\"event\":\"cleared\",\"id\":2}\n",
        )
        .unwrap();
        let err = Journal::open_intents(dir.path(), "dev")
            .unwrap_err()
            .to_string();
        assert!(err.contains("dev.journal line 2"), "{err}");
        assert!(err.contains("left untouched"), "{err}");
    }

    #[test]
    fn intents_left_open_are_kept_and_a_new_run_numbers_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::begin(dir.path(), "dev");
        let mut a = intent("p/t.a/a", IntentOp::Create);
        let mut b = intent("p/t.a/b", IntentOp::Delete);
        j.record(&mut a).unwrap();
        j.record(&mut b).unwrap();
        drop(j);
        Journal::retain(dir.path(), "dev", std::slice::from_ref(&b)).unwrap();
        assert_eq!(
            Journal::open_intents(dir.path(), "dev").unwrap(),
            vec![b.clone()]
        );
        let mut j = Journal::begin(dir.path(), "dev");
        let mut c = intent("p/t.a/c", IntentOp::Create);
        j.record(&mut c).unwrap();
        assert_eq!(c.id, b.id + 1);
        j.clear(c.id).unwrap();
        assert_eq!(Journal::open_intents(dir.path(), "dev").unwrap(), vec![b]);
        Journal::retain(dir.path(), "dev", &[]).unwrap();
        assert!(!journal_path(dir.path(), "dev").exists());
    }
}
