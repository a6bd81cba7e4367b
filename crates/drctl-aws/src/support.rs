//! Helpers every provider uses: error mapping, typed input access, tags.

use std::collections::BTreeMap;

use aws_smithy_async::future::pagination_stream::PaginationStream;
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

/// Whether a provider error carries one of `codes`.
pub fn has_code_in(err: &ProviderError, codes: &[&str]) -> bool {
    err.code.as_deref().is_some_and(|c| codes.contains(&c))
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

/// The outcome of a call whose output is not needed: `Ok(())`, or its
/// failure as an `api_error`.
pub fn sent<T, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
    operation: &str,
) -> Result<(), ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    tolerate(result, &[], operation)
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

/// Every item a paginated call lists, over all its pages
/// (`call.into_paginator().items().send()`); a failure is an `api_error`.
pub async fn all_items<T, E>(
    items: PaginationStream<Result<T, SdkError<E, HttpResponse>>>,
    operation: &str,
) -> Result<Vec<T>, ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    items
        .try_collect()
        .await
        .map_err(|e| api_error(operation, e))
}

/// [`all_items`] of a call that fails with one of `codes` when what it
/// lists the contents of is not there: `None` then ([`found`]).
pub async fn found_items<T, E>(
    items: PaginationStream<Result<T, SdkError<E, HttpResponse>>>,
    codes: &[&str],
    operation: &str,
) -> Result<Option<Vec<T>>, ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    found(items.try_collect().await, codes, operation)
}

pub fn invalid(ctx: &OpContext, message: impl Into<String>) -> ProviderError {
    ProviderError::new(format!("{}", ctx.address), message).with_code("InvalidInput")
}

pub fn opt_str<'a>(inputs: &'a Attributes, key: &str) -> Option<&'a str> {
    inputs.get(key).and_then(Json::as_str)
}

/// The error code of a delete (or an adoption) refused because the
/// resource is not provably this environment's.
pub const NOT_OWNED: &str = "NotOwned";

/// Whether `name` holds the environment's name as whole words: the words
/// of `env` (split, as the name's, at anything but a letter or a digit)
/// appear in it, adjacent and in order. `payment-dev-primary-vpc` and
/// `/payment/dev/primary/flags` embed `dev`; `payment-dev2-primary-vpc`
/// does not.
pub fn name_embeds_env(name: &str, env: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let (name, env) = (words(name), words(env));
    !env.is_empty() && name.windows(env.len()).any(|w| w == env.as_slice())
}

/// Refuses to `action` (`delete`, `restore`) `what` (`VPC vpc-0abc`)
/// unless it is provably this environment's, before any call that changes
/// it: state names resources by id, and an id that is wrong (a hand edit, an import
/// file's typo, another environment's state copied) must not delete what
/// another environment, or no drctl environment, owns.
///
/// `tags` are the resource's tags as just read. Proof is, in order:
/// - a `drctl:env` tag equal to this environment (and a `drctl:address`
///   tag, when there is one, equal to this address): what drctl's create
///   wrote;
/// - without any `drctl:env` tag, `named`: the name drctl itself derives
///   for the resource (the id of a kind named by drctl, equal to its
///   name input), when it embeds the environment's name as whole words
///   ([`name_embeds_env`]). That covers what drctl adopts by name without
///   tags (`drctl import`, a create whose tagging call was lost).
///
/// Any other `drctl:env` or `drctl:address` is refused: those tags are
/// another environment's (or another address's) claim.
pub fn confirm_owned(
    ctx: &OpContext,
    action: &str,
    what: &str,
    tags: &BTreeMap<String, String>,
    named: Option<&str>,
) -> Result<(), ProviderError> {
    check_owner(ctx, action, what, tags, named, Claim::Address)
}

/// [`confirm_owned`] requiring both `drctl:*` tags, for taking back by
/// name what a create finds (a deleted secret it would restore): only the
/// address's own tags prove the thing was made for it.
pub fn confirm_made_for(
    ctx: &OpContext,
    action: &str,
    what: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    check_owner(ctx, action, what, tags, None, Claim::Exactly)
}

/// [`confirm_owned`] for the parent of what `action` changes (a route's
/// route table, a permission's function): kinds AWS gives no tags are
/// provably this environment's through their parent. The parent is
/// another address, so only its `drctl:env` tag (or its name) counts.
pub fn confirm_parent_owned(
    ctx: &OpContext,
    action: &str,
    parent: &str,
    tags: &BTreeMap<String, String>,
    named: Option<&str>,
) -> Result<(), ProviderError> {
    check_owner(ctx, action, parent, tags, named, Claim::Parent)
}

/// Whose claim a check looks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// This environment's, and this address's when the tag says whose.
    Address,
    /// This environment's and this address's, both tags present.
    Exactly,
    /// This environment's: the parent of the address's resource.
    Parent,
}

fn check_owner(
    ctx: &OpContext,
    action: &str,
    what: &str,
    tags: &BTreeMap<String, String>,
    named: Option<&str>,
    claim: Claim,
) -> Result<(), ProviderError> {
    let address = ctx.address.to_string();
    let same_address = claim != Claim::Parent;
    let owner = tags.get(TAG_ADDRESS).filter(|_| same_address);
    let why = match tags.get(TAG_ENV) {
        Some(e) if *e != ctx.env => format!(
            "it belongs to environment `{e}` (its {TAG_ENV} tag), not `{}`",
            ctx.env
        ),
        Some(_) => match owner {
            Some(a) if *a != address => {
                format!("it is {a}'s (its {TAG_ADDRESS} tag), not {address}'s")
            }
            None if claim == Claim::Exactly => {
                format!(
                    "it carries no {TAG_ADDRESS} tag, so nothing shows drctl made it for {address}"
                )
            }
            _ => return Ok(()),
        },
        None if named.is_some_and(|n| name_embeds_env(n, &ctx.env)) => return Ok(()),
        None => format!(
            "it carries no {TAG_ENV} tag{}, so nothing shows drctl made it for environment `{}`",
            match named {
                Some(n) => format!(" and its name {n} does not hold the environment's name"),
                None => String::new(),
            },
            ctx.env
        ),
    };
    let found: Vec<String> = [TAG_ENV, TAG_ADDRESS]
        .iter()
        .filter_map(|k| tags.get(*k).map(|v| format!("{k}={v}")))
        .collect();
    let found = if found.is_empty() {
        "no drctl tags".to_owned()
    } else {
        found.join(", ")
    };
    let (target, fix) = if same_address {
        (
            what.to_owned(),
            format!(
                "If this environment does own it (adopted by id with `drctl import`), tag it {TAG_ENV}={} and {TAG_ADDRESS}={address}, then run again",
                ctx.env
            ),
        )
    } else {
        (
            format!("{address}, whose parent is {what}"),
            format!(
                "If this environment does own the parent, tag it {TAG_ENV}={}, then run again",
                ctx.env
            ),
        )
    };
    Err(ProviderError::new(
        format!("{action} {address}"),
        format!(
            "refusing to {action} {target}: {why} (found: {found}). Nothing was changed. If the environment's state names the wrong resource, correct or remove the {address} entry (a local state file with no run in progress; an S3 one with `drctl state pull`, edit, `drctl state push --force`). {fix}"
        ),
    )
    .with_code(NOT_OWNED))
}

/// Tags as `(key, value)` pairs, collected for [`confirm_owned`].
pub fn tag_map<K: Into<String>, V: Into<String>>(
    tags: impl IntoIterator<Item = (K, V)>,
) -> BTreeMap<String, String> {
    tags.into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

/// What state records, instead of the value, for a value read back that
/// drctl did not set (an environment variable added or changed outside
/// drctl, a parameter made a SecureString): it may be a secret, and state,
/// plans and logs must never hold one. It differs from any value drctl
/// sets, so the next plan still shows the drift and the apply puts
/// drctl's value back (or removes what drctl never had).
pub const NOT_RECORDED: &str = "(changed outside drctl: value not recorded)";

/// `observed` as a read may record it: itself when it is what drctl last
/// set (`set`, from the prior inputs), else [`NOT_RECORDED`].
pub fn only_if_set(observed: &Json, set: Option<&Json>) -> Json {
    if set == Some(observed) {
        observed.clone()
    } else {
        Json::String(NOT_RECORDED.to_owned())
    }
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

impl<T> Created<T> {
    /// The id of what was created: the one `id_in` reads from the create's
    /// response (an error naming `operation` and `what` when it holds
    /// none), or the one found.
    pub fn id(
        self,
        operation: &str,
        what: &str,
        id_in: impl FnOnce(&T) -> Option<&str>,
    ) -> Result<String, ProviderError> {
        match self {
            Created::Sent(out) => response_id(operation, what, id_in(&out)),
            Created::Found(id) => Ok(id),
        }
    }
}

/// The id a create's response holds, or an error saying that
/// `operation`'s response holds no `what` (`subnet id`).
pub fn response_id(operation: &str, what: &str, id: Option<&str>) -> Result<String, ProviderError> {
    id.map(str::to_owned)
        .ok_or_else(|| ProviderError::new(operation, format!("no {what} in the response")))
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

#[cfg(test)]
mod ownership_tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        tag_map(pairs.iter().copied())
    }

    fn refused(result: Result<(), ProviderError>) -> String {
        let e = result.expect_err("refused");
        assert_eq!(e.code.as_deref(), Some(NOT_OWNED), "{e}");
        e.message
    }

    #[test]
    fn this_environments_tags_prove_ownership() {
        let ctx = unit_test_ctx("primary/ec2.vpc/payment");
        let own = tags(&[(TAG_ENV, "dev"), (TAG_ADDRESS, "primary/ec2.vpc/payment")]);
        confirm_owned(&ctx, "delete", "VPC vpc-1", &own, None).unwrap();
        // The env tag alone (an address tag another step removed).
        confirm_owned(
            &ctx,
            "delete",
            "VPC vpc-1",
            &tags(&[(TAG_ENV, "dev")]),
            None,
        )
        .unwrap();
    }

    #[test]
    fn another_environment_or_address_is_refused_naming_what_was_found() {
        let ctx = unit_test_ctx("primary/ec2.vpc/payment");
        let other = tags(&[(TAG_ENV, "prod"), (TAG_ADDRESS, "primary/ec2.vpc/payment")]);
        let m = refused(confirm_owned(&ctx, "delete", "VPC vpc-1", &other, None));
        assert!(m.contains("VPC vpc-1"), "{m}");
        assert!(m.contains("belongs to environment `prod`"), "{m}");
        assert!(
            m.contains("found: drctl:env=prod, drctl:address=primary/ec2.vpc/payment"),
            "{m}"
        );
        assert!(m.contains("drctl state pull"), "{m}");
        assert!(m.contains("Nothing was changed"), "{m}");
        // Even with a name that embeds this environment: the tags say whose it is.
        refused(confirm_owned(
            &ctx,
            "delete",
            "VPC vpc-1",
            &other,
            Some("payment-dev-primary-vpc"),
        ));
        let sibling = tags(&[(TAG_ENV, "dev"), (TAG_ADDRESS, "secondary/ec2.vpc/payment")]);
        let m = refused(confirm_owned(&ctx, "delete", "VPC vpc-1", &sibling, None));
        assert!(m.contains("secondary/ec2.vpc/payment's"), "{m}");
    }

    #[test]
    fn without_tags_only_a_name_drctl_derives_for_the_environment_proves_it() {
        let ctx = unit_test_ctx("primary/ssm.parameter/flags");
        let none = BTreeMap::new();
        let m = refused(confirm_owned(&ctx, "delete", "parameter x", &none, None));
        assert!(m.contains("carries no drctl:env tag"), "{m}");
        assert!(m.contains("found: no drctl tags"), "{m}");
        assert!(
            m.contains("drctl:env=dev and drctl:address=primary/ssm.parameter/flags"),
            "{m}"
        );
        confirm_owned(
            &ctx,
            "delete",
            "p",
            &none,
            Some("/payment/dev/primary/flags"),
        )
        .unwrap();
        let m = refused(confirm_owned(
            &ctx,
            "delete",
            "p",
            &none,
            Some("/payment/dev2/primary/flags"),
        ));
        assert!(
            m.contains("its name /payment/dev2/primary/flags does not hold the environment's name"),
            "{m}"
        );
        // Tags other than drctl's prove nothing.
        refused(confirm_owned(
            &ctx,
            "delete",
            "p",
            &tags(&[("Name", "dev")]),
            None,
        ));
    }

    #[test]
    fn names_embed_an_environment_as_whole_words() {
        assert!(name_embeds_env("payment-dev-primary-vpc", "dev"));
        assert!(name_embeds_env("payment-alarms-primary-dev", "dev"));
        assert!(name_embeds_env(
            "arn:aws:sns:us-east-1:1:payment-alarms-primary-dev",
            "dev"
        ));
        assert!(name_embeds_env("payment-imp-legacy-primary", "imp-legacy"));
        assert!(name_embeds_env("PAYMENT-DEV", "dev"));
        assert!(!name_embeds_env("payment-dev2-primary-vpc", "dev"));
        assert!(!name_embeds_env("payment-development", "dev"));
        assert!(!name_embeds_env("payment-legacy-imp", "imp-legacy"));
        assert!(!name_embeds_env("anything", ""));
    }
}
