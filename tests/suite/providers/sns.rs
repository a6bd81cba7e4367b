//! Provider tests: sns.

#[allow(unused_imports)]
use super::{Kit, attrs, out};
