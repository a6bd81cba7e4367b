//! The order a VPC function's network interfaces impose on destroy.
//!
//! Lambda deletes the network interfaces of a VPC function some time after
//! the function is deleted (reported 20 to 45 minutes), and it does so with
//! the permissions of the function's execution role (AWS Knowledge Center,
//! "lambda-eni-find-delete"; terraform-aws-modules/terraform-aws-lambda#310).
//! A role deleted before that leaves the interfaces in place for good, and
//! with them the subnets and security groups they sit in.
//!
//! So every security group a VPC function uses is ordered after the
//! function's role: created after it, hence deleted before it. The group's
//! delete waits (DependencyViolation) until every interface carrying it is
//! gone, so the role is deleted only once Lambda no longer needs it. The
//! subnets wait for the same interfaces and need no edge of their own.

use drctl_core::{Address, ResourceSpec};

const FUNCTION: &str = "lambda.function";
const ROLE: &str = "iam.role";
const SECURITY_GROUP: &str = "ec2.security_group";

/// Adds, for each VPC function, an edge from each of its security groups
/// to its execution role.
pub(crate) fn roles_outlive_interfaces(specs: &mut [ResourceSpec]) {
    let mut edges: Vec<(Address, Address)> = Vec::new();
    for spec in specs.iter().filter(|s| s.kind() == FUNCTION) {
        let refs = |input: &str, kind: &str| -> Vec<Address> {
            spec.inputs
                .get(input)
                .map(|v| {
                    v.references()
                        .into_iter()
                        .filter(|r| r.address.kind() == kind)
                        .map(|r| r.address.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        for group in refs("security_group_ids", SECURITY_GROUP) {
            for role in refs("role_arn", ROLE) {
                edges.push((group.clone(), role));
            }
        }
    }
    for (group, role) in edges {
        if let Some(spec) = specs.iter_mut().find(|s| s.address == group) {
            spec.depends_on.insert(role);
        }
    }
}
