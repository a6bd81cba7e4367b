//! `lambda.permission`: one statement of a function's resource policy,
//! letting a service principal invoke it from one source ARN. Its id is
//! `<function_name>/<statement_id>`. Every input forces replacement: Lambda
//! has no call to change a statement.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::Client;
use drctl_core::{Applied, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{api_error, attrs, found, retry_while, tolerate};

pub static SCHEMA: KindSchema = KindSchema::new("lambda.permission", Latency::calls(1, 1, 1))
    .force_new(&[
        "function_name",
        "statement_id",
        "action",
        "principal",
        "source_arn",
    ])
    .outputs(&["statement_id"]);

pub struct Permission(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    function_name: String,
    statement_id: String,
    action: String,
    principal: String,
    source_arn: String,
}

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

/// A function being created or updated refuses policy changes for a while.
const BUSY_LIMIT: Duration = Duration::from_secs(120);

fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.rsplit_once('/').ok_or_else(|| {
        ProviderError::new(
            "lambda.permission",
            format!("id `{id}` is not <function_name>/<statement_id>"),
        )
        .with_code("InvalidId")
    })
}

/// A policy field that is a string, or a one-element list of strings.
fn one_string(v: Option<&Json>) -> Option<&str> {
    match v? {
        Json::String(s) => Some(s),
        Json::Array(items) if items.len() == 1 => items[0].as_str(),
        _ => None,
    }
}

/// The statement's principal: `{"Service": "..."}` (or `{"AWS": "..."}`).
fn principal(statement: &Json) -> Option<&str> {
    match statement.get("Principal")? {
        Json::String(s) => Some(s),
        Json::Object(m) => one_string(m.get("Service").or_else(|| m.get("AWS"))),
        _ => None,
    }
}

/// The statements of the function's resource policy; `None` without a
/// function, or a function without a policy.
async fn statements(client: &Client, function: &str) -> Result<Option<Vec<Json>>, ProviderError> {
    let result = client.get_policy().function_name(function).send().await;
    let Some(out) = found(result, NOT_FOUND, "lambda:GetPolicy")? else {
        return Ok(None);
    };
    let policy: Json = serde_json::from_str(out.policy().unwrap_or("{}"))
        .map_err(|e| ProviderError::new("lambda:GetPolicy", format!("policy is not JSON: {e}")))?;
    Ok(Some(match policy.get("Statement") {
        Some(Json::Array(list)) => list.clone(),
        Some(one @ Json::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    }))
}

#[async_trait]
impl Kind for Permission {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let function = inputs.function_name.as_str();
        let sid = inputs.statement_id.as_str();
        let request = self
            .0
            .lambda(&ctx.region)
            .add_permission()
            .function_name(function)
            .statement_id(sid)
            .action(&inputs.action)
            .principal(&inputs.principal)
            .source_arn(&inputs.source_arn);
        let id = format!("{function}/{sid}");
        // ResourceConflictException means either "the function is being
        // updated, try later" or "this statement id already exists". The
        // latter is what a create sent again after a lost response meets:
        // the identical statement is success, another one under the same
        // id a conflict no wait resolves.
        retry_while(
            BUSY_LIMIT,
            |e| e.code.as_deref() == Some("ResourceConflictException"),
            || {
                let request = request.clone();
                let id = id.clone();
                async move {
                    let err = match request.send().await {
                        Ok(_) => return Ok(()),
                        Err(e) => api_error("lambda:AddPermission", e),
                    };
                    if err.code.as_deref() != Some("ResourceConflictException") {
                        return Err(err);
                    }
                    match self.read(ctx, &id, inputs).await? {
                        Some(existing) if existing.inputs == *inputs => Ok(()),
                        Some(existing) => Err(ProviderError::new(
                            "lambda:AddPermission",
                            format!(
                                "statement `{sid}` of function `{function}` already exists with other content ({}); remove it (aws lambda remove-permission) or rename this one",
                                serde_json::to_string(&existing.inputs).unwrap_or_default()
                            ),
                        )
                        .with_code("StatementExists")),
                        None => Err(err),
                    }
                }
            },
        )
        .await?;
        Ok(Applied {
            id,
            outputs: attrs([("statement_id", json!(sid))]),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        let (function, sid) = split_id(id)?;
        let Some(statements) = statements(&self.0.lambda(&ctx.region), function).await? else {
            return Ok(None);
        };
        let Some(statement) = statements
            .iter()
            .find(|s| s.get("Sid").and_then(Json::as_str) == Some(sid))
        else {
            return Ok(None);
        };
        let source_arn = statement
            .pointer("/Condition/ArnLike/AWS:SourceArn")
            .and_then(|v| one_string(Some(v)))
            .unwrap_or_default();
        Ok(Some(Found {
            inputs: Inputs {
                function_name: function.to_owned(),
                statement_id: sid.to_owned(),
                action: one_string(statement.get("Action"))
                    .unwrap_or_default()
                    .to_owned(),
                principal: principal(statement).unwrap_or_default().to_owned(),
                source_arn: source_arn.to_owned(),
            },
            outputs: attrs([("statement_id", json!(sid))]),
        }))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        id: &str,
        _prior: &Inputs,
        _inputs: &Inputs,
    ) -> Updated {
        // Every input forces replacement, so there is nothing to update.
        let (_, sid) = split_id(id)?;
        Ok(attrs([("statement_id", json!(sid))]))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // A statement is identified by its function and Sid: it exists if
        // the function's policy holds that Sid.
        let id = format!("{}/{}", inputs.function_name, inputs.statement_id);
        Ok(self.read(ctx, &id, inputs).await?.map(|_| id))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, _inputs: &Inputs) -> Done {
        let (function, sid) = split_id(id)?;
        // A statement has no tags: its function proves it this
        // environment's.
        let client = self.0.lambda(&ctx.region);
        if !super::function::confirm_function_owned(&client, ctx, function).await? {
            return Ok(());
        }
        let request = self
            .0
            .lambda(&ctx.region)
            .remove_permission()
            .function_name(function)
            .statement_id(sid);
        retry_while(
            BUSY_LIMIT,
            |e| e.code.as_deref() == Some("ResourceConflictException"),
            || {
                let request = request.clone();
                async move {
                    let result = request.send().await;
                    tolerate(result, NOT_FOUND, "lambda:RemovePermission")
                }
            },
        )
        .await
    }

    /// A statement has no tags: those of the environment's functions'
    /// policies, by Sid.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.lambda(&scope.region);
        let mut ids = Vec::new();
        for function in super::function::env_functions(&client, scope).await? {
            for statement in statements(&client, &function).await?.unwrap_or_default() {
                if let Some(sid) = statement.get("Sid").and_then(Json::as_str) {
                    ids.push(format!("{function}/{sid}"));
                }
            }
        }
        Ok(ids)
    }
}
