//! Systems Manager kinds.

pub mod parameter;
