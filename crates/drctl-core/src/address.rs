//! Resource addresses (`primary/ec2.vpc/payment`) and references to a
//! resource's output (`primary/ec2.vpc/payment.vpc_id`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The stable, human-readable key of a resource in state and plans:
/// `<scope>/<service>.<type>/<name>`.
///
/// Stored as its text plus two offsets: small to copy and to compare.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    text: String,
    /// Byte offsets of the kind and the name in `text`.
    kind_at: u32,
    name_at: u32,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "invalid address `{input}`: {reason} (expected `scope/service.type/name`, e.g. `primary/ec2.vpc/payment`)"
)]
pub struct AddressError {
    pub input: String,
    pub reason: &'static str,
}

fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl Address {
    pub fn new(scope: &str, kind: &str, name: &str) -> Result<Self, AddressError> {
        let input = format!("{scope}/{kind}/{name}");
        let err = |reason| AddressError {
            input: input.clone(),
            reason,
        };
        if !is_word(scope) {
            return Err(err("scope must be lowercase letters, digits, `-` or `_`"));
        }
        match kind.split_once('.') {
            Some((service, ty)) if is_word(service) && is_word(ty) => {}
            _ => return Err(err("kind must be `service.type`")),
        }
        if !is_word(name) {
            return Err(err("name must be lowercase letters, digits, `-` or `_`"));
        }
        Ok(Self {
            kind_at: (scope.len() + 1) as u32,
            name_at: (scope.len() + kind.len() + 2) as u32,
            text: input,
        })
    }

    /// `primary`, `secondary` or `global` in the payment blueprint.
    pub fn scope(&self) -> &str {
        &self.text[..self.kind_at as usize - 1]
    }
    /// `service.type`, e.g. `ec2.vpc`: selects the provider.
    pub fn kind(&self) -> &str {
        &self.text[self.kind_at as usize..self.name_at as usize - 1]
    }
    pub fn name(&self) -> &str {
        &self.text[self.name_at as usize..]
    }

    /// A reference to one of this resource's outputs.
    pub fn output(&self, output: &str) -> Reference {
        Reference {
            address: self.clone(),
            output: output.to_owned(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [scope, kind, name] => Address::new(scope, kind, name),
            _ => Err(AddressError {
                input: s.to_owned(),
                reason: "needs exactly three `/`-separated parts",
            }),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `address.output`: a value another resource produces once it exists.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    pub address: Address,
    pub output: String,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.address, self.output)
    }
}

impl FromStr for Reference {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, output) = s.rsplit_once('.').ok_or(AddressError {
            input: s.to_owned(),
            reason: "a reference is `address.output`",
        })?;
        if addr.rsplit('/').next().is_some_and(|n| !n.contains('.')) && !output.contains('/') {
            let address: Address = addr.parse()?;
            if is_word(output) {
                return Ok(Reference {
                    address,
                    output: output.to_owned(),
                });
            }
        }
        Err(AddressError {
            input: s.to_owned(),
            reason: "a reference is `address.output`",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_round_trips() {
        let a: Address = "primary/ec2.vpc/payment".parse().unwrap();
        assert_eq!(a.scope(), "primary");
        assert_eq!(a.kind(), "ec2.vpc");
        assert_eq!(a.name(), "payment");
        assert_eq!(a.to_string(), "primary/ec2.vpc/payment");
    }

    #[test]
    fn bad_addresses_are_refused() {
        for bad in [
            "",
            "primary/vpc/x",
            "primary/ec2.vpc",
            "Primary/ec2.vpc/x",
            "a/b.c/d/e",
            "p/ec2.vpc/a.b",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }

    #[test]
    fn reference_round_trips() {
        let r: Reference = "primary/ec2.vpc/payment.vpc_id".parse().unwrap();
        assert_eq!(r.address.to_string(), "primary/ec2.vpc/payment");
        assert_eq!(r.output, "vpc_id");
        assert_eq!(r.to_string(), "primary/ec2.vpc/payment.vpc_id");
        assert!("primary/ec2.vpc/payment".parse::<Reference>().is_err());
    }
}
