//! `lambda.function`: a zip-packaged function, optionally in a VPC. Its id
//! is the function name.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Environment, FunctionCode, FunctionConfiguration, LastUpdateStatus, Runtime, State, VpcConfig,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{
    api_error, attrs, confirm_owned, found, invalid, only_if_set, retry_while, sent, tag_map,
    tolerate, wait_for,
};
use crate::tags::{TagApi, in_env, retag, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new(
    "lambda.function",
    Latency {
        create: 90,
        update: 30,
        delete: 2,
        basis: "VPC function: Pending while Lambda makes its Hyperplane ENIs (estimate); update until LastUpdateStatus Successful",
    },
)
.force_new(&["function_name"])
.outputs(&["arn", "function_name", "invoke_arn"]);

pub struct Function(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    function_name: String,
    runtime: String,
    handler: String,
    role_arn: String,
    timeout: i32,
    memory_size: i32,
    /// Variables; one changed outside drctl reads back as
    /// `support::NOT_RECORDED`.
    environment: BTreeMap<String, String>,
    subnet_ids: Vec<String>,
    security_group_ids: Vec<String>,
    /// The package: not readable back, a read repeats what state records.
    code_zip_base64: String,
    code_sha256: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl Inputs {
    /// Whether UpdateFunctionConfiguration has something to apply.
    fn config_differs(&self, other: &Inputs) -> bool {
        let config = |i: &Inputs| Inputs {
            code_zip_base64: String::new(),
            code_sha256: String::new(),
            tags: BTreeMap::new(),
            ..i.clone()
        };
        config(self) != config(other)
    }
}

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

/// Creating a function with a VPC takes a while on AWS (ENIs); updates
/// are quicker but also asynchronous.
const CREATE_LIMIT: Duration = Duration::from_secs(15 * 60);
const UPDATE_LIMIT: Duration = Duration::from_secs(10 * 60);
/// How long a new role may take to become assumable by Lambda.
const IAM_PROPAGATION: Duration = Duration::from_secs(120);

/// Lambda's answers while a new role (or its newly attached policies) has
/// not yet reached every IAM endpoint.
fn role_not_ready(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("InvalidParameterValueException")
        && (e.message.contains("cannot be assumed by Lambda")
            || e.message.contains("does not have permissions to call"))
}

/// An update refused because the function is busy: still `Pending` after
/// its create, or another update (made out of band, say) `InProgress`.
/// Lambda answers ResourceConflictException (409) until it is done ("Lambda
/// function states"), which for a VPC function can take as long as a create.
fn busy(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("ResourceConflictException")
}

/// Sends an update (`send` builds and sends it once), retried while the
/// function is busy (up to `CREATE_LIMIT`) or a new role propagates (up to
/// `IAM_PROPAGATION`).
async fn send_update<T, F, Fut>(send: F) -> Result<T, ProviderError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    retry_while(IAM_PROPAGATION, role_not_ready, || {
        retry_while(CREATE_LIMIT, busy, &send)
    })
    .await
}

#[async_trait]
impl TagApi for Client {
    async fn tag(&self, arn: &str, set: BTreeMap<String, String>) -> Result<(), ProviderError> {
        let call = self.tag_resource().resource(arn);
        sent(
            call.set_tags(Some(set.into_iter().collect())).send().await,
            "lambda:TagResource",
        )
    }

    async fn untag(&self, arn: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        let call = self.untag_resource().resource(arn).set_tag_keys(Some(keys));
        sent(call.send().await, "lambda:UntagResource")
    }
}

fn sorted(list: &[String]) -> Vec<String> {
    let mut list = list.to_vec();
    list.sort();
    list
}

fn environment(inputs: &Inputs) -> Environment {
    let vars = inputs.environment.clone().into_iter().collect();
    Environment::builder().set_variables(Some(vars)).build()
}

fn vpc_config(inputs: &Inputs) -> VpcConfig {
    VpcConfig::builder()
        .set_subnet_ids(Some(sorted(&inputs.subnet_ids)))
        .set_security_group_ids(Some(sorted(&inputs.security_group_ids)))
        .build()
}

/// The package bytes, checked against `code_sha256`: a mismatch would
/// show as drift on every read.
fn package(ctx: &OpContext, inputs: &Inputs) -> Result<Blob, ProviderError> {
    let bytes = aws_smithy_types::base64::decode(&inputs.code_zip_base64)
        .map_err(|e| invalid(ctx, format!("`code_zip_base64` is not base64: {e}")))?;
    let sha = aws_smithy_types::base64::encode(Sha256::digest(&bytes));
    if sha != inputs.code_sha256 {
        return Err(invalid(
            ctx,
            format!("`code_sha256` does not match the package (its SHA-256 is {sha})"),
        ));
    }
    Ok(Blob::new(bytes))
}

fn outputs(config: &FunctionConfiguration) -> Attributes {
    let arn = config.function_arn().unwrap_or_default();
    // The partition of the function's ARN (aws, aws-cn, aws-us-gov).
    let partition = arn.split(':').nth(1).unwrap_or("aws");
    let region = arn.split(':').nth(3).unwrap_or_default();
    attrs([
        ("arn", json!(arn)),
        ("function_name", json!(config.function_name())),
        (
            "invoke_arn",
            json!(format!(
                "arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
            )),
        ),
    ])
}

/// Refuses a change to a function's child (a permission, `ctx`'s
/// address) unless the function is this environment's; `false` when the
/// function is gone (its policy went with it).
pub(crate) async fn confirm_function_owned(
    client: &Client,
    ctx: &OpContext,
    name: &str,
) -> Result<bool, ProviderError> {
    let result = client.get_function().function_name(name).send().await;
    let Some(out) = found(result, NOT_FOUND, "lambda:GetFunction")? else {
        return Ok(false);
    };
    crate::support::confirm_parent_owned(
        ctx,
        "delete",
        &format!("function {name}"),
        &tag_map(out.tags.unwrap_or_default()),
        Some(name),
    )?;
    Ok(true)
}

/// The names of the environment's functions in the region: claimed by
/// their `drctl:env` tag (ListFunctions gives no tags), or without drctl
/// tags named for it.
pub(crate) async fn env_functions(
    client: &Client,
    scope: &ListScope,
) -> Result<Vec<String>, ProviderError> {
    let mut functions = client.list_functions().into_paginator().items().send();
    let mut names = Vec::new();
    while let Some(f) = functions.next().await {
        let f = f.map_err(|e| api_error("lambda:ListFunctions", e))?;
        let (Some(name), Some(arn)) = (f.function_name(), f.function_arn()) else {
            continue;
        };
        let result = client.list_tags().resource(arn).send().await;
        // Listed, then deleted before its tags were read: gone.
        if let Some(out) = found(result, NOT_FOUND, "lambda:ListTags")?
            && in_env(
                &scope.env,
                &tag_map(out.tags.unwrap_or_default()),
                Some(name),
            )
        {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

impl Function {
    async fn get(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<Option<(FunctionConfiguration, HashMap<String, String>)>, ProviderError> {
        let result = client.get_function().function_name(name).send().await;
        let out = found(result, NOT_FOUND, "lambda:GetFunction")?;
        Ok(out.and_then(|o| o.configuration.map(|c| (c, o.tags.unwrap_or_default()))))
    }

    /// The current configuration of a function that must exist.
    async fn configuration(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<FunctionConfiguration, ProviderError> {
        self.get(client, name)
            .await?
            .map(|(c, _)| c)
            .ok_or_else(|| {
                ProviderError::new("lambda:GetFunction", format!("function {name} not found"))
                    .with_code("ResourceNotFoundException")
            })
    }

    /// Polls the function until `settled` finds it so (`Ok(None)`),
    /// naming what it still is meanwhile (`Ok(Some(state))`); an error of
    /// `settled` (it failed) ends the wait.
    async fn wait_settled(
        &self,
        client: &Client,
        name: &str,
        what: &str,
        limit: Duration,
        settled: impl Fn(&FunctionConfiguration) -> Result<Option<String>, ProviderError>,
    ) -> Result<FunctionConfiguration, ProviderError> {
        wait_for(&format!("Lambda function {name} {what}"), limit, || async {
            let c = self.configuration(client, name).await?;
            Ok(match settled(&c)? {
                None => Ok(c),
                Some(state) => Err(state),
            })
        })
        .await
    }

    /// Waits for `State == Active` (a new function).
    async fn wait_active(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<FunctionConfiguration, ProviderError> {
        self.wait_settled(client, name, "Active", CREATE_LIMIT, |c| match c.state() {
            Some(State::Active) | None => Ok(None),
            Some(State::Failed) => Err(ProviderError::new(
                "lambda:CreateFunction",
                format!(
                    "function {name} failed: {}",
                    c.state_reason().unwrap_or("no reason given")
                ),
            )
            .with_code("FunctionFailed")),
            Some(other) => Ok(Some(other.as_str().to_owned())),
        })
        .await
    }

    /// Sends an update (`send` sends it once) as [`send_update`] does, then
    /// waits until the function has applied it.
    async fn apply_update<T, E, F, Fut>(
        &self,
        client: &Client,
        name: &str,
        operation: &str,
        send: F,
    ) -> Result<(), ProviderError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        // The function may still be Pending or another update running, or
        // a new role propagating.
        send_update(|| async { send().await.map_err(|e| api_error(operation, e)) }).await?;
        self.wait_updated(client, name, operation).await?;
        Ok(())
    }

    /// Waits for `LastUpdateStatus == Successful` (after an update).
    async fn wait_updated(
        &self,
        client: &Client,
        name: &str,
        operation: &str,
    ) -> Result<FunctionConfiguration, ProviderError> {
        let status = |c: &FunctionConfiguration| match c.last_update_status() {
            Some(LastUpdateStatus::Successful) | None => Ok(None),
            Some(LastUpdateStatus::Failed) => Err(ProviderError::new(
                operation,
                format!(
                    "update of {name} failed: {}",
                    c.last_update_status_reason().unwrap_or("no reason given")
                ),
            )
            .with_code("UpdateFailed")),
            Some(other) => Ok(Some(other.as_str().to_owned())),
        };
        self.wait_settled(client, name, "update", UPDATE_LIMIT, status)
            .await
    }
}

#[async_trait]
impl Kind for Function {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let name = inputs.function_name.as_str();
        let client = self.0.lambda(&ctx.region);
        let code = package(ctx, inputs)?;
        let env = environment(inputs);
        let vpc = vpc_config(inputs);
        let has_env = env.variables().is_some_and(|v| !v.is_empty());
        let in_vpc = !vpc.subnet_ids().is_empty() || !vpc.security_group_ids().is_empty();
        let tags: HashMap<String, String> = with_identity(ctx, &inputs.tags).into_iter().collect();
        // CreateFunction takes no idempotency token; a resend of one that
        // happened finds the name taken.
        let request = self
            .0
            .lambda_once(&ctx.region)
            .create_function()
            .function_name(name)
            .runtime(Runtime::from(inputs.runtime.as_str()))
            .handler(&inputs.handler)
            .role(&inputs.role_arn)
            .timeout(inputs.timeout)
            .memory_size(inputs.memory_size)
            .set_environment(has_env.then_some(env))
            .set_vpc_config(in_vpc.then_some(vpc))
            .code(FunctionCode::builder().zip_file(code).build())
            .set_tags(Some(tags));
        retry_while(IAM_PROPAGATION, role_not_ready, || {
            create_or_find(
                self,
                ctx,
                inputs,
                "lambda:CreateFunction",
                &["ResourceConflictException"],
                || request.clone().send(),
            )
        })
        .await?;
        let config = self.wait_active(&client, name).await?;
        Ok(Applied {
            id: name.to_owned(),
            outputs: outputs(&config),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let client = self.0.lambda(&ctx.region);
        let Some((c, tags)) = self.get(&client, id).await? else {
            return Ok(None);
        };
        // Only what drctl set is recorded: a variable added or changed
        // outside drctl may hold a secret (a password pasted in the
        // console), which state must never copy.
        let env: BTreeMap<String, String> = c
            .environment()
            .and_then(|e| e.variables())
            .map(|v| {
                v.iter()
                    .map(|(k, value)| {
                        let drctls = prior.environment.get(k).map(|s| json!(s));
                        let seen = only_if_set(&json!(value), drctls.as_ref());
                        (k.clone(), seen.as_str().unwrap_or_default().to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (mut subnets, mut groups) = c
            .vpc_config()
            .map(|v| (v.subnet_ids().to_vec(), v.security_group_ids().to_vec()))
            .unwrap_or_default();
        subnets.sort();
        groups.sort();
        Ok(Some(Found {
            inputs: Inputs {
                function_name: c.function_name().unwrap_or(id).to_owned(),
                runtime: c
                    .runtime()
                    .map(Runtime::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                handler: c.handler().unwrap_or_default().to_owned(),
                role_arn: c.role().unwrap_or_default().to_owned(),
                timeout: c.timeout().unwrap_or_default(),
                memory_size: c.memory_size().unwrap_or_default(),
                environment: env,
                subnet_ids: subnets,
                security_group_ids: groups,
                // The package itself cannot be read back; its hash can.
                code_zip_base64: prior.code_zip_base64.clone(),
                code_sha256: c.code_sha256().unwrap_or_default().to_owned(),
                tags: user_tags(tag_map(tags)),
            },
            outputs: outputs(&c),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let client = self.0.lambda(&ctx.region);
        if prior.config_differs(inputs) {
            let request = client
                .update_function_configuration()
                .function_name(id)
                .runtime(Runtime::from(inputs.runtime.as_str()))
                .handler(&inputs.handler)
                .role(&inputs.role_arn)
                .timeout(inputs.timeout)
                .memory_size(inputs.memory_size)
                // Both sent in full: empty variables clear them, empty
                // lists take the function out of its VPC.
                .environment(environment(inputs))
                .vpc_config(vpc_config(inputs));
            // The code update would be refused while this one is InProgress.
            let operation = "lambda:UpdateFunctionConfiguration";
            self.apply_update(&client, id, operation, || request.clone().send())
                .await?;
        }
        if prior.code_sha256 != inputs.code_sha256 {
            let request = client
                .update_function_code()
                .function_name(id)
                .zip_file(package(ctx, inputs)?);
            // Returns once the function runs the new code: the next update
            // (or a dependent's call) is not refused.
            let operation = "lambda:UpdateFunctionCode";
            self.apply_update(&client, id, operation, || request.clone().send())
                .await?;
        }
        let config = self.configuration(&client, id).await?;
        let arn = config.function_arn().unwrap_or_default().to_owned();
        retag(&client, &arn, &prior.tags, &inputs.tags).await?;
        Ok(outputs(&config))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // Function names are unique per region, and the id is the name.
        // DeleteFunction is synchronous (no deleting state to skip), and a
        // function still Pending or Failed exists all the same: adopting it
        // lets the next plan repair or replace it.
        let name = inputs.function_name.as_str();
        let client = self.0.lambda(&ctx.region);
        Ok(self.get(&client, name).await?.map(|_| name.to_owned()))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let lambda = self.0.lambda(&ctx.region);
        let Some((_, tags)) = self.get(&lambda, id).await? else {
            return Ok(());
        };
        let named = Some(inputs.function_name.as_str()).filter(|n| *n == id);
        confirm_owned(
            ctx,
            "delete",
            &format!("function {id}"),
            &tag_map(tags),
            named,
        )?;
        let result = lambda.delete_function().function_name(id).send().await;
        tolerate(result, NOT_FOUND, "lambda:DeleteFunction")
    }

    async fn list(&self, scope: &ListScope) -> Listed {
        env_functions(&self.0.lambda(&scope.region), scope).await
    }
}
