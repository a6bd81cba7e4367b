//! drctl's application layer (as cargo's `ops`): each operation of the
//! command line as a function over a [`Workspace`] (the environment's
//! settings, its state backend, the schemas, the run's one provider
//! registry and its one expanded blueprint). Operations return plain data
//! (plans, reports, state) and tell an [`Observer`] how they progress;
//! parsing, prompts and rendering are the binary's.
//!
//! Deciding is separate from doing: [`plan::plan`] and
//! [`apply::prepare_apply`] decide what a run does (calling AWS only to
//! read), [`apply::execute`] does it.

pub mod apply;
pub mod dns;
pub mod dr;
pub mod error;
pub mod import;
pub mod observer;
pub mod plan;
pub mod platform;
pub mod workspace;

pub use error::{OpsError, PlatformError};
pub use observer::{Observer, Silent};
pub use platform::{Aws, Platform};
pub use workspace::{Expand, OpenOptions, Parts, Workspace, expand_offline, validate};
