//! The command line's view of a workspace (`drctl_ops::Workspace`): opened
//! from the global flags, its progress notes printed on stdout (or stderr
//! when stdout carries a JSON document).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use drctl_ops::{OpenOptions, Workspace};

use crate::cli::Global;

pub struct Session {
    ws: Workspace,
    notes: Arc<Notes>,
}

/// Prints progress notes for the operator.
#[derive(Default)]
struct Notes {
    /// Set when stdout carries a JSON document: notes go to stderr.
    to_stderr: AtomicBool,
}

impl drctl_ops::Observer for Notes {
    fn note(&self, line: &str) {
        if self.to_stderr.load(Ordering::Relaxed) {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    fn heartbeat(&self) -> Option<Duration> {
        Some(drctl_view::heartbeat::HEARTBEAT)
    }

    fn still_running(&self, label: &str, elapsed: Duration, waiting_for: Option<&str>) {
        let mut line = format!(
            "{label}: still running [{} elapsed]",
            drctl_view::duration(elapsed)
        );
        if let Some(s) = waiting_for {
            line.push_str(": ");
            line.push_str(s);
        }
        self.note(&line);
    }
}

/// Where the files and the backend are, from the global flags.
pub fn options(global: &Global) -> OpenOptions {
    OpenOptions {
        config: global.config.clone(),
        state_dir: global.state_dir.clone(),
        plans_dir: global.plans_dir.clone(),
        endpoint: global.endpoint.clone(),
        backend: global.backend.clone(),
        backend_region: global.backend_region.clone(),
        backend_replica: global.backend_replica.clone(),
        backend_replica_region: global.backend_replica_region.clone(),
    }
}

impl Session {
    /// Loads and validates drctl.toml; fails before any API call.
    pub fn open(global: &Global, env: &str) -> Result<Self> {
        let notes = Arc::new(Notes::default());
        let ws = Workspace::open(&options(global), env)?.with_observer(notes.clone());
        Ok(Self { ws, notes })
    }

    /// Keeps stdout for a machine-readable document.
    pub fn notes_to_stderr(&self) {
        self.notes.to_stderr.store(true, Ordering::Relaxed);
    }

    /// A progress note for the operator.
    pub fn note(&self, line: &str) {
        drctl_ops::Observer::note(self.notes.as_ref(), line);
    }
}

impl Deref for Session {
    type Target = Workspace;
    fn deref(&self) -> &Workspace {
        &self.ws
    }
}

impl DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Workspace {
        &mut self.ws
    }
}
