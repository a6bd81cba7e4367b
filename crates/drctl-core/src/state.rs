//! The state document: plain data plus its versioned JSON codec.
//! File handling (atomic writes, backup, lock) lives in `store`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::address::Address;
use crate::value::Attributes;

/// The state format this build writes and the newest it reads. Version 2
/// added `active_role`, version 3 `unconfirmed_creates`, version 4
/// `availability_zones`, version 5 `fenced`; an older document reads as
/// one without them.
pub const STATE_FORMAT_VERSION: u32 = 5;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub format_version: u32,
    /// Fixed when the state is first created; a plan for another lineage is refused.
    pub lineage: Uuid,
    /// Incremented on every write.
    pub serial: u64,
    pub env: String,
    /// The AWS account the resources live in, resolved through STS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Which of the blueprint's roles serves traffic, once an operator
    /// command (a failover) has decided it; absent means the blueprint's
    /// default. Plans follow it, so an apply never undoes a failover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_role: Option<String>,
    /// Whether traffic was moved off the primary by the fence (an
    /// unplanned failover) rather than by the records' weights: the
    /// weights then stay as they were, and plans keep them so, until a
    /// failback lifts the fence.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fenced: bool,
    /// Per region, the names of the Availability Zones it offered the
    /// account when drctl first looked (EC2 DescribeAvailabilityZones),
    /// sorted. Looked up once and then kept, so that a zone AWS adds later
    /// never moves a subnet; the blueprint takes its zones from these.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub availability_zones: BTreeMap<String, Vec<String>>,
    pub resources: BTreeMap<Address, ResourceState>,
    /// Creates an interrupted run sent that recovery could not find. AWS
    /// may still act on one (a request in flight when the process died,
    /// a listing not yet showing it), so later runs look for it again,
    /// and the next create of the address with the same inputs sends the
    /// same idempotency token, which AWS answers with what the first call
    /// made. Dropped once the address is created or adopted, or after
    /// [`UNCONFIRMED_CREATE_LIFETIME_SECS`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unconfirmed_creates: BTreeMap<Address, UnconfirmedCreate>,
}

/// How long an unconfirmed create is looked for: a request AWS received
/// has long been acted on and listed by then, and idempotency tokens
/// expire (ACM's after one hour).
pub const UNCONFIRMED_CREATE_LIFETIME_SECS: u64 = 3600;

/// How long after recovery first missed a create the next create of that
/// address waits before it looks once more and, still not finding it,
/// creates. A request the killed run had sent may reach AWS and be acted
/// on after recovery looked; for a create that takes no idempotency token
/// (KMS CreateKey, EC2's tag-found kinds) sending it again would make a
/// second resource. AWS acts on a control-plane request it received within
/// seconds; the wait covers that with room to spare, and happens only
/// after a crash, only for the creates it left in doubt.
pub const UNCONFIRMED_CREATE_SETTLE_SECS: u64 = 30;

/// A create whose outcome is unknown: what it sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnconfirmedCreate {
    pub region: String,
    /// The resolved inputs sent.
    pub inputs: Attributes,
    pub dependencies: BTreeSet<Address>,
    /// The idempotency token sent with it.
    pub token: String,
    /// When recovery first missed it (seconds since the Unix epoch).
    pub missed_since_unix: u64,
}

/// What drctl knows about one resource it manages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceState {
    pub kind: String,
    pub region: String,
    /// Provider-side identity (VPC id, bucket name, parameter name, ...).
    pub id: String,
    /// The inputs as last applied (or read on refresh), references resolved.
    pub inputs: Attributes,
    pub outputs: Attributes,
    pub dependencies: BTreeSet<Address>,
}

impl State {
    pub fn new(env: &str) -> Self {
        Self {
            format_version: STATE_FORMAT_VERSION,
            lineage: Uuid::new_v4(),
            serial: 0,
            env: env.to_owned(),
            account_id: None,
            active_role: None,
            fenced: false,
            availability_zones: BTreeMap::new(),
            resources: BTreeMap::new(),
            unconfirmed_creates: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Error)]
pub enum DecodeError {
    #[error("not valid JSON: {0}")]
    Syntax(serde_json::Error),
    #[error("no `format_version` field; this is not a drctl state file")]
    MissingVersion,
    #[error(
        "format version {found} is newer than this drctl supports ({supported}); upgrade drctl"
    )]
    Newer { found: u64, supported: u32 },
    #[error("invalid content: {0}")]
    Content(serde_json::Error),
}

/// Reads a state document, refusing versions newer than this build.
pub fn decode(bytes: &[u8]) -> Result<State, DecodeError> {
    let raw: serde_json::Value = serde_json::from_slice(bytes).map_err(DecodeError::Syntax)?;
    let version = raw
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or(DecodeError::MissingVersion)?;
    if version > u64::from(STATE_FORMAT_VERSION) {
        return Err(DecodeError::Newer {
            found: version,
            supported: STATE_FORMAT_VERSION,
        });
    }
    // Versions 2 to 5 only added optional fields: an older document is
    // read as it is and written back as the current version.
    let mut state: State = serde_json::from_value(raw).map_err(DecodeError::Content)?;
    state.format_version = STATE_FORMAT_VERSION;
    Ok(state)
}

pub fn encode(state: &State) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(state).expect("state serialises");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut s = State::new("dev");
        s.resources.insert(
            "primary/ec2.vpc/payment".parse().unwrap(),
            ResourceState {
                kind: "ec2.vpc".into(),
                region: "us-east-1".into(),
                id: "vpc-1".into(),
                inputs: Attributes::from([("cidr_block".into(), "10.0.0.0/16".into())]),
                outputs: Attributes::new(),
                dependencies: BTreeSet::new(),
            },
        );
        assert_eq!(decode(&encode(&s)).unwrap(), s);
    }

    #[test]
    fn older_versions_are_read_and_upgraded() {
        for old in [1, 2, 3, 4] {
            let mut v = serde_json::to_value(State::new("dev")).unwrap();
            v["format_version"] = old.into();
            let s = decode(v.to_string().as_bytes()).unwrap();
            assert_eq!(
                (s.format_version, s.active_role, s.fenced),
                (5, None, false)
            );
            assert!(s.unconfirmed_creates.is_empty());
            assert!(s.availability_zones.is_empty());
        }
        let mut failed_over = State::new("dev");
        failed_over.active_role = Some("secondary".into());
        assert_eq!(decode(&encode(&failed_over)).unwrap(), failed_over);
        assert!(
            !String::from_utf8(encode(&failed_over))
                .unwrap()
                .contains("fenced")
        );
        failed_over.fenced = true;
        assert_eq!(decode(&encode(&failed_over)).unwrap(), failed_over);
        // Nothing in doubt: the field is left out.
        assert!(
            !String::from_utf8(encode(&failed_over))
                .unwrap()
                .contains("unconfirmed")
        );
        let mut in_doubt = State::new("dev");
        in_doubt.unconfirmed_creates.insert(
            "primary/ec2.vpc/payment".parse().unwrap(),
            UnconfirmedCreate {
                region: "us-east-1".into(),
                inputs: Attributes::from([("cidr_block".into(), "10.0.0.0/16".into())]),
                dependencies: BTreeSet::new(),
                token: "187d0c5e9a1b2c3d4e5f60718293a4b5".into(),
                missed_since_unix: 1_796_220_041,
            },
        );
        assert_eq!(decode(&encode(&in_doubt)).unwrap(), in_doubt);
    }

    /// Version 4: the zones each region offered, kept as looked up; left
    /// out while none are recorded.
    #[test]
    fn availability_zones_round_trip() {
        let none = State::new("dev");
        assert!(
            !String::from_utf8(encode(&none))
                .unwrap()
                .contains("availability_zones")
        );
        let mut s = State::new("dev");
        s.availability_zones.insert(
            "us-west-1".into(),
            vec!["us-west-1b".into(), "us-west-1c".into()],
        );
        let text = String::from_utf8(encode(&s)).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            doc["availability_zones"],
            serde_json::json!({"us-west-1": ["us-west-1b", "us-west-1c"]})
        );
        assert_eq!(decode(text.as_bytes()).unwrap(), s);
    }

    #[test]
    fn newer_and_corrupt_are_refused() {
        let mut v = serde_json::to_value(State::new("dev")).unwrap();
        v["format_version"] = 99.into();
        let err = decode(v.to_string().as_bytes()).unwrap_err();
        assert!(matches!(err, DecodeError::Newer { found: 99, .. }), "{err}");
        assert!(matches!(
            decode(b"{\"format_version\": 1, \"lin"),
            Err(DecodeError::Syntax(_))
        ));
        assert!(matches!(decode(b"{}"), Err(DecodeError::MissingVersion)));
        assert!(matches!(
            decode(b"{\"format_version\": 1}"),
            Err(DecodeError::Content(_))
        ));
    }
}
