//! Lambda kinds.

pub mod function;
pub mod permission;

use crate::kind::{Registration, kind};

pub(crate) static KINDS: &[Registration] =
    &[kind!(function, Function), kind!(permission, Permission)];
