//! The Availability Zones a region offers the account.

use aws_sdk_ec2::types::{AvailabilityZoneOptInStatus, AvailabilityZoneState, Filter};

use crate::clients::{AwsContext, AwsError};

/// The filters of the lookup (EC2 API Reference, DescribeAvailabilityZones,
/// `Filter.N`): Availability Zones only (`zone-type`; Local Zones and
/// Wavelength Zones are `local-zone` and `wavelength-zone`), usable now
/// (`state`; not `constrained`, `impaired` or `unavailable`), and
/// `opt-in-not-required`, which every Availability Zone is (AvailabilityZone,
/// `OptInStatus`: "For Availability Zones, this parameter always has the
/// value of opt-in-not-required").
const FILTERS: [(&str, &str); 3] = [
    ("zone-type", "availability-zone"),
    ("state", "available"),
    ("opt-in-status", "opt-in-not-required"),
];

impl AwsContext {
    /// The names of the Availability Zones `region` offers this account
    /// (EC2 DescribeAvailabilityZones), sorted. Names map to physical
    /// zones differently in every account, and a region may offer fewer
    /// zones than it has, so nothing else about them is assumed.
    pub async fn availability_zones(&self, region: &str) -> Result<Vec<String>, AwsError> {
        let mut request = self.ec2(region).describe_availability_zones();
        for (name, value) in FILTERS {
            request = request.filters(Filter::builder().name(name).values(value).build());
        }
        let out = request.send().await.map_err(|e| {
            AwsError(format!(
                "ec2:DescribeAvailabilityZones in {region} failed (check the credentials, the network and --endpoint): {}",
                crate::support::error_chain(&e)
            ))
        })?;
        // The filters already say so; a field that disagrees is left out
        // all the same.
        let mut names: Vec<String> = out
            .availability_zones()
            .iter()
            .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
            .filter(|z| {
                z.state()
                    .is_none_or(|s| *s == AvailabilityZoneState::Available)
            })
            .filter(|z| {
                z.opt_in_status()
                    .is_none_or(|s| *s == AvailabilityZoneOptInStatus::OptInNotRequired)
            })
            .filter(|z| z.region_name().is_none_or(|r| r == region))
            .filter_map(|z| z.zone_name().map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}
