//! The S3 state backend: state, journal and lock of an environment as
//! objects under `s3://BUCKET/PREFIX/`, made safe for many operators on
//! many machines by S3's conditional writes (docs/state-format.md):
//!
//! - `<env>.lock`: created with `If-None-Match: *`, so exactly one writer
//!   holds it; its body names the holder and carries a lease, which the
//!   holder renews in the background by a PUT conditional on the ETag it
//!   wrote last. A run that finds the lock unchanged for a whole lease
//!   (and a margin), timed by its own clock from when it first saw that
//!   ETag, takes it over by a PUT conditional on that ETag, so of two
//!   takers one wins. Every write of state or journal first checks the
//!   lease is still held, and so does every mutating AWS call of the run
//!   (the lease is installed in the context's lease guard,
//!   `drctl_core::lease`). Leases are timed with a clock that counts
//!   suspend (`CLOCK_BOOTTIME`).
//! - Every acquire fences the state: it rewrites the state object (the
//!   same document, one more trailing space), so a previous holder still
//!   running (force-unlocked under it, or taken over) fails its next write,
//!   which is conditional on the ETag it knew, and then finds and reports
//!   the lock lost.
//! - `<env>.json`: every write is conditional on the ETag this process
//!   read or wrote last (`If-Match`), or on absence (`If-None-Match: *`), so
//!   a write never overwrites state it has not seen. S3 has no append, so
//!   each finished resource rewrites the snapshot: a PUT replaces the whole
//!   object atomically, which gives what the local change log gives (every
//!   finished resource durable before its intent is cleared) with no log.
//! - `<env>.json.backup`: a server-side copy of the state as this process
//!   first found it, made before its first write.
//! - `<env>.journal/<id>.json`: one object per open intent, deleted once
//!   state records its outcome.
//!
//! The [`Backend`] methods are synchronous; each waits for its requests on
//! the runtime with `block_in_place`, so it needs tokio's multi-thread
//! runtime (the binary's).

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use drctl_core::Address;
use drctl_core::backend::{Backend, HeldLock};
use drctl_core::journal::{Intent, IntentLog, JournalError};
use drctl_core::lease::{Clock, InstalledLease, Lease};
use drctl_core::lock::{LeaseLost, LockError, LockInfo};
use drctl_core::state::{self, State};
use drctl_core::store::StoreError;
use futures::StreamExt;
use tokio::runtime::Handle;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use drctl_aws::error_chain;
use drctl_aws::{AwsContext, Connection};

/// Where the objects of one environment live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Key prefix without leading or trailing `/`; may be empty.
    pub prefix: String,
    /// The bucket's region.
    pub region: String,
}

/// The lease this process's locks carry, and the host they name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// How long a lock stays ours after each renewal; renewed every third.
    pub duration: Duration,
    /// The host recorded in the lock (and compared with a dead holder's).
    pub host: String,
}

impl LeaseSettings {
    /// The default lease: long enough that a busy machine renews in time,
    /// short enough that a dead holder's lock frees itself in minutes.
    pub const DEFAULT: Duration = Duration::from_secs(60);

    /// [`Self::DEFAULT`] on this machine's hostname.
    pub fn on_this_host() -> Self {
        Self {
            duration: Self::DEFAULT,
            host: drctl_core::lock::this_host(),
        }
    }

    fn renew_every(&self) -> Duration {
        self.duration / 3
    }

    /// How long after sending a renewal this process still writes: a
    /// quarter of the lease short of it, so a write sent just before then
    /// has time to land before any taker may act.
    fn writable_for(&self) -> Duration {
        self.duration - self.duration / 4
    }
}

/// How long a taker waits, from when it first saw a lock's ETag, before it
/// takes over a lock whose holder promised `lease`: the lease and a
/// quarter, so the holder's last write (a quarter short of its lease, see
/// [`LeaseSettings::writable_for`]) has half a lease to land.
fn takeover_after(lease: Duration) -> Duration {
    lease + lease / 4
}

/// The lock this process holds, as it last wrote it.
struct Held {
    info: LockInfo,
    etag: String,
    /// Until when this process may write, by its lease clock
    /// ([`Inner::clock`]).
    writable_until: Duration,
    /// Set once the lock is known to be someone else's (or gone).
    lost: Option<String>,
}

struct Inner {
    aws: Arc<OnceCell<AwsContext>>,
    connection: Connection,
    location: S3Location,
    env: String,
    handle: Handle,
    /// The state object's ETag as this process last read or wrote it:
    /// `None` before the first read, `Some(None)` when it did not exist.
    etag: Mutex<Option<Option<String>>>,
    backed_up: AtomicBool,
    lease: LeaseSettings,
    held: Mutex<Option<Held>>,
    /// One renewal at a time (the background task's and a writer's).
    renewing: tokio::sync::Mutex<()>,
    /// Set when a request found the bucket's endpoint unreachable (no
    /// connection, a timeout, or 5xx after the SDK's retries): a
    /// replicated backend then goes on without this copy.
    unreachable: AtomicBool,
    /// What leases are timed with: one that counts suspend, so that a
    /// machine that slept through its lease knows it on waking.
    clock: Arc<dyn Clock>,
}

/// The user metadata (`x-amz-meta-drctl-synced-serial`) of a state copy
/// in a replicated backend: the latest serial it shares with the other
/// copy (docs/state-format.md, "Replica").
const SYNCED_META: &str = "drctl-synced-serial";
/// The user metadata of a state copy an older drctl's fence rewrote with
/// serial + 1 (`x-amz-meta-drctl-fenced-from`): the serial whose content it
/// holds unchanged, so that a replica comparing with it sees no change of
/// its own. Fences now keep the serial (see `fence_state`) and only carry
/// this over.
const FENCED_META: &str = "drctl-fenced-from";

/// The user metadata a state object carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct CopyMeta {
    pub synced: Option<u64>,
    pub fenced_from: Option<u64>,
}

/// A state document as stored in one bucket.
pub(super) struct StoredCopy {
    pub state: State,
    /// [`SYNCED_META`]: 0 when absent (a copy written without a replica).
    pub synced: u64,
    /// [`FENCED_META`]: the serial whose content a fence left unchanged.
    pub fenced_from: Option<u64>,
    /// The object's bytes as stored (a fence's trailing spaces included),
    /// to compare copies and to copy one over the other.
    pub bytes: Vec<u8>,
}

/// An environment's state, journal and lock in S3.
#[derive(Clone)]
pub struct S3Backend {
    inner: Arc<Inner>,
}

/// Why a lease was lost when its lock object is gone.
fn removed() -> String {
    "its lock object was removed (by `drctl force-unlock`, or by a run that took the lock over after this one's lease lapsed and has finished since)".into()
}

/// Renews the lease every third of it until the lock is released (the
/// task is aborted) or lost.
async fn renew_in_background(inner: Weak<Inner>) {
    loop {
        let Some(every) = inner.upgrade().map(|i| i.lease.renew_every()) else {
            return;
        };
        tokio::time::sleep(every).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        // The run's next write reports it as its error.
        if let Err(lost) = inner.renew().await {
            tracing::info!("{lost}");
            return;
        }
    }
}

/// What a failed request means to the protocol.
enum Failure {
    /// 412: a condition (If-Match / If-None-Match) did not hold.
    Precondition,
    NotFound,
    Other(String),
}

fn classify<E>(err: SdkError<E, HttpResponse>, bucket: &str, region: &str) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    match (status, err.code()) {
        (_, Some("NoSuchBucket")) => Failure::Other(format!(
            "the state bucket `{bucket}` does not exist (drctl does not create it); create it with `aws s3 mb s3://{bucket} --region {region}` (versioning recommended), or fix the backend URL"
        )),
        // 409 ConditionalRequestConflict: a concurrent conditional write
        // to the key won; like 412, the object is not what we expected.
        (Some(412), _)
        | (_, Some("PreconditionFailed"))
        | (Some(409), Some("ConditionalRequestConflict")) => Failure::Precondition,
        (Some(404), _) | (_, Some("NoSuchKey")) => Failure::NotFound,
        _ => Failure::Other(error_chain(&err)),
    }
}

impl S3Backend {
    /// The backend of `env` at `location`. AWS is configured on first use
    /// through `aws` (shared with the caller, so both use one context),
    /// reached as `connection` says. Must be called within a tokio runtime.
    pub fn new(
        aws: Arc<OnceCell<AwsContext>>,
        connection: Connection,
        location: S3Location,
        env: &str,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                aws,
                connection,
                location,
                env: env.to_owned(),
                handle: Handle::current(),
                etag: Mutex::new(None),
                backed_up: AtomicBool::new(false),
                lease: LeaseSettings::on_this_host(),
                held: Mutex::new(None),
                renewing: tokio::sync::Mutex::new(()),
                unreachable: AtomicBool::new(false),
                clock: drctl_core::lease::boot_clock(),
            }),
        }
    }

    /// Locks taken from now on carry this lease and name this host.
    pub fn with_lease(mut self, lease: LeaseSettings) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the lease is set before the backend is shared")
            .lease = lease;
        self
    }

    /// Leases timed with `clock` (a test's, to stand for a suspend).
    #[cfg(test)]
    fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the clock is set before the backend is shared")
            .clock = clock;
        self
    }

    pub fn state_key(&self) -> String {
        self.inner.key(&format!("{}.json", self.inner.env))
    }
    pub fn backup_key(&self) -> String {
        self.inner.key(&format!("{}.json.backup", self.inner.env))
    }
    pub fn lock_key(&self) -> String {
        self.inner.key(&format!("{}.lock", self.inner.env))
    }
    /// Journal objects are `<this><id, 20 digits>.json`.
    pub fn journal_prefix(&self) -> String {
        self.inner.key(&format!("{}.journal/", self.inner.env))
    }

    /// The bucket's region.
    pub fn region(&self) -> &str {
        &self.inner.location.region
    }

    /// Whether a request of this process found the bucket unreachable.
    pub(super) fn was_unreachable(&self) -> bool {
        self.inner.unreachable.load(Ordering::SeqCst)
    }

    pub(super) fn read_copy(&self) -> Result<Option<StoredCopy>, StoreError> {
        self.inner.wait(self.inner.read_copy())
    }

    /// Stores `state` as it is, with its [`SYNCED_META`].
    pub(super) fn write_copy(&self, state: &State, synced: u64) -> Result<(), StoreError> {
        let meta = CopyMeta {
            synced: Some(synced),
            fenced_from: None,
        };
        self.inner
            .wait(self.inner.write(state::encode(state), meta))
    }

    /// Stores the other bucket's copy byte for byte (a fence's trailing
    /// spaces included, so that the two compare equal), with its
    /// [`SYNCED_META`] and [`FENCED_META`].
    pub(super) fn write_copy_of(&self, copy: &StoredCopy, synced: u64) -> Result<(), StoreError> {
        let meta = CopyMeta {
            synced: Some(synced),
            fenced_from: copy.fenced_from,
        };
        self.inner.wait(self.inner.write(copy.bytes.clone(), meta))
    }

    /// Takes the lock without fencing the state (a replicated backend
    /// fences both copies itself, once it knows they agree).
    pub(super) fn lock_unfenced(&self, operation: &str) -> Result<S3Lock, LockError> {
        self.inner.wait(self.inner.acquire(operation, false))
    }

    /// The lock's holder, if it is held by a run that may be alive: not
    /// one that died on this host, nor one whose lease lapsed by its clock.
    pub(super) fn live_holder(&self) -> Result<Option<LockInfo>, LockError> {
        let inner = &self.inner;
        let holder = inner
            .wait(async { Ok::<_, LockError>(inner.holder().await?.map(|(info, _)| info)) })?;
        Ok(holder.filter(|h| {
            !h.holder_is_dead_on(&inner.lease.host)
                && (h.lease_seconds.is_none() || h.lease_looks_live())
        }))
    }

    /// The lock object's URL, for messages.
    pub(super) fn lock_key_url(&self) -> String {
        self.inner.url(&self.inner.lock_key())
    }

    /// Checks (and if close to lapsing, renews) the lease of the lock this
    /// process holds here, if any.
    pub(super) fn check_lease(&self) -> Result<(), LeaseLost> {
        self.inner.wait(self.inner.ensure_lease())
    }

    /// Rewrites the state (one more trailing space, its metadata kept), so
    /// that every write a run prepared against the version before is
    /// refused.
    pub(super) fn fence(&self) -> Result<(), LockError> {
        self.inner.wait(self.inner.fence_state())
    }

    /// A journal whose ids follow every intent already in it.
    pub(super) fn journal(&self) -> S3Journal {
        let inner = &self.inner;
        let last = inner.wait(async {
            inner
                .list(&self.journal_prefix())
                .await
                .unwrap_or_default()
                .iter()
                .filter_map(|k| {
                    k.rsplit('/')
                        .next()?
                        .strip_suffix(".json")?
                        .parse::<u64>()
                        .ok()
                })
                .max()
                .unwrap_or(0)
        });
        S3Journal {
            inner: Arc::clone(&self.inner),
            next_id: last + 1,
            written: Default::default(),
        }
    }
}

impl Inner {
    fn key(&self, name: &str) -> String {
        if self.location.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.location.prefix)
        }
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.location.bucket)
    }

    fn classify<E>(&self, err: SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let down = matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
        ) || err
            .raw_response()
            .is_some_and(|r| r.status().is_server_error());
        if down {
            self.unreachable.store(true, Ordering::SeqCst);
        }
        classify(err, &self.location.bucket, &self.location.region)
    }

    /// Runs `f` to completion from synchronous code, off the async workers.
    fn wait<T>(&self, f: impl Future<Output = T>) -> T {
        tokio::task::block_in_place(|| self.handle.block_on(f))
    }

    /// The state backend's own S3 client: outside the lease guard (it
    /// renews the lease, and reads who took it).
    async fn client(&self) -> Client {
        self.aws
            .get_or_init(|| AwsContext::load(&self.connection))
            .await
            .state_s3(&self.location.region)
    }

    /// The object's bytes and ETag, or `None` if it does not exist.
    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, Option<String>)>, String> {
        let out = self
            .client()
            .await
            .get_object()
            .bucket(&self.location.bucket)
            .key(key)
            .send()
            .await;
        match out {
            Ok(out) => {
                let etag = out.e_tag().map(str::to_owned);
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| format!("reading {}: {e}", self.url(key)))?
                    .into_bytes()
                    .to_vec();
                Ok(Some((bytes, etag)))
            }
            Err(e) => match self.classify(e) {
                Failure::NotFound => Ok(None),
                Failure::Precondition => {
                    Err(format!("reading {}: precondition failed", self.url(key)))
                }
                Failure::Other(reason) => Err(reason),
            },
        }
    }

    /// The state object's bytes, ETag and [`SYNCED_META`], or `None`.
    async fn get_state_object(
        &self,
    ) -> Result<Option<(Vec<u8>, Option<String>, CopyMeta)>, String> {
        let key = self.state_key();
        let out = self
            .client()
            .await
            .get_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .send()
            .await;
        match out {
            Ok(out) => {
                let etag = out.e_tag().map(str::to_owned);
                let number = |key: &str| {
                    out.metadata()
                        .and_then(|m| m.get(key))
                        .and_then(|v| v.parse().ok())
                };
                let meta = CopyMeta {
                    synced: number(SYNCED_META),
                    fenced_from: number(FENCED_META),
                };
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| format!("reading {}: {e}", self.url(&key)))?
                    .into_bytes()
                    .to_vec();
                Ok(Some((bytes, etag, meta)))
            }
            Err(e) => match self.classify(e) {
                Failure::NotFound => Ok(None),
                Failure::Precondition => {
                    Err(format!("reading {}: precondition failed", self.url(&key)))
                }
                Failure::Other(reason) => Err(reason),
            },
        }
    }

    /// PUT with a condition: `Some(etag)` = If-Match, `None` = If-None-Match: *.
    async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<Option<String>, Failure> {
        self.put_if_with(key, bytes, expected, CopyMeta::default())
            .await
    }

    /// [`Self::put_if`] with the copy's [`SYNCED_META`], if given.
    async fn put_if_with(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
        meta: CopyMeta,
    ) -> Result<Option<String>, Failure> {
        let mut req = self
            .client()
            .await
            .put_object()
            .bucket(&self.location.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes));
        if let Some(synced) = meta.synced {
            req = req.metadata(SYNCED_META, synced.to_string());
        }
        if let Some(from) = meta.fenced_from {
            req = req.metadata(FENCED_META, from.to_string());
        }
        req = match expected {
            Some(etag) => req.if_match(etag),
            None => req.if_none_match("*"),
        };
        match req.send().await {
            Ok(out) => Ok(out.e_tag().map(str::to_owned)),
            Err(e) => Err(self.classify(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), String> {
        match self
            .client()
            .await
            .delete_object()
            .bucket(&self.location.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match self.classify(e) {
                Failure::NotFound => Ok(()),
                Failure::Precondition => {
                    Err(format!("deleting {}: precondition failed", self.url(key)))
                }
                Failure::Other(reason) => Err(reason),
            },
        }
    }

    /// DELETE conditional on the object's ETag (`If-Match`).
    async fn delete_if(&self, key: &str, etag: &str) -> Result<(), Failure> {
        match self
            .client()
            .await
            .delete_object()
            .bucket(&self.location.bucket)
            .key(key)
            .if_match(etag)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.classify(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, String> {
        let mut keys = Vec::new();
        let mut pages = self
            .client()
            .await
            .list_objects_v2()
            .bucket(&self.location.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| match self.classify(e) {
                Failure::Other(reason) => reason,
                _ => format!("listing {}: unexpected answer", self.url(prefix)),
            })?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys.sort();
        Ok(keys)
    }

    fn state_key(&self) -> String {
        self.key(&format!("{}.json", self.env))
    }

    fn remote(&self, reason: String) -> StoreError {
        StoreError::Remote {
            location: self.url(&self.state_key()),
            reason,
        }
    }

    fn journal_key(&self, id: u64) -> String {
        self.key(&format!("{}.journal/{id:020}.json", self.env))
    }

    fn journal_err(&self, reason: String) -> JournalError {
        JournalError::Remote {
            location: self.url(&self.key(&format!("{}.journal/", self.env))),
            reason,
        }
    }

    fn lock_key(&self) -> String {
        self.key(&format!("{}.lock", self.env))
    }

    fn lock_err(&self, reason: String) -> LockError {
        LockError::Remote {
            location: self.url(&self.lock_key()),
            reason,
        }
    }

    /// The current holder and the lock object's ETag, if it is held.
    async fn holder(&self) -> Result<Option<(LockInfo, Option<String>)>, LockError> {
        let key = self.lock_key();
        let Some((bytes, etag)) = self.get(&key).await.map_err(|r| self.lock_err(r))? else {
            return Ok(None);
        };
        let info = serde_json::from_slice(&bytes).map_err(|e| LockError::Unreadable {
            env: self.env.clone(),
            path: PathBuf::from(self.url(&key)),
            reason: e.to_string(),
        })?;
        Ok(Some((info, etag)))
    }

    /// Takes the lock; with `fence`, fences the state once held (see
    /// [`Self::fence_state`]).
    async fn acquire(self: &Arc<Self>, operation: &str, fence: bool) -> Result<S3Lock, LockError> {
        let mut info = LockInfo::for_this_process(operation);
        info.host = self.lease.host.clone();
        info.stamp_lease(self.lease.duration);
        let body = serde_json::to_vec_pretty(&info).expect("lock info serialises");
        let key = self.lock_key();
        // The holder this run replaced, once its takeover PUT went through.
        let mut took_over: Option<LockInfo> = None;
        // Bounded: the lock may be released or change hands between our
        // PUT and our read.
        for _ in 0..5 {
            let sent = self.clock.now();
            match self.put_if(&key, body.clone(), None).await {
                Ok(etag) => return self.held(info, etag, sent, None, fence).await,
                Err(Failure::Precondition) => {}
                Err(Failure::NotFound) => {
                    return Err(self.lock_err("PutObject answered 404".into()));
                }
                Err(Failure::Other(reason)) => return Err(self.lock_err(reason)),
            }
            let Some((holder, etag)) = self.holder().await? else {
                continue;
            };
            // A retried PUT whose first attempt did succeed finds our own
            // lock (the create's, or the takeover's).
            if holder.id == info.id {
                return self.held(info, etag, sent, took_over, fence).await;
            }
            let Some(etag) = etag else {
                return Err(self.lock_err("GetObject answered without an ETag".into()));
            };
            let refused = || LockError::HeldRemote {
                env: self.env.clone(),
                location: self.url(&key),
                holder: Box::new(holder.clone()),
            };
            // A holder that died on this host is replaced at once; one whose
            // lease lapsed, once it stayed unchanged for a whole lease.
            if !holder.holder_is_dead_on(&self.lease.host) {
                let Some(lease) = holder.lease_seconds.map(Duration::from_secs) else {
                    return Err(refused());
                };
                if holder.lease_looks_live() {
                    return Err(refused());
                }
                if !self.unchanged_for(&holder, &etag, lease).await? {
                    // Renewed while we watched: alive, whatever its clock
                    // says; gone: try again.
                    match self.holder().await? {
                        None => continue,
                        Some((now, _)) => {
                            return Err(LockError::HeldRemote {
                                env: self.env.clone(),
                                location: self.url(&key),
                                holder: Box::new(now),
                            });
                        }
                    }
                }
            }
            // One conditional write: of two takers, one wins; the other
            // finds the winner on its next read and is refused.
            let sent = self.clock.now();
            match self.put_if(&key, body.clone(), Some(&etag)).await {
                Ok(new_etag) => {
                    return self.held(info, new_etag, sent, Some(holder), fence).await;
                }
                Err(Failure::Precondition | Failure::NotFound) => {
                    took_over = Some(holder);
                    continue;
                }
                Err(Failure::Other(reason)) => return Err(self.lock_err(reason)),
            }
        }
        Err(self.lock_err(
            "the lock changed hands several times while drctl tried to take it; run again".into(),
        ))
    }

    /// Watches the lock of `holder` (at `etag`) until it has stayed unchanged
    /// for [`takeover_after`] its lease, timed from now by this machine's
    /// lease clock: no clock agreement between machines is needed.
    /// `false` if it changed or went away meanwhile.
    async fn unchanged_for(
        &self,
        holder: &LockInfo,
        etag: &str,
        lease: Duration,
    ) -> Result<bool, LockError> {
        let first_seen = self.clock.now();
        let wait = takeover_after(lease);
        tracing::warn!(
            "the lock of `{}` is held by {holder}, whose lease lapsed at {} by its clock; waiting up to {} s to see whether it is renewed before taking it over",
            self.env,
            holder.expires_at.as_deref().unwrap_or("?"),
            wait.as_secs_f64().ceil()
        );
        let poll = (lease / 8).clamp(Duration::from_millis(100), Duration::from_secs(2));
        loop {
            let left = wait.saturating_sub(self.clock.now().saturating_sub(first_seen));
            if left.is_zero() {
                return Ok(true);
            }
            tokio::time::sleep(poll.min(left)).await;
            match self.holder().await? {
                Some((_, Some(now))) if now == etag => {}
                _ => return Ok(false),
            }
        }
    }

    /// Records the lock as ours (announcing a takeover), installs its lease
    /// in the context's lease guard, starts renewing it, and with `fence`
    /// fences the state.
    async fn held(
        self: &Arc<Self>,
        info: LockInfo,
        etag: Option<String>,
        sent: Duration,
        took_over: Option<LockInfo>,
        fence: bool,
    ) -> Result<S3Lock, LockError> {
        let etag = match etag {
            Some(etag) => etag,
            // PutObject answers with the ETag; read it if it did not.
            None => match self.holder().await? {
                Some((holder, Some(etag))) if holder.id == info.id => etag,
                _ => return Err(self.lock_err("PutObject answered without an ETag".into())),
            },
        };
        *self.held.lock().expect("held") = Some(Held {
            info: info.clone(),
            etag,
            writable_until: sent + self.lease.writable_for(),
            lost: None,
        });
        // The context is loaded: the PUT above went through it.
        let installed = self.aws.get().map(|ctx| {
            let lease: Arc<dyn Lease> = Arc::clone(self) as Arc<dyn Lease>;
            ctx.lease_guard().install(lease)
        });
        let lock = S3Lock {
            inner: Arc::clone(self),
            info,
            renewer: Some(self.handle.spawn(renew_in_background(Arc::downgrade(self)))),
            _installed: installed,
        };
        if let Some(previous) = took_over {
            tracing::warn!(
                "took over the lock of `{}` from {previous}: its lease lapsed without renewal",
                self.env
            );
        }
        if fence {
            // On error `lock` is dropped, which releases the lock again.
            self.fence_state().await?;
        }
        Ok(lock)
    }

    /// Rewrites the state object right after every acquire, so that its
    /// ETag changes: the lock may have been free because it was
    /// force-unlocked, or deleted by hand, under a run that still goes on,
    /// or taken over from one that lost its lease; that run's writes,
    /// conditional on the ETag it knew, are then refused by S3, and it
    /// stops (it finds its lock gone or someone else's).
    ///
    /// The rewrite is the same bytes and one more trailing space: the same
    /// JSON document (serial included, so a saved plan stays valid and
    /// serials keep meaning writes), and bytes no earlier version had (the
    /// trailing spaces only grow until the next write, whose serial is
    /// new), so no stale ETag can ever match again.
    async fn fence_state(&self) -> Result<(), LockError> {
        let key = self.state_key();
        for _ in 0..3 {
            let Some((bytes, Some(etag), meta)) = self
                .get_state_object()
                .await
                .map_err(|r| self.lock_err(r))?
            else {
                return Ok(());
            };
            // An unusable state is reported by the run's own load.
            if state::decode(&bytes).is_err() {
                return Ok(());
            }
            let mut fenced = bytes;
            fenced.push(b' ');
            // The same document and metadata: a replicated backend must not
            // read it as a change.
            match self.put_if_with(&key, fenced, Some(&etag), meta).await {
                Ok(_) => return Ok(()),
                // A previous holder's write landed meanwhile: fence that one.
                Err(Failure::Precondition | Failure::NotFound) => {}
                Err(Failure::Other(reason)) => return Err(self.lock_err(reason)),
            }
        }
        Err(self.lock_err(format!(
            "took the lock, but {} kept changing: a previous holder (force-unlocked, or whose lease lapsed) may still be running. Check it, then run again",
            self.url(&key)
        )))
    }

    fn lease_lost(&self, what: String) -> LeaseLost {
        LeaseLost {
            env: self.env.clone(),
            location: self.url(&self.lock_key()),
            what,
        }
    }

    /// Renews the lease of the lock this process holds, if it holds one.
    /// A lock found to be someone else's (or gone) is marked lost; a
    /// request that fails otherwise leaves the lease as it was.
    async fn renew(&self) -> Result<(), LeaseLost> {
        let _one_at_a_time = self.renewing.lock().await;
        let (mut info, etag) = {
            let held = self.held.lock().expect("held");
            let Some(held) = held.as_ref() else {
                return Ok(());
            };
            if let Some(what) = &held.lost {
                return Err(self.lease_lost(what.clone()));
            }
            (held.info.clone(), held.etag.clone())
        };
        info.renewals += 1;
        info.stamp_lease(self.lease.duration);
        let body = serde_json::to_vec_pretty(&info).expect("lock info serialises");
        let key = self.lock_key();
        let sent = self.clock.now();
        let outcome = match self.put_if(&key, body, Some(&etag)).await {
            Ok(Some(new_etag)) => Ok(Some(new_etag)),
            // Without an ETag in the answer, or after a condition that
            // failed: read who holds it. Only this process writes its id,
            // so a lock with our id is still ours.
            Ok(None) | Err(Failure::Precondition) => match self.holder().await {
                Ok(Some((holder, Some(now)))) if holder.id == info.id => Ok(Some(now)),
                Ok(Some((holder, _))) => Err(format!(
                    "the lock is now held by {holder} (this run's lease lapsed, or the lock was force-unlocked, and that run took it)"
                )),
                Ok(None) => Err(removed()),
                Err(e) => {
                    tracing::debug!("renewing the lease of `{}`: {e}", self.env);
                    Ok(None)
                }
            },
            Err(Failure::NotFound) => Err(removed()),
            Err(Failure::Other(reason)) => {
                tracing::debug!("renewing the lease of `{}`: {reason}", self.env);
                Ok(None)
            }
        };
        let mut held = self.held.lock().expect("held");
        let Some(held) = held.as_mut().filter(|h| h.info.id == info.id) else {
            return Ok(());
        };
        match outcome {
            Ok(Some(new_etag)) => {
                held.info = info;
                held.etag = new_etag;
                held.writable_until = sent + self.lease.writable_for();
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(what) => {
                held.lost = Some(what.clone());
                Err(self.lease_lost(what))
            }
        }
    }

    /// Before every write of state or journal: the lock this process holds
    /// (if any) is still its own and its lease has time left; one close to
    /// lapsing is renewed first. A write made without the lock (e.g. by a
    /// test of the backend alone) is not checked here.
    async fn ensure_lease(&self) -> Result<(), LeaseLost> {
        let fresh = |held: &Held| self.clock.now() < held.writable_until;
        {
            let held = self.held.lock().expect("held");
            match held.as_ref() {
                None => return Ok(()),
                Some(h) if h.lost.is_some() => {}
                Some(h) if fresh(h) => return Ok(()),
                Some(_) => {}
            }
        }
        self.renew().await?;
        let held = self.held.lock().expect("held");
        match held.as_ref() {
            Some(h) if !fresh(h) => Err(self.not_renewed(h)),
            _ => Ok(()),
        }
    }

    /// The lease ran out before a renewal landed (the process was paused or
    /// suspended, or S3 did not answer): another run may hold the lock now.
    fn not_renewed(&self, held: &Held) -> LeaseLost {
        let renewed = held
            .writable_until
            .saturating_sub(self.lease.writable_for());
        self.lease_lost(format!(
            "it could not renew its lease in time (the last renewal was {} s ago, suspend included; the lease is {} s), so another run may have taken the lock over",
            self.clock.now().saturating_sub(renewed).as_secs(),
            self.lease.duration.as_secs()
        ))
    }

    async fn save(&self, state: &mut State) -> Result<(), StoreError> {
        state.serial += 1;
        let written = self.write(state::encode(state), CopyMeta::default()).await;
        if written.is_err() {
            state.serial -= 1;
        }
        written
    }

    /// Stores a state document, conditional on the version this process
    /// read or wrote last, with the copy's metadata.
    async fn write(&self, bytes: Vec<u8>, meta: CopyMeta) -> Result<(), StoreError> {
        match self.write_conditional(bytes, meta).await {
            // Refused by a fence (or a hand edit): if the lock is no longer
            // this run's, say that, and mark the lease lost, which stops
            // the run's AWS calls too; a bare conflict otherwise.
            Err(conflict @ StoreError::Conflict { .. }) => {
                let holds = self.held.lock().expect("held").is_some();
                if holds && let Err(lost) = self.renew().await {
                    return Err(lost.into());
                }
                Err(conflict)
            }
            written => written,
        }
    }

    /// [`Self::write`], a conflict reported as such.
    async fn write_conditional(&self, bytes: Vec<u8>, meta: CopyMeta) -> Result<(), StoreError> {
        self.ensure_lease().await?;
        let key = self.state_key();
        // Never read: this process has seen no state, so it may only
        // create one.
        let expected = self.etag.lock().expect("etag").clone().unwrap_or_default();
        if let Some(etag) = &expected
            && !self.backed_up.load(Ordering::SeqCst)
        {
            self.backup(&key, etag).await?;
            self.backed_up.store(true, Ordering::SeqCst);
        }
        let written = match self
            .put_if_with(&key, bytes.clone(), expected.as_deref(), meta)
            .await
        {
            Ok(etag) => Ok(etag),
            Err(Failure::Precondition | Failure::NotFound) => {
                // A retried PUT whose first attempt succeeded fails its
                // condition against our own write: tell the two apart.
                match self.get(&key).await {
                    Ok(Some((current, etag))) if current == bytes => Ok(etag),
                    _ => Err(StoreError::Conflict {
                        location: self.url(&key),
                    }),
                }
            }
            Err(Failure::Other(reason)) => Err(self.remote(reason)),
        };
        let etag = written?;
        *self.etag.lock().expect("etag") = Some(etag);
        Ok(())
    }

    /// Copies the state as this process found it to `<env>.json.backup`,
    /// only if it is still that version.
    async fn backup(&self, key: &str, etag: &str) -> Result<(), StoreError> {
        let backup_key = self.key(&format!("{}.json.backup", self.env));
        let out = self
            .client()
            .await
            .copy_object()
            .bucket(&self.location.bucket)
            .key(&backup_key)
            .copy_source(format!("{}/{key}", self.location.bucket))
            .copy_source_if_match(etag)
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) => Err(match self.classify(e) {
                Failure::Precondition | Failure::NotFound => StoreError::Conflict {
                    location: self.url(key),
                },
                Failure::Other(reason) => self.remote(reason),
            }),
        }
    }

    async fn load(&self) -> Result<Option<State>, StoreError> {
        Ok(self.read_copy().await?.map(|c| c.state))
    }

    /// The stored state with its [`SYNCED_META`]; remembers its ETag, so
    /// that this process's next write is conditional on it.
    async fn read_copy(&self) -> Result<Option<StoredCopy>, StoreError> {
        let key = self.state_key();
        let found = self.get_state_object().await.map_err(|r| self.remote(r))?;
        let Some((bytes, etag, meta)) = found else {
            *self.etag.lock().expect("etag") = Some(None);
            return Ok(None);
        };
        let url = self.url(&key);
        let state = state::decode(&bytes).map_err(|source| StoreError::Decode {
            path: PathBuf::from(&url),
            backup: PathBuf::from(self.url(&format!("{key}.backup"))),
            source,
        })?;
        if state.env != self.env {
            return Err(StoreError::WrongEnv {
                path: PathBuf::from(url),
                found: state.env,
                expected: self.env.clone(),
            });
        }
        *self.etag.lock().expect("etag") = Some(etag);
        Ok(Some(StoredCopy {
            state,
            synced: meta.synced.unwrap_or(0),
            fenced_from: meta.fenced_from,
            bytes,
        }))
    }
}

impl Backend for S3Backend {
    fn location(&self) -> String {
        self.inner.url(&self.state_key())
    }

    fn load(&self) -> Result<Option<State>, StoreError> {
        self.inner.wait(self.inner.load())
    }

    fn exists(&self) -> Result<bool, StoreError> {
        let inner = &self.inner;
        inner.wait(async {
            let out = inner
                .client()
                .await
                .head_object()
                .bucket(&inner.location.bucket)
                .key(inner.state_key())
                .send()
                .await;
            match out {
                Ok(_) => Ok(true),
                Err(e) => match inner.classify(e) {
                    Failure::NotFound => Ok(false),
                    Failure::Precondition => Ok(true),
                    Failure::Other(reason) => Err(inner.remote(reason)),
                },
            }
        })
    }

    fn save(&self, state: &mut State) -> Result<(), StoreError> {
        self.inner.wait(self.inner.save(state))
    }

    /// S3 has no append: the whole snapshot is rewritten (conditionally),
    /// which makes the changes durable before the executor clears their
    /// intents. The executor passes every change it has at hand, so a
    /// wave of finished operations costs one PUT.
    fn record(&self, state: &mut State, _changed: &[Address]) -> Result<(), StoreError> {
        self.save(state)
    }

    /// Every change is in the snapshot already. What is left is the end
    /// of the run's check that it still holds the lock (as the local
    /// backend's compact checks it): a run whose last AWS calls were
    /// refused because its lease lapsed (paused, suspended) may have no
    /// write left to find that out, and must not end as if it merely had
    /// failed operations. No request while the lease is fresh.
    fn compact(&self, _state: &mut State) -> Result<(), StoreError> {
        self.inner
            .wait(self.inner.ensure_lease())
            .map_err(StoreError::from)
    }

    fn lock(&self, operation: &str) -> Result<Box<dyn HeldLock>, LockError> {
        Ok(Box::new(
            self.inner.wait(self.inner.acquire(operation, true))?,
        ))
    }

    fn force_unlock(&self) -> Result<Option<LockInfo>, LockError> {
        let inner = &self.inner;
        inner.wait(async {
            let holder = match inner.holder().await {
                Ok(h) => h.map(|(info, _)| info),
                // An unreadable lock is removed all the same.
                Err(LockError::Unreadable { .. }) => None,
                Err(e) => return Err(e),
            };
            inner
                .delete(&inner.lock_key())
                .await
                .map_err(|r| inner.lock_err(r))?;
            Ok(holder)
        })
    }

    fn open_intents(&self) -> Result<Vec<Intent>, JournalError> {
        let inner = &self.inner;
        inner.wait(async {
            let keys = inner
                .list(&self.journal_prefix())
                .await
                .map_err(|r| inner.journal_err(r))?;
            let mut intents = Vec::with_capacity(keys.len());
            for key in keys {
                let Some((bytes, _)) = inner.get(&key).await.map_err(|r| inner.journal_err(r))?
                else {
                    continue;
                };
                let intent: Intent = serde_json::from_slice(&bytes).map_err(|e| {
                    inner.journal_err(format!(
                        "{} is unusable ({e}). It was left untouched; it records an operation that may not be in state: inspect it, then delete it to continue",
                        inner.url(&key)
                    ))
                })?;
                intents.push(intent);
            }
            // Recovery resolves intents in the order they were recorded.
            intents.sort_by_key(|i| i.id);
            Ok(intents)
        })
    }

    fn begin(&self) -> Box<dyn IntentLog + Send> {
        Box::new(self.journal())
    }

    fn retain_journal(&self, open: &[Intent]) -> Result<(), JournalError> {
        let inner = &self.inner;
        inner.wait(async {
            inner.ensure_lease().await?;
            let keys = inner
                .list(&self.journal_prefix())
                .await
                .map_err(|r| inner.journal_err(r))?;
            let kept: Vec<String> = open.iter().map(|i| inner.journal_key(i.id)).collect();
            for key in keys.iter().filter(|k| !kept.contains(k)) {
                inner.delete(key).await.map_err(|r| inner.journal_err(r))?;
            }
            Ok(())
        })
    }

    fn remove_journal(&self) -> Result<(), JournalError> {
        self.retain_journal(&[])
    }
}

/// How many of a wave's journal requests are in flight at once: enough to
/// overlap their round trips, few enough that the lease's renewal (to the
/// same bucket) never waits behind a burst of them: with every one of a
/// 60-operation wave at once, an emulator that serialises conditional
/// writes (ours does) can hold a renewal back past a short lease (the
/// suite's 2-second one).
const JOURNAL_REQUESTS_AT_ONCE: usize = 8;

/// One object per intent; clearing deletes it.
pub(super) struct S3Journal {
    inner: Arc<Inner>,
    next_id: u64,
    /// The ETag of each intent object this run wrote, so that clearing
    /// deletes only that object (not another run's of the same id).
    written: std::collections::HashMap<u64, String>,
}

impl IntentLog for S3Journal {
    fn record(&mut self, intents: &mut [Intent]) -> Result<(), JournalError> {
        drctl_core::journal::number(intents, &mut self.next_id);
        self.write(intents)
    }

    fn clear(&mut self, ids: &[u64]) -> Result<(), JournalError> {
        self.clear_ids(ids)
    }
}

impl S3Journal {
    /// Writes each intent under its own id, their round trips overlapping
    /// ([`JOURNAL_REQUESTS_AT_ONCE`] at a time). On an error the caller
    /// calls none of them; those written are open intents of calls never
    /// made, which the next run's recovery resolves as those of a process
    /// killed before its call (looked up; a create not found is kept as
    /// unconfirmed).
    pub(super) fn write(&mut self, intents: &[Intent]) -> Result<(), JournalError> {
        if intents.is_empty() {
            return Ok(());
        }
        for intent in intents {
            self.next_id = self.next_id.max(intent.id + 1);
        }
        let inner = &self.inner;
        let written = inner.wait(async {
            inner.ensure_lease().await?;
            Ok::<_, JournalError>(
                futures::stream::iter(intents.iter().map(|i| Self::put(inner, i)))
                    .buffered(JOURNAL_REQUESTS_AT_ONCE)
                    .collect::<Vec<_>>()
                    .await,
            )
        })?;
        let mut first_err = None;
        for (intent, result) in intents.iter().zip(written) {
            match result {
                Ok(Some(etag)) => {
                    self.written.insert(intent.id, etag);
                }
                Ok(None) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// One intent's object, created only where nothing is: a run never
    /// overwrites an intent it did not write (e.g. one of a run that took
    /// the lock over from it). Returns its ETag.
    async fn put(inner: &Inner, intent: &Intent) -> Result<Option<String>, JournalError> {
        let key = inner.journal_key(intent.id);
        let body = serde_json::to_vec(intent).expect("intents serialise");
        match inner.put_if(&key, body.clone(), None).await {
            Ok(etag) => Ok(etag),
            Err(Failure::Precondition) => match inner.get(&key).await {
                // A retried PUT whose first attempt succeeded.
                Ok(Some((found, etag))) if found == body => Ok(etag),
                _ => Err(inner.journal_err(format!(
                    "{} exists already: another run writes this journal. Check who else runs drctl on this environment",
                    inner.url(&key)
                ))),
            },
            Err(Failure::NotFound) => Err(inner.journal_err(format!(
                "writing {}: PutObject answered 404",
                inner.url(&key)
            ))),
            Err(Failure::Other(reason)) => Err(inner.journal_err(reason)),
        }
    }

    /// The first id this journal's next intent may take: after every
    /// intent in the journal (those a recovery left open stay there).
    pub(super) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Deletes the objects of settled intents, all at once (each delete
    /// conditional on the ETag this run wrote, so that another run's
    /// intent of the same id is never deleted).
    pub(super) fn clear_ids(&mut self, ids: &[u64]) -> Result<(), JournalError> {
        if ids.is_empty() {
            return Ok(());
        }
        let inner = &self.inner;
        let deletes: Vec<(u64, Option<String>)> = ids
            .iter()
            .map(|&id| (id, self.written.remove(&id)))
            .collect();
        inner.wait(async {
            inner.ensure_lease().await?;
            let results = futures::stream::iter(
                deletes
                    .iter()
                    .map(|(id, etag)| Self::delete(inner, *id, etag.as_deref())),
            )
            .buffered(JOURNAL_REQUESTS_AT_ONCE)
            .collect::<Vec<_>>()
            .await;
            results.into_iter().collect::<Result<Vec<()>, _>>()?;
            Ok(())
        })
    }

    async fn delete(inner: &Inner, id: u64, etag: Option<&str>) -> Result<(), JournalError> {
        let key = inner.journal_key(id);
        let Some(etag) = etag else {
            return inner.delete(&key).await.map_err(|r| inner.journal_err(r));
        };
        match inner.delete_if(&key, etag).await {
            Ok(()) | Err(Failure::NotFound) => Ok(()),
            Err(Failure::Precondition) => Err(inner.journal_err(format!(
                "{} is no longer the intent this run wrote: another run writes this journal. Check who else runs drctl on this environment",
                inner.url(&key)
            ))),
            Err(Failure::Other(reason)) => Err(inner.journal_err(reason)),
        }
    }
}

/// The held lock object; deleted on drop if it is still ours.
#[derive(Debug)]
pub struct S3Lock {
    inner: Arc<Inner>,
    info: LockInfo,
    /// The task renewing the lease; aborted on release.
    renewer: Option<JoinHandle<()>>,
    /// The lease in the context's guard, while held.
    _installed: Option<InstalledLease>,
}

/// The lease guard's view of the lock this process holds here: lost once
/// known to be someone else's, and as soon as its time is up by the lease
/// clock (a renewal may still save it, but until then a taker may act).
/// No request is made: it runs before every mutating AWS call.
impl Lease for Inner {
    fn check(&self) -> Result<(), LeaseLost> {
        let held = self.held.lock().expect("held");
        match held.as_ref() {
            None => Ok(()),
            Some(h) => match &h.lost {
                Some(what) => Err(self.lease_lost(what.clone())),
                None if self.clock.now() >= h.writable_until => Err(self.not_renewed(h)),
                None => Ok(()),
            },
        }
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3 backend {}", self.url(&self.lock_key()))
    }
}

impl HeldLock for S3Lock {
    fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
        let inner = &self.inner;
        let held = inner.held.lock().expect("held").take();
        let Some(held) = held.filter(|h| h.info.id == self.info.id && h.lost.is_none()) else {
            return;
        };
        // Best effort: a lock that cannot be released here is left to
        // lapse (or for force-unlock), as after a crash. Deleted only if
        // it is still ours: conditional on the ETag we wrote last, or on
        // the one we find with our id (a renewal aborted just now may
        // still have landed).
        let released: Result<(), String> = inner.wait(async {
            let key = inner.lock_key();
            let mut etag = held.etag;
            for _ in 0..3 {
                match inner.delete_if(&key, &etag).await {
                    Ok(()) | Err(Failure::NotFound) => return Ok(()),
                    Err(Failure::Other(reason)) => return Err(reason),
                    Err(Failure::Precondition) => {}
                }
                match inner.holder().await {
                    Ok(Some((holder, Some(now)))) if holder.id == self.info.id => etag = now,
                    Ok(_) => return Ok(()),
                    Err(e) => return Err(e.to_string()),
                }
            }
            Err("it kept changing".into())
        });
        if let Err(reason) = released {
            tracing::warn!(
                "could not release the lock {}: {reason}; it lapses {} s after its last renewal, or run `drctl force-unlock --env {}`",
                inner.url(&inner.lock_key()),
                inner.lease.duration.as_secs(),
                inner.env
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::operation::put_object::PutObjectError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    /// An error answer of PutObject, as the SDK hands it over.
    fn answered(status: u16, code: &str) -> SdkError<PutObjectError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message(code).build();
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        SdkError::service_error(PutObjectError::generic(meta), raw)
    }

    /// A lease clock a test moves: the boot clock, which counts suspend.
    #[derive(Debug)]
    struct TestClock(Mutex<Duration>);

    impl Clock for TestClock {
        fn now(&self) -> Duration {
            *self.0.lock().unwrap()
        }
    }

    /// The machine sleeps through the lease (suspend: the boot clock moves
    /// on while the process stands still, as `CLOCK_MONOTONIC` and
    /// `Instant` would too): on waking, the lease is gone for the lease
    /// guard at once (no AWS call goes out) and for the next write, which
    /// first tries to renew.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_lease_slept_through_is_lost_by_the_clock_that_counts_suspend() {
        let (backend, clock) = holding_on_test_clock().await;
        assert!(backend.inner.check().is_ok());
        assert!(backend.check_lease().is_ok());

        *clock.0.lock().unwrap() += Duration::from_secs(600);
        let lost = backend.inner.check().unwrap_err().to_string();
        assert!(
            lost.contains("could not renew its lease in time (the last renewal was 600 s ago"),
            "{lost}"
        );
        // A write renews first: S3 does not answer, so the lease stays lost.
        let lost = backend.check_lease().unwrap_err().to_string();
        assert!(lost.contains("no longer holds the lock"), "{lost}");
    }

    /// A backend whose endpoint refuses every connection, as if it had
    /// just taken the lock (there is no S3 here), on a clock the test moves.
    async fn holding_on_test_clock() -> (S3Backend, Arc<TestClock>) {
        let ctx = AwsContext::unreachable().await;
        let clock = Arc::new(TestClock(Mutex::new(Duration::from_secs(1000))));
        let backend = S3Backend::new(
            Arc::new(OnceCell::new_with(Some(ctx))),
            Connection::default(),
            S3Location {
                bucket: "state".into(),
                prefix: String::new(),
                region: "us-east-1".into(),
            },
            "dev",
        )
        .with_clock(clock.clone());
        let lease = backend.inner.lease.clone();
        *backend.inner.held.lock().unwrap() = Some(Held {
            info: LockInfo::for_this_process("apply"),
            etag: "\"e1\"".into(),
            writable_until: clock.now() + lease.writable_for(),
            lost: None,
        });
        (backend, clock)
    }

    /// The end of a run checks the lease: a run whose last AWS calls were
    /// refused because its lease lapsed (it was paused) may have no write
    /// left to find that out, and must end with the lost lock, not as if
    /// its operations had merely failed.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_end_of_a_run_finds_a_lapsed_lease() {
        let (backend, clock) = holding_on_test_clock().await;
        let mut state = State::new("dev");
        backend.compact(&mut state).unwrap();
        *clock.0.lock().unwrap() += Duration::from_secs(600);
        let lost = backend.compact(&mut state).unwrap_err().to_string();
        assert!(lost.contains("no longer holds the lock"), "{lost}");
    }

    /// S3 may answer a conditional write that meets a concurrent one with
    /// 409 ConditionalRequestConflict (S3 API Reference, PutObject,
    /// `If-None-Match`), which no emulator here gives: it means what 412
    /// means, the object is not what this write expected.
    #[test]
    fn a_conditional_write_conflict_reads_as_a_failed_condition() {
        let failure = |status, code| classify(answered(status, code), "b", "us-east-1");
        assert!(matches!(
            failure(409, "ConditionalRequestConflict"),
            Failure::Precondition
        ));
        assert!(matches!(
            failure(412, "PreconditionFailed"),
            Failure::Precondition
        ));
        assert!(matches!(
            failure(409, "OperationAborted"),
            Failure::Other(_)
        ));
    }
}
