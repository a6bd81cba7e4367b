//! CloudWatch kinds.

pub mod alarm;
pub mod dashboard;

use crate::kind::{Registration, kind};

pub(crate) static KINDS: &[Registration] = &[kind!(alarm, Alarm), kind!(dashboard, Dashboard)];
