//! Helpers every provider uses: error mapping, typed input access, tags.

use std::collections::BTreeMap;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;
use drctl_core::{Attributes, OpContext, ProviderError};
use serde_json::Value as Json;

/// Tag keys drctl owns on every taggable resource.
pub const TAG_ENV: &str = "drctl:env";
pub const TAG_ADDRESS: &str = "drctl:address";

/// Maps an SDK error to a provider error carrying the AWS code and message,
/// and the request id AWS support asks for when there is one.
pub fn api_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let mut message = match err.message() {
        Some(m) => m.to_owned(),
        None => error_chain(&err),
    };
    if let Some(id) = request_id(&err) {
        message = format!("{message} (request id: {id})");
    }
    let e = ProviderError::new(operation, message);
    match code {
        Some(c) => e.with_code(c),
        None => e,
    }
}

/// The request id of a failed call: a response header for most services;
/// the EC2 query protocol puts it in the error document (`<RequestID>`),
/// which the SDK does not parse.
fn request_id<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<String> {
    if let Some(id) = err.request_id().or_else(|| err.meta().request_id()) {
        return Some(id.to_owned());
    }
    let body = std::str::from_utf8(err.raw_response()?.body().bytes()?).ok()?;
    ["RequestID", "RequestId"].iter().find_map(|tag| {
        let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
        let len = body[start..].find(&format!("</{tag}>"))?;
        Some(body[start..start + len].trim().to_owned()).filter(|id| !id.is_empty())
    })
}

/// Whether an SDK error carries one of `codes`.
pub fn has_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>, codes: &[&str]) -> bool {
    err.code().is_some_and(|c| codes.contains(&c))
}

/// The outcome of a call whose failure with one of `codes` means the end
/// state already holds (deleting what is gone, authorising what is there):
/// `Ok(())` then, as on success; any other failure is an `api_error`.
pub fn tolerate<T, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
    codes: &[&str],
    operation: &str,
) -> Result<(), ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    found(result, codes, operation).map(|_| ())
}

/// The output of a call that fails with one of `codes` when what it asks
/// about is not there: `Some(output)`, `None` for those codes, any other
/// failure as an `api_error`.
pub fn found<T, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
    codes: &[&str],
    operation: &str,
) -> Result<Option<T>, ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e) if has_code(&e, codes) => Ok(None),
        Err(e) => Err(api_error(operation, e)),
    }
}

pub fn invalid(ctx: &OpContext, message: impl Into<String>) -> ProviderError {
    ProviderError::new(format!("{}", ctx.address), message).with_code("InvalidInput")
}

/// Refuses an input that `keys` does not list, naming it and what `what`
/// (a kind, "an ECS service") takes, before any call.
pub fn only_known_inputs(
    ctx: &OpContext,
    inputs: &Attributes,
    keys: &[&str],
    what: &str,
) -> Result<(), ProviderError> {
    match inputs.keys().find(|k| !keys.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(invalid(
            ctx,
            format!(
                "unknown input `{key}`: remove it; {what} takes {}",
                keys.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

pub fn req_str<'a>(
    ctx: &OpContext,
    inputs: &'a Attributes,
    key: &str,
) -> Result<&'a str, ProviderError> {
    inputs
        .get(key)
        .and_then(Json::as_str)
        .ok_or_else(|| invalid(ctx, format!("input `{key}` must be a string")))
}

/// An object input of strings (e.g. replica region -> key ARN); members
/// that are not strings are left out, an absent input is empty.
pub fn str_map(inputs: &Attributes, key: &str) -> BTreeMap<String, String> {
    inputs
        .get(key)
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn opt_str<'a>(inputs: &'a Attributes, key: &str) -> Option<&'a str> {
    inputs.get(key).and_then(Json::as_str)
}

pub fn bool_or(inputs: &Attributes, key: &str, default: bool) -> bool {
    inputs.get(key).and_then(Json::as_bool).unwrap_or(default)
}

/// The user tags in `inputs["tags"]`.
pub fn user_tags(inputs: &Attributes) -> BTreeMap<String, String> {
    inputs
        .get("tags")
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// User tags plus drctl's identity tags, as written to AWS.
pub fn all_tags(ctx: &OpContext, inputs: &Attributes) -> BTreeMap<String, String> {
    let mut t = user_tags(inputs);
    t.insert(TAG_ENV.into(), ctx.env.clone());
    t.insert(TAG_ADDRESS.into(), ctx.address.to_string());
    t
}

/// Tags read back from AWS, minus drctl's own, as the `tags` input.
pub fn observed_tags<I: IntoIterator<Item = (String, String)>>(tags: I) -> Json {
    Json::Object(
        tags.into_iter()
            .filter(|(k, _)| k != TAG_ENV && k != TAG_ADDRESS)
            .map(|(k, v)| (k, Json::String(v)))
            .collect(),
    )
}

/// `(to_set, to_remove)` between two tag maps.
pub fn tag_changes(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    (set, remove)
}

pub fn attrs<const N: usize>(pairs: [(&str, Json); N]) -> Attributes {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// `outer: inner: innermost`, without the SDK's debug dumps of raw responses.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// `d` as progress lines show it: `42s`, `3m 05s`.
fn minutes(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

/// Polls `probe` with exponential backoff (0.25 s doubling to 5 s) until it
/// returns `Some`, for asynchronous resources (cluster available, table
/// ACTIVE, ...). Fails with the last state seen once `limit` has passed.
pub async fn wait_for<T, F, Fut>(
    what: &str,
    limit: std::time::Duration,
    mut probe: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Result<T, String>, ProviderError>>,
{
    let start = std::time::Instant::now();
    let mut delay = std::time::Duration::from_millis(250);
    loop {
        match probe().await? {
            Ok(v) => return Ok(v),
            Err(state) if start.elapsed() >= limit => {
                return Err(ProviderError::new(
                    format!("wait for {what}"),
                    format!("still {state} after {}s", limit.as_secs()),
                )
                .with_code("WaiterTimeout"));
            }
            Err(state) => {
                drctl_core::waiting::report(format!(
                    "{what}: {state} ({} of at most {})",
                    minutes(start.elapsed()),
                    minutes(limit)
                ));
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
            }
        }
    }
}

/// Retries `op` while it fails with an error `retryable` accepts (eventual
/// consistency: an IAM role not yet assumable, a dependency not yet
/// visible), with exponential backoff and jitter, for at most `limit`.
pub async fn retry_while<T, F, Fut>(
    limit: std::time::Duration,
    retryable: impl Fn(&ProviderError) -> bool,
    mut op: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    let start = std::time::Instant::now();
    let mut delay = std::time::Duration::from_millis(500);
    loop {
        match op().await {
            Err(e) if retryable(&e) && start.elapsed() < limit => {
                drctl_core::waiting::report(format!(
                    "retrying {e} ({} of at most {})",
                    minutes(start.elapsed()),
                    minutes(limit)
                ));
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0);
                let jitter = std::time::Duration::from_millis(u64::from(nanos % 250));
                tokio::time::sleep(delay + jitter).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(8));
            }
            other => return other,
        }
    }
}

/// Error codes AWS answers a call it refused to run for now (throttling):
/// it did not act, so sending it again is safe.
const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// What a failed call says about whether AWS acted on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// Throttled: AWS did not act; the same call may be sent again.
    NotActed,
    /// No answer (connection lost, timeout, unreadable response) or a
    /// server error: AWS may have acted.
    Unknown,
    /// AWS answered with an error: it did not act.
    Refused,
}

fn failure<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Failure {
    match err {
        SdkError::ConstructionFailure(_) => Failure::Refused,
        SdkError::DispatchFailure(d) if d.is_user() => Failure::Refused,
        SdkError::ServiceError(s) => {
            if s.err().code().is_some_and(|c| THROTTLED.contains(&c)) {
                Failure::NotActed
            } else if s.raw().status().is_server_error() {
                Failure::Unknown
            } else {
                Failure::Refused
            }
        }
        _ => Failure::Unknown,
    }
}

/// The outcome of [`create_once`]: the create's own response, or the id of
/// the resource an earlier attempt made, found after its response was lost.
pub enum Created<T> {
    Sent(T),
    Found(String),
}

/// How long a create keeps being resent while throttled or unanswered.
const CREATE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Pauses before each lookup after an unanswered create: AWS's read APIs
/// are eventually consistent (EC2, IAM), so a resource made a moment ago
/// may not be listed yet.
const LOOKUP_PAUSES_MS: &[u64] = &[0, 1000, 2000, 4000];

/// Sends a create that carries no idempotency token without ever sending
/// it blindly twice. The call goes through a client without SDK retries
/// (`Clients::*_once`); a throttled call is sent again after a pause, but
/// after a call whose outcome is unknown (no answer, a 5xx) `lookup` (the
/// provider's `find`) is asked first, over a few seconds, and only when it
/// finds nothing is the create sent again. A resend refused with one of
/// `exists` (the name is taken: the lost create did happen) is looked up
/// once more, for longer. A lookup that sees two resources fails with both
/// ids (`DuplicateResource`), so a duplicate is reported, never adopted.
pub async fn create_once<T, E, S, SF, L, LF>(
    operation: &str,
    exists: &[&str],
    mut send: S,
    mut lookup: L,
) -> Result<Created<T>, ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    S: FnMut() -> SF,
    SF: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    L: FnMut() -> LF,
    LF: std::future::Future<Output = Result<Option<String>, ProviderError>>,
{
    let start = std::time::Instant::now();
    let mut delay = std::time::Duration::from_millis(500);
    let mut unanswered = false;
    loop {
        let err = match send().await {
            Ok(out) => return Ok(Created::Sent(out)),
            Err(e) => e,
        };
        let kind = failure(&err);
        let taken = unanswered && has_code(&err, exists);
        if start.elapsed() >= CREATE_LIMIT || (kind == Failure::Refused && !taken) {
            return Err(api_error(operation, err));
        }
        if kind == Failure::Unknown || taken {
            unanswered = true;
            tracing::debug!(operation, error = %error_chain(&err), "outcome unknown: looking the resource up before sending again");
            // A taken name is proof the resource exists: look for longer.
            let pauses: &[u64] = if taken {
                &[1000, 2000, 4000, 8000, 15000, 30000]
            } else {
                LOOKUP_PAUSES_MS
            };
            for pause in pauses {
                tokio::time::sleep(std::time::Duration::from_millis(*pause)).await;
                if let Some(id) = lookup().await? {
                    return Ok(Created::Found(id));
                }
            }
            if taken {
                return Err(api_error(operation, err));
            }
        } else {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(std::time::Duration::from_secs(20));
        }
    }
}

/// A resource an unanswered create made, found again (`Created::Found`):
/// its id and the outputs a read gives now.
pub async fn adopt(
    provider: &(dyn drctl_core::Provider + Sync),
    ctx: &OpContext,
    id: String,
    inputs: &Attributes,
) -> Result<drctl_core::Applied, ProviderError> {
    let observed = provider.read(ctx, &id, inputs).await?.ok_or_else(|| {
        ProviderError::new(
            format!("read {}", ctx.address),
            format!("{id}, found after its create's answer was lost, is gone"),
        )
    })?;
    Ok(drctl_core::Applied {
        id,
        outputs: observed.outputs,
    })
}

/// The one id a lookup matched: `None` for none, an error naming every id
/// for several (a duplicate, which drctl reports and never picks from).
pub fn the_one(
    ctx: &OpContext,
    ids: impl IntoIterator<Item = String>,
) -> Result<Option<String>, ProviderError> {
    let mut ids: Vec<String> = ids.into_iter().collect();
    ids.sort();
    ids.dedup();
    match ids.len() {
        0 => Ok(None),
        1 => Ok(ids.pop()),
        _ => Err(ProviderError::new(
            format!("find {}", ctx.address),
            format!(
                "{} resources carry this address's identity in env `{}`: {}. All but one are duplicates: keep the one the environment's state records (its `id`), delete the others, then run again",
                ids.len(),
                ctx.env,
                ids.join(", ")
            ),
        )
        .with_code("DuplicateResource")),
    }
}

/// The idempotency token of a create (`OpContext::token`); a fresh one if
/// the caller gave none.
pub fn create_token(ctx: &OpContext) -> String {
    ctx.token
        .clone()
        .unwrap_or_else(|| drctl_core::journal::new_token(&ctx.env, &ctx.address))
}

/// The context of a unit test's call for `address`, in env `dev`, in
/// us-east-1.
#[cfg(test)]
pub(crate) fn unit_test_ctx(address: &str) -> OpContext {
    OpContext {
        env: "dev".into(),
        address: address.parse().unwrap(),
        region: "us-east-1".into(),
        token: None,
    }
}
