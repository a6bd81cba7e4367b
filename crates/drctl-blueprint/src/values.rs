//! Small constructors for desired values, so the topology reads like data.

use std::collections::BTreeMap;

use drctl_core::{Reference, Value};

/// A JSON object whose members may hold references.
pub fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// A sorted set (subnet ids, security groups, route tables, ARNs).
pub fn set(items: impl IntoIterator<Item = Value>) -> Value {
    Value::Set(items.into_iter().collect())
}

/// String interpolation: `concat([r.output("arn").into(), "/*".into()])`.
pub fn concat<const N: usize>(parts: [Value; N]) -> Value {
    Value::Concat(parts.into())
}

pub fn r(reference: Reference) -> Value {
    Value::Ref(reference)
}

/// An IAM policy document with one statement per `(actions, resources)`.
pub fn policy(statements: Vec<(Vec<&str>, Value)>) -> Value {
    conditional_policy(
        statements
            .into_iter()
            .map(|(actions, resources)| (actions, resources, None))
            .collect(),
    )
}

/// An IAM policy document with one statement per `(actions, resources,
/// condition)`: a statement with a condition carries it as its `Condition`
/// block (`{"StringEquals": {key: value}}`).
pub fn conditional_policy(statements: Vec<(Vec<&str>, Value, Option<serde_json::Value>)>) -> Value {
    let statements = statements
        .into_iter()
        .map(|(actions, resources, condition)| {
            let mut statement = BTreeMap::from([
                ("Effect".to_owned(), "Allow".into()),
                ("Action".to_owned(), Value::Json(serde_json::json!(actions))),
                ("Resource".to_owned(), resources),
            ]);
            if let Some(condition) = condition {
                statement.insert("Condition".to_owned(), Value::Json(condition));
            }
            Value::Map(statement)
        })
        .collect();
    map([
        ("Version", "2012-10-17".into()),
        ("Statement", Value::List(statements)),
    ])
}

/// Whose requests a service role's trust policy accepts from its service:
/// the confused-deputy conditions (IAM User Guide, "The confused deputy
/// problem"). `docs/resources.md`, "Policies", gives each role's source.
pub enum Source<'a> {
    /// Only for resources of this account (`aws:SourceAccount`).
    Account(&'a str),
    /// Only for resources of this account (`aws:SourceAccount`) whose ARN
    /// matches (`aws:SourceArn`, `ArnLike`).
    Arn { account: &'a str, arn: String },
    /// No condition: the service does not document sending the keys when
    /// it assumes the role, so a condition would make the role unusable.
    /// Only principals of the account can pass the role to it
    /// (`iam:PassRole`). Says why, for the reader.
    Unconditioned { why: &'static str },
}

/// The trust policy letting `service` assume a role for `source`.
pub fn trust(service: &str, source: Source) -> Value {
    let mut statement = serde_json::json!({
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole"
    });
    match source {
        Source::Account(account) => {
            statement["Condition"] = serde_json::json!({
                "StringEquals": {"aws:SourceAccount": account}
            });
        }
        Source::Arn { account, arn } => {
            statement["Condition"] = serde_json::json!({
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": arn}
            });
        }
        Source::Unconditioned { why } => {
            let _ = why;
        }
    }
    Value::Json(serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [statement]
    }))
}
