//! Provider tests: acm, with the Route 53 validation record and the API
//! Gateway custom domain that uses the certificate.

use std::time::Duration;

use drctl_core::{Attributes, OpContext};
use drctl_tests::{PRIMARY, SECONDARY, emulator_for};
use serde_json::json;

use super::{Kit, attrs, out};

/// What crash recovery's `find` returns for these inputs.
async fn find(kit: &Kit, ctx: &OpContext, inputs: &Attributes) -> Option<String> {
    kit.provider(ctx).find(ctx, inputs).await.unwrap()
}

/// A hosted zone for `domain`, made directly (its provider has its own
/// tests).
async fn zone(kit: &Kit, domain: &str) -> String {
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
    id.strip_prefix("/hostedzone/").unwrap_or(id).to_owned()
}

/// A REST API with a stage `prod`, made directly.
async fn api_with_stage(kit: &Kit, region: &str) -> String {
    let client = kit.aws.apigateway(region);
    let api = client
        .create_rest_api()
        .name("payment-prov-acm")
        .send()
        .await
        .unwrap();
    let id = api.id().unwrap().to_owned();
    let root = client
        .get_resources()
        .rest_api_id(&id)
        .send()
        .await
        .unwrap()
        .items()[0]
        .id()
        .unwrap()
        .to_owned();
    // A deployment needs a method.
    client
        .put_method()
        .rest_api_id(&id)
        .resource_id(&root)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    client
        .put_integration()
        .rest_api_id(&id)
        .resource_id(&root)
        .http_method("GET")
        .r#type(aws_sdk_apigateway::types::IntegrationType::Mock)
        .send()
        .await
        .unwrap();
    client
        .create_deployment()
        .rest_api_id(&id)
        .stage_name("prod")
        .send()
        .await
        .unwrap();
    id
}

/// Certificate, validation record, the wait for ISSUED, custom domain and
/// base path mapping, in the order the blueprint's graph gives them; the
/// certificate is issued only once its record exists, API Gateway refuses
/// it before, and its delete waits until API Gateway lets go of it.
#[tokio::test(flavor = "multi_thread")]
async fn certificate_validated_through_dns_serves_a_custom_domain() {
    let kit = Kit::new("prov-acm").await;
    let domain = "payment-prov-acm.example.com";
    let name = format!("api.{domain}");
    let zone_id = zone(&kit, domain).await;

    let cctx = kit.ctx("primary/acm.certificate/api", PRIMARY);
    let (cert, cinputs) = kit
        .lifecycle(
            &cctx,
            json!({"domain_name": name, "tags": {"Name": "c"}}),
            Some(json!({"domain_name": name, "tags": {"Name": "c2", "Team": "sre"}})),
        )
        .await;
    let arn = out(&cert, "arn");
    assert_eq!(cert.id, arn);
    assert_eq!(out(&cert, "validation_record_type"), "CNAME");
    let record_name = out(&cert, "validation_record_name");
    assert!(record_name.ends_with(&name), "{record_name}");
    assert!(!record_name.ends_with('.'), "{record_name}");
    assert_eq!(find(&kit, &cctx, &cinputs).await, Some(arn.clone()));
    assert!(kit.listed(&cctx, &arn).await);
    // Another address, or another env, finds nothing.
    let other = kit.ctx("secondary/acm.certificate/api", PRIMARY);
    assert_eq!(find(&kit, &other, &cinputs).await, None);

    // Without its record the certificate is not issued: no validation to
    // find, and API Gateway refuses it.
    let vctx = kit.ctx("primary/acm.certificate_validation/api", PRIMARY);
    let record_fqdn = record_name.clone();
    let vspec = json!({"certificate_arn": arn, "validation_record_fqdns": [record_fqdn]});
    let vinputs = attrs(vspec.clone());
    assert_eq!(find(&kit, &vctx, &vinputs).await, None);
    assert!(!kit.listed(&vctx, &arn).await, "not issued: not validated");
    let dctx = kit.ctx("primary/apigateway.domain_name/api", PRIMARY);
    let dinputs = json!({"domain_name": name, "certificate_arn": arn, "security_policy": "TLS_1_2", "tags": {"Name": "d"}});
    let refused = kit
        .provider(&dctx)
        .create(&dctx, &attrs(dinputs.clone()))
        .await
        .expect_err("a certificate pending validation cannot serve a domain");
    assert_eq!(
        refused.code.as_deref(),
        Some("BadRequestException"),
        "{refused}"
    );

    // A wait that names another record than the certificate's fails at
    // once instead of waiting for a record that will never come.
    let wrong =
        attrs(json!({"certificate_arn": arn, "validation_record_fqdns": ["_x.example.com"]}));
    let err = kit
        .provider(&vctx)
        .create(&vctx, &wrong)
        .await
        .expect_err("the certificate's record is not among those given");
    assert!(err.message.contains(&record_name), "{err}");

    // The validation record: a simple CNAME record set.
    let rctx = kit.ctx("global/route53.record/api-certificate-validation", PRIMARY);
    let record = |ttl: i64| {
        json!({"zone_id": zone_id, "name": record_name, "type": "CNAME", "ttl": ttl,
               "records": [out(&cert, "validation_record_value")]})
    };
    let (rec, rinputs) = kit.lifecycle(&rctx, record(300), Some(record(60))).await;
    assert_eq!(rec.id, format!("{zone_id}_{record_name}_CNAME"));
    assert_eq!(find(&kit, &rctx, &rinputs).await, Some(rec.id.clone()));

    // ACM reads the record through public DNS, which does not reach a
    // zone nothing delegates to: still not issued.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(find(&kit, &vctx, &vinputs).await, None);
    // The registrar of the domain lists the zone's name servers.
    emulator_for(&kit.env).register_domain(domain);

    let (validation, vinputs) = kit.lifecycle(&vctx, vspec, None).await;
    assert_eq!(out(&validation, "certificate_arn"), arn);
    assert_eq!(find(&kit, &vctx, &vinputs).await, Some(arn.clone()));
    assert!(kit.listed(&vctx, &arn).await);

    // The custom domain and its mapping to the stage.
    let api_id = api_with_stage(&kit, PRIMARY).await;
    let (dom, dinputs) = kit.lifecycle(&dctx, dinputs, None).await;
    assert_eq!(dom.id, name);
    let regional = out(&dom, "regional_domain_name");
    assert!(
        regional.ends_with(&format!(".execute-api.{PRIMARY}.amazonaws.com")),
        "{regional}"
    );
    assert!(!out(&dom, "regional_hosted_zone_id").is_empty());
    assert_eq!(find(&kit, &dctx, &dinputs).await, Some(name.clone()));
    let other_env = OpContext {
        token: None,
        env: "prov-acm-other".into(),
        ..dctx.clone()
    };
    assert_eq!(find(&kit, &other_env, &dinputs).await, None);
    assert!(kit.listed(&dctx, &dom.id).await);
    assert!(!kit.listed(&other_env, &dom.id).await);
    // A second create of the name is refused, as AWS refuses it.
    let again = kit
        .provider(&dctx)
        .create(&dctx, &dinputs)
        .await
        .unwrap_err();
    assert_eq!(
        again.code.as_deref(),
        Some("BadRequestException"),
        "{again}"
    );

    let mctx = kit.ctx("primary/apigateway.base_path_mapping/api", PRIMARY);
    let (mapping, minputs) = kit
        .lifecycle(
            &mctx,
            json!({"domain_name": name, "base_path": "(none)", "rest_api_id": api_id, "stage": "prod"}),
            None,
        )
        .await;
    assert_eq!(mapping.id, format!("{name}/(none)"));
    kit.found(&mctx, &mapping, &minputs).await;
    assert!(kit.listed(&mctx, &mapping.id).await);

    // ACM refuses to delete a certificate in use: the delete waits until
    // the domain name is gone.
    let deleting = {
        let (providers, ctx, id, inputs, outputs) = (
            kit.providers.clone(),
            cctx.clone(),
            cert.id.clone(),
            cinputs.clone(),
            cert.outputs.clone(),
        );
        tokio::spawn(async move {
            let p = providers.get(ctx.address.kind()).unwrap();
            p.delete(&ctx, &id, &inputs, &outputs).await
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!deleting.is_finished(), "deleted while in use");
    kit.delete_found(&mctx, &mapping, &minputs).await;
    assert!(!kit.listed(&mctx, &mapping.id).await);
    kit.delete_found(&dctx, &dom, &dinputs).await;
    assert!(!kit.listed(&dctx, &dom.id).await);
    deleting
        .await
        .unwrap()
        .expect("the certificate delete waited");
    assert!(kit.read(&cctx, &cert.id, &cinputs).await.is_none());
    assert_eq!(find(&kit, &cctx, &cinputs).await, None);
    // The validation is gone with its certificate; deleting it is a no-op.
    assert!(kit.read(&vctx, &validation.id, &vinputs).await.is_none());
    kit.delete(&vctx, &validation, &vinputs).await;
    assert!(!kit.listed(&cctx, &arn).await);
    assert!(!kit.listed(&vctx, &arn).await);
    kit.delete_found(&rctx, &rec, &rinputs).await;
}

/// Certificates for one name in two regions ask for the same validation
/// record (ACM, per account and domain name), which is why the blueprint
/// creates it once; and the certificate the record validates in one region
/// is issued in the other too.
#[tokio::test(flavor = "multi_thread")]
async fn one_validation_record_validates_both_regions_certificates() {
    let kit = Kit::new("prov-acm-regions").await;
    let domain = "payment-prov-acm-regions.example.com";
    let name = format!("api.{domain}");
    let zone_id = zone(&kit, domain).await;
    emulator_for(&kit.env).register_domain(domain);
    let mut certs = Vec::new();
    for (role, region) in [("primary", PRIMARY), ("secondary", SECONDARY)] {
        let ctx = kit.ctx(&format!("{role}/acm.certificate/api"), region);
        let (c, i) = kit
            .lifecycle(&ctx, json!({"domain_name": name, "tags": {}}), None)
            .await;
        certs.push((ctx, c, i));
    }
    let record = |c: &drctl_core::Applied| {
        (
            out(c, "validation_record_name"),
            out(c, "validation_record_value"),
        )
    };
    assert_eq!(record(&certs[0].1), record(&certs[1].1));
    let rctx = kit.ctx("global/route53.record/api-certificate-validation", PRIMARY);
    let (rec, rinputs) = kit
        .lifecycle(
            &rctx,
            json!({"zone_id": zone_id, "name": record(&certs[0].1).0, "type": "CNAME", "ttl": 300,
                   "records": [record(&certs[0].1).1]}),
            None,
        )
        .await;
    for (role, (ctx, c, _)) in ["primary", "secondary"].iter().zip(&certs) {
        let vctx = kit.ctx(
            &format!("{role}/acm.certificate_validation/api"),
            &ctx.region,
        );
        let (v, _) = kit
            .lifecycle(
                &vctx,
                json!({"certificate_arn": c.id, "validation_record_fqdns": [out(&rec, "fqdn")]}),
                None,
            )
            .await;
        assert_eq!(v.id, c.id);
    }
    for (ctx, c, i) in &certs {
        kit.delete_found(ctx, c, i).await;
    }
    kit.delete(&rctx, &rec, &rinputs).await;
}

/// RequestCertificate takes an idempotency token: the same token within an
/// hour returns the first certificate (ACM API Reference,
/// RequestCertificate `IdempotencyToken`). drctl sends the create's token,
/// so the SDK's resends after lost responses, and a re-run's create with
/// the journal's token, make no second certificate.
#[tokio::test]
async fn a_certificate_request_whose_responses_are_lost_makes_one_certificate() {
    use drctl_tests::proxy::{FaultProxy, Faults};

    let env = "prov-acm-lost";
    let proxy = FaultProxy::start(&emulator_for(env).endpoint, Faults::none()).await;
    let kit = Kit::with_endpoint(env, &proxy.endpoint).await;
    let ctx = kit.ctx("primary/acm.certificate/api", PRIMARY);
    let name = "api.prov-acm-lost.example.com";
    let inputs = attrs(json!({"domain_name": name, "tags": {}}));
    // Every RequestCertificate reaches ACM and its answer is lost: the
    // SDK sends it again, up to its attempts, then the create fails.
    proxy.set(Faults {
        lose_mutating_responses: 1.0,
        ..Faults::none()
    });
    kit.provider(&ctx).create(&ctx, &inputs).await.unwrap_err();
    proxy.set(Faults::none());
    let log = proxy.counts.call_log();
    let sent = log.matches("RequestCertificate").count();
    assert!(sent >= 2, "the SDK resent the request: {log}");
    // The run again, with the intent's token.
    let cert = kit.provider(&ctx).create(&ctx, &inputs).await.unwrap();
    let listed = kit
        .aws
        .acm(PRIMARY)
        .list_certificates()
        .send()
        .await
        .unwrap();
    let ours: Vec<_> = listed
        .certificate_summary_list()
        .iter()
        .filter(|c| c.domain_name() == Some(name))
        .filter_map(|c| c.certificate_arn())
        .collect();
    assert_eq!(
        ours,
        [cert.id.as_str()],
        "one certificate for {sent} requests"
    );
    kit.delete(&ctx, &cert, &inputs).await;
}
