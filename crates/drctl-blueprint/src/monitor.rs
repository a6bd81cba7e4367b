//! One region's health monitor: a function EventBridge runs every minute,
//! which probes the region's API and database and publishes whether the
//! region is healthy, and the alarm on what it publishes. Only with the
//! databases and functions: it probes the database from the functions'
//! subnets and security group.

use drctl_core::{ResourceSpec, Value};
use serde_json::json;

use crate::Region;
use crate::compute::Compute;
use crate::data::Data;
use crate::lambda_code;
use crate::network::Network;
use crate::observability::alarm;
use crate::values::{Source, conditional_policy, map, r as reference, set, trust};

/// The health metrics' namespace: the monitor's own, so the namespace
/// condition of its role keeps it from publishing the fence metric
/// (`targets::FENCE_NAMESPACE`), which would move the traffic; IAM has no
/// condition on a metric's name.
pub(crate) const HEALTH_NAMESPACE: &str = "PaymentDR/Health";
/// 1 when the region's API and database answer, 0 when either does not.
pub(crate) const HEALTH_METRIC: &str = "RegionHealthy";
/// Seconds each probe may take: both fit the function's timeout.
const PROBE_TIMEOUT_SECONDS: &str = "5";
/// The port the reader endpoint serves (Aurora PostgreSQL's); the
/// transaction function's GET /health connects to it too.
pub(crate) const DB_PORT: &str = "5432";

pub(crate) fn build(r: &mut Region, net: &Network, data: &Data, compute: &Compute) {
    let (Some(sgs), Some(cluster)) = (&net.security_groups, &data.cluster) else {
        return;
    };
    let env = r.bp.env;
    let name = r.name("health-monitor");
    // A role of its own: the payment functions' role reads and writes the
    // session table, which the monitor does not need, and this one may
    // publish health metrics, which the payment functions must not.
    let role = r.add(
        ResourceSpec::new(r.address("iam.role", "health-monitor"), r.region)
            .input("name", name.clone())
            .input(
                "description",
                format!("Health monitor of {env} ({})", r.role.as_str()),
            )
            .input(
                "assume_role_policy",
                trust("lambda.amazonaws.com", Source::Account(r.bp.account_id)),
            )
            .input(
                "inline_policies",
                // PutMetricData takes no resource but "*"; the condition
                // keeps it to the health namespace (CloudWatch User Guide,
                // "Using condition keys to limit access to CloudWatch
                // namespaces").
                map([(
                    "health-metrics",
                    conditional_policy(vec![(
                        vec!["cloudwatch:PutMetricData"],
                        Value::Json(json!(["*"])),
                        Some(json!({"StringEquals": {"cloudwatch:namespace": HEALTH_NAMESPACE}})),
                    )]),
                )]),
            )
            .input(
                "managed_policy_arns",
                json!(["arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]),
            )
            .input("tags", r.tags(&name)),
    );
    let code = lambda_code::package("health-monitor");
    let function = r.add(
        ResourceSpec::new(r.address("lambda.function", "health-monitor"), r.region)
            .input("function_name", name.clone())
            .input("runtime", "python3.12")
            .input("handler", "index.handler")
            .input("role_arn", role.output("arn"))
            .input("timeout", 30)
            .input("memory_size", 128)
            .input(
                "environment",
                map([
                    ("ENVIRONMENT_SUFFIX", env.into()),
                    ("DR_ROLE", r.role.as_str().into()),
                    ("API_URL", reference(compute.stage.output("invoke_url"))),
                    ("DB_HOST", reference(cluster.output("reader_endpoint"))),
                    ("DB_PORT", DB_PORT.into()),
                    ("METRIC_NAMESPACE", HEALTH_NAMESPACE.into()),
                    ("PROBE_TIMEOUT", PROBE_TIMEOUT_SECONDS.into()),
                ]),
            )
            // Where the payment functions run: the database's security
            // group admits the `lambda` group only.
            .input(
                "subnet_ids",
                set(net.subnets[1]
                    .iter()
                    .map(|s| reference(s.output("subnet_id")))),
            )
            .input(
                "security_group_ids",
                set([reference(sgs.lambda.output("security_group_id"))]),
            )
            .input("code_zip_base64", code.zip_base64)
            .input("code_sha256", code.sha256_base64)
            .input("tags", r.tags(&name)),
    );
    let rule = r.add(
        ResourceSpec::new(r.address("events.rule", "health-monitor"), r.region)
            .input("name", name.clone())
            .input(
                "description",
                format!(
                    "Runs the health monitor of {env} ({}) every minute",
                    r.role.as_str()
                ),
            )
            .input("schedule_expression", "rate(1 minute)")
            .input("state", "ENABLED")
            .input(
                "targets",
                Value::List(vec![map([
                    ("id", "health-monitor".into()),
                    ("arn", reference(function.output("arn"))),
                ])]),
            )
            .input("tags", r.tags(&name)),
    );
    // EventBridge invokes a function through the function's resource
    // policy (EventBridge User Guide, "Using resource-based policies"),
    // from this rule only.
    let permission = r.add(
        ResourceSpec::new(
            r.address("lambda.permission", "health-monitor-schedule"),
            r.region,
        )
        .input("function_name", function.output("function_name"))
        .input("statement_id", "events-invoke")
        .input("action", "lambda:InvokeFunction")
        .input("principal", "events.amazonaws.com")
        .input("source_arn", rule.output("arn")),
    );
    // Unhealthy when no minute of three has a 1: the probes failed, or
    // nothing was published (the monitor could not run or publish).
    // Created once the monitor can run, so a new region does not alarm on
    // the minutes before its first datapoint.
    let spec = alarm(
        r,
        "region-health",
        &format!(
            "The {} region of {env} failed its health probes (API /health, database) for 3 minutes",
            r.role.as_str()
        ),
        1.0,
        3,
        data,
    )
    .input("comparison_operator", "LessThanThreshold")
    .input("treat_missing_data", "breaching")
    .input(
        "metric",
        json!({"namespace": HEALTH_NAMESPACE, "metric_name": HEALTH_METRIC,
               "dimensions": {"Environment": env, "Region": r.region},
               "statistic": "Minimum", "period": 60}),
    )
    .after(&permission);
    r.add(spec);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use drctl_core::DesiredGraph;
    use serde_json::{Value as Json, json};

    use super::{HEALTH_METRIC, HEALTH_NAMESPACE};
    use crate::targets::FENCE_NAMESPACE;
    use crate::{Blueprint, EnvSettings, Role};

    /// The handler the monitor runs, as embedded in its package.
    const HANDLER: &str = include_str!("../lambda/health-monitor/index.py");

    fn graph(settings: &EnvSettings) -> DesiredGraph {
        let specs = Blueprint {
            env: "dev",
            settings,
            account_id: "123456789012",
            weighted: Role::Primary,
            zones: crate::Zones::placeholders(settings),
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

    /// Per region: the rule runs the function every minute, and the
    /// function lets exactly that rule invoke it.
    #[test]
    fn the_rule_runs_the_function_which_lets_the_rule_invoke_it() {
        let g = graph(&EnvSettings::defaults("dev"));
        for (role, region) in [("primary", "us-east-1"), ("secondary", "us-east-2")] {
            let rule = format!("{role}/events.rule/health-monitor");
            let function = format!("{role}/lambda.function/health-monitor");
            let permission = format!("{role}/lambda.permission/health-monitor-schedule");
            for a in [&rule, &function, &permission] {
                assert_eq!(g.get(&a.parse().unwrap()).unwrap().region, region, "{a}");
            }
            assert_eq!(input(&g, &rule, "schedule_expression"), "rate(1 minute)");
            assert_eq!(input(&g, &rule, "state"), "ENABLED");
            assert_eq!(
                input(&g, &rule, "name"),
                format!("payment-dev-{role}-health-monitor")
            );
            assert_eq!(
                input(&g, &rule, "targets"),
                json!([{"id": "health-monitor", "arn": reference(&function, "arn")}])
            );
            assert_eq!(
                input(&g, &permission, "function_name"),
                reference(&function, "function_name")
            );
            assert_eq!(input(&g, &permission, "principal"), "events.amazonaws.com");
            assert_eq!(input(&g, &permission, "action"), "lambda:InvokeFunction");
            assert_eq!(
                input(&g, &permission, "source_arn"),
                reference(&rule, "arn")
            );
        }
    }

    /// The function probes its own region's stage and database, from the
    /// payment functions' subnets and security group (the database admits
    /// that group only), with every setting the handler reads.
    #[test]
    fn the_function_probes_its_regions_api_and_database_from_the_functions_network() {
        let g = graph(&EnvSettings::defaults("dev"));
        for role in ["primary", "secondary"] {
            let function = format!("{role}/lambda.function/health-monitor");
            let env = input(&g, &function, "environment");
            assert_eq!(
                env["API_URL"],
                reference(&format!("{role}/apigateway.stage/prod"), "invoke_url")
            );
            assert_eq!(
                env["DB_HOST"],
                reference(&format!("{role}/rds.cluster/payment"), "reader_endpoint")
            );
            assert_eq!(env["DB_PORT"], "5432");
            assert_eq!(env["METRIC_NAMESPACE"], HEALTH_NAMESPACE);
            for key in ["subnet_ids", "security_group_ids"] {
                assert_eq!(
                    input(&g, &function, key),
                    input(&g, &format!("{role}/lambda.function/validation"), key),
                    "{key}"
                );
            }
            // Every variable the handler reads is set (AWS_REGION is
            // Lambda's, and Lambda refuses it in a function's environment).
            let settings = HANDLER
                .split_once("def settings():")
                .unwrap()
                .1
                .split_once("\n\n\n")
                .unwrap()
                .0;
            let read: BTreeSet<&str> = settings
                .split("env[\"")
                .skip(1)
                .map(|part| part.split_once('"').unwrap().0)
                .collect();
            assert!(read.contains("AWS_REGION"));
            for name in read.iter().filter(|n| **n != "AWS_REGION") {
                assert!(env.get(name).is_some(), "{name} is not set");
            }
            assert!(env.get("AWS_REGION").is_none());
            // Both probes fit the function's timeout.
            let probe: f64 = env["PROBE_TIMEOUT"].as_str().unwrap().parse().unwrap();
            assert!(
                2.0 * probe < input(&g, &function, "timeout").as_f64().unwrap(),
                "{probe}"
            );
        }
    }

    /// The monitor's role allows PutMetricData in the health namespace and
    /// nothing else of CloudWatch: not the fence's namespace, whose metric
    /// moves the traffic.
    #[test]
    fn the_monitors_role_publishes_only_health_metrics() {
        let g = graph(&EnvSettings::defaults("dev"));
        let policies = input(&g, "secondary/iam.role/health-monitor", "inline_policies");
        assert_eq!(
            policies,
            json!({"health-metrics": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Action": ["cloudwatch:PutMetricData"],
                "Resource": ["*"],
                "Condition": {"StringEquals": {"cloudwatch:namespace": HEALTH_NAMESPACE}},
            }]}})
        );
        assert_ne!(HEALTH_NAMESPACE, FENCE_NAMESPACE);
        assert_eq!(
            input(&g, "secondary/lambda.function/health-monitor", "role_arn"),
            reference("secondary/iam.role/health-monitor", "arn")
        );
        // Its one AWS call is that one.
        assert_eq!(HANDLER.matches(".put_metric_data(").count(), 1);
        assert_eq!(HANDLER.matches("boto3.client(").count(), 1);
    }

    /// The alarm watches what the handler publishes: the metric, in the
    /// namespace, with the environment's and the region's dimensions; three
    /// one-minute periods without a 1, missing data counted as unhealthy.
    #[test]
    fn the_alarm_watches_the_published_metric_for_three_minutes() {
        let g = graph(&EnvSettings::defaults("dev"));
        for (role, region) in [("primary", "us-east-1"), ("secondary", "us-east-2")] {
            let alarm = format!("{role}/cloudwatch.alarm/region-health");
            assert_eq!(
                input(&g, &alarm, "metric"),
                json!({"namespace": HEALTH_NAMESPACE, "metric_name": HEALTH_METRIC,
                       "dimensions": {"Environment": "dev", "Region": region},
                       "statistic": "Minimum", "period": 60})
            );
            assert_eq!(
                input(&g, &alarm, "comparison_operator"),
                "LessThanThreshold"
            );
            assert_eq!(input(&g, &alarm, "threshold"), json!(1.0));
            assert_eq!(input(&g, &alarm, "evaluation_periods"), 3);
            assert_eq!(input(&g, &alarm, "datapoints_to_alarm"), 3);
            assert_eq!(input(&g, &alarm, "treat_missing_data"), "breaching");
            assert_eq!(
                input(&g, &alarm, "alarm_actions"),
                json!({"$set": [reference(&format!("{role}/sns.topic/alarms"), "arn")]})
            );
            assert_eq!(
                input(&g, &alarm, "alarm_name"),
                format!("payment-dev-{role}-region-health")
            );
            // It starts once the monitor can be invoked.
            let spec = g.get(&alarm.parse().unwrap()).unwrap();
            assert!(
                spec.depends_on.contains(
                    &format!("{role}/lambda.permission/health-monitor-schedule")
                        .parse()
                        .unwrap()
                ),
                "{:?}",
                spec.depends_on
            );
        }
        // The handler publishes under those names.
        assert!(HANDLER.contains(&format!("HEALTH_METRIC = \"{HEALTH_METRIC}\"")));
        assert!(HANDLER.contains(r#"{"Name": "Environment", "Value": s["environment"]}"#));
        assert!(HANDLER.contains(r#"{"Name": "Region", "Value": s["region"]}"#));
        assert!(HANDLER.contains(r#""environment": env["ENVIRONMENT_SUFFIX"]"#));
    }

    #[test]
    fn without_databases_and_functions_there_is_no_monitor() {
        let mut settings = EnvSettings::defaults("dev");
        settings.databases_and_functions = false;
        let g = graph(&settings);
        for address in [
            "primary/events.rule/health-monitor",
            "primary/lambda.function/health-monitor",
            "primary/iam.role/health-monitor",
            "primary/cloudwatch.alarm/region-health",
        ] {
            assert!(g.get(&address.parse().unwrap()).is_none(), "{address}");
        }
    }
}
