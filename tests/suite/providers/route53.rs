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
    assert!(kit.listed(&zctx, &zone.id).await);
    // Route 53 is global: listed whatever the region asked.
    let zctx2 = kit.ctx("global/route53.hosted_zone/payment", SECONDARY);
    assert!(kit.listed(&zctx2, &zone.id).await);
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
    assert!(kit.listed(&hctx, &health.id).await);
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
    assert!(kit.listed(&pctx, &primary.id).await);
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
    assert!(kit.listed(&actx, &probe.id).await);
    kit.delete(&actx, &probe, &ainputs).await;
    assert_eq!(find(&kit, &actx, &ainputs).await, None);
    assert!(!kit.listed(&actx, &probe.id).await);

    assert_eq!(
        find(&kit, &sctx, &sinputs).await,
        Some(secondary.id.clone())
    );
    // A DELETE must repeat the set's current values: with the weight moved
    // out of band since, delete still removes it (it reads the set as
    // Route 53 holds it), and sends exactly that
    // (tests/emulator/ext_route53_deletes.py refuses anything else).
    let mut moved = sinputs.clone();
    moved.insert("weight".into(), json!(37));
    let rp = kit.provider(&sctx);
    rp.update(&sctx, &secondary.id, &sinputs, &moved)
        .await
        .unwrap();
    assert_eq!(
        kit.read(&sctx, &secondary.id, &sinputs).await.unwrap()["weight"],
        json!(37)
    );
    kit.delete(&sctx, &secondary, &sinputs).await;
    assert_eq!(find(&kit, &sctx, &sinputs).await, None);
    // The graph deletes the zone's records before the zone.
    kit.delete(&pctx, &primary, &pinputs).await;
    assert_eq!(find(&kit, &pctx, &pinputs).await, None);
    assert!(!kit.listed(&pctx, &primary.id).await);
    kit.delete(&zctx, &zone, &zinputs).await;
    assert_eq!(find(&kit, &zctx, &zinputs).await, None);
    assert!(!kit.listed(&zctx, &zone.id).await);
    kit.delete(&hctx, &health, &hinputs).await;
    assert_eq!(find(&kit, &hctx, &hinputs).await, None);
    assert!(!kit.listed(&hctx, &health.id).await);
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

/// Route 53 answers each record change PENDING and propagates it to its
/// name servers before GetChange says INSYNC (API Reference, GetChange;
/// the emulator answers PENDING once): create, update and delete of a
/// record each return only once their change is INSYNC.
#[tokio::test]
async fn record_changes_return_once_insync() {
    use drctl_tests::proxy::{FaultProxy, Faults};
    let env = "prov-route53-insync";
    let proxy = FaultProxy::start(&drctl_tests::emulator_for(env).endpoint, Faults::none()).await;
    let kit = Kit::with_endpoint(env, &proxy.endpoint).await;
    let domain = "insync-prov-route53.example.com";
    let zctx = kit.ctx("global/route53.hosted_zone/payment", PRIMARY);
    let (zone, zinputs) = kit
        .lifecycle(
            &zctx,
            json!({"name": domain, "comment": "payments", "tags": {}}),
            None,
        )
        .await;
    let record = |weight: i64| {
        json!({"zone_id": out(&zone, "zone_id"), "name": format!("api.{domain}"), "type": "A",
               "set_identifier": "primary-us-east-1", "weight": weight,
               "alias": {"dns_name": "d-primary.execute-api.us-east-1.amazonaws.com",
                         "hosted_zone_id": "Z1UJRXOUMOOFQ8", "evaluate_target_health": true}})
    };
    let rctx = kit.ctx("global/route53.record/primary", PRIMARY);
    let (applied, inputs) = kit.lifecycle(&rctx, record(100), Some(record(0))).await;
    kit.delete(&rctx, &applied, &inputs).await;
    kit.delete(&zctx, &zone, &zinputs).await;

    // Each ChangeResourceRecordSets (`POST .../rrset`) is followed by
    // GetChange of its change until INSYNC: PENDING, then INSYNC.
    let calls = proxy.counts.calls.lock().unwrap().clone();
    let ops: Vec<&str> = calls.iter().map(|c| c.operation.as_str()).collect();
    let changes: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.starts_with("POST /2013-04-01/hostedzone/") && op.contains("/rrset"))
        .map(|(i, _)| i)
        .collect();
    // Create, update, delete (the second delete finds nothing to change).
    assert_eq!(changes.len(), 3, "{ops:#?}");
    for (n, at) in changes.iter().enumerate() {
        let next = changes.get(n + 1).copied().unwrap_or(ops.len());
        let polls: Vec<&&str> = ops[*at..next]
            .iter()
            .filter(|op| op.starts_with("GET /2013-04-01/change/"))
            .collect();
        assert_eq!(polls.len(), 2, "after call {at}: {ops:#?}");
        assert_eq!(polls[0], polls[1], "{ops:#?}");
    }
}

/// A single-metric alarm of `region` on `DrctlTest` `Fence` (dimension
/// `Env` = the kit's env) for a CLOUDWATCH_METRIC health check: in ALARM
/// while the minute's minimum is 1 or more; kept as it is while no data
/// comes (`ignore`). Route 53 takes standard-resolution alarms with a
/// basic statistic (AlarmIdentifier, Name).
async fn fence_alarm(kit: &Kit, region: &str, name: &str) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
    kit.aws
        .cloudwatch(region)
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("DrctlTest")
        .metric_name("Fence")
        .dimensions(Dimension::builder().name("Env").value(&kit.env).build())
        .statistic(Statistic::Minimum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .treat_missing_data("ignore")
        .send()
        .await
        .unwrap();
}

async fn delete_alarm(kit: &Kit, region: &str, name: &str) {
    kit.aws
        .cloudwatch(region)
        .delete_alarms()
        .alarm_names(name)
        .send()
        .await
        .unwrap();
}

/// What Route 53 holds for a health check.
async fn held(kit: &Kit, id: &str) -> aws_sdk_route53::types::HealthCheck {
    kit.aws
        .route53()
        .get_health_check()
        .health_check_id(id)
        .send()
        .await
        .unwrap()
        .health_check
        .unwrap()
}

#[tokio::test]
async fn calculated_and_cloudwatch_metric_health_checks() {
    let kit = Kit::new("prov-route53-calc").await;
    let alarm = format!("payment-{}-fence", kit.env);
    let other_alarm = format!("payment-{}-fence-2", kit.env);
    fence_alarm(&kit, SECONDARY, &alarm).await;
    fence_alarm(&kit, SECONDARY, &other_alarm).await;

    // Two HTTPS children: each region's API.
    let https = |host: &str| {
        json!({"fqdn": host, "port": 443, "type": "HTTPS", "resource_path": "/prod/health",
               "request_interval": 30, "failure_threshold": 3, "tags": {"Name": host}})
    };
    let actx = kit.ctx("primary/route53.health_check/api", PRIMARY);
    let (api, api_inputs) = kit
        .lifecycle(&actx, https("a1.execute-api.us-east-1.amazonaws.com"), None)
        .await;
    let sctx = kit.ctx("secondary/route53.health_check/api", SECONDARY);
    let (api2, api2_inputs) = kit
        .lifecycle(&sctx, https("a2.execute-api.us-east-2.amazonaws.com"), None)
        .await;

    // The fence: a CLOUDWATCH_METRIC check of the secondary's alarm.
    let fctx = kit.ctx("global/route53.health_check/fence", SECONDARY);
    let metric = |name: &str, status: &str| {
        json!({"type": "CLOUDWATCH_METRIC", "alarm_region": SECONDARY, "alarm_name": name,
               "insufficient_data_health_status": status, "tags": {"Name": "fence"}})
    };
    let (fence, fence_inputs) = kit
        .lifecycle(
            &fctx,
            metric(&alarm, "LastKnownStatus"),
            Some(metric(&alarm, "Unhealthy")),
        )
        .await;
    let h = held(&kit, &fence.id).await;
    let c = h.health_check_config().unwrap();
    assert_eq!(c.r#type(), &HealthCheckType::CloudwatchMetric);
    let a = c.alarm_identifier().unwrap();
    assert_eq!((a.region().as_str(), a.name()), (SECONDARY, alarm.as_str()));
    assert_eq!(
        c.insufficient_data_health_status().map(|s| s.as_str()),
        Some("Unhealthy")
    );
    assert_eq!(h.health_check_version(), 2, "one update: {h:?}");
    // Route 53 copied the alarm's settings.
    let copied = h.cloud_watch_alarm_configuration().unwrap();
    assert_eq!(
        (copied.namespace(), copied.metric_name(), copied.period()),
        ("DrctlTest", "Fence", 60)
    );
    kit.found(&fctx, &fence, &fence_inputs).await;
    // The alarm is updatable in place: AlarmIdentifier.
    let moved = attrs(metric(&other_alarm, "Unhealthy"));
    kit.provider(&fctx)
        .update(&fctx, &fence.id, &fence_inputs, &moved)
        .await
        .unwrap();
    assert_eq!(kit.read(&fctx, &fence.id, &moved).await.unwrap(), moved);

    // The primary's check: CALCULATED over its API's check and the fence,
    // healthy only while both are. The ids are a set: another order reads
    // back as given, and changes nothing.
    let pctx = kit.ctx("global/route53.health_check/primary", PRIMARY);
    let calculated = |ids: &[&str], threshold: i64| {
        json!({"type": "CALCULATED", "child_health_check_ids": ids, "health_threshold": threshold,
               "tags": {"Name": "primary"}})
    };
    let (primary, pinputs) = kit
        .lifecycle(
            &pctx,
            calculated(&[&fence.id, &api.id], 2),
            Some(calculated(&[&api.id, &fence.id], 1)),
        )
        .await;
    let h = held(&kit, &primary.id).await;
    let c = h.health_check_config().unwrap();
    let mut children = c.child_health_checks().to_vec();
    children.sort();
    let mut want = vec![api.id.clone(), fence.id.clone()];
    want.sort();
    assert_eq!(children, want, "the update kept the children");
    assert_eq!(c.health_threshold(), Some(1));
    // Only the CALCULATED inputs: no port, interval or threshold of an
    // endpoint check.
    assert_eq!(
        kit.read(&pctx, &primary.id, &pinputs)
            .await
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["child_health_check_ids", "health_threshold", "tags", "type"]
    );
    kit.found(&pctx, &primary, &pinputs).await;

    // Drift: the threshold changed out of band shows, and an update
    // restores it.
    kit.aws
        .route53()
        .update_health_check()
        .health_check_id(&primary.id)
        .health_threshold(0)
        .send()
        .await
        .unwrap();
    let seen = kit.read(&pctx, &primary.id, &pinputs).await.unwrap();
    assert_eq!(seen["health_threshold"], json!(0));
    assert_eq!(
        seen["child_health_check_ids"],
        pinputs["child_health_check_ids"]
    );
    kit.provider(&pctx)
        .update(&pctx, &primary.id, &seen, &pinputs)
        .await
        .unwrap();
    assert_eq!(
        kit.read(&pctx, &primary.id, &pinputs).await.unwrap(),
        pinputs
    );

    // Another set of children replaces the list.
    let swapped = attrs(calculated(&[&api2.id, &fence.id], 2));
    kit.provider(&pctx)
        .update(&pctx, &primary.id, &pinputs, &swapped)
        .await
        .unwrap();
    assert_eq!(
        kit.read(&pctx, &primary.id, &swapped).await.unwrap(),
        swapped
    );

    // Refused before any call: a key of another type, a missing one.
    let p = kit.provider(&pctx);
    let mut wrong = swapped.clone();
    wrong.insert("port".into(), json!(443));
    let err = p.create(&pctx, &wrong).await.unwrap_err();
    assert!(
        err.message
            .contains("input `port` is for health checks of type HTTP or HTTPS, not CALCULATED"),
        "{err}"
    );
    let mut missing = moved.clone();
    missing.remove("alarm_name");
    let err = p
        .update(&fctx, &fence.id, &moved, &missing)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("input `alarm_name` is missing"),
        "{err}"
    );
    // Refused by Route 53: a child that does not exist, an alarm that
    // does not exist.
    let ghost = attrs(calculated(&["00000000-0000-0000-0000-000000000000"], 1));
    let err = p
        .create(
            &kit.ctx("global/route53.health_check/ghost", PRIMARY),
            &ghost,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");
    let err = p
        .create(
            &kit.ctx("global/route53.health_check/no-alarm", SECONDARY),
            &attrs(metric("no-such-alarm", "Healthy")),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");

    // The parent goes before its children.
    kit.delete_found(&pctx, &primary, &swapped).await;
    kit.delete_found(&fctx, &fence, &moved).await;
    kit.delete_found(&actx, &api, &api_inputs).await;
    kit.delete_found(&sctx, &api2, &api2_inputs).await;
    delete_alarm(&kit, SECONDARY, &alarm).await;
    delete_alarm(&kit, SECONDARY, &other_alarm).await;
}

/// The alarm's state and reason, once `want` (or the last seen after
/// 30 s: alarms are evaluated a moment after the data comes); at once for
/// `None`.
async fn alarm_state(kit: &Kit, region: &str, name: &str, want: Option<&str>) -> (String, String) {
    let start = std::time::Instant::now();
    loop {
        let out = kit
            .aws
            .cloudwatch(region)
            .describe_alarms()
            .alarm_names(name)
            .send()
            .await
            .unwrap();
        let a = &out.metric_alarms()[0];
        let seen = (
            a.state_value()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            a.state_reason().unwrap_or_default().to_owned(),
        );
        if want.is_none_or(|w| seen.0 == w) || start.elapsed() > std::time::Duration::from_secs(30)
        {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// The emulator evaluates a metric alarm when its metric gets data, as AWS
/// does every period: the fence alarm goes to ALARM on a breaching value
/// and back to OK on one below the threshold (the minute's minimum).
#[tokio::test]
async fn put_metric_data_moves_the_fence_alarm_to_alarm_and_back_to_ok() {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let kit = Kit::new("prov-route53-fence").await;
    let alarm = format!("payment-{}-fence", kit.env);
    fence_alarm(&kit, SECONDARY, &alarm).await;
    let (state, _) = alarm_state(&kit, SECONDARY, &alarm, None).await;
    assert_ne!(state, "ALARM", "no data yet");
    let publish = |value: f64| {
        kit.aws
            .cloudwatch(SECONDARY)
            .put_metric_data()
            .namespace("DrctlTest")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("Fence")
                    .dimensions(Dimension::builder().name("Env").value(&kit.env).build())
                    .value(value)
                    .build(),
            )
            .send()
    };
    // Another environment's metric (another dimension) is not this one's.
    kit.aws
        .cloudwatch(SECONDARY)
        .put_metric_data()
        .namespace("DrctlTest")
        .metric_data(
            MetricDatum::builder()
                .metric_name("Fence")
                .dimensions(Dimension::builder().name("Env").value("elsewhere").build())
                .value(1.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    publish(1.0).await.unwrap();
    let (state, reason) = alarm_state(&kit, SECONDARY, &alarm, Some("ALARM")).await;
    assert_eq!(state, "ALARM", "{reason}");
    assert!(reason.starts_with("Threshold Crossed"), "{reason}");
    publish(0.0).await.unwrap();
    let (state, reason) = alarm_state(&kit, SECONDARY, &alarm, Some("OK")).await;
    assert_eq!(state, "OK", "{reason}");
    delete_alarm(&kit, SECONDARY, &alarm).await;
}

/// The fault proxy's down region, through the real SDK clients: every
/// call signed for us-east-1 (Route 53's included: it signs for
/// us-east-1) is dropped unanswered and never reaches the emulator, while
/// us-east-2 answers; the call log names each call and its service,
/// region and operation.
#[tokio::test]
async fn a_down_region_refuses_its_calls_and_route53_and_logs_every_call() {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    use drctl_tests::proxy::{FaultProxy, Faults, Refused};
    let env = "prov-route53-down";
    let emulator = drctl_tests::emulator_for(env);
    let proxy = FaultProxy::start(
        &emulator.endpoint,
        Faults {
            refuse: vec![Refused::region(PRIMARY)],
            ..Faults::none()
        },
    )
    .await;
    let kit = Kit::with_endpoint(env, &proxy.endpoint).await;
    kit.aws
        .cloudwatch(SECONDARY)
        .put_metric_data()
        .namespace("DrctlTest")
        .metric_data(
            MetricDatum::builder()
                .metric_name("Fence")
                .dimensions(Dimension::builder().name("Env").value(env).build())
                .value(1.0)
                .build(),
        )
        .send()
        .await
        .expect("us-east-2 answers");
    let err = kit
        .aws
        .route53()
        .list_health_checks()
        .send()
        .await
        .expect_err("Route 53's control plane is in the down region");
    println!("route53: {err:?}");
    let err = kit
        .aws
        .cloudwatch(PRIMARY)
        .describe_alarms()
        .send()
        .await
        .expect_err("us-east-1 is down");
    println!("cloudwatch us-east-1: {err:?}");
    let log = proxy.counts.call_log();
    println!("{log}");
    let calls = proxy.counts.calls.lock().unwrap().clone();
    assert_eq!(
        calls.iter().filter(|c| !c.refused).count(),
        1,
        "only the secondary's call was forwarded:\n{log}"
    );
    let forwarded = calls.iter().find(|c| !c.refused).unwrap();
    assert_eq!(
        (
            forwarded.service.as_str(),
            forwarded.region.as_str(),
            forwarded.operation.as_str()
        ),
        ("monitoring", SECONDARY, "PutMetricData")
    );
    // Each refused call was tried again by the SDK's retries, every try
    // refused and counted.
    assert!(
        calls.iter().any(|c| c.refused
            && c.service == "route53"
            && c.operation == "GET /2013-04-01/healthcheck"),
        "{log}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.refused && c.service == "monitoring" && c.operation == "DescribeAlarms"),
        "{log}"
    );
    assert_eq!(
        proxy
            .counts
            .refused
            .load(std::sync::atomic::Ordering::SeqCst),
        calls.len() - 1
    );
}

/// A public hosted zone made directly (not through a provider): its id and
/// name servers.
async fn direct_zone(kit: &Kit, domain: &str) -> (String, Vec<String>) {
    let out = kit
        .aws
        .route53()
        .create_hosted_zone()
        .name(domain)
        .caller_reference(format!("test-{domain}"))
        .send()
        .await
        .unwrap();
    let id = out.hosted_zone().unwrap().id();
    let id = id.strip_prefix("/hostedzone/").unwrap_or(id).to_owned();
    let servers = out.delegation_set().unwrap().name_servers().to_vec();
    (id, servers)
}

/// The NS record set `name` of `zone`, as `name type values`, and every
/// other record set of the zone but its apex SOA and NS.
async fn record_sets(kit: &Kit, zone_id: &str) -> Vec<String> {
    let listed = kit
        .aws
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap();
    let apex = listed
        .resource_record_sets()
        .iter()
        .find(|r| r.r#type == RrType::Soa)
        .map(|r| r.name.clone())
        .unwrap();
    listed
        .resource_record_sets()
        .iter()
        .filter(|r| !(matches!(r.r#type, RrType::Soa | RrType::Ns) && r.name == apex))
        .map(|r| {
            let mut values: Vec<String> = r
                .resource_records()
                .iter()
                .map(|v| v.value.trim_end_matches('.').to_owned())
                .collect();
            values.sort();
            format!("{} {} {}", r.name, r.r#type.as_str(), values.join(","))
        })
        .collect()
}

/// The delegation of a zone drctl created: written into the closest
/// parent zone of the account (not a farther one), found again by name,
/// moved to a new zone's name servers in place, and deleted alone: the
/// parent's other records stay. Without a parent zone it writes nothing;
/// a delegation someone else made is not taken over, and not deleted.
#[tokio::test]
async fn delegation_is_written_into_the_closest_parent_zone_and_only_it_is_removed() {
    let kit = Kit::new("prov-route53-deleg").await;
    let far = format!("{}.example.net", kit.env);
    let parent = format!("dns.{far}");
    let domain = format!("payment.{parent}");
    let (far_id, _) = direct_zone(&kit, &far).await;
    let (parent_id, _) = direct_zone(&kit, &parent).await;
    let (domain_id, servers) = direct_zone(&kit, &domain).await;
    // The environment's zone, as drctl's create tags it: what `list`
    // finds delegations by.
    kit.aws
        .route53()
        .change_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(&domain_id)
        .add_tags(
            aws_sdk_route53::types::Tag::builder()
                .key("drctl:env")
                .value(&kit.env)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // Someone else's record in the parent zone.
    kit.aws
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(&parent_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(record_change(
                    ChangeAction::Create,
                    &format!("{parent}."),
                    RrType::Txt,
                    "\"verification=abc\"",
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let theirs = format!("{parent}. TXT \"verification=abc\"");
    let sorted = |s: &[String]| {
        let mut s = s.to_vec();
        s.sort();
        s.join(",")
    };

    let ctx = kit.ctx("global/route53.delegation/payment", PRIMARY);
    // The zone made again gets other name servers (Route 53
    // CreateHostedZone; moto's are all alike, ext_route53.py numbers
    // them, LocalStack's are not): a set of its own here.
    let servers2: Vec<String> = (1..=4)
        .map(|n| format!("ns-{n}.zone-again.example.org"))
        .collect();
    let (delegation, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"name": domain, "name_servers": servers}),
            // The zone made again: its new name servers, in place.
            Some(json!({"name": domain, "name_servers": servers2})),
        )
        .await;
    assert_eq!(delegation.id, domain);
    assert!(kit.listed(&ctx, &delegation.id).await);
    assert_eq!(out(&delegation, "parent_zone_id"), parent_id);
    assert_eq!(out(&delegation, "parent_zone_name"), parent);
    assert_eq!(
        record_sets(&kit, &parent_id).await,
        [
            theirs.clone(),
            format!("{domain}. NS {}", sorted(&servers2)),
        ]
    );
    assert!(
        record_sets(&kit, &far_id).await.is_empty(),
        "not the farther parent"
    );
    kit.found(&ctx, &delegation, &inputs).await;
    // A create sent again (a lost response) finds its own record.
    let again = kit.provider(&ctx).create(&ctx, &inputs).await.unwrap();
    assert_eq!(again.id, delegation.id);
    assert_eq!(out(&again, "parent_zone_id"), parent_id);

    // Drift: the record changed out of band reads back as it is.
    let fake = vec!["ns-1.example.org".to_owned()];
    let out_of_band = ResourceRecordSet::builder()
        .name(&domain)
        .r#type(RrType::Ns)
        .ttl(300)
        .resource_records(
            aws_sdk_route53::types::ResourceRecord::builder()
                .value(&fake[0])
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let upsert = |set: ResourceRecordSet| {
        ChangeBatch::builder()
            .changes(
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(set)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    kit.aws
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(&parent_id)
        .change_batch(upsert(out_of_band))
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &delegation.id, &inputs).await.unwrap();
    assert_eq!(seen["name_servers"], json!(fake));
    // It is not drctl's record any more: find does not adopt it, and the
    // delete leaves it.
    assert_eq!(find(&kit, &ctx, &inputs).await, None);
    kit.provider(&ctx)
        .delete(&ctx, &delegation.id, &inputs, &delegation.outputs)
        .await
        .unwrap();
    assert_eq!(
        record_sets(&kit, &parent_id).await,
        [theirs.clone(), format!("{domain}. NS ns-1.example.org")]
    );
    // ... and a create refuses to take it over, naming the zone and what to do.
    let err = kit.provider(&ctx).create(&ctx, &inputs).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("DelegationExists"), "{err}");
    assert!(err.message.contains(&parent_id), "{err}");
    assert!(err.message.contains("hosted_zone_id"), "{err}");
    // An update repairs drift on drctl's own record (state holds what
    // drctl wrote: `inputs`), then the delete removes it alone.
    let mut drifted = inputs.clone();
    drifted.insert("name_servers".into(), json!(fake));
    kit.provider(&ctx)
        .update(&ctx, &delegation.id, &drifted, &inputs)
        .await
        .unwrap();
    assert_eq!(
        kit.read(&ctx, &delegation.id, &inputs).await.unwrap(),
        inputs
    );
    kit.delete_found(&ctx, &delegation, &inputs).await;
    assert!(!kit.listed(&ctx, &delegation.id).await);
    assert_eq!(record_sets(&kit, &parent_id).await, [theirs]);

    // No parent zone in the account: the registrar's to delegate; nothing
    // is written or deleted, and it stands while the zone it points at
    // does.
    let lone = format!("payment.{}.example.org", kit.env);
    let (lone_id, lone_servers) = direct_zone(&kit, &lone).await;
    let lctx = kit.ctx("global/route53.delegation/lone", PRIMARY);
    let linputs = attrs(json!({"name": lone, "name_servers": lone_servers}));
    let applied = kit.provider(&lctx).create(&lctx, &linputs).await.unwrap();
    assert_eq!(out(&applied, "parent_zone_id"), "");
    assert_eq!(out(&applied, "parent_zone_name"), "");
    assert_eq!(
        kit.read(&lctx, &applied.id, &linputs).await.as_ref(),
        Some(&linputs)
    );
    assert_eq!(find(&kit, &lctx, &linputs).await, Some(lone.clone()));
    kit.provider(&lctx)
        .delete(&lctx, &applied.id, &linputs, &applied.outputs)
        .await
        .unwrap();
    kit.aws
        .route53()
        .delete_hosted_zone()
        .id(&lone_id)
        .send()
        .await
        .unwrap();
    assert_eq!(find(&kit, &lctx, &linputs).await, None);
    assert_eq!(kit.read(&lctx, &applied.id, &linputs).await, None);
}

/// A zone the user has (`hosted_zone_id`): checked (it exists, is the
/// zone of the domain), read, found, and never deleted; the plan shows
/// what its delete leaves.
#[tokio::test]
async fn an_existing_zone_is_checked_and_never_deleted() {
    let kit = Kit::new("prov-route53-existing").await;
    let domain = format!("{}.example.net", kit.env);
    let (zone_id, servers) = direct_zone(&kit, &domain).await;
    let ctx = kit.ctx("global/route53.existing_zone/payment", PRIMARY);
    let (zone, inputs) = kit
        .lifecycle(&ctx, json!({"zone_id": zone_id, "name": domain}), None)
        .await;
    assert_eq!(zone.id, zone_id);
    assert_eq!(out(&zone, "zone_id"), zone_id);
    assert_eq!(zone.outputs["name_servers"], json!(servers));
    assert!(
        out(&zone, "hosted_zone").contains("never deleted"),
        "{:?}",
        zone.outputs
    );
    use drctl_core::provider::SchemaSource;
    assert_eq!(
        drctl_aws::schemas()
            .schema("route53.existing_zone")
            .unwrap()
            .kept_on_delete,
        ["hosted_zone"]
    );
    kit.found(&ctx, &zone, &inputs).await;
    // The user's zone carries no mark of the environment: never listed.
    assert!(!kit.listed(&ctx, &zone.id).await);
    // The delete leaves the zone: it reads, and is found, as before.
    kit.provider(&ctx)
        .delete(&ctx, &zone.id, &inputs, &zone.outputs)
        .await
        .unwrap();
    assert_eq!(kit.read(&ctx, &zone.id, &inputs).await.unwrap(), inputs);
    kit.found(&ctx, &zone, &inputs).await;

    // Refused, naming the setting: another domain's zone, no such zone.
    let p = kit.provider(&ctx);
    let other = attrs(json!({"zone_id": zone_id, "name": "elsewhere.example.net"}));
    let err = p.create(&ctx, &other).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");
    assert!(err.message.contains("`hosted_zone_id`"), "{err}");
    assert_eq!(find(&kit, &ctx, &other).await, None);
    let missing = attrs(json!({"zone_id": "Z0000000000000000000000", "name": domain}));
    let err = p.create(&ctx, &missing).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("NoSuchHostedZone"), "{err}");
    assert!(err.message.contains("does not exist"), "{err}");
}
