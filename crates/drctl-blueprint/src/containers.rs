//! One region's container tier (with `containers`, the default): an ECS
//! cluster running a Fargate service in the private subnets, behind an
//! internet-facing application load balancer in the public subnets, and
//! alarms on its 5XX answers and unhealthy targets.
//!
//! Order, as AWS needs it: ECS refuses a service whose target group has no
//! load balancer, so the service waits for the listener; the tasks pull
//! their image through the NAT gateway, so it waits for the private
//! subnets' default route too. Destroy runs it backwards: the service
//! drains and its tasks stop (releasing their network interfaces) before
//! the listener, target group, load balancer, cluster, security groups and
//! subnets go.

use drctl_core::{Address, ResourceSpec, Value};
use serde_json::json;

use crate::Region;
use crate::config::{load_balancer_name, target_group_name};
use crate::data::Data;
use crate::network::Network;
use crate::observability::alarm;
use crate::values::{Source, map, r as reference, set, trust};

/// The one container of the task, as the service and the target group
/// name it.
pub(crate) const CONTAINER: &str = "web";
/// The port the load balancer listens on.
const LISTENER_PORT: i64 = 80;
/// Seconds a draining target keeps its connections; AWS's default, 300,
/// would hold every deploy and destroy for five minutes.
const DEREGISTRATION_DELAY: i64 = 30;
/// Seconds ECS ignores the target group's health checks of a new task.
const GRACE_PERIOD: i64 = 60;
/// The managed policy that lets ECS pull images and write logs for a task
/// (ECS Developer Guide, "Amazon ECS task execution IAM role").
const EXECUTION_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

pub(crate) fn build(r: &mut Region, net: &Network, data: &Data) {
    let settings = r.bp.settings.containers.clone();
    if !settings.enabled {
        return;
    }
    let env = r.bp.env;
    let role_name = r.name("ecs-task-execution");
    let execution_role = r.add(
        ResourceSpec::new(r.address("iam.role", "ecs-task-execution"), r.region)
            .input("name", role_name.clone())
            .input(
                "description",
                format!("ECS task execution of {env} ({})", r.role.as_str()),
            )
            .input(
                "assume_role_policy",
                trust("ecs-tasks.amazonaws.com", Source::Account(r.bp.account_id)),
            )
            .input("inline_policies", json!({}))
            .input("managed_policy_arns", json!([EXECUTION_POLICY]))
            .input("tags", r.tags(&role_name)),
    );

    let cluster_name = r.name("web");
    let cluster = r.add(
        ResourceSpec::new(r.address("ecs.cluster", "web"), r.region)
            .input("name", cluster_name.clone())
            .input("container_insights", "enabled")
            .input("tags", r.tags(&cluster_name)),
    );
    let family = r.name("web");
    let task_definition = r.add(
        ResourceSpec::new(r.address("ecs.task_definition", "web"), r.region)
            .input("family", family.clone())
            .input("cpu", settings.cpu.to_string())
            .input("memory", settings.memory.to_string())
            .input("execution_role_arn", execution_role.output("arn"))
            .input("container_name", CONTAINER)
            .input("image", settings.image.clone())
            .input("container_port", i64::from(settings.port))
            .input("tags", r.tags(&family)),
    );

    let vpc_id = || Value::Ref(net.vpc.output("vpc_id"));
    let alb_sg_name = r.name("alb");
    let alb_sg = r.add(
        ResourceSpec::new(r.address("ec2.security_group", "alb"), r.region)
            .input("name", alb_sg_name.clone())
            .input("description", "Container tier load balancer: HTTP from anywhere")
            .input("vpc_id", vpc_id())
            .input(
                "ingress",
                json!({"http-from-anywhere": {"protocol": "tcp", "from_port": LISTENER_PORT, "to_port": LISTENER_PORT, "cidr_block": "0.0.0.0/0"}}),
            )
            // To the tasks only; a rule naming the tasks' group would make
            // the two groups refer to each other.
            .input(
                "egress",
                json!({"to-tasks": {"protocol": "tcp", "from_port": settings.port, "to_port": settings.port,
                                    "cidr_block": r.bp.settings.cidr(r.role).to_string()}}),
            )
            .input("tags", r.tags(&alb_sg_name)),
    );
    let tasks_sg_name = r.name("tasks");
    let from_alb = map([
        ("protocol", "tcp".into()),
        ("from_port", i64::from(settings.port).into()),
        ("to_port", i64::from(settings.port).into()),
        (
            "source_security_group_id",
            reference(alb_sg.output("security_group_id")),
        ),
    ]);
    let tasks_sg = r.add(
        ResourceSpec::new(r.address("ec2.security_group", "tasks"), r.region)
            .input("name", tasks_sg_name.clone())
            .input(
                "description",
                "Container tier tasks: the container port from the load balancer only",
            )
            .input("vpc_id", vpc_id())
            .input("ingress", map([("container-port-from-alb", from_alb)]))
            // Image pulls (ECR Public) through the NAT gateway.
            .input(
                "egress",
                json!({"all-outbound": {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_block": "0.0.0.0/0"}}),
            )
            .input("tags", r.tags(&tasks_sg_name)),
    );

    let subnet_ids = |tier: usize| {
        set(net.subnets[tier]
            .iter()
            .map(|s| reference(s.output("subnet_id"))))
    };
    let lb_name = load_balancer_name(env, r.role);
    let load_balancer = r.add(
        ResourceSpec::new(r.address("elbv2.load_balancer", "web"), r.region)
            .input("name", lb_name.clone())
            .input("scheme", "internet-facing")
            .input("subnet_ids", subnet_ids(0))
            .input(
                "security_group_ids",
                set([reference(alb_sg.output("security_group_id"))]),
            )
            .input("tags", r.tags(&lb_name))
            // Internet-facing: its subnets route to the internet gateway.
            .after(&r.address("ec2.route", "public-default")),
    );
    let tg_name = target_group_name(env, r.role);
    let target_group = r.add(
        ResourceSpec::new(r.address("elbv2.target_group", "web"), r.region)
            .input("name", tg_name.clone())
            .input("port", i64::from(settings.port))
            .input("protocol", "HTTP")
            .input("vpc_id", vpc_id())
            .input("target_type", "ip")
            .input(
                "health_check",
                json!({"path": settings.health_check_path, "interval_seconds": 30, "timeout_seconds": 5,
                       "healthy_threshold": 3, "unhealthy_threshold": 3, "matcher": "200"}),
            )
            .input("deregistration_delay_seconds", DEREGISTRATION_DELAY)
            .input("tags", r.tags(&tg_name)),
    );
    let listener = r.add(
        ResourceSpec::new(r.address("elbv2.listener", "http"), r.region)
            .input("load_balancer_arn", load_balancer.output("arn"))
            .input("port", LISTENER_PORT)
            .input("protocol", "HTTP")
            .input("target_group_arn", target_group.output("arn"))
            .input("tags", r.tags(&format!("{lb_name}-http"))),
    );

    let service_name = r.name("web");
    let mut service = ResourceSpec::new(r.address("ecs.service", "web"), r.region)
        .input("name", service_name.clone())
        .input("cluster", cluster.output("arn"))
        .input("task_definition", task_definition.output("arn"))
        .input("desired_count", i64::from(settings.desired_count))
        .input("subnet_ids", subnet_ids(1))
        .input(
            "security_group_ids",
            set([reference(tasks_sg.output("security_group_id"))]),
        )
        .input("target_group_arn", target_group.output("arn"))
        .input("container_name", CONTAINER)
        .input("container_port", i64::from(settings.port))
        .input("health_check_grace_period_seconds", GRACE_PERIOD)
        .input("tags", r.tags(&service_name))
        .after(&listener)
        .after(&r.address("ec2.route", "private-default"));
    for association in &net.associations[1] {
        service = service.after(association);
    }
    let service = r.add(service);

    alarms(r, data, &load_balancer, &target_group, &service);
}

/// The load balancer's 5XX answers, its targets' 5XX answers, and
/// unhealthy targets, to the region's alarm topic. AWS/ApplicationELB's
/// dimensions are the ARN suffixes (`app/<name>/<id>`,
/// `targetgroup/<name>/<id>`).
fn alarms(
    r: &mut Region,
    data: &Data,
    load_balancer: &Address,
    target_group: &Address,
    service: &Address,
) {
    let lb = || reference(load_balancer.output("arn_suffix"));
    let tg = || reference(target_group.output("arn_suffix"));
    let metric = |name: &str, statistic: &str, dimensions: Value| {
        map([
            ("namespace", "AWS/ApplicationELB".into()),
            ("metric_name", name.into()),
            ("dimensions", dimensions),
            ("statistic", statistic.into()),
            ("period", 60.into()),
        ])
    };
    let role = r.role.as_str();
    let specs = [
        alarm(
            r,
            "alb-5xx",
            &format!("The {role} load balancer answered more than 10 5XX errors a minute"),
            10.0,
            2,
            data,
        )
        .input(
            "metric",
            metric(
                "HTTPCode_ELB_5XX_Count",
                "Sum",
                map([("LoadBalancer", lb())]),
            ),
        ),
        alarm(
            r,
            "target-5xx",
            &format!("The {role} container tasks answered more than 10 5XX errors a minute"),
            10.0,
            2,
            data,
        )
        .input(
            "metric",
            metric(
                "HTTPCode_Target_5XX_Count",
                "Sum",
                map([("LoadBalancer", lb()), ("TargetGroup", tg())]),
            ),
        ),
        alarm(
            r,
            "unhealthy-hosts",
            &format!("A {role} container task failed the load balancer's health checks"),
            0.0,
            2,
            data,
        )
        .input(
            "metric",
            metric(
                "UnHealthyHostCount",
                "Maximum",
                map([("LoadBalancer", lb()), ("TargetGroup", tg())]),
            ),
        )
        // Targets register once the service runs: no alarm on the
        // moments before.
        .after(service),
    ];
    for spec in specs {
        r.add(spec);
    }
}

#[cfg(test)]
mod tests {
    use drctl_core::DesiredGraph;
    use serde_json::{Value as Json, json};

    use crate::{Blueprint, EnvSettings, Role, Zones};

    fn graph(env: &str, settings: &EnvSettings) -> DesiredGraph {
        let specs = Blueprint {
            env,
            settings,
            account_id: "123456789012",
            weighted: Role::Primary,
            zones: Zones::placeholders(settings),
        }
        .resources();
        DesiredGraph::new(specs).unwrap()
    }

    fn input(graph: &DesiredGraph, address: &str, key: &str) -> Json {
        let spec = graph
            .get(&address.parse().unwrap())
            .unwrap_or_else(|| panic!("no {address}"));
        serde_json::to_value(&spec.inputs[key]).unwrap()
    }

    fn reference(address: &str, output: &str) -> Json {
        json!({"$ref": format!("{address}.{output}")})
    }

    fn depends(graph: &DesiredGraph, address: &str, on: &str) -> bool {
        graph
            .get(&address.parse().unwrap())
            .unwrap()
            .dependencies()
            .contains(&on.parse().unwrap())
    }

    /// The load balancer faces the internet from the public subnets; the
    /// tasks run in the private subnets without public IPs, reachable on
    /// the container port from the load balancer's group only.
    #[test]
    fn the_load_balancer_is_public_and_the_tasks_private() {
        let g = graph("dev", &EnvSettings::defaults("dev"));
        for (role, short, cidr) in [
            ("primary", "pri", "10.0.0.0/16"),
            ("secondary", "sec", "10.1.0.0/16"),
        ] {
            let a = |kind: &str, name: &str| format!("{role}/{kind}/{name}");
            let lb = a("elbv2.load_balancer", "web");
            assert_eq!(input(&g, &lb, "name"), format!("payment-dev-{short}"));
            assert_eq!(input(&g, &lb, "scheme"), "internet-facing");
            let subnets = |tier: &str| {
                let ids: Vec<Json> = ["a", "b", "c"]
                    .iter()
                    .map(|az| reference(&a("ec2.subnet", &format!("{tier}-{az}")), "subnet_id"))
                    .collect();
                json!({ "$set": ids })
            };
            assert_eq!(input(&g, &lb, "subnet_ids"), subnets("public"));
            let service = a("ecs.service", "web");
            assert_eq!(input(&g, &service, "subnet_ids"), subnets("private"));
            assert_eq!(
                input(&g, &service, "security_group_ids"),
                json!({"$set": [reference(&a("ec2.security_group", "tasks"), "security_group_id")]})
            );
            let alb_sg = a("ec2.security_group", "alb");
            assert_eq!(
                input(&g, &alb_sg, "ingress"),
                json!({"http-from-anywhere": {"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_block": "0.0.0.0/0"}})
            );
            assert_eq!(
                input(&g, &alb_sg, "egress"),
                json!({"to-tasks": {"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_block": cidr}})
            );
            assert_eq!(
                input(&g, &a("ec2.security_group", "tasks"), "ingress"),
                json!({"container-port-from-alb": {"protocol": "tcp", "from_port": 80, "to_port": 80,
                       "source_security_group_id": reference(&alb_sg, "security_group_id")}})
            );
        }
    }

    /// The service runs the task definition in the cluster behind the
    /// target group, after the listener (ECS refuses a target group
    /// without a load balancer) and the NAT route its tasks pull through.
    #[test]
    fn the_service_comes_after_the_listener_and_the_nat_route() {
        let g = graph("dev", &EnvSettings::defaults("dev"));
        let service = "secondary/ecs.service/web";
        assert_eq!(
            input(&g, service, "cluster"),
            reference("secondary/ecs.cluster/web", "arn")
        );
        assert_eq!(
            input(&g, service, "task_definition"),
            reference("secondary/ecs.task_definition/web", "arn")
        );
        assert_eq!(
            input(&g, service, "target_group_arn"),
            reference("secondary/elbv2.target_group/web", "arn")
        );
        assert_eq!(input(&g, service, "container_name"), "web");
        assert_eq!(input(&g, service, "container_port"), 80);
        assert_eq!(input(&g, service, "desired_count"), 2);
        for on in [
            "secondary/elbv2.listener/http",
            "secondary/ec2.route/private-default",
            "secondary/ec2.route_table_association/private-c",
        ] {
            assert!(depends(&g, service, on), "{on}");
        }
        let listener = "secondary/elbv2.listener/http";
        assert_eq!(
            input(&g, listener, "load_balancer_arn"),
            reference("secondary/elbv2.load_balancer/web", "arn")
        );
        assert_eq!(input(&g, listener, "port"), 80);
        let td = "secondary/ecs.task_definition/web";
        assert_eq!(
            input(&g, td, "execution_role_arn"),
            reference("secondary/iam.role/ecs-task-execution", "arn")
        );
        assert_eq!(input(&g, td, "image"), "public.ecr.aws/nginx/nginx:stable");
        assert_eq!(
            (input(&g, td, "cpu"), input(&g, td, "memory")),
            (json!("256"), json!("512"))
        );
        let role = "secondary/iam.role/ecs-task-execution";
        assert_eq!(
            input(&g, role, "assume_role_policy")["Statement"][0]["Principal"]["Service"],
            "ecs-tasks.amazonaws.com"
        );
        assert_eq!(
            input(&g, role, "managed_policy_arns"),
            json!(["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"])
        );
    }

    /// The settings reach the task definition, the target group and the
    /// service.
    #[test]
    fn the_settings_reach_the_resources() {
        let mut settings = EnvSettings::defaults("dev");
        settings.containers.image = "example.com/pay:1".into();
        settings.containers.port = 8080;
        settings.containers.cpu = 1024;
        settings.containers.memory = 2048;
        settings.containers.desired_count = 4;
        settings.containers.health_check_path = "/health".into();
        let g = graph("dev", &settings);
        let td = "primary/ecs.task_definition/web";
        assert_eq!(input(&g, td, "image"), "example.com/pay:1");
        assert_eq!(input(&g, td, "container_port"), 8080);
        assert_eq!(
            (input(&g, td, "cpu"), input(&g, td, "memory")),
            (json!("1024"), json!("2048"))
        );
        let tg = "primary/elbv2.target_group/web";
        assert_eq!(input(&g, tg, "port"), 8080);
        assert_eq!(input(&g, tg, "health_check")["path"], "/health");
        assert_eq!(input(&g, tg, "name"), "payment-dev-pri-tg");
        assert_eq!(input(&g, "primary/ecs.service/web", "desired_count"), 4);
        assert_eq!(input(&g, "primary/ecs.service/web", "container_port"), 8080);
        assert_eq!(
            input(&g, "primary/ec2.security_group/tasks", "ingress")["container-port-from-alb"]["from_port"],
            8080
        );
    }

    /// Alarms on AWS/ApplicationELB with the ARN suffixes as dimensions,
    /// to the region's alarm topic.
    #[test]
    fn the_alarms_watch_the_load_balancer_and_its_targets() {
        let g = graph("dev", &EnvSettings::defaults("dev"));
        let lb = reference("primary/elbv2.load_balancer/web", "arn_suffix");
        let tg = reference("primary/elbv2.target_group/web", "arn_suffix");
        for (name, metric, dimensions) in [
            (
                "alb-5xx",
                "HTTPCode_ELB_5XX_Count",
                json!({"LoadBalancer": lb}),
            ),
            (
                "target-5xx",
                "HTTPCode_Target_5XX_Count",
                json!({"LoadBalancer": lb, "TargetGroup": tg}),
            ),
            (
                "unhealthy-hosts",
                "UnHealthyHostCount",
                json!({"LoadBalancer": lb, "TargetGroup": tg}),
            ),
        ] {
            let alarm = format!("primary/cloudwatch.alarm/{name}");
            let m = input(&g, &alarm, "metric");
            assert_eq!(m["namespace"], "AWS/ApplicationELB", "{name}");
            assert_eq!(m["metric_name"], metric);
            assert_eq!(m["dimensions"], dimensions, "{name}");
            assert_eq!(
                input(&g, &alarm, "alarm_actions"),
                json!({"$set": [reference("primary/sns.topic/alarms", "arn")]})
            );
        }
        assert_eq!(
            input(&g, "primary/cloudwatch.alarm/unhealthy-hosts", "threshold"),
            json!(0.0)
        );
    }

    #[test]
    fn without_containers_there_is_no_container_tier() {
        let mut settings = EnvSettings::defaults("dev");
        settings.containers.enabled = false;
        let g = graph("dev", &settings);
        for address in [
            "primary/ecs.cluster/web",
            "primary/elbv2.load_balancer/web",
            "secondary/ecs.service/web",
            "secondary/iam.role/ecs-task-execution",
            "secondary/ec2.security_group/alb",
            "primary/cloudwatch.alarm/unhealthy-hosts",
        ] {
            assert!(g.get(&address.parse().unwrap()).is_none(), "{address}");
        }
    }
}
