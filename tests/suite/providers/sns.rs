//! Provider tests: sns.

use drctl_tests::{PRIMARY, SECONDARY};
use serde_json::json;

use super::{Kit, out};

#[tokio::test]
async fn topic_display_name_tags_and_drift() {
    let kit = Kit::new("prov-topic").await;
    let ctx = kit.ctx("secondary/sns.topic/alerts", SECONDARY);
    let name = "payment-prov-topic-alerts";
    let (topic, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"name": name, "display_name": "Payment alerts", "tags": {"Name": "a"}}),
            Some(
                json!({"name": name, "display_name": "Payment alerts (DR)", "tags": {"Name": "b", "Team": "sre"}}),
            ),
        )
        .await;
    assert_eq!(topic.outputs["name"], json!(name));
    assert!(kit.listed(&ctx, &topic.id).await);
    let arn = out(&topic, "arn");
    assert!(arn.ends_with(&format!(":{name}")), "{arn}");
    // The identity tags were set in the create call.
    let sns = kit.aws.sns(SECONDARY);
    let tags = sns
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let tags: Vec<_> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(tags.contains(&("drctl:env", "prov-topic")));
    assert!(tags.contains(&("drctl:address", "secondary/sns.topic/alerts")));
    // Drift: the display name changed and a tag removed out of band.
    sns.set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("DisplayName")
        .attribute_value("tampered")
        .send()
        .await
        .unwrap();
    sns.untag_resource()
        .resource_arn(&arn)
        .tag_keys("Team")
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &topic.id, &inputs).await.unwrap();
    assert_eq!(
        (seen["display_name"].clone(), seen["tags"].clone()),
        (json!("tampered"), json!({"Name": "b"}))
    );
    // An update from the observed inputs repairs both.
    kit.provider(&ctx)
        .update(&ctx, &topic.id, &seen, &inputs)
        .await
        .unwrap();
    assert_eq!(kit.read(&ctx, &topic.id, &inputs).await.unwrap(), inputs);
    // Crash recovery finds the topic by name, as the ARN create returned.
    let p = kit.provider(&ctx);
    assert_eq!(p.find(&ctx, &inputs).await.unwrap(), Some(topic.id.clone()));
    let mut other = inputs.clone();
    other.insert("name".into(), json!("payment-prov-topic-never-created"));
    assert_eq!(p.find(&ctx, &other).await.unwrap(), None);
    kit.delete(&ctx, &topic, &inputs).await;
    assert_eq!(p.find(&ctx, &inputs).await.unwrap(), None);
    assert!(!kit.listed(&ctx, &topic.id).await);
}

/// Whether the subscription is there, and pending confirmation.
async fn pending(kit: &Kit, arn: &str) -> Option<bool> {
    match kit
        .aws
        .sns(PRIMARY)
        .get_subscription_attributes()
        .subscription_arn(arn)
        .send()
        .await
    {
        Ok(out) => Some(out.attributes().unwrap()["PendingConfirmation"] == "true"),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            None
        }
        Err(e) => panic!("{e:?}"),
    }
}

/// What following the link in the confirmation e-mail does (the
/// emulator's token is the subscription's ARN: it mails nothing).
async fn confirm(kit: &Kit, topic_arn: &str, arn: &str) {
    let out = kit
        .aws
        .sns(PRIMARY)
        .confirm_subscription()
        .topic_arn(topic_arn)
        .token(arn)
        .send()
        .await
        .unwrap();
    assert_eq!(out.subscription_arn(), Some(arn));
}

#[tokio::test]
async fn email_subscription_pending_confirmation_lifecycle_and_drift() {
    let kit = Kit::new("prov-subscription").await;
    let tctx = kit.ctx("primary/sns.topic/alerts", PRIMARY);
    let (topic, tinputs) = kit
        .lifecycle(
            &tctx,
            json!({"name": "payment-prov-subscription-alerts", "display_name": "", "tags": {}}),
            None,
        )
        .await;
    let topic_arn = out(&topic, "arn");

    // An e-mail subscription is pending until its recipient confirms it;
    // it is recorded under its real ARN all the same.
    let ctx = kit.ctx("primary/sns.subscription/oncall", PRIMARY);
    let inputs =
        json!({"topic_arn": topic_arn, "protocol": "email", "endpoint": "oncall@example.com"});
    let (sub, sinputs) = kit.lifecycle(&ctx, inputs, None).await;
    let arn = out(&sub, "arn");
    assert_eq!(sub.id, arn);
    assert!(arn.starts_with(&format!("{topic_arn}:")), "{arn}");
    assert_eq!(sub.outputs["pending_confirmation"], json!(true));
    let p = kit.provider(&ctx);
    // Still pending: a read finds it (no re-create), an update changes
    // nothing.
    assert_eq!(kit.read(&ctx, &sub.id, &sinputs).await.unwrap(), sinputs);
    let outputs = p.update(&ctx, &sub.id, &sinputs, &sinputs).await.unwrap();
    assert_eq!(outputs, sub.outputs);
    // Crash recovery finds it by topic, protocol and endpoint; the listing
    // shows no ARN for a pending subscription, so by those.
    let pending_id = format!("{topic_arn}|email|oncall@example.com");
    assert_eq!(
        p.find(&ctx, &sinputs).await.unwrap(),
        Some(pending_id.clone())
    );
    let seen = p.read(&ctx, &pending_id, &sinputs).await.unwrap().unwrap();
    assert_eq!(seen.inputs, sinputs);
    assert_eq!(seen.outputs["pending_confirmation"], json!(true));
    // Listed under that id too while pending: no call gives its ARN then.
    assert!(kit.listed(&ctx, &pending_id).await);
    let mut other = sinputs.clone();
    other.insert("endpoint".into(), json!("nobody@example.com"));
    assert_eq!(p.find(&ctx, &other).await.unwrap(), None);

    // Confirmed: the outputs follow, and the listing has its ARN.
    confirm(&kit, &topic_arn, &arn).await;
    let outputs = p.update(&ctx, &sub.id, &sinputs, &sinputs).await.unwrap();
    assert_eq!(outputs["pending_confirmation"], json!(false));
    assert_eq!(outputs["arn"], json!(arn));
    let seen = p.read(&ctx, &pending_id, &sinputs).await.unwrap().unwrap();
    assert_eq!(seen.outputs["arn"], json!(arn));
    assert_eq!(p.find(&ctx, &sinputs).await.unwrap(), Some(sub.id.clone()));
    assert!(kit.listed(&ctx, &sub.id).await);
    kit.delete(&ctx, &sub, &sinputs).await;
    assert_eq!(pending(&kit, &arn).await, None);
    assert!(!kit.listed(&ctx, &sub.id).await);
    assert!(!kit.listed(&ctx, &pending_id).await);
    assert!(kit.read(&ctx, &pending_id, &sinputs).await.is_none());
    assert_eq!(p.find(&ctx, &sinputs).await.unwrap(), None);

    // A pending subscription cannot be unsubscribed: delete succeeds and
    // leaves it for AWS to delete after three days unconfirmed.
    let ctx2 = kit.ctx("primary/sns.subscription/team", PRIMARY);
    let (sub2, s2inputs) = kit
        .lifecycle(
            &ctx2,
            json!({"topic_arn": topic_arn, "protocol": "email", "endpoint": "team@example.com"}),
            None,
        )
        .await;
    p.delete(&ctx2, &sub2.id, &s2inputs, &sub2.outputs)
        .await
        .unwrap();
    assert_eq!(pending(&kit, &sub2.id).await, Some(true));
    p.delete(&ctx2, &sub2.id, &s2inputs, &sub2.outputs)
        .await
        .unwrap();
    // Drift: confirmed, then removed out of band, it is seen as gone.
    confirm(&kit, &topic_arn, &sub2.id).await;
    kit.aws
        .sns(PRIMARY)
        .unsubscribe()
        .subscription_arn(&sub2.id)
        .send()
        .await
        .unwrap();
    assert!(kit.read(&ctx2, &sub2.id, &s2inputs).await.is_none());
    kit.delete(&ctx2, &sub2, &s2inputs).await;

    // A subscription whose topic is gone is gone too.
    let (sub3, s3inputs) = kit
        .lifecycle(
            &ctx2,
            json!({"topic_arn": topic_arn, "protocol": "email", "endpoint": "ops@example.com"}),
            None,
        )
        .await;
    kit.delete(&tctx, &topic, &tinputs).await;
    assert!(kit.read(&ctx2, &sub3.id, &s3inputs).await.is_none());
    assert_eq!(p.find(&ctx2, &s3inputs).await.unwrap(), None);
    kit.delete(&ctx2, &sub3, &s3inputs).await;
}
