//! SNS kinds.

pub mod subscription;
pub mod topic;

use crate::kind::{Registration, kind};

pub(crate) static KINDS: &[Registration] =
    &[kind!(topic, Topic), kind!(subscription, Subscription)];
