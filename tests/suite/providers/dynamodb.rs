//! Provider tests: dynamodb.

#[allow(unused_imports)]
use super::{Kit, attrs, out};
