//! DynamoDB kinds.

pub mod table;

use crate::kind::{Registration, kind};

pub(crate) static KINDS: &[Registration] = &[kind!(table, Table)];
