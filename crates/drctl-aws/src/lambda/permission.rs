//! `lambda.permission`: one statement of a function's resource policy,
//! letting a service principal invoke it from one source ARN. Its id is
//! `<function_name>/<statement_id>`. Every input forces replacement: Lambda
//! has no call to change a statement.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use drctl_core::{
    Applied, Attributes, KindSchema, Latency, Observed, OpContext, Provider, ProviderError,
};
use serde_json::{Value as Json, json};

use crate::clients::Clients;
use crate::support::{api_error, attrs, found, req_str, retry_while, tolerate};

pub static SCHEMA: KindSchema = KindSchema {
    kind: "lambda.permission",
    force_new: &[
        "function_name",
        "statement_id",
        "action",
        "principal",
        "source_arn",
    ],
    outputs: &["statement_id"],
    volatile_outputs: &[],
    holds_data: false,
    kept_on_delete: &[],
    latency: Latency::calls(1, 1, 1),
};

pub struct Permission(pub(crate) Arc<Clients>);

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

/// Whether the statement read back is the one `inputs` asks for.
fn same_statement(existing: &Attributes, inputs: &Attributes) -> bool {
    [
        "function_name",
        "statement_id",
        "action",
        "principal",
        "source_arn",
    ]
    .iter()
    .all(|k| existing.get(*k) == inputs.get(*k))
}

#[async_trait]
impl Provider for Permission {
    fn schema(&self) -> &KindSchema {
        &SCHEMA
    }

    async fn create(&self, ctx: &OpContext, inputs: &Attributes) -> Result<Applied, ProviderError> {
        let function = req_str(ctx, inputs, "function_name")?;
        let sid = req_str(ctx, inputs, "statement_id")?;
        let request = self
            .0
            .lambda(&ctx.region)
            .add_permission()
            .function_name(function)
            .statement_id(sid)
            .action(req_str(ctx, inputs, "action")?)
            .principal(req_str(ctx, inputs, "principal")?)
            .source_arn(req_str(ctx, inputs, "source_arn")?);
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
                        Some(existing) if same_statement(&existing.inputs, inputs) => Ok(()),
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

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
    ) -> Result<Option<Observed>, ProviderError> {
        let (function, sid) = split_id(id)?;
        let result = self
            .0
            .lambda(&ctx.region)
            .get_policy()
            .function_name(function)
            .send()
            .await;
        // No function, or a function without a policy.
        let Some(out) = found(result, NOT_FOUND, "lambda:GetPolicy")? else {
            return Ok(None);
        };
        let policy: Json = serde_json::from_str(out.policy().unwrap_or("{}")).map_err(|e| {
            ProviderError::new("lambda:GetPolicy", format!("policy is not JSON: {e}"))
        })?;
        let statements = match policy.get("Statement") {
            Some(Json::Array(list)) => list.as_slice(),
            Some(one @ Json::Object(_)) => std::slice::from_ref(one),
            _ => &[],
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
        Ok(Some(Observed {
            inputs: attrs([
                ("function_name", json!(function)),
                ("statement_id", json!(sid)),
                (
                    "action",
                    json!(one_string(statement.get("Action")).unwrap_or_default()),
                ),
                ("principal", json!(principal(statement).unwrap_or_default())),
                ("source_arn", json!(source_arn)),
            ]),
            outputs: attrs([("statement_id", json!(sid))]),
        }))
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        id: &str,
        _prior: &Attributes,
        _inputs: &Attributes,
    ) -> Result<Attributes, ProviderError> {
        // Every input forces replacement, so there is nothing to update.
        let (_, sid) = split_id(id)?;
        Ok(attrs([("statement_id", json!(sid))]))
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Attributes,
    ) -> Result<Option<String>, ProviderError> {
        // A statement is identified by its function and Sid: it exists if
        // the function's policy holds that Sid.
        let id = format!(
            "{}/{}",
            req_str(ctx, inputs, "function_name")?,
            req_str(ctx, inputs, "statement_id")?
        );
        Ok(self.read(ctx, &id, inputs).await?.map(|_| id))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Attributes,
        _outputs: &Attributes,
    ) -> Result<(), ProviderError> {
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
}
