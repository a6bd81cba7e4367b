//! The container tier's kinds: `ecs.cluster`, `ecs.task_definition`,
//! `ecs.service`, `elbv2.load_balancer`, `elbv2.target_group`,
//! `elbv2.listener`. moto only (LocalStack's community edition has neither
//! ECS nor ELBv2).

use drctl_core::{Applied, Attributes, OpContext};
use drctl_tests::proxy::{FaultProxy, Faults};
use drctl_tests::{EmulatorKind, PRIMARY, emulator_for};
use serde_json::{Value as Json, json};

use super::{Kit, attrs, out};

fn served() -> bool {
    let kind = EmulatorKind::from_env();
    kind.serves("ecs") && kind.serves("elasticloadbalancingv2")
}

/// A VPC with two public and two private subnets and two security groups:
/// `(vpc, public subnets, private subnets, alb group, tasks group)`.
async fn network(kit: &Kit, cidr: &str) -> (String, Vec<String>, Vec<String>, String, String) {
    let ec2 = kit.aws.ec2(PRIMARY);
    let vpc = ec2
        .create_vpc()
        .cidr_block(format!("{cidr}.0.0/16"))
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_owned();
    let mut subnets = Vec::new();
    for (i, az) in ["a", "b", "a", "b"].iter().enumerate() {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("{cidr}.{i}.0/24"))
            .availability_zone(format!("{PRIMARY}{az}"))
            .send()
            .await
            .unwrap();
        subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_owned());
    }
    let mut groups = Vec::new();
    for name in ["alb", "tasks"] {
        let g = ec2
            .create_security_group()
            .group_name(format!("{}-{name}", kit.env))
            .description(name)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        groups.push(g.group_id().unwrap().to_owned());
    }
    let mut public = subnets[..2].to_vec();
    let mut private = subnets[2..].to_vec();
    public.sort();
    private.sort();
    (vpc, public, private, groups[0].clone(), groups[1].clone())
}

struct Tier {
    cluster: (OpContext, Applied, Attributes),
    task_definition: (OpContext, Applied, Attributes),
    load_balancer: (OpContext, Applied, Attributes),
    target_group: (OpContext, Applied, Attributes),
}

fn role_arn() -> String {
    "arn:aws:iam::123456789012:role/payment-prov-ecs-task-execution".into()
}

fn task_definition_inputs(family: &str, image: &str) -> Json {
    json!({"family": family, "cpu": "256", "memory": "512", "execution_role_arn": role_arn(),
           "container_name": "web", "image": image, "container_port": 80,
           "health_check": {"command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
                            "interval": 30, "timeout": 5, "retries": 3, "start_period": 10},
           "tags": {"Name": family}})
}

fn target_group_inputs(name: &str, vpc: &str) -> Json {
    json!({"name": name, "port": 80, "protocol": "HTTP", "vpc_id": vpc, "target_type": "ip",
           "health_check": {"path": "/", "interval_seconds": 30, "timeout_seconds": 5,
                            "healthy_threshold": 3, "unhealthy_threshold": 3, "matcher": "200"},
           "deregistration_delay_seconds": 30, "tags": {"Name": name}})
}

/// Cluster, task definition, load balancer and target group, each created,
/// read back, updated in place and found.
async fn tier(kit: &Kit, vpc: &str, public: &[String], alb_sg: &str) -> Tier {
    let env = &kit.env;
    let ctx = kit.ctx("primary/ecs.cluster/web", PRIMARY);
    let name = format!("payment-{env}");
    let cluster = kit
        .lifecycle(
            &ctx,
            json!({"name": name, "container_insights": "disabled", "tags": {"Name": name}}),
            Some(
                json!({"name": name, "container_insights": "enabled", "tags": {"Name": name, "Team": "sre"}}),
            ),
        )
        .await;
    kit.found(&ctx, &cluster.0, &cluster.1).await;
    let cluster = (ctx, cluster.0, cluster.1);

    // A changed image registers revision 2 and retires revision 1.
    let ctx = kit.ctx("primary/ecs.task_definition/web", PRIMARY);
    let family = format!("payment-{env}-web");
    let (td, td_inputs) = kit
        .lifecycle(
            &ctx,
            task_definition_inputs(&family, "public.ecr.aws/nginx/nginx:1.26"),
            None,
        )
        .await;
    assert_eq!(td.id, family);
    assert_eq!(td.outputs["revision"], 1);
    let updated = attrs(task_definition_inputs(
        &family,
        "public.ecr.aws/nginx/nginx:stable",
    ));
    let outputs = kit
        .provider(&ctx)
        .update(&ctx, &td.id, &td_inputs, &updated)
        .await
        .unwrap();
    assert_eq!(outputs["revision"], 2);
    assert_ne!(outputs["arn"], td.outputs["arn"]);
    assert_eq!(kit.read(&ctx, &td.id, &updated).await.unwrap(), updated);
    let first = kit
        .aws
        .ecs(PRIMARY)
        .describe_task_definition()
        .task_definition(out(&td, "arn"))
        .send()
        .await;
    // Deregistered and deleted: gone or INACTIVE / DELETE_IN_PROGRESS.
    if let Ok(first) = first {
        assert_ne!(
            first.task_definition().unwrap().status().unwrap().as_str(),
            "ACTIVE"
        );
    }
    // Tags alone change without a new revision.
    let mut tagged = updated.clone();
    tagged.insert("tags".into(), json!({"Name": family, "Team": "sre"}));
    let same = kit
        .provider(&ctx)
        .update(&ctx, &td.id, &updated, &tagged)
        .await
        .unwrap();
    assert_eq!(same, outputs);
    assert_eq!(kit.read(&ctx, &td.id, &tagged).await.unwrap(), tagged);
    kit.found(&ctx, &td, &tagged).await;
    let td = Applied { id: td.id, outputs };
    let task_definition = (ctx, td, tagged);

    let ctx = kit.ctx("primary/elbv2.target_group/web", PRIMARY);
    let tg_name = format!("{env}-tg");
    let mut changed = target_group_inputs(&tg_name, vpc);
    changed["health_check"]["path"] = json!("/health");
    changed["deregistration_delay_seconds"] = json!(60);
    let (tg, tg_inputs) = kit
        .lifecycle(&ctx, target_group_inputs(&tg_name, vpc), Some(changed))
        .await;
    assert!(
        out(&tg, "arn_suffix").starts_with(&format!("targetgroup/{tg_name}/")),
        "{}",
        out(&tg, "arn_suffix")
    );
    kit.found(&ctx, &tg, &tg_inputs).await;
    let target_group = (ctx, tg, tg_inputs);

    let ctx = kit.ctx("primary/elbv2.load_balancer/web", PRIMARY);
    let lb_name = format!("{env}-lb");
    let (lb, lb_inputs) = kit
        .lifecycle(
            &ctx,
            json!({"name": lb_name, "scheme": "internet-facing", "subnet_ids": public,
                   "security_group_ids": [alb_sg], "tags": {"Name": lb_name}}),
            Some(
                json!({"name": lb_name, "scheme": "internet-facing", "subnet_ids": public,
                       "security_group_ids": [alb_sg], "tags": {"Name": lb_name, "Team": "sre"}}),
            ),
        )
        .await;
    assert!(out(&lb, "arn_suffix").starts_with(&format!("app/{lb_name}/")));
    assert!(!out(&lb, "dns_name").is_empty());
    kit.found(&ctx, &lb, &lb_inputs).await;
    // A load balancer of that name made for another address is refused.
    let other = kit.ctx("primary/elbv2.load_balancer/other", PRIMARY);
    let err = kit
        .provider(&other)
        .create(&other, &lb_inputs)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("AlreadyExists"), "{err}");
    let load_balancer = (ctx, lb, lb_inputs);

    Tier {
        cluster,
        task_definition,
        load_balancer,
        target_group,
    }
}

/// DeleteCluster refuses the cluster: a service is still ACTIVE or DRAINING.
async fn cluster_is_refused(ecs: &aws_sdk_ecs::Client, cluster: &str) {
    let err = ecs
        .delete_cluster()
        .cluster(cluster)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&err),
        Some("ClusterContainsServicesException")
    );
}

/// Every kind's lifecycle, a service refused until its target group has a
/// load balancer, the service updated in place and its drift, and a
/// destroy in the graph's order (what AWS refuses out of order checked).
#[tokio::test(flavor = "multi_thread")]
async fn the_container_tier_lives_and_is_destroyed_in_order() {
    if !served() {
        return;
    }
    let env = "prov-ecs";
    let kit = Kit::new(env).await;
    let (vpc, public, private, alb_sg, tasks_sg) = network(&kit, "10.81").await;
    let t = tier(&kit, &vpc, &public, &alb_sg).await;

    let sctx = kit.ctx("primary/ecs.service/web", PRIMARY);
    let service_inputs = |count: i64, td: &str| {
        attrs(
            json!({"name": format!("payment-{env}-web"), "cluster": out(&t.cluster.1, "arn"),
            "task_definition": td, "desired_count": count, "subnet_ids": private,
            "security_group_ids": [tasks_sg], "target_group_arn": out(&t.target_group.1, "arn"),
            "container_name": "web", "container_port": 80, "health_check_grace_period_seconds": 60,
            "tags": {"Name": "web"}}),
        )
    };
    let td_arn = out(&t.task_definition.1, "arn");
    // ECS refuses a service whose target group has no load balancer yet.
    let err = kit
        .provider(&sctx)
        .create(&sctx, &service_inputs(2, &td_arn))
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains("does not have an associated load balancer"),
        "{err}"
    );

    let lctx = kit.ctx("primary/elbv2.listener/http", PRIMARY);
    let (listener, listener_inputs) = kit
        .lifecycle(
            &lctx,
            json!({"load_balancer_arn": out(&t.load_balancer.1, "arn"), "port": 80, "protocol": "HTTP",
                   "target_group_arn": out(&t.target_group.1, "arn"), "tags": {"Name": "http"}}),
            Some(
                json!({"load_balancer_arn": out(&t.load_balancer.1, "arn"), "port": 80, "protocol": "HTTP",
                       "target_group_arn": out(&t.target_group.1, "arn"), "tags": {"Name": "http", "Team": "sre"}}),
            ),
        )
        .await;
    kit.found(&lctx, &listener, &listener_inputs).await;

    // Created, stable, updated in place: fewer tasks.
    let (service, inputs) = kit
        .lifecycle(
            &sctx,
            service_inputs(2, &td_arn).into_iter().collect::<Json>(),
            Some(service_inputs(1, &td_arn).into_iter().collect::<Json>()),
        )
        .await;
    kit.found(&sctx, &service, &inputs).await;
    // The same create again (its answer lost) gets the same service: the
    // token is the first call's.
    let again = kit
        .provider(&sctx)
        .create(&sctx, &service_inputs(2, &td_arn))
        .await
        .unwrap();
    assert_eq!(again.id, service.id);
    // Drift: scaled out of band; the next update puts it back.
    let ecs = kit.aws.ecs(PRIMARY);
    ecs.update_service()
        .cluster(out(&t.cluster.1, "arn"))
        .service(&service.id)
        .desired_count(3)
        .send()
        .await
        .unwrap();
    let seen = kit.read(&sctx, &service.id, &inputs).await.unwrap();
    assert_eq!(seen["desired_count"], 3);
    kit.provider(&sctx)
        .update(&sctx, &service.id, &seen, &inputs)
        .await
        .unwrap();
    assert_eq!(kit.read(&sctx, &service.id, &inputs).await.unwrap(), inputs);

    // Out of order, AWS refuses: the cluster while it has a service, the
    // target group while a listener forwards to it.
    cluster_is_refused(&ecs, &t.cluster.1.id).await;
    let err = kit
        .aws
        .elbv2(PRIMARY)
        .delete_target_group()
        .target_group_arn(&t.target_group.1.id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata::code(&err),
        Some("ResourceInUse")
    );

    assert!(kit.listed(&sctx, &service.id).await);
    // A run stopped right after its DeleteService (killed while it
    // waited): the service is DRAINING, which reads as gone, and the
    // cluster cannot go yet. Crash recovery runs the delete again, which
    // waits until it is INACTIVE.
    ecs.update_service()
        .cluster(out(&t.cluster.1, "arn"))
        .service(&service.id)
        .desired_count(0)
        .send()
        .await
        .unwrap();
    ecs.delete_service()
        .cluster(out(&t.cluster.1, "arn"))
        .service(&service.id)
        .send()
        .await
        .unwrap();
    assert_eq!(kit.read(&sctx, &service.id, &inputs).await, None);
    cluster_is_refused(&ecs, &t.cluster.1.id).await;

    // In the graph's order: the service drains first (INACTIVE after
    // DRAINING), then the listener, target group, load balancer, task
    // definition and cluster; each delete again succeeds.
    kit.delete_found(&sctx, &service, &inputs).await;
    assert!(!kit.listed(&sctx, &service.id).await);
    let gone = ecs
        .describe_services()
        .cluster(out(&t.cluster.1, "arn"))
        .services(&service.id)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.services()[0].status(), Some("INACTIVE"));
    kit.delete_listed(&lctx, &listener, &listener_inputs, true)
        .await;
    let (tg_ctx, tg, tg_inputs) = &t.target_group;
    kit.delete_listed(tg_ctx, tg, tg_inputs, true).await;
    let (lb_ctx, lb, lb_inputs) = &t.load_balancer;
    assert!(kit.listed(lb_ctx, &lb.id).await);
    kit.provider(lb_ctx)
        .delete(lb_ctx, &lb.id, lb_inputs, &lb.outputs)
        .await
        .unwrap();
    // The load balancer's network interfaces outlive it for a while (ELB
    // User Guide, "Delete an Application Load Balancer"), holding its
    // subnets and security group: their deletes wait them out. Checked at
    // once, within the emulator's short stand-in for AWS's minutes (the
    // rest of the delete's checks make ELB calls that ELB's rate limits
    // pace).
    let refused = kit
        .aws
        .ec2(PRIMARY)
        .delete_security_group()
        .group_id(&alb_sg)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&refused),
        Some("DependencyViolation")
    );
    kit.delete_found(lb_ctx, lb, lb_inputs).await;
    assert!(!kit.listed(lb_ctx, &lb.id).await);
    let gctx = kit.ctx("primary/ec2.security_group/alb", PRIMARY);
    let none = Attributes::new();
    // The network was made through the SDK; drctl deletes only what
    // carries this environment's tags, as its creates write them, with
    // the inputs its state would record.
    kit.tag_as_drctls(&gctx, &alb_sg).await;
    let group = attrs(json!({"name": format!("{env}-alb"), "description": "alb", "vpc_id": vpc}));
    kit.provider(&gctx)
        .delete(&gctx, &alb_sg, &group, &none)
        .await
        .unwrap();
    let ec2 = kit.aws.ec2(PRIMARY);
    for (i, subnet) in public.iter().enumerate() {
        let ctx = kit.ctx(&format!("primary/ec2.subnet/public-{i}"), PRIMARY);
        kit.tag_as_drctls(&ctx, subnet).await;
        let described = ec2.describe_subnets().subnet_ids(subnet).send().await;
        let described = described.unwrap();
        let s = &described.subnets()[0];
        let inputs = attrs(json!({"vpc_id": vpc, "cidr_block": s.cidr_block(),
                                  "availability_zone": s.availability_zone()}));
        kit.provider(&ctx)
            .delete(&ctx, subnet, &inputs, &none)
            .await
            .unwrap();
    }
    for (ctx, applied, inputs) in [&t.task_definition, &t.cluster] {
        kit.delete_listed(ctx, applied, inputs, true).await;
    }
}

/// Every create's answer lost after the emulator acted: each kind ends
/// with the one resource the first call made (ELBv2's creates and
/// CreateCluster are idempotent by name and settings, CreateService by its
/// token, RegisterTaskDefinition is looked up before it is sent again).
#[tokio::test(flavor = "multi_thread")]
async fn creates_whose_answers_are_lost_make_one_of_each() {
    if !served() {
        return;
    }
    let env = "prov-ecs-lost";
    let kit = Kit::new(env).await;
    let (vpc, public, private, alb_sg, tasks_sg) = network(&kit, "10.82").await;
    let proxy = FaultProxy::start(
        &emulator_for(env).endpoint,
        Faults {
            lose_create_responses: 1.0,
            ..Faults::none()
        },
    )
    .await;
    let lossy = Kit::with_endpoint(env, &proxy.endpoint).await;
    let create = |address: &str, inputs: Json| {
        let lossy = &lossy;
        let address = address.to_owned();
        async move {
            let ctx = lossy.ctx(&address, PRIMARY);
            let inputs = attrs(inputs);
            let applied = lossy.provider(&ctx).create(&ctx, &inputs).await.unwrap();
            (ctx, applied, inputs)
        }
    };
    let cluster = create(
        "primary/ecs.cluster/web",
        json!({"name": format!("payment-{env}"), "container_insights": "enabled", "tags": {}}),
    )
    .await;
    let family = format!("payment-{env}-web");
    let td = create(
        "primary/ecs.task_definition/web",
        task_definition_inputs(&family, "public.ecr.aws/nginx/nginx:stable"),
    )
    .await;
    let tg = create(
        "primary/elbv2.target_group/web",
        target_group_inputs(&format!("{env}-tg"), &vpc),
    )
    .await;
    let lb = create(
        "primary/elbv2.load_balancer/web",
        json!({"name": format!("{env}-lb"), "scheme": "internet-facing", "subnet_ids": public,
               "security_group_ids": [alb_sg], "tags": {}}),
    )
    .await;
    let listener = create(
        "primary/elbv2.listener/http",
        json!({"load_balancer_arn": out(&lb.1, "arn"), "port": 80, "protocol": "HTTP",
               "target_group_arn": out(&tg.1, "arn"), "tags": {}}),
    )
    .await;
    let service = create(
        "primary/ecs.service/web",
        json!({"name": "web", "cluster": out(&cluster.1, "arn"), "task_definition": out(&td.1, "arn"),
               "desired_count": 1, "subnet_ids": private, "security_group_ids": [tasks_sg],
               "target_group_arn": out(&tg.1, "arn"), "container_name": "web", "container_port": 80,
               "health_check_grace_period_seconds": 60, "tags": {}}),
    )
    .await;
    let lost = proxy.counts.lost_operations.lock().unwrap().clone();
    for op in [
        "CreateCluster",
        "RegisterTaskDefinition",
        "CreateTargetGroup",
        "CreateLoadBalancer",
        "CreateListener",
        "CreateService",
    ] {
        assert!(lost.iter().any(|l| l == op), "{op} not lost: {lost:?}");
    }

    // One of each.
    let ecs = kit.aws.ecs(PRIMARY);
    let revisions = ecs
        .list_task_definitions()
        .family_prefix(&family)
        .send()
        .await
        .unwrap();
    assert_eq!(revisions.task_definition_arns(), [out(&td.1, "arn")]);
    let services = ecs
        .list_services()
        .cluster(out(&cluster.1, "arn"))
        .send()
        .await
        .unwrap();
    assert_eq!(services.service_arns(), std::slice::from_ref(&service.1.id));
    let elb = kit.aws.elbv2(PRIMARY);
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    let named: Vec<_> = lbs
        .load_balancers()
        .iter()
        .filter(|l| l.load_balancer_name() == Some(&format!("{env}-lb")))
        .collect();
    assert_eq!(named.len(), 1);
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(out(&lb.1, "arn"))
        .send()
        .await
        .unwrap();
    assert_eq!(listeners.listeners().len(), 1);

    for (ctx, applied, inputs) in [&service, &listener, &tg, &lb, &td, &cluster] {
        let ctx = kit.ctx(&ctx.address.to_string(), PRIMARY);
        kit.delete_listed(&ctx, applied, inputs, true).await;
    }
}

/// Invalid inputs are refused before any call, naming the input and the
/// fix.
#[tokio::test]
async fn invalid_inputs_make_no_call() {
    let env = "prov-ecs-refused";
    let proxy = FaultProxy::start(&emulator_for(env).endpoint, Faults::none()).await;
    let kit = Kit::with_endpoint(env, &proxy.endpoint).await;
    let before = proxy.requests();
    let refused = |address: &str, inputs: Json| {
        let kit = &kit;
        let address = address.to_owned();
        async move {
            let ctx = kit.ctx(&address, PRIMARY);
            kit.provider(&ctx)
                .create(&ctx, &attrs(inputs))
                .await
                .unwrap_err()
                .message
        }
    };
    let mut td = task_definition_inputs("f", "nginx");
    td["memory"] = json!("4096");
    let m = refused("primary/ecs.task_definition/web", td).await;
    assert!(
        m.contains("is not a Fargate task size: 256 with 512, 1024 or 2048"),
        "{m}"
    );
    let m = refused(
        "primary/elbv2.load_balancer/web",
        json!({"name": "a-name-that-is-longer-than-32-chars", "scheme": "internet-facing",
               "subnet_ids": ["subnet-1", "subnet-2"], "security_group_ids": ["sg-1"], "tags": {}}),
    )
    .await;
    assert!(m.contains("1 to 32"), "{m}");
    let mut tg = target_group_inputs("tg", "vpc-1");
    tg["health_check"]["timeout_seconds"] = json!(30);
    let m = refused("primary/elbv2.target_group/web", tg).await;
    assert!(m.contains("must be less than `interval_seconds`"), "{m}");
    let m = refused(
        "primary/elbv2.listener/http",
        json!({"load_balancer_arn": "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/x/1",
               "port": 443, "protocol": "HTTPS", "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1", "tags": {}}),
    )
    .await;
    assert!(m.contains("`HTTP`"), "{m}");
    let m = refused(
        "primary/ecs.service/web",
        json!({"name": "web", "cluster": "c", "task_definition": "web:1", "desired_count": 1,
               "subnet_ids": ["subnet-1"], "security_group_ids": ["sg-1"],
               "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1",
               "container_name": "web", "container_port": 80, "health_check_grace_period_seconds": 60, "tags": {}}),
    )
    .await;
    assert!(m.contains("give a revision's ARN"), "{m}");
    let m = refused(
        "primary/ecs.cluster/web",
        json!({"name": "web", "container_insights": "on", "tags": {}}),
    )
    .await;
    assert!(m.contains("enabled, enhanced, disabled"), "{m}");
    assert_eq!(proxy.requests(), before, "no request reached the emulator");
}
