//! Provider tests: events (EventBridge rules).

use drctl_tests::proxy::{FaultProxy, Faults};
use drctl_tests::{PRIMARY, emulator_for};
use serde_json::{Value as Json, json};

use super::{Kit, attrs, out};

/// A Lambda function's ARN as a target: EventBridge checks a target's ARN
/// form when it is put, and the function only when it invokes it.
fn function(name: &str) -> String {
    format!("arn:aws:lambda:{PRIMARY}:123456789012:function:{name}")
}

#[tokio::test]
async fn rule_schedule_targets_tags_update_drift_find_and_delete_with_targets() {
    let kit = Kit::new("prov-events-rule").await;
    let ctx = kit.ctx("primary/events.rule/monitor", PRIMARY);
    let name = "payment-prov-events-rule-monitor";
    // A rule just created is missed once by DescribeRule and once by
    // PutTargets (tests/emulator/ext_events.py): create waits for the
    // rule and retries PutTargets, so the read that follows finds it.
    let (rule, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"name": name, "description": "every minute", "schedule_expression": "rate(1 minute)",
                   "state": "ENABLED", "targets": [{"id": "monitor", "arn": function("a")}],
                   "tags": {"Name": name}}),
            // A new schedule, state and description (PutRule), one target
            // moved to another function and one added (PutTargets), tags
            // changed (TagResource: PutRule ignores the tags of an existing
            // rule).
            Some(json!({"name": name, "description": "every five minutes",
                   "schedule_expression": "rate(5 minutes)", "state": "DISABLED",
                   "targets": [{"id": "second", "arn": function("b")}, {"id": "monitor", "arn": function("c")}],
                   "tags": {"Name": "renamed", "Team": "sre"}})),
        )
        .await;
    assert_eq!(rule.id, name);
    assert!(kit.listed(&ctx, &rule.id).await);
    let arn = out(&rule, "arn");
    let account = kit.aws.account_id().await.unwrap();
    assert_eq!(
        arn,
        format!("arn:aws:events:{PRIMARY}:{account}:rule/{name}")
    );
    let events = kit.aws.eventbridge(PRIMARY);
    let tags = events
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let tags: Vec<_> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(
        tags.contains(&("drctl:env", "prov-events-rule")),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("drctl:address", "primary/events.rule/monitor")),
        "{tags:?}"
    );

    // Drift: a target removed, the schedule replaced (a PutRule without a
    // description clears it), a tag removed, all out of band.
    events
        .remove_targets()
        .rule(name)
        .ids("second")
        .send()
        .await
        .unwrap();
    events
        .put_rule()
        .name(name)
        .schedule_expression("rate(1 hour)")
        .send()
        .await
        .unwrap();
    events
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("Team")
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &rule.id, &inputs).await.unwrap();
    assert_eq!(
        seen,
        attrs(
            json!({"name": name, "description": "", "schedule_expression": "rate(1 hour)",
                     "state": "ENABLED", "targets": [{"id": "monitor", "arn": function("c")}],
                     "tags": {"Name": "renamed"}})
        )
    );
    let p = kit.provider(&ctx);
    p.update(&ctx, &rule.id, &seen, &inputs).await.unwrap();
    assert_eq!(kit.read(&ctx, &rule.id, &inputs).await.unwrap(), inputs);

    // An event pattern instead of the schedule: what a rule on AWS
    // services' events takes.
    let mut pattern = inputs.clone();
    pattern.remove("schedule_expression");
    pattern.insert(
        "event_pattern".into(),
        json!({"source": ["aws.backup"], "detail-type": ["Backup Job State Change"]}),
    );
    p.update(&ctx, &rule.id, &inputs, &pattern).await.unwrap();
    assert_eq!(kit.read(&ctx, &rule.id, &pattern).await.unwrap(), pattern);

    // Crash recovery finds the rule by its name and identity tags; a rule
    // of that name is not another address's, whose create refuses it.
    kit.found(&ctx, &rule, &pattern).await;
    let other = kit.ctx("primary/events.rule/other", PRIMARY);
    assert_eq!(
        kit.provider(&other).find(&other, &pattern).await.unwrap(),
        None
    );
    let err = kit
        .provider(&other)
        .create(&other, &pattern)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("RuleExists"), "{err}");
    assert!(err.message.contains("primary/events.rule/monitor"), "{err}");
    assert_eq!(kit.read(&ctx, &rule.id, &pattern).await.unwrap(), pattern);
    // A create sent again (an answer lost after AWS acted) updates the
    // same rule: PutRule is an upsert by name.
    let again = p.create(&ctx, &pattern).await.unwrap();
    assert_eq!(again, rule);

    // The rule still has two targets: delete removes them, then the rule.
    let listed = events
        .list_targets_by_rule()
        .rule(name)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.targets().len(), 2);
    kit.delete_found(&ctx, &rule, &pattern).await;
    assert!(!kit.listed(&ctx, &rule.id).await);
}

/// Invalid inputs are refused before any call, naming the input and the
/// fix; the emulator refuses what AWS refuses (`ext_events.py`); targets
/// PutTargets answers as failed (HTTP 200) are an error naming them.
#[tokio::test]
async fn invalid_inputs_make_no_call_and_failed_targets_are_errors() {
    let env = "prov-events-refused";
    let proxy = FaultProxy::start(&emulator_for(env).endpoint, Faults::none()).await;
    let kit = Kit::with_endpoint(env, &proxy.endpoint).await;
    let ctx = kit.ctx("primary/events.rule/refused", PRIMARY);
    let p = kit.provider(&ctx);
    let name = "payment-prov-events-refused";
    let rule = |schedule: &str, targets: Json| {
        attrs(
            json!({"name": name, "description": "", "schedule_expression": schedule,
                     "state": "ENABLED", "targets": targets, "tags": {}}),
        )
    };
    let before = proxy.requests();
    let err = p
        .create(&ctx, &rule("rate(1 minutes)", json!([])))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");
    assert!(
        err.message.contains("`schedule_expression`") && err.message.contains("rate(1 minute)"),
        "{err}"
    );
    let six: Vec<Json> = (0..6)
        .map(|i| json!({"id": format!("t{i}"), "arn": function("a")}))
        .collect();
    let err = p
        .create(&ctx, &rule("rate(1 minute)", json!(six)))
        .await
        .unwrap_err();
    assert!(err.message.contains("at most 5"), "{err}");
    assert_eq!(proxy.requests(), before, "no call on invalid input");

    // What AWS refuses, the emulator refuses too.
    let events = kit.aws.eventbridge(PRIMARY);
    let refused = events
        .put_rule()
        .name(name)
        .schedule_expression("rate(5 minute)")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_eventbridge::error::ProvideErrorMetadata::code(&refused),
        Some("ValidationException")
    );
    let (created, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"name": name, "description": "", "schedule_expression": "rate(1 minute)",
                   "state": "ENABLED", "targets": six[..5], "tags": {}}),
            None,
        )
        .await;
    let refused = events
        .put_targets()
        .rule(name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("t5")
                .arn(function("a"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_eventbridge::error::ProvideErrorMetadata::code(&refused),
        Some("LimitExceededException")
    );

    // PutTargets answers 200 with the targets it could not put.
    proxy.set(Faults {
        answer: Some((
            "AWSEvents.PutTargets".into(),
            json!({"FailedEntryCount": 1, "FailedEntries": [{"TargetId": "t9",
                   "ErrorCode": "ConcurrentModificationException",
                   "ErrorMessage": "Rule was modified concurrently"}]})
            .to_string(),
        )),
        ..Faults::none()
    });
    let mut changed = inputs.clone();
    changed.insert(
        "targets".into(),
        json!([{"id": "t9", "arn": function("z")}]),
    );
    let err = p
        .update(&ctx, &created.id, &inputs, &changed)
        .await
        .unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("ConcurrentModificationException"),
        "{err}"
    );
    assert!(
        err.message.contains("t9 (Rule was modified concurrently)"),
        "{err}"
    );
    proxy.set(Faults::none());
    p.update(&ctx, &created.id, &inputs, &changed)
        .await
        .unwrap();
    assert_eq!(
        kit.read(&ctx, &created.id, &changed).await.unwrap(),
        changed
    );
    kit.delete(&ctx, &created, &changed).await;
}
