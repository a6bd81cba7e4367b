//! State in two S3 buckets, one per region of the environment, so that an
//! unplanned failover has its state, journal and lock when the primary
//! bucket's region is down (docs/state-format.md, "Replica").
//!
//! - Writes go to the replica first, then to the primary bucket. A write
//!   the primary bucket saw was therefore seen by the replica first, and
//!   a write only the replica saw (the run died between the two) is the
//!   newer copy, which the next read takes: neither region's write is
//!   lost. Each copy carries, as user metadata, the latest serial it
//!   shares with the other (`synced`).
//! - Reads take the newer copy of the same lineage. The newer one
//!   descends from the older when its `synced` reaches the older's serial;
//!   otherwise both changed since they last agreed (a true conflict),
//!   which stops the run, showing both and how to keep one.
//! - Normal runs hold the primary bucket's lock and refuse to start while
//!   an unplanned failover holds the replica's. A run that finds the
//!   replica unreachable goes on with the primary copy alone and says so.
//! - `failover --unplanned` ([`Mode::ReplicaOnly`]) never contacts the
//!   primary bucket: it takes the replica's lock and fences the replica's
//!   state (rewrites it, so that its ETag changes), so a run still holding the primary's
//!   lock, whose writes go to the replica first and are conditional on
//!   the version it read, is refused there and stops.
//! - With its lock held, a normal run fences both copies (the replica's
//!   first, the order of every write), so that a run that held the lock
//!   before and still goes on (force-unlocked under it) is refused at its
//!   next write, and then puts the copies right (the newer over the older,
//!   byte for byte) before it reads state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use drctl_core::Address;
use drctl_core::backend::{Backend, HeldLock};
use drctl_core::journal::{Intent, IntentLog, JournalError};
use drctl_core::lock::{LockError, LockInfo};
use drctl_core::state::State;
use drctl_core::store::StoreError;

use super::s3::{S3Backend, S3Journal, StoredCopy};

/// Which copies a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Both; the primary bucket's lock.
    Normal,
    /// The replica alone, under its own lock (an unplanned failover).
    ReplicaOnly,
}

/// Which copy of the state to keep when both changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Copy {
    Primary,
    Replica,
}

impl Copy {
    fn name(self) -> &'static str {
        match self {
            Copy::Primary => "primary",
            Copy::Replica => "replica",
        }
    }
}

/// How the two copies relate.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No state in either bucket.
    Neither,
    /// Both hold the same document.
    Agree,
    /// This copy is newer (or the only one) and descends from the other.
    Ahead(Copy),
    /// Both changed since they last agreed, or they are different
    /// histories: the text says how.
    Conflict(String),
}

/// A copy's serial and `synced`, and its document (without the trailing
/// spaces fences add).
pub(crate) struct Seen<'a> {
    pub serial: u64,
    pub synced: u64,
    /// Set on a copy an older drctl's fence rewrote (serial + 1): the
    /// serial whose content it holds. Fences now keep the serial.
    pub fenced_from: Option<u64>,
    /// The lineage's UUID as a number.
    pub lineage: u128,
    pub bytes: &'a [u8],
}

impl<'a> From<&'a StoredCopy> for Seen<'a> {
    fn from(c: &'a StoredCopy) -> Self {
        Seen {
            serial: c.state.serial,
            synced: c.synced,
            fenced_from: c.fenced_from,
            lineage: c.state.lineage.as_u128(),
            // A fence adds trailing spaces, not content.
            bytes: c.bytes.trim_ascii_end(),
        }
    }
}

/// Compares the primary's and the replica's copy.
pub(crate) fn compare(primary: Option<Seen<'_>>, replica: Option<Seen<'_>>) -> Verdict {
    let (p, r) = match (primary, replica) {
        (None, None) => return Verdict::Neither,
        (Some(_), None) => return Verdict::Ahead(Copy::Primary),
        (None, Some(_)) => return Verdict::Ahead(Copy::Replica),
        (Some(p), Some(r)) => (p, r),
    };
    if p.lineage != r.lineage {
        return Verdict::Conflict(format!(
            "they are different histories (lineage {} in the primary, {} in the replica)",
            uuid_text(p.lineage),
            uuid_text(r.lineage)
        ));
    }
    if p.serial == r.serial && p.bytes == r.bytes {
        return Verdict::Agree;
    }
    // A copy descends from the other when the latest serial it shares with
    // it reaches the other's content (a fence's rewrite holds the content
    // of the serial it was fenced from).
    let content = |c: &Seen<'_>| c.fenced_from.unwrap_or(c.serial);
    let p_from_r = p.synced >= content(&r);
    let r_from_p = r.synced >= content(&p);
    match (p_from_r, r_from_p) {
        // Both: the same content under two serials; the higher goes on.
        (true, true) if p.serial >= r.serial => Verdict::Ahead(Copy::Primary),
        (true, true) => Verdict::Ahead(Copy::Replica),
        (true, false) => Verdict::Ahead(Copy::Primary),
        (false, true) => Verdict::Ahead(Copy::Replica),
        (false, false) => Verdict::Conflict(format!(
            "both changed since they last agreed (at serial {}): the replica by a run that wrote it alone (an unplanned failover while the primary bucket was unreachable), the primary by a run that could not reach the replica",
            p.synced.min(r.synced)
        )),
    }
}

fn uuid_text(n: u128) -> String {
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

struct Shared {
    primary: S3Backend,
    replica: S3Backend,
    mode: Mode,
    env: String,
    /// Set once the replica was found unreachable (normal mode): the run
    /// goes on with the primary copy alone.
    replica_down: AtomicBool,
    /// Set once a read went to the replica alone (primary unreachable).
    primary_down_noted: AtomicBool,
    /// The latest serial both copies are known to hold.
    synced: Mutex<u64>,
}

/// An environment's state, journal and lock in a primary bucket and its
/// replica in the other region.
#[derive(Clone)]
pub struct ReplicatedBackend {
    shared: Arc<Shared>,
}

impl ReplicatedBackend {
    /// `primary` and `replica` must be the same environment's, in
    /// different regions (`BackendSettings::resolve` checks the config).
    pub fn new(primary: S3Backend, replica: S3Backend, env: &str) -> Self {
        Self {
            shared: Arc::new(Shared {
                primary,
                replica,
                mode: Mode::Normal,
                env: env.to_owned(),
                replica_down: AtomicBool::new(false),
                primary_down_noted: AtomicBool::new(false),
                synced: Mutex::new(0),
            }),
        }
    }

    /// The same buckets for an unplanned failover: the replica alone.
    pub fn replica_only(&self) -> Self {
        let s = &self.shared;
        Self {
            shared: Arc::new(Shared {
                primary: s.primary.clone(),
                replica: s.replica.clone(),
                mode: Mode::ReplicaOnly,
                env: s.env.clone(),
                replica_down: AtomicBool::new(false),
                primary_down_noted: AtomicBool::new(false),
                synced: Mutex::new(0),
            }),
        }
    }

    pub fn mode(&self) -> Mode {
        self.shared.mode
    }

    /// The primary bucket's state object and region.
    pub fn primary(&self) -> &S3Backend {
        &self.shared.primary
    }

    /// The replica's state object and region.
    pub fn replica(&self) -> &S3Backend {
        &self.shared.replica
    }

    /// After a conflict: keeps `copy`'s state in both buckets, under the
    /// primary's lock, with a serial above both. Returns the serial.
    pub fn keep(&self, copy: Copy) -> Result<u64, StoreError> {
        let s = &self.shared;
        // Unfenced: both copies are rewritten below anyway, conditionally.
        let _lock = s
            .primary
            .lock_unfenced("state keep")
            .map_err(|e| StoreError::Remote {
                location: s.primary.location(),
                reason: e.to_string(),
            })?;
        let p = s.primary.read_copy()?;
        let r = s.replica.read_copy()?;
        let (kept, other) = match copy {
            Copy::Primary => (p, r),
            Copy::Replica => (r, p),
        };
        let Some(kept) = kept else {
            return Err(StoreError::Remote {
                location: self.location(),
                reason: format!("the {} holds no state to keep", copy.name()),
            });
        };
        let mut state = kept.state;
        state.serial = state.serial.max(other.map_or(0, |o| o.state.serial)) + 1;
        s.replica.write_copy(&state, state.serial)?;
        s.primary.write_copy(&state, state.serial)?;
        *s.synced.lock().expect("synced") = state.serial;
        Ok(state.serial)
    }
}

impl Shared {
    fn mark_replica_down(&self, what: &str) {
        if !self.replica_down.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                "the state replica {} ({}) is unreachable ({what}): this run goes on with the primary copy {} alone; the next run that reaches both copies updates the replica",
                self.replica.location(),
                self.replica.region(),
                self.primary.location()
            );
        }
    }

    /// Says once that the primary bucket is unreachable and what this
    /// run reads instead.
    fn reading_replica_alone(&self, e: &dyn std::fmt::Display) {
        if !self.primary_down_noted.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                "the primary state bucket {} in {} is unreachable ({e}); reading the replica {}, which every write reaches first. Commands that change anything need the primary's lock; if {} is down, `drctl failover --unplanned --env {}` runs on the replica alone",
                self.primary.location(),
                self.primary.region(),
                self.replica.location(),
                self.primary.region(),
                self.env
            );
        }
    }

    fn replica_reachable(&self) -> bool {
        self.mode == Mode::ReplicaOnly || !self.replica_down.load(Ordering::SeqCst)
    }

    /// Runs `f` on the replica in normal mode; an unreachable replica is
    /// marked down and `Ok(None)` returned.
    fn on_replica<T, E: std::fmt::Display>(
        &self,
        f: impl FnOnce(&S3Backend) -> Result<T, E>,
    ) -> Result<Option<T>, E> {
        if !self.replica_reachable() {
            return Ok(None);
        }
        match f(&self.replica) {
            Ok(v) => Ok(Some(v)),
            Err(e) if self.mode == Mode::Normal && self.replica.was_unreachable() => {
                self.mark_replica_down(&e.to_string());
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn primary_unreachable(&self, e: StoreError) -> StoreError {
        if self.primary.was_unreachable() {
            StoreError::Remote {
                location: self.primary.location(),
                reason: format!(
                    "the primary state bucket in {} is unreachable ({e}). If that region is down, `drctl failover --unplanned --env {}` runs on the replica {} alone",
                    self.primary.region(),
                    self.env,
                    self.replica.location()
                ),
            }
        } else {
            e
        }
    }

    fn conflict(&self, p: &StoredCopy, r: &StoredCopy, how: &str) -> StoreError {
        StoreError::Remote {
            location: self.primary.location(),
            reason: format!(
                "the two copies of the state disagree: {how}. Primary {} ({}): serial {}, {} resources, active role {}; replica {} ({}): serial {}, {} resources, active role {}. Nothing was changed. Compare them, then keep one with `drctl state keep --env {} --copy primary` or `--copy replica` (the other copy's changes are dropped; `drctl plan --refresh` then reads what exists in AWS into state)",
                self.primary.location(),
                self.primary.region(),
                p.state.serial,
                p.state.resources.len(),
                p.state.active_role.as_deref().unwrap_or("primary"),
                self.replica.location(),
                self.replica.region(),
                r.state.serial,
                r.state.resources.len(),
                r.state.active_role.as_deref().unwrap_or("primary"),
                self.env
            ),
        }
    }

    /// Both copies (the replica's `None` when unreachable) and how they
    /// relate; a conflict is an error.
    fn read_both(&self) -> Result<(Option<StoredCopy>, Option<StoredCopy>, Verdict), StoreError> {
        let p = self
            .primary
            .read_copy()
            .map_err(|e| self.primary_unreachable(e))?;
        let Some(r) = self.on_replica(S3Backend::read_copy)? else {
            let verdict = if p.is_some() {
                Verdict::Ahead(Copy::Primary)
            } else {
                Verdict::Neither
            };
            *self.synced.lock().expect("synced") = p.as_ref().map_or(0, |c| c.synced);
            return Ok((p, None, verdict));
        };
        let verdict = compare(p.as_ref().map(Seen::from), r.as_ref().map(Seen::from));
        if let (Verdict::Conflict(how), Some(pc), Some(rc)) = (&verdict, &p, &r) {
            return Err(self.conflict(pc, rc, how));
        }
        // The latest serial both hold: the older copy's, which the newer
        // descends from.
        let synced = match (&p, &r) {
            (Some(p), Some(r)) => p.state.serial.min(r.state.serial),
            _ => 0,
        };
        *self.synced.lock().expect("synced") = synced;
        Ok((p, Some(r).flatten(), verdict))
    }

    /// With the primary's lock just taken: unless the copies conflict
    /// (then nothing is changed), fences both, the replica first (a run
    /// that held the lock before writes the replica first, so it stops
    /// before writing either), then the newer copy over the older.
    fn fence_and_repair(&self) -> Result<(), StoreError> {
        self.read_both()?;
        let lock_err = |e: LockError| StoreError::Remote {
            location: self.primary.location(),
            reason: e.to_string(),
        };
        self.on_replica(S3Backend::fence).map_err(lock_err)?;
        self.primary.fence().map_err(lock_err)?;
        self.repair()
    }

    /// With the primary's lock held: the newer copy over the older.
    fn repair(&self) -> Result<(), StoreError> {
        let (p, r, verdict) = self.read_both()?;
        let behind = match (&verdict, self.replica_reachable()) {
            (Verdict::Ahead(Copy::Primary), true) => p.map(|c| (c, &self.replica)),
            (Verdict::Ahead(Copy::Replica), _) => r.map(|c| (c, &self.primary)),
            _ => None,
        };
        if let Some((newer, target)) = behind {
            tracing::info!(
                "state: {} is behind (serial {}); copying the newer copy there",
                target.location(),
                newer.state.serial
            );
            target.write_copy_of(&newer, newer.state.serial)?;
            *self.synced.lock().expect("synced") = newer.state.serial;
        }
        Ok(())
    }

    fn save(&self, state: &mut State) -> Result<(), StoreError> {
        if self.mode == Mode::Normal {
            // A run that lost the primary's lock writes neither copy.
            self.primary.check_lease()?;
        }
        state.serial += 1;
        let written = self.write(state);
        if written.is_err() {
            state.serial -= 1;
        }
        written
    }

    fn write(&self, state: &State) -> Result<(), StoreError> {
        let last = *self.synced.lock().expect("synced");
        if self.mode == Mode::ReplicaOnly {
            return self.replica.write_copy(state, last);
        }
        let replica = self.on_replica(|replica| replica.write_copy(state, state.serial));
        let synced = match replica {
            Ok(Some(())) => state.serial,
            Ok(None) => last,
            Err(StoreError::Conflict { location }) => {
                return Err(StoreError::Remote {
                    location,
                    reason: format!(
                        "the state replica changed since this run read it: an unplanned failover (which writes the replica alone, under the replica's lock) may have recorded a switch there, or another run wrote it. Nothing was overwritten and this run stops; run `drctl status --env {}`, then run again (drctl reconciles the copies, or shows both if both changed)",
                        self.env
                    ),
                });
            }
            Err(e) => return Err(e),
        };
        self.primary.write_copy(state, synced)?;
        *self.synced.lock().expect("synced") = synced;
        Ok(())
    }
}

impl Backend for ReplicatedBackend {
    fn location(&self) -> String {
        let s = &self.shared;
        match s.mode {
            Mode::Normal => format!(
                "{} (replica {})",
                s.primary.location(),
                s.replica.location()
            ),
            Mode::ReplicaOnly => format!(
                "{} (the replica; the primary copy {} is not contacted)",
                s.replica.location(),
                s.primary.location()
            ),
        }
    }

    fn load(&self) -> Result<Option<State>, StoreError> {
        let s = &self.shared;
        if s.mode == Mode::ReplicaOnly {
            let copy = s.replica.read_copy()?;
            *s.synced.lock().expect("synced") = copy.as_ref().map_or(0, |c| c.synced);
            return Ok(copy.map(|c| c.state));
        }
        let (p, r, verdict) = match s.read_both() {
            Ok(both) => both,
            // Reading needs no lock: a command that only reads (status, a
            // plan, `failover --plan`) goes on with the replica, which
            // every write reached first. One that writes needs the
            // primary's lock, and stops there.
            Err(e) if s.primary.was_unreachable() => {
                s.reading_replica_alone(&e);
                let copy = s.replica.read_copy()?;
                return Ok(copy.map(|c| c.state));
            }
            Err(e) => return Err(e),
        };
        Ok(match verdict {
            Verdict::Ahead(Copy::Replica) => r.map(|c| c.state),
            _ => p.map(|c| c.state),
        })
    }

    fn exists(&self) -> Result<bool, StoreError> {
        let s = &self.shared;
        if s.mode == Mode::ReplicaOnly {
            return s.replica.exists();
        }
        match s.primary.exists() {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) if s.primary.was_unreachable() => {
                s.reading_replica_alone(&e);
                return s.replica.exists();
            }
            Err(e) => return Err(e),
        }
        Ok(s.on_replica(S3Backend::exists)?.unwrap_or(false))
    }

    fn save(&self, state: &mut State) -> Result<(), StoreError> {
        self.shared.save(state)
    }

    fn record(&self, state: &mut State, _changed: &[Address]) -> Result<(), StoreError> {
        self.shared.save(state)
    }

    /// Every change is in both copies already; the copy whose lock this
    /// run holds checks the lease is still its own ([`S3Backend`]'s).
    fn compact(&self, state: &mut State) -> Result<(), StoreError> {
        let s = &self.shared;
        s.primary.compact(state)?;
        s.replica.compact(state)
    }

    fn lock(&self, operation: &str) -> Result<Box<dyn HeldLock>, LockError> {
        let s = &self.shared;
        let store_err = |e: StoreError| LockError::Remote {
            location: s.primary.location(),
            reason: e.to_string(),
        };
        if s.mode == Mode::ReplicaOnly {
            // Taking the lock fences the replica's state: whatever a holder
            // of the primary's lock prepared against it is refused.
            return s.replica.lock(operation);
        }
        // An unplanned failover running on the replica: wait for it.
        if let Some(Some(holder)) = s.on_replica(S3Backend::live_holder)? {
            return Err(LockError::HeldRemote {
                env: s.env.clone(),
                location: s.replica.lock_key_url(),
                holder: Box::new(holder),
            });
        }
        let held = s.primary.lock_unfenced(operation).map_err(|e| match e {
            LockError::Remote { location, reason } if s.primary.was_unreachable() => {
                LockError::Remote {
                    location,
                    reason: format!(
                        "{reason}; the primary state bucket in {} is unreachable. If that region is down, `drctl failover --unplanned --env {}` runs on the replica alone",
                        s.primary.region(),
                        s.env
                    ),
                }
            }
            e => e,
        })?;
        s.fence_and_repair().map_err(store_err)?;
        Ok(Box::new(held))
    }

    fn force_unlock(&self) -> Result<Option<LockInfo>, LockError> {
        let s = &self.shared;
        let primary = match s.mode {
            Mode::Normal => s.primary.force_unlock()?,
            Mode::ReplicaOnly => None,
        };
        let replica = s.on_replica(S3Backend::force_unlock)?.flatten();
        Ok(primary.or(replica))
    }

    fn open_intents(&self) -> Result<Vec<Intent>, JournalError> {
        let s = &self.shared;
        let mut all = match s.mode {
            Mode::Normal => match s.primary.open_intents() {
                Ok(open) => open,
                Err(e) if s.primary.was_unreachable() => {
                    s.reading_replica_alone(&e);
                    Vec::new()
                }
                Err(e) => return Err(e),
            },
            Mode::ReplicaOnly => Vec::new(),
        };
        // An intent only one journal holds (a run that died between the
        // two writes, or one that wrote one copy alone) is open all the
        // same: recovery resolves it against AWS either way.
        for intent in s.on_replica(S3Backend::open_intents)?.unwrap_or_default() {
            if !all.contains(&intent) {
                all.push(intent);
            }
        }
        all.sort_by_key(|i| i.id);
        Ok(all)
    }

    fn begin(&self) -> Box<dyn IntentLog + Send> {
        let s = &self.shared;
        let primary = (s.mode == Mode::Normal).then(|| s.primary.journal());
        let replica = s.replica_reachable().then(|| s.replica.journal());
        let next_id = primary
            .iter()
            .chain(replica.iter())
            .map(S3Journal::next_id)
            .max()
            .unwrap_or(1);
        Box::new(ReplicatedJournal {
            shared: Arc::clone(&self.shared),
            primary,
            replica,
            next_id,
        })
    }

    fn remove_journal(&self) -> Result<(), JournalError> {
        self.retain_journal(&[])
    }

    fn retain_journal(&self, open: &[Intent]) -> Result<(), JournalError> {
        let s = &self.shared;
        s.on_replica(|r| r.retain_journal(open))?;
        if s.mode == Mode::Normal {
            s.primary.retain_journal(open)?;
        }
        Ok(())
    }

    fn needs_repair(&self) -> Result<bool, StoreError> {
        let s = &self.shared;
        if s.mode == Mode::ReplicaOnly {
            return Ok(false);
        }
        let (_, _, verdict) = s.read_both()?;
        Ok(matches!(verdict, Verdict::Ahead(Copy::Replica))
            || (verdict == Verdict::Ahead(Copy::Primary) && s.replica_reachable()))
    }
}

/// Each intent in the replica's journal, then the primary's, under one id.
struct ReplicatedJournal {
    shared: Arc<Shared>,
    primary: Option<S3Journal>,
    replica: Option<S3Journal>,
    next_id: u64,
}

impl ReplicatedJournal {
    /// `f` on the replica's journal (unless it is down: then marked so,
    /// in normal mode), then on the primary's.
    fn each(
        &mut self,
        mut f: impl FnMut(&mut S3Journal) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        if let Some(replica) = &mut self.replica
            && self.shared.replica_reachable()
        {
            match f(replica) {
                Ok(()) => {}
                Err(e)
                    if self.shared.mode == Mode::Normal
                        && self.shared.replica.was_unreachable() =>
                {
                    self.shared.mark_replica_down(&e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        match &mut self.primary {
            Some(primary) => f(primary),
            None => Ok(()),
        }
    }
}

impl IntentLog for ReplicatedJournal {
    fn record(&mut self, intents: &mut [Intent]) -> Result<(), JournalError> {
        drctl_core::journal::number(intents, &mut self.next_id);
        self.each(|journal| journal.write(intents))
    }

    fn clear(&mut self, ids: &[u64]) -> Result<(), JournalError> {
        self.each(|journal| journal.clear_ids(ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(serial: u64, synced: u64, bytes: &[u8]) -> Seen<'_> {
        Seen {
            serial,
            synced,
            fenced_from: None,
            lineage: 0,
            bytes,
        }
    }

    #[test]
    fn the_newer_copy_wins_when_it_descends_from_the_older() {
        assert_eq!(compare(None, None), Verdict::Neither);
        assert_eq!(
            compare(Some(seen(3, 0, b"a")), None),
            Verdict::Ahead(Copy::Primary)
        );
        assert_eq!(
            compare(None, Some(seen(3, 0, b"a"))),
            Verdict::Ahead(Copy::Replica)
        );
        assert_eq!(
            compare(Some(seen(7, 7, b"a")), Some(seen(7, 7, b"a"))),
            Verdict::Agree
        );
        // The run died between the replica's write and the primary's.
        assert_eq!(
            compare(Some(seen(7, 7, b"a")), Some(seen(8, 8, b"b"))),
            Verdict::Ahead(Copy::Replica)
        );
        // An unplanned failover wrote the replica alone (fence + switch).
        assert_eq!(
            compare(Some(seen(7, 7, b"a")), Some(seen(9, 7, b"c"))),
            Verdict::Ahead(Copy::Replica)
        );
        // Runs that could not reach the replica wrote the primary alone.
        assert_eq!(
            compare(Some(seen(12, 7, b"d")), Some(seen(7, 7, b"a"))),
            Verdict::Ahead(Copy::Primary)
        );
        // A takeover fenced the primary (same content, serial 8) after an
        // unplanned failover took the replica from 7 to 9.
        let fenced = Seen {
            fenced_from: Some(7),
            ..seen(8, 7, b"a'")
        };
        assert_eq!(
            compare(Some(fenced), Some(seen(9, 7, b"c"))),
            Verdict::Ahead(Copy::Replica)
        );
        // ... or to 8, the fenced primary's serial.
        let fenced = Seen {
            fenced_from: Some(7),
            ..seen(8, 7, b"a'")
        };
        assert_eq!(
            compare(Some(fenced), Some(seen(8, 7, b"c"))),
            Verdict::Ahead(Copy::Replica)
        );
    }

    #[test]
    fn copies_that_both_changed_conflict() {
        // The primary alone from 7 to 9, the replica alone from 7 to 8.
        for (p, r) in [
            (seen(9, 7, b"p"), seen(8, 7, b"r")),
            (seen(8, 7, b"p"), seen(9, 7, b"r")),
            (seen(8, 7, b"p"), seen(8, 7, b"r")),
        ] {
            match compare(Some(p), Some(r)) {
                Verdict::Conflict(how) => assert!(how.contains("serial 7"), "{how}"),
                other => panic!("{other:?}"),
            }
        }
        let other = Seen {
            lineage: 1,
            ..seen(3, 3, b"x")
        };
        assert!(matches!(
            compare(Some(seen(3, 3, b"x")), Some(other)),
            Verdict::Conflict(how) if how.contains("different histories")
        ));
    }
}
