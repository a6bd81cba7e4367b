//! Provider tests: route53.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType,
    ResourceRecordSet, RrType, TagResourceType,
};
use drctl_core::{Attributes, OpContext};
use drctl_tests::{PRIMARY, SECONDARY};
use serde_json::{Value as Json, json};

use super::{Kit, attrs, out};

/// What crash recovery's `find` returns for these inputs.
async fn find(kit: &Kit, ctx: &OpContext, inputs: &Attributes) -> Option<String> {
    kit.provider(ctx).find(ctx, inputs).await.unwrap()
}

/// `inputs` with `key` set to `value`: another resource's identity.
fn with(inputs: &Attributes, key: &str, value: Json) -> Attributes {
    let mut other = inputs.clone();
    other.insert(key.to_owned(), value);
    other
}

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
    assert_eq!(find(&kit, &zctx, &zinputs).await, Some(zone.id.clone()));
    let elsewhere = with(&zinputs, "name", json!("elsewhere.example.com"));
    assert_eq!(find(&kit, &zctx, &elsewhere).await, None);
    // Another address's zone of the same name is not this one.
    let other = kit.ctx("global/route53.hosted_zone/other", PRIMARY);
    assert_eq!(find(&kit, &other, &zinputs).await, None);
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
    assert_eq!(find(&kit, &hctx, &hinputs).await, Some(health.id.clone()));
    let other = kit.ctx("primary/route53.health_check/other", PRIMARY);
    assert_eq!(find(&kit, &other, &hinputs).await, None);

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
    assert_eq!(find(&kit, &pctx, &pinputs).await, Some(primary.id.clone()));
    let other = with(&pinputs, "set_identifier", json!("other"));
    assert_eq!(find(&kit, &pctx, &other).await, None);
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

    // A simple alias (no set identifier, no TTL): the primary's probe
    // name. Its target moves in place.
    let actx = kit.ctx("global/route53.record/api-probe", PRIMARY);
    let alias = |target: &str| {
        json!({"zone_id": zone_id, "name": format!("api-us-east-1.{domain}"), "type": "A",
               "alias": {"dns_name": target, "hosted_zone_id": "Z1UJRXOUMOOFQ8", "evaluate_target_health": false}})
    };
    let (probe, ainputs) = kit
        .lifecycle(
            &actx,
            alias("d-probe.execute-api.us-east-1.amazonaws.com"),
            Some(alias("d-probe2.execute-api.us-east-1.amazonaws.com")),
        )
        .await;
    assert_eq!(probe.id, format!("{zone_id}_api-us-east-1.{domain}_A"));
    kit.delete(&actx, &probe, &ainputs).await;
    assert_eq!(find(&kit, &actx, &ainputs).await, None);

    assert_eq!(
        find(&kit, &sctx, &sinputs).await,
        Some(secondary.id.clone())
    );
    kit.delete(&sctx, &secondary, &sinputs).await;
    assert_eq!(find(&kit, &sctx, &sinputs).await, None);
    // The graph deletes the zone's records before the zone.
    kit.delete(&pctx, &primary, &pinputs).await;
    assert_eq!(find(&kit, &pctx, &pinputs).await, None);
    kit.delete(&zctx, &zone, &zinputs).await;
    assert_eq!(find(&kit, &zctx, &zinputs).await, None);
    kit.delete(&hctx, &health, &hinputs).await;
    assert_eq!(find(&kit, &hctx, &hinputs).await, None);
}

#[tokio::test]
async fn find_adopts_and_tags_a_health_check_whose_create_stopped_before_tagging() {
    let kit = Kit::new("prov-route53-untagged").await;
    let ctx = kit.ctx("primary/route53.health_check/api", PRIMARY);
    let inputs = attrs(
        json!({"fqdn": "def456.execute-api.us-east-1.amazonaws.com", "port": 443,
                               "type": "HTTPS", "resource_path": "/prod/health", "request_interval": 30,
                               "failure_threshold": 3, "tags": {"Name": "h"}}),
    );
    // What CreateHealthCheck alone leaves: drctl's caller reference, no tags.
    let client = kit.aws.route53();
    let created = client
        .create_health_check()
        .caller_reference(format!(
            "drctl-{}-{}-1700000000000000000",
            kit.env, ctx.address
        ))
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::Https)
                .fully_qualified_domain_name("def456.execute-api.us-east-1.amazonaws.com")
                .port(443)
                .resource_path("/prod/health")
                .request_interval(30)
                .failure_threshold(3)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let id = created.health_check().unwrap().id.clone();
    // Another environment's reference does not match.
    let other_env = OpContext {
        token: None,
        env: "prov-route53-untagged-other".into(),
        ..ctx.clone()
    };
    assert_eq!(find(&kit, &other_env, &inputs).await, None);
    assert_eq!(find(&kit, &ctx, &inputs).await, Some(id.clone()));
    // Adopted with the tags the create would have set.
    let tags = client
        .list_tags_for_resource()
        .resource_type(TagResourceType::Healthcheck)
        .resource_id(&id)
        .send()
        .await
        .unwrap();
    let mut tags: Vec<(String, String)> = tags
        .resource_tag_set()
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        [
            ("Name".to_owned(), "h".to_owned()),
            ("drctl:address".to_owned(), ctx.address.to_string()),
            ("drctl:env".to_owned(), kit.env.clone()),
        ]
    );
    assert_eq!(kit.read(&ctx, &id, &inputs).await.unwrap(), inputs);
    let applied = drctl_core::Applied {
        outputs: attrs(json!({"health_check_id": id})),
        id,
    };
    kit.delete(&ctx, &applied, &inputs).await;
    assert_eq!(find(&kit, &ctx, &inputs).await, None);
}

/// Record sets of the zone other than its apex SOA and NS, as `name type`.
async fn others_in(kit: &Kit, zone_id: &str, apex: &str) -> Vec<String> {
    let listed = kit
        .aws
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap();
    listed
        .resource_record_sets()
        .iter()
        .filter(|r| !(matches!(r.r#type, RrType::Soa | RrType::Ns) && r.name == apex))
        .map(|r| format!("{} {}", r.name, r.r#type.as_str()))
        .collect()
}

fn record_change(action: ChangeAction, name: &str, ty: RrType, value: &str) -> Change {
    Change::builder()
        .action(action)
        .resource_record_set(
            ResourceRecordSet::builder()
                .name(name)
                .r#type(ty)
                .ttl(300)
                .resource_records(
                    aws_sdk_route53::types::ResourceRecord::builder()
                        .value(value)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn zone_delete_leaves_records_drctl_did_not_create_and_names_them() {
    let kit = Kit::new("prov-route53-foreign").await;
    let domain = "foreign-prov-route53.example.com";
    let apex = format!("{domain}.");
    let ctx = kit.ctx("global/route53.hosted_zone/payment", PRIMARY);
    let (zone, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"name": domain, "comment": "payments", "tags": {"Name": "z"}}),
            None,
        )
        .await;
    let zone_id = out(&zone, "zone_id");
    // Someone else's mail and domain verification records.
    let foreign = [
        (ChangeAction::Create, RrType::Mx, "10 mail.example.net"),
        (
            ChangeAction::Create,
            RrType::Txt,
            "\"google-site-verification=abc\"",
        ),
    ];
    let batch = |changes: &[(ChangeAction, RrType, &str)]| {
        ChangeBatch::builder()
            .set_changes(Some(
                changes
                    .iter()
                    .map(|(a, t, v)| record_change(a.clone(), &apex, t.clone(), v))
                    .collect(),
            ))
            .build()
            .unwrap()
    };
    let client = kit.aws.route53();
    client
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(batch(&foreign))
        .send()
        .await
        .unwrap();
    let theirs = vec![format!("{apex} MX"), format!("{apex} TXT")];
    assert_eq!(others_in(&kit, &zone_id, &apex).await, theirs);

    // The delete fails, names them and says what to do; they are still there.
    let p = kit.provider(&ctx);
    let err = p
        .delete(&ctx, &zone.id, &inputs, &zone.outputs)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("HostedZoneNotEmpty"), "{err}");
    for named in &theirs {
        assert!(err.message.contains(named.as_str()), "{err}");
    }
    assert!(err.message.contains("drctl destroy"), "{err}");
    assert_eq!(others_in(&kit, &zone_id, &apex).await, theirs);
    assert_eq!(kit.read(&ctx, &zone.id, &inputs).await.unwrap(), inputs);

    // Once their owner has removed them, the zone goes.
    let removed = foreign.map(|(_, t, v)| (ChangeAction::Delete, t, v));
    client
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(batch(&removed))
        .send()
        .await
        .unwrap();
    kit.delete(&ctx, &zone, &inputs).await;
    assert_eq!(find(&kit, &ctx, &inputs).await, None);
}
