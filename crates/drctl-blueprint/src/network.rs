//! One region's network: VPC, (public, private, isolated) subnets in each
//! of the region's 2 or 3 Availability Zones (`crate::zones`), internet
//! gateway, route tables, associations and security groups. The peering
//! between the two regions' VPCs is `crate::peering`.

use drctl_core::{Address, ResourceSpec, Value};
use serde_json::json;

use crate::zones::{MAX_ZONES, Zones};
use crate::{Region, Role};

pub(crate) const TIERS: [&str; 3] = ["public", "private", "isolated"];

/// Addresses later parts of the blueprint refer to.
pub(crate) struct Network {
    pub vpc: Address,
    /// `[tier][zone]`: one subnet per zone, so an application load
    /// balancer (at most one subnet per zone) can take a whole tier.
    pub subnets: [Vec<Address>; 3],
    /// The subnets' route table associations, `[tier][zone]`.
    pub associations: [Vec<Address>; 3],
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

/// The zones of `r`'s region.
pub(crate) fn zones<'a>(r: &Region<'a>) -> &'a Zones {
    let zones = &r.bp.zones[match r.role {
        Role::Primary => 0,
        Role::Secondary => 1,
    }];
    assert_eq!(zones.region(), r.region, "the zones of another region");
    zones
}

pub(crate) fn build(r: &mut Region) -> Network {
    let zones = zones(r);
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

    // The /24 of tier t in the zone at position z is the (3t + z)th: public
    // 0-2, private 3-5, isolated 6-8, whether the region has 2 zones or 3.
    // Subnets are named after their zone (`public-b` in `us-west-1b`).
    let blocks: Vec<_> = cidr
        .subnets(24)
        .expect("validated prefix <= /20")
        .take(TIERS.len() * MAX_ZONES)
        .collect();
    let subnets: [Vec<Address>; 3] = std::array::from_fn(|t| {
        let tier = TIERS[t];
        zones
            .each()
            .enumerate()
            .map(|(z, (short, zone))| {
                let name = format!("{tier}-{short}");
                let aws_name = r.name(&name);
                let block = blocks[t * MAX_ZONES + z];
                r.add(
                    ResourceSpec::new(r.address("ec2.subnet", &name), r.region)
                        .input("vpc_id", vpc_id())
                        .input("cidr_block", block.to_string())
                        .input("availability_zone", zone)
                        .input("map_public_ip_on_launch", tier == "public")
                        .input(
                            "tags",
                            json!({"Name": aws_name, "DR-Role": r.role.as_str(), "Tier": tier}),
                        ),
                )
            })
            .collect::<Vec<_>>()
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

    let associations: [Vec<Address>; 3] = std::array::from_fn(|t| {
        let tier = TIERS[t];
        zones
            .each()
            .enumerate()
            .map(|(z, (short, _))| {
                r.add(
                    ResourceSpec::new(
                        r.address("ec2.route_table_association", &format!("{tier}-{short}")),
                        r.region,
                    )
                    .input("subnet_id", subnets[t][z].output("subnet_id"))
                    .input("route_table_id", route_tables[t].output("route_table_id")),
                )
            })
            .collect::<Vec<_>>()
    });

    if !r.bp.settings.databases_and_functions {
        return Network {
            vpc,
            subnets,
            associations,
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
        associations,
        route_tables,
        security_groups: Some(SecurityGroups {
            lambda: lambda_sg,
            db: db_sg,
        }),
    }
}

#[cfg(test)]
mod tests {
    use drctl_core::{DesiredGraph, ResourceSpec, Value};

    use crate::{Blueprint, EnvSettings, Role, Zones};

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// us-west-1 offering a new account two zones, `b` and `c`, as the
    /// primary; ap-northeast-1 offering `a`, `c` and `d` as the secondary.
    fn unusual() -> (EnvSettings, [Zones; 2]) {
        let mut settings = EnvSettings::defaults("dev");
        settings.primary_region = "us-west-1".into();
        settings.secondary_region = "ap-northeast-1".into();
        let zones = [
            Zones::new("us-west-1", &names(&["us-west-1c", "us-west-1b"])).unwrap(),
            Zones::new(
                "ap-northeast-1",
                &names(&["ap-northeast-1d", "ap-northeast-1a", "ap-northeast-1c"]),
            )
            .unwrap(),
        ];
        (settings, zones)
    }

    fn expand(settings: &EnvSettings, zones: [Zones; 2]) -> Vec<ResourceSpec> {
        Blueprint {
            env: "dev",
            settings,
            account_id: "123456789012",
            weighted: Role::Primary,
            zones,
        }
        .resources()
    }

    fn named<'a>(specs: &'a [ResourceSpec], role: &str, kind: &str) -> Vec<&'a ResourceSpec> {
        specs
            .iter()
            .filter(|s| s.address.scope() == role && s.address.kind() == kind)
            .collect()
    }

    /// The subnets' names, zones and blocks, and the associations' names,
    /// of one role.
    fn subnets(specs: &[ResourceSpec], role: &str) -> Vec<(String, Value, Value)> {
        named(specs, role, "ec2.subnet")
            .iter()
            .map(|s| {
                (
                    s.address.name().to_owned(),
                    s.inputs["availability_zone"].clone(),
                    s.inputs["cidr_block"].clone(),
                )
            })
            .collect()
    }

    #[test]
    fn each_tier_has_one_subnet_in_each_zone_the_region_offers() {
        let (settings, zones) = unusual();
        let specs = expand(&settings, zones);
        let mut primary = subnets(&specs, "primary");
        primary.sort_by(|a, b| a.0.cmp(&b.0));
        // Named after their zones; blocks keep their slots (tier x 3 + zone).
        let want: Vec<(String, Value, Value)> = [
            ("isolated-b", "us-west-1b", "10.0.6.0/24"),
            ("isolated-c", "us-west-1c", "10.0.7.0/24"),
            ("private-b", "us-west-1b", "10.0.3.0/24"),
            ("private-c", "us-west-1c", "10.0.4.0/24"),
            ("public-b", "us-west-1b", "10.0.0.0/24"),
            ("public-c", "us-west-1c", "10.0.1.0/24"),
        ]
        .iter()
        .map(|(n, z, c)| (n.to_string(), Value::str(*z), Value::str(*c)))
        .collect();
        assert_eq!(primary, want);
        let mut secondary = subnets(&specs, "secondary");
        secondary.sort_by(|a, b| a.0.cmp(&b.0));
        let secondary: Vec<(&str, &Value)> =
            secondary.iter().map(|(n, z, _)| (n.as_str(), z)).collect();
        assert_eq!(
            secondary,
            [
                ("isolated-a", &Value::str("ap-northeast-1a")),
                ("isolated-c", &Value::str("ap-northeast-1c")),
                ("isolated-d", &Value::str("ap-northeast-1d")),
                ("private-a", &Value::str("ap-northeast-1a")),
                ("private-c", &Value::str("ap-northeast-1c")),
                ("private-d", &Value::str("ap-northeast-1d")),
                ("public-a", &Value::str("ap-northeast-1a")),
                ("public-c", &Value::str("ap-northeast-1c")),
                ("public-d", &Value::str("ap-northeast-1d")),
            ]
        );
        // One association per subnet, under the subnet's name.
        for role in ["primary", "secondary"] {
            let mut subnet_names: Vec<&str> = named(&specs, role, "ec2.subnet")
                .iter()
                .map(|s| s.address.name())
                .collect();
            let mut associated: Vec<&str> = named(&specs, role, "ec2.route_table_association")
                .iter()
                .map(|s| s.address.name())
                .collect();
            subnet_names.sort_unstable();
            associated.sort_unstable();
            assert_eq!(subnet_names, associated, "{role}");
        }
        DesiredGraph::new(specs).expect("a valid graph");
    }

    /// Two zones: the tiers have two subnets each, never two in one zone,
    /// so the load balancer, the DB subnet group and the tasks span two
    /// zones; nothing else changes.
    #[test]
    fn two_zones_make_two_subnets_per_tier_and_nothing_else_changes() {
        let (settings, zones) = unusual();
        let specs = expand(&settings, zones);
        let three = expand(&settings, Zones::placeholders(&settings));
        // 3 subnets and 3 associations fewer in the two-zone primary.
        assert_eq!(three.len() - specs.len(), 6);
        let graph = DesiredGraph::new(specs).unwrap();
        let zone_of = |v: &Value| -> Vec<Value> {
            v.references()
                .iter()
                .map(|r| graph.get(&r.address).unwrap().inputs["availability_zone"].clone())
                .collect()
        };
        let get = |a: &str| graph.get(&a.parse().unwrap()).unwrap();
        // Whatever takes a tier's subnets (load balancer, service, DB
        // subnet group, functions) takes one in each of the two zones.
        let mut takers: Vec<String> = Vec::new();
        for spec in graph.resources().filter(|s| s.address.scope() == "primary") {
            if let Some(ids) = spec.inputs.get("subnet_ids") {
                assert_eq!(
                    zone_of(ids),
                    [Value::str("us-west-1b"), Value::str("us-west-1c")],
                    "{}",
                    spec.address
                );
                takers.push(spec.address.kind().to_owned());
            }
        }
        for kind in [
            "elbv2.load_balancer",
            "ecs.service",
            "rds.db_subnet_group",
            "lambda.function",
        ] {
            assert!(takers.iter().any(|k| k == kind), "{kind}: {takers:?}");
        }
        // The NAT gateway sits in the first public subnet.
        assert_eq!(
            get("primary/ec2.nat_gateway/payment").inputs["subnet_id"].references()[0]
                .address
                .to_string(),
            "primary/ec2.subnet/public-b"
        );
        // The service waits for both private subnets' associations.
        let service: drctl_core::Address = "primary/ecs.service/web".parse().unwrap();
        for name in ["private-b", "private-c"] {
            let association = format!("primary/ec2.route_table_association/{name}");
            assert!(
                graph
                    .dependencies(&service)
                    .contains(&association.parse().unwrap()),
                "{association}"
            );
        }
    }

    /// Destroy deletes each NAT gateway, and waits for `deleted`, before it
    /// detaches the region's internet gateway: DetachInternetGateway is
    /// DependencyViolation while the VPC has a mapped public address (the
    /// NAT gateway's Elastic IP), and a public NAT gateway made before the
    /// internet gateway is attached fails (Gateway.NotAttached).
    #[test]
    fn each_nat_gateway_comes_after_its_regions_internet_gateway() {
        let (settings, zones) = unusual();
        let specs = expand(&settings, zones);
        let mut nats = 0;
        for role in ["primary", "secondary"] {
            let igw = named(&specs, role, "ec2.internet_gateway");
            assert_eq!(igw.len(), 1, "{role}");
            for nat in named(&specs, role, "ec2.nat_gateway") {
                assert!(
                    nat.dependencies().contains(&igw[0].address),
                    "{}",
                    nat.address
                );
                nats += 1;
            }
        }
        assert!(nats > 0);
    }
}
