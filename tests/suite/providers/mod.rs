//! Each resource kind against the emulator through the real SDK clients:
//! create, read (round trip), update, drift seen by read, delete.
//!
//! `Kit` holds the shared helpers; each service has its own submodule.

mod acm;
mod apigateway;
mod backup;
mod cloudwatch;
mod containers;
mod dynamodb;
mod encryption;
mod events;
mod iam_lambda;
mod kms;
mod peering;
mod rds;
mod route53;
mod sfn;
mod sns;

use drctl_core::{Address, Applied, Attributes, OpContext, Provider, Providers};
use drctl_tests::proxy::{FaultProxy, Faults};
use drctl_tests::{PRIMARY, SECONDARY, aws, emulator_for};
use serde_json::{Value as Json, json};

pub(crate) struct Kit {
    pub providers: Providers,
    pub aws: drctl_aws::AwsContext,
    pub env: String,
}

impl Kit {
    pub(crate) async fn new(env: &str) -> Kit {
        Self::with_endpoint(env, &emulator_for(env).endpoint).await
    }

    /// A kit whose calls go to `endpoint` (a proxy in front of the env's
    /// emulator, say).
    pub(crate) async fn with_endpoint(env: &str, endpoint: &str) -> Kit {
        let aws = aws(endpoint).await;
        Kit {
            providers: drctl_aws::providers(&aws),
            aws,
            env: env.to_owned(),
        }
    }

    pub(crate) fn ctx(&self, address: &str, region: &str) -> OpContext {
        let address = address.parse::<Address>().unwrap();
        OpContext {
            // As the executor gives a create: one token per context.
            token: Some(drctl_core::journal::new_token(&self.env, &address)),
            env: self.env.clone(),
            address,
            region: region.to_owned(),
        }
    }

    pub(crate) fn provider(&self, ctx: &OpContext) -> &dyn Provider {
        self.providers.get(ctx.address.kind()).unwrap().as_ref()
    }

    /// Creates, checks that a read returns exactly the inputs, updates to
    /// `updated` (if given) and checks the read again.
    pub(crate) async fn lifecycle(
        &self,
        ctx: &OpContext,
        inputs: Json,
        updated: Option<Json>,
    ) -> (Applied, Attributes) {
        let p = self.provider(ctx);
        let inputs = attrs(inputs);
        let applied = p.create(ctx, &inputs).await.unwrap();
        let read = p
            .read(ctx, &applied.id, &inputs)
            .await
            .unwrap()
            .expect("exists after create");
        assert_eq!(read.inputs, inputs, "read after create of {}", ctx.address);
        assert_eq!(read.outputs, applied.outputs, "outputs of {}", ctx.address);
        let Some(updated) = updated else {
            return (applied, inputs);
        };
        let updated = attrs(updated);
        p.update(ctx, &applied.id, &inputs, &updated).await.unwrap();
        let read = p
            .read(ctx, &applied.id, &updated)
            .await
            .unwrap()
            .expect("exists after update");
        assert_eq!(read.inputs, updated, "read after update of {}", ctx.address);
        (applied, updated)
    }

    pub(crate) async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Attributes,
    ) -> Option<Attributes> {
        self.provider(ctx)
            .read(ctx, id, inputs)
            .await
            .unwrap()
            .map(|o| o.inputs)
    }

    /// Crash recovery: `find` with the create's context and inputs gives
    /// the created id; after `delete` (see `delete_found`) it gives nothing.
    pub(crate) async fn found(&self, ctx: &OpContext, applied: &Applied, inputs: &Attributes) {
        let found = self.provider(ctx).find(ctx, inputs).await.unwrap();
        assert_eq!(
            found.as_deref(),
            Some(applied.id.as_str()),
            "find of {}",
            ctx.address
        );
    }

    /// `delete`, then `find` no longer finds it.
    pub(crate) async fn delete_found(
        &self,
        ctx: &OpContext,
        applied: &Applied,
        inputs: &Attributes,
    ) {
        self.delete(ctx, applied, inputs).await;
        assert_eq!(
            self.provider(ctx).find(ctx, inputs).await.unwrap(),
            None,
            "find of {} after delete",
            ctx.address
        );
    }

    /// Deletes, checks it is gone, and that deleting again succeeds.
    pub(crate) async fn delete(&self, ctx: &OpContext, applied: &Applied, inputs: &Attributes) {
        let p = self.provider(ctx);
        p.delete(ctx, &applied.id, inputs, &applied.outputs)
            .await
            .unwrap();
        assert!(
            p.read(ctx, &applied.id, inputs).await.unwrap().is_none(),
            "{} still exists",
            ctx.address
        );
        p.delete(ctx, &applied.id, inputs, &applied.outputs)
            .await
            .unwrap();
    }

    /// Whether `list` of `ctx`'s kind, for its environment and region, has
    /// `id`.
    pub(crate) async fn listed(&self, ctx: &OpContext, id: &str) -> bool {
        let scope = drctl_core::ListScope {
            env: ctx.env.clone(),
            region: ctx.region.clone(),
        };
        let ids = self.provider(ctx).list(&scope).await.unwrap();
        ids.iter().any(|listed| listed == id)
    }

    /// `delete` (`delete_found` when `found`), checking that `list` has the
    /// resource before and no longer has it after.
    pub(crate) async fn delete_listed(
        &self,
        ctx: &OpContext,
        applied: &Applied,
        inputs: &Attributes,
        found: bool,
    ) {
        let address = &ctx.address;
        assert!(self.listed(ctx, &applied.id).await, "{address} not listed");
        if found {
            self.delete_found(ctx, applied, inputs).await;
        } else {
            self.delete(ctx, applied, inputs).await;
        }
        assert!(
            !self.listed(ctx, &applied.id).await,
            "{address} listed after its delete"
        );
    }

    /// Tags an EC2 resource a test made through the SDK as drctl's create
    /// for `ctx` tags it, so that drctl's delete of it proves it this
    /// environment's.
    pub(crate) async fn tag_as_drctls(&self, ctx: &OpContext, id: &str) {
        let tag = |k: &str, v: String| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
        self.aws
            .ec2(&ctx.region)
            .create_tags()
            .resources(id)
            .tags(tag("drctl:env", ctx.env.clone()))
            .tags(tag("drctl:address", ctx.address.to_string()))
            .send()
            .await
            .unwrap();
    }

    pub(crate) async fn vpc(&self, region: &str, cidr: &str) -> (OpContext, Applied, Attributes) {
        let ctx = self.ctx("primary/ec2.vpc/payment", region);
        let (a, i) = self
            .lifecycle(
                &ctx,
                json!({"cidr_block": cidr, "enable_dns_support": true, "enable_dns_hostnames": true, "tags": {"Name": "t"}}),
                None,
            )
            .await;
        (ctx, a, i)
    }
}

pub(crate) fn attrs(v: Json) -> Attributes {
    serde_json::from_value(v).unwrap()
}

pub(crate) fn out(a: &Applied, key: &str) -> String {
    a.outputs[key].as_str().unwrap().to_owned()
}

/// A VPC or route table still in use answers DependencyViolation; on AWS
/// what uses it (a function's network interfaces, a subnet another tool
/// removes) goes minutes later, so delete waits it out as subnets do.
#[tokio::test(flavor = "multi_thread")]
async fn vpc_and_route_table_deletes_wait_for_what_still_uses_them() {
    let env = "prov-vpc-busy";
    let emulator = emulator_for(env);
    let proxy = FaultProxy::start(&emulator.endpoint, Faults::none()).await;
    let kit = Kit::with_endpoint(env, &proxy.endpoint).await;
    let direct = aws(&emulator.endpoint).await.ec2(PRIMARY);
    let (vctx, vpc, vinputs) = kit.vpc(PRIMARY, "10.58.0.0/16").await;
    let subnet = direct
        .create_subnet()
        .vpc_id(&vpc.id)
        .cidr_block("10.58.1.0/24")
        .send()
        .await
        .unwrap();
    let subnet_id = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
    let rctx = kit.ctx("primary/ec2.route_table/private", PRIMARY);
    let (table, rinputs) = kit
        .lifecycle(
            &rctx,
            json!({"vpc_id": vpc.id, "tags": {"Name": "busy"}}),
            None,
        )
        .await;
    let association = direct
        .associate_route_table()
        .route_table_id(&table.id)
        .subnet_id(&subnet_id)
        .send()
        .await
        .unwrap();

    // Each delete starts while something still uses its resource; that
    // goes once the first refusal has been answered.
    let answered = || {
        proxy
            .counts
            .answered
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    // Starts deleting `id` and returns once AWS has answered its first call.
    let start_delete = |ctx: &OpContext, id: &str, inputs: &Attributes| {
        let before = answered();
        let (providers, ctx, id, inputs) = (
            kit.providers.clone(),
            ctx.clone(),
            id.to_owned(),
            inputs.clone(),
        );
        let deleting = tokio::spawn(async move {
            let p = providers.get(ctx.address.kind()).unwrap();
            p.delete(&ctx, &id, &inputs, &Attributes::new()).await
        });
        assert!(drctl_tests::eventually(
            std::time::Duration::from_secs(60),
            || answered() > before
        ));
        deleting
    };

    let deleting = start_delete(&rctx, &table.id, &rinputs);
    direct
        .disassociate_route_table()
        .association_id(association.association_id().unwrap())
        .send()
        .await
        .unwrap();
    deleting
        .await
        .unwrap()
        .expect("the route table delete waited");

    let deleting = start_delete(&vctx, &vpc.id, &vinputs);
    direct
        .delete_subnet()
        .subnet_id(&subnet_id)
        .send()
        .await
        .unwrap();
    deleting.await.unwrap().expect("the VPC delete waited");
    assert!(kit.read(&vctx, &vpc.id, &vinputs).await.is_none());
}

/// DeleteVpcEndpoints succeeds (HTTP 200) even when it deleted nothing:
/// each endpoint it could not delete is an `unsuccessful` item (EC2 API
/// reference, DeleteVpcEndpoints). The emulator never answers so; the
/// proxy does, as AWS would for an endpoint in a state that cannot go.
#[tokio::test(flavor = "multi_thread")]
async fn a_vpc_endpoint_delete_that_aws_refuses_is_an_error() {
    let env = "prov-vpce-refused";
    let proxy = FaultProxy::start(&emulator_for(env).endpoint, Faults::none()).await;
    let kit = Kit::with_endpoint(env, &proxy.endpoint).await;
    let (vctx, vpc, vinputs) = kit.vpc(PRIMARY, "10.59.0.0/16").await;
    let ectx = kit.ctx("primary/ec2.vpc_endpoint/s3", PRIMARY);
    let (endpoint, einputs) = kit
        .lifecycle(
            &ectx,
            json!({"vpc_id": vpc.id, "service_name": "com.amazonaws.us-east-1.s3",
                   "vpc_endpoint_type": "Gateway", "route_table_ids": [], "tags": {"Name": "e"}}),
            None,
        )
        .await;
    let refusal = format!(
        "<DeleteVpcEndpointsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>injected</requestId><unsuccessful><item><error><code>IncorrectState</code><message>The VPC endpoint is not in a state that allows deletion</message></error><resourceId>{}</resourceId></item></unsuccessful></DeleteVpcEndpointsResponse>",
        endpoint.id
    );
    proxy.set(Faults {
        answer: Some(("Action=DeleteVpcEndpoints&".into(), refusal)),
        ..Faults::none()
    });
    let err = kit
        .provider(&ectx)
        .delete(&ectx, &endpoint.id, &einputs, &endpoint.outputs)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("IncorrectState"), "{err}");
    assert!(err.to_string().contains(&endpoint.id), "{err}");
    assert!(kit.read(&ectx, &endpoint.id, &einputs).await.is_some());

    // Accepted, the delete returns once the endpoint is gone.
    proxy.set(Faults::none());
    kit.delete(&ectx, &endpoint, &einputs).await;
    kit.delete(&vctx, &vpc, &vinputs).await;
}

#[tokio::test]
async fn vpc_lifecycle_and_drift() {
    let kit = Kit::new("prov-vpc").await;
    let ctx = kit.ctx("primary/ec2.vpc/payment", SECONDARY);
    let (applied, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"cidr_block": "10.50.0.0/16", "enable_dns_support": true, "enable_dns_hostnames": true, "tags": {"Name": "a"}}),
            Some(json!({"cidr_block": "10.50.0.0/16", "enable_dns_support": true, "enable_dns_hostnames": false, "tags": {"Name": "b", "Team": "sre"}})),
        )
        .await;
    // The identity tags are on the resource, though not part of the inputs.
    let ec2 = kit.aws.ec2(SECONDARY);
    let vpc = ec2
        .describe_vpcs()
        .vpc_ids(&applied.id)
        .send()
        .await
        .unwrap();
    let tags: Vec<_> = vpc.vpcs()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert!(tags.contains(&("drctl:env", "prov-vpc")));
    assert!(tags.contains(&("drctl:address", "primary/ec2.vpc/payment")));
    // Drift: a tag removed out of band.
    ec2.delete_tags()
        .resources(&applied.id)
        .tags(aws_sdk_ec2::types::Tag::builder().key("Team").build())
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &applied.id, &inputs).await.unwrap();
    assert_eq!(seen["tags"], json!({"Name": "b"}));
    kit.found(&ctx, &applied, &inputs).await;
    // Another address of the same env finds nothing.
    let other = kit.ctx("secondary/ec2.vpc/payment", SECONDARY);
    assert_eq!(
        kit.provider(&other).find(&other, &inputs).await.unwrap(),
        None
    );
    kit.delete_listed(&ctx, &applied, &inputs, true).await;
}

#[tokio::test]
async fn subnet_route_table_route_association_and_gateway() {
    let kit = Kit::new("prov-net").await;
    let (vctx, vpc, vinputs) = kit.vpc(PRIMARY, "10.51.0.0/16").await;
    let vpc_id = out(&vpc, "vpc_id");

    let sctx = kit.ctx("primary/ec2.subnet/public-a", PRIMARY);
    let (subnet, sinputs) = kit
        .lifecycle(
            &sctx,
            json!({"vpc_id": vpc_id, "cidr_block": "10.51.0.0/24", "availability_zone": "us-east-1a", "map_public_ip_on_launch": false, "tags": {"Name": "s"}}),
            Some(json!({"vpc_id": vpc_id, "cidr_block": "10.51.0.0/24", "availability_zone": "us-east-1a", "map_public_ip_on_launch": true, "tags": {"Name": "s2"}})),
        )
        .await;

    let gctx = kit.ctx("primary/ec2.internet_gateway/payment", PRIMARY);
    let (igw, ginputs) = kit
        .lifecycle(
            &gctx,
            json!({"vpc_id": vpc_id, "tags": {"Name": "g"}}),
            Some(json!({"vpc_id": vpc_id, "tags": {"Name": "g2"}})),
        )
        .await;

    let tctx = kit.ctx("primary/ec2.route_table/public", PRIMARY);
    let (table, tinputs) = kit
        .lifecycle(
            &tctx,
            json!({"vpc_id": vpc_id, "tags": {"Name": "t"}}),
            Some(json!({"vpc_id": vpc_id, "tags": {"Name": "t2"}})),
        )
        .await;
    let table_id = out(&table, "route_table_id");

    let rctx = kit.ctx("primary/ec2.route/public-default", PRIMARY);
    let (route, rinputs) = kit
        .lifecycle(
            &rctx,
            json!({"route_table_id": table_id, "destination_cidr_block": "0.0.0.0/0", "gateway_id": igw.id}),
            None,
        )
        .await;

    let actx = kit.ctx("primary/ec2.route_table_association/public-a", PRIMARY);
    let (assoc, ainputs) = kit
        .lifecycle(
            &actx,
            json!({"subnet_id": subnet.id, "route_table_id": table_id}),
            None,
        )
        .await;

    // Drift: the route deleted out of band is seen as gone.
    kit.aws
        .ec2(PRIMARY)
        .delete_route()
        .route_table_id(&table_id)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    assert!(kit.read(&rctx, &route.id, &rinputs).await.is_none());
    // Drift: the subnet's public-IP setting changed out of band.
    kit.aws
        .ec2(PRIMARY)
        .modify_subnet_attribute()
        .subnet_id(&subnet.id)
        .map_public_ip_on_launch(
            aws_sdk_ec2::types::AttributeBooleanValue::builder()
                .value(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        kit.read(&sctx, &subnet.id, &sinputs).await.unwrap()["map_public_ip_on_launch"],
        json!(false)
    );

    for (ctx, applied, inputs) in [
        (&actx, &assoc, &ainputs),
        (&tctx, &table, &tinputs),
        (&gctx, &igw, &ginputs),
        (&sctx, &subnet, &sinputs),
    ] {
        kit.found(ctx, applied, inputs).await;
    }
    // The route was deleted out of band above: nothing to find or list.
    assert_eq!(
        kit.provider(&rctx).find(&rctx, &rinputs).await.unwrap(),
        None
    );
    assert!(!kit.listed(&rctx, &route.id).await);
    kit.delete_listed(&actx, &assoc, &ainputs, true).await;
    kit.delete(&rctx, &route, &rinputs).await;
    kit.delete_listed(&tctx, &table, &tinputs, true).await;
    kit.delete_listed(&gctx, &igw, &ginputs, true).await;
    kit.delete_listed(&sctx, &subnet, &sinputs, true).await;
    kit.delete_listed(&vctx, &vpc, &vinputs, false).await;
}

#[tokio::test]
async fn security_groups_with_named_rules_and_rule_drift() {
    let kit = Kit::new("prov-sg").await;
    let (vctx, vpc, vinputs) = kit.vpc(PRIMARY, "10.52.0.0/16").await;
    let vpc_id = out(&vpc, "vpc_id");
    let lctx = kit.ctx("primary/ec2.security_group/lambda", PRIMARY);
    let (lambda, linputs) = kit
        .lifecycle(
            &lctx,
            json!({"name": "prov-sg-lambda", "description": "l", "vpc_id": vpc_id, "ingress": {},
                   "egress": {"all-outbound": {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_block": "0.0.0.0/0"}},
                   "tags": {"Name": "l"}}),
            None,
        )
        .await;
    let dctx = kit.ctx("primary/ec2.security_group/db", PRIMARY);
    let rule = json!({"protocol": "tcp", "from_port": 5432, "to_port": 5432, "source_security_group_id": lambda.id});
    let (db, dinputs) = kit
        .lifecycle(
            &dctx,
            json!({"name": "prov-sg-db", "description": "d", "vpc_id": vpc_id, "ingress": {"postgres-from-lambda": rule}, "egress": {}, "tags": {}}),
            Some(json!({"name": "prov-sg-db", "description": "d", "vpc_id": vpc_id,
                        "ingress": {"postgres-from-lambda": rule, "admin": {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_block": "10.52.0.0/24"}},
                        "egress": {}, "tags": {"Name": "d"}})),
        )
        .await;
    // Drift: a rule added out of band shows up as unmanaged...
    kit.aws
        .ec2(PRIMARY)
        .authorize_security_group_ingress()
        .group_id(&db.id)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let seen = kit.read(&dctx, &db.id, &dinputs).await.unwrap();
    assert!(
        seen["ingress"]
            .get("unmanaged-tcp-443-443-0.0.0.0/0")
            .is_some(),
        "{seen:?}"
    );
    // ...and an update from the observed inputs removes it.
    let p = kit.provider(&dctx);
    p.update(&dctx, &db.id, &seen, &dinputs).await.unwrap();
    assert_eq!(kit.read(&dctx, &db.id, &dinputs).await.unwrap(), dinputs);

    kit.found(&dctx, &db, &dinputs).await;
    kit.delete_listed(&dctx, &db, &dinputs, true).await;
    kit.delete_listed(&lctx, &lambda, &linputs, true).await;
    kit.delete(&vctx, &vpc, &vinputs).await;
}

/// DeleteObjects answers 200 and lists the keys it could not delete (S3
/// API Reference, DeleteObjects: `Error` elements); the proxy answers so,
/// as S3 does for an object under Object Lock. Emptying stops and names
/// them instead of listing and deleting the same keys for ever.
#[tokio::test(flavor = "multi_thread")]
async fn emptying_a_bucket_stops_at_keys_s3_will_not_delete() {
    let env = "prov-s3-locked";
    let proxy = FaultProxy::start(&emulator_for(env).endpoint, Faults::none()).await;
    let kit = Kit::with_endpoint(env, &proxy.endpoint).await;
    let ctx = kit.ctx("primary/s3.bucket/data", PRIMARY);
    let name = "payment-data-prov-s3-locked";
    let (bucket, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"bucket": name, "versioning": true, "sse_algorithm": "AES256", "block_public_access": true, "lifecycle_rules": [], "tags": {"Name": "b"}}),
            None,
        )
        .await;
    let s3 = kit.aws.s3(PRIMARY);
    let put = s3
        .put_object()
        .bucket(name)
        .key("ledger/2026-12-01.csv")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"locked"))
        .send()
        .await
        .unwrap();
    let refusal = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Error><Key>ledger/2026-12-01.csv</Key><VersionId>{}</VersionId><Code>AccessDenied</Code><Message>Access Denied because object protected by object lock.</Message></Error></DeleteResult>",
        put.version_id().unwrap_or("null")
    );
    proxy.set(Faults {
        answer: Some(("?delete HTTP/1.1".into(), refusal)),
        ..Faults::none()
    });
    // Bounded: before, this listed and deleted the same key for ever.
    let deleting = kit
        .provider(&ctx)
        .delete(&ctx, &bucket.id, &inputs, &bucket.outputs);
    let err = tokio::time::timeout(std::time::Duration::from_secs(120), deleting)
        .await
        .expect("emptying stops")
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("AccessDenied"), "{err}");
    assert!(err.to_string().contains("ledger/2026-12-01.csv"), "{err}");
    assert!(kit.read(&ctx, &bucket.id, &inputs).await.is_some());

    proxy.set(Faults::none());
    kit.delete(&ctx, &bucket, &inputs).await;
}

/// A bucket whose inputs name no default encryption still has SSE-S3 on
/// AWS, and GetBucketEncryption says `AES256` (tests/emulator/ext_s3.py):
/// that default reads as no setting, not as drift; one the inputs name
/// reads back.
#[tokio::test]
async fn a_bucket_without_encryption_settings_reads_as_created() {
    let kit = Kit::new("prov-s3-sse").await;
    let ctx = kit.ctx("primary/s3.bucket/data", PRIMARY);
    let spec = json!({"bucket": "payment-data-prov-s3-sse", "versioning": false, "block_public_access": true, "lifecycle_rules": [], "tags": {}});
    let mut encrypted = spec.clone();
    encrypted["sse_algorithm"] = json!("AES256");
    let (bucket, inputs) = kit.lifecycle(&ctx, spec, Some(encrypted)).await;
    kit.delete(&ctx, &bucket, &inputs).await;
}

/// More object versions than one DeleteObjects takes (1,000, S3 API
/// Reference, DeleteObjects; refused above that by
/// tests/emulator/ext_s3.py): emptying deletes one ListObjectVersions page
/// (at most 1,000) per request until none is left.
#[tokio::test(flavor = "multi_thread")]
async fn emptying_a_bucket_deletes_a_page_of_versions_at_a_time() {
    let kit = Kit::new("prov-s3-many").await;
    let ctx = kit.ctx("primary/s3.bucket/data", PRIMARY);
    let name = "payment-data-prov-s3-many";
    let (bucket, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"bucket": name, "versioning": true, "sse_algorithm": "AES256", "block_public_access": true, "lifecycle_rules": [], "tags": {}}),
            None,
        )
        .await;
    let s3 = kit.aws.s3(PRIMARY);
    let mut puts = tokio::task::JoinSet::new();
    for lane in 0..8 {
        let s3 = s3.clone();
        puts.spawn(async move {
            for i in (lane..1001).step_by(8) {
                s3.put_object()
                    .bucket(name)
                    .key(format!("ledger/{i:05}.csv"))
                    .body(aws_sdk_s3::primitives::ByteStream::from_static(b"v"))
                    .send()
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = puts.join_next().await {
        done.unwrap();
    }
    s3.delete_object()
        .bucket(name)
        .key("ledger/00000.csv")
        .send()
        .await
        .unwrap();
    kit.delete(&ctx, &bucket, &inputs).await;
}

#[tokio::test]
async fn bucket_settings_update_and_drift() {
    let kit = Kit::new("prov-s3").await;
    for region in [PRIMARY, SECONDARY] {
        let ctx = kit.ctx("primary/s3.bucket/data", region);
        let name = format!("payment-data-prov-s3-{region}");
        // The bucket policy the blueprint gives every bucket: requests
        // without TLS are denied (a Deny, which the public access block
        // accepts).
        let arn = format!("arn:aws:s3:::{name}");
        let tls_only = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyRequestsWithoutTls", "Effect": "Deny", "Principal": "*",
                "Action": "s3:*", "Resource": [arn.clone(), format!("{arn}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            }]
        });
        let (bucket, inputs) = kit
            .lifecycle(
                &ctx,
                json!({"bucket": name, "versioning": true, "sse_algorithm": "AES256", "block_public_access": true, "lifecycle_rules": [], "tags": {"Name": "b"}}),
                Some(json!({"bucket": name, "versioning": true, "sse_algorithm": "AES256", "block_public_access": true,
                            "lifecycle_rules": [{"id": "to-glacier", "transition_days": 90, "storage_class": "GLACIER"}],
                            "policy": tls_only,
                            "tags": {"Name": "b2", "Team": "sre"}})),
            )
            .await;
        assert_eq!(bucket.outputs["arn"], json!(format!("arn:aws:s3:::{name}")));
        // Drift: the policy deleted out of band reads as none; the update
        // puts it back. Asked for no policy, the update removes it.
        let s3 = kit.aws.s3(region);
        s3.delete_bucket_policy()
            .bucket(&name)
            .send()
            .await
            .unwrap();
        let seen = kit.read(&ctx, &bucket.id, &inputs).await.unwrap();
        assert_eq!(seen["policy"], Json::Null);
        kit.provider(&ctx)
            .update(&ctx, &bucket.id, &seen, &inputs)
            .await
            .unwrap();
        assert_eq!(kit.read(&ctx, &bucket.id, &inputs).await.unwrap(), inputs);
        let mut unpolicied = inputs.clone();
        unpolicied.insert("policy".into(), Json::Null);
        kit.provider(&ctx)
            .update(&ctx, &bucket.id, &inputs, &unpolicied)
            .await
            .unwrap();
        assert_eq!(
            kit.read(&ctx, &bucket.id, &unpolicied).await.unwrap(),
            unpolicied
        );
        kit.provider(&ctx)
            .update(&ctx, &bucket.id, &unpolicied, &inputs)
            .await
            .unwrap();
        // Drift: versioning suspended and the public access block removed.
        s3.put_bucket_versioning()
            .bucket(&name)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        s3.delete_public_access_block()
            .bucket(&name)
            .send()
            .await
            .unwrap();
        let seen = kit.read(&ctx, &bucket.id, &inputs).await.unwrap();
        assert_eq!(
            (
                seen["versioning"].clone(),
                seen["block_public_access"].clone()
            ),
            (json!(false), json!(false))
        );
        kit.provider(&ctx)
            .update(&ctx, &bucket.id, &seen, &inputs)
            .await
            .unwrap();
        assert_eq!(kit.read(&ctx, &bucket.id, &inputs).await.unwrap(), inputs);
        // Versioning off: a versioned bucket is suspended, never
        // "unversioned" (anything but Enabled/Suspended is MalformedXML,
        // tests/emulator/ext_s3.py); and on again.
        let mut unversioned = inputs.clone();
        unversioned.insert("versioning".into(), json!(false));
        kit.provider(&ctx)
            .update(&ctx, &bucket.id, &inputs, &unversioned)
            .await
            .unwrap();
        assert_eq!(
            kit.read(&ctx, &bucket.id, &unversioned).await.unwrap(),
            unversioned
        );
        kit.provider(&ctx)
            .update(&ctx, &bucket.id, &unversioned, &inputs)
            .await
            .unwrap();
        // A bucket with object versions is emptied before deletion.
        s3.put_object()
            .bucket(&name)
            .key("k")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"v1"))
            .send()
            .await
            .unwrap();
        s3.put_object()
            .bucket(&name)
            .key("k")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"v2"))
            .send()
            .await
            .unwrap();
        kit.found(&ctx, &bucket, &inputs).await;
        kit.delete_found(&ctx, &bucket, &inputs).await;
    }
}

#[tokio::test]
async fn parameter_value_update_and_drift() {
    let kit = Kit::new("prov-ssm").await;
    let ctx = kit.ctx("primary/ssm.parameter/feature-flags", SECONDARY);
    let name = "/payment/prov-ssm/secondary/feature-flags";
    let (param, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"name": name, "type": "String", "value": "{\"a\":false}", "tags": {"Name": "p"}}),
            Some(json!({"name": name, "type": "String", "value": "{\"a\":true}", "tags": {"Owner": "sre"}})),
        )
        .await;
    assert_eq!(param.outputs["name"], json!(name));
    kit.aws
        .ssm(SECONDARY)
        .put_parameter()
        .name(name)
        .value("tampered")
        .overwrite(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        kit.read(&ctx, &param.id, &inputs).await.unwrap()["value"],
        json!("tampered")
    );
    kit.found(&ctx, &param, &inputs).await;
    kit.delete_listed(&ctx, &param, &inputs, true).await;
}

#[test]
fn every_kind_has_exactly_one_provider_and_schema() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = rt.block_on(aws(&emulator_for("kinds").endpoint));
    let providers = drctl_aws::providers(&aws);
    let schemas = drctl_aws::schemas();
    // Both registries refuse a kind twice (they panic while being built,
    // above; drctl-core's provider tests show it); here each kind's
    // provider serves the very schema the schema list has, and the
    // blueprint uses no kind without both.
    let kinds: Vec<&str> = providers.kinds().collect();
    let schema_kinds: Vec<&str> = schemas.0.keys().copied().collect();
    assert_eq!(kinds, schema_kinds);
    for (kind, schema) in &schemas.0 {
        let served = providers.get(kind).unwrap().schema();
        assert!(
            std::ptr::eq(served, *schema),
            "`{kind}`: its provider serves another schema than the list"
        );
    }
    for spec in drctl_tests::blueprint("dev", "").resources() {
        let kind = spec.address.kind();
        assert!(
            schemas.0.contains_key(kind) && providers.get(kind).is_some(),
            "the blueprint uses `{kind}`, which has no provider or schema"
        );
    }
}

/// The state of a NAT gateway as DescribeNatGateways shows it now.
async fn nat_state(kit: &Kit, region: &str, id: &str) -> String {
    let out = kit
        .aws
        .ec2(region)
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
        .unwrap();
    out.nat_gateways()[0]
        .state()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default()
}

/// A public NAT gateway (its VPC's internet gateway attached first), its
/// Elastic IP, a route moved from the internet gateway to it, and gateway
/// endpoints. CreateNatGateway is asynchronous (`pending`, then
/// `available`), and so is DeleteNatGateway (`deleting`, then `deleted`),
/// which frees the address only once `deleted`: an associated address
/// cannot be released (InvalidIPAddress.InUse), nor the internet gateway
/// detached while the VPC has a mapped address (DependencyViolation).
#[tokio::test]
async fn eip_nat_gateway_and_gateway_endpoints() {
    let kit = Kit::new("prov-nat").await;
    let (vctx, vpc, vinputs) = kit.vpc(SECONDARY, "10.53.0.0/16").await;
    let vpc_id = out(&vpc, "vpc_id");
    let sctx = kit.ctx("secondary/ec2.subnet/public-a", SECONDARY);
    let (subnet, sinputs) = kit
        .lifecycle(
            &sctx,
            json!({"vpc_id": vpc_id, "cidr_block": "10.53.0.0/24", "availability_zone": "us-east-2a", "map_public_ip_on_launch": true, "tags": {}}),
            None,
        )
        .await;
    let gctx = kit.ctx("secondary/ec2.internet_gateway/payment", SECONDARY);
    let (igw, ginputs) = kit
        .lifecycle(&gctx, json!({"vpc_id": vpc_id, "tags": {}}), None)
        .await;
    let ectx = kit.ctx("secondary/ec2.eip/nat", SECONDARY);
    let (eip, einputs) = kit
        .lifecycle(
            &ectx,
            json!({"tags": {"Name": "e"}}),
            Some(json!({"tags": {"Name": "e2"}})),
        )
        .await;
    assert!(!out(&eip, "public_ip").is_empty());
    let nctx = kit.ctx("secondary/ec2.nat_gateway/payment", SECONDARY);
    let ninputs =
        attrs(json!({"subnet_id": subnet.id, "allocation_id": eip.id, "tags": {"Name": "n"}}));
    let nat = kit.provider(&nctx).create(&nctx, &ninputs).await.unwrap();
    // Create returned once the gateway was `available`: the first describe
    // after it sees no `pending`.
    assert_eq!(nat_state(&kit, SECONDARY, &nat.id).await, "available");
    assert_eq!(kit.read(&nctx, &nat.id, &ninputs).await.unwrap(), ninputs);
    let renamed =
        attrs(json!({"subnet_id": subnet.id, "allocation_id": eip.id, "tags": {"Name": "n2"}}));
    kit.provider(&nctx)
        .update(&nctx, &nat.id, &ninputs, &renamed)
        .await
        .unwrap();
    assert_eq!(kit.read(&nctx, &nat.id, &renamed).await.unwrap(), renamed);
    let ninputs = renamed;
    let mut tables = Vec::new();
    for name in ["private", "isolated"] {
        let tctx = kit.ctx(&format!("secondary/ec2.route_table/{name}"), SECONDARY);
        let (t, ti) = kit
            .lifecycle(&tctx, json!({"vpc_id": vpc_id, "tags": {}}), None)
            .await;
        tables.push((tctx, t, ti));
    }
    // A route's new target goes through ReplaceRoute (CreateRoute of its
    // destination is RouteAlreadyExists).
    let private = tables[0].1.id.clone();
    let rctx = kit.ctx("secondary/ec2.route/private-default", SECONDARY);
    let (route, rinputs) = kit
        .lifecycle(
            &rctx,
            json!({"route_table_id": private, "destination_cidr_block": "0.0.0.0/0", "gateway_id": igw.id}),
            Some(
                json!({"route_table_id": private, "destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}),
            ),
        )
        .await;
    // Exactly one target per route (CreateRoute): two are refused before
    // any call.
    let two = attrs(
        json!({"route_table_id": private, "destination_cidr_block": "10.200.0.0/16", "gateway_id": igw.id, "nat_gateway_id": nat.id}),
    );
    let octx = kit.ctx("secondary/ec2.route/two-targets", SECONDARY);
    let err = kit.provider(&octx).create(&octx, &two).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");
    assert!(kit.read(&octx, "none", &two).await.is_none());
    let mut ids: Vec<String> = tables.iter().map(|(_, t, _)| t.id.clone()).collect();
    ids.sort();
    let pctx = kit.ctx("secondary/ec2.vpc_endpoint/s3", SECONDARY);
    let (endpoint, pinputs) = kit
        .lifecycle(
            &pctx,
            json!({"vpc_id": vpc_id, "service_name": "com.amazonaws.us-east-2.s3", "vpc_endpoint_type": "Gateway",
                   "route_table_ids": [ids[0]], "tags": {"Name": "p"}}),
            Some(json!({"vpc_id": vpc_id, "service_name": "com.amazonaws.us-east-2.s3", "vpc_endpoint_type": "Gateway",
                        "route_table_ids": ids, "tags": {"Name": "p"}})),
        )
        .await;
    // Drift: a route table removed from the endpoint out of band.
    kit.aws
        .ec2(SECONDARY)
        .modify_vpc_endpoint()
        .vpc_endpoint_id(&endpoint.id)
        .remove_route_table_ids(&ids[1])
        .send()
        .await
        .unwrap();
    assert_eq!(
        kit.read(&pctx, &endpoint.id, &pinputs).await.unwrap()["route_table_ids"],
        json!([ids[0]])
    );

    for (ctx, applied, inputs) in [
        (&pctx, &endpoint, &pinputs),
        (&nctx, &nat, &ninputs),
        (&ectx, &eip, &einputs),
    ] {
        kit.found(ctx, applied, inputs).await;
    }
    kit.delete_listed(&pctx, &endpoint, &pinputs, true).await;
    // Deletion is asynchronous (`deleting`, then `deleted`): delete returned
    // only once it was `deleted`, so the VPC can go.
    let described = kit
        .aws
        .ec2(SECONDARY)
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(&endpoint.id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.vpc_endpoints()[0].state().map(|s| s.as_str()),
        Some("deleted")
    );
    kit.delete_listed(&rctx, &route, &rinputs, false).await;
    for (tctx, t, ti) in &tables {
        kit.delete(tctx, t, ti).await;
    }
    // The gateway's address is mapped in the VPC: its internet gateway
    // cannot be detached yet (what orders the NAT gateway after it).
    if drctl_tests::EmulatorKind::from_env().enforces_extension_rules() {
        let refused = kit
            .aws
            .ec2(SECONDARY)
            .detach_internet_gateway()
            .internet_gateway_id(&igw.id)
            .vpc_id(&vpc_id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            aws_sdk_ec2::error::ProvideErrorMetadata::code(&refused),
            Some("DependencyViolation"),
            "{refused:?}"
        );
    }
    // The address is released right after the gateway's delete returns:
    // free only because the delete waited for `deleted`.
    assert!(kit.listed(&nctx, &nat.id).await && kit.listed(&ectx, &eip.id).await);
    kit.provider(&nctx)
        .delete(&nctx, &nat.id, &ninputs, &nat.outputs)
        .await
        .unwrap();
    kit.provider(&ectx)
        .delete(&ectx, &eip.id, &einputs, &eip.outputs)
        .await
        .unwrap();
    assert_eq!(nat_state(&kit, SECONDARY, &nat.id).await, "deleted");
    assert!(!kit.listed(&nctx, &nat.id).await && !kit.listed(&ectx, &eip.id).await);
    kit.delete_found(&nctx, &nat, &ninputs).await;
    kit.delete_found(&ectx, &eip, &einputs).await;
    kit.delete_found(&gctx, &igw, &ginputs).await;
    kit.delete(&sctx, &subnet, &sinputs).await;
    kit.delete(&vctx, &vpc, &vinputs).await;
}

/// A public NAT gateway in a VPC without an attached internet gateway
/// goes `failed` (FailureCode Gateway.NotAttached): create reports AWS's
/// reason rather than waiting out its 15 minutes; the failed gateway stays
/// listed, and neither find nor read takes it as made.
#[tokio::test]
async fn a_nat_gateway_that_aws_fails_is_an_error_with_its_reason() {
    let kit = Kit::new("prov-nat-failed").await;
    let (vctx, vpc, vinputs) = kit.vpc(SECONDARY, "10.141.0.0/16").await;
    let sctx = kit.ctx("secondary/ec2.subnet/public-a", SECONDARY);
    let (subnet, sinputs) = kit
        .lifecycle(
            &sctx,
            json!({"vpc_id": vpc.id, "cidr_block": "10.141.0.0/24", "availability_zone": "us-east-2a", "map_public_ip_on_launch": false, "tags": {}}),
            None,
        )
        .await;
    let ectx = kit.ctx("secondary/ec2.eip/nat", SECONDARY);
    let (eip, einputs) = kit.lifecycle(&ectx, json!({"tags": {}}), None).await;
    let nctx = kit.ctx("secondary/ec2.nat_gateway/payment", SECONDARY);
    let ninputs = attrs(json!({"subnet_id": subnet.id, "allocation_id": eip.id, "tags": {}}));
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        kit.provider(&nctx).create(&nctx, &ninputs),
    )
    .await
    .expect("a failed gateway is reported, not waited on")
    .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("NatGatewayFailed"), "{err}");
    assert!(err.to_string().contains("Gateway.NotAttached"), "{err}");
    let listed = kit
        .aws
        .ec2(SECONDARY)
        .describe_nat_gateways()
        .filter(
            aws_sdk_ec2::types::Filter::builder()
                .name("subnet-id")
                .values(&subnet.id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let failed = &listed.nat_gateways()[0];
    let id = failed.nat_gateway_id().unwrap().to_owned();
    assert_eq!(failed.state().map(|s| s.as_str()), Some("failed"));
    assert_eq!(
        kit.provider(&nctx).find(&nctx, &ninputs).await.unwrap(),
        None
    );
    assert!(kit.read(&nctx, &id, &ninputs).await.is_none());
    kit.provider(&nctx)
        .delete(&nctx, &id, &ninputs, &Attributes::new())
        .await
        .unwrap();
    kit.delete(&ectx, &eip, &einputs).await;
    kit.delete(&sctx, &subnet, &sinputs).await;
    kit.delete(&vctx, &vpc, &vinputs).await;
}

/// ModifyVpcAttribute changes one attribute per call, and DNS hostnames
/// can be enabled only while DNS support is: turning both on sets support
/// first, in its own call.
#[tokio::test]
async fn vpc_dns_support_and_hostnames_are_set_one_per_call_support_first() {
    let kit = Kit::new("prov-vpc-dns").await;
    let ctx = kit.ctx("primary/ec2.vpc/payment", PRIMARY);
    let (applied, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"cidr_block": "10.142.0.0/16", "enable_dns_support": false, "enable_dns_hostnames": false, "tags": {}}),
            Some(
                json!({"cidr_block": "10.142.0.0/16", "enable_dns_support": true, "enable_dns_hostnames": true, "tags": {}}),
            ),
        )
        .await;
    kit.delete(&ctx, &applied, &inputs).await;
}

/// An update sent again (its answer was lost, so state still holds the
/// old rules): revoking a rule already gone is InvalidPermission.NotFound,
/// authorizing one already there InvalidPermission.Duplicate; both mean
/// the end state holds.
#[tokio::test]
async fn a_security_group_rule_change_sent_again_finds_it_made() {
    let kit = Kit::new("prov-sg-again").await;
    let (vctx, vpc, vinputs) = kit.vpc(PRIMARY, "10.143.0.0/16").await;
    let ctx = kit.ctx("primary/ec2.security_group/db", PRIMARY);
    let first = json!({"name": "prov-sg-again-db", "description": "d", "vpc_id": vpc.id,
        "ingress": {"https": {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_block": "10.143.0.0/24"}},
        "egress": {}, "tags": {}});
    let second = json!({"name": "prov-sg-again-db", "description": "d", "vpc_id": vpc.id,
        "ingress": {"postgres": {"protocol": "tcp", "from_port": 5432, "to_port": 5432, "cidr_block": "10.143.1.0/24"}},
        "egress": {"all-outbound": {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_block": "0.0.0.0/0"}},
        "tags": {}});
    let (group, updated) = kit.lifecycle(&ctx, first.clone(), Some(second)).await;
    kit.provider(&ctx)
        .update(&ctx, &group.id, &attrs(first), &updated)
        .await
        .expect("the same update again changes nothing");
    assert_eq!(kit.read(&ctx, &group.id, &updated).await.unwrap(), updated);
    kit.delete(&ctx, &group, &updated).await;
    kit.delete(&vctx, &vpc, &vinputs).await;
}

/// A subnet has one route table association (AssociateRouteTable of an
/// associated subnet is Resource.AlreadyAssociated): moving a subnet to
/// another table is a replacement, whose delete goes before its create.
#[tokio::test]
async fn moving_a_subnet_to_another_route_table_replaces_its_association() {
    use drctl_core::planner::plan_apply;
    use drctl_core::{Action, DesiredGraph, ResourceSpec, ResourceState, State};

    let kit = Kit::new("prov-assoc-move").await;
    let (vctx, vpc, vinputs) = kit.vpc(PRIMARY, "10.144.0.0/16").await;
    let sctx = kit.ctx("primary/ec2.subnet/private-a", PRIMARY);
    let (subnet, sinputs) = kit
        .lifecycle(
            &sctx,
            json!({"vpc_id": vpc.id, "cidr_block": "10.144.0.0/24", "availability_zone": "us-east-1a", "map_public_ip_on_launch": false, "tags": {}}),
            None,
        )
        .await;
    let mut tables = Vec::new();
    for name in ["private", "isolated"] {
        let tctx = kit.ctx(&format!("primary/ec2.route_table/{name}"), PRIMARY);
        let (t, ti) = kit
            .lifecycle(&tctx, json!({"vpc_id": vpc.id, "tags": {}}), None)
            .await;
        tables.push((tctx, t, ti));
    }
    let (from, to) = (tables[0].1.id.clone(), tables[1].1.id.clone());
    let actx = kit.ctx("primary/ec2.route_table_association/private-a", PRIMARY);
    let (assoc, ainputs) = kit
        .lifecycle(
            &actx,
            json!({"subnet_id": subnet.id, "route_table_id": from}),
            None,
        )
        .await;

    // The plan replaces the association...
    let mut state = State::new(&kit.env);
    state.resources.insert(
        actx.address.clone(),
        ResourceState {
            kind: "ec2.route_table_association".into(),
            region: PRIMARY.into(),
            id: assoc.id.clone(),
            inputs: ainputs.clone(),
            outputs: assoc.outputs.clone(),
            dependencies: Default::default(),
        },
    );
    let desired = DesiredGraph::new(vec![
        ResourceSpec::new(actx.address.clone(), PRIMARY)
            .input("subnet_id", subnet.id.as_str())
            .input("route_table_id", to.as_str()),
    ])
    .unwrap();
    let changes = plan_apply(&desired, &state, &drctl_aws::schemas());
    assert_eq!(changes[0].action, Action::Replace, "{changes:#?}");
    // ...because the new one cannot be made while the old one stands.
    let moved = json!({"subnet_id": subnet.id, "route_table_id": to});
    let err = kit
        .provider(&actx)
        .create(&actx, &attrs(moved.clone()))
        .await
        .unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("Resource.AlreadyAssociated"),
        "{err}"
    );
    kit.delete(&actx, &assoc, &ainputs).await;
    let (assoc, ainputs) = kit.lifecycle(&actx, moved, None).await;
    kit.delete_found(&actx, &assoc, &ainputs).await;
    for (tctx, t, ti) in &tables {
        kit.delete(tctx, t, ti).await;
    }
    kit.delete(&sctx, &subnet, &sinputs).await;
    kit.delete(&vctx, &vpc, &vinputs).await;
}

#[tokio::test]
async fn bucket_replication_with_time_control_metrics_and_delete_markers() {
    let kit = Kit::new("prov-repl").await;
    let mut buckets = Vec::new();
    for region in [PRIMARY, SECONDARY] {
        let ctx = kit.ctx("primary/s3.bucket/data", region);
        let name = format!("payment-data-prov-repl-{region}");
        let (b, i) = kit
            .lifecycle(
                &ctx,
                json!({"bucket": name, "versioning": true, "sse_algorithm": "AES256", "block_public_access": true, "lifecycle_rules": [], "tags": {}}),
                None,
            )
            .await;
        buckets.push((ctx, b, i));
    }
    let ctx = kit.ctx("global/s3.bucket_replication/data", PRIMARY);
    let role = "arn:aws:iam::123456789012:role/payment-prov-repl-s3-replication";
    let spec = |minutes: i64| {
        json!({"bucket": buckets[0].1.id, "role_arn": role, "rule_id": "to-secondary",
               "destination_bucket_arn": buckets[1].1.outputs["arn"], "replication_time_minutes": minutes,
               "delete_marker_replication": true})
    };
    // Replication Time Control has one valid time, 15 minutes: another is
    // refused before any call.
    let err = kit
        .provider(&ctx)
        .create(&ctx, &attrs(spec(10)))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "replication_time_minutes is 10: S3 Replication Time Control takes 15 minutes only"
        ),
        "{err}"
    );
    let (repl, inputs) = kit.lifecycle(&ctx, spec(15), Some(spec(15))).await;
    // Drift: replication configuration removed out of band.
    kit.aws
        .s3(PRIMARY)
        .delete_bucket_replication()
        .bucket(&buckets[0].1.id)
        .send()
        .await
        .unwrap();
    assert!(kit.read(&ctx, &repl.id, &inputs).await.is_none());
    assert_eq!(kit.provider(&ctx).find(&ctx, &inputs).await.unwrap(), None);
    kit.provider(&ctx).create(&ctx, &inputs).await.unwrap();
    kit.found(&ctx, &repl, &inputs).await;
    kit.delete_found(&ctx, &repl, &inputs).await;
    for (c, b, i) in &buckets {
        kit.delete(c, b, i).await;
    }
}

/// An AWS error keeps its code and message and carries the request id AWS
/// support asks for.
#[tokio::test]
async fn an_api_error_names_its_code_and_request_id() {
    let kit = Kit::new("prov-request-id").await;
    let ctx = kit.ctx("primary/ec2.vpc/payment", SECONDARY);
    let bad = attrs(
        json!({"cidr_block": "10.0.0.0/8", "enable_dns_support": true, "enable_dns_hostnames": true, "tags": {}}),
    );
    let err = kit
        .provider(&ctx)
        .create(&ctx, &bad)
        .await
        .expect_err("a /8 VPC is refused (AWS allows /16 to /28)");
    let text = err.to_string();
    assert!(text.contains("ec2:CreateVpc"), "{text}");
    assert!(text.contains("InvalidVpc.Range"), "{text}");
    assert!(text.contains("(request id: "), "{text}");
}

/// Two resources with one address's identity (what a blind resend of a
/// create without a token leaves on AWS): the lookup names both instead of
/// picking one, so crash recovery never adopts one and leaks the other.
#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_that_sees_two_resources_reports_a_duplicate() {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let kit = Kit::new("prov-duplicate").await;
    let (ctx, vpc, inputs) = kit.vpc(PRIMARY, "10.140.0.0/16").await;
    let ec2 = kit.aws.ec2(PRIMARY);
    let second = ec2
        .create_vpc()
        .cidr_block("10.140.0.0/16")
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Vpc)
                .tags(Tag::builder().key("drctl:env").value(&kit.env).build())
                .tags(
                    Tag::builder()
                        .key("drctl:address")
                        .value(ctx.address.to_string())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let second = second.vpc().and_then(|v| v.vpc_id()).unwrap().to_owned();
    let err = kit
        .provider(&ctx)
        .find(&ctx, &inputs)
        .await
        .expect_err("two VPCs with one identity are a duplicate");
    assert_eq!(err.code.as_deref(), Some("DuplicateResource"), "{err}");
    assert!(
        err.message.contains(&vpc.id) && err.message.contains(&second),
        "{err}"
    );
    for id in [&vpc.id, &second] {
        ec2.delete_vpc().vpc_id(id).send().await.unwrap();
    }
}

/// A delete refused because what it would delete is not provably this
/// environment's: the error says so, names it and says how to proceed.
pub(crate) fn assert_not_owned(err: drctl_core::ProviderError, names: &str) {
    assert_eq!(err.code.as_deref(), Some("NotOwned"), "{err}");
    let text = err.to_string();
    assert!(text.contains(names), "{text}");
    assert!(text.contains("Nothing was changed"), "{text}");
    assert!(text.contains("drctl state pull"), "{text}");
}

/// State names resources by id. An id that points at another
/// environment's resource (a hand edit, a copied state, an import file's
/// typo), or at one no drctl environment made, must not get it deleted:
/// each delete first reads the resource's `drctl:*` tags (or, for kinds
/// without tags, its parent's) and refuses, changing nothing, unless they
/// are this environment's. A bucket or parameter without tags is proved
/// drctl's by a name that is its input and embeds the environment.
#[tokio::test(flavor = "multi_thread")]
async fn deletes_refuse_what_another_environment_or_no_drctl_environment_owns() {
    let env = "prov-own-ec2";
    let endpoint = &emulator_for(env).endpoint;
    let mine = Kit::with_endpoint(env, endpoint).await;
    // The same account, another environment's state.
    let theirs = Kit::with_endpoint("prov-own-other", endpoint).await;
    let ec2 = mine.aws.ec2(PRIMARY);

    // Another environment's VPC, recorded (by id) in this one's state.
    let (octx, other_vpc, oinputs) = theirs.vpc(PRIMARY, "10.66.0.0/16").await;
    let ctx = mine.ctx("primary/ec2.vpc/payment", PRIMARY);
    let err = mine
        .provider(&ctx)
        .delete(&ctx, &other_vpc.id, &oinputs, &other_vpc.outputs)
        .await
        .unwrap_err();
    assert_not_owned(err, &format!("VPC {}", other_vpc.id));
    assert!(
        mine.read(&ctx, &other_vpc.id, &oinputs).await.is_some(),
        "the other environment's VPC is still there"
    );

    // A VPC no drctl environment made (no tags), and a route table in it
    // with a route: the route has no tags, its table proves nothing.
    let untagged = ec2
        .create_vpc()
        .cidr_block("10.67.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let err = mine
        .provider(&ctx)
        .delete(&ctx, &untagged, &oinputs, &Attributes::new())
        .await
        .unwrap_err();
    assert_not_owned(err, "carries no drctl:env tag");
    let table = ec2
        .create_route_table()
        .vpc_id(&untagged)
        .send()
        .await
        .unwrap()
        .route_table
        .unwrap()
        .route_table_id
        .unwrap();
    let gateway = ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway
        .unwrap()
        .internet_gateway_id
        .unwrap();
    // A new gateway may be unknown for a moment (EC2's eventual
    // consistency, tests/emulator/ext_ec2_rules.py): describe it first.
    ec2.describe_internet_gateways()
        .internet_gateway_ids(&gateway)
        .send()
        .await
        .unwrap();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&gateway)
        .vpc_id(&untagged)
        .send()
        .await
        .unwrap();
    ec2.create_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&gateway)
        .send()
        .await
        .unwrap();
    let rctx = mine.ctx("primary/ec2.route/public-default", PRIMARY);
    let rinputs = attrs(
        json!({"route_table_id": table, "destination_cidr_block": "0.0.0.0/0", "gateway_id": gateway}),
    );
    let err = mine
        .provider(&rctx)
        .delete(
            &rctx,
            &format!("{table}_0.0.0.0/0"),
            &rinputs,
            &Attributes::new(),
        )
        .await
        .unwrap_err();
    assert_not_owned(err, &format!("whose parent is route table {table}"));
    assert!(
        mine.read(&rctx, "", &rinputs).await.is_some(),
        "the route is still there"
    );

    // A bucket no drctl environment made, with an object: not emptied.
    let s3 = mine.aws.s3(PRIMARY);
    let foreign = "someone-elses-ledger-prov-own";
    s3.create_bucket().bucket(foreign).send().await.unwrap();
    s3.put_object()
        .bucket(foreign)
        .key("ledger.csv")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"keep"))
        .send()
        .await
        .unwrap();
    let bctx = mine.ctx("primary/s3.bucket/data", PRIMARY);
    let binputs = attrs(json!({"bucket": "payment-data-primary-prov-own-ec2"}));
    let err = mine
        .provider(&bctx)
        .delete(&bctx, foreign, &binputs, &Attributes::new())
        .await
        .unwrap_err();
    assert_not_owned(err, &format!("bucket {foreign}"));
    let kept = s3
        .get_object()
        .bucket(foreign)
        .key("ledger.csv")
        .send()
        .await;
    assert!(kept.is_ok(), "the object is still there");

    // An untagged bucket whose name is drctl's for this environment (one
    // `drctl import` adopted by name) is deleted.
    let adopted = "payment-data-primary-prov-own-ec2";
    s3.create_bucket().bucket(adopted).send().await.unwrap();
    mine.provider(&bctx)
        .delete(&bctx, adopted, &binputs, &Attributes::new())
        .await
        .unwrap();
    assert!(s3.head_bucket().bucket(adopted).send().await.is_err());

    // Another environment's parameter, even under a name that embeds this
    // environment: its tags say whose it is.
    let pctx = theirs.ctx("primary/ssm.parameter/feature-flags", PRIMARY);
    let name = "/payment/prov-own-ec2/primary/feature-flags";
    let (param, pinputs) = theirs
        .lifecycle(
            &pctx,
            json!({"name": name, "type": "String", "value": "{}", "tags": {}}),
            None,
        )
        .await;
    let mctx = mine.ctx("primary/ssm.parameter/feature-flags", PRIMARY);
    let err = mine
        .provider(&mctx)
        .delete(&mctx, &param.id, &pinputs, &param.outputs)
        .await
        .unwrap_err();
    assert_not_owned(err, "belongs to environment `prov-own-other`");
    assert!(mine.read(&mctx, &param.id, &pinputs).await.is_some());

    // Their own state deletes them.
    theirs.delete(&pctx, &param, &pinputs).await;
    theirs.delete(&octx, &other_vpc, &oinputs).await;
    ec2.delete_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    ec2.delete_route_table()
        .route_table_id(&table)
        .send()
        .await
        .unwrap();
    ec2.detach_internet_gateway()
        .internet_gateway_id(&gateway)
        .vpc_id(&untagged)
        .send()
        .await
        .unwrap();
    ec2.delete_internet_gateway()
        .internet_gateway_id(&gateway)
        .send()
        .await
        .unwrap();
    ec2.delete_vpc().vpc_id(&untagged).send().await.unwrap();
    s3.delete_object()
        .bucket(foreign)
        .key("ledger.csv")
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket(foreign).send().await.unwrap();
}

/// drctl writes plain parameters only. One made a SecureString outside
/// drctl holds a secret: a refresh records neither its value nor its
/// ciphertext, only that it changed, and the apply writes drctl's value
/// back.
#[tokio::test]
async fn a_parameter_made_secure_outside_drctl_is_not_copied_into_state() {
    let kit = Kit::new("prov-ssm-secure").await;
    let ctx = kit.ctx("primary/ssm.parameter/feature-flags", PRIMARY);
    let name = "/payment/prov-ssm-secure/primary/feature-flags";
    let (param, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"name": name, "type": "String", "value": "{\"a\":true}", "tags": {}}),
            None,
        )
        .await;
    kit.aws
        .ssm(PRIMARY)
        .put_parameter()
        .name(name)
        .value("hunter2-db-password")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &param.id, &inputs).await.unwrap();
    assert_eq!(seen["type"], json!("SecureString"));
    let recorded = serde_json::to_string(&seen).unwrap();
    assert!(!recorded.contains("hunter2"), "{recorded}");
    assert_eq!(
        seen["value"],
        json!("(changed outside drctl: value not recorded)")
    );
    kit.delete(&ctx, &param, &inputs).await;
}

/// `list` of `kind` in the primary region, through `kit`.
async fn list_of(kit: &Kit, kind: &str) -> Result<Vec<String>, drctl_core::ProviderError> {
    let scope = drctl_core::ListScope {
        env: kit.env.clone(),
        region: PRIMARY.to_owned(),
    };
    kit.providers
        .get(kind)
        .unwrap_or_else(|| panic!("no provider of kind `{kind}`"))
        .list(&scope)
        .await
}

/// A resource deleted between a list call naming it and the read that
/// follows (its tags, its services) answers not-found on AWS; `list`
/// passes over it rather than failing: the crash sweep's inventory failed
/// so when another environment's table went while it listed. The proxy
/// gives AWS's answer for the race, which no test can time.
#[tokio::test]
async fn a_list_passes_over_what_is_deleted_while_it_reads() {
    let env = "prov-gone";
    let proxy = FaultProxy::start(&emulator_for(env).endpoint, Faults::none()).await;
    let kit = Kit::with_endpoint(env, &proxy.endpoint).await;
    let tag = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let owned = [tag("drctl:env", env)];

    // A table of the environment, whose tags are read after ListTables.
    let ddb = kit.aws.dynamodb(PRIMARY);
    let table = "prov-gone-sessions";
    ddb.create_table()
        .table_name(table)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .tags(
            aws_sdk_dynamodb::types::Tag::builder()
                .key(&owned[0].0)
                .value(&owned[0].1)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(list_of(&kit, "dynamodb.table").await.unwrap(), [table]);
    proxy.set(Faults {
        fail: Some((
            "DynamoDB_20120810.ListTagsOfResource".into(),
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#.into(),
        )),
        ..Faults::none()
    });
    assert!(list_of(&kit, "dynamodb.table").await.unwrap().is_empty());
    proxy.set(Faults::none());
    ddb.delete_table().table_name(table).send().await.unwrap();

    // A cluster of the environment, whose services are listed after it.
    let ecs = kit.aws.ecs(PRIMARY);
    let cluster = ecs
        .create_cluster()
        .cluster_name("prov-gone-cluster")
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key(&owned[0].0)
                .value(&owned[0].1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let cluster_arn = cluster.cluster().unwrap().cluster_arn().unwrap().to_owned();
    assert!(list_of(&kit, "ecs.service").await.unwrap().is_empty());
    proxy.set(Faults {
        fail: Some((
            "AmazonEC2ContainerServiceV20141113.ListServices".into(),
            400,
            r#"{"__type":"ClusterNotFoundException","message":"Cluster not found."}"#.into(),
        )),
        ..Faults::none()
    });
    assert!(list_of(&kit, "ecs.service").await.unwrap().is_empty());
    proxy.set(Faults::none());
    ecs.delete_cluster()
        .cluster(&cluster_arn)
        .send()
        .await
        .unwrap();

    // A subnet group of the environment, whose tags are read after it is
    // described.
    let ec2 = kit.aws.ec2(PRIMARY);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.250.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let mut subnets = Vec::new();
    for (zone, cidr) in [
        ("us-east-1a", "10.250.1.0/24"),
        ("us-east-1b", "10.250.2.0/24"),
    ] {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .availability_zone(zone)
            .cidr_block(cidr)
            .send()
            .await
            .unwrap();
        subnets.push(subnet.subnet().unwrap().subnet_id().unwrap().to_owned());
    }
    let rds = kit.aws.rds(PRIMARY);
    let group = "prov-gone-db";
    rds.create_db_subnet_group()
        .db_subnet_group_name(group)
        .db_subnet_group_description("prov-gone")
        .set_subnet_ids(Some(subnets.clone()))
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key(&owned[0].0)
                .value(&owned[0].1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(list_of(&kit, "rds.db_subnet_group").await.unwrap(), [group]);
    proxy.set(Faults {
        fail: Some((
            "Action=ListTagsForResource&".into(),
            404,
            "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type><Code>DBSubnetGroupNotFoundFault</Code><Message>DBSubnetGroupName prov-gone-db not found.</Message></Error><RequestId>injected</RequestId></ErrorResponse>".into(),
        )),
        ..Faults::none()
    });
    assert!(
        list_of(&kit, "rds.db_subnet_group")
            .await
            .unwrap()
            .is_empty()
    );
    proxy.set(Faults::none());
    rds.delete_db_subnet_group()
        .db_subnet_group_name(group)
        .send()
        .await
        .unwrap();
    for subnet in &subnets {
        ec2.delete_subnet().subnet_id(subnet).send().await.unwrap();
    }
    ec2.delete_vpc().vpc_id(&vpc_id).send().await.unwrap();

    // A hosted zone of the environment: Route 53 reads tags ten zones a
    // call, and one zone gone fails the whole call, so the zones of that
    // call are read again one by one and the environment's still found.
    let r53 = kit.aws.route53();
    let zone = r53
        .create_hosted_zone()
        .name("gone.prov.example.com")
        .caller_reference("prov-gone-zone")
        .send()
        .await
        .unwrap();
    let zone_id = zone
        .hosted_zone()
        .unwrap()
        .id()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    r53.change_tags_for_resource()
        .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
        .resource_id(&zone_id)
        .add_tags(
            aws_sdk_route53::types::Tag::builder()
                .key(&owned[0].0)
                .value(&owned[0].1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    proxy.set(Faults {
        fail: Some((
            "POST /2013-04-01/tags/hostedzone HTTP".into(),
            404,
            "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>NoSuchHostedZone</Code><Message>No hosted zone found with ID: Z0GONE</Message></Error><RequestId>injected</RequestId></ErrorResponse>".into(),
        )),
        ..Faults::none()
    });
    assert_eq!(
        list_of(&kit, "route53.hosted_zone").await.unwrap(),
        std::slice::from_ref(&zone_id)
    );
    proxy.set(Faults::none());
    r53.delete_hosted_zone().id(&zone_id).send().await.unwrap();
}
