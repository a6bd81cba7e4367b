//! What a running operation is waiting for (a certificate's validation, a
//! security group still in use), so that progress output can say it.
//!
//! A provider reports through [`report`] without knowing who listens: the
//! executor runs each operation inside [`scope`] with a [`Status`] of its
//! own and reads it when it tells observers the operation is still running.
//! Outside a scope (a unit test calling a provider directly) a report goes
//! nowhere.

use std::sync::{Arc, Mutex};

tokio::task_local! {
    static CURRENT: Status;
}

/// The latest report of one operation.
#[derive(Clone, Debug, Default)]
pub struct Status(Arc<Mutex<Option<String>>>);

impl Status {
    /// The text of the latest report, if any.
    pub fn get(&self) -> Option<String> {
        self.0.lock().map(|s| s.clone()).unwrap_or(None)
    }

    fn set(&self, text: String) {
        if let Ok(mut s) = self.0.lock() {
            *s = Some(text);
        }
    }
}

/// Says what the running operation is waiting for now; replaces its
/// previous report.
pub fn report(text: impl Into<String>) {
    let _ = CURRENT.try_with(|s| s.set(text.into()));
}

/// Runs `future` with `status` receiving its reports.
pub async fn scope<F: Future>(status: Status, future: F) -> F::Output {
    CURRENT.scope(status, future).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_reach_the_scope_and_nothing_outside_it() {
        report("nobody listens");
        let status = Status::default();
        scope(status.clone(), async {
            report("certificate: PENDING_VALIDATION");
            report("certificate: still PENDING_VALIDATION");
        })
        .await;
        assert_eq!(
            status.get().as_deref(),
            Some("certificate: still PENDING_VALIDATION")
        );
    }
}
