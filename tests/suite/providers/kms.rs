//! Provider tests: kms.

use drctl_tests::SECONDARY;
use serde_json::json;

use super::{Kit, out};

#[tokio::test]
async fn key_rotation_tags_scheduled_deletion_and_alias() {
    let kit = Kit::new("prov-kms").await;
    let ctx = kit.ctx("secondary/kms.key/payment", SECONDARY);
    let (key, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"description": "Payment DR prov-kms secondary", "enable_key_rotation": true,
                   "deletion_window_in_days": 30, "tags": {"Name": "k"}}),
            Some(
                json!({"description": "Payment DR prov-kms (secondary)", "enable_key_rotation": true,
                       "deletion_window_in_days": 7, "tags": {"Name": "k", "Team": "sre"}}),
            ),
        )
        .await;
    let key_id = out(&key, "key_id");
    assert_eq!(key.id, key_id);
    assert!(out(&key, "arn").ends_with(&format!(":key/{key_id}")));
    let kms = kit.aws.kms(SECONDARY);
    let rotation = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    assert!(rotation.key_rotation_enabled());
    // Drift: rotation turned off out of band; an update turns it on again.
    kms.disable_key_rotation()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &key.id, &inputs).await.unwrap();
    assert_eq!(seen["enable_key_rotation"], json!(false));
    kit.provider(&ctx)
        .update(&ctx, &key.id, &seen, &inputs)
        .await
        .unwrap();
    assert_eq!(kit.read(&ctx, &key.id, &inputs).await.unwrap(), inputs);
    kit.found(&ctx, &key, &inputs).await;
    assert!(kit.listed(&ctx, &key.id).await);

    // The alias; a second create (a resend) is success, another key's
    // alias under the name is refused.
    let actx = kit.ctx("secondary/kms.alias/payment", SECONDARY);
    let (alias, ainputs) = kit
        .lifecycle(
            &actx,
            json!({"alias_name": "alias/payment-prov-kms", "target_key_id": key_id}),
            None,
        )
        .await;
    assert_eq!(alias.id, "alias/payment-prov-kms");
    assert!(kit.listed(&actx, &alias.id).await);
    kit.provider(&actx).create(&actx, &ainputs).await.unwrap();
    kit.found(&actx, &alias, &ainputs).await;
    let other = kms.create_key().send().await.unwrap();
    let other_id = other.key_metadata().unwrap().key_id().to_owned();
    let taken = kit
        .provider(&actx)
        .create(
            &actx,
            &serde_json::from_value(
                json!({"alias_name": "alias/payment-prov-kms", "target_key_id": other_id}),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(taken.code.as_deref(), Some("AlreadyExistsException"));
    // A name KMS refuses is refused before any call.
    let bad = kit
        .provider(&actx)
        .create(
            &actx,
            &serde_json::from_value(json!({"alias_name": "alias/aws/x", "target_key_id": key_id}))
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(bad.message.contains("alias/aws/"), "{bad}");
    kit.delete_found(&actx, &alias, &ainputs).await;
    assert!(!kit.listed(&actx, &alias.id).await);

    // Delete schedules the deletion with the window; the key then reads as
    // gone and is not found again.
    kit.delete_found(&ctx, &key, &inputs).await;
    assert!(!kit.listed(&ctx, &key.id).await, "pending deletion");
    let described = kms.describe_key().key_id(&key_id).send().await.unwrap();
    let meta = described.key_metadata().unwrap();
    assert_eq!(
        meta.key_state().map(|s| s.as_str()),
        Some("PendingDeletion")
    );
    assert!(meta.deletion_date().is_some());
    // A window KMS refuses is refused before any call.
    let refused = kit
        .provider(&ctx)
        .create(
            &ctx,
            &serde_json::from_value(json!({"deletion_window_in_days": 3})).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(refused.message.contains("7 to 30"), "{refused}");
    kms.schedule_key_deletion()
        .key_id(&other_id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
}

/// A key kept for what it encrypts: its delete leaves it enabled, tagged as
/// retained from the address, and no longer the address's key; the next
/// create makes a key of its own.
#[tokio::test]
async fn a_retained_key_stays_enabled_and_is_no_longer_the_addresss() {
    let kit = Kit::new("prov-kms-retain").await;
    let ctx = kit.ctx("primary/kms.key/payment", SECONDARY);
    let (key, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"description": "kept", "enable_key_rotation": true,
                   "deletion_window_in_days": 30, "retain_on_delete": true, "tags": {}}),
            None,
        )
        .await;
    let arn = out(&key, "arn");
    assert_eq!(out(&key, "retained_key_arn"), arn, "the plan's `leaves`");
    kit.found(&ctx, &key, &inputs).await;
    assert!(kit.listed(&ctx, &key.id).await);
    // Deleted twice (a resend): both succeed, and it is gone for drctl.
    kit.delete_found(&ctx, &key, &inputs).await;
    assert!(!kit.listed(&ctx, &key.id).await, "retained: no address's");
    let kms = kit.aws.kms(SECONDARY);
    let meta = kms.describe_key().key_id(&key.id).send().await.unwrap();
    assert_eq!(
        meta.key_metadata()
            .and_then(|m| m.key_state())
            .map(|s| s.as_str()),
        Some("Enabled"),
        "not scheduled for deletion"
    );
    let tags: Vec<(String, String)> = kms
        .list_resource_tags()
        .key_id(&key.id)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
        .collect();
    assert!(
        tags.contains(&(
            "drctl:retained-from".to_owned(),
            "primary/kms.key/payment".to_owned()
        )),
        "{tags:?}"
    );
    assert!(!tags.iter().any(|(k, _)| k == "drctl:address"), "{tags:?}");
    // A new apply of the address gets a new key, not the retained one.
    let again = kit.provider(&ctx).create(&ctx, &inputs).await.unwrap();
    assert_ne!(again.id, key.id);
    kit.found(&ctx, &again, &inputs).await;

    // Without `retain_on_delete` it leaves nothing behind.
    let plain = json!({"description": "gone", "enable_key_rotation": true,
                       "deletion_window_in_days": 7, "tags": {}});
    let octx = kit.ctx("secondary/kms.key/payment", SECONDARY);
    let (other, oinputs) = kit.lifecycle(&octx, plain, None).await;
    assert_eq!(out(&other, "retained_key_arn"), "");
    kit.delete_found(&octx, &other, &oinputs).await;
    for id in [&again.id, &other.id] {
        let _ = kms
            .schedule_key_deletion()
            .key_id(id.as_str())
            .pending_window_in_days(7)
            .send()
            .await;
    }
    let _ = kms
        .schedule_key_deletion()
        .key_id(&key.id)
        .pending_window_in_days(7)
        .send()
        .await;
}
