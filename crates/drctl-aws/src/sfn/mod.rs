//! Step Functions kinds.

pub mod state_machine;

use crate::kind::{Registration, kind};

pub(crate) static KINDS: &[Registration] = &[kind!(state_machine, StateMachine)];
