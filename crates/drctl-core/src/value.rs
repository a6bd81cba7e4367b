//! Input values of desired resources: JSON plus references to other
//! resources' outputs. A reference serialises as `{"$ref": "address.output"}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::address::Reference;

/// Resolved attributes: what a provider receives and what state records.
pub type Attributes = BTreeMap<String, serde_json::Value>;

/// A desired input value; may contain references anywhere inside it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Json(serde_json::Value),
    Ref(Reference),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// An unordered collection: resolves to a sorted, de-duplicated array,
    /// the form providers read back (`{"$set": [...]}`).
    Set(Vec<Value>),
    /// String interpolation: the resolved parts joined (`{"$concat": [...]}`).
    Concat(Vec<Value>),
}

/// Why a value could not be resolved yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unresolved {
    /// The referenced resource will only know this after apply.
    KnownAfterApply,
}

impl Value {
    pub fn str(s: impl Into<String>) -> Self {
        Value::Json(serde_json::Value::String(s.into()))
    }

    /// Every reference inside this value.
    pub fn references(&self) -> Vec<&Reference> {
        let mut out = Vec::new();
        self.collect_refs(&mut out);
        out
    }

    fn collect_refs<'a>(&'a self, out: &mut Vec<&'a Reference>) {
        match self {
            Value::Json(_) => {}
            Value::Ref(r) => out.push(r),
            Value::List(items) | Value::Set(items) | Value::Concat(items) => {
                items.iter().for_each(|v| v.collect_refs(out))
            }
            Value::Map(m) => m.values().for_each(|v| v.collect_refs(out)),
        }
    }

    /// Resolves references with `lookup`; `None` from it means the value is
    /// not known yet (it will be after apply).
    pub fn resolve(
        &self,
        lookup: &dyn Fn(&Reference) -> Option<serde_json::Value>,
    ) -> Result<serde_json::Value, Unresolved> {
        Ok(match self {
            Value::Json(v) => v.clone(),
            Value::Ref(r) => lookup(r).ok_or(Unresolved::KnownAfterApply)?,
            Value::List(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|v| v.resolve(lookup))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.resolve(lookup)?)))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Set(items) => {
                let mut values = items
                    .iter()
                    .map(|v| v.resolve(lookup))
                    .collect::<Result<Vec<_>, _>>()?;
                values.sort_by(|a, b| match (a.as_str(), b.as_str()) {
                    (Some(a), Some(b)) => a.cmp(b),
                    _ => a.to_string().cmp(&b.to_string()),
                });
                values.dedup();
                serde_json::Value::Array(values)
            }
            Value::Concat(parts) => {
                let mut out = String::new();
                for p in parts {
                    match p.resolve(lookup)? {
                        serde_json::Value::String(s) => out.push_str(&s),
                        other => out.push_str(&other.to_string()),
                    }
                }
                serde_json::Value::String(out)
            }
        })
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Json(v) => v.clone(),
            Value::Ref(r) => serde_json::json!({ "$ref": r.to_string() }),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            Value::Set(items) => {
                serde_json::json!({ "$set": items.iter().map(Value::to_json).collect::<Vec<_>>() })
            }
            Value::Concat(parts) => {
                serde_json::json!({ "$concat": parts.iter().map(Value::to_json).collect::<Vec<_>>() })
            }
        }
    }

    fn from_json(v: serde_json::Value) -> Result<Self, String> {
        Ok(match v {
            serde_json::Value::Object(m)
                if m.len() == 1 && (m.contains_key("$set") || m.contains_key("$concat")) =>
            {
                let (key, items) = m.into_iter().next().expect("one entry");
                let serde_json::Value::Array(items) = items else {
                    return Err(format!("`{key}` must be an array"));
                };
                let items = items
                    .into_iter()
                    .map(Value::from_json)
                    .collect::<Result<Vec<_>, String>>()?;
                if key == "$set" {
                    Value::Set(items)
                } else {
                    Value::Concat(items)
                }
            }
            serde_json::Value::Object(m) if m.len() == 1 && m.contains_key("$ref") => {
                let s = m["$ref"].as_str().ok_or("`$ref` must be a string")?;
                Value::Ref(s.parse().map_err(|e| format!("{e}"))?)
            }
            serde_json::Value::Object(m) => {
                let map = m
                    .into_iter()
                    .map(|(k, v)| Ok((k, Value::from_json(v)?)))
                    .collect::<Result<BTreeMap<_, _>, String>>()?;
                if map.values().all(|v| matches!(v, Value::Json(_))) {
                    Value::Json(Value::Map(map).to_json())
                } else {
                    Value::Map(map)
                }
            }
            serde_json::Value::Array(items) => {
                let list = items
                    .into_iter()
                    .map(Value::from_json)
                    .collect::<Result<Vec<_>, String>>()?;
                if list.iter().all(|v| matches!(v, Value::Json(_))) {
                    Value::Json(Value::List(list).to_json())
                } else {
                    Value::List(list)
                }
            }
            other => Value::Json(other),
        })
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        Value::Json(v)
    }
}
impl From<Reference> for Value {
    fn from(r: Reference) -> Self {
        Value::Ref(r)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::str(s)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::str(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Json(b.into())
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Json(n.into())
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::from_json(serde_json::Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_sort_and_concats_join_after_resolution() {
        let a: Reference = "p/t.a/a.id".parse().unwrap();
        let b: Reference = "p/t.a/b.id".parse().unwrap();
        let set = Value::Set(vec![
            Value::Ref(a.clone()),
            Value::Ref(b.clone()),
            Value::str("m"),
        ]);
        let concat = Value::Concat(vec![Value::Ref(a.clone()), Value::str("/*")]);
        let lookup = |r: &Reference| Some(json!(if r.address.name() == "a" { "z" } else { "b" }));
        assert_eq!(set.resolve(&lookup).unwrap(), json!(["b", "m", "z"]));
        assert_eq!(concat.resolve(&lookup).unwrap(), json!("z/*"));
        assert_eq!(set.references(), vec![&a, &b]);
        for v in [set, concat] {
            let text = serde_json::to_string(&v).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v, "{text}");
        }
    }

    #[test]
    fn references_serialise_and_resolve() {
        let r: Reference = "primary/ec2.vpc/payment.vpc_id".parse().unwrap();
        let v = Value::Map(BTreeMap::from([
            ("vpc".to_string(), Value::Ref(r.clone())),
            ("n".to_string(), Value::from(3)),
        ]));
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(
            text,
            r#"{"n":3,"vpc":{"$ref":"primary/ec2.vpc/payment.vpc_id"}}"#
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.references(), vec![&r]);
        let resolved = v.resolve(&|_| Some(json!("vpc-1"))).unwrap();
        assert_eq!(resolved, json!({"n": 3, "vpc": "vpc-1"}));
        assert_eq!(v.resolve(&|_| None), Err(Unresolved::KnownAfterApply));
    }
}
