//! Desired resources as the blueprint declares them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::value::Value;

/// One resource the environment should contain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceSpec {
    pub address: Address,
    /// Concrete AWS region, e.g. `us-east-1`.
    pub region: String,
    pub inputs: BTreeMap<String, Value>,
    /// Ordering-only dependencies, on top of those implied by references.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub depends_on: BTreeSet<Address>,
}

impl ResourceSpec {
    pub fn new(address: Address, region: impl Into<String>) -> Self {
        Self {
            address,
            region: region.into(),
            inputs: BTreeMap::new(),
            depends_on: BTreeSet::new(),
        }
    }

    /// Builder-style input setter.
    pub fn input(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.inputs.insert(name.to_owned(), value.into());
        self
    }

    pub fn after(mut self, address: &Address) -> Self {
        self.depends_on.insert(address.clone());
        self
    }

    pub fn kind(&self) -> &str {
        self.address.kind()
    }

    /// Every address this resource needs before it can be created.
    pub fn dependencies(&self) -> BTreeSet<Address> {
        let mut deps = self.depends_on.clone();
        for v in self.inputs.values() {
            deps.extend(v.references().into_iter().map(|r| r.address.clone()));
        }
        deps
    }
}
