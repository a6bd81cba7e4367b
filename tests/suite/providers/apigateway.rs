//! Provider tests: apigateway.

#[allow(unused_imports)]
use super::{Kit, attrs, out};
