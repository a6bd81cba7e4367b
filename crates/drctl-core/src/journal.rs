//! The intent journal, `<dir>/<env>.journal`: one JSON line before every
//! create, update and delete call, one after state has recorded its
//! outcome; the lines of the operations started (or settled) together are
//! appended with one write and one fsync.
//! An intent without its `cleared` line is an operation whose result may
//! not be in state (the process died in between); `recovery` resolves it
//! on the next run by looking the resource up.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::address::Address;
use crate::fsutil::{
    AppendError, AppendFile, JsonLinesError, append_line, open_append, read_json_lines, sync_dir,
    write_atomic,
};
use crate::value::Attributes;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentOp {
    Create,
    /// An in-place update (journals of drctl before it have none; a drctl
    /// that predates it refuses a journal holding one).
    Update,
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
    /// Update: the inputs sent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: Attributes,
    /// Delete and update: the provider id acted on.
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
    /// An append failed and the partial line it left could not be cut off:
    /// this run writes no more to the journal.
    #[error(
        "cannot append to journal {path} ({append}), and cutting off the partial line it left failed too ({truncate}). This run writes no more to it and starts no further operation; free space on that disk and run again (the next run drops the partial line)"
    )]
    Torn {
        path: PathBuf,
        append: String,
        truncate: String,
    },
    /// A remote backend's journal could not be read or written.
    #[error("journal {location}: {reason}")]
    Remote { location: String, reason: String },
    /// The run lost its lock to another run (a shared backend's lease).
    #[error(transparent)]
    LeaseLost(#[from] crate::lock::LeaseLost),
}

/// Gives `intents` the journal's next ids, in order: the order recovery
/// resolves them in.
pub fn number(intents: &mut [Intent], next_id: &mut u64) {
    for intent in intents {
        intent.id = *next_id;
        *next_id += 1;
    }
}

/// Where the executor writes intents. Both methods take every intent the
/// executor has at hand at once (the operations it starts together, those
/// whose outcomes one state write recorded), so that a backend whose writes
/// are remote overlaps their round trips instead of paying one each in turn.
pub trait IntentLog {
    /// Durably records `intents` (their ids are assigned here) before
    /// their calls. On an error none of them may be called.
    fn record(&mut self, intents: &mut [Intent]) -> Result<(), JournalError>;
    /// Durably marks intents as settled in state.
    fn clear(&mut self, ids: &[u64]) -> Result<(), JournalError>;
}

/// The journal file of one environment.
pub struct Journal {
    path: PathBuf,
    file: Option<Box<dyn AppendFile>>,
    next_id: u64,
    /// Set when an append left a partial line it could not cut off: a
    /// line after it would make the journal unreadable.
    torn: Option<(String, String)>,
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
            torn: None,
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

    /// Appends `entries` with one write and one fsync.
    fn append(&mut self, entries: &[Entry]) -> Result<(), JournalError> {
        if entries.is_empty() {
            return Ok(());
        }
        if let Some((append, truncate)) = &self.torn {
            return Err(JournalError::Torn {
                path: self.path.clone(),
                append: append.clone(),
                truncate: truncate.clone(),
            });
        }
        let io_err = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        if self.file.is_none() {
            self.file = Some(Box::new(open_append(&self.path).map_err(io_err)?));
        }
        let mut lines = Vec::new();
        for entry in entries {
            lines.extend(serde_json::to_vec(entry).expect("journal entries serialise"));
            lines.push(b'\n');
        }
        let f = self.file.as_mut().expect("opened above");
        // Whole lines or none (`append_line`); a process killed in the
        // write may leave a prefix of them, each line whole but the last,
        // which readers drop.
        match append_line(f.as_mut(), &lines) {
            Ok(_) => Ok(()),
            Err(AppendError::Undone(source)) => Err(io_err(source)),
            Err(AppendError::Torn { append, truncate }) => {
                let (append, truncate) = (append.to_string(), truncate.to_string());
                self.file = None;
                self.torn = Some((append.clone(), truncate.clone()));
                Err(JournalError::Torn {
                    path: self.path.clone(),
                    append,
                    truncate,
                })
            }
        }
    }
}

impl IntentLog for Journal {
    fn record(&mut self, intents: &mut [Intent]) -> Result<(), JournalError> {
        number(intents, &mut self.next_id);
        let entries: Vec<Entry> = intents.iter().cloned().map(Entry::Intent).collect();
        self.append(&entries)
    }

    fn clear(&mut self, ids: &[u64]) -> Result<(), JournalError> {
        let entries: Vec<Entry> = ids.iter().map(|&id| Entry::Cleared { id }).collect();
        self.append(&entries)
    }
}

/// A log that keeps nothing, for runs without a journal (unit tests).
pub struct NoJournal;

impl IntentLog for NoJournal {
    fn record(&mut self, _intents: &mut [Intent]) -> Result<(), JournalError> {
        Ok(())
    }
    fn clear(&mut self, _ids: &[u64]) -> Result<(), JournalError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::io::Write;

    use super::*;
    use crate::fsutil::testing::FailsPartWay;

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
        j.record(std::slice::from_mut(&mut a)).unwrap();
        j.record(std::slice::from_mut(&mut b)).unwrap();
        j.clear(&[a.id]).unwrap();
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
        j.record(std::slice::from_mut(&mut a)).unwrap();
        j.record(std::slice::from_mut(&mut b)).unwrap();
        drop(j);
        Journal::retain(dir.path(), "dev", std::slice::from_ref(&b)).unwrap();
        assert_eq!(
            Journal::open_intents(dir.path(), "dev").unwrap(),
            vec![b.clone()]
        );
        let mut j = Journal::begin(dir.path(), "dev");
        let mut c = intent("p/t.a/c", IntentOp::Create);
        j.record(std::slice::from_mut(&mut c)).unwrap();
        assert_eq!(c.id, b.id + 1);
        j.clear(&[c.id]).unwrap();
        assert_eq!(Journal::open_intents(dir.path(), "dev").unwrap(), vec![b]);
        Journal::retain(dir.path(), "dev", &[]).unwrap();
        assert!(!journal_path(dir.path(), "dev").exists());
    }

    /// An update intent (format of this drctl) reads back as written, and
    /// a journal of an older drctl (creates and deletes only) still reads.
    #[test]
    fn update_intents_round_trip_and_older_journals_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(dir.path(), "dev");
        fs::write(
            &path,
            concat!(
                r#"{"event":"intent","id":1,"op":"create","address":"p/t.a/a","region":"r1","inputs":{"name":"a"}}"#,
                "\n",
                r#"{"event":"intent","id":2,"op":"delete","address":"p/t.a/b","region":"r1","resource_id":"b-1"}"#,
                "\n",
                r#"{"event":"cleared","id":1}"#,
                "\n"
            ),
        )
        .unwrap();
        let old = Journal::open_intents(dir.path(), "dev").unwrap();
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].op, IntentOp::Delete);

        let mut j = Journal::begin(dir.path(), "dev");
        let mut u = Intent {
            resource_id: Some("c-1".into()),
            ..intent("p/t.a/c", IntentOp::Update)
        };
        j.record(std::slice::from_mut(&mut u)).unwrap();
        assert_eq!(u.id, 3);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""op":"update""#), "{text}");
        let open = Journal::open_intents(dir.path(), "dev").unwrap();
        assert_eq!(open, vec![old[0].clone(), u.clone()]);
        j.clear(&[u.id]).unwrap();
        assert_eq!(Journal::open_intents(dir.path(), "dev").unwrap(), old);
    }

    /// A disk that fills during an append: the partial line is cut off, so
    /// the next append does not leave it in the middle of the journal.
    #[test]
    fn a_failed_append_leaves_no_partial_line_before_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(dir.path(), "dev");
        let mut j = Journal::begin(dir.path(), "dev");
        let mut a = intent("p/t.a/a", IntentOp::Create);
        j.record(std::slice::from_mut(&mut a)).unwrap();
        j.file = Some(Box::new(FailsPartWay::after(&path, 20)));
        let mut b = intent("p/t.a/b", IntentOp::Update);
        let err = j.record(std::slice::from_mut(&mut b)).unwrap_err();
        assert!(matches!(err, JournalError::Io { .. }), "{err}");
        assert!(err.to_string().contains("No space left"), "{err}");
        let mut c = intent("p/t.a/c", IntentOp::Delete);
        j.record(std::slice::from_mut(&mut c)).unwrap();
        let open = Journal::open_intents(dir.path(), "dev").unwrap();
        assert_eq!(open, vec![a, c]);
    }

    /// When the partial line cannot be cut off, the journal refuses every
    /// later append of this run (naming the file and what to do), and the
    /// next run's journal drops the partial line and reads.
    #[test]
    fn a_partial_line_that_stays_stops_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(dir.path(), "dev");
        let mut j = Journal::begin(dir.path(), "dev");
        let mut a = intent("p/t.a/a", IntentOp::Create);
        j.record(std::slice::from_mut(&mut a)).unwrap();
        let mut failing = FailsPartWay::after(&path, 20);
        failing.truncate_fails = true;
        j.file = Some(Box::new(failing));
        let err = j
            .record(&mut [intent("p/t.a/b", IntentOp::Create)])
            .unwrap_err();
        assert!(matches!(err, JournalError::Torn { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("dev.journal"), "{message}");
        assert!(message.contains("free space"), "{message}");
        let err = j.clear(&[a.id]).unwrap_err();
        assert!(matches!(err, JournalError::Torn { .. }), "{err}");
        drop(j);
        // The partial line is the last: ignored by the reader.
        assert_eq!(
            Journal::open_intents(dir.path(), "dev").unwrap(),
            vec![a.clone()]
        );
        let mut next = Journal::begin(dir.path(), "dev");
        let mut c = intent("p/t.a/c", IntentOp::Create);
        next.record(std::slice::from_mut(&mut c)).unwrap();
        assert_eq!(
            Journal::open_intents(dir.path(), "dev").unwrap(),
            vec![a, c]
        );
    }
}
