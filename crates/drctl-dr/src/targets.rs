//! What the DR operations act on, read from the environment's state under
//! the addresses the blueprint exports.

use drctl_blueprint::{Role, targets};
use drctl_core::{Address, Attributes, ResourceState, State};

/// One regional Aurora cluster of the global database.
#[derive(Clone, Debug)]
pub struct ClusterTarget {
    pub role: Role,
    pub region: String,
    pub id: String,
    pub arn: String,
}

/// One weighted record of the API name.
#[derive(Clone, Debug)]
pub struct RecordTarget {
    pub role: Role,
    pub set_identifier: String,
}

/// The fence of the primary: an alarm on a metric only drctl publishes,
/// in the secondary region (docs/operations.md, "Unplanned failover").
#[derive(Clone, Debug)]
pub struct Fence {
    pub region: String,
    pub alarm: String,
    pub namespace: &'static str,
    pub metric: &'static str,
    /// The metric's one dimension: (name, the environment's name).
    pub dimension: (&'static str, String),
}

/// One region's AWS Backup vault.
#[derive(Clone, Debug)]
pub struct VaultTarget {
    pub role: Role,
    pub region: String,
    pub name: String,
    pub arn: String,
}

/// What the DR operations act on.
#[derive(Clone, Debug)]
pub struct Targets {
    pub zone_id: String,
    pub record_name: String,
    pub record_type: String,
    pub records: [RecordTarget; 2],
    pub global_id: String,
    pub clusters: [ClusterTarget; 2],
    pub table: String,
    pub table_region: String,
    pub source_bucket: String,
    pub source_region: String,
    pub replication_rule: String,
    pub destination_bucket: String,
    pub destination_region: String,
    /// The environment's CloudWatch alarms on its health, (region, name):
    /// every alarm but the fence's.
    pub alarms: Vec<(String, String)>,
    pub fence: Fence,
    /// The regions' backup vaults, primary first; only those in state (an
    /// environment applied before AWS Backup has none).
    pub vaults: Vec<VaultTarget>,
}

fn text(attrs: &Attributes, key: &str) -> String {
    attrs
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl Targets {
    /// The targets, or the addresses state lacks (the environment is not
    /// fully applied, or was applied by a drctl without them).
    pub fn from_state(state: &State) -> Result<Targets, Vec<Address>> {
        let mut missing = Vec::new();
        let mut get = |address: Address| {
            let r = state.resources.get(&address);
            if r.is_none() {
                missing.push(address);
            }
            r
        };
        let found = (
            get(targets::api_record(Role::Primary)),
            get(targets::api_record(Role::Secondary)),
            get(targets::global_cluster()),
            get(targets::cluster(Role::Primary)),
            get(targets::cluster(Role::Secondary)),
            get(targets::session_table()),
            get(targets::s3_replication()),
            get(targets::data_bucket(Role::Secondary)),
            get(targets::fence_alarm()),
        );
        let (
            Some(primary_record),
            Some(secondary_record),
            Some(global),
            Some(primary_cluster),
            Some(secondary_cluster),
            Some(table),
            Some(replication),
            Some(destination),
            Some(fence),
        ) = found
        else {
            return Err(missing);
        };
        let record = |role, r: &ResourceState| RecordTarget {
            role,
            set_identifier: text(&r.inputs, "set_identifier"),
        };
        let cluster = |role, r: &ResourceState| ClusterTarget {
            role,
            region: r.region.clone(),
            id: r.id.clone(),
            arn: text(&r.outputs, "arn"),
        };
        let fence_address = targets::fence_alarm();
        Ok(Targets {
            zone_id: text(&primary_record.inputs, "zone_id"),
            record_name: text(&primary_record.inputs, "name"),
            record_type: text(&primary_record.inputs, "type"),
            records: [
                record(Role::Primary, primary_record),
                record(Role::Secondary, secondary_record),
            ],
            global_id: global.id.clone(),
            clusters: [
                cluster(Role::Primary, primary_cluster),
                cluster(Role::Secondary, secondary_cluster),
            ],
            table: table.id.clone(),
            table_region: table.region.clone(),
            source_bucket: text(&replication.inputs, "bucket"),
            source_region: replication.region.clone(),
            replication_rule: text(&replication.inputs, "rule_id"),
            destination_bucket: text(&destination.inputs, "bucket"),
            destination_region: destination.region.clone(),
            alarms: state
                .resources
                .iter()
                .filter(|(a, _)| a.kind() == fence_address.kind() && **a != fence_address)
                .map(|(_, r)| (r.region.clone(), text(&r.inputs, "alarm_name")))
                .collect(),
            fence: Fence {
                region: fence.region.clone(),
                alarm: text(&fence.inputs, "alarm_name"),
                namespace: targets::FENCE_NAMESPACE,
                metric: targets::FENCE_METRIC,
                dimension: (targets::FENCE_DIMENSION, state.env.clone()),
            },
            vaults: Role::BOTH
                .into_iter()
                .filter_map(|role| {
                    let r = state.resources.get(&targets::backup_vault(role))?;
                    Some(VaultTarget {
                        role,
                        region: r.region.clone(),
                        name: r.id.clone(),
                        arn: text(&r.outputs, "arn"),
                    })
                })
                .collect(),
        })
    }

    pub fn cluster(&self, role: Role) -> &ClusterTarget {
        &self.clusters[role as usize]
    }

    pub fn role_of_arn(&self, arn: &str) -> Option<Role> {
        self.clusters.iter().find(|c| c.arn == arn).map(|c| c.role)
    }

    /// The vault of `role`, if state has it.
    pub fn vault(&self, role: Role) -> Option<&VaultTarget> {
        self.vaults.iter().find(|v| v.role == role)
    }

    pub fn set_ids(&self) -> [&str; 2] {
        [
            self.records[0].set_identifier.as_str(),
            self.records[1].set_identifier.as_str(),
        ]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    fn resource(region: &str, id: &str, inputs: serde_json::Value) -> ResourceState {
        serde_json::from_value(json!({
            "kind": "x", "region": region, "id": id, "inputs": inputs,
            "outputs": {"arn": format!("arn:{id}")}, "dependencies": []
        }))
        .unwrap()
    }

    /// The state of an applied environment, as far as DR reads it.
    pub(crate) fn applied() -> State {
        let mut state = State::new("dev");
        let mut add = |a: Address, r: ResourceState| {
            state.resources.insert(a, r);
        };
        for role in Role::BOTH {
            add(
                targets::api_record(role),
                resource(
                    "us-east-1",
                    "r",
                    json!({"zone_id": "Z1", "name": "api.x", "type": "A", "set_identifier": format!("{}-set", role.as_str())}),
                ),
            );
            add(
                targets::cluster(role),
                resource("us-east-2", role.as_str(), json!({})),
            );
        }
        add(
            targets::global_cluster(),
            resource("us-east-1", "g", json!({})),
        );
        add(
            targets::session_table(),
            resource("us-east-1", "t", json!({})),
        );
        add(
            targets::s3_replication(),
            resource(
                "us-east-1",
                "b",
                json!({"bucket": "src", "rule_id": "rule"}),
            ),
        );
        add(
            targets::data_bucket(Role::Secondary),
            resource("us-east-2", "d", json!({"bucket": "dst"})),
        );
        add(
            targets::fence_alarm(),
            resource("us-east-2", "f", json!({"alarm_name": "fence"})),
        );
        add(
            "primary/cloudwatch.alarm/api-5xx".parse().unwrap(),
            resource("us-east-1", "a", json!({"alarm_name": "api"})),
        );
        state
    }

    #[test]
    fn targets_come_from_the_blueprints_addresses_and_leave_the_fence_out_of_the_alarms() {
        let t = Targets::from_state(&applied()).unwrap();
        assert_eq!(t.set_ids(), ["primary-set", "secondary-set"]);
        assert_eq!(t.cluster(Role::Secondary).id, "secondary");
        assert_eq!(t.role_of_arn("arn:primary"), Some(Role::Primary));
        assert_eq!(t.alarms, [("us-east-1".to_owned(), "api".to_owned())]);
        assert_eq!(
            (t.fence.region.as_str(), t.fence.alarm.as_str()),
            ("us-east-2", "fence")
        );
        assert_eq!(t.fence.dimension.1, "dev");
    }

    #[test]
    fn a_state_without_the_fence_names_what_it_lacks() {
        let mut state = applied();
        state.resources.remove(&targets::fence_alarm());
        assert_eq!(
            Targets::from_state(&state).unwrap_err(),
            [targets::fence_alarm()]
        );
    }
}
