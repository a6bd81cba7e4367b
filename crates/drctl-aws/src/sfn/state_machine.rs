//! `sfn.state_machine`: a Step Functions state machine. Its id is the ARN
//! (the API addresses state machines by ARN only).

use std::sync::Arc;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineOutput;
use aws_sdk_sfn::types::{StateMachineStatus, StateMachineType, Tag};
use std::collections::BTreeMap;

use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated};
use crate::support::{
    api_error, attrs, confirm_owned, found, invalid, only_if_set, retry_while, wait_for,
};
use crate::tags::{
    ReadTags, arn_tag_api, checked, in_env, retag, to_sdk, user_tags, with_identity,
};

pub static SCHEMA: KindSchema = KindSchema::new(
    "sfn.state_machine",
    Latency {
        create: 2,
        update: 2,
        delete: 30,
        basis: "delete waits until it is gone",
    },
)
.force_new(&["name", "type"])
.outputs(&["arn", "name"]);

pub struct StateMachine(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    /// The Amazon States Language document; read back as
    /// `support::NOT_RECORDED` when changed outside drctl.
    definition: Json,
    role_arn: String,
    #[serde(rename = "type")]
    machine_type: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

const NOT_FOUND: &[&str] = &["StateMachineDoesNotExist"];

/// How long a new role may take to become assumable by Step Functions.
const IAM_PROPAGATION: Duration = Duration::from_secs(120);
/// Deletion is asynchronous (status DELETING until it is gone).
const DELETE_LIMIT: Duration = Duration::from_secs(10 * 60);

/// Step Functions' answer while a new role has not yet reached every IAM
/// endpoint: "Neither the global service principal states.amazonaws.com,
/// nor the regional one is authorized to assume the provided role."
fn role_not_ready(e: &ProviderError) -> bool {
    e.message.contains("authorized to assume the provided role")
        || (e.code.as_deref() == Some("AccessDeniedException") && e.message.contains("assume"))
}

/// CreateStateMachine of a name whose machine is still `DELETING` (a
/// delete this run did not wait out: another process's, or one of a run
/// that was stopped): refused until that machine is gone.
fn still_deleting(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("StateMachineDeleting")
}

fn definition(ctx: &OpContext, inputs: &Inputs) -> Result<String, ProviderError> {
    match &inputs.definition {
        v @ Json::Object(_) => Ok(v.to_string()),
        _ => Err(invalid(ctx, "input `definition` must be a JSON object")),
    }
}

fn machine_type(ctx: &OpContext, inputs: &Inputs) -> Result<StateMachineType, ProviderError> {
    match inputs.machine_type.as_str() {
        "STANDARD" => Ok(StateMachineType::Standard),
        "EXPRESS" => Ok(StateMachineType::Express),
        other => Err(invalid(
            ctx,
            format!("state machine type `{other}` is not STANDARD or EXPRESS"),
        )),
    }
}

arn_tag_api!(Client, "states", checked::<Tag>, gone: &["ResourceNotFound"]);

fn outputs(sm: &DescribeStateMachineOutput) -> Attributes {
    attrs([
        ("arn", json!(sm.state_machine_arn())),
        ("name", json!(sm.name())),
    ])
}

impl StateMachine {
    async fn describe(
        &self,
        client: &Client,
        arn: &str,
    ) -> Result<Option<DescribeStateMachineOutput>, ProviderError> {
        let result = client
            .describe_state_machine()
            .state_machine_arn(arn)
            .send()
            .await;
        found(result, NOT_FOUND, "states:DescribeStateMachine")
    }
}

#[async_trait]
impl Kind for StateMachine {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let client = self.0.sfn(&ctx.region);
        let request = client
            .create_state_machine()
            .name(&inputs.name)
            .definition(definition(ctx, inputs)?)
            .role_arn(&inputs.role_arn)
            .r#type(machine_type(ctx, inputs)?)
            .set_tags(Some(to_sdk::<Tag>(with_identity(ctx, &inputs.tags))));
        let send = || {
            let request = request.clone();
            async move {
                request
                    .send()
                    .await
                    .map_err(|e| api_error("states:CreateStateMachine", e))
            }
        };
        let out = retry_while(IAM_PROPAGATION, role_not_ready, || {
            retry_while(DELETE_LIMIT, still_deleting, &send)
        })
        .await?;
        let arn = out.state_machine_arn().to_owned();
        let sm = self.describe(&client, &arn).await?.ok_or_else(|| {
            ProviderError::new(
                "states:DescribeStateMachine",
                "state machine not found right after creation",
            )
        })?;
        Ok(Applied {
            id: arn,
            outputs: outputs(&sm),
        })
    }

    async fn read(&self, ctx: &OpContext, id: &str, prior: &Inputs) -> Read<Inputs> {
        let client = self.0.sfn(&ctx.region);
        let Some(sm) = self.describe(&client, id).await? else {
            return Ok(None);
        };
        // A machine DELETING is on its way out (and refuses updates): gone,
        // as `find` sees it; a create of its name waits until it is.
        if sm.status() == Some(&StateMachineStatus::Deleting) {
            return Ok(None);
        }
        let definition: Json = serde_json::from_str(sm.definition()).map_err(|e| {
            ProviderError::new(
                "states:DescribeStateMachine",
                format!("definition is not JSON: {e}"),
            )
        })?;
        // Recorded only as drctl set it: a definition edited outside drctl
        // may carry a secret (a credential in a state's Parameters).
        let definition = only_if_set(&definition, Some(&prior.definition));
        let Some(tags) = client.read_tags(id).await? else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: Inputs {
                name: sm.name().to_owned(),
                definition,
                role_arn: sm.role_arn().to_owned(),
                machine_type: sm.r#type().as_str().to_owned(),
                tags: user_tags(tags),
            },
            outputs: outputs(&sm),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let client = self.0.sfn(&ctx.region);
        let definition_changed = prior.definition != inputs.definition;
        let role_changed = prior.role_arn != inputs.role_arn;
        if definition_changed || role_changed {
            let request = client
                .update_state_machine()
                .state_machine_arn(id)
                .set_definition(
                    definition_changed
                        .then(|| definition(ctx, inputs))
                        .transpose()?,
                )
                .set_role_arn(role_changed.then(|| inputs.role_arn.clone()));
            // A changed role may be brand new.
            retry_while(IAM_PROPAGATION, role_not_ready, || {
                let request = request.clone();
                async move {
                    request
                        .send()
                        .await
                        .map_err(|e| api_error("states:UpdateStateMachine", e))
                }
            })
            .await?;
        }
        retag(&client, id, &prior.tags, &inputs.tags).await?;
        let sm = self.describe(&client, id).await?.ok_or_else(|| {
            ProviderError::new(
                "states:DescribeStateMachine",
                "state machine disappeared during update",
            )
        })?;
        Ok(outputs(&sm))
    }

    async fn find(&self, ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // Names are unique per account and region; the id is the ARN, which
        // the listing gives (no partition to guess).
        let name = inputs.name.as_str();
        let client = self.0.sfn(&ctx.region);
        let mut machines = client.list_state_machines().into_paginator().items().send();
        while let Some(item) = machines.next().await {
            let item = item.map_err(|e| api_error("states:ListStateMachines", e))?;
            if item.name() != name {
                continue;
            }
            let arn = item.state_machine_arn();
            // Deletion is asynchronous: a machine DELETING is on its way out.
            return Ok(self.describe(&client, arn).await?.and_then(|sm| {
                (sm.status() != Some(&StateMachineStatus::Deleting)).then(|| arn.to_owned())
            }));
        }
        Ok(None)
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        let client = self.0.sfn(&ctx.region);
        let Some(sm) = self.describe(&client, id).await? else {
            return Ok(());
        };
        // One already DELETING goes whoever asked: only the wait is left.
        if sm.status() != Some(&StateMachineStatus::Deleting) {
            let Some(tags) = client.read_tags(id).await? else {
                return Ok(());
            };
            let named = Some(inputs.name.as_str()).filter(|n| *n == sm.name());
            confirm_owned(ctx, "delete", &format!("state machine {id}"), &tags, named)?;
        }
        let result = client
            .delete_state_machine()
            .state_machine_arn(id)
            .send()
            .await;
        if found(result, NOT_FOUND, "states:DeleteStateMachine")?.is_none() {
            return Ok(());
        }
        // The name is deterministic, so a replace creates the same name
        // again at once: wait until the old machine is really gone.
        wait_for(
            &format!("state machine {id} deleted"),
            DELETE_LIMIT,
            || async {
                Ok(match self.describe(&client, id).await? {
                    None => Ok(()),
                    Some(sm) => Err(sm.status().map_or("present", |s| s.as_str()).to_owned()),
                })
            },
        )
        .await
    }

    /// By the `drctl:env` tag (ListStateMachines has no tag filter), or a
    /// name drctl derives for the environment; a machine DELETING is gone.
    async fn list(&self, scope: &ListScope) -> Listed {
        let client = self.0.sfn(&scope.region);
        let mut machines = client.list_state_machines().into_paginator().items().send();
        let mut ids = Vec::new();
        while let Some(item) = machines.next().await {
            let item = item.map_err(|e| api_error("states:ListStateMachines", e))?;
            let arn = item.state_machine_arn();
            // Listed, then deleted before its tags were read: gone.
            let Some(tags) = client.read_tags(arn).await? else {
                continue;
            };
            if in_env(&scope.env, &tags, Some(item.name()))
                && self
                    .describe(&client, arn)
                    .await?
                    .is_some_and(|sm| sm.status() != Some(&StateMachineStatus::Deleting))
            {
                ids.push(arn.to_owned());
            }
        }
        Ok(ids)
    }
}
