//! The Availability Zones a region's subnets go in.
//!
//! Zone names are not the same in every account (AWS maps each account's
//! `us-east-1a` to a physical zone of its own), and a region may offer a
//! new account fewer zones than it has: us-west-1 offers two, and which
//! two differs by account (`us-west-1a`/`b` or `us-west-1b`/`c`). So the
//! blueprint assumes no name and no count: the binary looks the zones up
//! (EC2 DescribeAvailabilityZones), state records them once, and
//! [`Zones::new`] picks from what was recorded.

use thiserror::Error;

use crate::EnvSettings;

/// At most this many zones per region: one subnet per zone and tier.
pub const MAX_ZONES: usize = 3;
/// At least this many: an RDS DB subnet group must cover two zones, and
/// an application load balancer needs subnets in two zones.
pub const MIN_ZONES: usize = 2;

/// The zones one region's subnets go in: the first [`MAX_ZONES`] of those
/// the region offers, in name order, and never fewer than [`MIN_ZONES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zones {
    region: String,
    names: Vec<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ZonesError {
    #[error(
        "region {region} offers this account {} Availability Zone(s){}; drctl needs at least {MIN_ZONES} (an RDS DB subnet group and an application load balancer each span two zones): choose another region",
        names.len(),
        if names.is_empty() { String::new() } else { format!(" ({})", names.join(", ")) }
    )]
    TooFew { region: String, names: Vec<String> },
    #[error(
        "`{name}` is not an Availability Zone name of region {region} (lowercase letters, digits and `-`)"
    )]
    BadName { region: String, name: String },
}

impl Zones {
    /// The zones of `region` from those it `offered` (as looked up, in
    /// any order): the first [`MAX_ZONES`] in name order. Fewer than
    /// [`MIN_ZONES`] distinct names is an error naming the region.
    pub fn new(region: &str, offered: &[String]) -> Result<Zones, ZonesError> {
        for name in offered {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid {
                return Err(ZonesError::BadName {
                    region: region.to_owned(),
                    name: name.clone(),
                });
            }
        }
        let mut names = offered.to_vec();
        names.sort();
        names.dedup();
        if names.len() < MIN_ZONES {
            return Err(ZonesError::TooFew {
                region: region.to_owned(),
                names,
            });
        }
        names.truncate(MAX_ZONES);
        let zones = Zones {
            region: region.to_owned(),
            names,
        };
        // Short names are unique unless a name is another's short name
        // (`b` beside `us-west-1b`): AWS names no zone so.
        let mut short: Vec<&str> = zones.names.iter().map(|n| zones.short(n)).collect();
        short.sort_unstable();
        short.dedup();
        if short.len() != zones.names.len() {
            return Err(ZonesError::BadName {
                region: region.to_owned(),
                name: zones.names.join(", "),
            });
        }
        Ok(zones)
    }

    /// The stand-in for commands that never call AWS (`validate`,
    /// `graph` before the first apply, tests): `<region>a`, `b`, `c`, like
    /// [`crate::PLACEHOLDER_ACCOUNT`]. Never sent to AWS: every command
    /// that calls AWS expands the blueprint with the zones state records.
    pub fn placeholder(region: &str) -> Zones {
        Zones {
            region: region.to_owned(),
            names: ["a", "b", "c"].map(|s| format!("{region}{s}")).to_vec(),
        }
    }

    /// [`Zones::placeholder`] of both regions of `settings`, primary first.
    pub fn placeholders(settings: &EnvSettings) -> [Zones; 2] {
        [
            Zones::placeholder(&settings.primary_region),
            Zones::placeholder(&settings.secondary_region),
        ]
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The zone names, in name order: 2 or 3 of them.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// `(short name, zone name)` of each zone, in name order. The short
    /// name (what follows the region's name: `b` for `us-west-1b`, the
    /// whole name otherwise) names the zone's subnets in addresses and
    /// Name tags.
    pub(crate) fn each(&self) -> impl Iterator<Item = (&str, &str)> {
        self.names.iter().map(|n| (self.short(n), n.as_str()))
    }

    fn short<'a>(&self, name: &'a str) -> &'a str {
        name.strip_prefix(self.region.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_first_three_in_name_order_are_taken() {
        let z = Zones::new(
            "us-east-1",
            &names(&[
                "us-east-1f",
                "us-east-1c",
                "us-east-1a",
                "us-east-1e",
                "us-east-1b",
            ]),
        )
        .unwrap();
        assert_eq!(
            z.names(),
            names(&["us-east-1a", "us-east-1b", "us-east-1c"])
        );
        let z = Zones::new("us-west-1", &names(&["us-west-1c", "us-west-1b"])).unwrap();
        assert_eq!(z.names(), names(&["us-west-1b", "us-west-1c"]));
        assert_eq!(
            z.each().collect::<Vec<_>>(),
            [("b", "us-west-1b"), ("c", "us-west-1c")]
        );
        // A name that does not start with the region's is its own short name.
        let z = Zones::new("xx-1", &names(&["zone-one", "zone-two"])).unwrap();
        assert_eq!(
            z.each().map(|(s, _)| s).collect::<Vec<_>>(),
            ["zone-one", "zone-two"]
        );
    }

    #[test]
    fn fewer_than_two_zones_is_an_error_naming_the_region() {
        let err = Zones::new("ap-east-9", &names(&["ap-east-9a", "ap-east-9a"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "region ap-east-9 offers this account 1 Availability Zone(s) (ap-east-9a); drctl needs at least 2 (an RDS DB subnet group and an application load balancer each span two zones): choose another region"
        );
        let err = Zones::new("ap-east-9", &[]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("region ap-east-9 offers this account 0 Availability Zone(s);"),
            "{err}"
        );
    }

    #[test]
    fn names_that_cannot_be_zones_are_refused() {
        for bad in ["", "US-EAST-1A", "us-east-1a/x"] {
            let err = Zones::new("us-east-1", &names(&["us-east-1b", bad])).unwrap_err();
            assert!(matches!(err, ZonesError::BadName { .. }), "{bad}: {err}");
        }
        let err = Zones::new("us-west-1", &names(&["us-west-1b", "b"])).unwrap_err();
        assert!(matches!(err, ZonesError::BadName { .. }), "{err}");
    }

    #[test]
    fn the_placeholder_is_a_b_c() {
        assert_eq!(
            Zones::placeholder("eu-west-1").names(),
            names(&["eu-west-1a", "eu-west-1b", "eu-west-1c"])
        );
    }
}
