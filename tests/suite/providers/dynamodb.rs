//! Provider tests: dynamodb.

use drctl_tests::{PRIMARY, SECONDARY};
use serde_json::{Value as Json, json};

use super::{Kit, attrs, out};

const TABLE: &str = "prov-ddb-sessions";

fn table(replicas: Json, tags: Json) -> Json {
    json!({"table_name": TABLE, "hash_key": "sessionId", "hash_key_type": "S", "billing_mode": "PAY_PER_REQUEST",
           "point_in_time_recovery": true, "stream_view_type": "NEW_AND_OLD_IMAGES",
           "replica_regions": replicas, "tags": tags})
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

    // Crash recovery finds the table by its name, and nothing by another.
    let p = kit.provider(&ctx);
    assert_eq!(
        p.find(&ctx, &inputs).await.unwrap().as_deref(),
        Some(applied.id.as_str())
    );
    let mut other = inputs.clone();
    other.insert("table_name".into(), json!("prov-ddb-never-created"));
    assert_eq!(p.find(&ctx, &other).await.unwrap(), None);

    // The replica is a table of the same name in the other region.
    assert_eq!(
        replicas_seen_in(&kit, SECONDARY).await,
        Some(vec![PRIMARY.to_owned()])
    );

    // Drift: point-in-time recovery switched off out of band, then repaired.
    kit.aws
        .dynamodb(PRIMARY)
        .update_continuous_backups()
        .table_name(TABLE)
        .point_in_time_recovery_specification(
            aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(false)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &applied.id, &inputs).await.unwrap();
    assert_eq!(seen["point_in_time_recovery"], json!(false));
    p.update(&ctx, &applied.id, &seen, &inputs).await.unwrap();
    assert_eq!(kit.read(&ctx, &applied.id, &inputs).await.unwrap(), inputs);

    // A replica removed and added back in place.
    let single = attrs(table(json!([]), json!({"Name": "s2", "Team": "sre"})));
    p.update(&ctx, &applied.id, &inputs, &single).await.unwrap();
    assert_eq!(replicas_seen_in(&kit, SECONDARY).await, None);
    assert_eq!(kit.read(&ctx, &applied.id, &single).await.unwrap(), single);
    p.update(&ctx, &applied.id, &single, &inputs).await.unwrap();
    assert_eq!(kit.read(&ctx, &applied.id, &inputs).await.unwrap(), inputs);

    // Delete takes the replica with it: gone in both regions.
    kit.delete(&ctx, &applied, &inputs).await;
    assert_eq!(replicas_seen_in(&kit, PRIMARY).await, None);
    assert_eq!(replicas_seen_in(&kit, SECONDARY).await, None);
    assert_eq!(p.find(&ctx, &inputs).await.unwrap(), None);
}
