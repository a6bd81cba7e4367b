//! Provider tests: cloudwatch.

#[allow(unused_imports)]
use super::{Kit, attrs, out};
