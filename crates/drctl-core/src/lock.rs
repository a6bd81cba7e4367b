//! `<dir>/<env>.lock`: one writer per environment. Created with O_EXCL so two
//! processes can never both hold it; removed when the holder drops it.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::fsutil::sync_dir;

/// Who holds a lock, as recorded in the lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: Uuid,
    pub pid: u32,
    pub host: String,
    pub operation: String,
    /// RFC 3339.
    pub started_at: String,
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on host {} ({}) since {}",
            self.pid, self.host, self.operation, self.started_at
        )
    }
}

#[derive(Debug, Error)]
pub enum LockError {
    #[error(
        "state of environment `{env}` is locked by {holder}. Wait for it to finish; if that process is gone, run `drctl force-unlock --env {env}`"
    )]
    Held { env: String, holder: LockInfo },
    #[error(
        "lock file {path} exists but is unreadable ({reason}); if no drctl is running, run `drctl force-unlock --env {env}`"
    )]
    Unreadable {
        env: String,
        path: PathBuf,
        reason: String,
    },
    #[error("cannot create lock file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    info: LockInfo,
}

fn lock_path(dir: &Path, env: &str) -> PathBuf {
    dir.join(format!("{env}.lock"))
}

fn read_holder(path: &Path, env: &str) -> Result<LockInfo, LockError> {
    let bytes = fs::read(path).map_err(|e| LockError::Unreadable {
        env: env.to_owned(),
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| LockError::Unreadable {
        env: env.to_owned(),
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

impl StateLock {
    pub fn acquire(dir: &Path, env: &str, operation: &str) -> Result<Self, LockError> {
        let path = lock_path(dir, env);
        let io_err = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(io_err)?;
        let info = LockInfo {
            id: Uuid::new_v4(),
            pid: std::process::id(),
            host: hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown".into()),
            operation: operation.to_owned(),
            started_at: OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
        };
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let holder = read_holder(&path, env)?;
                return Err(LockError::Held {
                    env: env.to_owned(),
                    holder,
                });
            }
            Err(e) => return Err(io_err(e)),
        };
        let body = serde_json::to_vec_pretty(&info).expect("lock info serialises");
        let written = file.write_all(&body).and_then(|_| file.sync_all());
        if let Err(e) = written.and_then(|_| sync_dir(dir)) {
            let _ = fs::remove_file(&path);
            return Err(io_err(e));
        }
        Ok(Self { path, info })
    }

    pub fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Only remove the file if it is still ours (force-unlock may have
        // handed it to someone else).
        if let Ok(bytes) = fs::read(&self.path)
            && serde_json::from_slice::<LockInfo>(&bytes).is_ok_and(|i| i.id == self.info.id)
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Removes a lock whatever holds it; returns the holder it removed, if any.
pub fn force_unlock(dir: &Path, env: &str) -> Result<Option<LockInfo>, LockError> {
    let path = lock_path(dir, env);
    if !path.exists() {
        return Ok(None);
    }
    let holder = read_holder(&path, env).ok();
    fs::remove_file(&path).map_err(|source| LockError::Io { path, source })?;
    Ok(holder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_holder_details() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path(), "dev", "apply").unwrap();
        let err = StateLock::acquire(dir.path(), "dev", "destroy").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("(apply)"), "{text}");
        assert!(text.contains("force-unlock --env dev"), "{text}");
        // Another environment is independent.
        StateLock::acquire(dir.path(), "prod", "apply").unwrap();
        drop(first);
        StateLock::acquire(dir.path(), "dev", "destroy").unwrap();
    }

    #[test]
    fn force_unlock_removes_a_stale_lock() {
        let dir = tempfile::tempdir().unwrap();
        let lock = StateLock::acquire(dir.path(), "dev", "apply").unwrap();
        let id = lock.info().id;
        std::mem::forget(lock); // as if the holder had been killed
        let removed = force_unlock(dir.path(), "dev").unwrap().unwrap();
        assert_eq!(removed.id, id);
        assert!(force_unlock(dir.path(), "dev").unwrap().is_none());
        StateLock::acquire(dir.path(), "dev", "apply").unwrap();
    }

    #[test]
    fn garbage_lock_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("dev.lock"), "garbage").unwrap();
        let err = StateLock::acquire(dir.path(), "dev", "apply").unwrap_err();
        assert!(matches!(err, LockError::Unreadable { .. }), "{err}");
    }
}
