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

    // Delete schedules the deletion with the window; the key then reads as
    // gone and is not found again.
    kit.delete_found(&ctx, &key, &inputs).await;
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
