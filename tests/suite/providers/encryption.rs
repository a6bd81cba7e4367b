//! Provider tests: customer-managed keys on what they encrypt (a key's
//! own policy, an SNS topic, S3 buckets and their replication).

use drctl_tests::{PRIMARY, SECONDARY};
use serde_json::{Value as Json, json};

use super::{Kit, attrs, out};

/// A key made out of drctl's sight, in `region`: its ARN.
async fn key_in(kit: &Kit, region: &str) -> String {
    let made = kit.aws.kms(region).create_key().send().await.unwrap();
    made.key_metadata().unwrap().arn().unwrap().to_owned()
}

fn key_policy(sid: &str) -> Json {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": sid, "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"}]})
}

#[tokio::test]
async fn key_policy_is_set_read_back_and_changed_in_place() {
    let kit = Kit::new("prov-key-policy").await;
    let ctx = kit.ctx("primary/kms.key/payment", PRIMARY);
    let spec = |sid: &str| {
        json!({"description": "k", "enable_key_rotation": true, "deletion_window_in_days": 7,
               "policy": key_policy(sid), "tags": {}})
    };
    let (key, inputs) = kit
        .lifecycle(&ctx, spec("Alarms"), Some(spec("AlarmsToTopics")))
        .await;
    let text = kit
        .aws
        .kms(PRIMARY)
        .get_key_policy()
        .key_id(&key.id)
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Json>(&text).unwrap(),
        key_policy("AlarmsToTopics")
    );
    // A policy that is no JSON object is refused before any call.
    let mut bad = inputs.clone();
    bad.insert("policy".into(), json!("{\"Version\": \"2012-10-17\"}"));
    let err = kit
        .provider(&ctx)
        .update(&ctx, &key.id, &inputs, &bad)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");
    assert_eq!(kit.read(&ctx, &key.id, &inputs).await.unwrap(), inputs);
    kit.delete(&ctx, &key, &inputs).await;
}

#[tokio::test]
async fn topic_encrypted_with_a_customer_key_and_its_own_policy() {
    let kit = Kit::new("prov-topic-key").await;
    let key = key_in(&kit, SECONDARY).await;
    let other_key = key_in(&kit, SECONDARY).await;
    let ctx = kit.ctx("secondary/sns.topic/alarms", SECONDARY);
    let name = "payment-prov-topic-key-alarms";
    let arn = format!("arn:aws:sns:{SECONDARY}:123456789012:{name}");
    let policy = |sid: &str| {
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": sid, "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
             "Action": "sns:Publish", "Resource": arn,
             "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}]})
    };
    let spec = |key: &str, sid: &str| {
        json!({"name": name, "display_name": "Alarms", "kms_master_key_id": key,
               "policy": policy(sid), "tags": {}})
    };
    let (topic, inputs) = kit
        .lifecycle(
            &ctx,
            spec(&key, "Events"),
            Some(spec(&other_key, "EventBridge")),
        )
        .await;
    let sns = kit.aws.sns(SECONDARY);
    let attributes = sns
        .get_topic_attributes()
        .topic_arn(out(&topic, "arn"))
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    assert_eq!(attributes["KmsMasterKeyId"], other_key);
    assert_eq!(
        serde_json::from_str::<Json>(&attributes["Policy"]).unwrap(),
        policy("EventBridge")
    );
    // Drift: encryption turned off out of band; seen, and repaired.
    sns.set_topic_attributes()
        .topic_arn(out(&topic, "arn"))
        .attribute_name("KmsMasterKeyId")
        .attribute_value("")
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &topic.id, &inputs).await.unwrap();
    assert_eq!(seen["kms_master_key_id"], json!(""));
    kit.provider(&ctx)
        .update(&ctx, &topic.id, &seen, &inputs)
        .await
        .unwrap();
    assert_eq!(kit.read(&ctx, &topic.id, &inputs).await.unwrap(), inputs);
    // A topic without a key or policy shows neither.
    let plain_ctx = kit.ctx("secondary/sns.topic/plain", SECONDARY);
    let (plain, plain_inputs) = kit
        .lifecycle(
            &plain_ctx,
            json!({"name": "payment-prov-topic-key-plain", "display_name": "", "tags": {}}),
            None,
        )
        .await;
    kit.delete(&plain_ctx, &plain, &plain_inputs).await;
    kit.delete(&ctx, &topic, &inputs).await;
}

#[tokio::test]
async fn buckets_with_customer_keys_replicate_encrypted_objects() {
    let kit = Kit::new("prov-bucket-key").await;
    let mut buckets = Vec::new();
    let mut keys = Vec::new();
    for (role, region) in [("primary", PRIMARY), ("secondary", SECONDARY)] {
        let key = key_in(&kit, region).await;
        let ctx = kit.ctx(&format!("{role}/s3.bucket/data"), region);
        let name = format!("payment-data-prov-bucket-key-{region}");
        let spec = |bucket_key: bool| {
            json!({"bucket": name, "versioning": true, "sse_algorithm": "aws:kms", "kms_key_id": key,
                   "bucket_key_enabled": bucket_key, "block_public_access": true,
                   "lifecycle_rules": [], "tags": {}})
        };
        let (b, i) = kit.lifecycle(&ctx, spec(false), Some(spec(true))).await;
        assert!(kit.listed(&ctx, &b.id).await);
        keys.push(key);
        buckets.push((ctx, b, i));
    }
    // Drift: back to S3-managed keys out of band; seen, and repaired.
    let (ctx, bucket, inputs) = &buckets[0];
    let s3 = kit.aws.s3(PRIMARY);
    let sse_s3 = aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
        .rules(
            aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::Aes256)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap();
    s3.put_bucket_encryption()
        .bucket(&bucket.id)
        .server_side_encryption_configuration(sse_s3)
        .send()
        .await
        .unwrap();
    let seen = kit.read(ctx, &bucket.id, inputs).await.unwrap();
    assert_eq!(
        (seen["sse_algorithm"].clone(), seen["kms_key_id"].clone()),
        (json!("AES256"), Json::Null)
    );
    kit.provider(ctx)
        .update(ctx, &bucket.id, &seen, inputs)
        .await
        .unwrap();
    assert_eq!(kit.read(ctx, &bucket.id, inputs).await.unwrap(), *inputs);

    // Replication of SSE-KMS objects, re-encrypted with the secondary's key.
    let rctx = kit.ctx("global/s3.bucket_replication/data", PRIMARY);
    let spec = |key: Option<&str>| {
        let mut s = json!({"bucket": buckets[0].1.id,
            "role_arn": "arn:aws:iam::123456789012:role/payment-prov-bucket-key-s3-replication",
            "rule_id": "to-secondary", "destination_bucket_arn": buckets[1].1.outputs["arn"],
            "replication_time_minutes": 15, "delete_marker_replication": true});
        if let Some(key) = key {
            s["replica_kms_key_arn"] = json!(key);
        }
        s
    };
    let (repl, rinputs) = kit
        .lifecycle(&rctx, spec(None), Some(spec(Some(&keys[1]))))
        .await;
    let config = s3
        .get_bucket_replication()
        .bucket(&buckets[0].1.id)
        .send()
        .await
        .unwrap();
    let rule = &config.replication_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.destination()
            .and_then(|d| d.encryption_configuration())
            .and_then(|e| e.replica_kms_key_id()),
        Some(keys[1].as_str())
    );
    assert!(
        rule.source_selection_criteria()
            .and_then(|c| c.sse_kms_encrypted_objects())
            .is_some()
    );
    // What S3 refuses, the emulator refuses (tests/emulator/ext_s3.py):
    // SSE-KMS objects selected without a key for their replicas.
    let mut keyless = rule.clone();
    keyless.destination = Some(
        aws_sdk_s3::types::Destination::builder()
            .bucket(buckets[1].1.outputs["arn"].as_str().unwrap())
            .build()
            .unwrap(),
    );
    let refused = s3
        .put_bucket_replication()
        .bucket(&buckets[0].1.id)
        .replication_configuration(
            aws_sdk_s3::types::ReplicationConfiguration::builder()
                .role("arn:aws:iam::123456789012:role/payment-prov-bucket-key-s3-replication")
                .rules(keyless)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&refused),
        Some("InvalidRequest")
    );
    // Back to no replica key: the SSE-KMS selection goes with it.
    let plain = attrs(spec(None));
    kit.provider(&rctx)
        .update(&rctx, &repl.id, &rinputs, &plain)
        .await
        .unwrap();
    assert_eq!(kit.read(&rctx, &repl.id, &plain).await.unwrap(), plain);
    assert!(kit.listed(&rctx, &repl.id).await);
    kit.delete(&rctx, &repl, &plain).await;
    assert!(!kit.listed(&rctx, &repl.id).await);
    for (c, b, i) in &buckets {
        kit.delete(c, b, i).await;
        assert!(!kit.listed(c, &b.id).await);
    }
}
