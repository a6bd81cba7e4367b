//! Provider tests: sfn.

#[allow(unused_imports)]
use super::{Kit, attrs, out};
