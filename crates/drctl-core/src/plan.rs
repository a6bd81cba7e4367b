//! The plan document: plain data plus its versioned JSON codec. Saved under
//! plans/ and applied later exactly as written.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::address::Address;
use crate::state::{DecodeError, State};
use crate::value::Value;

/// 2: `selection` (targeted runs) and `drift` (what refresh found); 3:
/// `availability_zones`. Versions 1 and 2 still decode.
pub const PLAN_FORMAT_VERSION: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanOperation {
    Apply,
    Destroy,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format_version: u32,
    pub env: String,
    pub operation: PlanOperation,
    /// Lineage of the state the plan was made against; `None` when the
    /// environment had no state file yet.
    pub state_lineage: Option<Uuid>,
    pub state_serial: u64,
    pub account_id: Option<String>,
    /// The Availability Zones per region the plan was made with (state's
    /// `availability_zones`, with those looked up for it): applying the
    /// plan records them in state, as the plan's subnets are in them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub availability_zones: BTreeMap<String, Vec<String>>,
    /// RFC 3339.
    pub created_at: String,
    /// A targeted plan: what selected its changes. Changes outside it are
    /// left for a later run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
    /// What a refresh before this plan found changed outside drctl (the
    /// state already records it; `changes` are what drctl will do).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<Drift>,
    pub changes: Vec<ResourceChange>,
}

/// The `--target`, `--exclude` and `--replace` of a plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace: Vec<Address>,
    /// Changes of the full plan this one leaves out.
    pub left_out: usize,
}

impl Selection {
    /// Whether the plan is partial (targets or excludes), as opposed to a
    /// full plan with requested replacements only.
    pub fn is_partial(&self) -> bool {
        !self.targets.is_empty() || !self.excludes.is_empty()
    }
}

/// A resource that changed outside drctl, as refresh found it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drift {
    pub address: Address,
    pub region: String,
    /// Deleted outside drctl (the plan creates it again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gone: bool,
    /// Inputs as recorded before and as found (`after`: Known, or Removed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeChange>,
}

/// What differs between the state before a refresh and after it.
pub fn drift(before: &State, after: &State) -> Vec<Drift> {
    let mut out = Vec::new();
    for (address, old) in &before.resources {
        let Some(new) = after.resources.get(address) else {
            out.push(Drift {
                address: address.clone(),
                region: old.region.clone(),
                gone: true,
                attributes: Vec::new(),
            });
            continue;
        };
        let names: BTreeSet<&String> = old.inputs.keys().chain(new.inputs.keys()).collect();
        let attributes: Vec<AttributeChange> = names
            .into_iter()
            .filter(|n| old.inputs.get(*n) != new.inputs.get(*n))
            .map(|n| AttributeChange {
                name: n.clone(),
                before: old.inputs.get(n).cloned(),
                after: new
                    .inputs
                    .get(n)
                    .map_or(AfterValue::Removed, |v| AfterValue::Known(v.clone())),
                forces_replacement: false,
            })
            .collect();
        if !attributes.is_empty() {
            out.push(Drift {
                address: address.clone(),
                region: new.region.clone(),
                gone: false,
                attributes,
            });
        }
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        })
    }
}

/// What happens to one address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceChange {
    pub address: Address,
    pub region: String,
    pub action: Action,
    /// Desired inputs, references unresolved; empty for a delete.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, Value>,
    /// For create/update/replace: desired dependencies. For delete: the
    /// dependencies recorded in state.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub depends_on: BTreeSet<Address>,
    /// Attribute-level differences; empty for a no-op.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeChange>,
    /// A delete or replace of a resource that holds data.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub data_loss: bool,
    /// For a delete or replace: what the delete leaves behind on purpose
    /// (the kind's `kept_on_delete` outputs as recorded in state, e.g. the
    /// name of a final snapshot).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub leaves: BTreeMap<String, serde_json::Value>,
}

impl ResourceChange {
    /// Attributes whose change forces this resource to be replaced.
    pub fn replace_reasons(&self) -> impl Iterator<Item = &str> {
        self.attributes
            .iter()
            .filter(|a| a.forces_replacement)
            .map(|a| a.name.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeChange {
    pub name: String,
    /// `None`: the attribute did not exist before.
    pub before: Option<serde_json::Value>,
    pub after: AfterValue,
    #[serde(default)]
    pub forces_replacement: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "value")]
pub enum AfterValue {
    Known(serde_json::Value),
    KnownAfterApply,
    /// A map some of whose members are known now and others only after
    /// apply: the plan shows the known ones instead of hiding the whole map.
    Partial(BTreeMap<String, AfterValue>),
    Removed,
}

/// Terraform's "X to add, Y to change, Z to destroy" (a replace is one add
/// and one destroy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Plan: {} to add, {} to change, {} to destroy.",
            self.add, self.change, self.destroy
        )
    }
}

impl Plan {
    pub fn new(
        operation: PlanOperation,
        state: &State,
        state_exists: bool,
        changes: Vec<ResourceChange>,
    ) -> Self {
        Self {
            format_version: PLAN_FORMAT_VERSION,
            env: state.env.clone(),
            operation,
            state_lineage: state_exists.then_some(state.lineage),
            state_serial: if state_exists { state.serial } else { 0 },
            account_id: state.account_id.clone(),
            availability_zones: state.availability_zones.clone(),
            created_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            selection: None,
            drift: Vec::new(),
            changes,
        }
    }

    pub fn summary(&self) -> PlanSummary {
        let mut s = PlanSummary::default();
        for c in &self.changes {
            match c.action {
                Action::NoOp => {}
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1
                }
                Action::Delete => s.destroy += 1,
            }
        }
        s
    }

    /// Changes that would destroy data (refused without --allow-data-loss).
    pub fn data_loss(&self) -> impl Iterator<Item = &ResourceChange> {
        self.changes.iter().filter(|c| c.data_loss)
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }

    /// Why this plan cannot be applied to `state` (`state_exists`: whether a
    /// state file was found), or `None` if it still applies.
    pub fn staleness(&self, state: &State, state_exists: bool) -> Option<String> {
        if self.env != state.env {
            return Some(format!(
                "the plan is for environment `{}`, not `{}`",
                self.env, state.env
            ));
        }
        match (self.state_lineage, state_exists) {
            (None, false) => None,
            (None, true) => Some(format!(
                "the plan was made before any state existed; the state is now at serial {}",
                state.serial
            )),
            (Some(_), false) => {
                Some("the plan was made against a state that no longer exists".into())
            }
            (Some(lineage), true) if lineage != state.lineage => Some(format!(
                "the plan belongs to state lineage {lineage}, the state is lineage {}",
                state.lineage
            )),
            (Some(_), true) if self.state_serial != state.serial => Some(format!(
                "the plan was made at state serial {}, the state is now at serial {}",
                self.state_serial, state.serial
            )),
            _ => None,
        }
    }
}

pub fn decode(bytes: &[u8]) -> Result<Plan, DecodeError> {
    let raw: serde_json::Value = serde_json::from_slice(bytes).map_err(DecodeError::Syntax)?;
    let version = raw
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or(DecodeError::MissingVersion)?;
    if version > u64::from(PLAN_FORMAT_VERSION) {
        return Err(DecodeError::Newer {
            found: version,
            supported: PLAN_FORMAT_VERSION,
        });
    }
    serde_json::from_value(raw).map_err(DecodeError::Content)
}

pub fn encode(plan: &Plan) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(plan).expect("plan serialises");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Version 3 carries the zones the plan was made with; a version 2
    /// plan (without them) still decodes.
    #[test]
    fn availability_zones_round_trip_and_version_2_decodes() {
        let mut state = State::new("dev");
        state.availability_zones.insert(
            "ap-northeast-1".into(),
            vec!["ap-northeast-1a".into(), "ap-northeast-1c".into()],
        );
        let plan = Plan::new(PlanOperation::Apply, &state, false, Vec::new());
        assert_eq!(plan.availability_zones, state.availability_zones);
        let doc: serde_json::Value = serde_json::from_slice(&encode(&plan)).unwrap();
        assert_eq!(doc["format_version"], 3);
        assert_eq!(
            doc["availability_zones"],
            serde_json::json!({"ap-northeast-1": ["ap-northeast-1a", "ap-northeast-1c"]})
        );
        assert_eq!(decode(&encode(&plan)).unwrap(), plan);

        let mut v2 = doc;
        v2["format_version"] = 2.into();
        v2.as_object_mut().unwrap().remove("availability_zones");
        let old = decode(v2.to_string().as_bytes()).unwrap();
        assert!(old.availability_zones.is_empty());
    }
}
