//! One region's alarms, dashboard and configuration parameters.

use drctl_core::{ResourceSpec, Value};
use serde_json::json;

use crate::Region;
use crate::compute::{Compute, FUNCTIONS};
use crate::data::Data;
use crate::targets::STAGE;
use crate::values::{r as reference, set};

/// Alarm settings shared by every alarm of the blueprint.
pub(crate) fn alarm(
    r: &Region,
    name: &str,
    description: &str,
    threshold: f64,
    periods: i64,
    data: &Data,
) -> ResourceSpec {
    let alarm_name = r.name(name);
    ResourceSpec::new(r.address("cloudwatch.alarm", name), r.region)
        .input("alarm_name", alarm_name.clone())
        .input("alarm_description", description)
        .input("comparison_operator", "GreaterThanThreshold")
        .input("threshold", Value::Json(json!(threshold)))
        .input("evaluation_periods", periods)
        .input("datapoints_to_alarm", periods)
        .input("treat_missing_data", "notBreaching")
        .input("alarm_actions", set([reference(data.topic.output("arn"))]))
        .input("ok_actions", json!([]))
        .input("tags", r.tags(&alarm_name))
}

/// `100 * numerator / denominator` over one minute, as metric math.
fn ratio(
    namespace: &str,
    numerator: &str,
    denominator: &str,
    dimensions: serde_json::Value,
    label: &str,
) -> Value {
    let stat = |id: &str, metric: &str| {
        json!({"id": id, "return_data": false, "metric_stat": {
            "namespace": namespace, "metric_name": metric, "dimensions": dimensions, "stat": "Sum", "period": 60}})
    };
    Value::Json(json!([
        stat("numerator", numerator),
        stat("denominator", denominator),
        {"id": "rate", "expression": "100 * numerator / IF(denominator > 0, denominator, 1)", "label": label, "return_data": true}
    ]))
}

pub(crate) fn build(r: &mut Region, data: &Data, compute: &Compute) {
    let cluster_id = format!("payment-{}-{}", r.bp.env, r.role.as_str());
    let single = |metric: &str, statistic: &str| {
        json!({"namespace": "AWS/RDS", "metric_name": metric, "dimensions": {"DBClusterIdentifier": cluster_id},
               "statistic": statistic, "period": 60})
    };
    let databases_and_functions = r.bp.settings.databases_and_functions;
    if databases_and_functions {
        let lag = alarm(
            r,
            "replication-lag",
            "Aurora global replication lag above 10 s",
            10000.0,
            2,
            data,
        )
        .input("metric", single("AuroraGlobalDBReplicationLag", "Maximum"));
        r.add(lag);
        let connections = alarm(
            r,
            "db-connections",
            "More than 100 database connections",
            100.0,
            2,
            data,
        )
        .input("metric", single("DatabaseConnections", "Average"));
        r.add(connections);
        for (name, suffix, _, _) in FUNCTIONS {
            let function = r.name(suffix);
            let spec = alarm(
                r,
                &format!("{name}-errors"),
                &format!("{function}: error rate above 5 %"),
                5.0,
                2,
                data,
            )
            .input(
                "metrics",
                ratio(
                    "AWS/Lambda",
                    "Errors",
                    "Invocations",
                    json!({"FunctionName": function}),
                    "error rate %",
                ),
            );
            r.add(spec);
        }
    }
    let api_name = format!("payment-api-{}", r.bp.env);
    let api_dimensions = json!({"ApiName": api_name, "Stage": STAGE});
    let api_errors = alarm(r, "api-5xx", "API 5XX rate above 1 %", 1.0, 2, data).input(
        "metrics",
        ratio(
            "AWS/ApiGateway",
            "5XXError",
            "Count",
            api_dimensions.clone(),
            "5XX rate %",
        ),
    );
    r.add(api_errors);

    let dashboard_name = format!("PaymentDR-{}-{}", r.role.as_str(), r.bp.env);
    let widget = |title: &str, metrics: serde_json::Value, x: i64, y: i64| {
        json!({"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
               "properties": {"title": title, "region": r.region, "stat": "Sum", "period": 60, "metrics": metrics}})
    };
    let lambda_metrics: Vec<serde_json::Value> = FUNCTIONS
        .iter()
        .map(|(_, suffix, _, _)| {
            json!(["AWS/Lambda", "Invocations", "FunctionName", r.name(suffix)])
        })
        .collect();
    let mut widgets = Vec::new();
    if databases_and_functions {
        widgets.push(widget(
            "Aurora connections and CPU",
            json!([
                [
                    "AWS/RDS",
                    "DatabaseConnections",
                    "DBClusterIdentifier",
                    cluster_id
                ],
                [
                    "AWS/RDS",
                    "CPUUtilization",
                    "DBClusterIdentifier",
                    cluster_id
                ]
            ]),
            0,
            0,
        ));
        widgets.push(widget("Lambda invocations", json!(lambda_metrics), 12, 0));
    }
    widgets.extend([
        widget(
            "API requests and errors",
            json!([
                [
                    "AWS/ApiGateway",
                    "Count",
                    "ApiName",
                    api_name,
                    "Stage",
                    STAGE
                ],
                [
                    "AWS/ApiGateway",
                    "4XXError",
                    "ApiName",
                    api_name,
                    "Stage",
                    STAGE
                ],
                [
                    "AWS/ApiGateway",
                    "5XXError",
                    "ApiName",
                    api_name,
                    "Stage",
                    STAGE
                ]
            ]),
            0,
            6,
        ),
        widget(
            "API latency",
            json!([[
                "AWS/ApiGateway",
                "Latency",
                "ApiName",
                api_name,
                "Stage",
                STAGE
            ]]),
            12,
            6,
        ),
    ]);
    let body = json!({ "widgets": widgets });
    r.add(
        ResourceSpec::new(r.address("cloudwatch.dashboard", "payment"), r.region)
            .input("dashboard_name", dashboard_name)
            .input("body", body),
    );

    let parameter = |r: &mut Region, name: &str, value: Value| {
        let full = format!("/payment/{}/{}/{name}", r.bp.env, r.role.as_str());
        let tags = r.tags(&full);
        r.add(
            ResourceSpec::new(r.address("ssm.parameter", name), r.region)
                .input("name", full)
                .input("type", "String")
                .input("value", value)
                .input("tags", tags),
        );
    };
    if let Some(cluster) = &data.cluster {
        parameter(r, "db-endpoint", reference(cluster.output("endpoint")));
    }
    parameter(r, "api-url", reference(compute.stage.output("invoke_url")));
    let flags = serde_json::to_string(&r.bp.settings.feature_flags).expect("flags serialise");
    parameter(r, "feature-flags", flags.into());
}
