//! What an operation can fail with. The texts are those the operator reads
//! (`error: ...`): each names the file, key or flag at fault and the fix.

use std::path::PathBuf;

use drctl_core::Address;

/// An error of the platform port ([`crate::Platform`]): AWS's text.
pub type PlatformError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(
        "DRCTL_LOCK_LEASE_SECONDS: `{text}` is not a lease drctl can use; set a whole number of seconds from 2 to 3600 (default {default}), or unset it"
    )]
    LeaseSeconds { text: String, default: u64 },
    #[error(
        "DRCTL_AWS_READ_TIMEOUT_SECONDS: `{text}` is not a timeout drctl can use; set a whole number of seconds from 1 to 600 (default {default}), or unset it"
    )]
    ReadTimeoutSeconds { text: String, default: u64 },
    #[error(
        "DRCTL_HOST is set but empty; set it to a name unique to this machine, or unset it to use the hostname"
    )]
    EmptyHost,
    #[error("{flag}: unknown AWS region `{region}`; use the bucket's region, e.g. us-east-2")]
    BackendRegion { flag: &'static str, region: String },
    #[error("{flag}: {message}")]
    BackendUrl { flag: &'static str, message: String },
    #[error(
        "--backend-replica needs a backend: pass --backend s3://BUCKET/PREFIX or set `[backend] url` in drctl.toml"
    )]
    ReplicaWithoutBackend,
    #[error(
        "the backend's replica is the backend itself ({url}); a replica must be another bucket, in the environment's other region"
    )]
    ReplicaIsBackend { url: String },
    /// `[backend]` does not fit the environment's regions.
    #[error("{config}: `[backend]`{flag} for `{env}`: {message}")]
    BackendFor {
        config: String,
        /// ` (or --backend-replica-region)` where the flag may be the cause.
        flag: &'static str,
        env: String,
        message: String,
    },
    #[error("{config}: no environments; add a `[env.NAME]` table")]
    NoEnvironments { config: String },

    #[error("cannot resolve the AWS account")]
    Account(#[source] PlatformError),
    #[error(
        "the credentials belong to AWS account {actual}, but state {location} records account {recorded}; use credentials for {recorded}"
    )]
    AccountMismatch {
        actual: String,
        location: String,
        recorded: String,
    },
    #[error("cannot look up the Availability Zones")]
    Zones(#[source] PlatformError),
    #[error("state {location} records the Availability Zones of {region} as {names:?}: {source}")]
    RecordedZones {
        location: String,
        region: String,
        names: Vec<String>,
        source: Box<drctl_blueprint::ZonesError>,
    },
    #[error(
        "state {location} records the active role `{name}`, which is neither `primary` nor `secondary`; set `active_role` to one of them"
    )]
    ActiveRole { location: String, name: String },
    #[error("blueprint of `{env}`: {source}")]
    Blueprint {
        env: String,
        source: Box<drctl_core::GraphError>,
    },

    #[error("refresh failed; nothing was changed:\n  {}", .0.join("\n  "))]
    Refresh(Vec<String>),
    #[error(
        "reading outputs state does not record yet failed; nothing was changed:\n  {}",
        .0.join("\n  ")
    )]
    ReadOutputs(Vec<String>),
    /// A `--target`, `--exclude` or `--replace` pattern (or a saved
    /// plan's), `what` naming it.
    #[error("{what}")]
    Pattern {
        what: String,
        source: drctl_core::targeting::TargetError,
    },
    #[error("--replace names a resource that is not in state")]
    ReplaceNotInState(#[source] drctl_core::targeting::TargetError),
    #[error(
        "the plan would destroy data held by {}; nothing was changed. If that is intended, pass --allow-data-loss",
        .0.join(", ")
    )]
    DataLoss(Vec<String>),

    #[error("cannot read plan {}", .path.display())]
    ReadPlan {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create {}", .dir.display())]
    CreatePlanDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write plan {}", .path.display())]
    WritePlan {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plan {} is unusable; make a new one with drctl plan --out", .path.display())]
    UnusablePlan {
        path: PathBuf,
        source: drctl_core::state::DecodeError,
    },
    #[error("plan {} is a {operation:?} plan, not an apply plan", .path.display())]
    NotAnApplyPlan {
        path: PathBuf,
        operation: drctl_core::PlanOperation,
    },
    #[error("stale plan {}: {why}. Run `drctl plan --env {env} --out FILE` again", .path.display())]
    StalePlan {
        path: PathBuf,
        why: String,
        env: String,
    },
    #[error(
        "plan {} is not the plan drctl makes now from drctl.toml and the state (serial {serial}); nothing was changed:\n  - {}\nMake a new plan with `drctl plan --env {env} --out FILE`, review it, and apply that",
        .path.display(),
        .differences.join("\n  - ")
    )]
    PlanDiffers {
        path: PathBuf,
        serial: u64,
        differences: Vec<String>,
        env: String,
    },
    #[error(
        "plan {} was made for AWS account {planned:?}, the credentials are for {actual:?}",
        .path.display()
    )]
    PlanAccount {
        path: PathBuf,
        planned: Option<String>,
        actual: Option<String>,
    },
    #[error("cannot read the import file {}", .path.display())]
    ReadImportFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "an interrupted run of environment `{env}` left operations unfinished in its journal; `drctl import` only reads, so it does not resolve them: run `drctl plan --env {env}` first (it resolves them, and may finish an interrupted delete), then import"
    )]
    ImportWithOpenIntents { env: String },

    #[error(
        "`{env}` has no resources in state {location}: nothing to operate on; create the environment with `drctl apply --env {env}`"
    )]
    NotApplied { env: String, location: String },
    #[error(
        "`{env}` is not fully applied: state {location} lacks {}; run `drctl apply --env {env}`",
        joined(.missing)
    )]
    NotFullyApplied {
        env: String,
        location: String,
        missing: Vec<Address>,
    },
    #[error(
        "`{env}` looks like a production environment (its name, or `production = true` in drctl.toml): drills fail over real traffic, so drctl refuses; drill a staging environment instead"
    )]
    DrillInProduction { env: String },
    #[error("DR operations need AWS: {0}")]
    NoDrCloud(#[source] PlatformError),

    #[error(transparent)]
    Config(#[from] drctl_blueprint::ConfigError),
    #[error(transparent)]
    ZonesOffered(#[from] drctl_blueprint::ZonesError),
    #[error(transparent)]
    Store(#[from] drctl_core::store::StoreError),
    #[error(transparent)]
    Lock(#[from] drctl_core::lock::LockError),
    #[error(transparent)]
    Journal(#[from] drctl_core::journal::JournalError),
    #[error(transparent)]
    Recovery(#[from] drctl_core::recovery::RecoveryError),
    #[error(transparent)]
    Exec(#[from] drctl_core::executor::ExecError),
    #[error(transparent)]
    Target(#[from] drctl_core::targeting::TargetError),
    #[error(transparent)]
    Import(#[from] drctl_core::import::ImportError),
    #[error(transparent)]
    ImportFile(#[from] drctl_core::import::ImportFileError),
    #[error(transparent)]
    Dr(#[from] drctl_dr::DrError),
}

/// `a, b, c`.
pub(crate) fn joined(addresses: &[Address]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
