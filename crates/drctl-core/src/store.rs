//! The local state store: `<dir>/<env>.json`, its backup, written atomically.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::fsutil::{sync_dir, write_atomic};
use crate::state::{self, DecodeError, State};

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
}

/// The state of one environment in a folder.
#[derive(Clone, Debug)]
pub struct StateStore {
    dir: PathBuf,
    env: String,
}

impl StateStore {
    pub fn new(dir: impl Into<PathBuf>, env: &str) -> Self {
        Self {
            dir: dir.into(),
            env: env.to_owned(),
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
        Ok(Some(state))
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
        })
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

    #[test]
    fn another_envs_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::new("other");
        StateStore::new(dir.path(), "other").save(&mut s).unwrap();
        fs::rename(dir.path().join("other.json"), dir.path().join("dev.json")).unwrap();
        let err = StateStore::new(dir.path(), "dev").load().unwrap_err();
        assert!(matches!(err, StoreError::WrongEnv { .. }), "{err}");
    }
}
