//! The test-only crash switch: with `DRCTL_CRASH_AFTER_CALLS=N` in the
//! environment, the process aborts right after the Nth AWS call returns,
//! before drctl can act on or persist its result, so every crash point of
//! an apply can be hit on purpose.
//!
//! Only in builds with the `crash-hook` feature, which the test crate
//! enables (so `cargo build --workspace` and `cargo test --workspace`
//! build drctl with it); a drctl built on its own (`cargo build -p
//! drctl`, `cargo install`) ignores the variable.

#[cfg(feature = "crash-hook")]
use std::sync::OnceLock;
#[cfg(feature = "crash-hook")]
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

pub const CRASH_ENV: &str = "DRCTL_CRASH_AFTER_CALLS";

/// Whether this build has the crash switch.
pub const CRASH_HOOK: bool = cfg!(feature = "crash-hook");

/// Calls left before the abort; `usize::MAX` when disarmed.
#[cfg(feature = "crash-hook")]
fn remaining() -> &'static AtomicUsize {
    static REMAINING: OnceLock<AtomicUsize> = OnceLock::new();
    REMAINING.get_or_init(|| {
        let n = std::env::var(CRASH_ENV)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(usize::MAX);
        AtomicUsize::new(n)
    })
}

#[derive(Debug)]
pub(crate) struct CrashSwitch;

impl Intercept for CrashSwitch {
    fn name(&self) -> &'static str {
        "drctl-crash-switch"
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        #[cfg(feature = "crash-hook")]
        {
            let counter = remaining();
            if counter.load(Ordering::Relaxed) != usize::MAX
                && counter.fetch_sub(1, Ordering::SeqCst) == 1
            {
                eprintln!("{CRASH_ENV}: aborting after this call, as asked");
                std::process::abort();
            }
        }
        Ok(())
    }
}
