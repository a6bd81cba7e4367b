//! drctl's AWS providers: one module per service, one file per resource
//! kind, each implementing [`drctl_core::Provider`] over the AWS SDK for Rust.
//!
//! Adding a kind: write its file, add one line to [`KINDS`] and one to
//! [`providers`].

mod clients;
mod ec2;
mod s3;
mod ssm;
mod support;

use std::sync::Arc;

use drctl_core::provider::{KindSchema, Schemas};
use drctl_core::{Provider, Providers};

pub use clients::{AwsContext, AwsError};

/// Every kind drctl-aws implements, for planning without AWS calls.
pub static KINDS: &[&KindSchema] = &[
    &ec2::vpc::SCHEMA,
    &ec2::subnet::SCHEMA,
    &ec2::internet_gateway::SCHEMA,
    &ec2::route_table::SCHEMA,
    &ec2::route::SCHEMA,
    &ec2::route_table_association::SCHEMA,
    &ec2::security_group::SCHEMA,
    &s3::bucket::SCHEMA,
    &ssm::parameter::SCHEMA,
];

pub fn schemas() -> Schemas {
    Schemas::from_list(KINDS)
}

/// The provider registry over one AWS context.
pub fn providers(ctx: &AwsContext) -> Providers {
    let c = ctx.clients();
    let list: Vec<Arc<dyn Provider>> = vec![
        Arc::new(ec2::vpc::Vpc(c.clone())),
        Arc::new(ec2::subnet::Subnet(c.clone())),
        Arc::new(ec2::internet_gateway::InternetGateway(c.clone())),
        Arc::new(ec2::route_table::RouteTable(c.clone())),
        Arc::new(ec2::route::Route(c.clone())),
        Arc::new(ec2::route_table_association::RouteTableAssociation(
            c.clone(),
        )),
        Arc::new(ec2::security_group::SecurityGroup(c.clone())),
        Arc::new(s3::bucket::Bucket(c.clone())),
        Arc::new(ssm::parameter::Parameter(c.clone())),
    ];
    let mut providers = Providers::new();
    for p in list {
        providers.register(p);
    }
    debug_assert_eq!(providers.kinds().count(), KINDS.len());
    providers
}
