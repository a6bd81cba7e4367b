//! VPC peering between the two regions' VPCs: the primary requests the
//! connection, the secondary accepts it in its own region (AWS accepts a
//! cross-region request only there), and each region's private and
//! isolated route tables send the other VPC's range through it. The
//! databases' security groups admit PostgreSQL from the peer range
//! (`network.rs`).
//!
//! The routes take the connection's id from the accepter, so they are
//! created once the connection is active and deleted before the accepter
//! and the connection are.

use drctl_core::ResourceSpec;

use crate::network::Network;
use crate::{Blueprint, Region, Role};

/// The route tables that get a route to the peer VPC: private and isolated
/// (`network::TIERS` order).
const PEERED_TIERS: [(usize, &str); 2] = [(1, "private"), (2, "isolated")];

pub(crate) fn build(bp: &Blueprint, networks: &[Network; 2], out: &mut Vec<ResourceSpec>) {
    let [primary_net, secondary_net] = networks;
    let region = |role| match role {
        Role::Primary => bp.settings.primary_region.as_str(),
        Role::Secondary => bp.settings.secondary_region.as_str(),
    };

    let connection = {
        let mut r = Region {
            bp,
            role: Role::Primary,
            region: region(Role::Primary),
            out: &mut *out,
        };
        let name = r.name("peering");
        r.add(
            ResourceSpec::new(r.address("ec2.vpc_peering_connection", "payment"), r.region)
                .input("vpc_id", primary_net.vpc.output("vpc_id"))
                .input("peer_vpc_id", secondary_net.vpc.output("vpc_id"))
                .input("peer_region", region(Role::Secondary))
                .input("tags", r.tags(&name)),
        )
    };

    let accepter = {
        let mut r = Region {
            bp,
            role: Role::Secondary,
            region: region(Role::Secondary),
            out: &mut *out,
        };
        let name = r.name("peering");
        r.add(
            ResourceSpec::new(
                r.address("ec2.vpc_peering_connection_accepter", "payment"),
                r.region,
            )
            .input(
                "vpc_peering_connection_id",
                connection.output("vpc_peering_connection_id"),
            )
            .input("tags", r.tags(&name)),
        )
    };

    for (role, net) in [
        (Role::Primary, primary_net),
        (Role::Secondary, secondary_net),
    ] {
        let mut r = Region {
            bp,
            role,
            region: region(role),
            out: &mut *out,
        };
        let peer_cidr = bp.settings.cidr(role.other()).to_string();
        for (tier, tier_name) in PEERED_TIERS {
            r.add(
                ResourceSpec::new(
                    r.address("ec2.route", &format!("{tier_name}-peer")),
                    r.region,
                )
                .input(
                    "route_table_id",
                    net.route_tables[tier].output("route_table_id"),
                )
                .input("destination_cidr_block", peer_cidr.clone())
                .input(
                    "vpc_peering_connection_id",
                    accepter.output("vpc_peering_connection_id"),
                ),
            );
        }
    }
}
