//! `iam.role`: a role with its trust policy, inline policies, attached
//! managed policies and tags. Its id is the role name. IAM is global, so
//! the context's region is not used.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::Tag;
use drctl_core::{Applied, Attributes, KindSchema, Latency, ListScope, OpContext, ProviderError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::policy_json;
use crate::clients::Clients;
use crate::kind::{Done, Found, Kind, Listed, Lookup, Made, Read, Updated, create_or_find};
use crate::support::{
    Created, all_items, api_error, attrs, confirm_owned, found, invalid, sent, tolerate,
};
use crate::tags::{TagApi, from_sdk, in_env, retag, to_sdk, user_tags, with_identity};

pub static SCHEMA: KindSchema = KindSchema::new(
    "iam.role",
    Latency {
        create: 3,
        update: 2,
        delete: 2,
        basis: "create + inline policies; propagation is retried by the consumer",
    },
)
.force_new(&["name"])
.outputs(&["arn", "name", "role_id"]);

pub struct Role(pub(crate) Arc<Clients>);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    name: String,
    /// Empty for none (IAM returns none for an empty one).
    description: String,
    /// The trust policy document.
    assume_role_policy: Json,
    /// Policy name -> document.
    inline_policies: BTreeMap<String, Json>,
    managed_policy_arns: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

const NOT_FOUND: &[&str] = &["NoSuchEntity"];

/// TagRole / UntagRole: roles are the only IAM resource drctl tags.
#[async_trait]
impl TagApi for Client {
    async fn tag(&self, role: &str, set: BTreeMap<String, String>) -> Result<(), ProviderError> {
        let call = self.tag_role().role_name(role);
        let call = call.set_tags(Some(to_sdk::<Tag>(set)?));
        sent(call.send().await, "iam:TagRole")
    }

    async fn untag(&self, role: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        let call = self.untag_role().role_name(role).set_tag_keys(Some(keys));
        sent(call.send().await, "iam:UntagRole")
    }
}

/// A policy document input, serialised as IAM takes it.
fn document(ctx: &OpContext, value: Option<&Json>, what: &str) -> Result<String, ProviderError> {
    match value {
        Some(v @ Json::Object(_)) => Ok(v.to_string()),
        _ => Err(invalid(ctx, format!("{what} must be a JSON object"))),
    }
}

/// `inline_policies`: policy name -> serialised document.
fn inline_policies(
    ctx: &OpContext,
    inputs: &Inputs,
) -> Result<BTreeMap<String, String>, ProviderError> {
    inputs
        .inline_policies
        .iter()
        .map(|(name, doc)| {
            Ok((
                name.clone(),
                document(ctx, Some(doc), &format!("inline policy `{name}`"))?,
            ))
        })
        .collect()
}

fn managed_policies(inputs: &Inputs) -> BTreeSet<String> {
    inputs.managed_policy_arns.iter().cloned().collect()
}

/// What a call on the role found; `None` when the role is gone.
fn unless_gone<T>(result: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(found) => Ok(Some(found)),
        Err(e) if crate::support::has_code_in(&e, NOT_FOUND) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Role {
    fn iam(&self) -> Client {
        self.0.iam()
    }

    async fn put_policy(&self, role: &str, name: &str, doc: &str) -> Result<(), ProviderError> {
        let call = self.iam().put_role_policy().role_name(role);
        let call = call.policy_name(name).policy_document(doc);
        sent(call.send().await, "iam:PutRolePolicy")
    }

    /// Removing what is gone succeeds.
    async fn delete_policy(&self, role: &str, name: &str) -> Result<(), ProviderError> {
        let call = self.iam().delete_role_policy().role_name(role);
        let result = call.policy_name(name).send().await;
        tolerate(result, NOT_FOUND, "iam:DeleteRolePolicy")
    }

    async fn attach(&self, role: &str, arn: &str) -> Result<(), ProviderError> {
        let call = self.iam().attach_role_policy().role_name(role);
        sent(call.policy_arn(arn).send().await, "iam:AttachRolePolicy")
    }

    /// Detaching what is gone succeeds.
    async fn detach(&self, role: &str, arn: &str) -> Result<(), ProviderError> {
        let call = self.iam().detach_role_policy().role_name(role);
        let result = call.policy_arn(arn).send().await;
        tolerate(result, NOT_FOUND, "iam:DetachRolePolicy")
    }

    /// Names of every inline policy of the role (not only drctl's).
    async fn inline_names(&self, role: &str) -> Result<Vec<String>, ProviderError> {
        let call = self.iam().list_role_policies().role_name(role);
        all_items(call.into_paginator().items().send(), "iam:ListRolePolicies").await
    }

    /// ARNs of every managed policy attached to the role, sorted.
    async fn attached_arns(&self, role: &str) -> Result<Vec<String>, ProviderError> {
        let call = self.iam().list_attached_role_policies().role_name(role);
        let attached = all_items(
            call.into_paginator().items().send(),
            "iam:ListAttachedRolePolicies",
        )
        .await?;
        let mut arns: Vec<String> = attached.into_iter().filter_map(|p| p.policy_arn).collect();
        arns.sort();
        Ok(arns)
    }

    async fn tags(&self, role: &str) -> Result<BTreeMap<String, String>, ProviderError> {
        let call = self.iam().list_role_tags().role_name(role);
        let tags: Vec<Tag> =
            all_items(call.into_paginator().items().send(), "iam:ListRoleTags").await?;
        Ok(from_sdk(&tags))
    }

    async fn get(&self, name: &str) -> Result<Option<aws_sdk_iam::types::Role>, ProviderError> {
        let result = self.iam().get_role().role_name(name).send().await;
        Ok(found(result, NOT_FOUND, "iam:GetRole")?.and_then(|o| o.role))
    }
}

fn outputs(role: &aws_sdk_iam::types::Role) -> Attributes {
    attrs([
        ("arn", json!(role.arn())),
        ("name", json!(role.role_name())),
        ("role_id", json!(role.role_id())),
    ])
}

#[async_trait]
impl Kind for Role {
    type Inputs = Inputs;

    async fn create(&self, ctx: &OpContext, inputs: &Inputs) -> Made {
        let name = inputs.name.as_str();
        let trust = document(
            ctx,
            Some(&inputs.assume_role_policy),
            "`assume_role_policy`",
        )?;
        let inline = inline_policies(ctx, inputs)?;
        let managed = managed_policies(inputs);
        let description = inputs.description.as_str();
        let tags = to_sdk::<Tag>(with_identity(ctx, &inputs.tags))?;
        // CreateRole takes no idempotency token; a resend of one that
        // happened finds the name taken.
        let request = self
            .0
            .iam_once()
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust)
            // An empty description is the same as none; IAM returns none.
            .set_description((!description.is_empty()).then(|| description.to_owned()))
            .set_tags(Some(tags));
        let created = create_or_find(
            self,
            ctx,
            inputs,
            "iam:CreateRole",
            &["EntityAlreadyExists"],
            || request.clone().send(),
        )
        .await?;
        let role = match created {
            Created::Sent(out) => out
                .role
                .ok_or_else(|| ProviderError::new("iam:CreateRole", "no role in the response"))?,
            Created::Found(_) => self.get(name).await?.ok_or_else(|| {
                ProviderError::new("iam:GetRole", format!("role {name} vanished"))
            })?,
        };
        for (policy, doc) in &inline {
            self.put_policy(name, policy, doc).await?;
        }
        for arn in &managed {
            self.attach(name, arn).await?;
        }
        Ok(Applied {
            id: name.to_owned(),
            outputs: outputs(&role),
        })
    }

    async fn read(&self, _ctx: &OpContext, id: &str, _prior: &Inputs) -> Read<Inputs> {
        // Independent reads, sent together; the role's absence decides
        // before the others' errors (they fail for a role that is gone).
        let (role, names, managed, tags) = tokio::join!(
            self.get(id),
            self.inline_names(id),
            self.attached_arns(id),
            self.tags(id)
        );
        let Some(role) = role? else {
            return Ok(None);
        };
        let (names, managed, tags) = (names?, managed?, tags?);
        let trust = role
            .assume_role_policy_document()
            .map(|d| policy_json("iam:GetRole", d))
            .transpose()?
            .unwrap_or(Json::Null);
        let mut inline = BTreeMap::new();
        for policy in names {
            let result = self
                .iam()
                .get_role_policy()
                .role_name(id)
                .policy_name(&policy)
                .send()
                .await;
            // Deleted between the listing and now.
            let Some(out) = found(result, NOT_FOUND, "iam:GetRolePolicy")? else {
                continue;
            };
            let doc = policy_json("iam:GetRolePolicy", out.policy_document())?;
            inline.insert(policy, doc);
        }
        Ok(Some(Found {
            inputs: Inputs {
                name: role.role_name().to_owned(),
                description: role.description().unwrap_or_default().to_owned(),
                assume_role_policy: trust,
                inline_policies: inline,
                managed_policy_arns: managed,
                tags: user_tags(tags),
            },
            outputs: outputs(&role),
        }))
    }

    async fn update(&self, ctx: &OpContext, id: &str, prior: &Inputs, inputs: &Inputs) -> Updated {
        let iam = self.iam();
        if prior.assume_role_policy != inputs.assume_role_policy {
            iam.update_assume_role_policy()
                .role_name(id)
                .policy_document(document(
                    ctx,
                    Some(&inputs.assume_role_policy),
                    "`assume_role_policy`",
                )?)
                .send()
                .await
                .map_err(|e| api_error("iam:UpdateAssumeRolePolicy", e))?;
        }
        if prior.description != inputs.description {
            iam.update_role()
                .role_name(id)
                .description(&inputs.description)
                .send()
                .await
                .map_err(|e| api_error("iam:UpdateRole", e))?;
        }
        // The prior inputs may come from a read, so may hold anything.
        let old_inline = inline_policies(ctx, prior).unwrap_or_default();
        let new_inline = inline_policies(ctx, inputs)?;
        for (policy, doc) in &new_inline {
            if old_inline.get(policy) != Some(doc) {
                self.put_policy(id, policy, doc).await?;
            }
        }
        for policy in old_inline.keys().filter(|p| !new_inline.contains_key(*p)) {
            self.delete_policy(id, policy).await?;
        }
        let old_managed = managed_policies(prior);
        let new_managed = managed_policies(inputs);
        for arn in new_managed.difference(&old_managed) {
            self.attach(id, arn).await?;
        }
        for arn in old_managed.difference(&new_managed) {
            self.detach(id, arn).await?;
        }
        retag(&iam, id, &prior.tags, &inputs.tags).await?;
        let role = self
            .get(id)
            .await?
            .ok_or_else(|| ProviderError::new("iam:GetRole", "role disappeared during update"))?;
        Ok(outputs(&role))
    }

    async fn find(&self, _ctx: &OpContext, inputs: &Inputs) -> Lookup {
        // Role names are unique in the account, and the id is the name.
        let name = inputs.name.as_str();
        Ok(self.get(name).await?.map(|_| name.to_owned()))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Inputs) -> Done {
        if self.get(id).await?.is_none() {
            return Ok(());
        }
        let Some(tags) = unless_gone(self.tags(id).await)? else {
            return Ok(());
        };
        let named = Some(inputs.name.as_str()).filter(|n| *n == id);
        confirm_owned(ctx, "delete", &format!("IAM role {id}"), &tags, named)?;
        // DeleteRole refuses a role with policies, so remove every one
        // there is, including any added out of band.
        let Some(attached) = unless_gone(self.attached_arns(id).await)? else {
            return Ok(());
        };
        for arn in &attached {
            self.detach(id, arn).await?;
        }
        let Some(inline) = unless_gone(self.inline_names(id).await)? else {
            return Ok(());
        };
        for policy in &inline {
            self.delete_policy(id, policy).await?;
        }
        let result = self.iam().delete_role().role_name(id).send().await;
        tolerate(result, NOT_FOUND, "iam:DeleteRole")
    }

    /// IAM is global: the environment's roles whatever the region asked.
    /// ListRoles gives no tags, so each role's are read.
    async fn list(&self, scope: &ListScope) -> Listed {
        let mut roles = self.iam().list_roles().into_paginator().items().send();
        let mut ids = Vec::new();
        while let Some(role) = roles.next().await {
            let role = role.map_err(|e| api_error("iam:ListRoles", e))?;
            let name = role.role_name();
            // Listed, then deleted before its tags were read: gone.
            if let Some(tags) = unless_gone(self.tags(name).await)?
                && in_env(&scope.env, &tags, Some(name))
            {
                ids.push(name.to_owned());
            }
        }
        Ok(ids)
    }
}
