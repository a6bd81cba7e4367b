//! `<dir>/<env>.lock`: one writer per environment. Written whole to a temp
//! file and linked into place (a link never replaces a file), so two
//! processes can never both hold it and nobody ever reads a lock file that
//! exists but is not yet written; removed when the holder drops it.
//!
//! [`LockInfo`] is also the body of a shared backend's lock, which carries
//! a lease (the S3 backend, docs/state-format.md): the lease fields stay
//! empty in a local lock file, whose holder is checked by pid instead.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::fsutil::create_exclusive;

/// Who holds a lock, as recorded in the lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: Uuid,
    pub pid: u32,
    pub host: String,
    pub operation: String,
    /// RFC 3339.
    pub started_at: String,
    /// How long the holder's lease lasts after each renewal. `None` for a
    /// lock without a lease (a local lock file, or one written by a drctl
    /// without leases), which is never taken over by expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_seconds: Option<u64>,
    /// RFC 3339, by the holder's clock: its last renewal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed_at: Option<String>,
    /// RFC 3339, by the holder's clock: `renewed_at` + the lease. Only a
    /// hint to others (clocks differ); see [`LockInfo::lease_looks_live`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Renewals so far: each renewal changes the body, hence its ETag.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub renewals: u64,
    /// The holder machine's boot (`/proc/sys/kernel/random/boot_id`, Linux):
    /// a pid means something only within one boot. Absent in locks of older
    /// drctl versions and off Linux.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// The holder's PID namespace (the inode of `/proc/self/ns/pid`): a
    /// container on the same host sees other pids, so a pid is checked only
    /// from the namespace it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_namespace: Option<u64>,
    /// The holder process's start time, in clock ticks after boot (field 22
    /// of `/proc/<pid>/stat`): a process with the holder's pid but another
    /// start time is not the holder (the pid was reused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_start: Option<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// This machine's hostname, as locks record it.
pub fn this_host() -> String {
    hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
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

/// What a refused run can do about a lock held elsewhere.
fn held_remote_advice(holder: &LockInfo, env: &str) -> String {
    match (holder.lease_seconds, &holder.expires_at) {
        (Some(lease), Some(expires)) => format!(
            "Wait for it to finish. If that process is gone, its lease lapses {lease} s after its last renewal (at {expires} by its clock) and the next run takes the lock over; to break it now, run `drctl force-unlock --env {env}` with the same backend"
        ),
        _ => format!(
            "Wait for it to finish; if that process is gone (drctl cannot tell whether a process on another machine still runs, and this lock has no lease), run `drctl force-unlock --env {env}` with the same backend"
        ),
    }
}

#[derive(Debug, Error)]
pub enum LockError {
    #[error(
        "state of environment `{env}` is locked by {holder}. Wait for it to finish; if that process is gone, run `drctl force-unlock --env {env}`"
    )]
    Held { env: String, holder: Box<LockInfo> },
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
    /// Held in a shared backend: no pid check is possible across machines;
    /// a holder with a lease that lapses is taken over instead.
    #[error(
        "state of environment `{env}` in {location} is locked by {holder}. {}",
        held_remote_advice(holder, env)
    )]
    HeldRemote {
        env: String,
        location: String,
        holder: Box<LockInfo>,
    },
    /// A remote backend's lock could not be read or written.
    #[error("lock {location}: {reason}")]
    Remote { location: String, reason: String },
}

/// A run that held a lock no longer does: it must not change AWS, state
/// or journal any more.
#[derive(Clone, Debug, Error)]
#[error(
    "this run no longer holds the lock of environment `{env}` ({location}): {what}. It stopped before its next change (AWS call, state or journal write); what it did in AWS is in state or in the journal, which the next run recovers. Run again once the lock is free"
)]
pub struct LeaseLost {
    pub env: String,
    pub location: String,
    /// Who holds it now, or why this run cannot tell it still holds it.
    pub what: String,
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

/// The holder recorded in the lock file; `None` if there is no lock file.
fn read_holder(path: &Path, env: &str) -> Result<Option<LockInfo>, LockError> {
    let unreadable = |reason: String| LockError::Unreadable {
        env: env.to_owned(),
        path: path.to_owned(),
        reason,
    };
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e.to_string())),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| unreadable(e.to_string()))
}

impl LockInfo {
    /// This process, about to run `operation`.
    pub fn for_this_process(operation: &str) -> Self {
        LockInfo {
            id: Uuid::new_v4(),
            pid: std::process::id(),
            host: this_host(),
            operation: operation.to_owned(),
            started_at: now_rfc3339(),
            lease_seconds: None,
            renewed_at: None,
            expires_at: None,
            renewals: 0,
            boot_id: here::boot_id(),
            pid_namespace: here::pid_namespace(),
            process_start: here::process(std::process::id()).start(),
        }
    }

    /// Whether the holder is provably gone, judged from this process on
    /// this host (its hostname).
    pub fn holder_is_dead_here(&self) -> bool {
        hostname::get().is_ok_and(|h| self.holder_is_dead_on(&h.to_string_lossy()))
    }

    /// [`Self::holder_is_dead_here`] where this host is known as `host`.
    pub fn holder_is_dead_on(&self, host: &str) -> bool {
        self.holder_is_dead_from(&Vantage::here(host), here::process)
    }

    /// Whether the holder is provably gone, seen from `at`, with `process`
    /// telling what runs under a pid in `at`'s PID namespace. Only provable
    /// deaths count, since a lock judged dead is taken over at once:
    ///
    /// - another host name: never (this host cannot see its processes);
    /// - same name, another boot id: dead if it started before this boot
    ///   (an earlier boot of this machine); a holder that started since is
    ///   another machine with the same name;
    /// - same boot, another PID namespace (another container): never, its
    ///   pid means nothing here; only its lease or force-unlock free it;
    /// - same boot and namespace: dead if no process has its pid, or one
    ///   with another start time does (the pid was reused);
    /// - a lock without these fields (an older drctl), or a machine that
    ///   cannot tell them (not Linux): never.
    pub fn holder_is_dead_from(&self, at: &Vantage, process: impl Fn(u32) -> Process) -> bool {
        if self.host != at.host {
            return false;
        }
        let (Some(theirs), Some(ours)) = (&self.boot_id, &at.boot_id) else {
            return false;
        };
        if theirs != ours {
            let started = OffsetDateTime::parse(&self.started_at, &Rfc3339).ok();
            return matches!((started, at.booted_at), (Some(s), Some(b)) if s < b);
        }
        match (self.pid_namespace, at.pid_namespace) {
            (Some(theirs), Some(ours)) if theirs == ours => {}
            _ => return false,
        }
        match process(self.pid) {
            Process::Gone => true,
            Process::Running { start: Some(now) } => self.process_start.is_some_and(|s| s != now),
            Process::Running { start: None } | Process::Unknown => false,
        }
    }

    /// Records a (re)newed lease of `lease` starting now, by this clock.
    pub fn stamp_lease(&mut self, lease: std::time::Duration) {
        let now = OffsetDateTime::now_utc();
        self.lease_seconds = Some(lease.as_secs().max(1));
        self.renewed_at = now.format(&Rfc3339).ok();
        self.expires_at = (now + lease).format(&Rfc3339).ok();
    }

    /// Whether the holder's own timestamps say its lease still runs, read
    /// with this machine's clock. Only decides whether to watch the lock
    /// for a lapse or to refuse at once: a clock that is wrong can only
    /// make a run refuse (or watch) needlessly, never take a live lock,
    /// because a takeover also needs the lock unchanged for a whole lease
    /// measured here. A lock without a lease "looks live" for ever.
    pub fn lease_looks_live(&self) -> bool {
        let Some(expires) = self.expires_at.as_deref() else {
            return true;
        };
        OffsetDateTime::parse(expires, &Rfc3339).map_or(true, |at| at > OffsetDateTime::now_utc())
    }
}

impl StateLock {
    pub fn acquire(dir: &Path, env: &str, operation: &str) -> Result<Self, LockError> {
        let path = lock_path(dir, env);
        let io_err = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(io_err)?;
        let info = LockInfo::for_this_process(operation);
        let body = serde_json::to_vec_pretty(&info).expect("lock info serialises");
        if !create_exclusive(&path, &body).map_err(io_err)? {
            let Some(holder) = read_holder(&path, env)? else {
                // Released between our attempt and the read: try again.
                return Self::acquire(dir, env, operation);
            };
            if holder.holder_is_dead_on(&info.host) && take_over(dir, env, &holder)? {
                tracing::warn!(
                    "took over the lock of `{env}` left by {holder}, which is no longer running"
                );
                return Self::acquire(dir, env, operation);
            }
            return Err(LockError::Held {
                env: env.to_owned(),
                holder: Box::new(holder),
            });
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

/// Where a holder is judged from: this machine, as a lock records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vantage {
    pub host: String,
    pub boot_id: Option<String>,
    pub pid_namespace: Option<u64>,
    /// When this boot began, by the wall clock.
    pub booted_at: Option<OffsetDateTime>,
}

impl Vantage {
    /// This process, on this host known as `host`.
    pub fn here(host: &str) -> Self {
        Self {
            host: host.to_owned(),
            boot_id: here::boot_id(),
            pid_namespace: here::pid_namespace(),
            booted_at: here::booted_at(),
        }
    }
}

/// What runs under a pid, as far as this process can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Process {
    /// No process has the pid.
    Gone,
    /// A process has it, started at `start` (clock ticks after boot) if
    /// that could be read.
    Running { start: Option<u64> },
    /// Cannot be told (not Linux).
    Unknown,
}

impl Process {
    fn start(self) -> Option<u64> {
        match self {
            Process::Running { start } => start,
            _ => None,
        }
    }
}

/// This machine and its processes, as Linux shows them.
mod here {
    use super::Process;
    use time::OffsetDateTime;

    #[cfg(target_os = "linux")]
    pub fn boot_id() -> Option<String> {
        let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        Some(id.trim().to_owned()).filter(|id| !id.is_empty())
    }

    #[cfg(target_os = "linux")]
    pub fn pid_namespace() -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino())
    }

    /// Now minus the time since boot (suspend included).
    #[cfg(target_os = "linux")]
    pub fn booted_at() -> Option<OffsetDateTime> {
        use crate::lease::Clock;
        let up = crate::lease::BootClock.now();
        OffsetDateTime::now_utc().checked_sub(time::Duration::try_from(up).ok()?)
    }

    /// `kill(pid, 0)` says whether the pid exists (EPERM: it does, owned by
    /// another user), even where /proc hides other users' processes; the
    /// start time is field 22 of `/proc/<pid>/stat`.
    #[cfg(target_os = "linux")]
    pub fn process(pid: u32) -> Process {
        let Ok(raw) = libc::pid_t::try_from(pid) else {
            return Process::Gone;
        };
        // SAFETY: signal 0 sends nothing; it only checks the pid.
        if unsafe { libc::kill(raw, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        {
            return Process::Gone;
        }
        Process::Running {
            start: std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| start_time(&stat)),
        }
    }

    /// Field 22 of a `/proc/<pid>/stat` line. The command (field 2) is in
    /// parentheses and may hold spaces and parentheses: count from the last
    /// `)`, after which field 3 comes.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub fn start_time(stat: &str) -> Option<u64> {
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(22 - 3)?.parse().ok()
    }

    #[cfg(not(target_os = "linux"))]
    pub fn boot_id() -> Option<String> {
        None
    }

    #[cfg(not(target_os = "linux"))]
    pub fn pid_namespace() -> Option<u64> {
        None
    }

    #[cfg(not(target_os = "linux"))]
    pub fn booted_at() -> Option<OffsetDateTime> {
        None
    }

    #[cfg(not(target_os = "linux"))]
    pub fn process(_pid: u32) -> Process {
        Process::Unknown
    }
}

/// Removes the lock of a holder that died on this host. A second lock file
/// serialises takeovers, so two processes never both remove and re-create
/// the lock; the holder is re-read under it so a fresh lock is never
/// removed. Returns whether the stale lock is gone.
fn take_over(dir: &Path, env: &str, stale: &LockInfo) -> Result<bool, LockError> {
    let guard_path = dir.join(format!("{env}.lock.takeover"));
    let io_err = |source| LockError::Io {
        path: guard_path.clone(),
        source,
    };
    // A takeover guard left by a process killed mid-takeover is stale
    // after a minute.
    if let Ok(meta) = fs::metadata(&guard_path)
        && meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 60)
    {
        let _ = fs::remove_file(&guard_path);
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&guard_path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(io_err(e)),
    }
    let path = lock_path(dir, env);
    let result = match read_holder(&path, env) {
        Ok(Some(current)) if current.id == stale.id => {
            fs::remove_file(&path).map(|()| true).map_err(io_err)
        }
        _ => Ok(false),
    };
    let _ = fs::remove_file(&guard_path);
    result
}

/// Removes a lock whatever holds it; returns the holder it removed, if any.
pub fn force_unlock(dir: &Path, env: &str) -> Result<Option<LockInfo>, LockError> {
    let path = lock_path(dir, env);
    if !path.exists() {
        return Ok(None);
    }
    let holder = read_holder(&path, env).ok().flatten();
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
    fn a_lock_left_by_a_dead_process_on_this_host_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let lock = StateLock::acquire(dir.path(), "dev", "apply").unwrap();
        let mut dead = lock.info().clone();
        std::mem::forget(lock);
        // A pid no process has (beyond Linux's pid_max).
        dead.pid = 4_194_305;
        fs::write(
            dir.path().join("dev.lock"),
            serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        let taken = StateLock::acquire(dir.path(), "dev", "apply").unwrap();
        assert_ne!(taken.info().id, dead.id);
        assert!(!dir.path().join("dev.lock.takeover").exists());
        // A dead holder on another host is not taken over: that host may
        // reuse the pid, and this one cannot tell.
        drop(taken);
        dead.host = "elsewhere".into();
        fs::write(
            dir.path().join("dev.lock"),
            serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            StateLock::acquire(dir.path(), "dev", "apply"),
            Err(LockError::Held { .. })
        ));
    }

    /// A lock file exists only whole: a reader watching the path while
    /// locks come and go never finds it empty or half written, and a
    /// contender racing for it never calls it unreadable (which would send
    /// a human to force-unlock a live lock).
    #[test]
    fn a_lock_file_is_never_seen_before_it_is_written() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.lock");
        let stop = AtomicBool::new(false);
        let (torn, unreadable) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while !stop.load(SeqCst) {
                    if let Ok(bytes) = fs::read(&path)
                        && serde_json::from_slice::<LockInfo>(&bytes).is_err()
                    {
                        torn.fetch_add(1, SeqCst);
                    }
                }
            });
            scope.spawn(|| {
                while !stop.load(SeqCst) {
                    if let Err(LockError::Unreadable { .. }) =
                        StateLock::acquire(dir.path(), "dev", "plan")
                    {
                        unreadable.fetch_add(1, SeqCst);
                    }
                }
            });
            for _ in 0..1000 {
                drop(StateLock::acquire(dir.path(), "dev", "apply"));
            }
            stop.store(true, SeqCst);
        });
        assert_eq!(
            torn.load(SeqCst),
            0,
            "a lock file was read before it was written"
        );
        assert_eq!(
            unreadable.load(SeqCst),
            0,
            "a live lock was called unreadable"
        );
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            left.is_empty(),
            "no lock and no temp file is left: {left:?}"
        );
    }

    /// A machine as a test sees it.
    fn vantage() -> Vantage {
        Vantage {
            host: "ci-runner-3".into(),
            boot_id: Some("b0b0b0b0-0000-4000-8000-000000000001".into()),
            pid_namespace: Some(4_026_531_836),
            booted_at: Some(OffsetDateTime::parse("2026-11-20T08:00:00Z", &Rfc3339).unwrap()),
        }
    }

    /// A lock taken at `at` by pid 4242, started at tick 5000.
    fn holder_seen_from(at: &Vantage) -> LockInfo {
        LockInfo {
            host: at.host.clone(),
            pid: 4242,
            started_at: "2026-11-22T01:04:21Z".into(),
            boot_id: at.boot_id.clone(),
            pid_namespace: at.pid_namespace,
            process_start: Some(5000),
            ..LockInfo::for_this_process("apply")
        }
    }

    #[test]
    fn a_holder_is_dead_only_when_provably_so() {
        let here = vantage();
        let gone = |_| Process::Gone;
        let running = |_| Process::Running { start: Some(5000) };
        let reused = |_| Process::Running { start: Some(9000) };
        let holder = holder_seen_from(&here);

        // Same machine, boot and namespace: the pid tells.
        assert!(holder.holder_is_dead_from(&here, gone));
        assert!(!holder.holder_is_dead_from(&here, running));
        assert!(
            holder.holder_is_dead_from(&here, reused),
            "a pid reused by a process started later is not the holder"
        );
        assert!(
            !holder.holder_is_dead_from(&here, |_| Process::Running { start: None }),
            "a running pid whose start cannot be read may be the holder"
        );
        assert!(!holder.holder_is_dead_from(&here, |_| Process::Unknown));

        // Another container on the same host (same boot, another PID
        // namespace): its pid means nothing here, whatever runs under it.
        let container = LockInfo {
            pid_namespace: Some(4_026_532_999),
            ..holder.clone()
        };
        assert!(!container.holder_is_dead_from(&here, gone));
        assert!(!container.holder_is_dead_from(&here, reused));

        // An earlier boot of this machine: whatever the pid does now.
        let earlier_boot = LockInfo {
            boot_id: Some("b0b0b0b0-0000-4000-8000-000000000000".into()),
            started_at: "2026-11-19T23:00:00Z".into(),
            ..holder.clone()
        };
        assert!(earlier_boot.holder_is_dead_from(&here, running));
        // Another boot id, but started after this boot began: another
        // machine with the same name, not an earlier boot of this one.
        let twin = LockInfo {
            boot_id: Some("b0b0b0b0-0000-4000-8000-000000000002".into()),
            ..holder.clone()
        };
        assert!(!twin.holder_is_dead_from(&here, gone));

        // Another host name: never.
        let elsewhere = LockInfo {
            host: "ci-runner-7".into(),
            ..holder.clone()
        };
        assert!(!elsewhere.holder_is_dead_from(&here, gone));

        // A lock of an older drctl (no boot id, no namespace), or a machine
        // that cannot tell them: nothing is provable.
        let older = LockInfo {
            boot_id: None,
            pid_namespace: None,
            process_start: None,
            ..holder.clone()
        };
        assert!(!older.holder_is_dead_from(&here, gone));
        let blind = Vantage {
            boot_id: None,
            pid_namespace: None,
            booted_at: None,
            ..here.clone()
        };
        assert!(!holder.holder_is_dead_from(&blind, gone));
        // A lock recording no start time: a running pid is the holder.
        let no_start = LockInfo {
            process_start: None,
            ..holder.clone()
        };
        assert!(!no_start.holder_is_dead_from(&here, reused));
        assert!(no_start.holder_is_dead_from(&here, gone));
    }

    #[test]
    fn older_locks_still_read_and_new_fields_round_trip() {
        let older = r#"{"id":"9b1c0000-0000-4000-8000-000000000000","pid":4242,"host":"ci-runner-3","operation":"apply","started_at":"2026-11-22T01:04:21Z"}"#;
        let info: LockInfo = serde_json::from_str(older).unwrap();
        assert_eq!(
            (info.boot_id, info.pid_namespace, info.process_start),
            (None, None, None)
        );
        let here = holder_seen_from(&vantage());
        let back: LockInfo = serde_json::from_slice(&serde_json::to_vec(&here).unwrap()).unwrap();
        assert_eq!(back, here);
    }

    #[test]
    fn the_start_time_is_field_22_after_the_command() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 200 18446744073709551615";
        assert_eq!(here::start_time(stat), Some(123_456));
        assert_eq!(here::start_time("garbage"), None);
    }

    /// This process, as its lock records it, is alive; a lock with its pid
    /// but another start time (the pid reused since) is taken over.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_lock_whose_pid_was_reused_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let lock = StateLock::acquire(dir.path(), "dev", "apply").unwrap();
        let mut info = lock.info().clone();
        assert!(info.boot_id.is_some() && info.pid_namespace.is_some());
        assert!(info.process_start.is_some());
        assert!(!info.holder_is_dead_here(), "this process runs");
        std::mem::forget(lock);
        info.process_start = info.process_start.map(|s| s + 1);
        fs::write(
            dir.path().join("dev.lock"),
            serde_json::to_vec(&info).unwrap(),
        )
        .unwrap();
        let taken = StateLock::acquire(dir.path(), "dev", "apply").unwrap();
        assert_ne!(taken.info().id, info.id);
        // The same lock from another PID namespace is left alone.
        drop(taken);
        info.pid_namespace = info.pid_namespace.map(|n| n + 1);
        fs::write(
            dir.path().join("dev.lock"),
            serde_json::to_vec(&info).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            StateLock::acquire(dir.path(), "dev", "apply"),
            Err(LockError::Held { .. })
        ));
    }

    #[test]
    fn garbage_lock_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("dev.lock"), "garbage").unwrap();
        let err = StateLock::acquire(dir.path(), "dev", "apply").unwrap_err();
        assert!(matches!(err, LockError::Unreadable { .. }), "{err}");
    }
}
