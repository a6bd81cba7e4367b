//! Provider tests: route53.

#[allow(unused_imports)]
use super::{Kit, attrs, out};
