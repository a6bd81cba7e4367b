//! The plan document: plain data plus its versioned JSON codec. Saved under
//! plans/ and applied later, but not trusted as written: a saved plan
//! carries digests of what it was made from ([`PlanDigest`]), and apply
//! makes the plan again from the current config and state and refuses the
//! file unless both agree ([`Plan::differences`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::address::Address;
use crate::graph::DesiredGraph;
use crate::state::{DecodeError, State};
use crate::value::Value;

/// 2: `selection` (targeted runs) and `drift` (what refresh found); 3:
/// `availability_zones`; 4: `digest`. Versions 1 to 3 still decode (to be
/// shown), but apply refuses them: they carry no digest.
pub const PLAN_FORMAT_VERSION: u32 = 4;

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
    /// What the plan was made from; `None` in plans of format 3 and older
    /// (and in `refresh --json`, which is no plan to apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<PlanDigest>,
    pub changes: Vec<ResourceChange>,
}

/// SHA-256 digests (lowercase hex) binding a plan to what it was made
/// from. They are no signature (anyone who edits the file can compute
/// them again): apply recomputes the changes themselves and compares
/// those too; the digests make it name a changed config or file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanDigest {
    /// Each setting of the environment (defaults applied), by its
    /// drctl.toml key, so that a refusal names the keys that differ.
    pub config: BTreeMap<String, String>,
    /// The desired resources the blueprint gave (its canonical JSON).
    pub desired: String,
    /// This document without its `digest`: changes, selection, state
    /// serial, zones and the rest.
    pub document: String,
}

/// SHA-256 of `value`'s JSON, in lowercase hex. Canonical: objects are
/// written with their keys sorted (serde_json's map is ordered) and
/// structs in declaration order.
pub fn sha256_json<T: Serialize + ?Sized>(value: &T) -> String {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_value(value).expect("serialises");
    let bytes = serde_json::to_vec(&json).expect("serialises");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The digest of a desired graph: its resources in address order.
pub fn desired_digest(desired: &DesiredGraph) -> String {
    sha256_json(&desired.resources().collect::<Vec<_>>())
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
            digest: None,
            changes,
        }
    }

    /// Binds the plan to the config (each setting by its drctl.toml key)
    /// and the desired graph it was made from. Last, once every other
    /// field is set: the digest covers them.
    pub fn seal(&mut self, config: &BTreeMap<String, serde_json::Value>, desired: &DesiredGraph) {
        self.digest = None;
        let document = self.document_digest();
        self.digest = Some(PlanDigest {
            config: config
                .iter()
                .map(|(k, v)| (k.clone(), sha256_json(v)))
                .collect(),
            desired: desired_digest(desired),
            document,
        });
    }

    /// The digest of this document without its `digest`.
    fn document_digest(&self) -> String {
        sha256_json(&Plan {
            digest: None,
            ..self.clone()
        })
    }

    /// Why this saved plan may not be applied, given `now`: the plan made
    /// at apply, from the current config and state, with the same
    /// selection, and sealed. Empty when it may: its digest matches its
    /// content, it was made from the same config and desired resources,
    /// and its changes (with their data-loss marks) and selection are
    /// those `now` has.
    pub fn differences(&self, now: &Plan) -> Vec<String> {
        let Some(digest) = &self.digest else {
            return vec![format!(
                "it carries no digest of what it was made from (plan format {}; drctl writes format {PLAN_FORMAT_VERSION} with one), so it cannot be checked",
                self.format_version
            )];
        };
        let mut out = Vec::new();
        if self.document_digest() != digest.document {
            out.push(
                "its content does not match its digest: it was changed after `drctl plan` wrote it"
                    .to_owned(),
            );
        }
        if let Some(current) = &now.digest {
            let keys: BTreeSet<&String> =
                digest.config.keys().chain(current.config.keys()).collect();
            let changed: Vec<String> = keys
                .into_iter()
                .filter(|k| digest.config.get(*k) != current.config.get(*k))
                .map(|k| format!("`{k}`"))
                .collect();
            if !changed.is_empty() {
                out.push(format!(
                    "it was made from other settings of `[env.{}]` than drctl.toml gives now: {} differ",
                    self.env,
                    changed.join(", ")
                ));
            }
            if digest.desired != current.desired {
                out.push(
                    "the resources drctl.toml and this drctl declare differ from those it was made from"
                        .to_owned(),
                );
            }
        }
        if self.selection != now.selection {
            out.push(format!(
                "its selection ({}) is not the one its targets and excludes select now ({})",
                describe_selection(self.selection.as_ref()),
                describe_selection(now.selection.as_ref())
            ));
        }
        out.extend(change_differences(&self.changes, &now.changes));
        out
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

fn describe_selection(selection: Option<&Selection>) -> String {
    match selection {
        None => "none".into(),
        Some(s) => format!(
            "targets {:?}, excludes {:?}, replace {:?}, {} change(s) left out",
            s.targets,
            s.excludes,
            s.replace
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            s.left_out
        ),
    }
}

/// Whether `a` and `b` differ as the file writes them: a list or map of
/// plain values reads back as one JSON value (`Value::from_json`), unequal
/// in memory to the same list made by the blueprint.
fn differ<T: Serialize>(a: &T, b: &T) -> bool {
    let json = |v: &T| serde_json::to_value(v).expect("serialises");
    json(a) != json(b)
}

/// "an update", "a delete".
fn article(action: Action) -> String {
    match action {
        Action::Update => format!("an {action}"),
        _ => format!("a {action}"),
    }
}

/// How the changes of a saved plan differ from those made now, address by
/// address.
fn change_differences(saved: &[ResourceChange], now: &[ResourceChange]) -> Vec<String> {
    let by_address = |changes: &'_ [ResourceChange]| -> BTreeMap<Address, ResourceChange> {
        changes
            .iter()
            .map(|c| (c.address.clone(), c.clone()))
            .collect()
    };
    let (saved, now) = (by_address(saved), by_address(now));
    let addresses: BTreeSet<&Address> = saved.keys().chain(now.keys()).collect();
    let mut out = Vec::new();
    for a in addresses {
        match (saved.get(a), now.get(a)) {
            (Some(s), None) => out.push(format!(
                "`{a}`: the plan has {} that the current config and state do not call for",
                article(s.action)
            )),
            (None, Some(n)) => out.push(format!(
                "`{a}`: the current config and state call for {} that the plan does not have",
                article(n.action)
            )),
            (Some(s), Some(n)) => {
                if s.action != n.action {
                    out.push(format!(
                        "`{a}`: the plan has {}, the current config and state call for {}",
                        article(s.action),
                        article(n.action)
                    ));
                }
                if s.data_loss != n.data_loss {
                    let destroys = |yes: bool| if yes { "destroys" } else { "destroys no" };
                    out.push(format!(
                        "`{a}`: the plan says its {} {} data; made now, it {} data",
                        s.action,
                        destroys(s.data_loss),
                        destroys(n.data_loss)
                    ));
                }
                let mut fields = Vec::new();
                if s.region != n.region {
                    fields.push("region");
                }
                if differ(&s.inputs, &n.inputs) {
                    fields.push("inputs");
                }
                if differ(&s.attributes, &n.attributes) {
                    fields.push("attribute changes");
                }
                if s.depends_on != n.depends_on {
                    fields.push("dependencies");
                }
                if differ(&s.leaves, &n.leaves) {
                    fields.push("what its delete leaves");
                }
                if !fields.is_empty() {
                    out.push(format!(
                        "`{a}`: its {} differ from those made now",
                        fields.join(", ")
                    ));
                }
            }
            (None, None) => {}
        }
    }
    out
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
        assert_eq!(doc["format_version"], PLAN_FORMAT_VERSION);
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

    mod digest {
        use super::*;
        use crate::planner::plan_apply;
        use crate::provider::{KindSchema, Schemas};
        use crate::resource::ResourceSpec;
        use crate::state::ResourceState;
        use serde_json::json;

        static DB: KindSchema = KindSchema {
            kind: "t.db",
            force_new: &["engine"],
            outputs: &["id"],
            volatile_outputs: &[],
            holds_data: true,
            kept_on_delete: &[],
            latency: crate::provider::Latency::calls(1, 1, 1),
        };

        fn schemas() -> Schemas {
            Schemas::from_list(&[&DB])
        }

        fn desired(size: i64) -> DesiredGraph {
            DesiredGraph::new(vec![
                ResourceSpec::new("p/t.db/keep".parse().unwrap(), "r1")
                    .input("size", size)
                    // Reads back from the file as one JSON value.
                    .input("zones", crate::Value::List(vec!["a".into(), "b".into()])),
            ])
            .unwrap()
        }

        /// State with `p/t.db/keep` and `p/t.db/drop`, which the desired
        /// graph no longer has: a delete that destroys data.
        fn state() -> State {
            let mut s = State::new("dev");
            for name in ["keep", "drop"] {
                s.resources.insert(
                    format!("p/t.db/{name}").parse().unwrap(),
                    ResourceState {
                        kind: "t.db".into(),
                        region: "r1".into(),
                        id: format!("{name}-1"),
                        inputs: [
                            ("size".to_string(), json!(1)),
                            ("zones".to_string(), json!(["a", "b"])),
                        ]
                        .into(),
                        outputs: Default::default(),
                        dependencies: Default::default(),
                    },
                );
            }
            s.serial = 7;
            s
        }

        fn config(class: &str) -> BTreeMap<String, serde_json::Value> {
            BTreeMap::from([
                ("db_instance_class".to_string(), json!(class)),
                ("primary_region".to_string(), json!("r1")),
            ])
        }

        /// The plan as `drctl apply` makes it again (in memory).
        fn now(desired: &DesiredGraph, config: &BTreeMap<String, serde_json::Value>) -> Plan {
            let state = state();
            let mut plan = Plan::new(
                PlanOperation::Apply,
                &state,
                true,
                plan_apply(desired, &state, &schemas()),
            );
            plan.seal(config, desired);
            plan
        }

        /// The plan as `drctl plan` saves it (through the file format).
        fn made(desired: &DesiredGraph, config: &BTreeMap<String, serde_json::Value>) -> Plan {
            decode(&encode(&now(desired, config))).unwrap()
        }

        #[test]
        fn the_digest_is_sha256_of_canonical_json() {
            // Keys sorted whatever the order they were built in.
            assert_eq!(
                sha256_json(&json!({"b": 1, "a": 2})),
                "d3626ac30a87e6f7a6428233b3c68299976865fa5508e4267c5415c76af7a772"
            );
            // Survives the file: a plan read back has the digest it was
            // sealed with.
            let plan = made(&desired(1), &config("small"));
            let digest = plan.digest.clone().unwrap();
            assert_eq!(plan.document_digest(), digest.document);
            assert_eq!(digest.desired, desired_digest(&desired(1)));
            assert_ne!(digest.desired, desired_digest(&desired(2)));
            assert_eq!(
                digest.config["db_instance_class"],
                sha256_json(&json!("small"))
            );
        }

        #[test]
        fn a_plan_made_again_from_the_same_inputs_matches() {
            let saved = made(&desired(1), &config("small"));
            let now = now(&desired(1), &config("small"));
            assert_ne!(
                saved.changes, now.changes,
                "the file's form differs in memory"
            );
            assert_eq!(saved.differences(&now), Vec::<String>::new());
            assert!(saved.data_loss().any(|c| c.address.name() == "drop"));
        }

        /// The measured case: the data-loss marks cleared by hand.
        #[test]
        fn cleared_data_loss_marks_are_named_even_with_the_digest_recomputed() {
            let now = now(&desired(1), &config("small"));
            let mut edited = decode(&encode(&now)).unwrap();
            for c in &mut edited.changes {
                c.data_loss = false;
            }
            let found = edited.differences(&now);
            assert!(
                found[0].contains("changed after `drctl plan` wrote it"),
                "{found:?}"
            );
            assert!(
                found.contains(&"`p/t.db/drop`: the plan says its delete destroys no data; made now, it destroys data".to_owned()),
                "{found:?}"
            );
            // Sealed again by whoever edited it: the digest matches, the
            // recomputed marks still do not.
            edited.seal(&config("small"), &desired(1));
            let found = edited.differences(&now);
            assert_eq!(
                found,
                vec!["`p/t.db/drop`: the plan says its delete destroys no data; made now, it destroys data".to_owned()]
            );
        }

        #[test]
        fn a_plan_made_from_another_config_names_the_keys_and_changes() {
            let saved = made(&desired(2), &config("large"));
            let now = now(&desired(1), &config("small"));
            let found = saved.differences(&now);
            assert_eq!(
                found,
                vec![
                    "it was made from other settings of `[env.dev]` than drctl.toml gives now: `db_instance_class` differ".to_owned(),
                    "the resources drctl.toml and this drctl declare differ from those it was made from".to_owned(),
                    "`p/t.db/keep`: the plan has an update, the current config and state call for a no-op".to_owned(),
                    "`p/t.db/keep`: its inputs, attribute changes differ from those made now".to_owned(),
                ]
            );
        }

        #[test]
        fn a_changed_or_dropped_change_is_named() {
            let now = now(&desired(1), &config("small"));
            let mut edited = decode(&encode(&now)).unwrap();
            edited.changes.retain(|c| c.address.name() != "drop");
            edited.changes[0].action = Action::Update;
            let found = edited.differences(&now);
            assert!(
                found.contains(&"`p/t.db/drop`: the current config and state call for a delete that the plan does not have".to_owned()),
                "{found:?}"
            );
            assert!(
                found.contains(&"`p/t.db/keep`: the plan has an update, the current config and state call for a no-op".to_owned()),
                "{found:?}"
            );
        }

        /// A plan of format 3 (no digest) is refused, whatever it holds.
        #[test]
        fn an_older_plan_without_a_digest_is_refused() {
            let now = now(&desired(1), &config("small"));
            let mut doc: serde_json::Value = serde_json::from_slice(&encode(&now)).unwrap();
            doc["format_version"] = 3.into();
            doc.as_object_mut().unwrap().remove("digest");
            let old = decode(doc.to_string().as_bytes()).unwrap();
            let found = old.differences(&now);
            assert_eq!(found.len(), 1);
            assert!(found[0].contains("carries no digest"), "{found:?}");
            assert!(found[0].contains("plan format 3"), "{found:?}");
        }
    }
}
