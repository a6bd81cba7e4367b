//! The intent journal on the S3 backend keeps update intents as it keeps
//! creates and deletes (the local journal's are unit-tested in
//! drctl-core's journal.rs).

use std::sync::Arc;

use drctl_core::backend::Backend;
use drctl_core::journal::{Intent, IntentOp};
use drctl_state_s3::{S3Backend, S3Location};
use drctl_tests::{PRIMARY, aws, emulator_for};

#[tokio::test(flavor = "multi_thread")]
async fn the_s3_journal_round_trips_an_update_intent() {
    let aws = aws(&emulator_for("s3-update-intent").endpoint).await;
    let bucket = crate::backend_replica::bucket_in(&aws, PRIMARY, "intents").await;
    let env = "s3-update-intent";
    let backend = S3Backend::new(
        Arc::new(tokio::sync::OnceCell::new_with(Some(aws.clone()))),
        drctl_aws::Connection::default(),
        S3Location {
            bucket: bucket.clone(),
            prefix: "team".into(),
            region: PRIMARY.into(),
        },
        env,
    );
    let held = backend.lock("apply").unwrap();
    let mut journal = backend.begin();
    let mut update = Intent {
        id: 0,
        op: IntentOp::Update,
        address: "primary/ssm.parameter/feature-flags".parse().unwrap(),
        region: PRIMARY.into(),
        inputs: [("value".to_string(), serde_json::json!("{\"a\":true}"))].into(),
        resource_id: Some("/payment/s3-update-intent/feature-flags".into()),
        dependencies: Default::default(),
        token: String::new(),
    };
    journal.record(std::slice::from_mut(&mut update)).unwrap();
    let object = aws
        .s3(PRIMARY)
        .get_object()
        .bucket(&bucket)
        .key(format!("team/{env}.journal/{:020}.json", update.id))
        .send()
        .await
        .unwrap();
    let body = object.body.collect().await.unwrap().into_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains(r#""op":"update""#), "{text}");
    assert_eq!(backend.open_intents().unwrap(), vec![update.clone()]);
    journal.clear(&[update.id]).unwrap();
    assert!(backend.open_intents().unwrap().is_empty());
    drop(held);
}
