use drctl_core::ProviderError;
use drctl_core::store::StoreError;

/// Why a DR operation stopped.
#[derive(Debug, thiserror::Error)]
pub enum DrError {
    /// A call through the cloud port failed (its operation, code and
    /// message, as the provider reports them).
    #[error(transparent)]
    Cloud(#[from] ProviderError),
    /// State could not be written.
    #[error(transparent)]
    State(#[from] StoreError),
    /// A step of a switch failed; a re-run resumes at it.
    #[error(
        "{phase} of `{env}` stopped at step {step}; once the cause is fixed, run the same command again: it resumes where it stopped"
    )]
    Stopped {
        phase: &'static str,
        env: String,
        step: usize,
        #[source]
        source: Box<DrError>,
    },
    /// What AWS reports makes the operation impossible (e.g. no global
    /// cluster); the message says what to do.
    #[error("{0}")]
    Refused(String),
}
