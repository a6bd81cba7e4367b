//! Provider tests: iam and lambda.

#[allow(unused_imports)]
use super::{Kit, attrs, out};
