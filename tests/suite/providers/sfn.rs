//! Provider tests: sfn.

use drctl_core::{Attributes, OpContext};
use drctl_tests::{PRIMARY, SECONDARY};
use serde_json::{Value as Json, json};

use super::{Kit, attrs, out};

fn definition(function_arn: &str, retries: u32) -> Json {
    json!({
        "Comment": "Fail the payment stack over to the secondary region",
        "StartAt": "Failover",
        "States": {
            "Failover": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": retries, "BackoffRate": 2.0}],
                "End": true
            }
        }
    })
}

/// What crash recovery would adopt for `inputs` in `ctx`.
async fn find(kit: &Kit, ctx: &OpContext, inputs: &Attributes) -> Option<String> {
    kit.provider(ctx).find(ctx, inputs).await.unwrap()
}

fn role(name: &str) -> Json {
    json!({
        "name": name,
        "description": "Step Functions failover role",
        "assume_role_policy": {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole"
            }]
        },
        "inline_policies": {
            "invoke-failover": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]
            }
        },
        "managed_policy_arns": [],
        "tags": {}
    })
}

#[tokio::test]
async fn state_machine_update_drift_and_recreate() {
    let kit = Kit::new("prov-sfn").await;
    let region = SECONDARY;
    let r1ctx = kit.ctx("global/iam.role/sfn-a", PRIMARY);
    let (r1, r1inputs) = kit.lifecycle(&r1ctx, role("prov-sfn-a"), None).await;
    assert!(kit.listed(&r1ctx, &r1.id).await);
    let r2ctx = kit.ctx("global/iam.role/sfn-b", PRIMARY);
    let (r2, r2inputs) = kit.lifecycle(&r2ctx, role("prov-sfn-b"), None).await;
    let function = format!("arn:aws:lambda:{region}:123456789012:function:prov-sfn-failover");

    let ctx = kit.ctx("secondary/sfn.state_machine/failover", region);
    let name = "prov-sfn-failover";
    let (sm, inputs) = kit
        .lifecycle(
            &ctx,
            json!({
                "name": name,
                "definition": definition(&function, 2),
                "role_arn": out(&r1, "arn"),
                "type": "STANDARD",
                "tags": {"Name": "f"}
            }),
            Some(json!({
                "name": name,
                "definition": definition(&function, 3),
                "role_arn": out(&r2, "arn"),
                "type": "STANDARD",
                "tags": {"Name": "f2", "Team": "sre"}
            })),
        )
        .await;
    assert_eq!(sm.id, out(&sm, "arn"));
    assert!(kit.listed(&ctx, &sm.id).await);
    assert_eq!(out(&sm, "name"), name);
    assert!(sm.id.ends_with(&format!(":stateMachine:{name}")), "{sm:?}");
    // Crash recovery finds the machine by its name.
    assert_eq!(find(&kit, &ctx, &inputs).await, Some(sm.id.clone()));
    let mut other = inputs.clone();
    other.insert("name".into(), json!("prov-sfn-never"));
    assert_eq!(find(&kit, &ctx, &other).await, None);

    let sfn = kit.aws.sfn(region);
    let tags = sfn
        .list_tags_for_resource()
        .resource_arn(&sm.id)
        .send()
        .await
        .unwrap();
    let tags: Vec<_> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(tags.contains(&(Some("drctl:env"), Some("prov-sfn"))));
    assert!(tags.contains(&(
        Some("drctl:address"),
        Some("secondary/sfn.state_machine/failover")
    )));

    // Drift: the definition and the role changed out of band, the
    // definition with a credential in a state's parameters. A refresh
    // records the definition only as drctl set it: this one as changed,
    // without its text (it may hold a secret).
    let mut tampered = definition(&function, 0);
    tampered["States"]["Failover"]["Parameters"]["Payload"] =
        json!({"ApiKey": "sk-live-pasted-outside-drctl"});
    sfn.update_state_machine()
        .state_machine_arn(&sm.id)
        .definition(tampered.to_string())
        .role_arn(out(&r1, "arn"))
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &sm.id, &inputs).await.unwrap();
    assert_eq!(
        seen["definition"],
        json!("(changed outside drctl: value not recorded)")
    );
    let recorded = serde_json::to_string(&seen).unwrap();
    assert!(!recorded.contains("sk-live"), "{recorded}");
    assert_eq!(seen["role_arn"], json!(out(&r1, "arn")));
    kit.provider(&ctx)
        .update(&ctx, &sm.id, &seen, &inputs)
        .await
        .unwrap();
    assert_eq!(kit.read(&ctx, &sm.id, &inputs).await.unwrap(), inputs);

    kit.delete(&ctx, &sm, &inputs).await;
    assert_eq!(find(&kit, &ctx, &inputs).await, None);
    assert!(!kit.listed(&ctx, &sm.id).await);

    // A replace creates the same name again: the new machine has only its
    // own tags, none of the deleted one's.
    let again = attrs(json!({
        "name": name,
        "definition": definition(&function, 1),
        "role_arn": out(&r1, "arn"),
        "type": "STANDARD",
        "tags": {"Owner": "payments"}
    }));
    let p = kit.provider(&ctx);
    let sm2 = p.create(&ctx, &again).await.unwrap();
    assert_eq!(sm2.id, sm.id);
    assert_eq!(find(&kit, &ctx, &again).await, Some(sm2.id.clone()));
    assert_eq!(kit.read(&ctx, &sm2.id, &again).await.unwrap(), again);
    kit.delete(&ctx, &sm2, &again).await;
    assert_eq!(find(&kit, &ctx, &again).await, None);

    kit.delete(&r2ctx, &r2, &r2inputs).await;
    kit.delete(&r1ctx, &r1, &r1inputs).await;
    assert!(!kit.listed(&r1ctx, &r1.id).await);
}

/// A role made through IAM a moment ago, as a test makes it: its ARN.
async fn new_role(kit: &Kit, name: &str) -> String {
    let trust = role(name)["assume_role_policy"].to_string();
    let out = kit
        .aws
        .iam()
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    out.role().unwrap().arn().to_owned()
}

/// Step Functions' asynchronous rules (tests/emulator/ext_sfn.py): a role
/// created a moment ago is refused (AccessDeniedException) until IAM has
/// propagated it, on create and on update; DeleteStateMachine leaves the
/// machine DELETING for a while, during which a create of its name is
/// refused (StateMachineDeleting). Create and update wait for the role,
/// create waits for a deletion it did not make, delete returns once the
/// machine is gone.
#[tokio::test]
async fn state_machine_waits_for_a_new_role_and_for_a_deletion_to_finish() {
    let kit = Kit::new("prov-sfn-async").await;
    let region = PRIMARY;
    let sfn = kit.aws.sfn(region);
    let function = format!("arn:aws:lambda:{region}:123456789012:function:prov-sfn-async");
    let ctx = kit.ctx("primary/sfn.state_machine/failover", region);
    let name = "prov-sfn-async-failover";
    let machine = |role_arn: &str| {
        attrs(json!({
            "name": name,
            "definition": definition(&function, 2),
            "role_arn": role_arn,
            "type": "STANDARD",
            "tags": {}
        }))
    };
    let p = kit.provider(&ctx);

    let first = new_role(&kit, "prov-sfn-async-a").await;
    let inputs = machine(&first);
    let sm = p.create(&ctx, &inputs).await.unwrap();
    assert_eq!(kit.read(&ctx, &sm.id, &inputs).await.unwrap(), inputs);

    let second = new_role(&kit, "prov-sfn-async-b").await;
    let moved = machine(&second);
    p.update(&ctx, &sm.id, &inputs, &moved).await.unwrap();
    assert_eq!(kit.read(&ctx, &sm.id, &moved).await.unwrap(), moved);

    // Deleted out of band (another run's destroy, say): DELETING is gone
    // for drctl, and a create of the name waits until it is.
    sfn.delete_state_machine()
        .state_machine_arn(&sm.id)
        .send()
        .await
        .unwrap();
    // (An emulator that deletes at once answers StateMachineDoesNotExist.)
    let status = sfn
        .describe_state_machine()
        .state_machine_arn(&sm.id)
        .send()
        .await;
    if let Ok(status) = &status {
        assert_eq!(status.status().map(|s| s.as_str()), Some("DELETING"));
    }
    assert!(kit.read(&ctx, &sm.id, &moved).await.is_none());
    assert_eq!(find(&kit, &ctx, &moved).await, None);
    let again = p.create(&ctx, &moved).await.unwrap();
    assert_eq!(again.id, sm.id);
    assert_eq!(kit.read(&ctx, &again.id, &moved).await.unwrap(), moved);

    // Delete returns once the machine is gone, not merely DELETING.
    p.delete(&ctx, &again.id, &moved, &again.outputs)
        .await
        .unwrap();
    let gone = sfn
        .describe_state_machine()
        .state_machine_arn(&again.id)
        .send()
        .await;
    assert!(
        gone.as_ref().is_err_and(|e| e
            .as_service_error()
            .is_some_and(|e| e.is_state_machine_does_not_exist())),
        "{gone:?}"
    );

    for role in ["prov-sfn-async-a", "prov-sfn-async-b"] {
        kit.aws
            .iam()
            .delete_role()
            .role_name(role)
            .send()
            .await
            .unwrap();
    }
}
