//! One region's network: VPC, 3 AZs x (public, private, isolated) subnets,
//! internet gateway, route tables, associations and security groups. The
//! peering between the two regions' VPCs is `crate::peering`.

use drctl_core::{Address, ResourceSpec, Value};
use serde_json::json;

use crate::Region;

pub(crate) const AZ_SUFFIXES: [&str; 3] = ["a", "b", "c"];
pub(crate) const TIERS: [&str; 3] = ["public", "private", "isolated"];

/// Addresses later parts of the blueprint refer to.
pub(crate) struct Network {
    pub vpc: Address,
    /// `[tier][az]`
    pub subnets: [[Address; 3]; 3],
    /// One per tier, in `TIERS` order.
    pub route_tables: [Address; 3],
    /// The functions' and the database's security groups: only with
    /// `databases_and_functions`.
    pub security_groups: Option<SecurityGroups>,
}

pub(crate) struct SecurityGroups {
    pub lambda: Address,
    pub db: Address,
}

pub(crate) fn build(r: &mut Region) -> Network {
    let cidr = r.bp.settings.cidr(r.role);
    let vpc_name = r.name("vpc");
    let vpc = r.add(
        ResourceSpec::new(r.address("ec2.vpc", "payment"), r.region)
            .input("cidr_block", cidr.to_string())
            .input("enable_dns_support", true)
            .input("enable_dns_hostnames", true)
            .input("tags", r.tags(&vpc_name)),
    );
    let vpc_id = || Value::Ref(vpc.output("vpc_id"));

    // /24s in order: public a,b,c, private a,b,c, isolated a,b,c.
    let mut blocks = cidr.subnets(24).expect("validated prefix <= /20");
    let subnets = TIERS.map(|tier| {
        AZ_SUFFIXES.map(|az| {
            let name = format!("{tier}-{az}");
            let aws_name = r.name(&format!("{tier}-{az}"));
            let block = blocks.next().expect("a /20 holds 16 /24s");
            r.add(
                ResourceSpec::new(r.address("ec2.subnet", &name), r.region)
                    .input("vpc_id", vpc_id())
                    .input("cidr_block", block.to_string())
                    .input("availability_zone", format!("{}{az}", r.region))
                    .input("map_public_ip_on_launch", tier == "public")
                    .input(
                        "tags",
                        json!({"Name": aws_name, "DR-Role": r.role.as_str(), "Tier": tier}),
                    ),
            )
        })
    });

    let igw_name = r.name("igw");
    let igw = r.add(
        ResourceSpec::new(r.address("ec2.internet_gateway", "payment"), r.region)
            .input("vpc_id", vpc_id())
            .input("tags", r.tags(&igw_name)),
    );

    let route_tables = TIERS.map(|tier| {
        let name = r.name(&format!("{tier}-rt"));
        r.add(
            ResourceSpec::new(r.address("ec2.route_table", tier), r.region)
                .input("vpc_id", vpc_id())
                .input("tags", r.tags(&name)),
        )
    });

    r.add(
        ResourceSpec::new(r.address("ec2.route", "public-default"), r.region)
            .input("route_table_id", route_tables[0].output("route_table_id"))
            .input("destination_cidr_block", "0.0.0.0/0")
            .input("gateway_id", igw.output("internet_gateway_id")),
    );

    // One NAT gateway, in the first public subnet, for the private tier.
    let eip_name = r.name("nat-eip");
    let eip = r.add(
        ResourceSpec::new(r.address("ec2.eip", "nat"), r.region).input("tags", r.tags(&eip_name)),
    );
    let nat_name = r.name("nat");
    let nat = r.add(
        ResourceSpec::new(r.address("ec2.nat_gateway", "payment"), r.region)
            .input("subnet_id", subnets[0][0].output("subnet_id"))
            .input("allocation_id", eip.output("allocation_id"))
            .input("tags", r.tags(&nat_name))
            // The gateway needs the VPC's internet route to be usable.
            .after(&igw),
    );
    r.add(
        ResourceSpec::new(r.address("ec2.route", "private-default"), r.region)
            .input("route_table_id", route_tables[1].output("route_table_id"))
            .input("destination_cidr_block", "0.0.0.0/0")
            .input("nat_gateway_id", nat.output("nat_gateway_id")),
    );

    // S3 and DynamoDB stay on the AWS network from private and isolated subnets.
    for service in ["s3", "dynamodb"] {
        let name = r.name(&format!("{service}-endpoint"));
        r.add(
            ResourceSpec::new(r.address("ec2.vpc_endpoint", service), r.region)
                .input("vpc_id", vpc_id())
                .input(
                    "service_name",
                    format!("com.amazonaws.{}.{service}", r.region),
                )
                .input("vpc_endpoint_type", "Gateway")
                .input(
                    "route_table_ids",
                    Value::Set(vec![
                        Value::Ref(route_tables[1].output("route_table_id")),
                        Value::Ref(route_tables[2].output("route_table_id")),
                    ]),
                )
                .input("tags", r.tags(&name)),
        );
    }

    for (t, tier) in TIERS.iter().enumerate() {
        for (z, az) in AZ_SUFFIXES.iter().enumerate() {
            r.add(
                ResourceSpec::new(
                    r.address("ec2.route_table_association", &format!("{tier}-{az}")),
                    r.region,
                )
                .input("subnet_id", subnets[t][z].output("subnet_id"))
                .input("route_table_id", route_tables[t].output("route_table_id")),
            );
        }
    }

    if !r.bp.settings.databases_and_functions {
        return Network {
            vpc,
            subnets,
            route_tables,
            security_groups: None,
        };
    }
    let lambda_name = r.name("lambda");
    let lambda_sg = r.add(
        ResourceSpec::new(r.address("ec2.security_group", "lambda"), r.region)
            .input("name", lambda_name.clone())
            .input("description", "Payment Lambda functions")
            .input("vpc_id", vpc_id())
            .input("ingress", json!({}))
            .input(
                "egress",
                json!({"all-outbound": {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_block": "0.0.0.0/0"}}),
            )
            .input("tags", r.tags(&lambda_name)),
    );
    let db_name = r.name("db");
    let postgres_from_lambda = Value::Map(
        [
            ("protocol".to_string(), Value::str("tcp")),
            ("from_port".to_string(), Value::from(5432)),
            ("to_port".to_string(), Value::from(5432)),
            (
                "source_security_group_id".to_string(),
                Value::Ref(lambda_sg.output("security_group_id")),
            ),
        ]
        .into(),
    );
    // The other region's VPC reaches the database through the peering
    // connection (crate::peering). Across regions a rule cannot name the
    // peer's security group, only its CIDR block (VPC Peering Guide, "VPC
    // peering basics").
    let postgres_from_peer = json!({
        "protocol": "tcp", "from_port": 5432, "to_port": 5432,
        "cidr_block": r.bp.settings.cidr(r.role.other()).to_string(),
    });
    let db_sg = r.add(
        ResourceSpec::new(r.address("ec2.security_group", "db"), r.region)
            .input("name", db_name.clone())
            // Unchanged since before the peer rule: the description is
            // immutable, and a new one would replace the group under a
            // running cluster.
            .input(
                "description",
                "Aurora PostgreSQL, reachable from the Lambda functions only",
            )
            .input("vpc_id", vpc_id())
            .input(
                "ingress",
                Value::Map(
                    [
                        ("postgres-from-lambda".to_string(), postgres_from_lambda),
                        (
                            "postgres-from-peer-vpc".to_string(),
                            Value::from(postgres_from_peer),
                        ),
                    ]
                    .into(),
                ),
            )
            .input("egress", json!({}))
            .input("tags", r.tags(&db_name)),
    );

    Network {
        vpc,
        subnets,
        route_tables,
        security_groups: Some(SecurityGroups {
            lambda: lambda_sg,
            db: db_sg,
        }),
    }
}
