//! The S3 state backend: state, journal and lock of an environment as
//! objects under `s3://BUCKET/PREFIX/`, made safe for many operators on
//! many machines by S3's conditional writes (docs/state-format.md):
//!
//! - `<env>.lock`: created with `If-None-Match: *`, so exactly one writer
//!   holds it; its body names the holder.
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
use std::sync::{Arc, Mutex};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use drctl_core::Address;
use drctl_core::backend::{Backend, HeldLock};
use drctl_core::journal::{Intent, IntentLog, JournalError};
use drctl_core::lock::{LockError, LockInfo};
use drctl_core::state::{self, State};
use drctl_core::store::StoreError;
use tokio::runtime::Handle;
use tokio::sync::OnceCell;

use crate::AwsContext;
use crate::support::error_chain;

/// Where the objects of one environment live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Key prefix without leading or trailing `/`; may be empty.
    pub prefix: String,
    /// The bucket's region.
    pub region: String,
}

struct Inner {
    aws: Arc<OnceCell<AwsContext>>,
    endpoint: Option<String>,
    location: S3Location,
    env: String,
    handle: Handle,
    /// The state object's ETag as this process last read or wrote it:
    /// `None` before the first read, `Some(None)` when it did not exist.
    etag: Mutex<Option<Option<String>>>,
    backed_up: AtomicBool,
}

/// An environment's state, journal and lock in S3.
#[derive(Clone)]
pub struct S3Backend {
    inner: Arc<Inner>,
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
        (Some(412), _) | (_, Some("PreconditionFailed")) => Failure::Precondition,
        (Some(404), _) | (_, Some("NoSuchKey")) => Failure::NotFound,
        _ => Failure::Other(error_chain(&err)),
    }
}

impl S3Backend {
    /// The backend of `env` at `location`. AWS is configured on first use
    /// through `aws` (shared with the caller, so both use one context).
    /// Must be called within a tokio runtime.
    pub fn new(
        aws: Arc<OnceCell<AwsContext>>,
        endpoint: Option<String>,
        location: S3Location,
        env: &str,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                aws,
                endpoint,
                location,
                env: env.to_owned(),
                handle: Handle::current(),
                etag: Mutex::new(None),
                backed_up: AtomicBool::new(false),
            }),
        }
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
        classify(err, &self.location.bucket, &self.location.region)
    }

    /// Runs `f` to completion from synchronous code, off the async workers.
    fn wait<T>(&self, f: impl Future<Output = T>) -> T {
        tokio::task::block_in_place(|| self.handle.block_on(f))
    }

    async fn client(&self) -> Client {
        self.aws
            .get_or_init(|| AwsContext::load(self.endpoint.as_deref()))
            .await
            .clients()
            .s3(&self.location.region)
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

    /// PUT with a condition: `Some(etag)` = If-Match, `None` = If-None-Match: *.
    async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<Option<String>, Failure> {
        let mut req = self
            .client()
            .await
            .put_object()
            .bucket(&self.location.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes));
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

    async fn acquire(self: &Arc<Self>, operation: &str) -> Result<S3Lock, LockError> {
        let info = LockInfo::for_this_process(operation);
        let body = serde_json::to_vec_pretty(&info).expect("lock info serialises");
        let key = self.lock_key();
        // Bounded: the lock may be released between our PUT and our read.
        for _ in 0..3 {
            match self.put_if(&key, body.clone(), None).await {
                Ok(_) => return Ok(self.held(info)),
                Err(Failure::Precondition) => {}
                Err(Failure::NotFound) => {
                    return Err(self.lock_err("PutObject answered 404".into()));
                }
                Err(Failure::Other(reason)) => return Err(self.lock_err(reason)),
            }
            let Some((holder, etag)) = self.holder().await? else {
                continue;
            };
            // A retried PUT whose first attempt did succeed finds our own lock.
            if holder.id == info.id {
                return Ok(self.held(info));
            }
            // A holder that died on this host is replaced in one conditional
            // write, so two processes taking over cannot both succeed.
            if holder.holder_is_dead_here()
                && let Some(etag) = etag
            {
                match self.put_if(&key, body.clone(), Some(&etag)).await {
                    Ok(_) => {
                        tracing::warn!(
                            "took over the lock of `{}` left by {holder}, which is no longer running",
                            self.env
                        );
                        return Ok(self.held(info));
                    }
                    Err(Failure::Precondition | Failure::NotFound) => continue,
                    Err(Failure::Other(reason)) => return Err(self.lock_err(reason)),
                }
            }
            return Err(LockError::HeldRemote {
                env: self.env.clone(),
                location: self.url(&key),
                holder: Box::new(holder),
            });
        }
        Err(self.lock_err(
            "the lock changed hands three times while drctl tried to take it; run again".into(),
        ))
    }

    fn held(self: &Arc<Self>, info: LockInfo) -> S3Lock {
        S3Lock {
            inner: Arc::clone(self),
            info,
        }
    }

    async fn save(&self, state: &mut State) -> Result<(), StoreError> {
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
        state.serial += 1;
        let bytes = state::encode(state);
        let written = match self.put_if(&key, bytes.clone(), expected.as_deref()).await {
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
        match written {
            Ok(etag) => {
                *self.etag.lock().expect("etag") = Some(etag);
                Ok(())
            }
            Err(e) => {
                state.serial -= 1;
                Err(e)
            }
        }
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
        let key = self.state_key();
        let found = self.get(&key).await.map_err(|r| self.remote(r))?;
        let Some((bytes, etag)) = found else {
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
        Ok(Some(state))
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
    /// which makes the change durable before the executor clears its intent.
    fn record(&self, state: &mut State, _changed: &Address) -> Result<(), StoreError> {
        self.save(state)
    }

    /// Every change is in the snapshot already.
    fn compact(&self, _state: &mut State) -> Result<(), StoreError> {
        Ok(())
    }

    fn lock(&self, operation: &str) -> Result<Box<dyn HeldLock>, LockError> {
        Ok(Box::new(self.inner.wait(self.inner.acquire(operation))?))
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
        Box::new(S3Journal {
            inner: Arc::clone(&self.inner),
            next_id: 1,
        })
    }

    fn remove_journal(&self) -> Result<(), JournalError> {
        let inner = &self.inner;
        inner.wait(async {
            let keys = inner
                .list(&self.journal_prefix())
                .await
                .map_err(|r| inner.journal_err(r))?;
            for key in keys {
                inner.delete(&key).await.map_err(|r| inner.journal_err(r))?;
            }
            Ok(())
        })
    }
}

/// One object per intent; clearing deletes it.
struct S3Journal {
    inner: Arc<Inner>,
    next_id: u64,
}

impl IntentLog for S3Journal {
    fn record(&mut self, intent: &mut Intent) -> Result<(), JournalError> {
        intent.id = self.next_id;
        self.next_id += 1;
        let inner = &self.inner;
        let key = inner.journal_key(intent.id);
        let body = serde_json::to_vec(intent).expect("intents serialise");
        inner.wait(async {
            let out = inner
                .client()
                .await
                .put_object()
                .bucket(&inner.location.bucket)
                .key(&key)
                .content_type("application/json")
                .body(ByteStream::from(body))
                .send()
                .await;
            match out {
                Ok(_) => Ok(()),
                Err(e) => Err(inner.journal_err(match inner.classify(e) {
                    Failure::Other(reason) => reason,
                    _ => format!("writing {}: unexpected answer", inner.url(&key)),
                })),
            }
        })
    }

    fn clear(&mut self, id: u64) -> Result<(), JournalError> {
        let inner = &self.inner;
        inner
            .wait(inner.delete(&inner.journal_key(id)))
            .map_err(|r| inner.journal_err(r))
    }
}

/// The held lock object; deleted on drop if it is still ours.
#[derive(Debug)]
pub struct S3Lock {
    inner: Arc<Inner>,
    info: LockInfo,
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
        let inner = &self.inner;
        // Best effort: a lock that cannot be released here is left for
        // force-unlock, as after a crash. Only remove it if it is still
        // ours (force-unlock may have handed it to someone else).
        let released: Result<(), String> = inner.wait(async {
            match inner.holder().await {
                Ok(Some((holder, _))) if holder.id == self.info.id => {
                    inner.delete(&inner.lock_key()).await
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        });
        if let Err(reason) = released {
            tracing::warn!(
                "could not release the lock {}: {reason}; run `drctl force-unlock --env {}`",
                inner.url(&inner.lock_key()),
                inner.env
            );
        }
    }
}
