//! drctl's AWS providers: one module per service, one file per resource
//! kind, each implementing [`drctl_core::Provider`] over the AWS SDK for Rust.
//!
//! Adding a kind: write its file under the service's folder, and add it to
//! the service's `KINDS` list and `register` function in its `mod.rs`.

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

use std::sync::Arc;

use drctl_core::Providers;
use drctl_core::provider::{KindSchema, Schemas};

pub use clients::{AwsContext, AwsError, GLOBAL_REGION};
pub use crash::{CRASH_ENV, CRASH_HOOK};
pub use support::error_chain;

use clients::Clients;

type Register = fn(&mut Providers, &Arc<Clients>);

/// Every service: its kinds and how to register their providers.
const SERVICES: &[(&[&KindSchema], Register)] = &[
    (ec2::KINDS, ec2::register),
    (s3::KINDS, s3::register),
    (ssm::KINDS, ssm::register),
    (iam::KINDS, iam::register),
    (lambda::KINDS, lambda::register),
    (secretsmanager::KINDS, secretsmanager::register),
    (kms::KINDS, kms::register),
    (rds::KINDS, rds::register),
    (dynamodb::KINDS, dynamodb::register),
    (acm::KINDS, acm::register),
    (apigateway::KINDS, apigateway::register),
    (route53::KINDS, route53::register),
    (sns::KINDS, sns::register),
    (cloudwatch::KINDS, cloudwatch::register),
    (sfn::KINDS, sfn::register),
    (events::KINDS, events::register),
    (ecs::KINDS, ecs::register),
    (elbv2::KINDS, elbv2::register),
    (backup::KINDS, backup::register),
];

/// Every kind drctl-aws implements, for planning without AWS calls.
pub fn schemas() -> Schemas {
    let all: Vec<&'static KindSchema> = SERVICES
        .iter()
        .flat_map(|(kinds, _)| kinds.iter().copied())
        .collect();
    Schemas::from_list(&all)
}

/// The provider registry over one AWS context.
pub fn providers(ctx: &AwsContext) -> Providers {
    let clients = ctx.clients();
    let mut providers = Providers::new();
    for (_, register) in SERVICES {
        register(&mut providers, &clients);
    }
    providers
}
