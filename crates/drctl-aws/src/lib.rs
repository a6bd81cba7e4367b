//! drctl's AWS providers: one module per service, one file per resource
//! kind, each implementing [`drctl_core::Provider`] over the AWS SDK for Rust.
//!
//! Adding a kind: write its file under the service's folder (its schema
//! with its latency row, its typed inputs, its `Kind` impl with `list`),
//! and add one line for it to the service's `KINDS` in its `mod.rs`.

mod acm;
mod apigateway;
mod backup;
mod clients;
mod cloudwatch;
mod crash;
pub mod dr;
mod dynamodb;
mod ec2;
mod ecs;
mod elbv2;
mod events;
mod iam;
mod kind;
mod kms;
mod lambda;
pub mod ratelimit;
mod rds;
mod route53;
mod s3;
mod secretsmanager;
mod sfn;
mod sns;
mod ssm;
mod support;
mod tags;
mod zones;

use drctl_core::Providers;
use drctl_core::provider::{KindSchema, Schemas};

pub use clients::{AwsContext, AwsError, Connection, GLOBAL_REGION};
pub use crash::{CRASH_ENV, CRASH_HOOK};
pub use support::error_chain;

/// Every service's kinds.
const SERVICES: &[&[kind::Registration]] = &[
    ec2::KINDS,
    s3::KINDS,
    ssm::KINDS,
    iam::KINDS,
    lambda::KINDS,
    secretsmanager::KINDS,
    kms::KINDS,
    rds::KINDS,
    dynamodb::KINDS,
    acm::KINDS,
    apigateway::KINDS,
    route53::KINDS,
    sns::KINDS,
    cloudwatch::KINDS,
    sfn::KINDS,
    events::KINDS,
    ecs::KINDS,
    elbv2::KINDS,
    backup::KINDS,
];

/// Every kind drctl-aws implements, for planning without AWS calls.
pub fn schemas() -> Schemas {
    let all: Vec<&'static KindSchema> = SERVICES
        .iter()
        .flat_map(|kinds| kinds.iter().map(|k| k.schema))
        .collect();
    Schemas::from_list(&all)
}

/// The provider registry over one AWS context.
pub fn providers(ctx: &AwsContext) -> Providers {
    let clients = ctx.clients();
    let mut providers = Providers::new();
    for kind in SERVICES.iter().flat_map(|kinds| kinds.iter()) {
        providers.register((kind.make)(&clients));
    }
    providers
}
