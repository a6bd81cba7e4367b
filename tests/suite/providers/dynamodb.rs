//! Provider tests: dynamodb.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{PointInTimeRecoverySpecification, PointInTimeRecoveryStatus};
use drctl_tests::{PRIMARY, SECONDARY};
use serde_json::{Value as Json, json};

use super::{Kit, attrs, out};

const TABLE: &str = "prov-ddb-sessions";

fn table(replicas: Json, tags: Json) -> Json {
    json!({"table_name": TABLE, "hash_key": "sessionId", "hash_key_type": "S", "billing_mode": "PAY_PER_REQUEST",
           "point_in_time_recovery": true, "stream_view_type": "NEW_AND_OLD_IMAGES",
           "replica_regions": replicas, "tags": tags})
}

/// The table in `region`: whether point-in-time recovery is on, and its
/// tags (drctl's included).
async fn member_in(kit: &Kit, region: &str) -> (bool, BTreeMap<String, String>) {
    let ddb = kit.aws.dynamodb(region);
    let backups = ddb
        .describe_continuous_backups()
        .table_name(TABLE)
        .send()
        .await
        .unwrap();
    let pitr = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        == Some(&PointInTimeRecoveryStatus::Enabled);
    let arn = ddb
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
        .unwrap()
        .table()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_owned();
    assert!(arn.contains(&format!(":{region}:")), "{arn}");
    let tags = ddb
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    (pitr, tags)
}

/// Point-in-time recovery on, and exactly these user tags plus drctl's.
async fn assert_configured(kit: &Kit, region: &str, user: &[(&str, &str)]) {
    let mut want: BTreeMap<String, String> = user
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    want.insert("drctl:env".into(), kit.env.clone());
    want.insert(
        "drctl:address".into(),
        "primary/dynamodb.table/sessions".into(),
    );
    assert_eq!(
        member_in(kit, region).await,
        (true, want),
        "table in {region}"
    );
}

fn pitr_spec(enabled: bool) -> PointInTimeRecoverySpecification {
    PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(enabled)
        .build()
        .unwrap()
}

/// Whether the table exists in `region`, and the regions of its replicas.
async fn replicas_seen_in(kit: &Kit, region: &str) -> Option<Vec<String>> {
    match kit
        .aws
        .dynamodb(region)
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
    {
        Ok(out) => Some(
            out.table()
                .unwrap()
                .replicas()
                .iter()
                .filter_map(|r| r.region_name().map(str::to_owned))
                .collect(),
        ),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(e) => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn global_table_replica_pitr_drift_and_delete() {
    let kit = Kit::new("prov-table").await;
    let ctx = kit.ctx("primary/dynamodb.table/sessions", PRIMARY);
    let (applied, inputs) = kit
        .lifecycle(
            &ctx,
            table(json!([SECONDARY]), json!({"Name": "s"})),
            Some(table(
                json!([SECONDARY]),
                json!({"Name": "s2", "Team": "sre"}),
            )),
        )
        .await;
    assert!(out(&applied, "stream_arn").contains(&format!("table/{TABLE}/stream/")));
    assert!(out(&applied, "arn").contains(PRIMARY));
    assert!(kit.listed(&ctx, &applied.id).await);

    // Crash recovery finds the table by its name, and nothing by another.
    let p = kit.provider(&ctx);
    assert_eq!(
        p.find(&ctx, &inputs).await.unwrap().as_deref(),
        Some(applied.id.as_str())
    );
    let mut other = inputs.clone();
    other.insert("table_name".into(), json!("prov-ddb-never-created"));
    assert_eq!(p.find(&ctx, &other).await.unwrap(), None);

    // The replica is a table of the same name in the other region, with
    // point-in-time recovery and the tags, which AWS does not carry over.
    assert_eq!(
        replicas_seen_in(&kit, SECONDARY).await,
        Some(vec![PRIMARY.to_owned()])
    );
    let tags = [("Name", "s2"), ("Team", "sre")];
    assert_configured(&kit, PRIMARY, &tags).await;
    assert_configured(&kit, SECONDARY, &tags).await;

    // Drift: point-in-time recovery switched off out of band, on the table
    // and then on the replica, each seen and repaired.
    for region in [PRIMARY, SECONDARY] {
        kit.aws
            .dynamodb(region)
            .update_continuous_backups()
            .table_name(TABLE)
            .point_in_time_recovery_specification(pitr_spec(false))
            .send()
            .await
            .unwrap();
        let seen = kit.read(&ctx, &applied.id, &inputs).await.unwrap();
        assert_eq!(seen["point_in_time_recovery"], json!(false), "{region}");
        p.update(&ctx, &applied.id, &seen, &inputs).await.unwrap();
        assert_eq!(kit.read(&ctx, &applied.id, &inputs).await.unwrap(), inputs);
        assert_configured(&kit, region, &tags).await;
    }

    // Drift: a tag of the replica removed out of band.
    let replica_arn = out(&applied, "arn").replace(PRIMARY, SECONDARY);
    kit.aws
        .dynamodb(SECONDARY)
        .untag_resource()
        .resource_arn(&replica_arn)
        .tag_keys("Team")
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &applied.id, &inputs).await.unwrap();
    assert_eq!(seen["tags"], json!({"Name": "s2"}));
    p.update(&ctx, &applied.id, &seen, &inputs).await.unwrap();
    assert_eq!(kit.read(&ctx, &applied.id, &inputs).await.unwrap(), inputs);
    assert_configured(&kit, SECONDARY, &tags).await;

    // The replica removed and the stream turned off in one update: AWS
    // refuses to disable the stream while the replica exists, so the
    // replica goes first.
    let mut single = table(json!([]), json!({"Name": "s2", "Team": "sre"}));
    single["stream_view_type"] = Json::Null;
    let single = attrs(single);
    p.update(&ctx, &applied.id, &inputs, &single).await.unwrap();
    assert_eq!(replicas_seen_in(&kit, SECONDARY).await, None);
    assert_eq!(kit.read(&ctx, &applied.id, &single).await.unwrap(), single);
    // And back: the stream first, then the replica, configured like a new one.
    p.update(&ctx, &applied.id, &single, &inputs).await.unwrap();
    assert_eq!(kit.read(&ctx, &applied.id, &inputs).await.unwrap(), inputs);
    assert_configured(&kit, SECONDARY, &tags).await;

    // Replicas without the stream they replicate from are refused before
    // any call.
    let mut streamless = inputs.clone();
    streamless.insert("stream_view_type".into(), Json::Null);
    let err = p
        .update(&ctx, &applied.id, &inputs, &streamless)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");
    assert_eq!(kit.read(&ctx, &applied.id, &inputs).await.unwrap(), inputs);
    let other_ctx = kit.ctx("primary/dynamodb.table/other", PRIMARY);
    let mut other = streamless.clone();
    other.insert("table_name".into(), json!("prov-ddb-never-created"));
    let err = p.create(&other_ctx, &other).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");
    assert_eq!(p.find(&other_ctx, &other).await.unwrap(), None);

    // Delete takes the replica with it: gone in both regions.
    kit.delete(&ctx, &applied, &inputs).await;
    assert!(!kit.listed(&ctx, &applied.id).await);
    assert_eq!(replicas_seen_in(&kit, PRIMARY).await, None);
    assert_eq!(replicas_seen_in(&kit, SECONDARY).await, None);
    assert_eq!(p.find(&ctx, &inputs).await.unwrap(), None);
}

/// The customer key DescribeTable in `region` reports for the table.
async fn key_seen_in(kit: &Kit, region: &str) -> Option<String> {
    let t = kit
        .aws
        .dynamodb(region)
        .describe_table()
        .table_name(KEYED)
        .send()
        .await
        .unwrap();
    t.table()?
        .sse_description()?
        .kms_master_key_arn()
        .map(str::to_owned)
}

const KEYED: &str = "prov-ddb-keyed";

#[tokio::test]
async fn table_and_replica_each_with_their_region_key() {
    let kit = Kit::new("prov-table-key").await;
    let mut keys = Vec::new();
    for region in [PRIMARY, SECONDARY, SECONDARY] {
        let made = kit.aws.kms(region).create_key().send().await.unwrap();
        keys.push(made.key_metadata().unwrap().arn().unwrap().to_owned());
    }
    let ctx = kit.ctx("primary/dynamodb.table/keyed", PRIMARY);
    let spec = |replica_key: &str| {
        let mut t = table(json!([SECONDARY]), json!({}));
        t["table_name"] = json!(KEYED);
        t["kms_key_arn"] = json!(keys[0]);
        t["replica_kms_key_arns"] = json!({SECONDARY: replica_key});
        t
    };
    // The replica's key changes by the replica leaving and joining again.
    let (applied, inputs) = kit
        .lifecycle(&ctx, spec(&keys[1]), Some(spec(&keys[2])))
        .await;
    assert_eq!(
        key_seen_in(&kit, PRIMARY).await.as_deref(),
        Some(keys[0].as_str())
    );
    assert_eq!(
        key_seen_in(&kit, SECONDARY).await.as_deref(),
        Some(keys[2].as_str())
    );
    let p = kit.provider(&ctx);

    // What AWS refuses is refused before any call: a replica without a key
    // of its own region, or with another region's.
    for replica_keys in [json!({}), json!({SECONDARY: keys[0]})] {
        let mut bad = inputs.clone();
        bad.insert("replica_kms_key_arns".into(), replica_keys.clone());
        let err = p
            .update(&ctx, &applied.id, &inputs, &bad)
            .await
            .unwrap_err();
        assert_eq!(
            err.code.as_deref(),
            Some("InvalidInput"),
            "{replica_keys}: {err}"
        );
    }
    assert_eq!(kit.read(&ctx, &applied.id, &inputs).await.unwrap(), inputs);
    // And the emulator refuses it as AWS does (tests/emulator/ext_dynamodb.py).
    kit.aws
        .dynamodb(PRIMARY)
        .update_table()
        .table_name(KEYED)
        .replica_updates(
            aws_sdk_dynamodb::types::ReplicationGroupUpdate::builder()
                .delete(
                    aws_sdk_dynamodb::types::DeleteReplicationGroupMemberAction::builder()
                        .region_name(SECONDARY)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let refused = kit
        .aws
        .dynamodb(PRIMARY)
        .update_table()
        .table_name(KEYED)
        .replica_updates(
            aws_sdk_dynamodb::types::ReplicationGroupUpdate::builder()
                .create(
                    aws_sdk_dynamodb::types::CreateReplicationGroupMemberAction::builder()
                        .region_name(SECONDARY)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{:?}", refused).contains("KMSMasterKeyId must be specified for each replica"),
        "{refused:?}"
    );
    // Drift: the replica gone out of band; an update brings it back keyed.
    let seen = kit.read(&ctx, &applied.id, &inputs).await.unwrap();
    assert_eq!(seen["replica_regions"], json!([]));
    p.update(&ctx, &applied.id, &seen, &inputs).await.unwrap();
    assert_eq!(kit.read(&ctx, &applied.id, &inputs).await.unwrap(), inputs);

    // The table's own key changes in place.
    let mut rekeyed = inputs.clone();
    let other = kit.aws.kms(PRIMARY).create_key().send().await.unwrap();
    let other = other.key_metadata().unwrap().arn().unwrap().to_owned();
    rekeyed.insert("kms_key_arn".into(), json!(other));
    p.update(&ctx, &applied.id, &inputs, &rekeyed)
        .await
        .unwrap();
    assert_eq!(
        kit.read(&ctx, &applied.id, &rekeyed).await.unwrap(),
        rekeyed
    );
    assert_eq!(key_seen_in(&kit, PRIMARY).await, Some(other));
    kit.delete(&ctx, &applied, &rekeyed).await;
}
