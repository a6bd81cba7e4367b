//! Provider tests: rds.

#[allow(unused_imports)]
use super::{Kit, attrs, out};
