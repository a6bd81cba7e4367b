//! What drctl shows, kept apart from the binary so it is unit-tested on
//! its own: plans in Terraform's idiom, the record of a run (timings,
//! critical path, JSON report), its timeline as SVG, the resource graph as
//! Mermaid, and an environment's named outputs. Pure functions only: no
//! I/O, no clock except the instant a caller passes in.

pub mod mermaid;
pub mod outputs;
pub mod plan;
pub mod run;
pub mod style;
pub mod timeline;
