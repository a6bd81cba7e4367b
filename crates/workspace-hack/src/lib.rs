//! No code: this crate only enables features of third-party crates so that
//! every package selection of the workspace resolves the same feature set
//! (see its Cargo.toml).
