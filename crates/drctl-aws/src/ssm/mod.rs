//! Systems Manager kinds.

pub mod parameter;

use crate::kind::{Registration, kind};

pub(crate) static KINDS: &[Registration] = &[kind!(parameter, Parameter)];
