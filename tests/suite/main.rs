//! drctl's integration suite: one binary (the SDK crates link once), one
//! module per concern. Every test uses its own environment name, so tests
//! share the emulator without seeing each other's resources.

mod backend;
mod backend_replica;
mod cli;
mod dns;
mod dr;
mod dr_destroy;
mod e2e;
mod faults;
mod import;
mod intents;
mod ops;
mod plans;
mod providers;
mod targeting;
mod ux;
mod zones;
