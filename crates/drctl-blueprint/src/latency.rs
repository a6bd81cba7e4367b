//! How long each kind's create, update and delete take on real AWS, waits
//! included: the model behind `latency_model` and `drctl graph
//! --critical-path`. Each kind's figures are its schema's `latency` row, in
//! the kind's own file (drctl-aws); this adds what one kind's row cannot
//! say: deleting the functions' network waits for their interfaces.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use drctl_core::Address;
use drctl_core::operations::OpKind;
use drctl_core::provider::{SchemaSource, Schemas};

/// After a VPC function is deleted its Hyperplane network interfaces stay
/// for a while (reported from 20 to 45 min; Terraform's security group
/// delete timeout is 15 min for this reason), and deleting the security
/// group and subnets they sit in fails with DependencyViolation until they
/// are gone (seconds after the function's delete).
pub const FUNCTION_ENI_RELEASE: u32 = 1800;

/// The functions' security group and subnets (compute.rs, monitor.rs).
fn holds_function_enis(address: &Address) -> bool {
    match address.kind() {
        "ec2.security_group" => address.name() == "lambda",
        "ec2.subnet" => address.name().starts_with("private-"),
        _ => false,
    }
}

/// The model as a run asks it: the kind's figure, except that deleting
/// the functions' security group or subnets lasts until the interfaces
/// of the functions deleted before it in that region are gone.
pub struct Model {
    /// Each kind's figures, from its schema.
    schemas: Schemas,
    /// Scope (region role) -> when its deleted functions' interfaces go.
    interfaces_gone: Mutex<BTreeMap<String, Duration>>,
}

impl Model {
    pub fn new(schemas: Schemas) -> Self {
        Model {
            schemas,
            interfaces_gone: Mutex::default(),
        }
    }

    /// How long `op` on `address` takes when it starts at `now`; `None`
    /// for a kind without figures.
    pub fn duration(&self, address: &Address, op: OpKind, now: Duration) -> Option<Duration> {
        let d = self
            .schemas
            .schema(address.kind())?
            .latency
            .durations()
            .of(op);
        if op != OpKind::Delete {
            return Some(d);
        }
        let mut gone = self.interfaces_gone.lock().unwrap();
        if address.kind() == "lambda.function" {
            let at = now + d + Duration::from_secs(FUNCTION_ENI_RELEASE.into());
            let entry = gone.entry(address.scope().to_owned()).or_default();
            *entry = (*entry).max(at);
        } else if holds_function_enis(address)
            && let Some(at) = gone.get(address.scope())
        {
            return Some(d.max(at.saturating_sub(now)));
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drctl_core::provider::{KindSchema, Latency};

    static FUNCTION: KindSchema = KindSchema {
        kind: "lambda.function",
        force_new: &[],
        outputs: &[],
        volatile_outputs: &[],
        holds_data: false,
        kept_on_delete: &[],
        latency: Latency::calls(90, 30, 2),
    };
    static GROUP: KindSchema = KindSchema {
        kind: "ec2.security_group",
        latency: Latency::calls(2, 2, 2),
        ..FUNCTION
    };

    /// Deleting the functions' group waits until their interfaces are
    /// gone; another group, or a create, does not.
    #[test]
    fn the_functions_network_outlasts_their_interfaces() {
        let model = Model::new(Schemas::from_list(&[&FUNCTION, &GROUP]));
        assert_eq!(
            model.duration(
                &"primary/x.y/z".parse().unwrap(),
                OpKind::Create,
                Duration::ZERO
            ),
            None
        );
        let at = |s: u64| Duration::from_secs(s);
        let sg = |name: &str| -> Address {
            format!("primary/ec2.security_group/{name}")
                .parse()
                .unwrap()
        };
        let function: Address = "primary/lambda.function/validation".parse().unwrap();
        // No function deleted: the group goes at once.
        assert_eq!(
            model.duration(&sg("lambda"), OpKind::Delete, at(0)),
            Some(at(2))
        );
        assert_eq!(
            model.duration(&function, OpKind::Delete, at(100)),
            Some(at(2))
        );
        // Its interfaces go 20 min after the function's delete finished.
        assert_eq!(
            model.duration(&sg("lambda"), OpKind::Delete, at(200)),
            Some(at(102 + 1800 - 200))
        );
        assert_eq!(
            model.duration(&sg("lambda"), OpKind::Delete, at(5000)),
            Some(at(2))
        );
        assert_eq!(
            model.duration(&sg("db"), OpKind::Delete, at(200)),
            Some(at(2))
        );
        assert_eq!(
            model.duration(&sg("lambda"), OpKind::Create, at(200)),
            Some(at(2))
        );
    }
}
