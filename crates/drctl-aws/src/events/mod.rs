//! EventBridge kinds.

pub mod rule;

use crate::kind::{Registration, kind};

pub(crate) static KINDS: &[Registration] = &[kind!(rule, Rule)];
