//! Provider tests: route53.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
};
use drctl_tests::{PRIMARY, SECONDARY};
use serde_json::json;

use super::{Kit, out};

#[tokio::test]
async fn zone_health_check_and_weighted_records() {
    let kit = Kit::new("prov-route53").await;
    let domain = "payment-prov-route53.example.com";

    let zctx = kit.ctx("global/route53.hosted_zone/payment", PRIMARY);
    let (zone, zinputs) = kit
        .lifecycle(
            &zctx,
            json!({"name": domain, "comment": "payments", "tags": {"Name": "z"}}),
            Some(json!({"name": domain, "comment": "payments v2", "tags": {"Name": "z2", "Team": "sre"}})),
        )
        .await;
    let zone_id = out(&zone, "zone_id");
    assert!(!zone_id.starts_with('/'), "{zone_id}");
    assert!(
        !zone.outputs["name_servers"].as_array().unwrap().is_empty(),
        "{:?}",
        zone.outputs
    );

    let hctx = kit.ctx("primary/route53.health_check/api", PRIMARY);
    let check = |path: &str, threshold: i64, tags| {
        json!({"fqdn": "abc123.execute-api.us-east-1.amazonaws.com", "port": 443, "type": "HTTPS",
               "resource_path": path, "request_interval": 30, "failure_threshold": threshold, "tags": tags})
    };
    let (health, hinputs) = kit
        .lifecycle(
            &hctx,
            check("/prod/health", 3, json!({"Name": "h"})),
            Some(check("/prod/healthz", 5, json!({"Name": "h2"}))),
        )
        .await;
    let health_id = out(&health, "health_check_id");

    let name = format!("api.{domain}");
    let record = |ident: &str,
                  weight: i64,
                  target: &str,
                  zone_of_target: &str,
                  check: Option<&str>| {
        let mut r = json!({"zone_id": zone_id, "name": name, "type": "A", "set_identifier": ident,
                           "weight": weight,
                           "alias": {"dns_name": target, "hosted_zone_id": zone_of_target, "evaluate_target_health": true}});
        if let Some(c) = check {
            r["health_check_id"] = json!(c);
        }
        r
    };
    let pctx = kit.ctx("global/route53.record/primary", PRIMARY);
    let (primary, pinputs) = kit
        .lifecycle(
            &pctx,
            record(
                "primary-us-east-1",
                100,
                "d-primary.execute-api.us-east-1.amazonaws.com",
                "Z1UJRXOUMOOFQ8",
                Some(&health_id),
            ),
            None,
        )
        .await;
    assert_eq!(out(&primary, "fqdn"), name);
    let sctx = kit.ctx("global/route53.record/secondary", SECONDARY);
    let (secondary, sinputs) = kit
        .lifecycle(
            &sctx,
            record(
                "secondary-us-east-2",
                0,
                "d-secondary.execute-api.us-east-2.amazonaws.com",
                "ZOJJZC49E0EPZ",
                None,
            ),
            // Failing over: the weight moves to the secondary.
            Some(record(
                "secondary-us-east-2",
                100,
                "d-secondary.execute-api.us-east-2.amazonaws.com",
                "ZOJJZC49E0EPZ",
                None,
            )),
        )
        .await;
    // The primary is untouched by the secondary's update.
    assert_eq!(
        kit.read(&pctx, &primary.id, &pinputs).await.unwrap(),
        pinputs
    );

    // Drift: the secondary's weight set back to 0 out of band (with the
    // alias name as AWS returns it, fully qualified).
    let drifted = ResourceRecordSet::builder()
        .name(format!("{name}."))
        .r#type(RrType::A)
        .set_identifier("secondary-us-east-2")
        .weight(0)
        .alias_target(
            AliasTarget::builder()
                .dns_name("d-secondary.execute-api.us-east-2.amazonaws.com.")
                .hosted_zone_id("ZOJJZC49E0EPZ")
                .evaluate_target_health(true)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    kit.aws
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(drifted)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let seen = kit.read(&sctx, &secondary.id, &sinputs).await.unwrap();
    assert_eq!(seen["weight"], json!(0));
    let rp = kit.provider(&sctx);
    rp.update(&sctx, &secondary.id, &seen, &sinputs)
        .await
        .unwrap();
    assert_eq!(
        kit.read(&sctx, &secondary.id, &sinputs).await.unwrap(),
        sinputs
    );

    // Drift: a health check threshold changed out of band.
    kit.aws
        .route53()
        .update_health_check()
        .health_check_id(&health_id)
        .failure_threshold(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        kit.read(&hctx, &health.id, &hinputs).await.unwrap()["failure_threshold"],
        json!(1)
    );

    kit.delete(&sctx, &secondary, &sinputs).await;
    // The zone deletes records left in it (here the primary) first.
    kit.delete(&zctx, &zone, &zinputs).await;
    assert!(kit.read(&pctx, &primary.id, &pinputs).await.is_none());
    kit.delete(&pctx, &primary, &pinputs).await;
    kit.delete(&hctx, &health, &hinputs).await;
}
