//! Provider tests: VPC peering across the two regions (requester,
//! accepter, routes through the connection).

use drctl_core::{Applied, Attributes, OpContext};
use drctl_tests::{PRIMARY, SECONDARY};
use serde_json::json;

use super::{Kit, out};

/// A VPC of `cidr` in `region`, as `<scope>/ec2.vpc/payment`.
async fn vpc(kit: &Kit, scope: &str, region: &str, cidr: &str) -> (OpContext, Applied, Attributes) {
    let ctx = kit.ctx(&format!("{scope}/ec2.vpc/payment"), region);
    let (a, i) = kit
        .lifecycle(
            &ctx,
            json!({"cidr_block": cidr, "enable_dns_support": true, "enable_dns_hostnames": true, "tags": {"Name": scope}}),
            None,
        )
        .await;
    (ctx, a, i)
}

/// `(status code, tags)` of the connection as `region` shows it.
async fn seen_from(kit: &Kit, region: &str, id: &str) -> (String, Vec<(String, String)>) {
    let out = kit
        .aws
        .ec2(region)
        .describe_vpc_peering_connections()
        .vpc_peering_connection_ids(id)
        .send()
        .await
        .unwrap();
    let c = &out.vpc_peering_connections()[0];
    let code = c
        .status()
        .and_then(|s| s.code())
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    let mut tags: Vec<_> = c
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    tags.sort();
    (code, tags)
}

fn tag(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

/// The primary requests, the secondary accepts in its own region; each
/// side has its own tags; routes in both regions go through the
/// connection; the accepter's delete leaves the connection to the
/// requester's, which removes it for both.
#[tokio::test]
async fn cross_region_connection_accepter_routes_and_delete() {
    let env = "prov-peer";
    let kit = Kit::new(env).await;
    let (pvctx, pvpc, pvinputs) = vpc(&kit, "primary", PRIMARY, "10.70.0.0/16").await;
    let (svctx, svpc, svinputs) = vpc(&kit, "secondary", SECONDARY, "10.71.0.0/16").await;

    let cctx = kit.ctx("primary/ec2.vpc_peering_connection/payment", PRIMARY);
    let request = |tags: serde_json::Value| {
        json!({"vpc_id": out(&pvpc, "vpc_id"), "peer_vpc_id": out(&svpc, "vpc_id"),
               "peer_region": SECONDARY, "tags": tags})
    };
    let (connection, cinputs) = kit
        .lifecycle(
            &cctx,
            request(json!({"Name": "requester"})),
            Some(request(json!({"Name": "requester-2", "Team": "sre"}))),
        )
        .await;
    let id = out(&connection, "vpc_peering_connection_id");
    assert_eq!(connection.id, id);
    // Create waited for the request to reach the accepter.
    assert_eq!(seen_from(&kit, PRIMARY, &id).await.0, "pending-acceptance");
    kit.found(&cctx, &connection, &cinputs).await;

    // Accepted in the primary's region: refused before any change.
    let wrong = kit.ctx(
        "secondary/ec2.vpc_peering_connection_accepter/payment",
        PRIMARY,
    );
    let err = kit
        .provider(&wrong)
        .create(
            &wrong,
            &super::attrs(json!({"vpc_peering_connection_id": id, "tags": {}})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");
    assert!(err.message.contains(SECONDARY), "{err}");

    let actx = kit.ctx(
        "secondary/ec2.vpc_peering_connection_accepter/payment",
        SECONDARY,
    );
    let (accepter, ainputs) = kit
        .lifecycle(
            &actx,
            json!({"vpc_peering_connection_id": id, "tags": {"Name": "accepter"}}),
            Some(json!({"vpc_peering_connection_id": id, "tags": {"Name": "accepter-2", "Team": "dr"}})),
        )
        .await;
    assert_eq!(accepter.id, id);
    assert_eq!(out(&accepter, "vpc_peering_connection_id"), id);
    // Create waited for `active`; each region shows its own side's tags.
    let (primary_code, primary_tags) = seen_from(&kit, PRIMARY, &id).await;
    let (secondary_code, secondary_tags) = seen_from(&kit, SECONDARY, &id).await;
    assert_eq!(
        (primary_code.as_str(), secondary_code.as_str()),
        ("active", "active")
    );
    assert_eq!(
        primary_tags,
        vec![
            tag("Name", "requester-2"),
            tag("Team", "sre"),
            tag(
                "drctl:address",
                "primary/ec2.vpc_peering_connection/payment"
            ),
            tag("drctl:env", env),
        ]
    );
    assert_eq!(
        secondary_tags,
        vec![
            tag("Name", "accepter-2"),
            tag("Team", "dr"),
            tag(
                "drctl:address",
                "secondary/ec2.vpc_peering_connection_accepter/payment"
            ),
            tag("drctl:env", env),
        ]
    );
    kit.found(&actx, &accepter, &ainputs).await;
    // A second create (a re-run) finds it accepted and only tags it.
    kit.provider(&actx).create(&actx, &ainputs).await.unwrap();
    // Drift on the accepter's side only.
    kit.aws
        .ec2(SECONDARY)
        .delete_tags()
        .resources(&id)
        .tags(aws_sdk_ec2::types::Tag::builder().key("Team").build())
        .send()
        .await
        .unwrap();
    assert_eq!(
        kit.read(&actx, &id, &ainputs).await.unwrap()["tags"],
        json!({"Name": "accepter-2"})
    );
    assert_eq!(
        kit.read(&cctx, &id, &cinputs).await.unwrap()["tags"],
        json!({"Name": "requester-2", "Team": "sre"})
    );

    // A route to the peer VPC in each region, through the connection.
    let mut routes = Vec::new();
    for (scope, region, vpc, peer_cidr) in [
        ("primary", PRIMARY, &pvpc, "10.71.0.0/16"),
        ("secondary", SECONDARY, &svpc, "10.70.0.0/16"),
    ] {
        let tctx = kit.ctx(&format!("{scope}/ec2.route_table/private"), region);
        let (table, tinputs) = kit
            .lifecycle(
                &tctx,
                json!({"vpc_id": out(vpc, "vpc_id"), "tags": {"Name": "t"}}),
                None,
            )
            .await;
        let rctx = kit.ctx(&format!("{scope}/ec2.route/private-peer"), region);
        let (route, rinputs) = kit
            .lifecycle(
                &rctx,
                json!({"route_table_id": out(&table, "route_table_id"),
                       "destination_cidr_block": peer_cidr, "vpc_peering_connection_id": id}),
                None,
            )
            .await;
        kit.found(&rctx, &route, &rinputs).await;
        routes.push((tctx, table, tinputs, rctx, route, rinputs));
    }

    // Destroy order: routes, the accepter, the connection.
    for (_, _, _, rctx, route, rinputs) in &routes {
        kit.delete_listed(rctx, route, rinputs, false).await;
    }
    // Each side is listed in its own region only.
    assert!(kit.listed(&actx, &id).await && !kit.listed(&wrong, &id).await);
    kit.provider(&actx)
        .delete(&actx, &id, &ainputs, &accepter.outputs)
        .await
        .unwrap();
    assert!(
        kit.read(&actx, &id, &ainputs).await.is_some(),
        "the accepter's delete sends nothing: the connection stays until the requester's delete"
    );
    kit.delete_listed(&cctx, &connection, &cinputs, true).await;
    assert!(!kit.listed(&actx, &id).await);
    assert_eq!(seen_from(&kit, SECONDARY, &id).await.0, "deleted");
    assert!(kit.read(&actx, &id, &ainputs).await.is_none());
    assert_eq!(
        kit.provider(&actx).find(&actx, &ainputs).await.unwrap(),
        None
    );
    for (tctx, table, tinputs, _, _, _) in &routes {
        kit.delete(tctx, table, tinputs).await;
    }
    kit.delete(&svctx, &svpc, &svinputs).await;
    kit.delete(&pvctx, &pvpc, &pvinputs).await;
}

/// AWS fails a request between VPCs whose CIDR blocks overlap (the
/// emulator extension `ext_ec2_peering.py` does the same): create is an
/// error naming the status, nothing is found for the address, and the
/// failed connection, which AWS will not delete, counts as deleted.
#[tokio::test]
async fn a_request_between_overlapping_vpcs_fails() {
    let kit = Kit::new("prov-peer-overlap").await;
    let (pvctx, pvpc, pvinputs) = vpc(&kit, "primary", PRIMARY, "10.72.0.0/16").await;
    let (svctx, svpc, svinputs) = vpc(&kit, "secondary", SECONDARY, "10.72.128.0/17").await;
    let cctx = kit.ctx("primary/ec2.vpc_peering_connection/payment", PRIMARY);
    let inputs = super::attrs(json!({"vpc_id": out(&pvpc, "vpc_id"),
        "peer_vpc_id": out(&svpc, "vpc_id"), "peer_region": SECONDARY, "tags": {}}));
    let p = kit.provider(&cctx);
    let err = p.create(&cctx, &inputs).await.unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("VpcPeeringConnectionFailed"),
        "{err}"
    );
    assert!(err.message.contains("is failed"), "{err}");
    assert!(err.message.contains("overlap"), "{err}");
    assert_eq!(p.find(&cctx, &inputs).await.unwrap(), None);
    // The failed request is still listed, as on AWS (for 2 hours there).
    let listed = kit
        .aws
        .ec2(PRIMARY)
        .describe_vpc_peering_connections()
        .send()
        .await
        .unwrap();
    let failed = listed
        .vpc_peering_connections()
        .iter()
        .find(|c| {
            c.requester_vpc_info().and_then(|v| v.vpc_id()) == Some(out(&pvpc, "vpc_id").as_str())
        })
        .and_then(|c| c.vpc_peering_connection_id())
        .unwrap()
        .to_owned();
    assert_eq!(seen_from(&kit, PRIMARY, &failed).await.0, "failed");
    assert!(p.read(&cctx, &failed, &inputs).await.unwrap().is_none());
    p.delete(&cctx, &failed, &inputs, &Attributes::new())
        .await
        .unwrap();
    kit.delete(&svctx, &svpc, &svinputs).await;
    kit.delete(&pvctx, &pvpc, &pvinputs).await;
}

/// CreateVpcPeeringConnection takes no idempotency token: when AWS made
/// the connection and its answer was lost, create finds it by its tags
/// instead of requesting a second one.
#[tokio::test(flavor = "multi_thread")]
async fn a_create_whose_answer_is_lost_adopts_the_connection_it_made() {
    use drctl_tests::emulator_for;
    use drctl_tests::proxy::{FaultProxy, Faults};
    let env = "prov-peer-lost";
    let kit = Kit::new(env).await;
    let (pvctx, pvpc, pvinputs) = vpc(&kit, "primary", PRIMARY, "10.73.0.0/16").await;
    let (svctx, svpc, svinputs) = vpc(&kit, "secondary", SECONDARY, "10.74.0.0/16").await;
    let proxy = FaultProxy::start(
        &emulator_for(env).endpoint,
        Faults {
            lose_create_responses: 1.0,
            ..Faults::none()
        },
    )
    .await;
    let lossy = Kit::with_endpoint(env, &proxy.endpoint).await;
    let cctx = lossy.ctx("primary/ec2.vpc_peering_connection/payment", PRIMARY);
    let inputs = super::attrs(json!({"vpc_id": out(&pvpc, "vpc_id"),
        "peer_vpc_id": out(&svpc, "vpc_id"), "peer_region": SECONDARY, "tags": {"Name": "p"}}));
    let applied = lossy.provider(&cctx).create(&cctx, &inputs).await.unwrap();
    assert_eq!(
        proxy.counts.lost_operations.lock().unwrap().as_slice(),
        ["CreateVpcPeeringConnection"]
    );
    let listed = kit
        .aws
        .ec2(PRIMARY)
        .describe_vpc_peering_connections()
        .send()
        .await
        .unwrap();
    let requested: Vec<_> = listed
        .vpc_peering_connections()
        .iter()
        .filter(|c| {
            c.requester_vpc_info().and_then(|v| v.vpc_id()) == Some(out(&pvpc, "vpc_id").as_str())
        })
        .filter_map(|c| c.vpc_peering_connection_id())
        .collect();
    assert_eq!(requested, [applied.id.as_str()], "one connection, adopted");
    let ctx = kit.ctx("primary/ec2.vpc_peering_connection/payment", PRIMARY);
    kit.delete_found(&ctx, &applied, &inputs).await;
    kit.delete(&svctx, &svpc, &svinputs).await;
    kit.delete(&pvctx, &pvpc, &pvinputs).await;
}

/// A connection id AWS does not know (any more: a deleted connection is
/// listed for a while only) is InvalidVpcPeeringConnectionID.NotFound:
/// read takes it as gone for the requester and for the accepter, and the
/// requester's delete as done.
#[tokio::test]
async fn a_connection_aws_does_not_know_reads_as_gone() {
    let kit = Kit::new("prov-peer-unknown").await;
    let unknown = "pcx-0123456789abcdef0";
    // Each kind's inputs as its state records them.
    let inputs: Attributes = serde_json::from_value(json!({
        "vpc_id": "vpc-0123456789abcdef0", "peer_vpc_id": "vpc-0123456789abcdef1",
        "peer_region": SECONDARY, "tags": {}
    }))
    .unwrap();
    let accepter_inputs: Attributes =
        serde_json::from_value(json!({"vpc_peering_connection_id": unknown, "tags": {}})).unwrap();
    for (address, region, inputs) in [
        (
            "primary/ec2.vpc_peering_connection/payment",
            PRIMARY,
            &inputs,
        ),
        (
            "secondary/ec2.vpc_peering_connection_accepter/payment",
            SECONDARY,
            &accepter_inputs,
        ),
    ] {
        let ctx = kit.ctx(address, region);
        assert!(kit.read(&ctx, unknown, inputs).await.is_none(), "{address}");
    }
    let ctx = kit.ctx("primary/ec2.vpc_peering_connection/payment", PRIMARY);
    kit.provider(&ctx)
        .delete(&ctx, unknown, &inputs, &Attributes::new())
        .await
        .unwrap();
}
